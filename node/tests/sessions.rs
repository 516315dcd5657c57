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

/// Waits until every node of the cluster is connected to Redis again.
async fn wait_reconnected(cluster: &TestCluster) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !cluster.nodes.iter().all(|n| n.ctx.bus.connected()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the nodes did not reconnect to Redis within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let the nodes see the reconnect (resubscription, session repair) before the next login.
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

/// After the Redis data is lost, a new web login of the same user on the other node must still leave exactly
/// one session: the older one is closed with 4005, the new one answers.
async fn assert_the_new_login_evicts_the_old(cluster: &TestCluster, first: Connection) {
    let second = cluster.connect(1, "alice").await;
    let closed = first
        .closed(Duration::from_secs(5))
        .await
        .expect("the older session is evicted after the Redis data was lost")
        .expect("close frame");
    assert_eq!(closed.code, CloseReason::Evicted.code());
    second
        .call(Call::Ping)
        .await
        .expect("the new session answers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_after_redis_restarted_empty_still_evicts_the_older_session() {
    let mut cluster = TestCluster::start(2).await;
    cluster.users(&["alice"]).await;
    let first = cluster.connect(0, "alice").await;
    cluster.redis().restart().await;
    wait_reconnected(&cluster).await;
    first
        .call(Call::Ping)
        .await
        .expect("the session survives the Redis restart");
    assert_the_new_login_evicts_the_old(&cluster, first).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_after_the_users_redis_cluster_shard_restarted_empty_still_evicts_the_older_session(
) {
    let mut cluster = TestCluster::start_on_redis_cluster(2).await;
    cluster.users(&["alice"]).await;
    let first = cluster.connect(0, "alice").await;
    let keys = sendjay_common::keys::KeySchema::default();
    let shard = cluster
        .redis_cluster
        .as_mut()
        .unwrap()
        .restart_master_holding(&keys.sessions("alice"))
        .await;
    eprintln!("restarted the shard on port {shard} empty");
    wait_reconnected(&cluster).await;
    assert_the_new_login_evicts_the_old(&cluster, first).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nodes_put_live_session_records_back_after_redis_restarted_empty() {
    let mut cluster = TestCluster::start(2).await;
    cluster.users(&["alice"]).await;
    let running = cluster.connect(0, "alice").await;
    cluster.redis().restart().await;
    wait_reconnected(&cluster).await;
    // Only a restored record lets an automatic launch see the running session.
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
