//! Editing messages (issue 18) over the wire, on real PostgreSQL and Redis: the sender edits within the window and
//! every member sees it live on another node, with the "edited" time; the earlier text is kept for the audit log;
//! a member who was offline gets the edit (and a revoke) from `sync` by the room's change cursor, each change once;
//! search finds the new text only; and what may not be edited is refused without changing anything.

mod support;

use sendjay_client::Connection;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{Call, MessageKind};
use sendjay_common::protocol::{
    ChangeCursor, EditMessageArgs, Message, MessageRef, Push, Reply, RoomCursor, SyncArgs,
};
use support::cluster;
use support::rules::{messages_to_refuse, ok, push_where, refused, say, search_seqs};

fn edit(room_id: i64, seq: i64, body: &str) -> Call {
    Call::EditMessage(EditMessageArgs {
        room_id,
        seq,
        body: body.into(),
    })
}

async fn edited(client: &Connection, room: i64, seq: i64, body: &str) -> (Message, bool) {
    match ok(client, edit(room, seq, body)).await {
        Reply::EditMessage { message, edited } => (message, edited),
        other => panic!("{other:?}"),
    }
}

/// One `sync` page from the given message and change cursors: (messages, updates, the room's change_seq).
async fn sync_changes(
    client: &Connection,
    room: i64,
    seq: i64,
    change_seq: i64,
    limit: u32,
) -> (Vec<Message>, Vec<Message>, i64, bool) {
    match ok(
        client,
        Call::Sync(SyncArgs {
            cursors: vec![RoomCursor { room_id: room, seq }],
            limit: Some(limit),
            changes: vec![ChangeCursor {
                room_id: room,
                change_seq,
            }],
        }),
    )
    .await
    {
        Reply::Sync {
            messages,
            rooms,
            has_more,
            updates,
        } => {
            let change = rooms
                .iter()
                .find(|r| r.room_id == room)
                .map(|r| r.change_seq)
                .unwrap();
            (messages, updates, change, has_more)
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_reaches_every_member_live_and_keeps_the_earlier_text() {
    let s = cluster()
        .nodes(2)
        .users(&["alice", "bob"])
        .room(&["alice", "bob"])
        .start()
        .await;
    let room = s.rooms[0];
    let alice = s.connect(0, "alice").await;
    let bob = s.connect(1, "bob").await;
    let sent = say(&alice, room, "a-1", "lunch at 12?").await;
    assert_eq!((sent.edited_at_ms, sent.change_seq), (None, 0));

    let (message, changed) = edited(&alice, room, 1, "lunch at 12:30?").await;
    assert!(changed);
    assert_eq!(message.body, "lunch at 12:30?");
    assert_eq!(message.change_seq, 1);
    let at = message.edited_at_ms.expect("edited_at_ms");
    assert!(at >= sent.created_at_ms, "{at} < {}", sent.created_at_ms);
    // Bob, on the other node, gets the message as it is now.
    let push = push_where(
        &bob,
        "edited",
        |p| matches!(p, Push::Edited { message } if message.seq == 1 && message.room_id == room),
    )
    .await;
    let Push::Edited { message: pushed } = push else {
        unreachable!()
    };
    assert_eq!(pushed.body, "lunch at 12:30?");
    assert_eq!(pushed.edited_at_ms, Some(at));

    // The same text again changes nothing and pushes nothing; a second edit keeps both earlier texts.
    let (_, changed) = edited(&alice, room, 1, "lunch at 12:30?").await;
    assert!(!changed);
    edited(&alice, room, 1, "lunch at 1pm?").await;
    let earlier: Vec<String> = s
        .db()
        .query(
            "SELECT old_body FROM message_edits WHERE room_id = $1 AND seq = 1 ORDER BY edited_at",
            &[&room],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(earlier, ["lunch at 12?", "lunch at 12:30?"]);
    // Each edit that changed something is audited once (written just after the answer: polled).
    let audited =
        "SELECT count(*) FROM audit_log WHERE action = 'message_edited' AND actor = 'alice'";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while s.count(audited, &[]).await < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(s.count(audited, &[]).await, 2);

    // Search finds the text now, not the one before.
    assert_eq!(search_seqs(&bob, room, "1pm").await.len(), 1);
    assert_eq!(search_seqs(&bob, room, "12:30").await.len(), 0);
}

/// Search keys are written after the commit (migration 0014): a search finds the same messages before the indexer
/// has a room's new messages and after, an edit's new text and not its old one on either side, and a revoke leaves
/// no key with the old text behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_is_the_same_before_and_after_the_indexer_and_follows_edits_and_revokes() {
    let s = cluster()
        .nodes(1)
        // The indexer's own rounds wait an hour: this test runs them itself.
        .configure(|c| c.search_index_interval_ms = 3_600_000)
        .users(&["alice", "bob"])
        .room(&["alice", "bob"])
        .start()
        .await;
    let room = s.rooms[0];
    let alice = s.connect(0, "alice").await;
    let found = |q: &'static str| search_seqs(&alice, room, q);
    let key_of = |seq: i64| {
        let db = s.db();
        async move {
            db.query_opt(
                "SELECT key FROM message_search_keys WHERE room_id = $1 AND seq = $2",
                &[&room, &seq],
            )
            .await
            .unwrap()
            .map(|r| r.get::<_, String>(0))
        }
    };
    let lunch = say(&alice, room, "k1", "점심 메뉴: 비빔밥").await;
    let typo = say(&alice, room, "k2", "meeting at 10am in room B").await;
    let gone = say(&alice, room, "k3", "the password is hunter2").await;
    // Before the indexer: the run past indexed_seq is read directly.
    let store = &s.nodes[0].ctx.store;
    let indexed: i64 = s
        .db()
        .query_one(
            "SELECT coalesce((SELECT indexed_seq FROM search_progress WHERE room_id = $1), 0)",
            &[&room],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(indexed, 0, "the indexer has not run on this room yet");
    assert_eq!(found("비빔").await, [lunch.seq]);
    assert_eq!(found("10AM").await, [typo.seq]);
    // An edit before the indexer ran writes the key itself; the indexer keeps it.
    edited(&alice, room, typo.seq, "meeting at 11am in room B").await;
    store.index_search_keys(&[room]).await.unwrap();
    let progress: i64 = s
        .db()
        .query_one(
            "SELECT indexed_seq FROM search_progress WHERE room_id = $1",
            &[&room],
        )
        .await
        .unwrap()
        .get(0);
    assert!(progress >= gone.seq && progress >= indexed, "{progress}");
    assert_eq!(
        key_of(typo.seq).await.as_deref(),
        Some("meeting at 11am in room b")
    );
    // After the indexer: the same answers, now from the key index.
    assert_eq!(found("비빔").await, [lunch.seq]);
    assert_eq!(found("10am").await, Vec::<i64>::new());
    assert_eq!(found("11am").await, [typo.seq]);
    assert_eq!(found("hunter2").await, [gone.seq]);
    // An edit and a revoke after the indexer replace the key.
    edited(&alice, room, lunch.seq, "점심 메뉴: 냉면").await;
    assert_eq!(found("비빔").await, Vec::<i64>::new());
    assert_eq!(found("냉면").await, [lunch.seq]);
    ok(
        &alice,
        Call::Revoke(MessageRef {
            room_id: room,
            seq: gone.seq,
        }),
    )
    .await;
    assert_eq!(found("hunter2").await, Vec::<i64>::new());
    assert_eq!(key_of(gone.seq).await.as_deref(), Some(""));
    // A message sent after the indexer's round is found before the next one.
    let late = say(&alice, room, "k4", "냉면 좋아요").await;
    assert_eq!(found("냉면").await, [late.seq, lunch.seq]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_who_was_away_gets_edits_and_revokes_from_sync_once() {
    let s = cluster()
        .nodes(1)
        .users(&["alice", "bob"])
        .room(&["alice", "bob"])
        .start()
        .await;
    let room = s.rooms[0];
    let alice = s.connect(0, "alice").await;
    for i in 1..=4 {
        say(&alice, room, &format!("a-{i}"), &format!("draft {i}")).await;
    }
    // Bob holds seq 1..=4 and every change so far (none).
    let (_, updates, change, _) = sync_changes(&alice, room, 4, 0, 100).await;
    assert!(updates.is_empty());
    assert_eq!(change, 0);

    // While bob is away: two edits of seq 2, one of seq 3, a revoke of seq 4, and a new message 5 edited too.
    edited(&alice, room, 2, "final 2").await;
    edited(&alice, room, 3, "final 3").await;
    edited(&alice, room, 2, "really final 2").await;
    ok(
        &alice,
        Call::Revoke(MessageRef {
            room_id: room,
            seq: 4,
        }),
    )
    .await;
    say(&alice, room, "a-5", "draft 5").await;
    edited(&alice, room, 5, "final 5").await;

    let bob = s.connect(0, "bob").await;
    let (messages, updates, change, has_more) = sync_changes(&bob, room, 4, 0, 100).await;
    assert!(!has_more);
    assert_eq!(change, 5, "five changes in the room");
    // The new message comes as a message in its current state, not as an update too.
    assert_eq!(messages.len(), 1);
    assert_eq!((messages[0].seq, messages[0].body.as_str()), (5, "final 5"));
    // The held ones come once each, in change order, as they are now.
    let got: Vec<(i64, i64, &str, bool)> = updates
        .iter()
        .map(|m| (m.seq, m.change_seq, m.body.as_str(), m.revoked))
        .collect();
    assert_eq!(
        got,
        [
            (3, 2, "final 3", false),
            (2, 3, "really final 2", false),
            (4, 4, "", true)
        ]
    );
    assert!(updates[..2].iter().all(|m| m.edited_at_ms.is_some()));

    // Paged: one update per page, the change cursor advanced from the last one held.
    let (_, first, _, more) = sync_changes(&bob, room, 5, 0, 1).await;
    assert!(more);
    assert_eq!(first.iter().map(|m| m.change_seq).collect::<Vec<_>>(), [2]);
    let (_, second, _, _) = sync_changes(&bob, room, 5, 2, 1).await;
    assert_eq!(second.iter().map(|m| m.change_seq).collect::<Vec<_>>(), [3]);
    // Caught up: nothing comes twice.
    let (messages, updates, _, has_more) = sync_changes(&bob, room, 5, 5, 100).await;
    assert!(messages.is_empty() && updates.is_empty() && !has_more);
    // A room named twice among the change cursors is refused.
    refused(
        &bob,
        Call::Sync(SyncArgs {
            cursors: vec![RoomCursor {
                room_id: room,
                seq: 5,
            }],
            limit: None,
            changes: vec![
                ChangeCursor {
                    room_id: room,
                    change_seq: 0,
                },
                ChangeCursor {
                    room_id: room,
                    change_seq: 1,
                },
            ],
        }),
        ErrorCode::BadArgs,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_may_not_be_edited_is_refused_and_changes_nothing() {
    let s = cluster()
        .nodes(1)
        .users(&["alice", "bob"])
        .room(&["alice", "bob"])
        .start()
        .await;
    let room = s.rooms[0];
    let alice = s.connect(0, "alice").await;
    let bob = s.connect(0, "bob").await;
    messages_to_refuse(&alice, &alice, room).await;
    s.db()
        .execute(
            "UPDATE messages SET created_at = now() - interval '2 days' WHERE room_id = $1 AND seq = 1",
            &[&room],
        )
        .await
        .unwrap();
    let before = s.fingerprint().await;

    // Past the 24 h window; someone else's; revoked; deleted for the caller; a system message; no such message.
    refused(&alice, edit(room, 1, "new news"), ErrorCode::Forbidden).await;
    refused(&bob, edit(room, 3, "bob's text"), ErrorCode::Forbidden).await;
    refused(&alice, edit(room, 2, "back again"), ErrorCode::NotFound).await;
    refused(&alice, edit(room, 3, "back again"), ErrorCode::NotFound).await;
    refused(&alice, edit(room, 4, "not a pin"), ErrorCode::Forbidden).await;
    refused(&alice, edit(room, 99, "nothing"), ErrorCode::NotFound).await;
    // Bad bodies: blank text, NUL, too long.
    say(&alice, room, "a-5", "fresh").await;
    let fresh = s
        .count(
            "SELECT seq FROM messages WHERE room_id = $1 AND client_msg_id = 'a-5'",
            &[&room],
        )
        .await;
    let after_send = s.fingerprint().await;
    refused(&alice, edit(room, fresh, "   "), ErrorCode::BadArgs).await;
    refused(&alice, edit(room, fresh, "a\0b"), ErrorCode::BadArgs).await;
    refused(
        &alice,
        edit(room, fresh, &"x".repeat(16_385)),
        ErrorCode::BadArgs,
    )
    .await;
    assert_eq!(s.fingerprint().await, after_send);
    assert_ne!(before, after_send);
    // The sender's message stays theirs to edit after all that.
    let (message, changed) = edited(&alice, room, fresh, "fresh, edited").await;
    assert!(changed && message.kind == MessageKind::Text);
}
