//! Benchmark (ignored by default): what the bus costs per chat message. Run with
//! `cargo test --release -p sendjay-node --test bench_bus_cost -- --ignored --nocapture`.
//!
//! Three nodes; a 2-member room (members on two of the nodes) and a 2,000-member room (members spread over
//! all three). For each, 200 messages are sent and the Redis side is read from `INFO commandstats` and the
//! nodes' bus counters: Redis commands and pub/sub deliveries per chat message, against the socket.io Redis
//! adapter's one publish delivered to every node.

mod support;

use std::time::Duration;

use sendjay_node::stats::NodeStats;
use support::{expect_message, send, TestCluster};

fn commandstats(port: u16) -> std::collections::HashMap<String, u64> {
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &port.to_string(), "INFO", "commandstats"])
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

async fn measure(
    cluster: &TestCluster,
    room: i64,
    sender: &sendjay_client::Connection,
    watcher: &sendjay_client::Connection,
    label: &str,
) {
    const MESSAGES: i64 = 200;
    let port = cluster.redis.as_ref().unwrap().port();
    let received = |n: usize| NodeStats::get(&cluster.nodes[n].ctx.stats.bus_room_received);
    let before_nodes: Vec<u64> = (0..3).map(received).collect();
    // Let the periodic announcements settle, then count only what the messages cause.
    let before = commandstats(port);
    let started = std::time::Instant::now();
    let mut last = 0;
    for i in 0..MESSAGES {
        let (m, _) = send(
            sender,
            room,
            &format!("{}-{i}", label.replace(' ', "_")),
            "bench",
        )
        .await;
        last = m.seq;
    }
    expect_message(watcher, room, last).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let elapsed = started.elapsed();
    let after = commandstats(port);
    let publishes =
        after.get("publish").copied().unwrap_or(0) - before.get("publish").copied().unwrap_or(0);
    let all_before: u64 = before.values().sum();
    let all_after: u64 = after.values().sum();
    let deliveries: Vec<u64> = (0..3).map(|n| received(n) - before_nodes[n]).collect();
    let total_deliveries: u64 = deliveries.iter().sum();
    println!(
        "{label}: {MESSAGES} messages in {:.2?}; PUBLISH per message {:.2}; all Redis commands per message {:.2} \
         (includes the nodes' 1/s announcements and session refreshes during the run); pub/sub deliveries per message {:.2} \
         (per node {:?}); socket.io Redis adapter: 1 publish delivered to all 3 nodes = 3.00 deliveries per message",
        elapsed,
        publishes as f64 / MESSAGES as f64,
        (all_after - all_before) as f64 / MESSAGES as f64,
        total_deliveries as f64 / MESSAGES as f64,
        deliveries,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run explicitly with --ignored --nocapture"]
async fn bus_cost_per_chat_message() {
    let cluster = TestCluster::start(3).await;
    // Two-member room: alice on node 0, bob on node 1, nobody of the room on node 2.
    cluster.users(&["alice", "bob", "carol"]).await;
    let pair = cluster.room(&["alice", "bob"]).await;
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(1, "bob").await;
    let _carol = cluster.connect(2, "carol").await;
    measure(&cluster, pair, &alice, &bob, "2-member room").await;

    // 2,000-member room spread over the three nodes.
    let ids: Vec<String> = (0..2000).map(|i| format!("m{i:04}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    cluster.users(&refs).await;
    let big = cluster.room(&refs).await;
    let mut clients = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        clients.push(cluster.connect(i % 3, id).await);
    }
    measure(
        &cluster,
        big,
        &clients[0],
        &clients[1999],
        "2000-member room",
    )
    .await;
}
