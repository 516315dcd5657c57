//! What the router's integration tests share: a router on private PostgreSQL and Redis, node announcements, and
//! a bare HTTP/1.1 client (the tests look at exact status lines and headers).
#![allow(dead_code)]

use std::time::Duration;

use sendjay_common::keys::KeySchema;
use sendjay_common::membership::{self, NodeInfo};
use sendjay_router::{RouterConfig, RunningRouter};
use sendjay_testkit::RedisServer;
use serde_json::Value;

pub const SECRET: &str = "router-test-secret-router-test-secret";

/// Private PostgreSQL database and Redis server with routers on them.
pub struct Setup {
    pub _redis: RedisServer,
    pub redis_url: String,
    pub routers: Vec<RunningRouter>,
    pub db: tokio_postgres::Client,
    pub database_url: String,
}

pub async fn setup(routers: usize) -> Setup {
    setup_with(routers, |_| {}).await
}

pub async fn setup_with(routers: usize, adjust: impl Fn(&mut RouterConfig)) -> Setup {
    let database_url = sendjay_testkit::postgres().await.fresh_database().await;
    let redis = RedisServer::start().await;
    let (db, connection) = tokio_postgres::connect(&database_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let hash = sendjay_router::accounts::hash_password("pw").unwrap();
    db.execute(
        "INSERT INTO users (id, display_name, password_hash, passkey)
         SELECT format('user%s', i), 'u', $1, 'pk' FROM generate_series(1, 40) AS i",
        &[&hash],
    )
    .await
    .unwrap();
    db.execute("INSERT INTO users (id, display_name, password_hash, passkey, retired_at) VALUES ('gone', 'g', $1, 'pk', now())", &[&hash])
        .await
        .unwrap();
    let mut started = Vec::new();
    for _ in 0..routers {
        let mut config = RouterConfig::with_required(&database_url, &redis.url(), SECRET);
        config.node_cache_ms = 0;
        adjust(&mut config);
        started.push(sendjay_router::start(config).await.unwrap());
    }
    Setup {
        database_url,
        redis_url: redis.url(),
        _redis: redis,
        routers: started,
        db,
    }
}

pub async fn announce(redis_url: &str, id: &str, draining: bool) {
    let redis = sendjay_router::redis_client(redis_url).await.unwrap();
    let node = NodeInfo {
        id: id.into(),
        url: format!("ws://127.0.0.1:1/{id}"),
        version: "test".into(),
        connections: 0,
        draining,
    };
    membership::announce(
        &redis,
        &KeySchema::default(),
        &node,
        // Long enough for the slowest test (argon2 in a debug build on a loaded machine).
        Duration::from_secs(600),
    )
    .await
    .unwrap();
}

pub async fn post_login(router: &RunningRouter, body: &str) -> (u16, Value) {
    http(router, "POST", "/v1/login", None, body).await
}

pub async fn http(
    router: &RunningRouter,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let auth = auth
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let (status, _, body) = http_raw(router, method, path, &auth, body).await;
    (status, body)
}

pub async fn http_raw(
    router: &RunningRouter,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> (u16, String, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(router.addr).await.unwrap();
    let auth = headers;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\n{auth}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status: u16 = response[9..12].parse().unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (
        status,
        head.to_owned(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}
