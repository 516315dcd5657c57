//! Prometheus metrics of the node: names in one place, histograms with explicit buckets so they can be
//! summed across nodes, labels with bounded values only (never a user or room id).
//!
//! Every metric listed here is documented in `docs/operations.md` (the observability test checks that each one
//! is exported and that the list is complete). Series that only move on rare events (evictions, drops, slow
//! consumers, Redis reconnects, …) are registered with zero at start-up for every label value, so dashboards
//! and alert expressions have data before the first incident. Gauges that describe state (the PostgreSQL pool,
//! outbound queues, readiness) are sampled when `/metrics` is scraped, see [`render`].

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sendjay_common::close_code::CloseReason;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::OPS;

use crate::NodeContext;

/// Process metrics (`process_*`), shared with the router.
#[path = "process_metrics.rs"]
pub mod process;

// --- connections ---------------------------------------------------------------------------------------

/// Connections open now, by device class.
pub const CONNECTIONS: &str = "sendjay_connections";
/// WebSockets accepted, by device class.
pub const CONNECTIONS_ACCEPTED: &str = "sendjay_connections_accepted_total";
/// Connections closed, by reason.
pub const CONNECTIONS_CLOSED: &str = "sendjay_connections_closed_total";
/// WebSocket upgrades by where their token was (`header`, `subprotocol`, `query` — the deprecated one).
pub const WS_TOKEN_SOURCE: &str = "sendjay_ws_token_source_total";
/// Audit entries that could not be written (PostgreSQL failed right after the change committed).
pub const AUDIT_WRITE_FAILURES: &str = "sendjay_audit_write_failures_total";
/// Refused tokens, by reason.
pub const AUTH_FAILURES: &str = "sendjay_auth_failures_total";
/// Sessions evicted by a newer login.
pub const EVICTIONS: &str = "sendjay_evictions_total";
/// Session records put back (or sessions found superseded) after Redis lost them, by outcome.
pub const SESSIONS_REPAIRED: &str = "sendjay_sessions_repaired_total";
/// Users asked to move to another node after a ring change.
pub const REBALANCED: &str = "sendjay_rebalanced_users_total";

// --- requests ------------------------------------------------------------------------------------------

/// Requests handled, by op and result code.
pub const REQUESTS: &str = "sendjay_requests_total";
/// Request handling time, by op.
pub const REQUEST_SECONDS: &str = "sendjay_request_duration_seconds";
/// Requests refused with `rate_limited` (over a connection's request budget; not executed).
pub const REQUESTS_RATE_LIMITED: &str = "sendjay_requests_rate_limited_total";
/// Errors by fault (client, postgres, redis, internal).
pub const ERRORS: &str = "sendjay_errors_total";

// --- messages ------------------------------------------------------------------------------------------

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
/// Push frames written to sockets.
pub const PUSHES_WRITTEN: &str = "sendjay_pushes_written_total";
/// Frames or bus messages dropped, by reason.
pub const DROPPED: &str = "sendjay_dropped_total";

// --- latency -------------------------------------------------------------------------------------------

/// Commit-to-socket latency of `message` pushes, measured on the receiving node (see [`record_delivery`]).
pub const DELIVERY_SECONDS: &str = "sendjay_delivery_duration_seconds";
/// Bus publish latency.
pub const BUS_PUBLISH_SECONDS: &str = "sendjay_bus_publish_duration_seconds";
/// Time to handle one message received from the bus (decode and fan-out to local outboxes).
pub const BUS_RECEIVE_SECONDS: &str = "sendjay_bus_receive_duration_seconds";
/// Messages received from Redis and not yet handled (the receiver's lag).
pub const BUS_BACKLOG: &str = "sendjay_bus_receive_backlog";
/// PostgreSQL time of one store operation, by operation (after the pool handed out a connection).
pub const DB_QUERY_SECONDS: &str = "sendjay_db_query_duration_seconds";
/// Time spent waiting for a PostgreSQL connection from the pool.
pub const DB_POOL_WAIT_SECONDS: &str = "sendjay_db_pool_wait_duration_seconds";
/// Sends written by one statement and commit (group commit), per statement.
pub const DB_SEND_BATCH_SIZE: &str = "sendjay_db_send_batch_size";
/// Send batch attempts that failed as a whole (tried once more, then written one send at a time).
pub const DB_SEND_BATCH_RETRIED: &str = "sendjay_db_send_batches_retried_total";
/// Messages whose search keys the search indexer wrote.
pub const SEARCH_KEYS_WRITTEN: &str = "sendjay_search_keys_written_total";
/// Indexer rounds that failed (the rooms stay behind until the next sweep).
pub const SEARCH_INDEX_FAILURES: &str = "sendjay_search_index_failures_total";
/// Buckets of [`DB_SEND_BATCH_SIZE`] (up to `store::send_batch::MAX_BATCH`).
const BATCH_BUCKETS: [f64; 8] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];
/// Redis command latency, by command.
pub const REDIS_COMMAND_SECONDS: &str = "sendjay_redis_command_duration_seconds";

