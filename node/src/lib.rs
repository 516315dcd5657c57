//! A sendjay socket node.
//!
//! A node holds users' WebSockets, persists their messages in PostgreSQL and fans pushes out to the other
//! nodes over Redis pub/sub. Nodes are identical and stateless beyond their sockets: a node can crash and its
//! clients reconnect elsewhere and `sync` what they missed, because PostgreSQL holds everything acknowledged.
//!
//! [`start`] runs a node in-process (tests use it on `127.0.0.1:0`); the `sendjay-node` binary wraps it.
#![forbid(unsafe_code)]

pub mod admission;
pub mod audit_trail;
pub mod auth;
pub mod bus;
pub mod clock;
pub mod config;
pub mod connection;
pub mod error;
pub mod files;
pub mod handler;
pub mod metrics;
pub mod notify;
pub mod outbox;
pub mod presence_watch;
pub mod registry;
pub mod request_budget;
pub mod ring;
pub mod search_indexer;
pub mod server;
pub mod session_repair;
pub mod sessions;
pub mod stats;
pub mod store;
pub mod text_frames;
pub mod websocket;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fred::prelude::KeysInterface;
use metrics_exporter_prometheus::PrometheusHandle;
use sendjay_common::codec;
use sendjay_common::jwt::TokenKeys;
use sendjay_common::keys::KeySchema;
use sendjay_common::membership::{self, NodeInfo};
use sendjay_common::protocol::{Push, ServerFrame};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::NodeConfig;
pub use error::NodeError;

use bus::Bus;
use registry::Registry;
use sessions::Sessions;
use stats::NodeStats;
use store::Store;

/// The software version announced by nodes.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything the tasks of one node share.
pub struct NodeContext {
    /// Settings.
    pub config: NodeConfig,
    /// This node's id.
    pub node_id: String,
    /// The URL clients use to reach this node.
    pub public_url: String,
    /// Token verification keys.
    pub tokens: TokenKeys,
    /// PostgreSQL.
    pub store: Store,
    /// Redis pub/sub and commands.
    pub bus: Arc<Bus>,
    /// Session records in Redis.
    pub sessions: Sessions,
    /// Local connections.
    pub registry: Arc<Registry>,
    /// Per-node counters.
    pub stats: Arc<NodeStats>,
    /// Prometheus renderer.
    pub metrics: PrometheusHandle,
    /// Connection id source.
    pub next_conn_id: AtomicU64,
    /// Which users belong here.
    pub ring: ring::Ring,
    /// File storage, signed URLs and CORS settings of `/v1/files`.
    pub files: files::FileService,
    /// Push providers, the notification stream and the worker's Redis scripts.
    pub notifications: notify::Notifications,
    draining: AtomicBool,
}

impl NodeContext {
    /// Whether the node is draining.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// `Ok` when the node can serve: PostgreSQL current, Redis connected, not draining.
    pub async fn readiness(&self) -> Result<(), &'static str> {
        if self.is_draining() {
            return Err("draining");
        }
        if !self.bus.connected() {
            return Err("redis unreachable");
        }
        if !self.store.ready().await {
            return Err("postgresql unreachable or schema not current");
        }
        Ok(())
    }

    /// Whether `node` has a live announcement.
    pub async fn node_alive(&self, node: &str) -> bool {
        if node == self.node_id {
            return true;
        }
        let exists: Result<i64, _> = self.bus.commands().exists(self.bus.keys().node(node)).await;
        // When Redis cannot tell, assume alive: an automatic launch must never evict by mistake.
        exists.map(|n| n > 0).unwrap_or(true)
    }

    /// Publishes a push to a room's members on every node, in the background.
    pub fn publish_room(&self, room: i64, push: Push) {
        let frame = match codec::encode_server_frame(&ServerFrame::Push { push }) {
            Ok(frame) => Bytes::from(frame),
            Err(e) => return tracing::error!(error = %e, "could not encode a push"),
        };
        let bus = self.bus.clone();
        tokio::spawn(async move {
            if let Err(e) = bus.publish_room(room, frame).await {
                // Committed messages are not lost: recipients get them from `sync`.
                ::metrics::counter!(crate::metrics::DROPPED, "reason" => "publish_failed")
                    .increment(1);
                tracing::warn!(error = %e, room, "publish failed; recipients will catch up by sync");
            }
        });
    }
}

