//! Reactions (issue 18) over the wire, on real PostgreSQL and Redis: counts per emoji in first-use order, the
//! caller's own marked, live to members on another node; who reacted, in order; a member who was away gets the counts
//! from `sync` by the change cursor; and what may not take a reaction is refused without changing anything.

mod support;

use sendjay_client::Connection;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{
    Call, ChangeCursor, HistoryArgs, Message, MessageRef, Push, Reaction, ReactionArgs, Reply,
    RoomCursor, SyncArgs, MAX_REACTIONS_PER_MESSAGE,
};
use support::cluster;
use support::rules::{messages_to_refuse, no_push_where, ok, push_where, refused, say};

fn args(room_id: i64, seq: i64, emoji: &str) -> ReactionArgs {
    ReactionArgs {
        room_id,
        seq,
        emoji: emoji.into(),
    }
}

async fn react(client: &Connection, room: i64, seq: i64, emoji: &str, on: bool) -> (Message, bool) {
    let call = if on {
        Call::AddReaction(args(room, seq, emoji))
    } else {
        Call::RemoveReaction(args(room, seq, emoji))
    };
    match ok(client, call).await {
        Reply::AddReaction { message, changed } | Reply::RemoveReaction { message, changed } => {
            (message, changed)
        }
        other => panic!("{other:?}"),
    }
}

fn counts(message: &Message) -> Vec<(&str, i64, bool)> {
    message
        .reactions
        .iter()
        .map(|r| (r.emoji.as_str(), r.count, r.mine))
        .collect()
}

