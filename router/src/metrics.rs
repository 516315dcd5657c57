//! Prometheus metrics of the router.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Logins by result.
pub const LOGINS: &str = "sendjay_router_logins_total";
/// Node assignments handed out.
pub const ASSIGNMENTS: &str = "sendjay_router_assignments_total";
/// HTTP errors by error code.
pub const HTTP_ERRORS: &str = "sendjay_router_http_errors_total";
/// Live nodes in the ring.
pub const LIVE_NODES: &str = "sendjay_router_live_nodes";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once and returns its handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}
