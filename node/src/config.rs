//! Node settings, from flags or `SENDJAY_*` environment variables (see `docs/configuration.md`).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

use crate::error::NodeError;

/// Everything a node needs to run.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "sendjay-node",
    about = "A sendjay socket node (`sendjay-node [serve] [settings]`)",
    version,
    after_help = "The migrator has settings of its own: sendjay-node migrate --help"
)]
pub struct NodeConfig {
    /// Address to listen on for WebSockets and HTTP (`/healthz`, `/readyz`, `/metrics`).
    #[arg(long, env = "SENDJAY_LISTEN", default_value = "127.0.0.1:7400")]
    pub listen: SocketAddr,
    /// URL clients use to reach this node's WebSocket (`ws://` or `wss://`); `{node_id}` in it is replaced by
    /// the node id (e.g. `wss://chat.example.com/n/{node_id}/v1/ws` behind a load balancer); default
    /// `ws://<listen>/v1/ws`.
    #[arg(long, env = "SENDJAY_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// This node's id in the cluster (1-64 of `A-Z a-z 0-9 . _ -`); default a fresh random id.
    #[arg(long, env = "SENDJAY_NODE_ID")]
    pub node_id: Option<String>,
    /// PostgreSQL connection URL.
    #[arg(long, env = "SENDJAY_DATABASE_URL")]
    pub database_url: String,
    /// PostgreSQL connections in the pool.
    #[arg(long, env = "SENDJAY_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: usize,
    /// Redis URL (`redis://host:port`, or `redis-cluster://host:port` for a Redis Cluster).
    #[arg(long, env = "SENDJAY_REDIS_URL")]
    pub redis_url: String,
    /// Prefix of every Redis key and channel, so clusters can share a Redis.
    #[arg(long, env = "SENDJAY_REDIS_PREFIX", default_value = "sj")]
    pub redis_prefix: String,
    /// Secret that signs session tokens (at least 32 bytes).
    #[arg(long, env = "SENDJAY_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: String,
    /// The previous secret, still accepted during a key rotation.
    #[arg(long, env = "SENDJAY_JWT_PREVIOUS_SECRET", hide_env_values = true)]
    pub jwt_previous_secret: Option<String>,
    /// Most simultaneous TCP connections; further ones are refused.
    #[arg(long, env = "SENDJAY_MAX_CONNECTIONS", default_value_t = 200_000)]
    pub max_connections: usize,
    /// Largest request frame in bytes; larger ones get a `frame_too_large` error and the connection stays.
    #[arg(long, env = "SENDJAY_MAX_FRAME_BYTES", default_value_t = 64 * 1024)]
    pub max_frame_bytes: usize,
    /// Seconds between WebSocket pings from the node.
    #[arg(long, env = "SENDJAY_HEARTBEAT_INTERVAL_SECS", default_value_t = 25)]
    pub heartbeat_interval_secs: u64,
    /// Seconds of silence from a client after which it is closed as dead (4009).
    #[arg(long, env = "SENDJAY_HEARTBEAT_TIMEOUT_SECS", default_value_t = 60)]
    pub heartbeat_timeout_secs: u64,
    /// Frames queued for one client before it is closed as a slow consumer (4007).
    #[arg(long, env = "SENDJAY_OUTBOX_MAX_FRAMES", default_value_t = 4096)]
    pub outbox_max_frames: usize,
    /// Seconds a session key lives in Redis without a refresh.
    #[arg(long, env = "SENDJAY_SESSION_TTL_SECS", default_value_t = 90)]
    pub session_ttl_secs: u64,
    /// Seconds a draining node waits for its clients to leave before closing the rest.
    #[arg(long, env = "SENDJAY_DRAIN_GRACE_SECS", default_value_t = 20)]
    pub drain_grace_secs: u64,
    /// Bus messages buffered between Redis and the node's dispatcher; past it the node counts a lag and tells
    /// its clients to sync.
    #[arg(long, env = "SENDJAY_BUS_RECEIVE_BUFFER", default_value_t = crate::bus::BROADCAST_CAPACITY)]
    pub bus_receive_buffer: usize,
    /// Turn away users whose assigned node (by rendezvous hashing) is another one, with close code 4006.
    #[arg(long, env = "SENDJAY_ENFORCE_ASSIGNMENT", default_value_t = true, action = clap::ArgAction::Set)]
    pub enforce_assignment: bool,
    /// Seconds over which users that move to a joining node are asked to reconnect (jittered).
    #[arg(long, env = "SENDJAY_REBALANCE_SPREAD_SECS", default_value_t = 10)]
    pub rebalance_spread_secs: u64,
    /// Seconds after a ring change during which the previous assignment is still accepted.
    #[arg(long, env = "SENDJAY_ASSIGNMENT_GRACE_SECS", default_value_t = 30)]
    pub assignment_grace_secs: u64,
    /// Seconds without a heartbeat after which a node counts as dead.
    #[arg(long, env = "SENDJAY_NODE_TIMEOUT_SECS", default_value_t = 5)]
    pub node_timeout_secs: u64,
    /// Most members a room may have (a company-wide announcement room must fit).
    #[arg(long, env = "SENDJAY_MAX_ROOM_MEMBERS", default_value_t = sendjay_common::protocol::DEFAULT_MAX_ROOM_MEMBERS)]
    pub max_room_members: u32,
    /// Seconds after sending during which the sender may revoke a message.
    #[arg(long, env = "SENDJAY_REVOKE_WINDOW_SECS", default_value_t = sendjay_common::protocol::DEFAULT_REVOKE_WINDOW_SECS)]
    pub revoke_window_secs: u64,
    /// Seconds after sending during which the sender may edit a message.
    #[arg(long, env = "SENDJAY_EDIT_WINDOW_SECS", default_value_t = sendjay_common::protocol::DEFAULT_EDIT_WINDOW_SECS)]
    pub edit_window_secs: u64,
    /// `search_all`: most messages of the whole company a term may match for it to be looked up in the trigram
    /// index; a more common term is found by walking the caller's messages newest first instead.
    #[arg(long, env = "SENDJAY_SEARCH_ALL_CANDIDATES", default_value_t = 2_000, value_parser = clap::value_parser!(i64).range(0..))]
    pub search_all_candidates: i64,
    /// `search_all`: most messages one request reads when walking newest first; past it the page ends early
    /// (even empty) with a cursor, and the client asks for the next page to search further back.
    #[arg(long, env = "SENDJAY_SEARCH_ALL_WALK", default_value_t = 10_000, value_parser = clap::value_parser!(i64).range(1..))]
    pub search_all_walk: i64,
    /// Address of the operational endpoints (`/healthz`, `/readyz`, `/metrics`) on a listener of their own, so
    /// probes and scrapes keep answering while the data port is saturated; unset: only on `SENDJAY_LISTEN`
    /// (which serves them too).
    #[arg(long, env = "SENDJAY_OPS_LISTEN")]
    pub ops_listen: Option<SocketAddr>,
    /// Seconds a new TCP connection has to send its HTTP request head, complete the WebSocket upgrade and
    /// authenticate; past it the connection is closed.
    #[arg(long, env = "SENDJAY_HANDSHAKE_TIMEOUT_SECS", default_value_t = 10)]
    pub handshake_timeout_secs: u64,
    /// Most connections on the data port that have not authenticated yet; further ones are refused at once.
    #[arg(long, env = "SENDJAY_MAX_UNAUTHENTICATED", default_value_t = 10_000)]
    pub max_unauthenticated: usize,
    /// Most not-yet-authenticated connections from one source IP address; 0 turns the per-address cap off
    /// (behind a load balancer that does not keep client addresses, every connection comes from its address).
    #[arg(
        long,
        env = "SENDJAY_MAX_UNAUTHENTICATED_PER_IP",
        default_value_t = 1_000
    )]
    pub max_unauthenticated_per_ip: usize,
    /// Longest token lifetime (`exp - iat`) accepted, in seconds; keep it at least the router's
    /// `SENDJAY_TOKEN_TTL_SECS`.
    #[arg(long, env = "SENDJAY_MAX_TOKEN_LIFETIME_SECS", default_value_t = sendjay_common::jwt::DEFAULT_MAX_LIFETIME_SECS)]
    pub max_token_lifetime_secs: i64,
    /// Where uploaded files live: `file:///abs/dir` (a directory every node of the machine shares; the
    /// default), or `s3://bucket/prefix` for any S3-compatible store (credentials and region from the standard
    /// `AWS_*` environment variables).
    #[arg(
        long,
        env = "SENDJAY_FILES_URL",
        default_value = "file://./sendjay-files"
    )]
    pub files_url: String,
    /// The S3 endpoint for a store other than AWS (MinIO, Ceph, …), e.g. `http://127.0.0.1:9000`.
    #[arg(long, env = "SENDJAY_FILES_S3_ENDPOINT")]
    pub files_s3_endpoint: Option<String>,
    /// Largest upload in bytes (checked before and while streaming).
    #[arg(long, env = "SENDJAY_FILES_MAX_BYTES", default_value_t = 100 * 1024 * 1024)]
    pub files_max_bytes: u64,
    /// Days a file is kept after its upload; then its bytes are deleted and downloads answer 410.
    #[arg(long, env = "SENDJAY_FILES_RETENTION_DAYS", default_value_t = 30)]
    pub files_retention_days: u32,
    /// Seconds a data-port connection that made a `/v1/files` request may stay open in all (uploads and
    /// downloads are not bound by the handshake deadline, which would cut every transfer longer than it).
    #[arg(
        long,
        env = "SENDJAY_FILES_TRANSFER_TIMEOUT_SECS",
        default_value_t = 3600
    )]
    pub files_transfer_timeout_secs: u64,
    /// Most MB/s (10^6 bytes) of file uploads and downloads together through this node; 0 = no limit. The default
    /// keeps chat delivery within the files-mixed target on a 2-core node (docs/benchmarks.md).
    #[arg(long, env = "SENDJAY_FILES_MAX_MB_PER_SEC", default_value_t = 100.0)]
    pub files_max_mb_per_sec: f64,
    /// Seconds an upload that was never sent in a message is kept before the sweeper deletes it.
    #[arg(long, env = "SENDJAY_FILES_UNSENT_GRACE_SECS", default_value_t = 24 * 3600)]
    pub files_unsent_grace_secs: u64,
    /// Seconds between sweeper runs (each node runs one; rows are shared out with SKIP LOCKED).
    #[arg(long, env = "SENDJAY_FILES_SWEEP_INTERVAL_SECS", default_value_t = 60)]
    pub files_sweep_interval_secs: u64,
    /// Milliseconds between search indexer rounds: how long after a send its search key is written (search
    /// finds the message before that too, by reading the room's unindexed messages directly).
    #[arg(long, env = "SENDJAY_SEARCH_INDEX_INTERVAL_MS", default_value_t = 250)]
    pub search_index_interval_ms: u64,
    /// Seconds a signed download URL (for `<img>` and `<video>`) stays valid.
    #[arg(long, env = "SENDJAY_FILES_URL_TTL_SECS", default_value_t = 300)]
    pub files_url_ttl_secs: u64,
    /// Largest image, in pixels (width × height), that gets a thumbnail; a larger one is refused
    /// (`image_too_large`) so a decompression bomb cannot exhaust memory.
    #[arg(
        long,
        env = "SENDJAY_FILES_MAX_IMAGE_PIXELS",
        default_value_t = 50_000_000
    )]
    pub files_max_image_pixels: u64,
    /// Origins allowed to call `/v1/files` from a browser (comma-separated, `*` for any: a bearer token, not a
    /// cookie, authorises).
    #[arg(long, env = "SENDJAY_FILES_CORS_ORIGINS", default_value = "*")]
    pub files_cors_origins: String,
    /// Requests one connection may send per second on average (its token bucket's refill rate); above it
    /// requests are answered `rate_limited` and not executed.
    #[arg(long, env = "SENDJAY_REQUESTS_PER_SEC", default_value_t = 50)]
    pub requests_per_sec: u32,
    /// Requests one connection may send at once above the average (its token bucket's size).
    #[arg(long, env = "SENDJAY_REQUEST_BURST", default_value_t = 200)]
    pub request_burst: u32,
    /// Web Push (VAPID, RFC 8292) private key: base64url of the raw 32-byte P-256 scalar (`sendjay-node
    /// vapid-key` makes one). Unset: no Web Push.
    #[arg(long, env = "SENDJAY_VAPID_PRIVATE_KEY", hide_env_values = true)]
    pub vapid_private_key: Option<String>,
    /// Who runs this deployment, told to push services in every VAPID signature (`mailto:` or `https:`).
    #[arg(
        long,
        env = "SENDJAY_VAPID_SUBJECT",
        default_value = "mailto:admin@localhost"
    )]
    pub vapid_subject: String,
    /// FCM HTTP v1: path of the Google service-account key (JSON) that signs the OAuth2 token requests.
    /// Unset: no FCM.
    #[arg(long, env = "SENDJAY_FCM_SERVICE_ACCOUNT_FILE")]
    pub fcm_service_account_file: Option<std::path::PathBuf>,
    /// FCM HTTP v1 base URL (a company's own gateway may stand in for Google's).
    #[arg(
        long,
        env = "SENDJAY_FCM_ENDPOINT",
        default_value = "https://fcm.googleapis.com"
    )]
    pub fcm_endpoint: String,
    /// OAuth2 token URL for FCM; default the service account's own `token_uri`.
    #[arg(long, env = "SENDJAY_FCM_TOKEN_URL")]
    pub fcm_token_url: Option<String>,
    /// Run a notification worker in this node (reads the notification stream in the consumer group). Nodes
    /// only append jobs when Web Push or FCM is configured.
    #[arg(long, env = "SENDJAY_NOTIFY_WORKER", default_value_t = true, action = clap::ArgAction::Set)]
    pub notify_worker: bool,
    /// Jobs one worker handles at once.
    #[arg(long, env = "SENDJAY_NOTIFY_CONCURRENCY", default_value_t = 64)]
    pub notify_concurrency: usize,
    /// Milliseconds a job may stay unacknowledged with a worker before another worker claims it (`XAUTOCLAIM`).
    #[arg(long, env = "SENDJAY_NOTIFY_CLAIM_IDLE_MS", default_value_t = 30_000)]
    pub notify_claim_idle_ms: u64,
    /// The notification stream is trimmed to about this many entries.
    #[arg(
        long,
        env = "SENDJAY_NOTIFY_STREAM_MAXLEN",
        default_value_t = 1_000_000
    )]
    pub notify_stream_maxlen: u64,
    /// Time zone of users whose own setting is empty or unknown (IANA name); default the node's.
    #[arg(long, env = "SENDJAY_DEFAULT_TIME_ZONE")]
    pub default_time_zone: Option<String>,
    /// Log format: `text` or `json`.
    #[arg(long, env = "SENDJAY_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
}

