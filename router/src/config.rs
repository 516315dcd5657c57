//! Router settings, from flags or `SENDJAY_*` environment variables (see `docs/configuration.md`).

use std::net::SocketAddr;

use clap::Parser;

use crate::error::RouterError;

/// Everything a router needs to run.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "sendjay-router",
    about = "The sendjay router: login and node assignment",
    version
)]
pub struct RouterConfig {
    /// Address to listen on for HTTP.
    #[arg(long, env = "SENDJAY_ROUTER_LISTEN", default_value = "127.0.0.1:7300")]
    pub listen: SocketAddr,
    /// PostgreSQL connection URL.
    #[arg(long, env = "SENDJAY_DATABASE_URL")]
    pub database_url: String,
    /// PostgreSQL connections in the pool.
    #[arg(long, env = "SENDJAY_ROUTER_DB_POOL_SIZE", default_value_t = 8)]
    pub db_pool_size: usize,
    /// Redis URL.
    #[arg(long, env = "SENDJAY_REDIS_URL")]
    pub redis_url: String,
    /// Prefix of every Redis key and channel.
    #[arg(long, env = "SENDJAY_REDIS_PREFIX", default_value = "sj")]
    pub redis_prefix: String,
    /// Secret that signs session tokens (at least 32 bytes; the same on routers and nodes).
    #[arg(long, env = "SENDJAY_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: String,
    /// The previous secret, still accepted during a key rotation.
    #[arg(long, env = "SENDJAY_JWT_PREVIOUS_SECRET", hide_env_values = true)]
    pub jwt_previous_secret: Option<String>,
    /// Lifetime of issued access tokens in seconds (clients renew them with their refresh token).
    #[arg(long, env = "SENDJAY_TOKEN_TTL_SECS", default_value_t = 3600)]
    pub token_ttl_secs: i64,
    /// Days a web sign-in lasts unused (each refresh starts the period again).
    #[arg(long, env = "SENDJAY_REFRESH_TTL_DAYS_WEB", default_value_t = 30)]
    pub refresh_ttl_days_web: u32,
    /// Days a mobile sign-in lasts unused; the original product keeps phones signed in for 36,500 days.
    #[arg(
        long,
        env = "SENDJAY_REFRESH_TTL_DAYS_MOBILE",
        default_value_t = 36_500
    )]
    pub refresh_ttl_days_mobile: u32,
    /// Milliseconds the list of live nodes is cached.
    #[arg(long, env = "SENDJAY_NODE_CACHE_MS", default_value_t = 500)]
    pub node_cache_ms: u64,
    /// Log format: `text` or `json`.
    #[arg(long, env = "SENDJAY_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
    /// Directory of the built web app (with index.html) served at `/`; unset serves no app.
    #[arg(long, env = "SENDJAY_WEB_DIR")]
    pub web_dir: Option<std::path::PathBuf>,
    /// Seconds a login failure counts against its limits (the throttling window).
    #[arg(long, env = "SENDJAY_LOGIN_WINDOW_SECS", default_value_t = 300)]
    pub login_window_secs: u64,
    /// Failed logins of one user from one source address per window, on all routers, before 429.
    #[arg(
        long,
        env = "SENDJAY_LOGIN_MAX_FAILURES_PER_USER_SOURCE",
        default_value_t = 5
    )]
    pub login_max_failures_per_user_source: u64,
    /// Failed logins of one user from all sources per window, on all routers, before 429.
    #[arg(
        long,
        env = "SENDJAY_LOGIN_MAX_FAILURES_PER_USER",
        default_value_t = 100
    )]
    pub login_max_failures_per_user: u64,
    /// Failed logins from one source address over all users per window, on all routers, before 429.
    #[arg(
        long,
        env = "SENDJAY_LOGIN_MAX_FAILURES_PER_SOURCE",
        default_value_t = 300
    )]
    pub login_max_failures_per_source: u64,
    /// Login attempts (any outcome) one router accepts from one source address per minute.
    #[arg(
        long,
        env = "SENDJAY_LOGIN_ATTEMPTS_PER_SOURCE_PER_MIN",
        default_value_t = 120
    )]
    pub login_attempts_per_source_per_min: u32,
    /// Take the source address from the last X-Forwarded-For entry (only behind a proxy that sets it).
    #[arg(long, env = "SENDJAY_LOGIN_TRUST_FORWARDED_FOR", default_value_t = false, action = clap::ArgAction::Set)]
    pub login_trust_forwarded_for: bool,
    /// Issuer URL of the company's OpenID provider (single sign-on); unset turns single sign-on off.
    #[arg(long, env = "SENDJAY_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// The client id sendjay is registered with at the OpenID provider.
    #[arg(long, env = "SENDJAY_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// The client secret of that registration.
    #[arg(long, env = "SENDJAY_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    /// The redirect URL registered at the provider: this router's public `/v1/sso/callback`.
    #[arg(long, env = "SENDJAY_OIDC_REDIRECT_URL")]
    pub oidc_redirect_url: Option<String>,
    /// The ID-token claim whose value is the sendjay user id (the HR import's id).
    #[arg(
        long,
        env = "SENDJAY_OIDC_USER_CLAIM",
        default_value = "preferred_username"
    )]
    pub oidc_user_claim: String,
    /// The sign-in button's text in the clients.
    #[arg(
        long,
        env = "SENDJAY_OIDC_LABEL",
        default_value = "the company account"
    )]
    pub oidc_label: String,
}