async fn newest(client: &Connection, room: i64) -> Message {
    match ok(
        client,
        Call::History(HistoryArgs {
            room_id: room,
            before_seq: None,
            limit: Some(1),
        }),
    )
    .await
    {
        Reply::History { mut messages, .. } => messages.remove(0),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_are_counted_per_emoji_and_pushed_live() {
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
    say(&alice, room, "a-1", "release is out").await;

    let (message, changed) = react(&bob, room, 1, "👍", true).await;
    assert!(changed);
    assert_eq!(counts(&message), [("👍", 1, true)]);
    let push = push_where(&alice, "reaction", |p| matches!(p, Push::Reaction { .. })).await;
    let Push::Reaction {
        user_id,
        emoji,
        on,
        count,
        change_seq,
        ..
    } = push
    else {
        unreachable!()
    };
    assert_eq!(
        (user_id.as_str(), emoji.as_str(), on, count, change_seq),
        ("bob", "👍", true, 1, message.change_seq)
    );
    // Alice's copy counts bob's reaction, not as hers.
    assert_eq!(counts(&newest(&alice, room).await), [("👍", 1, false)]);

    react(&alice, room, 1, "👍", true).await;
    react(&carol, room, 1, "🎉", true).await;
    let (message, _) = react(&alice, room, 1, "🎉", true).await;
    assert_eq!(
        counts(&message),
        [("👍", 2, true), ("🎉", 2, true)],
        "first-use order"
    );
    // The same reaction twice changes nothing and pushes nothing.
    let alices_party = |p: &Push| matches!(p, Push::Reaction { user_id, emoji, .. } if user_id == "alice" && emoji == "🎉");
    push_where(&bob, "alice's 🎉", alices_party).await;
    let (_, changed) = react(&alice, room, 1, "🎉", true).await;
    assert!(!changed);
    assert!(no_push_where(&bob, std::time::Duration::from_millis(400), alices_party).await);
    match ok(&carol, Call::Reactors(args(room, 1, "👍"))).await {
        Reply::Reactors {
            user_ids, count, ..
        } => assert_eq!(
            (user_ids, count),
            (vec!["bob".to_owned(), "alice".to_owned()], 2)
        ),
        other => panic!("{other:?}"),
    }

    // Bob takes his back: counted down, pushed with on = false; once more changes nothing.
    let (message, changed) = react(&bob, room, 1, "👍", false).await;
    assert!(changed);
    assert_eq!(counts(&message), [("👍", 1, false), ("🎉", 2, false)]);
    push_where(
        &carol,
        "reaction off",
        |p| matches!(p, Push::Reaction { user_id, on: false, count: 1, .. } if user_id == "bob"),
    )
    .await;
    let (_, changed) = react(&bob, room, 1, "👍", false).await;
    assert!(!changed);
    // The last one gone: the emoji goes from the list.
    react(&alice, room, 1, "👍", false).await;
    assert_eq!(counts(&newest(&carol, room).await), [("🎉", 2, true)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_who_was_away_gets_the_counts_from_sync_and_a_revoke_drops_them() {
    let s = cluster()
        .nodes(1)
        .users(&["alice", "bob"])
        .room(&["alice", "bob"])
        .start()
        .await;
    let room = s.rooms[0];
    let alice = s.connect(0, "alice").await;
    say(&alice, room, "a-1", "who is in for lunch").await;
    say(&alice, room, "a-2", "typo").await;
    // Bob holds both messages and no change; then, while he is away:
    react(&alice, room, 1, "🙋", true).await;
    react(&alice, room, 2, "👀", true).await;
    let bob = s.connect(0, "bob").await;
    react(&bob, room, 1, "🙋", true).await; // from another device of bob's, say
    let reply = ok(
        &bob,
        Call::Sync(SyncArgs {
            cursors: vec![RoomCursor {
                room_id: room,
                seq: 2,
            }],
            limit: None,
            changes: vec![ChangeCursor {
                room_id: room,
                change_seq: 0,
            }],
        }),
    )
    .await;
    let Reply::Sync { updates, .. } = reply else {
        panic!()
    };
    let got: Vec<(i64, i64, Vec<Reaction>)> = updates
        .into_iter()
        .map(|m| (m.seq, m.change_seq, m.reactions))
        .collect();
    let r = |emoji: &str, count, mine| Reaction {
        emoji: emoji.into(),
        count,
        mine,
    };
    assert_eq!(
        got,
        [
            (2, 2, vec![r("👀", 1, false)]),
            (1, 3, vec![r("🙋", 2, true)])
        ],
        "each changed message once, in change order, as bob sees it"
    );

    // A revoke takes the reactions with the body.
    ok(
        &alice,
        Call::Revoke(MessageRef {
            room_id: room,
            seq: 2,
        }),
    )
    .await;
    assert_eq!(
        s.count(
            "SELECT count(*) FROM message_reactions WHERE room_id = $1 AND seq = 2",
            &[&room]
        )
        .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_may_not_take_a_reaction_is_refused_and_changes_nothing() {
    let s = cluster()
        .nodes(1)
        .users(&["alice", "bob"])
        .room(&["alice", "bob"])
        .start()
        .await;
    let room = s.rooms[0];
    let alice = s.connect(0, "alice").await;
    let bob = s.connect(0, "bob").await;
    messages_to_refuse(&alice, &bob, room).await;
    let emoji: Vec<String> = (0..MAX_REACTIONS_PER_MESSAGE)
        .map(|i| char::from_u32(0x1F600 + i as u32).unwrap().to_string())
        .collect();
    for e in &emoji {
        react(&alice, room, 1, e, true).await;
    }
    let before = s.fingerprint().await;

    // A 21st different emoji (one already there is fine, below); revoked; deleted for the caller; a system message;
    // no such message.
    for (seq, emoji, code) in [
        (1, "🦀", ErrorCode::Forbidden),
        (2, "👍", ErrorCode::NotFound),
        (3, "👍", ErrorCode::NotFound),
        (4, "👍", ErrorCode::Forbidden),
        (99, "👍", ErrorCode::NotFound),
    ] {
        refused(&bob, Call::AddReaction(args(room, seq, emoji)), code).await;
    }
    for bad in ["", "👍 👍", "a\u{0}", &"x".repeat(65)] {
        refused(
            &bob,
            Call::AddReaction(args(room, 1, bad)),
            ErrorCode::BadArgs,
        )
        .await;
    }
    assert_eq!(s.fingerprint().await, before);
    let (message, changed) = react(&bob, room, 1, &emoji[0], true).await;
    assert!(changed);
    assert_eq!(message.reactions.len(), MAX_REACTIONS_PER_MESSAGE);
    assert_eq!(
        (message.reactions[0].count, message.reactions[0].mine),
        (2, true)
    );
}
