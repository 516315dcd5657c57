//! Prometheus metrics of the router. Same conventions as the node's: histograms with explicit buckets, bounded
//! label values, rare-event series registered at zero, state gauges sampled when `/metrics` is scraped. Every
//! metric is documented in `docs/operations.md`.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fred::prelude::ClientLike;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::RouterContext;

/// Process metrics (`process_*`): the node's module, shared.
#[path = "../../node/src/process_metrics.rs"]
pub mod process;

/// Logins by result.
pub const LOGINS: &str = "sendjay_router_logins_total";
/// Logins refused with 429, by the limit that was reached.
pub const LOGINS_THROTTLED: &str = "sendjay_router_logins_throttled_total";
/// Access tokens renewed through `POST /v1/refresh`.
pub const REFRESHES: &str = "sendjay_router_refreshes_total";
/// Refresh tokens presented a second time (each revoked its whole sign-in): a copied token, or a client bug.
pub const REFRESH_REUSED: &str = "sendjay_router_refresh_reused_total";
/// Node assignments handed out, by route (`login`, `assign`).
pub const ASSIGNMENTS: &str = "sendjay_router_assignments_total";
/// Clients sent (back) to a node through `GET /v1/assign`: after a drain, a rebalance or a lost connection.
pub const REDIRECTS: &str = "sendjay_router_redirects_total";
/// HTTP errors by error code.
pub const HTTP_ERRORS: &str = "sendjay_router_http_errors_total";
/// HTTP requests by route and status class.
pub const HTTP_REQUESTS: &str = "sendjay_router_http_requests_total";
/// HTTP request handling time by route.
pub const HTTP_SECONDS: &str = "sendjay_router_http_request_duration_seconds";
/// Live nodes in the ring.
pub const LIVE_NODES: &str = "sendjay_router_live_nodes";
/// PostgreSQL pool connections by state (`in_use`, `idle`); same name as the node's.
pub const DB_POOL_CONNECTIONS: &str = "sendjay_db_pool_connections";
/// Configured PostgreSQL pool size.
pub const DB_POOL_MAX: &str = "sendjay_db_pool_max_connections";
/// Tasks waiting for a PostgreSQL connection.
pub const DB_POOL_WAITING: &str = "sendjay_db_pool_waiting";
/// 1 while the Redis client is connected.
pub const REDIS_CONNECTED: &str = "sendjay_redis_connected";
/// 1 while `/readyz` would answer 200.
pub const READY: &str = "sendjay_ready";
/// Version and commit of the running binary (value 1).
pub const BUILD_INFO: &str = "sendjay_build_info";

/// The router's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The commit the binary was built from (`git rev-parse` at build time, or `SENDJAY_COMMIT`).
pub const COMMIT: &str = env!("SENDJAY_COMMIT");

/// Latency buckets (seconds) of every `_seconds` histogram; login includes an argon2 check (~10–100 ms).
pub const LATENCY_BUCKETS: [f64; 15] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Route label values.
pub const ROUTES: [&str; 13] = [
    "login",
    "refresh",
    "logout",
    "password",
    "assign",
    "auth_methods",
    "sso_start",
    "sso_callback",
    "sso_exchange",
    "healthz",
    "readyz",
    "metrics",
    "other",
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once and returns its handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
                .expect("bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_ok() {
                describe();
                register();
            }
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(LOGINS, "Login attempts, by result.");
    describe_counter!(
        LOGINS_THROTTLED,
        "Logins refused with 429, by limit: router_source, user_source, user, source."
    );
    describe_counter!(REFRESHES, "Access tokens renewed with a refresh token.");
    describe_counter!(
        REFRESH_REUSED,
        "Refresh tokens presented again after use; each revoked its whole sign-in."
    );
    describe_counter!(
        ASSIGNMENTS,
        "Nodes handed out to clients, by route (login, assign)."
    );
    describe_counter!(
        REDIRECTS,
        "Clients sent to a node again through GET /v1/assign (drain, rebalance, lost connection)."
    );
    describe_counter!(HTTP_ERRORS, "HTTP error answers, by error code.");
    describe_counter!(HTTP_REQUESTS, "HTTP requests, by route and status class.");
    describe_histogram!(
        HTTP_SECONDS,
        Unit::Seconds,
        "HTTP request handling time, by route."
    );
    describe_gauge!(
        LIVE_NODES,
        "Live, non-draining nodes in the ring, as this router sees them."
    );
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        "PostgreSQL pool connections, by state (in_use, idle)."
    );
    describe_gauge!(DB_POOL_MAX, "PostgreSQL pool size limit.");
    describe_gauge!(
        DB_POOL_WAITING,
        "Tasks waiting for a PostgreSQL connection."
    );
    describe_gauge!(REDIS_CONNECTED, "1 while the Redis client is connected.");
    describe_gauge!(
        READY,
        "1 while the router is ready (PostgreSQL and Redis reachable, schema current)."
    );
    describe_gauge!(
        BUILD_INFO,
        "Version and commit of the running binary; always 1."
    );
}

