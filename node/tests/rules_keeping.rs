//! Keeping messages (issue 18) over the wire, on real PostgreSQL and Redis: clearing a chat hides it for the caller
//! only and stays cleared after a reconnect; saved messages are per user, paged newest-saved first; pins reach
//! every member live on another node and through `sync` after a reconnect, exactly once; a room holds at most 50
//! pins; revoking a pinned message unpins it.

mod support;

use std::time::Duration;

use sendjay_client::Connection;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{
    Call, DeviceClass, HistoryArgs, ListSavedArgs, Message, MessageKind, MessageRef, OpenRoomArgs,
    Push, Reply, RoomArgs, RoomCursor, RoomSummary, SyncArgs, SystemAction, MAX_PINS_PER_ROOM,
};
use support::cluster;
use support::rules::{no_push_where, ok, push_where, refused, say, search_seqs};

async fn history(client: &Connection, room: i64) -> Vec<i64> {
    match ok(
        client,
        Call::History(HistoryArgs {
            room_id: room,
            before_seq: None,
            limit: Some(200),
        }),
    )
    .await
    {
        Reply::History { messages, .. } => messages.iter().map(|m| m.seq).collect(),
        other => panic!("{other:?}"),
    }
}

async fn sync_from(client: &Connection, room: i64, seq: i64) -> (Vec<Message>, Vec<RoomSummary>) {
    match ok(
        client,
        Call::Sync(SyncArgs {
            cursors: vec![RoomCursor { room_id: room, seq }],
            limit: Some(200),
            changes: Vec::new(),
        }),
    )
    .await
    {
        Reply::Sync {
            messages, rooms, ..
        } => (messages, rooms),
        other => panic!("{other:?}"),
    }
}

async fn saved(
    client: &Connection,
    before: Option<MessageRef>,
    limit: u32,
) -> (Vec<(i64, i64)>, bool) {
    match ok(
        client,
        Call::ListSaved(ListSavedArgs {
            before,
            limit: Some(limit),
        }),
    )
    .await
    {
        Reply::ListSaved { messages, has_more } => (
            messages.iter().map(|m| (m.room_id, m.seq)).collect(),
            has_more,
        ),
        other => panic!("{other:?}"),
    }
}

fn at(room_id: i64, seq: i64) -> MessageRef {
    MessageRef { room_id, seq }
}

async fn pins(client: &Connection, room: i64) -> Vec<(i64, String)> {
    match ok(client, Call::ListPins(RoomArgs { room_id: room })).await {
        Reply::ListPins { pins, .. } => pins
            .into_iter()
            .map(|p| (p.message.seq, p.pinned_by))
            .collect(),
        other => panic!("{other:?}"),
    }
}

async fn pin(client: &Connection, room: i64, seq: i64) -> Option<Message> {
    match ok(client, Call::PinMessage(at(room, seq))).await {
        Reply::PinMessage {
            pinned: true,
            message,
            ..
        } => message,
        other => panic!("{other:?}"),
    }
}

