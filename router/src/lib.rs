//! The sendjay router: logs users in, and tells each client which node to connect to.
//!
//! Assignment is rendezvous hashing of the user over the live, non-draining nodes announced in Redis, so every
//! router replica answers the same without sharing state; the router keeps nothing beyond a short cache.
//! Routers and nodes never call each other: they meet in Redis (announcements) and PostgreSQL (accounts).
#![forbid(unsafe_code)]

pub mod accounts;
pub mod audit_log;
pub mod config;
pub mod error;
pub mod http;
pub mod load_seed;
pub mod login_throttle;
pub mod metrics;
pub mod nodes;
pub mod password_check;
pub mod refresh_tokens;
pub mod seed;
pub mod session_close;
pub mod session_http;
pub mod sign_in;
pub mod sso;
pub mod sso_http;
pub mod sso_state;
pub mod web_app;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use fred::prelude::*;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::PrometheusHandle;
use sendjay_common::jwt::TokenKeys;
use sendjay_common::keys::KeySchema;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use config::RouterConfig;
pub use error::RouterError;
use nodes::NodeDirectory;

/// Everything request handlers share.
pub struct RouterContext {
    /// Settings.
    pub config: RouterConfig,
    /// PostgreSQL pool.
    pub pool: Pool,
    /// Redis client.
    pub redis: Client,
    /// Redis key and channel names.
    pub keys: KeySchema,
    /// Whether Redis is a Redis Cluster (user channels then use sharded pub/sub, as the nodes do).
    pub redis_cluster: bool,
    /// Live nodes.
    pub nodes: NodeDirectory,
    /// Token keys.
    pub tokens: TokenKeys,
    /// Prometheus renderer.
    pub metrics: PrometheusHandle,
    /// Login limits per user and source address.
    pub login_throttle: login_throttle::LoginThrottle,
    /// An argon2 hash of a random password, made at start-up with the same parameters as real ones:
    /// unknown users are checked against it, so they take as long to refuse as a wrong password.
    pub dummy_password_hash: String,
    /// Single sign-on with the company's OpenID provider; `None` when it is not configured.
    pub sso: Option<sso::Sso>,
    /// The single-use records of sign-ons in progress.
    pub sso_store: sso_state::SsoStore,
}

impl RouterContext {
    /// `Ok` when PostgreSQL and Redis answer.
    pub async fn readiness(&self) -> Result<(), &'static str> {
        if !self.redis.is_connected() {
            return Err("redis unreachable");
        }
        let ok = match self.pool.get().await {
            Ok(client) => sendjay_common::migrate::is_current(&client)
                .await
                .unwrap_or(false),
            Err(_) => false,
        };
        if !ok {
            return Err("postgresql unreachable or schema not current");
        }
        Ok(())
    }
}

/// Builds a PostgreSQL pool of `size` connections.
pub fn pg_pool(url: &str, size: usize) -> Result<Pool, RouterError> {
    let pg: tokio_postgres::Config = url
        .parse()
        .map_err(|e| RouterError::Config(format!("SENDJAY_DATABASE_URL: {e}")))?;
    let manager = Manager::from_config(
        pg,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .map_err(|e| RouterError::Config(format!("SENDJAY_DATABASE_URL: {e}")))
}

/// Connects a Redis command client.
pub async fn redis_client(url: &str) -> Result<Client, RouterError> {
    let config = Config::from_url(url)
        .map_err(|e| RouterError::Config(format!("SENDJAY_REDIS_URL: {e}")))?;
    let client = Builder::from_config(config)
        .with_performance_config(|p| p.default_command_timeout = Duration::from_secs(3))
        .with_connection_config(|c| c.connection_timeout = Duration::from_secs(3))
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
        .build()?;
    client.init().await?;
    Ok(client)
}

/// A router running in this process.
pub struct RunningRouter {
    /// The bound address.
    pub addr: SocketAddr,
    /// Shared state.
    pub ctx: Arc<RouterContext>,
    task: JoinHandle<()>,
}

impl RunningRouter {
    /// The base HTTP URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving.
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.ctx.redis.quit().await;
    }
}

/// Starts a router: connects to PostgreSQL and Redis, binds, and serves until stopped.
pub async fn start(config: RouterConfig) -> Result<RunningRouter, RouterError> {
    config.validate()?;
    let metrics = crate::metrics::install();
    let tokens = TokenKeys::new(
        config.jwt_secret.as_bytes(),
        config.jwt_previous_secret.as_deref().map(str::as_bytes),
    )
    .map_err(|e| RouterError::Config(format!("SENDJAY_JWT_SECRET: {e}")))?;
    let pool = pg_pool(&config.database_url, config.db_pool_size)?;
    let redis = redis_client(&config.redis_url).await?;
    let keys = KeySchema::new(&config.redis_prefix);
    let login_throttle = login_throttle::LoginThrottle::new(&config, redis.clone(), keys.clone());
    let dummy_password_hash = accounts::hash_password(&uuid::Uuid::new_v4().to_string())?;
    let sso = sso::Sso::from_config(&config)?;
    let sso_store = sso_state::SsoStore::new(redis.clone(), keys.clone());
    let nodes = NodeDirectory::new(
        redis.clone(),
        keys.clone(),
        Duration::from_millis(config.node_cache_ms),
    );
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let redis_cluster = config.redis_url.starts_with("redis-cluster://")
        || config.redis_url.starts_with("rediss-cluster://");
    let ctx = Arc::new(RouterContext {
        config,
        pool,
        redis,
        keys,
        redis_cluster,
        nodes,
        tokens,
        metrics,
        login_throttle,
        dummy_password_hash,
        sso,
        sso_store,
    });
    if ctx.sso.is_some() {
        let warm = ctx.clone();
        tokio::spawn(async move {
            if let Some(sso) = &warm.sso {
                sso.warm_up().await;
            }
        });
    }
    let task = tokio::spawn(accept_loop(listener, ctx.clone()));
    tracing::info!(%addr, "router started");
    Ok(RunningRouter { addr, ctx, task })
}

async fn accept_loop(listener: TcpListener, ctx: Arc<RouterContext>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; raise the open-file limit if this repeats");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| http::route(req, peer, ctx.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
