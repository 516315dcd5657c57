//! Presence pushes (`watch_presence`, docs/protocol.md §6.13): a watcher on one node learns within a second when
//! a watched user's web or mobile session starts or ends on another node; only nodes with a watcher subscribe to
//! a user's presence channel, and leave it when nobody there watches any more; an absence status change is
//! pushed the same way; the same over Redis Cluster
//! (sharded pub/sub from the publishing script); a crashed node's sessions are announced by the survivor that sweeps them.

mod support;

use std::time::{Duration, Instant};

use fred::prelude::*;
use sendjay_client::Connection;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::keys::KeySchema;
use sendjay_common::protocol::{
    Call, DeviceClass, PresenceInfo, ProfilePatch, Push, Reply, UserIdsArgs,
};
use support::rules::{no_push_where, ok, push_where, refused};
use support::{cluster, TestCluster};

fn watch(ids: &[&str]) -> Call {
    Call::WatchPresence(UserIdsArgs {
        user_ids: ids.iter().map(|s| s.to_string()).collect(),
    })
}

fn offline(id: &str) -> PresenceInfo {
    PresenceInfo {
        user_id: id.into(),
        web: false,
        mobile: false,
        mobile_installed: false,
    }
}

/// Waits for the presence push of `user` with these flags; returns how long it took from `since`.
async fn presence_push(
    client: &Connection,
    user: &str,
    web: bool,
    mobile: bool,
    since: Instant,
) -> Duration {
    push_where(client, &format!("presence of {user} web={web} mobile={mobile}"), |p| {
        matches!(p, Push::Presence { user_id, web: w, mobile: m } if user_id == user && *w == web && *m == mobile)
    })
    .await;
    since.elapsed()
}

/// How many subscribers the presence channel of `user` has in Redis.
async fn presence_subscribers(redis: &Client, user: &str, sharded: bool) -> i64 {
    let channel = format!("sj:{{u:{user}}}:presence");
    let counts: Vec<Value> = if sharded {
        redis.pubsub_shardnumsub(channel).await.unwrap()
    } else {
        redis.pubsub_numsub(channel).await.unwrap()
    };
    counts.get(1).and_then(Value::as_i64).unwrap_or(0)
}

async fn redis_client(cluster: &TestCluster) -> Client {
    let redis = Builder::from_config(Config::from_url(&cluster.redis_url).unwrap())
        .build()
        .unwrap();
    redis.init().await.unwrap();
    redis
}

