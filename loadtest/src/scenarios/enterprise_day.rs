//! enterprise-day: a day of mixed traffic (being written; `run` reports it as not finished).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::run::Ctx;

/// The traffic mix of an enterprise-day run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mix {}

/// Runs enterprise-day.
pub(crate) async fn run(_ctx: Arc<Ctx>) -> Result<(), String> {
    Err("scenario kind enterprise-day is not finished (see docs/benchmarks.md)".into())
}