// --- dependencies and saturation (sampled at scrape time) ----------------------------------------------

/// PostgreSQL pool connections by state (`in_use`, `idle`).
pub const DB_POOL_CONNECTIONS: &str = "sendjay_db_pool_connections";
/// Configured PostgreSQL pool size.
pub const DB_POOL_MAX: &str = "sendjay_db_pool_max_connections";
/// Tasks waiting for a PostgreSQL connection.
pub const DB_POOL_WAITING: &str = "sendjay_db_pool_waiting";
/// Redis reconnects of the bus subscriber.
pub const REDIS_RECONNECTS: &str = "sendjay_redis_reconnects_total";
/// 1 while both Redis clients are connected.
pub const REDIS_CONNECTED: &str = "sendjay_redis_connected";
/// 1 while `/readyz` would answer 200.
pub const READY: &str = "sendjay_ready";
/// 1 while the node drains.
pub const DRAINING: &str = "sendjay_draining";
/// Frames waiting in all outbound queues.
pub const OUTBOUND_QUEUED: &str = "sendjay_outbound_queue_frames";
/// Frames waiting in the longest outbound queue.
pub const OUTBOUND_LONGEST: &str = "sendjay_outbound_queue_longest_frames";
/// Distinct users connected here.
pub const LOCAL_USERS: &str = "sendjay_local_users";
/// Rooms with at least one member connected here (= room channels subscribed).
pub const LOCAL_ROOMS: &str = "sendjay_local_rooms";
// --- files --------------------------------------------------------------------------------------------

/// Bytes received by completed uploads.
pub const FILE_UPLOAD_BYTES: &str = "sendjay_file_upload_bytes_total";
/// Uploads finished, by result (`ok` or an error code).
pub const FILE_UPLOADS: &str = "sendjay_file_uploads_total";
/// Time from the first to the last byte of an upload, completed or not.
pub const FILE_UPLOAD_SECONDS: &str = "sendjay_file_upload_duration_seconds";
/// Bytes sent by downloads (files and thumbnails).
pub const FILE_DOWNLOAD_BYTES: &str = "sendjay_file_download_bytes_total";
/// Downloads answered, by status class (`2xx`, `304`, `4xx`, `5xx`).
pub const FILE_DOWNLOADS: &str = "sendjay_file_downloads_total";
/// Time to stream a download to the client.
pub const FILE_DOWNLOAD_SECONDS: &str = "sendjay_file_download_duration_seconds";
/// File storage operations that failed, by operation.
pub const FILE_STORAGE_ERRORS: &str = "sendjay_file_storage_errors_total";
/// Bytes deleted by the sweeper, by reason (`expired`, `unsent`).
pub const FILE_SWEPT_BYTES: &str = "sendjay_file_swept_bytes_total";
/// Storage operations counted by [`FILE_STORAGE_ERRORS`].
pub const FILE_STORAGE_OPS: [&str; 4] = ["put", "get", "delete", "head"];
// --- notifications -----------------------------------------------------------------------------------

