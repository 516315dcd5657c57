//! Cluster behaviour of nodes: assignment by rendezvous hashing, rebalancing when a node joins, cleanup after
//! a node dies, draining, and the whole chat path on a Redis Cluster with sharded pub/sub.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use sendjay_client::{ConnectOptions, Connection};
use sendjay_common::close_code::CloseReason;
use sendjay_common::keys::KeySchema;
use sendjay_common::protocol::{Call, DeviceClass, Push, Reply, RoomCursor, SyncArgs};
use sendjay_common::rendezvous;
use support::{expect_message, send, TestCluster};

/// Waits until every node sees a ring of exactly `ids`.
async fn wait_for_ring(cluster: &TestCluster, ids: &[&str]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let agreed = cluster.nodes.iter().all(|n| {
            (0..50).all(|i| {
                let user = format!("probe{i}");
                n.ctx.ring.owner(&user).as_deref() == rendezvous::pick(ids.iter().copied(), &user)
            })
        });
        if agreed {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nodes did not agree on the ring {ids:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn enforcing(config: &mut sendjay_node::NodeConfig) {
    config.enforce_assignment = true;
    config.assignment_grace_secs = 0;
    config.rebalance_spread_secs = 1;
    config.node_timeout_secs = 2;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_turns_away_users_assigned_elsewhere() {
    let cluster = TestCluster::start_with(2, enforcing).await;
    let ids: Vec<String> = cluster
        .nodes
        .iter()
        .map(|n| n.node_id().to_owned())
        .collect();
    wait_for_ring(&cluster, &[&ids[0], &ids[1]]).await;
    let users: Vec<String> = (0..10).map(|i| format!("u{i}")).collect();
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    cluster.users(&refs).await;
    for user in &users {
        let owner = rendezvous::pick(ids.iter().map(String::as_str), user).unwrap();
        let (right, wrong) = if owner == ids[0] { (0, 1) } else { (1, 0) };
        let token = cluster.token(user, DeviceClass::Web);
        let refused = Connection::connect(
            &cluster.nodes[wrong].ws_url(),
            &token,
            ConnectOptions::default(),
        )
        .await
        .unwrap();
        let closed = refused
            .closed(Duration::from_secs(5))
            .await
            .expect("closed")
            .expect("close frame");
        assert_eq!(
            closed.code,
            CloseReason::WrongNode.code(),
            "{user} on the wrong node"
        );
        let accepted = cluster.connect(right, user).await;
        accepted.call(Call::Ping).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_node_takes_exactly_the_users_that_now_hash_to_it() {
    let mut cluster = TestCluster::start_with(3, enforcing).await;
    let mut ids: Vec<String> = cluster
        .nodes
        .iter()
        .map(|n| n.node_id().to_owned())
        .collect();
    wait_for_ring(
        &cluster,
        &ids.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    let users: Vec<String> = (0..60).map(|i| format!("m{i:02}")).collect();
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    cluster.users(&refs).await;
    let mut clients = Vec::new();
    for user in &users {
        let owner = rendezvous::pick(ids.iter().map(String::as_str), user).unwrap();
        let index = ids.iter().position(|id| id == owner).unwrap();
        clients.push((user.clone(), cluster.connect(index, user).await));
    }
    cluster.add_node(&enforcing).await;
    ids.push(cluster.nodes[3].node_id().to_owned());
    let expected: HashSet<String> = users
        .iter()
        .filter(|u| rendezvous::pick(ids.iter().map(String::as_str), u) == Some(ids[3].as_str()))
        .cloned()
        .collect();
    let mut told = HashSet::new();
    for (user, client) in &clients {
        while let Some(push) = client
            .next_push(Duration::from_millis(if told.is_empty() {
                4000
            } else {
                300
            }))
            .await
        {
            if matches!(push, Push::Reconnect { ref reason, .. } if reason == "rebalancing") {
                told.insert(user.clone());
            }
        }
    }
    assert_eq!(
        told, expected,
        "only the users that now hash to the new node move"
    );
    assert!(
        (5..=30).contains(&expected.len()),
        "about a quarter of 60 move: {}",
        expected.len()
    );
    // Those who were told and stayed are closed with wrong_node once their turn has passed.
    for (user, client) in &clients {
        if expected.contains(user) {
            let closed = client
                .closed(Duration::from_secs(5))
                .await
                .expect("moved away")
                .expect("close frame");
            assert_eq!(closed.code, CloseReason::WrongNode.code());
        } else {
            client.call(Call::Ping).await.expect("unmoved users stay");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survivors_sweep_the_sessions_of_a_dead_node() {
    let mut cluster = TestCluster::start_with(2, |c| c.node_timeout_secs = 2).await;
    cluster.users(&["alice"]).await;
    let _alice = cluster.connect(1, "alice").await;
    let keys = KeySchema::default();
    let mut redis = redis_cli(&cluster);
    assert!(redis(&["HGET", &keys.sessions("alice"), "web"]).contains(cluster.nodes[1].node_id()));
    let dead = cluster.nodes.pop().unwrap();
    let dead_id = dead.node_id().to_owned();
    dead.crash().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let members = redis(&["SMEMBERS", &keys.nodes()]);
        let record = redis(&["HGET", &keys.sessions("alice"), "web"]);
        if !members.contains(&dead_id) && !record.contains(&dead_id) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "dead node not swept: {members:?} {record:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn redis_cli(cluster: &TestCluster) -> impl FnMut(&[&str]) -> String {
    let port = cluster.redis.as_ref().unwrap().port().to_string();
    move |args: &[&str]| {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &port])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_asks_clients_to_move_and_loses_nothing() {
    let mut cluster = TestCluster::start(2).await;
    cluster.users(&["alice", "bob"]).await;
    let room = cluster.room(&["alice", "bob"]).await;
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(1, "bob").await;
    let draining = cluster.nodes.remove(1);
    let drain = tokio::spawn(draining.drain());
    // Bob is asked to reconnect, and keeps being served until he goes or the grace period ends.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match bob
            .next_push(deadline.saturating_duration_since(tokio::time::Instant::now()))
            .await
        {
            Some(Push::Reconnect { reason, .. }) if reason == "node draining" => break,
            Some(_) => continue,
            None => panic!("bob was not asked to reconnect"),
        }
    }
    let (during, _) = send(&alice, room, "during-drain", "sent while bob's node drains").await;
    let closed = bob
        .closed(Duration::from_secs(10))
        .await
        .expect("closed")
        .expect("close frame");
    assert_eq!(closed.code, CloseReason::NodeDraining.code());
    drain.await.unwrap();
    // Bob comes back on the survivor and finds everything acknowledged.
    let bob = cluster.connect(0, "bob").await;
    let sync = Call::Sync(SyncArgs {
        cursors: vec![RoomCursor {
            room_id: room,
            seq: 0,
        }],
        limit: None,
        changes: Vec::new(),
    });
    let Reply::Sync { messages, .. } = bob.call(sync).await.unwrap() else {
        panic!()
    };
    assert_eq!(messages.last().map(|m| m.seq), Some(during.seq));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_path_works_on_a_redis_cluster_with_sharded_pubsub() {
    let cluster = TestCluster::start_on_redis_cluster(2).await;
    cluster.users(&["alice", "bob", "carol"]).await;
    let rooms = [
        cluster.room(&["alice", "bob"]).await,
        cluster.room(&["alice", "bob", "carol"]).await,
    ];
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(1, "bob").await;
    for (i, room) in rooms.iter().enumerate() {
        let (sent, _) = send(&alice, *room, &format!("c{i}"), "over sharded pub/sub").await;
        assert_eq!(expect_message(&bob, *room, sent.seq).await, sent);
    }
    // Eviction (a hash-tagged multi-key script and a user channel) works on the cluster too.
    let bob_again = cluster.connect(0, "bob").await;
    let closed = bob
        .closed(Duration::from_secs(5))
        .await
        .expect("evicted")
        .expect("close frame");
    assert_eq!(closed.code, CloseReason::Evicted.code());
    bob_again.call(Call::Ping).await.unwrap();
    // Shard channels really are in use: each master reports its own sharded subscriptions.
    let mut total = 0;
    for port in cluster.redis_cluster.as_ref().unwrap().ports() {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &port.to_string(), "PUBSUB", "SHARDCHANNELS"])
            .output()
            .unwrap();
        total += String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("sj:"))
            .count();
    }
    assert!(
        total >= 2,
        "expected sharded channels on the masters, found {total}"
    );
}
