//! Search across all of a user's rooms (`search_all`, issue 18) over the wire, on real PostgreSQL and Redis:
//! Korean and English, newest first over every room the caller is in and no other, with room, sender and date
//! filters, paged by cursor without a gap or a repeat — the same answers whether the term is looked up in the
//! trigram index or found by walking the keys newest first, and whether the indexer has run or not. What the
//! caller may not see (other people's rooms, rooms left, messages deleted for themselves, cleared chats, revoked
//! and system messages) never appears; bad arguments are refused with `bad_args`.

mod support;

use std::time::Duration;

use sendjay_client::Connection;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{Call, Message, MessageRef, Reply, RoomArgs, SearchAllArgs};
use support::cluster;
use support::rules::{ok, refused, say};

/// `(room_id, seq)` of every message.
fn refs(messages: &[Message]) -> Vec<(i64, i64)> {
    messages.iter().map(|m| (m.room_id, m.seq)).collect()
}

/// One `search_all` page: the messages and the next cursor.
async fn page(client: &Connection, args: SearchAllArgs) -> (Vec<Message>, Option<String>) {
    match ok(client, Call::SearchAll(args)).await {
        Reply::SearchAll {
            messages,
            has_more,
            next_cursor,
        } => {
            assert_eq!(
                has_more,
                next_cursor.is_some(),
                "has_more and next_cursor agree"
            );
            (messages, next_cursor)
        }
        other => panic!("{other:?}"),
    }
}