/// Notification jobs appended to the stream, by kind (`message`, `read`).
pub const NOTIFY_JOBS: &str = "sendjay_notify_jobs_total";
/// Jobs that could not be appended (Redis failed; that message gets no push).
pub const NOTIFY_APPEND_FAILURES: &str = "sendjay_notify_append_failures_total";
/// Jobs this worker took over from another worker's pending entries.
pub const NOTIFY_CLAIMED: &str = "sendjay_notify_claimed_total";
/// Jobs left pending because PostgreSQL or Redis failed, by fault.
pub const NOTIFY_JOB_FAILURES: &str = "sendjay_notify_job_failures_total";
/// Pushes attempted, by provider and result (`delivered`, `gone`, `failed`, `gave_up`).
pub const NOTIFY_PUSHES: &str = "sendjay_notify_pushes_total";
/// Recipients who got no push, by reason.
pub const NOTIFY_SKIPPED: &str = "sendjay_notify_skipped_total";
/// From the job's append (right after the commit) to the push service taking the push.
pub const NOTIFY_PUSH_SECONDS: &str = "sendjay_notify_push_duration_seconds";
/// Entries of the stream no worker has read yet (`XINFO GROUPS` lag).
pub const NOTIFY_STREAM_LAG: &str = "sendjay_notify_stream_lag";
/// Entries read by a worker and not yet acknowledged.
pub const NOTIFY_PENDING: &str = "sendjay_notify_pending";
/// Age of the oldest unacknowledged entry.
pub const NOTIFY_OLDEST_PENDING_SECONDS: &str = "sendjay_notify_oldest_pending_seconds";
/// Results of [`NOTIFY_PUSHES`].
pub const NOTIFY_RESULTS: [&str; 4] = ["delivered", "gone", "failed", "gave_up"];

/// Version and commit of the running binary (value 1).
pub const BUILD_INFO: &str = "sendjay_build_info";

/// The commit the binary was built from (`git rev-parse` at build time, or `SENDJAY_COMMIT`).
pub const COMMIT: &str = env!("SENDJAY_COMMIT");

