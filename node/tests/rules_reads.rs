//! Read state over the wire: opening a room marks it read and returns per-message unread counts, counts for any
//! window in one call (checked against a brute-force count), who has not read a message, the other device
//! updated live, large rooms pushing reads only to the reader, and cursors that never move backwards.

mod support;

use std::time::Duration;

use rand::Rng;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{
    Call, DeviceClass, MarkReadArgs, MessageRef, OpenRoomArgs, Push, Reply, SeqCount,
    UnreadCountsArgs,
};
use support::rules::{no_push_where, ok, push_where, refused, say};
use support::{cluster, TestCluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_a_room_marks_it_read_and_counts_unread_members_per_message() {
    let cluster = cluster()
        .nodes(2)
        .users(&["alice", "bob", "carol", "dave"])
        .room(&["alice", "bob", "carol", "dave"])
        .start()
        .await;
    let room = cluster.rooms[0];
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(1, "bob").await;
    let carol = cluster.connect(1, "carol").await;
    for i in 1..=5 {
        say(&alice, room, &format!("m{i}"), &format!("message {i}")).await;
    }
    ok(
        &carol,
        Call::MarkRead(MarkReadArgs {
            room_id: room,
            seq: Some(3),
        }),
    )
    .await;
    // Bob opens the room: everything read, newest first, with counts excluding the sender.
    let Reply::OpenRoom {
        room: summary,
        messages,
        unread_counts,
        has_more,
    } = ok(
        &bob,
        Call::OpenRoom(OpenRoomArgs {
            room_id: room,
            limit: Some(4),
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!((summary.unread, summary.last_read_seq), (0, 5));
    assert!(has_more);
    assert_eq!(
        messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![5, 4, 3, 2]
    );
    // seq 5, 4: carol and dave unread; 3, 2: only dave (carol read up to 3).
    assert_eq!(
        unread_counts,
        vec![
            SeqCount { seq: 5, unread: 2 },
            SeqCount { seq: 4, unread: 2 },
            SeqCount { seq: 3, unread: 1 },
            SeqCount { seq: 2, unread: 1 }
        ]
    );
    // Alice (the sender) sees bob's read live, and who has not read seq 4.
    push_where(
        &alice,
        "bob's read",
        |p| matches!(p, Push::Read { user_id, last_read_seq: 5, .. } if user_id == "bob"),
    )
    .await;
    let Reply::UnreadMembers { user_ids, .. } = ok(
        &alice,
        Call::UnreadMembers(MessageRef {
            room_id: room,
            seq: 4,
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(user_ids, vec!["carol".to_string(), "dave".to_string()]);
    let Reply::UnreadMembers { user_ids, .. } = ok(
        &alice,
        Call::UnreadMembers(MessageRef {
            room_id: room,
            seq: 1,
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(user_ids, vec!["dave".to_string()]);
    refused(
        &alice,
        Call::UnreadMembers(MessageRef {
            room_id: room,
            seq: 6,
        }),
        ErrorCode::NotFound,
    )
    .await;
    // Counts for an arbitrary window (unordered, duplicated, with a missing seq).
    let Reply::UnreadCounts { counts, .. } = ok(
        &alice,
        Call::UnreadCounts(UnreadCountsArgs {
            room_id: room,
            seqs: vec![5, 1, 1, 99],
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(
        counts,
        vec![
            SeqCount { seq: 1, unread: 1 },
            SeqCount { seq: 5, unread: 2 }
        ]
    );
    refused(
        &alice,
        Call::UnreadCounts(UnreadCountsArgs {
            room_id: room,
            seqs: (1..=201).collect(),
        }),
        ErrorCode::BadArgs,
    )
    .await;
}

/// The one-query window count against a brute-force count, for random cursors in a room of 300 members.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_counts_match_a_brute_force_count() {
    let cluster = TestCluster::start(1).await;
    let ids: Vec<String> = (0..300).map(|i| format!("u{i:03}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    cluster.users(&refs).await;
    let room = cluster.room(&refs).await;
    let mut rng = rand::rng();
    // 200 messages from random senders, written directly; then random cursors (senders read their own).
    for seq in 1..=200i64 {
        let sender = &ids[rng.random_range(0..ids.len())];
        cluster
            .db()
            .execute(
                "INSERT INTO messages (room_id, seq, sender_id, client_msg_id, body) VALUES ($1, $2, $3, $4, 'x')",
                &[&room, &seq, sender, &format!("c{seq}")],
            )
            .await
            .unwrap();
        cluster
            .db()
            .execute("UPDATE room_members SET last_read_seq = GREATEST(last_read_seq, $3) WHERE room_id = $1 AND user_id = $2", &[&room, sender, &seq])
            .await
            .unwrap();
    }
    cluster
        .db()
        .execute("UPDATE rooms SET last_seq = 200 WHERE id = $1", &[&room])
        .await
        .unwrap();
    for id in &ids {
        let cursor: i64 = rng.random_range(0..=200);
        cluster
            .db()
            .execute("UPDATE room_members SET last_read_seq = GREATEST(last_read_seq, $3) WHERE room_id = $1 AND user_id = $2", &[&room, id, &cursor])
            .await
            .unwrap();
    }
    let client = cluster.connect(0, "u000").await;
    let window: Vec<i64> = (100..=200).step_by(2).collect();
    let Reply::UnreadCounts { counts, .. } = ok(
        &client,
        Call::UnreadCounts(UnreadCountsArgs {
            room_id: room,
            seqs: window.clone(),
        }),
    )
    .await
    else {
        panic!()
    };
    let brute: Vec<SeqCount> = cluster
        .db()
        .query(
            "SELECT m.seq, (SELECT count(*) FROM room_members c WHERE c.room_id = m.room_id AND c.last_read_seq < m.seq AND c.user_id <> m.sender_id)
               FROM messages m WHERE m.room_id = $1 AND m.seq = ANY($2) ORDER BY m.seq",
            &[&room, &window],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| SeqCount { seq: r.get(0), unread: r.get(1) })
        .collect();
    assert_eq!(counts, brute);
    assert!(counts.iter().any(|c| c.unread > 0) && counts.iter().any(|c| c.unread < 299));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_on_one_device_updates_the_other_live_and_never_moves_back() {
    let cluster = cluster()
        .nodes(2)
        .users(&["alice", "bob"])
        .room(&["alice", "bob"])
        .start()
        .await;
    let room = cluster.rooms[0];
    let web = cluster.connect(0, "alice").await;
    let mobile = cluster
        .connect_as(1, "alice", DeviceClass::Mobile, "manual")
        .await;
    let bob = cluster.connect(1, "bob").await;
    for i in 1..=3 {
        say(&bob, room, &format!("b{i}"), "ping").await;
    }
    ok(
        &web,
        Call::OpenRoom(OpenRoomArgs {
            room_id: room,
            limit: None,
        }),
    )
    .await;
    // The mobile clears its badge: a read push with alice's own cursor.
    push_where(
        &mobile,
        "own read from the web",
        |p| matches!(p, Push::Read { user_id, last_read_seq: 3, .. } if user_id == "alice"),
    )
    .await;
    push_where(
        &web,
        "the web's own read, too",
        |p| matches!(p, Push::Read { user_id, last_read_seq: 3, .. } if user_id == "alice"),
    )
    .await;
    // Backwards is ignored, and pushes nothing.
    let Reply::MarkRead {
        last_read_seq,
        unread,
        ..
    } = ok(
        &mobile,
        Call::MarkRead(MarkReadArgs {
            room_id: room,
            seq: Some(1),
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!((last_read_seq, unread), (3, 0));
    assert!(
        no_push_where(
            &web,
            Duration::from_millis(500),
            |p| matches!(p, Push::Read { user_id, .. } if user_id == "alice")
        )
        .await
    );
    assert_eq!(
        cluster
            .count(
                "SELECT last_read_seq FROM room_members WHERE room_id = $1 AND user_id = 'alice'",
                &[&room]
            )
            .await,
        3
    );
    // Concurrent reads from both devices end at the highest.
    say(&bob, room, "b4", "x").await;
    say(&bob, room, "b5", "y").await;
    let (a, b) = tokio::join!(
        web.call(Call::MarkRead(MarkReadArgs {
            room_id: room,
            seq: Some(5)
        })),
        mobile.call(Call::MarkRead(MarkReadArgs {
            room_id: room,
            seq: Some(4)
        }))
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(
        cluster
            .count(
                "SELECT last_read_seq FROM room_members WHERE room_id = $1 AND user_id = 'alice'",
                &[&room]
            )
            .await,
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_large_rooms_reads_are_pushed_only_to_the_readers_own_devices() {
    let cluster = TestCluster::start(1).await;
    let ids: Vec<String> = (0..=sendjay_node::handler::READ_PUSH_MAX_MEMBERS)
        .map(|i| format!("p{i:03}"))
        .collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    cluster.users(&refs).await;
    let room = cluster.room(&refs).await;
    let reader_web = cluster.connect(0, "p001").await;
    let reader_mobile = cluster
        .connect_as(0, "p001", DeviceClass::Mobile, "manual")
        .await;
    let sender = cluster.connect(0, "p000").await;
    say(&sender, room, "1", "hello all").await;
    ok(
        &reader_web,
        Call::MarkRead(MarkReadArgs {
            room_id: room,
            seq: None,
        }),
    )
    .await;
    push_where(
        &reader_mobile,
        "own read",
        |p| matches!(p, Push::Read { user_id, .. } if user_id == "p001"),
    )
    .await;
    assert!(
        no_push_where(&sender, Duration::from_millis(700), |p| matches!(
            p,
            Push::Read { .. }
        ))
        .await,
        "other members are not sent reads in a room of more than READ_PUSH_MAX_MEMBERS"
    );
    let Reply::UnreadCounts { counts, .. } = ok(
        &sender,
        Call::UnreadCounts(UnreadCountsArgs {
            room_id: room,
            seqs: vec![1],
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(
        counts[0].unread,
        ids.len() as i64 - 2,
        "the read still counts"
    );
}