/// Every match of `args`, following cursors `limit` at a time; asserts nothing comes twice.
async fn all_pages(client: &Connection, args: SearchAllArgs, limit: u32) -> Vec<(i64, i64)> {
    let mut found = Vec::new();
    let mut cursor = None;
    for pages in 1.. {
        assert!(pages <= 100, "still more pages after 100: {found:?}");
        let (messages, next) = page(
            client,
            SearchAllArgs {
                cursor: cursor.clone(),
                limit: Some(limit),
                ..args.clone()
            },
        )
        .await;
        assert!(messages.len() <= limit as usize);
        found.extend(refs(&messages));
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut seen = std::collections::HashSet::new();
    assert!(
        found.iter().all(|r| seen.insert(*r)),
        "a match came twice: {found:?}"
    );
    found
}

fn text(query: &str) -> SearchAllArgs {
    SearchAllArgs {
        query: query.into(),
        ..Default::default()
    }
}

/// Sends and waits a little, so every message has its own millisecond (the date filters are in ms).
async fn said(client: &Connection, room: i64, id: &str, body: &str) -> Message {
    let m = say(client, room, id, body).await;
    tokio::time::sleep(Duration::from_millis(3)).await;
    m
}

/// The whole story, with the trigram index allowed for rare terms (`candidates` 2 000) or never (`0`: every
/// term is found by the newest-first walk), and the walk reading at most `walk` keys per request.
async fn searches_across_rooms(candidates: i64, walk: i64) {
    let s = cluster()
        .nodes(2)
        .configure(move |c| {
            c.search_all_candidates = candidates;
            c.search_all_walk = walk;
            // The indexer's own rounds wait an hour: the test indexes one room itself and leaves the others.
            c.search_index_interval_ms = 3_600_000;
        })
        .users(&["alice", "bob", "carol"])
        .room(&["alice", "bob"])
        .room(&["alice", "bob", "carol"])
        .room(&["bob", "carol"])
        .start()
        .await;
    let (pair, team, others) = (s.rooms[0], s.rooms[1], s.rooms[2]);
    let alice = s.connect(0, "alice").await;
    let bob = s.connect(1, "bob").await;
    let carol = s.connect(1, "carol").await;

    let slides = said(&alice, pair, "s1", "회의 자료 보냈어요").await;
    let lunch = said(&bob, pair, "s2", "Lunch MEETING at noon?").await;
    let three = said(&bob, pair, "s3", "회의는 3시에 해요").await;
    let secret = said(&bob, others, "s4", "비밀 회의 meeting").await;
    let notes = said(&carol, team, "s5", "meeting notes: 회의록 올림").await;
    let _plain = said(&carol, team, "s6", "nothing to see").await;
    let r = |m: &Message| (m.room_id, m.seq);
    // The team room's keys are written (the index path); the pair's messages are past its indexed seq (read
    // directly), so both halves meet in one result — the directly read ones older than the indexed ones.
    s.nodes[0]
        .ctx
        .store
        .index_search_keys(&[team, others])
        .await
        .unwrap();

    // Newest first across alice's rooms, never bob and carol's room; any script, any case.
    let korean = all_pages(&alice, text("회의"), 50).await;
    assert_eq!(korean, [r(&notes), r(&three), r(&slides)]);
    assert_eq!(
        all_pages(&alice, text("meeting"), 50).await,
        [r(&notes), r(&lunch)]
    );
    assert_eq!(
        all_pages(&bob, text("회의"), 50).await,
        [r(&notes), r(&secret), r(&three), r(&slides)]
    );
    assert_eq!(all_pages(&alice, text("비밀"), 50).await, []);
    // One page at a time gives the same list, without a gap or a repeat.
    assert_eq!(all_pages(&alice, text("회의"), 1).await, korean);
    assert_eq!(all_pages(&bob, text("회의"), 3).await.len(), 4);
    assert_eq!(all_pages(&alice, text("3시"), 50).await, [r(&three)]);
    // Terms without a trigram (two Latin letters) are found by the walk whatever the setting.
    assert_eq!(all_pages(&alice, text("AT"), 50).await, [r(&lunch)]);

    // Filters: rooms, sender, dates (at or after; before), together.
    let in_rooms = |rooms: Vec<i64>| SearchAllArgs {
        room_ids: Some(rooms),
        ..text("회의")
    };
    assert_eq!(
        all_pages(&alice, in_rooms(vec![team]), 50).await,
        [r(&notes)]
    );
    assert_eq!(
        all_pages(&alice, in_rooms(vec![pair, team, pair]), 50).await,
        korean
    );
    let from_bob = SearchAllArgs {
        sender_id: Some("bob".into()),
        ..text("회의")
    };
    assert_eq!(all_pages(&alice, from_bob, 50).await, [r(&three)]);
    let since_three = SearchAllArgs {
        after_ms: Some(three.created_at_ms),
        ..text("회의")
    };
    assert_eq!(
        all_pages(&alice, since_three, 50).await,
        [r(&notes), r(&three)]
    );
    let before_three = SearchAllArgs {
        before_ms: Some(three.created_at_ms),
        ..text("회의")
    };
    assert_eq!(all_pages(&alice, before_three, 50).await, [r(&slides)]);
    let window = SearchAllArgs {
        after_ms: Some(slides.created_at_ms + 1),
        before_ms: Some(notes.created_at_ms),
        room_ids: Some(vec![pair]),
        ..text("회의")
    };
    assert_eq!(all_pages(&bob, window, 50).await, [r(&three)]);

    // Refused, with what to do: a room that is not hers, one that does not exist, bad arguments.
    refused(
        &alice,
        Call::SearchAll(in_rooms(vec![pair, others])),
        ErrorCode::NotMember,
    )
    .await;
    refused(
        &alice,
        Call::SearchAll(in_rooms(vec![999_999])),
        ErrorCode::NotFound,
    )
    .await;
    refused(
        &alice,
        Call::SearchAll(in_rooms(vec![])),
        ErrorCode::BadArgs,
    )
    .await;
    refused(
        &alice,
        Call::SearchAll(in_rooms((1..=101).collect())),
        ErrorCode::BadArgs,
    )
    .await;
    refused(&alice, Call::SearchAll(text("  ")), ErrorCode::BadArgs).await;
    refused(
        &alice,
        Call::SearchAll(text(&"가".repeat(101))),
        ErrorCode::BadArgs,
    )
    .await;
    for cursor in ["", "1.2", "x.y.z", "-5.1.1"] {
        let bad = SearchAllArgs {
            cursor: Some(cursor.into()),
            ..text("회의")
        };
        refused(&alice, Call::SearchAll(bad), ErrorCode::BadArgs).await;
    }
    let zero = SearchAllArgs {
        limit: Some(0),
        ..text("회의")
    };
    refused(&alice, Call::SearchAll(zero), ErrorCode::BadArgs).await;
    let negative = SearchAllArgs {
        after_ms: Some(-1),
        ..text("회의")
    };
    refused(&alice, Call::SearchAll(negative), ErrorCode::BadArgs).await;

    // What alice may no longer see: deleted for herself, revoked, a cleared chat, a room she left.
    ok(&alice, Call::DeleteForMe(r_ref(&slides))).await;
    assert_eq!(
        all_pages(&alice, text("회의"), 50).await,
        [r(&notes), r(&three)]
    );
    assert_eq!(
        all_pages(&bob, text("회의"), 50).await.len(),
        4,
        "bob still sees it"
    );
    ok(&bob, Call::Revoke(r_ref(&three))).await;
    assert_eq!(all_pages(&alice, text("회의"), 50).await, [r(&notes)]);
    ok(&alice, Call::ClearRoom(RoomArgs { room_id: team })).await;
    assert_eq!(all_pages(&alice, text("회의"), 50).await, []);
    let later = said(&carol, team, "s7", "회의 끝").await;
    assert_eq!(all_pages(&alice, text("회의"), 50).await, [r(&later)]);
    ok(&alice, Call::Leave(RoomArgs { room_id: team })).await;
    assert_eq!(all_pages(&alice, text("회의"), 50).await, []);
    refused(
        &alice,
        Call::SearchAll(in_rooms(vec![team])),
        ErrorCode::NotMember,
    )
    .await;
    // The system messages of the leave and the clear are never matches, for anyone.
    assert_eq!(
        all_pages(&carol, text("alice"), 50).await,
        [],
        "system messages naming alice are not found"
    );
}

fn r_ref(m: &Message) -> MessageRef {
    MessageRef {
        room_id: m.room_id,
        seq: m.seq,
    }
}

#[tokio::test]
async fn rare_terms_through_the_trigram_index() {
    // The walk's first chunk (two keys) never fills a page here: the rest comes from the index.
    searches_across_rooms(2_000, 2).await;
}

#[tokio::test]
async fn common_terms_by_walking_the_keys_newest_first() {
    searches_across_rooms(0, 20_000).await;
}

/// A walk that may read only two keys per request ends its pages early (some empty, each with a cursor), and
/// following the cursors still finds every match once, in order.
#[tokio::test]
async fn a_walk_stopped_early_goes_on_from_its_cursor() {
    searches_across_rooms(0, 2).await;
}
