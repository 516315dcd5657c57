//! The private Redis: it starts, answers PING, can be stopped and restarted on the same port, and dies on drop.

use std::time::Duration;

use sendjay_testkit::RedisServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends one inline command and returns the raw reply, or `None` if the server is unreachable.
async fn command(port: u16, line: &str) -> Option<String> {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        stream
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .ok()?;
        let mut buf = vec![0u8; 256];
        let n = stream.read(&mut buf).await.ok()?;
        (n > 0).then(|| String::from_utf8_lossy(&buf[..n]).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .ok()
        .flatten()
}

#[tokio::test]
async fn starts_and_answers_ping() {
    let redis = RedisServer::start().await;
    assert_ne!(redis.port(), 6379, "must never be the machine's own Redis");
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{}", redis.port()));
    assert_eq!(
        command(redis.port(), "PING").await.as_deref(),
        Some("+PONG\r\n")
    );
    assert_eq!(
        command(redis.port(), "SET k v").await.as_deref(),
        Some("+OK\r\n")
    );
    assert_eq!(
        command(redis.port(), "GET k").await.as_deref(),
        Some("$1\r\nv\r\n")
    );
}

#[tokio::test]
async fn stop_breaks_connections_and_restart_reuses_the_port() {
    let mut redis = RedisServer::start().await;
    let port = redis.port();
    let mut open = TcpStream::connect(("127.0.0.1", port)).await.unwrap();

    redis.stop().await;
    assert!(
        TcpStream::connect(("127.0.0.1", port)).await.is_err(),
        "new connections must fail while stopped"
    );
    let mut buf = [0u8; 16];
    let _ = open.write_all(b"PING\r\n").await;
    let read = tokio::time::timeout(Duration::from_secs(2), open.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "an open connection must see the server go away: {read:?}"
    );
    redis.stop().await; // stopping twice is harmless

    redis.restart().await;
    assert_eq!(redis.port(), port);
    assert_eq!(command(port, "PING").await.as_deref(), Some("+PONG\r\n"));
    // Restarting a running server works too.
    redis.restart().await;
    assert_eq!(command(port, "PING").await.as_deref(), Some("+PONG\r\n"));
}

#[tokio::test]
async fn drop_kills_the_server_and_removes_its_directory() {
    let redis = RedisServer::start().await;
    let port = redis.port();
    let dir = redis.dir().to_path_buf();
    assert!(dir.exists());
    drop(redis);
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    assert!(!dir.exists(), "{} must be removed on drop", dir.display());
}

#[test]
fn drop_outside_a_runtime() {
    let redis = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(RedisServer::start());
    let port = redis.port();
    drop(redis);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[tokio::test]
async fn servers_are_separate() {
    let (a, b) = tokio::join!(RedisServer::start(), RedisServer::start());
    assert_ne!(a.port(), b.port());
    assert_eq!(
        command(a.port(), "SET only_a 1").await.as_deref(),
        Some("+OK\r\n")
    );
    assert_eq!(
        command(b.port(), "EXISTS only_a").await.as_deref(),
        Some(":0\r\n")
    );
}
