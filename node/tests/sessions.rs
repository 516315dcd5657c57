//! One web and one mobile session per user, cluster-wide.

mod support;

use std::time::Duration;

use sendjay_common::close_code::CloseReason;
use sendjay_common::protocol::{Call, DeviceClass, Push};
use sendjay_loadtest::client::{Client, ConnectOptions};
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
    let auto = Client::connect(
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
    for round in 0..10 {
        let token = cluster.token("alice", DeviceClass::Web);
        let urls = [cluster.nodes[0].ws_url(), cluster.nodes[1].ws_url()];
        let (a, b) = tokio::join!(
            Client::connect(&urls[0], &token, ConnectOptions::default()),
            Client::connect(&urls[1], &token, ConnectOptions::default())
        );
        let clients = [a.unwrap(), b.unwrap()];
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut alive = 0;
        for c in &clients {
            if c.call(Call::Ping).await.is_ok() {
                alive += 1;
            }
        }
        assert_eq!(alive, 1, "round {round}: exactly one session survives");
        for c in &clients {
            c.close().await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
