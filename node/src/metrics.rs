//! Prometheus metrics of the node: names in one place, histograms with explicit buckets so they can be
//! summed across nodes, labels with bounded values only (never a user or room id).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Connections open now, by device class.
pub const CONNECTIONS: &str = "sendjay_connections";
/// WebSockets accepted, by device class.
pub const CONNECTIONS_ACCEPTED: &str = "sendjay_connections_accepted_total";
/// Connections closed, by reason.
pub const CONNECTIONS_CLOSED: &str = "sendjay_connections_closed_total";
/// Refused tokens, by reason.
pub const AUTH_FAILURES: &str = "sendjay_auth_failures_total";
/// Sessions evicted by a newer login.
pub const EVICTIONS: &str = "sendjay_evictions_total";
/// Requests handled, by op and result code.
pub const REQUESTS: &str = "sendjay_requests_total";
/// Request handling time, by op.
pub const REQUEST_SECONDS: &str = "sendjay_request_duration_seconds";
/// Messages received from clients (`send` requests).
pub const MESSAGES_RECEIVED: &str = "sendjay_messages_received_total";
/// Messages committed to PostgreSQL.
pub const MESSAGES_PERSISTED: &str = "sendjay_messages_persisted_total";
/// Messages published to the bus.
pub const MESSAGES_PUBLISHED: &str = "sendjay_bus_published_total";
/// Bus messages received, by channel kind.
pub const BUS_RECEIVED: &str = "sendjay_bus_received_total";
/// Frames queued to sockets.
pub const DELIVERED: &str = "sendjay_frames_delivered_total";
/// Frames or bus messages dropped, by reason.
pub const DROPPED: &str = "sendjay_dropped_total";
/// Bus publish latency.
pub const BUS_PUBLISH_SECONDS: &str = "sendjay_bus_publish_duration_seconds";
/// Errors by fault (client, postgres, redis, internal).
pub const ERRORS: &str = "sendjay_errors_total";
/// Redis reconnects of the bus subscriber.
pub const REDIS_RECONNECTS: &str = "sendjay_redis_reconnects_total";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once and returns its handle (later calls reuse it).
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let latency = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &latency)
                .expect("bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (several components in one test process): keep ours
            // for rendering anyway.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}