impl RouterConfig {
    /// A configuration with defaults and the three required settings (for tests and tools).
    pub fn with_required(database_url: &str, redis_url: &str, jwt_secret: &str) -> RouterConfig {
        RouterConfig::parse_from([
            "sendjay-router",
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
    pub fn validate(&self) -> Result<(), RouterError> {
        if self.jwt_secret.len() < sendjay_common::jwt::MIN_SECRET_BYTES {
            return Err(RouterError::Config(
                "SENDJAY_JWT_SECRET: must be at least 32 bytes".into(),
            ));
        }
        if let Err(e) = self.database_url.parse::<tokio_postgres::Config>() {
            return Err(RouterError::Config(format!("SENDJAY_DATABASE_URL: {e}")));
        }
        if let Err(e) = fred::prelude::Config::from_url(&self.redis_url) {
            return Err(RouterError::Config(format!("SENDJAY_REDIS_URL: {e}")));
        }
        if let Some(previous) = &self.jwt_previous_secret {
            if previous.len() < sendjay_common::jwt::MIN_SECRET_BYTES {
                return Err(RouterError::Config(
                    "SENDJAY_JWT_PREVIOUS_SECRET: must be at least 32 bytes when set".into(),
                ));
            }
        }
        if self.db_pool_size == 0 {
            return Err(RouterError::Config(
                "SENDJAY_ROUTER_DB_POOL_SIZE: must be > 0".into(),
            ));
        }
        if self.node_cache_ms > 5000 {
            return Err(RouterError::Config(
                "SENDJAY_NODE_CACHE_MS: must be at most 5000 (a longer cache keeps sending users to dead nodes)"
                    .into(),
            ));
        }
        let prefix_ok = (1..=32).contains(&self.redis_prefix.len())
            && self
                .redis_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        if !prefix_ok {
            return Err(RouterError::Config(
                "SENDJAY_REDIS_PREFIX: must be 1-32 characters of A-Z a-z 0-9 . _ : -".into(),
            ));
        }
        if let Ok(filter) = std::env::var("SENDJAY_LOG").or_else(|_| std::env::var("RUST_LOG")) {
            if !filter.trim().is_empty() {
                if let Err(e) = tracing_subscriber::EnvFilter::try_new(&filter) {
                    return Err(RouterError::Config(format!(
                        "SENDJAY_LOG: cannot parse the log filter {filter:?} (or RUST_LOG): {e}"
                    )));
                }
            }
        }
        if self.token_ttl_secs < 60 {
            return Err(RouterError::Config(
                "SENDJAY_TOKEN_TTL_SECS: must be at least 60".into(),
            ));
        }
        for (name, days) in [
            ("SENDJAY_REFRESH_TTL_DAYS_WEB", self.refresh_ttl_days_web),
            (
                "SENDJAY_REFRESH_TTL_DAYS_MOBILE",
                self.refresh_ttl_days_mobile,
            ),
        ] {
            if !(1..=36_500).contains(&days) {
                return Err(RouterError::Config(format!("{name}: must be 1-36500")));
            }
        }
        if self.login_window_secs == 0 || self.login_window_secs > 86_400 {
            return Err(RouterError::Config(
                "SENDJAY_LOGIN_WINDOW_SECS: must be 1-86400".into(),
            ));
        }
        for (name, value) in [
            (
                "SENDJAY_LOGIN_MAX_FAILURES_PER_USER_SOURCE",
                self.login_max_failures_per_user_source,
            ),
            (
                "SENDJAY_LOGIN_MAX_FAILURES_PER_USER",
                self.login_max_failures_per_user,
            ),
            (
                "SENDJAY_LOGIN_MAX_FAILURES_PER_SOURCE",
                self.login_max_failures_per_source,
            ),
            (
                "SENDJAY_LOGIN_ATTEMPTS_PER_SOURCE_PER_MIN",
                u64::from(self.login_attempts_per_source_per_min),
            ),
        ] {
            if value == 0 {
                return Err(RouterError::Config(format!("{name}: must be > 0")));
            }
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(RouterError::Config(
                "SENDJAY_LOG_FORMAT: must be `text` or `json`".into(),
            ));
        }
        self.validate_oidc()?;
        if let Some(dir) = &self.web_dir {
            if !dir.join("index.html").is_file() {
                return Err(RouterError::Config(format!(
                    "SENDJAY_WEB_DIR: {} has no index.html; build the app (npm ci && npm run build in web/app) or unset it",
                    dir.display()
                )));
            }
        }
        Ok(())
    }

    /// Single sign-on needs all four of issuer, client id, secret and redirect URL, or none of them.
    fn validate_oidc(&self) -> Result<(), RouterError> {
        let Some(issuer) = &self.oidc_issuer else {
            for (name, value) in [
                ("SENDJAY_OIDC_CLIENT_ID", &self.oidc_client_id),
                ("SENDJAY_OIDC_CLIENT_SECRET", &self.oidc_client_secret),
                ("SENDJAY_OIDC_REDIRECT_URL", &self.oidc_redirect_url),
            ] {
                if value.is_some() {
                    return Err(RouterError::Config(format!(
                        "{name}: set, but SENDJAY_OIDC_ISSUER is not; set the issuer to turn single sign-on on, or unset {name}"
                    )));
                }
            }
            return Ok(());
        };
        let is_url = |v: &str| v.starts_with("https://") || v.starts_with("http://");
        if !is_url(issuer) {
            return Err(RouterError::Config(
                "SENDJAY_OIDC_ISSUER: must be an http(s) URL, the provider's issuer (its /.well-known/openid-configuration lives below it)".into(),
            ));
        }
        for (name, value) in [
            ("SENDJAY_OIDC_CLIENT_ID", &self.oidc_client_id),
            ("SENDJAY_OIDC_CLIENT_SECRET", &self.oidc_client_secret),
        ] {
            if !matches!(value.as_deref(), Some(v) if !v.is_empty()) {
                return Err(RouterError::Config(format!(
                    "{name}: required when SENDJAY_OIDC_ISSUER is set (from sendjay's client registration at the provider)"
                )));
            }
        }
        let redirect_ok = self
            .oidc_redirect_url
            .as_deref()
            .is_some_and(|v| is_url(v) && v.ends_with("/v1/sso/callback"));
        if !redirect_ok {
            return Err(RouterError::Config(
                "SENDJAY_OIDC_REDIRECT_URL: required when SENDJAY_OIDC_ISSUER is set: the public URL of this router's /v1/sso/callback, as registered at the provider".into(),
            ));
        }
        if self.oidc_user_claim.is_empty() {
            return Err(RouterError::Config(
                "SENDJAY_OIDC_USER_CLAIM: must name an ID-token claim (default preferred_username)"
                    .into(),
            ));
        }
        if self.oidc_label.trim().is_empty() || self.oidc_label.len() > 64 {
            return Err(RouterError::Config(
                "SENDJAY_OIDC_LABEL: must be 1-64 characters".into(),
            ));
        }
        Ok(())
    }
}
