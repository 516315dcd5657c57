//! A node cannot be locked out by connections that never log in: each new connection has a handshake deadline,
//! not-yet-authenticated connections are capped per node and per source address, and the operational endpoints
//! keep answering on their own listener while the data port is saturated. Bounded: a few thousand sockets on
//! 127.0.0.x, seconds-long deadlines.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use sendjay_client::{ConnectOptions, Connection};
use sendjay_common::protocol::{Call, DeviceClass, Reply};
use support::{expect_message, send, TestCluster};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Opens a TCP connection from `ip` that then says nothing (or `first`, when given).
async fn silent_from(ip: Ipv4Addr, addr: SocketAddr, first: &[u8]) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(IpAddr::V4(ip), 0))
        .expect("bind 127.0.0.x");
    let mut stream = socket.connect(addr).await.expect("tcp connect");
    if !first.is_empty() {
        stream.write_all(first).await.expect("write");
    }
    stream
}

/// Whether the server has closed `stream` (end of file or reset seen without blocking).
fn closed_by_server(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 64];
    match stream.try_read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(_) => true,
    }
}

/// Polls until `want(open)` holds for the number of streams still open, or `within` passes; returns it.
async fn open_count(
    streams: &[TcpStream],
    within: Duration,
    want: impl Fn(usize) -> bool,
) -> usize {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let open = streams.iter().filter(|s| !closed_by_server(s)).count();
        if want(open) || tokio::time::Instant::now() >= deadline {
            return open;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET path` over a fresh connection: the whole answer, or `None` when none came within 3 s.
async fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    let attempt = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        Some(String::from_utf8_lossy(&answer).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(3), attempt)
        .await
        .ok()
        .flatten()
}

/// The HTTP status of `GET path`, or `None` when no answer came.
async fn http_status(addr: SocketAddr, path: &str) -> Option<u16> {
    http_get(addr, path)
        .await?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn attacker(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_capped_per_address_and_closed_at_the_deadline() {
    let limit = rlimit::increase_nofile_limit(8192).expect("read the open-file limit");
    assert!(
        limit >= 4096,
        "this test needs about 4,096 open files; the limit is {limit}: run `ulimit -n 8192` and retry"
    );
    let cluster = TestCluster::start_with(1, |c| {
        c.handshake_timeout_secs = 2;
        c.max_unauthenticated = 1_000;
        c.max_unauthenticated_per_ip = 100;
        c.ops_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    cluster.users(&["alice", "bob"]).await;
    let room = cluster.room(&["alice", "bob"]).await;
    let node = &cluster.nodes[0];
    let started = tokio::time::Instant::now();

    // 2 000 connections from four attacker addresses: silent ones, and slow ones that send half a request head.
    let mut silent = Vec::new();
    for i in 0..2_000u32 {
        let first: &[u8] = if i % 10 == 0 {
            b"GET /v1/ws HTTP/1.1\r\nHost: x\r\n"
        } else {
            b""
        };
        silent.push(silent_from(attacker(2 + (i % 4) as u8), node.addr, first).await);
    }
    // Only the per-address cap's worth stays open: 4 addresses x 100.
    let open = open_count(&silent, Duration::from_secs(3), |n| n == 400).await;
    assert_eq!(open, 400, "connections held open by four addresses");

    // Meanwhile healthy clients log in and chat, and every probe answers, on both ports.
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(0, "bob").await;
    send(&alice, room, "during-attack", "still here").await;
    expect_message(&bob, room, 1).await;
    let ops = node.ops_addr.expect("the ops listener is bound");
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(http_status(ops, path).await, Some(200), "ops port {path}");
        assert_eq!(
            http_status(node.addr, path).await,
            Some(200),
            "data port {path}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the checks above must run before the deadline ({:?})",
        started.elapsed()
    );

    // Past the 2 s deadline the node closes every silent and slow connection; the sessions stay.
    let open = open_count(&silent, Duration::from_secs(4), |n| n == 0).await;
    assert_eq!(open, 0, "silent connections still open after the deadline");
    assert!(matches!(
        alice.call(Call::Ping).await.unwrap(),
        Reply::Ping { .. }
    ));
    let metrics = http_get(ops, "/metrics").await.unwrap_or_default();
    for reason in ["too_many_unauthenticated", "handshake_timeout"] {
        let line = format!("sendjay_connections_closed_total{{reason=\"{reason}\"}}");
        let count: f64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&line))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0);
        assert!(count >= 1.0, "{reason} closes are counted ({count})");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_node_refuses_new_handshakes_but_probes_answer_and_it_recovers() {
    let cluster = TestCluster::start_with(1, |c| {
        c.handshake_timeout_secs = 2;
        c.max_unauthenticated = 50;
        c.max_unauthenticated_per_ip = 0;
        c.ops_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    cluster.users(&["alice"]).await;
    let node = &cluster.nodes[0];
    let mut silent = Vec::new();
    for i in 0..50u8 {
        silent.push(silent_from(attacker(10 + i % 5), node.addr, b"").await);
    }
    assert_eq!(
        open_count(&silent, Duration::from_millis(500), |_| false).await,
        50
    );

    // The cap is full: a new handshake is refused at once, but the ops listener answers.
    let token = cluster.token("alice", DeviceClass::Web);
    let refused = Connection::connect(&node.ws_url(), &token, ConnectOptions::default()).await;
    assert!(refused.is_err(), "a handshake over the cap was accepted");
    let ops = node.ops_addr.expect("the ops listener is bound");
    assert_eq!(http_status(ops, "/healthz").await, Some(200));
    assert_eq!(http_status(ops, "/readyz").await, Some(200));

    // The deadline frees the slots; then logging in works again.
    assert_eq!(
        open_count(&silent, Duration::from_secs(4), |n| n == 0).await,
        0
    );
    let alice = cluster.connect(0, "alice").await;
    assert!(matches!(
        alice.call(Call::Ping).await.unwrap(),
        Reply::Ping { .. }
    ));
}
