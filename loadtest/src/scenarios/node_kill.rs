//! node-kill (being written).

use std::sync::Arc;

use crate::run::Ctx;

/// Runs node-kill.
pub(crate) async fn run(_ctx: Arc<Ctx>) -> Result<(), String> {
    Err("scenario kind node-kill is not finished (see docs/benchmarks.md)".into())
}