impl NodeConfig {
    /// A configuration with defaults and the three required settings (for tests and tools).
    pub fn with_required(database_url: &str, redis_url: &str, jwt_secret: &str) -> NodeConfig {
        NodeConfig::parse_from([
            "sendjay-node",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            database_url,
            "--redis-url",
            redis_url,
            "--jwt-secret",
            jwt_secret,
        ])
    }

    /// Checks values that clap cannot, naming the setting at fault.
    pub fn validate(&self) -> Result<(), NodeError> {
        let bad = |setting: &str, why: &str| Err(NodeError::Config(format!("{setting}: {why}")));
        if self.jwt_secret.len() < sendjay_common::jwt::MIN_SECRET_BYTES {
            return bad("SENDJAY_JWT_SECRET", "must be at least 32 bytes");
        }
        if let Some(previous) = &self.jwt_previous_secret {
            if previous.len() < sendjay_common::jwt::MIN_SECRET_BYTES {
                return bad(
                    "SENDJAY_JWT_PREVIOUS_SECRET",
                    "must be at least 32 bytes when set",
                );
            }
        }
        if let Err(e) = self.database_url.parse::<tokio_postgres::Config>() {
            return bad("SENDJAY_DATABASE_URL", &e.to_string());
        }
        if let Err(e) = fred::prelude::Config::from_url(&self.redis_url) {
            return bad("SENDJAY_REDIS_URL", &e.to_string());
        }
        if let Some(id) = &self.node_id {
            if !valid_node_id(id) {
                return bad(
                    "SENDJAY_NODE_ID",
                    "must be 1-64 characters of A-Z a-z 0-9 . _ - (it appears in URLs and Redis keys)",
                );
            }
        }
        if let Some(url) = &self.public_url {
            if let Err(why) = check_public_url(url) {
                return bad("SENDJAY_PUBLIC_URL", &why);
            }
        }
        if !valid_redis_prefix(&self.redis_prefix) {
            return bad(
                "SENDJAY_REDIS_PREFIX",
                "must be 1-32 characters of A-Z a-z 0-9 . _ : -",
            );
        }
        if let Err(why) = check_log_filter() {
            return bad("SENDJAY_LOG", &why);
        }
        if self.heartbeat_interval_secs == 0
            || self.heartbeat_timeout_secs <= self.heartbeat_interval_secs
        {
            return bad(
                "SENDJAY_HEARTBEAT_TIMEOUT_SECS",
                "must be greater than SENDJAY_HEARTBEAT_INTERVAL_SECS, which must be at least 1",
            );
        }
        if self.max_frame_bytes < 256
            || self.max_frame_bytes > crate::websocket::HARD_MAX_MESSAGE_BYTES
        {
            return bad("SENDJAY_MAX_FRAME_BYTES", "must be between 256 and 1048576");
        }
        if self.bus_receive_buffer == 0 {
            return bad("SENDJAY_BUS_RECEIVE_BUFFER", "must be > 0");
        }
        if self.db_pool_size == 0 || self.max_connections == 0 || self.outbox_max_frames == 0 {
            return bad(
                "SENDJAY_DB_POOL_SIZE / SENDJAY_MAX_CONNECTIONS / SENDJAY_OUTBOX_MAX_FRAMES",
                "must be > 0",
            );
        }
        if self.node_timeout_secs < 2 {
            return bad(
                "SENDJAY_NODE_TIMEOUT_SECS",
                "must be at least 2 (nodes announce every second)",
            );
        }
        if self.session_ttl_secs < 3 {
            return bad("SENDJAY_SESSION_TTL_SECS", "must be at least 3");
        }
        if self.max_room_members < 2 {
            return bad("SENDJAY_MAX_ROOM_MEMBERS", "must be at least 2");
        }
        if self.requests_per_sec == 0 {
            return bad("SENDJAY_REQUESTS_PER_SEC", "must be at least 1");
        }
        if self.request_burst == 0 {
            return bad("SENDJAY_REQUEST_BURST", "must be at least 1");
        }
        if self.handshake_timeout_secs == 0 {
            return bad("SENDJAY_HANDSHAKE_TIMEOUT_SECS", "must be at least 1");
        }
        if self.max_unauthenticated == 0 {
            return bad("SENDJAY_MAX_UNAUTHENTICATED", "must be > 0");
        }
        if self.max_token_lifetime_secs < 60 {
            return bad("SENDJAY_MAX_TOKEN_LIFETIME_SECS", "must be at least 60");
        }
        if let Err(why) = crate::files::blob::check_url(&self.files_url) {
            return bad("SENDJAY_FILES_URL", &why);
        }
        if self.files_max_bytes == 0
            || self.files_max_bytes > sendjay_common::protocol::MAX_FILE_BYTES as u64
        {
            return bad(
                "SENDJAY_FILES_MAX_BYTES",
                "must be between 1 and 10737418240 (10 GiB)",
            );
        }
        if !(self.files_max_mb_per_sec.is_finite() && self.files_max_mb_per_sec >= 0.0) {
            return bad(
                "SENDJAY_FILES_MAX_MB_PER_SEC",
                "must be a number ≥ 0 (0 = no limit)",
            );
        }
        if self.files_transfer_timeout_secs == 0 {
            return bad("SENDJAY_FILES_TRANSFER_TIMEOUT_SECS", "must be at least 1");
        }
        if self.files_retention_days == 0 {
            return bad("SENDJAY_FILES_RETENTION_DAYS", "must be at least 1");
        }
        if self.search_index_interval_ms == 0 {
            return bad("SENDJAY_SEARCH_INDEX_INTERVAL_MS", "must be at least 1");
        }
        if self.files_sweep_interval_secs == 0 || self.files_url_ttl_secs == 0 {
            return bad(
                "SENDJAY_FILES_SWEEP_INTERVAL_SECS / SENDJAY_FILES_URL_TTL_SECS",
                "must be > 0",
            );
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return bad("SENDJAY_LOG_FORMAT", "must be `text` or `json`");
        }
        if !(self.vapid_subject.starts_with("mailto:") || self.vapid_subject.starts_with("https:"))
        {
            return bad(
                "SENDJAY_VAPID_SUBJECT",
                "must start with `mailto:` or `https:`",
            );
        }
        if self.notify_concurrency == 0 || self.notify_claim_idle_ms == 0 {
            return bad(
                "SENDJAY_NOTIFY_CONCURRENCY / SENDJAY_NOTIFY_CLAIM_IDLE_MS",
                "must be > 0",
            );
        }
        if self.notify_stream_maxlen < 1000 {
            return bad("SENDJAY_NOTIFY_STREAM_MAXLEN", "must be at least 1000");
        }
        if let Some(zone) = &self.default_time_zone {
            if jiff::tz::TimeZone::get(zone).is_err() {
                return bad(
                    "SENDJAY_DEFAULT_TIME_ZONE",
                    "is not a time zone of this machine's zone database (an IANA name such as Asia/Seoul)",
                );
            }
        }
        Ok(())
    }

