//! Writes the search keys of new messages a moment after their commit (see `store::search_keys` for why).
//!
//! Every `SENDJAY_SEARCH_INDEX_INTERVAL_MS` (250 ms) it indexes the rooms this node sent to since the last round,
//! in one statement for all of them; every [`SWEEP_INTERVAL`] it also asks PostgreSQL for rooms that are behind
//! whoever wrote them (a node that crashed before its round, messages written by other means). Search never waits for it: what is not
//! indexed yet is read directly, so the indexer's lag only costs search time, never a missing result.

use std::sync::Arc;
use std::time::Duration;

use crate::NodeContext;

/// How often rooms left behind are looked for.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(30);
/// Most rooms one sweep picks up; the rest wait for the next sweep.
const SWEEP_ROOMS: i64 = 1_000;

/// Runs until the task is aborted.
pub async fn run(ctx: Arc<NodeContext>) {
    let mut tick =
        tokio::time::interval(Duration::from_millis(ctx.config.search_index_interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first sweep at start: whatever a node that stopped before its last round left.
    let mut last_sweep: Option<tokio::time::Instant> = None;
    loop {
        tick.tick().await;
        let mut rooms: Vec<i64> = ctx.store.take_search_keys_due().into_iter().collect();
        if last_sweep.is_none_or(|at| at.elapsed() >= SWEEP_INTERVAL) {
            last_sweep = Some(tokio::time::Instant::now());
            match ctx.store.rooms_behind_search(SWEEP_ROOMS).await {
                Ok(behind) => rooms.extend(behind),
                Err(e) => {
                    tracing::warn!(error = %e, fault = e.fault().as_str(), "search indexer: could not look for rooms behind; trying again in {} s", SWEEP_INTERVAL.as_secs())
                }
            }
        }
        if rooms.is_empty() {
            continue;
        }
        rooms.sort_unstable();
        rooms.dedup();
        match ctx.store.index_search_keys(&rooms).await {
            Ok(written) => {
                metrics::counter!(crate::metrics::SEARCH_KEYS_WRITTEN).increment(written)
            }
            Err(e) => {
                // Nothing is lost: the rooms are still behind, and the next sweep finds them.
                tracing::warn!(error = %e, fault = e.fault().as_str(), rooms = rooms.len(), "search indexer: could not write search keys; the next sweep retries");
                metrics::counter!(crate::metrics::SEARCH_INDEX_FAILURES).increment(1);
            }
        }
    }
}