fn register() {
    use metrics::{counter, gauge, histogram};
    for result in ["ok", "invalid_credentials", "retired", "throttled"] {
        counter!(LOGINS, "result" => result).increment(0);
    }
    for limit in ["router_source", "user_source", "user", "source"] {
        counter!(LOGINS_THROTTLED, "limit" => limit).increment(0);
    }
    for route in ["login", "assign"] {
        counter!(ASSIGNMENTS, "route" => route).increment(0);
    }
    counter!(REDIRECTS).increment(0);
    counter!(REFRESHES).increment(0);
    counter!(REFRESH_REUSED).increment(0);
    for error in [
        "bad_request",
        "invalid_credentials",
        "user_retired",
        "no_nodes",
        "too_many_attempts",
        "invalid_token",
        "unavailable",
        "not_found",
        "invalid_refresh_token",
        "refresh_expired",
        "refresh_revoked",
        "refresh_reused",
        "weak_password",
        "sso_not_configured",
        "sso_unavailable",
        "sso_failed",
        "unknown_user",
        "invalid_handoff",
    ] {
        counter!(HTTP_ERRORS, "error" => error).increment(0);
    }
    for route in ROUTES {
        for status in ["2xx", "4xx", "5xx"] {
            counter!(HTTP_REQUESTS, "route" => route, "status" => status).increment(0);
        }
        let _ = histogram!(HTTP_SECONDS, "route" => route);
    }
    gauge!(LIVE_NODES).set(0.0);
    gauge!(BUILD_INFO, "version" => VERSION, "commit" => COMMIT).set(1.0);
}

/// The bounded route label of a request path.
pub fn route_label(path: &str) -> &'static str {
    match path {
        "/v1/login" => "login",
        "/v1/refresh" => "refresh",
        "/v1/logout" => "logout",
        "/v1/password" => "password",
        "/v1/assign" => "assign",
        "/v1/auth/methods" => "auth_methods",
        "/v1/sso/start" => "sso_start",
        "/v1/sso/callback" => "sso_callback",
        "/v1/sso/exchange" => "sso_exchange",
        "/healthz" => "healthz",
        "/readyz" => "readyz",
        "/metrics" => "metrics",
        _ => "other",
    }
}

/// Counts and times one HTTP request.
pub fn record_request(route: &'static str, status: u16, started: Instant) {
    let class = match status {
        200..=399 => "2xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::counter!(HTTP_REQUESTS, "route" => route, "status" => class).increment(1);
    metrics::histogram!(HTTP_SECONDS, "route" => route).record(started.elapsed().as_secs_f64());
}

/// Samples the state gauges, then renders every metric plus the process metrics.
pub async fn render(ctx: &RouterContext) -> String {
    use metrics::gauge;
    let status = ctx.pool.status();
    gauge!(DB_POOL_CONNECTIONS, "state" => "in_use")
        .set(status.size.saturating_sub(status.available) as f64);
    gauge!(DB_POOL_CONNECTIONS, "state" => "idle").set(status.available as f64);
    gauge!(DB_POOL_MAX).set(status.max_size as f64);
    gauge!(DB_POOL_WAITING).set(status.waiting as f64);
    gauge!(REDIS_CONNECTED).set(f64::from(u8::from(ctx.redis.is_connected())));
    let ready = tokio::time::timeout(Duration::from_secs(2), ctx.readiness()).await;
    gauge!(READY).set(f64::from(u8::from(matches!(ready, Ok(Ok(()))))));
    // Refreshes `sendjay_router_live_nodes` (the directory sets it whenever it reads Redis).
    match tokio::time::timeout(Duration::from_secs(2), ctx.nodes.live()).await {
        Ok(Ok(nodes)) => gauge!(LIVE_NODES).set(nodes.len() as f64),
        _ => gauge!(LIVE_NODES).set(0.0),
    }
    ctx.metrics.run_upkeep();
    let mut text = ctx.metrics.render();
    text.push_str(&process::render());
    text
}