/// The whole watch cycle on `cluster` (2 nodes; alice watches from node 0, bob connects to node 1).
async fn watch_cycle(cluster: &TestCluster, sharded: bool) {
    let redis = redis_client(cluster).await;
    let alice = cluster.connect(0, "alice").await;
    let Reply::WatchPresence { users } = ok(&alice, watch(&["bob", "carol", "ghost", "bob"])).await
    else {
        panic!("watch_presence answers with WatchPresence")
    };
    assert_eq!(
        users,
        vec![offline("bob"), offline("carol")],
        "existing users once, in the order asked"
    );
    assert_eq!(
        presence_subscribers(&redis, "bob", sharded).await,
        1,
        "node 0 subscribed for alice"
    );

    let started = Instant::now();
    let bob_web = cluster.connect(1, "bob").await;
    let took = presence_push(&alice, "bob", true, false, started).await;
    assert!(
        took < Duration::from_secs(1),
        "web online reached the other node in {took:?}"
    );

    let started = Instant::now();
    let bob_mobile = cluster
        .connect_as(1, "bob", DeviceClass::Mobile, "manual")
        .await;
    let took = presence_push(&alice, "bob", true, true, started).await;
    assert!(took < Duration::from_secs(1), "mobile online in {took:?}");

    // An absence status change is pushed too; a profile change that leaves the absence alone is not.
    let started = Instant::now();
    ok(
        &bob_mobile,
        Call::UpdateProfile(ProfilePatch {
            absence_code: Some("vacation".into()),
            absence_text: Some("back on Monday".into()),
            ..Default::default()
        }),
    )
    .await;
    push_where(&alice, "absence of bob", |p| {
        matches!(p, Push::Absence { user_id, absence_code, absence_text, .. }
            if user_id == "bob" && absence_code == "vacation" && absence_text == "back on Monday")
    })
    .await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "absence reached the other node in {took:?}"
    );
    ok(
        &bob_mobile,
        Call::UpdateProfile(ProfilePatch {
            nickname: Some("B".into()),
            ..Default::default()
        }),
    )
    .await;
    assert!(
        no_push_where(&alice, Duration::from_millis(500), |p| matches!(
            p,
            Push::Absence { .. }
        ))
        .await,
        "a nickname change is not an absence change"
    );

    let started = Instant::now();
    bob_web.close().await;
    let took = presence_push(&alice, "bob", false, true, started).await;
    assert!(took < Duration::from_secs(1), "web offline in {took:?}");

    // alice now watches carol only: bob's channel is left, bob's changes no longer reach her.
    ok(&alice, watch(&["carol"])).await;
    assert_eq!(
        presence_subscribers(&redis, "bob", sharded).await,
        0,
        "nobody watches bob: node 0 left his channel"
    );
    bob_mobile.close().await;
    assert!(
        no_push_where(
            &alice,
            Duration::from_millis(500),
            |p| matches!(p, Push::Presence { user_id, .. } if user_id == "bob")
        )
        .await,
        "a change of someone no longer watched was pushed"
    );
    let started = Instant::now();
    let _carol = cluster.connect(1, "carol").await;
    presence_push(&alice, "carol", true, false, started).await;

    // The watch ends with the connection.
    assert_eq!(presence_subscribers(&redis, "carol", sharded).await, 1);
    alice.close().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while presence_subscribers(&redis, "carol", sharded).await != 0 {
        assert!(
            Instant::now() < deadline,
            "node 0 kept carol's presence channel after alice left"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_changes_reach_a_watcher_on_another_node_within_a_second() {
    let cluster = cluster()
        .nodes(2)
        .users(&["alice", "bob", "carol"])
        .start()
        .await;
    watch_cycle(&cluster, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_pushes_work_over_redis_cluster_sharded_pubsub() {
    let cluster = TestCluster::start_on_redis_cluster(2).await;
    cluster.users(&["alice", "bob", "carol"]).await;
    watch_cycle(&cluster, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watching_more_than_500_users_is_refused_and_watches_nothing() {
    let cluster = cluster().nodes(1).users(&["alice", "bob"]).start().await;
    let alice = cluster.connect(0, "alice").await;
    let many: Vec<String> = (0..501).map(|i| format!("u{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    refused(&alice, watch(&many), ErrorCode::BadArgs).await;
    assert!(!cluster.nodes[0].ctx.registry.presence_needed("u0"));
    // The connection goes on serving.
    ok(&alice, watch(&["bob"])).await;
    assert!(cluster.nodes[0].ctx.registry.presence_needed("bob"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_nodes_sessions_are_announced_offline_when_a_survivor_sweeps_them() {
    let cluster = TestCluster::start_with(1, |c| c.node_timeout_secs = 2).await;
    cluster.users(&["alice", "bob"]).await;
    let alice = cluster.connect(0, "alice").await;
    // What a node killed with -9 leaves behind: bob's session record naming it, bob in its user set, the node
    // in the node set, and no announcement (it expired). Nobody closed bob's socket, so nobody announced.
    let keys = KeySchema::default();
    let redis = redis_client(&cluster).await;
    let _: () = redis
        .hset(keys.sessions("bob"), ("web", "ghost-node/7/1"))
        .await
        .unwrap();
    let _: () = redis
        .sadd(keys.node_users("ghost-node"), "bob")
        .await
        .unwrap();
    let _: () = redis.sadd(keys.nodes(), "ghost-node").await.unwrap();
    let Reply::WatchPresence { users } = ok(&alice, watch(&["bob"])).await else {
        panic!("watch_presence answers with WatchPresence")
    };
    assert!(users[0].web, "the dead node's record still says online");
    // The survivor sweeps the dead node's records on its next pass over the cluster, and announces bob offline.
    let started = Instant::now();
    let took = presence_push(&alice, "bob", false, false, started).await;
    assert!(
        took < Duration::from_secs(5),
        "offline after the sweep in {took:?}"
    );
}