    /// Whether this node sends pushes at all (Web Push or FCM configured): only then are jobs appended.
    pub fn push_configured(&self) -> bool {
        self.vapid_private_key.is_some() || self.fcm_service_account_file.is_some()
    }

    /// How long a connection serving file requests may stay open.
    pub fn files_transfer_timeout(&self) -> Duration {
        Duration::from_secs(self.files_transfer_timeout_secs)
    }

    /// The handshake deadline of a new connection.
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.handshake_timeout_secs)
    }

    /// Heartbeat interval.
    pub fn heartbeat_interval(&self) -> Duration {
        Duration::from_secs(self.heartbeat_interval_secs)
    }

    /// Heartbeat timeout.
    pub fn heartbeat_timeout(&self) -> Duration {
        Duration::from_secs(self.heartbeat_timeout_secs)
    }
}

impl NodeConfig {
    /// The WebSocket URL this node announces: `SENDJAY_PUBLIC_URL` with `{node_id}` replaced, or
    /// `ws://<listen address>/v1/ws`.
    pub fn public_url_for(&self, node_id: &str, addr: SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.replace("{node_id}", node_id),
            None => format!("ws://{addr}{}", sendjay_common::WS_PATH_V1),
        }
    }

    /// The drain grace period.
    pub fn drain_grace(&self) -> Duration {
        Duration::from_secs(self.drain_grace_secs)
    }
}

