//! Per-node counters that tests and the admin endpoint read directly, mirrored into Prometheus metrics.
//!
//! Prometheus metrics are process-wide (several in-process nodes in a test share one recorder), so the
//! numbers a test asserts on per node live here as atomics.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one node.
#[derive(Debug, Default)]
pub struct NodeStats {
    /// Room pushes received from the bus.
    pub bus_room_received: AtomicU64,
    /// User events received from the bus.
    pub bus_user_received: AtomicU64,
    /// Bus messages lost because this node's receiver lagged.
    pub bus_lagged: AtomicU64,
    /// Messages committed by this node.
    pub messages_persisted: AtomicU64,
    /// Frames queued to local sockets from the bus.
    pub delivered: AtomicU64,
}

impl NodeStats {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
