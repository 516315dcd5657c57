//! Reconnect without loss: what a client missed is filled in from PostgreSQL, also when Redis went away.

mod support;

use std::time::Duration;

use sendjay_common::protocol::{Call, Push, Reply, RoomCursor, SyncArgs};
use support::{expect_message, send, TestCluster};

fn sync(room: i64, seq: i64, limit: u32) -> Call {
    Call::Sync(SyncArgs {
        cursors: vec![RoomCursor { room_id: room, seq }],
        limit: Some(limit),
        changes: Vec::new(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnecting_client_syncs_what_it_missed_in_pages() {
    let cluster = TestCluster::start(2).await;
    cluster.users(&["alice", "bob"]).await;
    let room = cluster.room(&["alice", "bob"]).await;
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(1, "bob").await;
    send(&alice, room, "m1", "one").await;
    expect_message(&bob, room, 1).await;
    bob.close().await;
    drop(bob);

    for i in 2..=6 {
        send(&alice, room, &format!("m{i}"), "while bob was away").await;
    }
    let bob = cluster.connect(0, "bob").await;
    let Reply::Sync {
        messages,
        rooms,
        has_more,
        ..
    } = bob.call(sync(room, 1, 3)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(
        messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![2, 3, 4]
    );
    assert!(has_more);
    assert_eq!(
        rooms
            .iter()
            .map(|r| (r.room_id, r.last_seq))
            .collect::<Vec<_>>(),
        vec![(room, 6)]
    );
    let Reply::Sync {
        messages, has_more, ..
    } = bob.call(sync(room, 4, 3)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(
        messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![5, 6]
    );
    assert!(!has_more);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_acknowledged_while_redis_is_down_are_not_lost() {
    let mut cluster = TestCluster::start(2).await;
    cluster.users(&["alice", "bob"]).await;
    let room = cluster.room(&["alice", "bob"]).await;
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(1, "bob").await;
    send(&alice, room, "before", "before the outage").await;
    expect_message(&bob, room, 1).await;

    cluster.redis().stop().await;
    // PostgreSQL still takes the message: the ack comes, the push cannot.
    let (during, _) = send(&alice, room, "during", "during the outage").await;
    assert_eq!(during.seq, 2);
    cluster.redis().restart().await;

    // After the bus reconnects, bob is told to sync, and sync returns the missed message.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match bob
            .next_push(deadline.saturating_duration_since(tokio::time::Instant::now()))
            .await
        {
            Some(Push::SyncNeeded { .. }) => break,
            Some(Push::Message { message }) if message.seq == 2 => break,
            Some(_) => continue,
            None => panic!("bob was not told to sync after Redis came back"),
        }
    }
    let Reply::Sync { messages, .. } = bob.call(sync(room, 1, 100)).await.unwrap() else {
        panic!()
    };
    assert_eq!(
        messages.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        vec!["during the outage"]
    );
    // And live delivery works again.
    let (after, _) = send(&alice, room, "after", "after the outage").await;
    expect_message(&bob, room, after.seq).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_named_twice_in_the_cursors_is_refused() {
    use sendjay_client::ClientError;
    use sendjay_common::error_code::ErrorCode;
    let cluster = TestCluster::start(1).await;
    cluster.users(&["alice"]).await;
    let room = cluster.room(&["alice"]).await;
    let alice = cluster.connect(0, "alice").await;
    for i in 1..=3 {
        send(&alice, room, &format!("m{i}"), "x").await;
    }
    // Two cursors for one room used to return each message twice (seqs 2, 2, 3, 3).
    let twice = Call::Sync(SyncArgs {
        cursors: vec![
            RoomCursor {
                room_id: room,
                seq: 1,
            },
            RoomCursor {
                room_id: room,
                seq: 1,
            },
        ],
        limit: Some(10),
        changes: Vec::new(),
    });
    let err = alice.call(twice).await.unwrap_err();
    assert!(
        matches!(
            &err,
            ClientError::Server { code: ErrorCode::BadArgs, message } if message.contains("more than once")
        ),
        "{err:?}"
    );
    // The connection stays usable and one cursor per room still works.
    let Reply::Sync { messages, .. } = alice.call(sync(room, 1, 10)).await.unwrap() else {
        panic!()
    };
    assert_eq!(
        messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![2, 3]
    );
}
