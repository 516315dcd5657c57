//! Two nodes, one user on each, chatting through Redis and PostgreSQL.

mod support;

use std::time::Duration;

use sendjay_client::ClientError;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{Call, HistoryArgs, MarkReadArgs, Push, Reply, SendArgs};
use support::{expect_message, send, TestCluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_on_two_nodes_exchange_messages() {
    let cluster = TestCluster::start(2).await;
    cluster.users(&["alice", "bob"]).await;
    let room = cluster.room(&["alice", "bob"]).await;
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(1, "bob").await;

    let (sent, duplicate) = send(&alice, room, "a-1", "안녕 bob").await;
    assert_eq!((sent.seq, duplicate), (1, false));
    let got = expect_message(&bob, room, 1).await;
    assert_eq!(got, sent, "bob receives exactly what was stored");

    let (reply, _) = send(&bob, room, "b-1", "hi alice").await;
    assert_eq!(reply.seq, 2);
    assert_eq!(expect_message(&alice, room, 2).await.body, "hi alice");

    // The message is committed: it is in PostgreSQL with the acknowledged seq.
    let stored: i64 = cluster
        .db()
        .query_one("SELECT count(*) FROM messages WHERE room_id = $1", &[&room])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 2);
}

/// Moves `client`'s read cursor in `room` to `seq`; returns (room, cursor, unread) from the reply.
async fn mark_read(client: &sendjay_client::Connection, room: i64, seq: i64) -> (i64, i64, i64) {
    let reply = client
        .call(Call::MarkRead(MarkReadArgs {
            room_id: room,
            seq: Some(seq),
        }))
        .await
        .unwrap();
    match reply {
        Reply::MarkRead {
            room_id,
            last_read_seq,
            unread,
        } => (room_id, last_read_seq, unread),
        other => panic!("unexpected reply {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_list_unread_counts_and_read_cursor() {
    let cluster = TestCluster::start(1).await;
    cluster.users(&["alice", "bob"]).await;
    let room = cluster.room(&["alice", "bob"]).await;
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(0, "bob").await;
    for i in 0..3 {
        send(&alice, room, &format!("m{i}"), "hello").await;
    }
    let Reply::ListRooms { rooms } = bob.call(Call::ListRooms).await.unwrap() else {
        panic!()
    };
    assert_eq!(rooms.len(), 1);
    assert_eq!(
        (rooms[0].room_id, rooms[0].last_seq, rooms[0].unread),
        (room, 3, 3)
    );
    assert_eq!(rooms[0].last_message.as_ref().map(|m| m.seq), Some(3));
    // The sender has read its own messages.
    let Reply::ListRooms { rooms } = alice.call(Call::ListRooms).await.unwrap() else {
        panic!()
    };
    assert_eq!(rooms[0].unread, 0);

    assert_eq!(mark_read(&bob, room, 2).await, (room, 2, 1));
    // A cursor never moves backwards.
    assert_eq!(mark_read(&bob, room, 1).await, (room, 2, 1));
    // Nor past the newest message.
    assert_eq!(mark_read(&bob, room, 99).await, (room, 3, 0));
    // Alice sees bob's read state move.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match alice
            .next_push(deadline - tokio::time::Instant::now())
            .await
        {
            Some(Push::Read {
                user_id,
                last_read_seq: 3,
                ..
            }) if user_id == "bob" => break,
            Some(_) => continue,
            None => panic!("alice saw no read push from bob"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_backwards() {
    let cluster = TestCluster::start(1).await;
    cluster.users(&["alice"]).await;
    let room = cluster.room(&["alice"]).await;
    let alice = cluster.connect(0, "alice").await;
    for i in 1..=7 {
        send(&alice, room, &format!("h{i}"), &format!("message {i}")).await;
    }
    let page = |before_seq| HistoryArgs {
        room_id: room,
        before_seq,
        limit: Some(3),
    };
    let Reply::History {
        messages, has_more, ..
    } = alice.call(Call::History(page(None))).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(
        messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![7, 6, 5]
    );
    assert!(has_more);
    let Reply::History {
        messages, has_more, ..
    } = alice.call(Call::History(page(Some(2)))).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(messages.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1]);
    assert!(!has_more);
    let err = alice
        .call(Call::History(HistoryArgs {
            room_id: room,
            before_seq: None,
            limit: Some(500),
        }))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Server {
                code: ErrorCode::BadArgs,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_client_id_twice_stores_one_message() {
    let cluster = TestCluster::start(2).await;
    cluster.users(&["alice", "bob"]).await;
    let room = cluster.room(&["alice", "bob"]).await;
    let alice_web = cluster.connect(0, "alice").await;
    let (first, dup1) = send(&alice_web, room, "retry-me", "once").await;
    // The retry arrives on another node (after a reconnect), with the same client id.
    let alice_mobile = cluster
        .connect_as(
            1,
            "alice",
            sendjay_common::protocol::DeviceClass::Mobile,
            "manual",
        )
        .await;
    let (second, dup2) = send(&alice_mobile, room, "retry-me", "once").await;
    assert!(!dup1 && dup2);
    assert_eq!(
        (first.seq, first.created_at_ms),
        (second.seq, second.created_at_ms)
    );

    // Concurrent resends of one new id from both devices: still one row.
    let call = |c| {
        Call::Send(SendArgs {
            room_id: room,
            client_msg_id: "race".into(),
            body: c,
        })
    };
    let (a, b) = tokio::join!(
        alice_web.call(call("x".into())),
        alice_mobile.call(call("x".into()))
    );
    let (Reply::Send { message: a, .. }, Reply::Send { message: b, .. }) = (a.unwrap(), b.unwrap())
    else {
        panic!()
    };
    assert_eq!(a.seq, b.seq);
    let rows: i64 = cluster
        .db()
        .query_one("SELECT count(*) FROM messages WHERE room_id = $1", &[&room])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 2, "one row per client id");
    let last_seq: i64 = cluster
        .db()
        .query_one("SELECT last_seq FROM rooms WHERE id = $1", &[&room])
        .await
        .unwrap()
        .get(0);
    assert_eq!(last_seq, 2, "seqs stay gap-free: a duplicate takes no seq");

    // Reusing an id for a different body is a client bug, not a retry.
    let err = alice_web
        .call(Call::Send(SendArgs {
            room_id: room,
            client_msg_id: "retry-me".into(),
            body: "different".into(),
        }))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Server {
                code: ErrorCode::Conflict,
                ..
            }
        ),
        "{err:?}"
    );
    // A body PostgreSQL cannot store is refused as bad args, not as a retryable outage.
    let err = alice_web
        .call(Call::Send(SendArgs {
            room_id: room,
            client_msg_id: "nul".into(),
            body: "a\0b".into(),
        }))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Server {
                code: ErrorCode::BadArgs,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_on_rooms_the_user_is_not_in_are_refused_and_change_nothing() {
    let cluster = TestCluster::start(1).await;
    cluster.users(&["alice", "mallory"]).await;
    let room = cluster.room(&["alice"]).await;
    let mallory = cluster.connect(0, "mallory").await;
    let send = Call::Send(SendArgs {
        room_id: room,
        client_msg_id: "x".into(),
        body: "sneaky".into(),
    });
    let history = Call::History(HistoryArgs {
        room_id: room,
        before_seq: None,
        limit: None,
    });
    let read = Call::MarkRead(MarkReadArgs {
        room_id: room,
        seq: None,
    });
    for call in [send.clone(), history, read] {
        let err = mallory.call(call).await.unwrap_err();
        assert!(
            matches!(
                err,
                ClientError::Server {
                    code: ErrorCode::NotMember,
                    ..
                }
            ),
            "{err:?}"
        );
    }
    let missing = Call::Send(SendArgs {
        room_id: 9_999_999,
        client_msg_id: "x".into(),
        body: "x".into(),
    });
    let err = mallory.call(missing).await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Server {
                code: ErrorCode::NotFound,
                ..
            }
        ),
        "{err:?}"
    );
    let (count, last_seq): (i64, i64) = {
        let row = cluster
            .db()
            .query_one("SELECT (SELECT count(*) FROM messages), (SELECT last_seq FROM rooms WHERE id = $1)", &[&room])
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!((count, last_seq), (0, 0), "refused calls change nothing");
    // Sync ignores cursors on foreign rooms rather than leaking them.
    let sync = Call::Sync(sendjay_common::protocol::SyncArgs {
        cursors: vec![sendjay_common::protocol::RoomCursor {
            room_id: room,
            seq: 0,
        }],
        limit: None,
        changes: Vec::new(),
    });
    let Reply::Sync {
        messages, rooms, ..
    } = mallory.call(sync).await.unwrap()
    else {
        panic!()
    };
    assert!(messages.is_empty() && rooms.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_sends_is_written_in_batches_and_stays_gap_free() {
    // Many sends at once from both nodes into a few rooms: the nodes write them in batches (group commit),
    // and every room still numbers its messages 1..=N without a gap or a repeat, each ack naming its row.
    let cluster = TestCluster::start(2).await;
    let users = ["u1", "u2", "u3", "u4", "u5", "u6"];
    cluster.users(&users).await;
    let rooms = [
        cluster.room(&users).await,
        cluster.room(&users).await,
        cluster.room(&["u1", "u2"]).await,
    ];
    let mut clients = Vec::new();
    for (i, u) in users.iter().enumerate() {
        clients.push(cluster.connect(i % 2, u).await);
    }
    const PER_CLIENT: usize = 60;
    let send_one = |ci: usize, room: i64, id: String, body: String| {
        let client = &clients[ci];
        async move {
            let reply = client
                .call(Call::Send(SendArgs {
                    room_id: room,
                    client_msg_id: id.clone(),
                    body: body.clone(),
                }))
                .await;
            (room, ci, id, body, reply)
        }
    };
    let mut calls = Vec::new();
    for ci in 0..clients.len() {
        for k in 0..PER_CLIENT {
            // u3..u6 are not in the third room: those sends must be refused and take no seq.
            let room = rooms[k % rooms.len()];
            calls.push(send_one(
                ci,
                room,
                format!("burst-{ci}-{k}"),
                format!("burst {ci} {k}"),
            ));
        }
        // A resend of an earlier id in the same burst returns the same row.
        calls.push(send_one(
            ci,
            rooms[0],
            format!("burst-{ci}-0"),
            format!("burst {ci} 0"),
        ));
    }
    let results = futures_util::future::join_all(calls).await;
    let mut seqs: std::collections::BTreeMap<i64, std::collections::BTreeMap<String, i64>> =
        Default::default();
    let mut refused = 0;
    for (room, ci, id, body, reply) in results {
        match reply {
            Ok(Reply::Send { message, .. }) => {
                assert_eq!((message.room_id, &message.body), (room, &body));
                assert_eq!(message.sender_id, users[ci]);
                let previous = seqs.entry(room).or_default().insert(id, message.seq);
                assert!(
                    previous.is_none_or(|p| p == message.seq),
                    "a resend got another seq"
                );
            }
            Err(ClientError::Server {
                code: ErrorCode::NotMember,
                ..
            }) => {
                assert!(
                    room == rooms[2] && ci >= 2,
                    "{users:?}[{ci}] refused in {room}"
                );
                refused += 1;
            }
            other => panic!("send {id} in {room}: {other:?}"),
        }
    }
    assert_eq!(refused, 4 * PER_CLIENT / rooms.len());
    for (room, by_id) in &seqs {
        let mut got: Vec<i64> = by_id.values().copied().collect();
        got.sort_unstable();
        let n = got.len() as i64;
        assert_eq!(
            got,
            (1..=n).collect::<Vec<_>>(),
            "room {room}: gap-free, one seq per message"
        );
        let row: (i64, i64) = {
            let r = cluster
                .db()
                .query_one(
                    "SELECT (SELECT last_seq FROM rooms WHERE id = $1), count(*) FROM messages WHERE room_id = $1",
                    &[room],
                )
                .await
                .unwrap();
            (r.get(0), r.get(1))
        };
        assert_eq!(row, (n, n), "room {room}: last_seq and rows match the acks");
    }
    // Batches really formed: some batch held more than one send.
    let text = cluster.nodes[0].ctx.metrics.render();
    let value = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let (sum, count, failed) = (
        value("sendjay_db_send_batch_size_sum"),
        value("sendjay_db_send_batch_size_count"),
        value("sendjay_db_send_batches_retried_total"),
    );
    assert!(
        count > 0.0 && sum > count,
        "no multi-send batch was written: sizes sum {sum}, count {count}; failed attempts {failed}"
    );
}