/// A node running in this process.
pub struct RunningNode {
    /// The bound address.
    pub addr: SocketAddr,
    /// The bound address of the operational endpoints' own listener, when `SENDJAY_OPS_LISTEN` is set.
    pub ops_addr: Option<SocketAddr>,
    /// Shared state (tests read stats and the registry).
    pub ctx: Arc<NodeContext>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningNode {
    /// The node's id.
    pub fn node_id(&self) -> &str {
        &self.ctx.node_id
    }

    /// The WebSocket URL of this node.
    pub fn ws_url(&self) -> String {
        self.ctx.public_url.clone()
    }

    /// Drains: stops accepting, asks clients to reconnect with jitter, waits for them up to the grace period
    /// (plus a little for the last closes), then stops every task.
    pub async fn drain(self) {
        self.ctx.draining.store(true, Ordering::Release);
        let _ = self.shutdown.send(true);
        let deadline =
            tokio::time::Instant::now() + self.ctx.config.drain_grace() + Duration::from_secs(3);
        while self.ctx.registry.counts().0 > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = membership::withdraw(
            self.ctx.bus.commands(),
            self.ctx.bus.keys(),
            &self.ctx.node_id,
        )
        .await;
        for task in &self.tasks {
            task.abort();
        }
        self.ctx.bus.quit().await;
    }

    /// Stops at once without any cleanup, as a crash would (Redis records are left to expire).
    pub async fn crash(self) {
        for task in &self.tasks {
            task.abort();
        }
        let conns = self.ctx.registry.all_conns();
        for conn in conns {
            conn.outbox
                .close(sendjay_common::close_code::CloseReason::Internal, "crash");
        }
        self.ctx.bus.quit().await;
    }
}

/// Starts a node: connects to PostgreSQL (applying migrations) and Redis, binds, and spawns its tasks.
pub async fn start(config: NodeConfig) -> Result<RunningNode, NodeError> {
    config.validate()?;
    let metrics = crate::metrics::install();
    let tokens = TokenKeys::new(
        config.jwt_secret.as_bytes(),
        config.jwt_previous_secret.as_deref().map(str::as_bytes),
    )
    .map_err(|e| NodeError::Config(format!("SENDJAY_JWT_SECRET: {e}")))?
    .with_max_lifetime_secs(config.max_token_lifetime_secs);
    // reqwest (S3 over HTTPS) is built without a crypto provider so aws-lc-sys is not needed: use ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let files = files::FileService::open(&config)?;
    let notifications =
        notify::Notifications::from_config(&config, &KeySchema::new(&config.redis_prefix))?;
    let store = Store::connect(&config.database_url, config.db_pool_size)?;
    store.migrate().await?;
    let keys = KeySchema::new(&config.redis_prefix);
    let registry = Arc::new(Registry::new(config.outbox_max_frames));
    let stats = Arc::new(NodeStats::default());
    let bus = Bus::connect(
        &config.redis_url,
        keys.clone(),
        registry.clone(),
        stats.clone(),
        config.bus_receive_buffer,
    )
    .await?;
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let ops_listener = match config.ops_listen {
        Some(ops) => Some(TcpListener::bind(ops).await?),
        None => None,
    };
    let ops_addr = match &ops_listener {
        Some(listener) => Some(listener.local_addr()?),
        None => None,
    };
    let node_id = config
        .node_id
        .clone()
        .unwrap_or_else(sendjay_common::ids::new_node_id);
    let public_url = config.public_url_for(&node_id, addr);
    let node_id_for_ring = node_id.clone();
    let config_grace = config.assignment_grace_secs;
    let ctx = Arc::new(NodeContext {
        sessions: Sessions::new(keys, config.session_ttl_secs),
        config,
        node_id,
        public_url,
        tokens,
        store,
        bus: bus.clone(),
        registry,
        stats,
        metrics,
        next_conn_id: AtomicU64::new(1),
        ring: ring::Ring::new(&node_id_for_ring, Duration::from_secs(config_grace)),
        files,
        notifications,
        draining: AtomicBool::new(false),
    });
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = vec![tokio::spawn(bus.receive())];
    if let Some(ops) = ops_listener {
        tasks.push(tokio::spawn(server::ops_loop(ops, ctx.clone())));
    }
    tasks.push(tokio::spawn(server::accept_loop(
        listener,
        ctx.clone(),
        shutdown_rx,
    )));
    tasks.push(tokio::spawn(keep_alive(ctx.clone())));
    tasks.push(tokio::spawn(session_repair::follow_redis(ctx.clone())));
    tasks.push(tokio::spawn(files::sweeper::run(ctx.clone())));
    tasks.push(tokio::spawn(search_indexer::run(ctx.clone())));
    if ctx.notifications.enabled() && ctx.config.notify_worker {
        tasks.push(tokio::spawn(notify::worker::run(ctx.clone())));
    }
    tracing::info!(node = %ctx.node_id, %addr, ops = ?ops_addr, url = %ctx.public_url, "node started");
    Ok(RunningNode {
        addr,
        ops_addr,
        ctx,
        shutdown,
        tasks,
    })
}

/// Announces the node, follows the ring (rebalancing and sweeping dead nodes) and refreshes session records,
/// until aborted.
async fn keep_alive(ctx: Arc<NodeContext>) {
    let mut tick = tokio::time::interval(membership::ANNOUNCE_INTERVAL);
    let refresh_every = (ctx.config.session_ttl_secs / 3).max(1);
    let mut since_refresh = 0u64;
    loop {
        tick.tick().await;
        if let Err(e) = follow_cluster(&ctx).await {
            tracing::warn!(error = %e, "could not announce the node or read the ring in Redis");
        }
        since_refresh += 1;
        if since_refresh >= refresh_every {
            since_refresh = 0;
            let users = ctx.registry.users();
            match ctx.sessions.refresh(ctx.bus.commands(), &users).await {
                Ok(missing) if !missing.is_empty() => {
                    session_repair::repair_users(&ctx, &missing).await;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not refresh session records in Redis");
                }
            }
        }
    }
}

async fn follow_cluster(ctx: &Arc<NodeContext>) -> Result<(), NodeError> {
    let redis = ctx.bus.commands();
    let keys = ctx.bus.keys();
    let me = NodeInfo {
        id: ctx.node_id.clone(),
        url: ctx.public_url.clone(),
        version: VERSION.to_owned(),
        connections: ctx.registry.counts().0 as u64,
        draining: ctx.is_draining(),
    };
    let timeout = Duration::from_secs(ctx.config.node_timeout_secs);
    membership::announce(redis, keys, &me, timeout).await?;
    let (alive, dead) = membership::read_nodes(redis, keys).await?;
    for node in dead {
        let swept = membership::sweep_dead_node(redis, keys, &node).await?;
        tracing::warn!(node = %node, users = swept.len(), "swept a dead node's session records");
        // Their watchers learn that these sessions are gone (the dead node could not say so).
        for user in &swept {
            if let Err(e) = ctx
                .sessions
                .announce_presence(redis, user, ctx.bus.sharded())
                .await
            {
                tracing::debug!(error = %e, "could not publish the presence of a swept user");
            }
        }
    }
    let members: Vec<String> = alive
        .into_iter()
        .filter(|n| !n.draining)
        .map(|n| n.id)
        .collect();
    if ctx.ring.update(members) && !ctx.is_draining() {
        rebalance(ctx);
    }
    Ok(())
}

/// Asks the local users that now belong on another node to reconnect, spread over the rebalance window,
/// and closes those still here once their turn and the grace period have passed.
fn rebalance(ctx: &Arc<NodeContext>) {
    let spread_ms = ctx.config.rebalance_spread_secs * 1000;
    let mut moved = 0usize;
    for user in ctx.registry.users() {
        let Some(owner) = ctx.ring.owner(&user) else {
            continue;
        };
        if owner == ctx.node_id {
            continue;
        }
        moved += 1;
        let after_ms = if spread_ms == 0 {
            0
        } else {
            rand::random_range(0..spread_ms)
        };
        let push = ServerFrame::Push {
            push: Push::Reconnect {
                after_ms,
                reason: "rebalancing".into(),
            },
        };
        let Ok(frame) = codec::encode_server_frame(&push) else {
            continue;
        };
        ctx.registry.deliver_user(&user, &Bytes::from(frame));
        let ctx = ctx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(
                Duration::from_millis(after_ms)
                    + Duration::from_secs(ctx.config.assignment_grace_secs),
            )
            .await;
            if ctx.ring.owner(&user).as_deref() == Some(owner.as_str()) {
                for conn in ctx.registry.conns_of(&user) {
                    conn.outbox.close(
                        sendjay_common::close_code::CloseReason::WrongNode,
                        owner.clone(),
                    );
                }
            }
        });
    }
    if moved > 0 {
        ::metrics::counter!(crate::metrics::REBALANCED).increment(moved as u64);
        tracing::info!(
            users = moved,
            "ring changed; asked users that now belong elsewhere to reconnect"
        );
    }
}