/// Whether `message` is the system message of `action` on `seq`.
fn records(message: &Message, action: SystemAction, seq: i64) -> bool {
    message.kind == MessageKind::System
        && message
            .system
            .as_ref()
            .is_some_and(|s| s.action == action && s.seq == Some(seq))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clearing_a_chat_hides_it_for_the_caller_only_and_survives_a_reconnect() {
    let s = cluster()
        .nodes(2)
        .users(&["alice", "bob"])
        .room(&["alice", "bob"])
        .start()
        .await;
    let room = s.rooms[0];
    let alice = s.connect(0, "alice").await;
    let phone = s
        .connect_as(1, "alice", DeviceClass::Mobile, "manual")
        .await;
    let bob = s.connect(1, "bob").await;
    for i in 1..=3 {
        say(&alice, room, &format!("a-{i}"), &format!("plan {i}")).await;
    }
    say(&bob, room, "b-1", "plan from bob").await;

    let Reply::ClearRoom {
        room_id,
        cleared_seq,
    } = ok(&alice, Call::ClearRoom(RoomArgs { room_id: room })).await
    else {
        panic!()
    };
    assert_eq!((room_id, cleared_seq), (room, 4));
    // The caller's other device is told, and the room is read up to there.
    push_where(
        &phone,
        "room_cleared",
        |p| matches!(p, Push::RoomCleared { room_id, cleared_seq: 4 } if *room_id == room),
    )
    .await;
    assert_eq!(
        s.count(
            "SELECT last_read_seq FROM room_members WHERE room_id = $1 AND user_id = 'alice'",
            &[&room]
        )
        .await,
        4
    );

    // Hidden for alice everywhere, untouched for bob.
    assert!(history(&alice, room).await.is_empty());
    assert_eq!(history(&bob, room).await, [4, 3, 2, 1]);
    assert!(search_seqs(&alice, room, "plan").await.is_empty());
    assert_eq!(search_seqs(&bob, room, "plan").await, [4, 3, 2, 1]);
    let Reply::OpenRoom {
        room: summary,
        messages,
        ..
    } = ok(
        &alice,
        Call::OpenRoom(OpenRoomArgs {
            room_id: room,
            limit: None,
        }),
    )
    .await
    else {
        panic!()
    };
    assert!(messages.is_empty());
    assert_eq!(
        (summary.cleared_seq, summary.unread, summary.last_message),
        (4, 0, None)
    );
    let (synced, rooms) = sync_from(&alice, room, 0).await;
    assert!(synced.is_empty(), "{synced:?}");
    assert_eq!(rooms[0].cleared_seq, 4);
    let (synced, rooms) = sync_from(&bob, room, 0).await;
    assert_eq!(synced.len(), 4);
    assert_eq!(rooms[0].cleared_seq, 0);
    // A cleared message cannot be saved.
    let before = s.fingerprint().await;
    refused(&alice, Call::SaveMessage(at(room, 2)), ErrorCode::NotFound).await;
    assert_eq!(s.fingerprint().await, before);

    // What comes after is shown; after a reconnect sync and history still leave out what was cleared.
    say(&bob, room, "b-2", "after the clear").await;
    alice.close().await;
    let alice = s.connect(1, "alice").await;
    let (synced, rooms) = sync_from(&alice, room, 0).await;
    assert_eq!(synced.iter().map(|m| m.seq).collect::<Vec<_>>(), [5]);
    assert_eq!(rooms[0].cleared_seq, 4);
    assert_eq!(
        rooms[0].last_message.as_ref().map(|m| m.seq),
        Some(5),
        "the preview shows what came after"
    );
    assert_eq!(history(&alice, room).await, [5]);
    assert_eq!(history(&bob, room).await, [5, 4, 3, 2, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_messages_are_per_user_and_paged_newest_saved_first() {
    let s = cluster()
        .nodes(2)
        .users(&["alice", "bob"])
        .room(&["alice", "bob"])
        .room(&["alice", "bob"])
        .start()
        .await;
    let [one, two] = s.rooms[..] else {
        unreachable!()
    };
    let alice = s.connect(0, "alice").await;
    let phone = s
        .connect_as(1, "alice", DeviceClass::Mobile, "manual")
        .await;
    let bob = s.connect(1, "bob").await;
    for i in 1..=5 {
        say(&alice, one, &format!("m-{i}"), &format!("note {i}")).await;
    }
    say(&bob, two, "t-1", "elsewhere").await;

    for (room, seq) in [(one, 1), (one, 3), (two, 1), (one, 5), (one, 2)] {
        let Reply::SaveMessage { saved: true, .. } =
            ok(&alice, Call::SaveMessage(at(room, seq))).await
        else {
            panic!()
        };
        push_where(&phone, "saved", |p| {
            matches!(p, Push::Saved { room_id, seq: s, saved: true } if *room_id == room && *s == seq)
        })
        .await;
    }
    // Saving twice keeps one entry, and tells nobody.
    ok(&alice, Call::SaveMessage(at(one, 3))).await;
    assert!(
        no_push_where(&phone, Duration::from_millis(300), |p| matches!(
            p,
            Push::Saved { .. }
        ))
        .await
    );
    assert_eq!(
        s.count(
            "SELECT count(*) FROM saved_messages WHERE user_id = 'alice'",
            &[]
        )
        .await,
        5
    );

    // Pages, most recently saved first.
    assert_eq!(
        saved(&alice, None, 2).await,
        (vec![(one, 2), (one, 5)], true)
    );
    assert_eq!(
        saved(&alice, Some(at(one, 5)), 2).await,
        (vec![(two, 1), (one, 3)], true)
    );
    assert_eq!(
        saved(&alice, Some(at(one, 3)), 2).await,
        (vec![(one, 1)], false)
    );
    // Bob's list is his own.
    assert_eq!(saved(&bob, None, 50).await, (vec![], false));
    ok(&bob, Call::UnsaveMessage(at(one, 2))).await;
    assert_eq!(saved(&alice, None, 1).await.0, [(one, 2)]);

    // Unsave.
    let Reply::UnsaveMessage { saved: false, .. } =
        ok(&alice, Call::UnsaveMessage(at(one, 5))).await
    else {
        panic!()
    };
    push_where(
        &phone,
        "unsaved",
        |p| matches!(p, Push::Saved { room_id, seq: 5, saved: false } if *room_id == one),
    )
    .await;
    assert_eq!(
        saved(&alice, None, 50).await.0,
        [(one, 2), (two, 1), (one, 3), (one, 1)]
    );
    // Paging from an entry that is gone is refused, and changes nothing.
    let before = s.fingerprint().await;
    refused(
        &alice,
        Call::ListSaved(ListSavedArgs {
            before: Some(at(one, 5)),
            limit: None,
        }),
        ErrorCode::NotFound,
    )
    .await;
    assert_eq!(s.fingerprint().await, before);

    // A revoked message shows as revoked, like history; one deleted for me is left out; so are rooms left.
    ok(&alice, Call::Revoke(at(one, 3))).await;
    ok(&alice, Call::DeleteForMe(at(one, 1))).await;
    ok(&alice, Call::Leave(RoomArgs { room_id: two })).await;
    let Reply::ListSaved { messages, has_more } =
        ok(&alice, Call::ListSaved(ListSavedArgs::default())).await
    else {
        panic!()
    };
    assert!(!has_more);
    assert_eq!(
        messages
            .iter()
            .map(|m| (m.seq, m.revoked, m.body.as_str()))
            .collect::<Vec<_>>(),
        [(2, false, "note 2"), (3, true, "")]
    );
    // A revoked message cannot be saved; a room left cannot be saved from.
    let before = s.fingerprint().await;
    ok(&alice, Call::SaveMessage(at(one, 4))).await;
    let mid = s.fingerprint().await;
    assert_ne!(before, mid);
    refused(&alice, Call::SaveMessage(at(one, 3)), ErrorCode::NotFound).await;
    refused(&alice, Call::SaveMessage(at(two, 1)), ErrorCode::NotMember).await;
    refused(&alice, Call::SaveMessage(at(one, 99)), ErrorCode::NotFound).await;
    assert_eq!(s.fingerprint().await, mid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_reaches_members_live_on_another_node_and_through_sync_after_a_reconnect() {
    let s = cluster()
        .nodes(2)
        .users(&["alice", "bob", "carol"])
        .room(&["alice", "bob", "carol"])
        .start()
        .await;
    let room = s.rooms[0];
    let alice = s.connect(0, "alice").await;
    let bob = s.connect(1, "bob").await;
    let carol = s.connect(1, "carol").await;
    say(&alice, room, "a-1", "the agenda").await;
    say(&alice, room, "a-2", "see you").await;
    // Carol holds everything up to seq 2, then goes offline.
    let (held, _) = sync_from(&carol, room, 0).await;
    assert_eq!(held.last().map(|m| m.seq), Some(2));
    carol.close().await;

    let message = pin(&bob, room, 1)
        .await
        .expect("a pin writes a system message");
    assert_eq!(message.seq, 3);
    assert!(records(&message, SystemAction::Pin, 1), "{message:?}");
    assert_eq!(message.sender_id, "bob");
    // Live on the other node.
    let Push::Message { message: live } = push_where(
        &alice,
        "the pin",
        |p| matches!(p, Push::Message { message } if message.seq == 3),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(live, message);
    assert_eq!(pins(&alice, room).await, [(1, "bob".to_owned())]);
    // Pinning again changes nothing and writes nothing.
    assert_eq!(pin(&alice, room, 1).await, None);
    assert_eq!(
        s.count("SELECT last_seq FROM rooms WHERE id = $1", &[&room])
            .await,
        3
    );

    // Carol comes back on the other node: sync brings the pin once, and nothing more after it.
    let carol = s.connect(0, "carol").await;
    let (missed, _) = sync_from(&carol, room, 2).await;
    assert_eq!(missed.len(), 1, "{missed:?}");
    assert!(records(&missed[0], SystemAction::Pin, 1));
    assert!(sync_from(&carol, room, 3).await.0.is_empty());
    assert_eq!(pins(&carol, room).await, [(1, "bob".to_owned())]);

    // Any member unpins, with its own system message to everyone.
    let Reply::UnpinMessage {
        pinned: false,
        message: Some(unpinned),
        ..
    } = ok(&carol, Call::UnpinMessage(at(room, 1))).await
    else {
        panic!()
    };
    assert!(records(&unpinned, SystemAction::Unpin, 1));
    for member in [&alice, &bob] {
        push_where(
            member,
            "the unpin",
            |p| matches!(p, Push::Message { message } if message.seq == unpinned.seq),
        )
        .await;
    }
    assert!(pins(&bob, room).await.is_empty());
    let Reply::UnpinMessage { message: None, .. } =
        ok(&carol, Call::UnpinMessage(at(room, 1))).await
    else {
        panic!("unpinning what is not pinned writes nothing")
    };
    refused(
        &carol,
        Call::UnpinMessage(at(room, 99)),
        ErrorCode::NotFound,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_holds_fifty_pins_and_revoking_a_pinned_message_unpins_it() {
    let s = cluster()
        .nodes(2)
        .users(&["alice", "bob"])
        .room(&["alice", "bob"])
        .configure(|c| {
            c.requests_per_sec = 10_000;
            c.request_burst = 10_000;
        })
        .start()
        .await;
    let room = s.rooms[0];
    let alice = s.connect(0, "alice").await;
    let bob = s.connect(1, "bob").await;
    let count = MAX_PINS_PER_ROOM as i64 + 1;
    for i in 1..=count {
        say(&alice, room, &format!("m-{i}"), &format!("message {i}")).await;
    }
    for seq in 1..count {
        pin(&bob, room, seq).await.expect("pinned");
    }
    assert_eq!(pins(&alice, room).await.len(), MAX_PINS_PER_ROOM);
    // The 51st is refused and changes nothing.
    let before = s.fingerprint().await;
    refused(
        &bob,
        Call::PinMessage(at(room, count)),
        ErrorCode::Forbidden,
    )
    .await;
    // So is pinning a system message.
    refused(
        &bob,
        Call::PinMessage(at(room, count + 1)),
        ErrorCode::Forbidden,
    )
    .await;
    assert_eq!(s.fingerprint().await, before);

    // Alice revokes a pinned message: it is unpinned, and members are told by an unpin system message.
    ok(&alice, Call::Revoke(at(room, 1))).await;
    push_where(&bob, "revoked", |p| {
        matches!(p, Push::Revoked { seq: 1, .. })
    })
    .await;
    let Push::Message { message } = push_where(&bob, "the unpin", |p| {
        matches!(p, Push::Message { message } if message.kind == MessageKind::System && message.seq > count + MAX_PINS_PER_ROOM as i64)
    })
    .await
    else {
        unreachable!()
    };
    assert!(records(&message, SystemAction::Unpin, 1), "{message:?}");
    assert_eq!(message.sender_id, "alice");
    let now = pins(&bob, room).await;
    assert_eq!(now.len(), MAX_PINS_PER_ROOM - 1);
    assert!(now.iter().all(|(seq, _)| *seq != 1));
    // A revoked message cannot be pinned again; the freed place takes another message.
    let before = s.fingerprint().await;
    refused(&bob, Call::PinMessage(at(room, 1)), ErrorCode::Forbidden).await;
    assert_eq!(s.fingerprint().await, before);
    pin(&bob, room, count).await.expect("room for one more");
    assert_eq!(pins(&alice, room).await[0], (count, "bob".to_owned()));
}
