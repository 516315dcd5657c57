//! A node receives bus traffic only for users connected to it.

mod support;

use std::time::Duration;

use sendjay_node::stats::NodeStats;
use support::{expect_message, send, TestCluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_members_of_a_room_receives_none_of_its_traffic() {
    let cluster = TestCluster::start(3).await;
    cluster.users(&["alice", "bob", "carol"]).await;
    let busy = cluster.room(&["alice", "bob"]).await;
    let _quiet = cluster.room(&["carol"]).await;
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(1, "bob").await;
    let _carol = cluster.connect(2, "carol").await;

    for i in 1..=20 {
        send(&alice, busy, &format!("m{i}"), "busy room").await;
    }
    expect_message(&bob, busy, 20).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let received = |n: usize| NodeStats::get(&cluster.nodes[n].ctx.stats.bus_room_received);
    assert!(
        received(1) >= 20,
        "bob's node got the room traffic ({})",
        received(1)
    );
    assert_eq!(
        received(2),
        0,
        "carol's node must receive nothing of a room none of its users is in"
    );

    // Redis agrees: exactly two nodes subscribe to the busy room's channel.
    let mut redis =
        tokio::net::TcpStream::connect(("127.0.0.1", cluster.redis.as_ref().unwrap().port()))
            .await
            .unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let channel = format!("sj:room:{busy}");
    let cmd = format!(
        "*3\r\n$6\r\nPUBSUB\r\n$6\r\nNUMSUB\r\n${}\r\n{}\r\n",
        channel.len(),
        channel
    );
    redis.write_all(cmd.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 256];
    let n = redis.read(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.ends_with(":2\r\n"), "NUMSUB answer: {text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_bus_receiver_is_counted_and_clients_are_told_to_sync() {
    use fred::prelude::*;
    use sendjay_common::codec;
    use sendjay_common::protocol::{Push, ServerFrame};

    let cluster = TestCluster::start_with(1, |c| c.bus_receive_buffer = 2).await;
    cluster.users(&["alice"]).await;
    let room = cluster.room(&["alice"]).await;
    let alice = cluster.connect(0, "alice").await;
    // A burst far larger than the receive buffer, pipelined from another Redis client.
    let redis = Builder::from_config(Config::from_url(&cluster.redis_url).unwrap())
        .build()
        .unwrap();
    redis.init().await.unwrap();
    let frame = codec::encode_server_frame(&ServerFrame::Push {
        push: Push::SyncNeeded {
            reason: "filler".into(),
        },
    })
    .unwrap();
    let pipeline = redis.pipeline();
    for _ in 0..5000 {
        let _: () = pipeline
            .publish(format!("sj:room:{room}"), frame.clone())
            .await
            .unwrap();
    }
    let _: Vec<Value> = pipeline.all().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while NodeStats::get(&cluster.nodes[0].ctx.stats.bus_lagged) == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no lag was counted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut told = false;
    while let Some(push) = alice.next_push(Duration::from_millis(500)).await {
        told |= matches!(push, Push::SyncNeeded { ref reason } if reason == "bus_lagged");
    }
    assert!(told, "clients are told to sync after a lag");
}