/// Latency buckets (seconds) of every `_seconds` histogram: 0.5 ms … 10 s.
pub const LATENCY_BUCKETS: [f64; 15] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Reasons of [`DROPPED`].
pub const DROP_REASONS: [&str; 4] = [
    "publish_failed",
    "bus_lagged",
    "slow_consumer",
    "bad_bus_message",
];
/// Store operations timed by [`DB_QUERY_SECONDS`].
pub const DB_OPS: [&str; 8] = [
    "user_auth",
    "session_user",
    "list_rooms",
    "history",
    "send",
    "mark_read",
    "sync",
    "ready",
];
/// Redis commands timed by [`REDIS_COMMAND_SECONDS`].
pub const REDIS_COMMANDS: [&str; 7] = [
    "publish",
    "subscribe",
    "unsubscribe",
    "session_claim",
    "session_current",
    "session_release",
    "session_refresh",
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once and returns its handle (later calls reuse it).
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
                .expect("bucket list is not empty")
                .set_buckets_for_metric(Matcher::Full(DB_SEND_BATCH_SIZE.into()), &BATCH_BUCKETS)
                .expect("bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (several components in one test process): keep ours
            // for rendering anyway.
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
    describe_gauge!(CONNECTIONS, "WebSocket sessions open now, by device class.");
    describe_counter!(
        CONNECTIONS_ACCEPTED,
        "WebSocket sessions started, by device class."
    );
    describe_counter!(
        CONNECTIONS_CLOSED,
        "Connections closed, by reason (close code name, client, over_capacity, too_many_unauthenticated, handshake_timeout)."
    );
    describe_counter!(
        AUDIT_WRITE_FAILURES,
        "Audit entries lost because PostgreSQL failed right after the change committed."
    );
    describe_counter!(
        WS_TOKEN_SOURCE,
        "WebSocket upgrades by where the token was: header, subprotocol or query (deprecated)."
    );
    describe_counter!(
        AUTH_FAILURES,
        "Sessions refused at authentication, by reason."
    );
    describe_counter!(
        EVICTIONS,
        "Sessions closed because a newer login of the same user and device class won."
    );
    describe_counter!(
        SESSIONS_REPAIRED,
        "Live sessions whose Redis record was lost: restored, or found superseded by a newer login."
    );
    describe_counter!(
        REBALANCED,
        "Users asked to move to another node after a ring change."
    );
    describe_counter!(REQUESTS, "Requests answered, by op and result code.");
    describe_counter!(
        REQUESTS_RATE_LIMITED,
        "Requests refused with rate_limited (over the connection's request budget; not executed)."
    );
    describe_histogram!(
        REQUEST_SECONDS,
        Unit::Seconds,
        "Request handling time, by op."
    );
    describe_counter!(
        ERRORS,
        "Failed requests, by fault (client, postgres, redis, storage, internal)."
    );
    describe_counter!(MESSAGES_RECEIVED, "send requests received from clients.");
    describe_counter!(
        MESSAGES_PERSISTED,
        "Messages committed to PostgreSQL by this node."
    );
    describe_counter!(MESSAGES_PUBLISHED, "Messages published to the Redis bus.");
    describe_counter!(
        BUS_RECEIVED,
        "Messages received from the Redis bus, by channel kind (room, user)."
    );
    describe_counter!(DELIVERED, "Frames from the bus queued to local sockets.");
    describe_counter!(PUSHES_WRITTEN, "Push frames written to sockets.");
    describe_counter!(DROPPED, "Pushes or bus messages dropped, by reason.");
    describe_histogram!(
        DELIVERY_SECONDS,
        Unit::Seconds,
        "Message creation in PostgreSQL to queued for the recipients' sockets on this node."
    );
    describe_histogram!(
        BUS_PUBLISH_SECONDS,
        Unit::Seconds,
        "Redis PUBLISH latency of room pushes."
    );
    describe_histogram!(
        BUS_RECEIVE_SECONDS,
        Unit::Seconds,
        "Time to handle one message received from the bus."
    );
    describe_gauge!(
        BUS_BACKLOG,
        "Bus messages received from Redis and not yet handled."
    );
    describe_histogram!(
        DB_QUERY_SECONDS,
        Unit::Seconds,
        "PostgreSQL time of a store operation, by operation."
    );
    describe_histogram!(
        DB_POOL_WAIT_SECONDS,
        Unit::Seconds,
        "Wait for a PostgreSQL connection from the pool."
    );
    describe_histogram!(
        DB_SEND_BATCH_SIZE,
        "Sends written by one statement and commit (group commit), per statement."
    );
    describe_counter!(
        DB_SEND_BATCH_RETRIED,
        "Send batch attempts that failed as a whole (tried once more, then written one send at a time)."
    );
    describe_counter!(
        SEARCH_KEYS_WRITTEN,
        "Messages whose search keys the search indexer wrote."
    );
    describe_counter!(
        SEARCH_INDEX_FAILURES,
        "Search indexer rounds that failed (the rooms stay behind until the next sweep)."
    );
    describe_histogram!(
        REDIS_COMMAND_SECONDS,
        Unit::Seconds,
        "Redis command latency, by command."
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
    describe_counter!(REDIS_RECONNECTS, "Reconnects of the Redis pub/sub subscriber (pushes in flight during the outage are lost; clients are told to sync).");
    describe_gauge!(REDIS_CONNECTED, "1 while both Redis clients are connected.");
    describe_gauge!(
        READY,
        "1 while the node is ready (PostgreSQL and Redis reachable, schema current, not draining)."
    );
    describe_gauge!(DRAINING, "1 while the node drains.");
    describe_gauge!(
        OUTBOUND_QUEUED,
        "Frames waiting in all outbound queues of this node."
    );
    describe_gauge!(
        OUTBOUND_LONGEST,
        "Frames waiting in the longest outbound queue of this node."
    );
    describe_gauge!(LOCAL_USERS, "Distinct users connected to this node.");
    describe_gauge!(LOCAL_ROOMS, "Rooms with a member connected to this node.");
    describe_counter!(FILE_UPLOAD_BYTES, "Bytes of completed file uploads.");
    describe_counter!(
        FILE_UPLOADS,
        "File uploads finished, by result (ok or the error code)."
    );
    describe_histogram!(
        FILE_UPLOAD_SECONDS,
        Unit::Seconds,
        "Time to receive and store one upload."
    );
    describe_counter!(
        FILE_DOWNLOAD_BYTES,
        "Bytes of files and thumbnails sent to clients."
    );
    describe_counter!(
        FILE_DOWNLOADS,
        "File and thumbnail downloads answered, by status class."
    );
    describe_histogram!(
        FILE_DOWNLOAD_SECONDS,
        Unit::Seconds,
        "Time to stream one download."
    );
    describe_counter!(
        FILE_STORAGE_ERRORS,
        "Failed file storage operations (put, get, delete, head)."
    );
    describe_counter!(
        FILE_SWEPT_BYTES,
        "Bytes deleted from file storage by the sweeper, by reason (expired, unsent)."
    );
    describe_counter!(
        NOTIFY_JOBS,
        "Notification jobs appended to the Redis Stream, by kind (message, read)."
    );
    describe_counter!(
        NOTIFY_APPEND_FAILURES,
        "Notification jobs that could not be appended (Redis failed): those messages get no push."
    );
    describe_counter!(
        NOTIFY_CLAIMED,
        "Notification jobs this worker claimed from another worker's pending entries (XAUTOCLAIM)."
    );
    describe_counter!(
        NOTIFY_JOB_FAILURES,
        "Notification jobs left pending because PostgreSQL or Redis failed, by fault."
    );
    describe_counter!(
        NOTIFY_PUSHES,
        "Pushes attempted, by provider (web_push, fcm) and result (delivered, gone, failed, gave_up)."
    );
    describe_counter!(
        NOTIFY_SKIPPED,
        "Recipients of a message who got no push, by reason (notifications_off, muted, outside_hours, foreground)."
    );
    describe_histogram!(
        NOTIFY_PUSH_SECONDS,
        Unit::Seconds,
        "Commit of a message to its push being taken by the push service."
    );
    describe_gauge!(
        NOTIFY_STREAM_LAG,
        "Notification stream entries no worker has read yet."
    );
    describe_gauge!(
        NOTIFY_PENDING,
        "Notification stream entries read and not yet acknowledged."
    );
    describe_gauge!(
        NOTIFY_OLDEST_PENDING_SECONDS,
        "Age of the oldest unacknowledged notification job."
    );
    describe_gauge!(
        BUILD_INFO,
        "Version and commit of the running binary; always 1."
    );
}

/// Creates every series whose label values are known in advance, at zero.
fn register() {
    use metrics::{counter, gauge, histogram};
    for device in ["web", "mobile"] {
        gauge!(CONNECTIONS, "device" => device).increment(0.0);
        counter!(CONNECTIONS_ACCEPTED, "device" => device).increment(0);
    }
    for reason in CloseReason::ALL {
        counter!(CONNECTIONS_CLOSED, "reason" => reason.as_str()).increment(0);
    }
    for reason in [
        "client",
        "over_capacity",
        "too_many_unauthenticated",
        "handshake_timeout",
    ] {
        counter!(CONNECTIONS_CLOSED, "reason" => reason).increment(0);
    }
    for source in ["header", "subprotocol", "query"] {
        counter!(WS_TOKEN_SOURCE, "source" => source).increment(0);
    }
    counter!(AUDIT_WRITE_FAILURES).increment(0);
    for reason in [
        CloseReason::AuthFailed,
        CloseReason::TokenExpired,
        CloseReason::TokenRevoked,
        CloseReason::UserUnavailable,
    ] {
        counter!(AUTH_FAILURES, "reason" => reason.as_str()).increment(0);
    }
    counter!(AUTH_FAILURES, "reason" => "database").increment(0);
    counter!(EVICTIONS).increment(0);
    for outcome in ["restored", "superseded"] {
        counter!(SESSIONS_REPAIRED, "outcome" => outcome).increment(0);
    }
    counter!(REBALANCED).increment(0);
    for op in OPS {
        counter!(REQUESTS, "op" => op, "code" => "ok").increment(0);
        let _ = histogram!(REQUEST_SECONDS, "op" => op);
    }
    for code in ErrorCode::ALL {
        counter!(REQUESTS, "op" => "invalid", "code" => code.as_str()).increment(0);
    }
    counter!(REQUESTS_RATE_LIMITED).increment(0);
    for fault in ["client", "postgres", "redis", "storage", "internal"] {
        counter!(ERRORS, "fault" => fault).increment(0);
    }
    counter!(FILE_UPLOAD_BYTES).increment(0);
    counter!(FILE_DOWNLOAD_BYTES).increment(0);
    for kind in ["message", "read"] {
        counter!(NOTIFY_JOBS, "kind" => kind).increment(0);
    }
    counter!(NOTIFY_APPEND_FAILURES).increment(0);
    counter!(NOTIFY_CLAIMED).increment(0);
    for fault in ["postgres", "redis", "internal"] {
        counter!(NOTIFY_JOB_FAILURES, "fault" => fault).increment(0);
    }
    for provider in ["web_push", "fcm"] {
        for result in NOTIFY_RESULTS {
            counter!(NOTIFY_PUSHES, "provider" => provider, "result" => result).increment(0);
        }
    }
    for reason in ["notifications_off", "muted", "outside_hours", "foreground"] {
        counter!(NOTIFY_SKIPPED, "reason" => reason).increment(0);
    }
    let _ = histogram!(NOTIFY_PUSH_SECONDS);
    gauge!(NOTIFY_STREAM_LAG).set(0.0);
    gauge!(NOTIFY_PENDING).set(0.0);
    gauge!(NOTIFY_OLDEST_PENDING_SECONDS).set(0.0);
    for result in ["ok", "too_large", "storage_unavailable"] {
        counter!(FILE_UPLOADS, "result" => result).increment(0);
    }
    for status in ["2xx", "304", "4xx", "5xx"] {
        counter!(FILE_DOWNLOADS, "status" => status).increment(0);
    }
    let _ = histogram!(FILE_UPLOAD_SECONDS);
    let _ = histogram!(FILE_DOWNLOAD_SECONDS);
    for op in FILE_STORAGE_OPS {
        counter!(FILE_STORAGE_ERRORS, "op" => op).increment(0);
    }
    for reason in ["expired", "unsent"] {
        counter!(FILE_SWEPT_BYTES, "reason" => reason).increment(0);
    }
    counter!(MESSAGES_RECEIVED).increment(0);
    counter!(MESSAGES_PERSISTED).increment(0);
    counter!(MESSAGES_PUBLISHED).increment(0);
    for channel in ["room", "user"] {
        counter!(BUS_RECEIVED, "channel" => channel).increment(0);
    }
    counter!(DELIVERED).increment(0);
    counter!(PUSHES_WRITTEN).increment(0);
    for reason in DROP_REASONS {
        counter!(DROPPED, "reason" => reason).increment(0);
    }
    let _ = histogram!(DELIVERY_SECONDS);
    let _ = histogram!(BUS_PUBLISH_SECONDS);
    let _ = histogram!(BUS_RECEIVE_SECONDS);
    gauge!(BUS_BACKLOG).set(0.0);
    for op in DB_OPS {
        let _ = histogram!(DB_QUERY_SECONDS, "op" => op);
    }
    let _ = histogram!(DB_POOL_WAIT_SECONDS);
    let _ = histogram!(DB_SEND_BATCH_SIZE);
    counter!(DB_SEND_BATCH_RETRIED).increment(0);
    counter!(SEARCH_KEYS_WRITTEN).increment(0);
    counter!(SEARCH_INDEX_FAILURES).increment(0);
    for command in REDIS_COMMANDS {
        let _ = histogram!(REDIS_COMMAND_SECONDS, "command" => command);
    }
    counter!(REDIS_RECONNECTS).increment(0);
    gauge!(BUILD_INFO, "version" => crate::VERSION, "commit" => COMMIT).set(1.0);
}

/// Records the time since `started` in the histogram `name` when dropped: `let _t = Timer::new(..)` times
/// the rest of a scope, whichever way it is left.
#[must_use = "the timer records when dropped"]
pub struct Timer {
    histogram: metrics::Histogram,
    started: Instant,
}

impl Timer {
    /// Starts timing into an unlabelled histogram.
    pub fn new(name: &'static str) -> Timer {
        Timer {
            histogram: metrics::histogram!(name),
            started: Instant::now(),
        }
    }

    /// Starts timing a store operation into [`DB_QUERY_SECONDS`].
    pub fn db(op: &'static str) -> Timer {
        Timer {
            histogram: metrics::histogram!(DB_QUERY_SECONDS, "op" => op),
            started: Instant::now(),
        }
    }

    /// Starts timing a Redis command into [`REDIS_COMMAND_SECONDS`].
    pub fn redis(command: &'static str) -> Timer {
        Timer {
            histogram: metrics::histogram!(REDIS_COMMAND_SECONDS, "command" => command),
            started: Instant::now(),
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.histogram.record(self.started.elapsed().as_secs_f64());
    }
}

/// The head of a room push, decoded without its body: only what delivery latency needs.
#[derive(serde::Deserialize)]
struct PushHead {
    push: Option<PushEvent>,
}

#[derive(serde::Deserialize)]
struct PushEvent {
    event: String,
    message: Option<MessageHead>,
}

#[derive(serde::Deserialize)]
struct MessageHead {
    created_at_ms: i64,
}

/// Records commit-to-socket latency for a room push received from the bus and queued for local sockets.
///
/// The bus carries opaque, already encoded client frames, so the publishing node adds nothing: the receiving
/// node decodes the head of `message` pushes (`push.message.created_at_ms`, the body is skipped, not copied)
/// and records now − created_at. `created_at` is PostgreSQL's `now()` in the inserting transaction, so the span
/// covers commit, publish, Redis, this node's receive queue and the fan-out to the recipients' outboxes; the
/// socket write that follows is bounded by the outbound queue (see [`OUTBOUND_LONGEST`]). It relies on the
/// PostgreSQL and node clocks agreeing (NTP); negative values count as zero.
pub fn record_delivery(frame: &[u8]) {
    let Ok(head) = sendjay_common::codec::decode::<PushHead>(frame) else {
        return;
    };
    let Some(PushEvent {
        event,
        message: Some(message),
    }) = head.push
    else {
        return;
    };
    if event != "message" {
        return;
    }
    let now_ms = crate::clock::now_ms();
    let seconds = (now_ms - message.created_at_ms).max(0) as f64 / 1000.0;
    metrics::histogram!(DELIVERY_SECONDS).record(seconds);
}

/// Samples the state gauges, then renders every metric plus the process metrics.
pub async fn render(ctx: &NodeContext) -> String {
    use metrics::gauge;
    let status = ctx.store.pool().status();
    let in_use = status.size.saturating_sub(status.available);
    gauge!(DB_POOL_CONNECTIONS, "state" => "in_use").set(in_use as f64);
    gauge!(DB_POOL_CONNECTIONS, "state" => "idle").set(status.available as f64);
    gauge!(DB_POOL_MAX).set(status.max_size as f64);
    gauge!(DB_POOL_WAITING).set(status.waiting as f64);
    gauge!(REDIS_CONNECTED).set(f64::from(u8::from(ctx.bus.connected())));
    gauge!(DRAINING).set(f64::from(u8::from(ctx.is_draining())));
    let ready = tokio::time::timeout(Duration::from_secs(2), ctx.readiness()).await;
    gauge!(READY).set(f64::from(u8::from(matches!(ready, Ok(Ok(()))))));
    let (_, users, rooms) = ctx.registry.counts();
    gauge!(LOCAL_USERS).set(users as f64);
    gauge!(LOCAL_ROOMS).set(rooms as f64);
    let (mut queued, mut longest) = (0usize, 0usize);
    for conn in ctx.registry.all_conns() {
        let len = conn.outbox.len();
        queued += len;
        longest = longest.max(len);
    }
    gauge!(OUTBOUND_QUEUED).set(queued as f64);
    gauge!(OUTBOUND_LONGEST).set(longest as f64);
    ctx.metrics.run_upkeep();
    let mut text = ctx.metrics.render();
    text.push_str(&process::render());
    text
}

#[cfg(test)]
mod tests {
    /// Every series registered at start is rendered before anything happened, so dashboards and the
    /// observability check see notification metrics on a node that has not sent a push yet.
    #[test]
    fn registered_series_render_before_any_event() {
        let text = super::install().render();
        for name in [
            "sendjay_notify_push_duration_seconds_bucket",
            "sendjay_notify_pushes_total",
            "sendjay_notify_job_failures_total",
            "sendjay_notify_oldest_pending_seconds",
        ] {
            assert!(text.contains(name), "{name} is not rendered");
        }
    }
}
