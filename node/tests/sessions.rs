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

/// How a round of [`sessions_stay_exact_across_redis_cluster_failovers`] moves the user's shard.
#[derive(Debug, Clone, Copy)]
enum Failover {
    /// `CLUSTER FAILOVER` on the replica: it catches up first, nothing is lost.
    Manual,
    /// SIGKILL of the master: the promoted replica may miss the last writes, so only fencing keeps one session.
    KillMaster,
}

/// Sends `body` with a fixed client id, resending on errors (the id makes a resend idempotent) until it is
/// acknowledged within 15 s; returns the acknowledged seq.
async fn send_until_acknowledged(client: &Connection, room: i64, id: &str) -> i64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let reply = client
            .call(Call::Send(sendjay_common::protocol::SendArgs {
                room_id: room,
                client_msg_id: id.into(),
                body: id.into(),
            }))
            .await;
        match reply {
            Ok(sendjay_common::protocol::Reply::Send { message, .. }) => return message.seq,
            other => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{id} was not acknowledged within 15 s: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_stay_exact_across_redis_cluster_failovers() {
    let mut cluster = TestCluster::start_on_redis_cluster_with_replicas(2).await;
    cluster.users(&["alice", "bob"]).await;
    let room = cluster.room(&["alice", "bob"]).await;
    let bob = cluster.connect(0, "bob").await;
    let sessions_key = sendjay_common::keys::KeySchema::default().sessions("alice");
    let mut acknowledged = Vec::new();
    let mut web = cluster.connect(0, "alice").await;
    let rounds = [Failover::Manual, Failover::Manual, Failover::KillMaster];
    for (round, how) in rounds.into_iter().enumerate() {
        // Log in again right before the failover, so the newest session write is the one a replica may miss.
        let older = cluster.connect(round % 2, "alice").await;
        let closed = web
            .closed(Duration::from_secs(5))
            .await
            .expect("a new login closes the older session before the failover")
            .expect("close frame");
        assert_eq!(closed.code, CloseReason::Evicted.code());
        let redis = cluster.redis_cluster.as_mut().unwrap();
        let failing_over = async {
            match how {
                Failover::Manual => redis.fail_over_master_holding(&sessions_key).await,
                Failover::KillMaster => redis.kill_master_holding(&sessions_key).await,
            }
        };
        let during = format!("during-{round}");
        let ((old_master, new_master), seq) =
            tokio::join!(failing_over, send_until_acknowledged(&bob, room, &during));
        acknowledged.push((during, seq));
        assert!(
            cluster
                .redis_cluster
                .as_ref()
                .unwrap()
                .is_master(new_master),
            "round {round} ({how:?}): the replica on port {new_master} took over from {old_master}"
        );
        eprintln!("round {round} ({how:?}): {old_master} -> {new_master}");
        wait_reconnected(&cluster).await;
        let after = format!("after-{round}");
        let seq = send_until_acknowledged(&bob, room, &after).await;
        acknowledged.push((after, seq));

        // A new web login on the other node evicts the session from before the failover.
        web = cluster.connect((round + 1) % 2, "alice").await;
        let closed = older
            .closed(Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("round {round} ({how:?}): the older session stays open"))
            .expect("close frame");
        assert_eq!(closed.code, CloseReason::Evicted.code(), "round {round}");
        web.call(Call::Ping)
            .await
            .expect("exactly one web session answers: the new one");
    }

    // Everything bob got acknowledged is stored, once, in order, and alice's session syncs all of it.
    let sync = Call::Sync(sendjay_common::protocol::SyncArgs {
        cursors: vec![sendjay_common::protocol::RoomCursor {
            room_id: room,
            seq: 0,
        }],
        limit: None,
        changes: Vec::new(),
    });
    let sendjay_common::protocol::Reply::Sync { messages, .. } = web.call(sync).await.unwrap()
    else {
        panic!("sync answers with messages")
    };
    let synced: Vec<(String, i64)> = messages
        .iter()
        .filter(|m| m.room_id == room && m.sender_id == "bob" && m.body == m.client_msg_id)
        .map(|m| (m.client_msg_id.clone(), m.seq))
        .collect();
    assert_eq!(synced, acknowledged, "acknowledged messages, nothing lost");
}
