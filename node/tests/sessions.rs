//! One web and one mobile session per user, cluster-wide.

mod support;

use std::time::Duration;

use sendjay_client::{ConnectOptions, Connection};
use sendjay_common::close_code::CloseReason;
use sendjay_common::protocol::{Call, DeviceClass, Push};
use support::TestCluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_login_evicts_the_older_session_on_another_node() {
    let cluster = TestCluster::start(2).await;
    cluster.users(&["alice"]).await;
    let first = cluster.connect(0, "alice").await;
    let mobile = cluster
        .connect_as(0, "alice", DeviceClass::Mobile, "manual")
        .await;
    let second = cluster.connect(1, "alice").await;

    let closed = first
        .closed(Duration::from_secs(5))
        .await
        .expect("evicted")
        .expect("close frame");
    assert_eq!(closed.code, CloseReason::Evicted.code());
    let mut told = false;
    while let Some(push) = first.next_push(Duration::from_millis(100)).await {
        told |= matches!(push, Push::Evicted { .. });
    }
    assert!(told, "the evicted client is told why before the close");
    // The new web session and the mobile session both live on.
    second.call(Call::Ping).await.unwrap();
    mobile.call(Call::Ping).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automatic_launch_never_evicts() {
    let cluster = TestCluster::start(2).await;
    cluster.users(&["alice"]).await;
    let running = cluster.connect(0, "alice").await;
    let token = cluster.token("alice", DeviceClass::Web);
    let auto = Connection::connect(
        &cluster.nodes[1].ws_url(),
        &token,
        ConnectOptions {
            launch: "auto",
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let closed = auto
        .closed(Duration::from_secs(5))
        .await
        .expect("refused")
        .expect("close frame");
    assert_eq!(closed.code, CloseReason::AlreadyRunning.code());
    running
        .call(Call::Ping)
        .await
        .expect("the running session is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_logins_of_one_device_class_leave_exactly_one_session() {
    let cluster = TestCluster::start(2).await;
    cluster.users(&["alice"]).await;
    let urls = [cluster.nodes[0].ws_url(), cluster.nodes[1].ws_url()];
    for round in 0..100 {
        let token = cluster.token("alice", DeviceClass::Web);
        let (a, b) = tokio::join!(
            Connection::connect(&urls[0], &token, ConnectOptions::default()),
            Connection::connect(&urls[1], &token, ConnectOptions::default())
        );
        let clients = [a.unwrap(), b.unwrap()];
        // Both race through auth and the claim; the loser is closed with `evicted`.
        let (ping_a, ping_b) =
            tokio::join!(clients[0].call(Call::Ping), clients[1].call(Call::Ping));
        let _ = (ping_a, ping_b);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !clients.iter().any(Connection::is_closed) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "round {round}: nobody was evicted"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Give a wrongly doubled close time to arrive, then check exactly one is alive and answering.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut alive = 0;
        for c in &clients {
            if !c.is_closed() && c.call(Call::Ping).await.is_ok() {
                alive += 1;
            } else {
                let closed = c.closed(Duration::from_secs(1)).await.flatten();
                assert_eq!(
                    closed.map(|c| c.code),
                    Some(CloseReason::Evicted.code()),
                    "round {round}"
                );
            }
        }
        assert_eq!(alive, 1, "round {round}: exactly one session survives");
        for c in &clients {
            c.close().await;
        }
    }
}