/// A node id: 1-64 characters of `A-Z a-z 0-9 . _ -` (it appears in load-balancer paths and Redis keys).
pub fn valid_node_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A Redis key prefix: 1-32 characters of `A-Z a-z 0-9 . _ : -` (no `{`, which would change the hash slots).
pub fn valid_redis_prefix(prefix: &str) -> bool {
    (1..=32).contains(&prefix.len())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// `ws://host[:port]/path` or `wss://…`, no spaces, `{node_id}` the only placeholder.
fn check_public_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("wss://"))
        .ok_or_else(|| format!("must start with ws:// or wss://, not {url:?}"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("has no host: {url:?}"));
    }
    if url.contains(['?', '#']) {
        return Err(format!(
            "must not carry a query or fragment (clients append ?token=...): {url:?}"
        ));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("must not contain spaces: {url:?}"));
    }
    if url.replace("{node_id}", "").contains(['{', '}']) {
        return Err(format!("{{node_id}} is the only placeholder: {url:?}"));
    }
    Ok(())
}

/// The log filter (`SENDJAY_LOG`, else `RUST_LOG`) must parse; a typo would otherwise silently log at info.
pub fn check_log_filter() -> Result<(), String> {
    let Ok(filter) = std::env::var("SENDJAY_LOG").or_else(|_| std::env::var("RUST_LOG")) else {
        return Ok(());
    };
    if filter.trim().is_empty() {
        return Ok(());
    }
    tracing_subscriber::EnvFilter::try_new(&filter)
        .map(|_| ())
        .map_err(|e| format!("cannot parse the log filter {filter:?} (or RUST_LOG): {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &[&str]) -> NodeConfig {
        let secret = "0123456789abcdef0123456789abcdef";
        let mut args = vec![
            "sendjay-node",
            "--database-url",
            "postgres://x@127.0.0.1/db",
            "--redis-url",
            "redis://127.0.0.1:1",
            "--jwt-secret",
            secret,
        ];
        args.extend_from_slice(extra);
        NodeConfig::parse_from(args)
    }

    fn refused(extra: &[&str]) -> String {
        match config(extra).validate() {
            Err(NodeError::Config(msg)) => msg,
            other => panic!("{extra:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn public_url_placeholder_and_default() {
        let addr: SocketAddr = "127.0.0.1:7401".parse().unwrap();
        let c = config(&["--public-url", "wss://lb.example:8443/n/{node_id}/v1/ws"]);
        c.validate().unwrap();
        assert_eq!(
            c.public_url_for("node-1", addr),
            "wss://lb.example:8443/n/node-1/v1/ws"
        );
        assert_eq!(
            config(&[]).public_url_for("node-1", addr),
            "ws://127.0.0.1:7401/v1/ws"
        );
    }

    #[test]
    fn bad_values_name_their_setting() {
        for (args, setting) in [
            (
                &["--public-url", "http://lb/v1/ws"][..],
                "SENDJAY_PUBLIC_URL",
            ),
            (&["--public-url", "ws:///v1/ws"][..], "SENDJAY_PUBLIC_URL"),
            (
                &["--public-url", "ws://lb/v1/ws?x=1"][..],
                "SENDJAY_PUBLIC_URL",
            ),
            (
                &["--public-url", "ws://lb/{node}/v1/ws"][..],
                "SENDJAY_PUBLIC_URL",
            ),
            (&["--node-id", "a b"][..], "SENDJAY_NODE_ID"),
            (&["--node-id", "a/b"][..], "SENDJAY_NODE_ID"),
            (&["--node-id", ""][..], "SENDJAY_NODE_ID"),
            (&["--redis-prefix", ""][..], "SENDJAY_REDIS_PREFIX"),
            (&["--redis-prefix", "a{b}"][..], "SENDJAY_REDIS_PREFIX"),
            (
                &["--jwt-previous-secret", "short"][..],
                "SENDJAY_JWT_PREVIOUS_SECRET",
            ),
        ] {
            let msg = refused(args);
            assert!(msg.starts_with(setting), "{args:?}: {msg}");
        }
        let mut c = config(&[]);
        c.database_url = "nonsense".into();
        assert!(
            matches!(c.validate(), Err(NodeError::Config(m)) if m.starts_with("SENDJAY_DATABASE_URL"))
        );
        let mut c = config(&[]);
        c.redis_url = "nonsense".into();
        assert!(
            matches!(c.validate(), Err(NodeError::Config(m)) if m.starts_with("SENDJAY_REDIS_URL"))
        );
        config(&["--node-id", "sendjay-node-12", "--redis-prefix", "prod:sj"])
            .validate()
            .unwrap();
    }
}
