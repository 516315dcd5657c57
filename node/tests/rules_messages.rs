//! Messages over the wire: image, file and file-link types with validated metadata, replies, forwards,
//! revokes within a window, delete for me, and search (Korean and English substrings, one member's messages,
//! images, files and links).

mod support;

use std::time::Duration;

use sendjay_client::Connection;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{
    Call, DeviceClass, FileInfo, ForwardArgs, HistoryArgs, MediaFilter, Message, MessageKind,
    MessageRef, Push, Reply, SearchArgs, SendRichArgs,
};
use support::cluster;
use support::rules::{ok, push_where, refused, say};

fn file(name: &str, mime: &str) -> FileInfo {
    FileInfo {
        file_id: if name.is_ascii() {
            format!("fs-{name}")
        } else {
            "fs-utf8".into()
        },
        name: name.into(),
        size: 2048,
        mime: mime.into(),
        width: None,
        height: None,
        ..Default::default()
    }
}

async fn send_rich(client: &Connection, args: SendRichArgs) -> Message {
    match ok(client, Call::SendRich(args)).await {
        Reply::Send { message, .. } => message,
        other => panic!("{other:?}"),
    }
}

async fn history(client: &Connection, room: i64) -> Vec<Message> {
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
        Reply::History { messages, .. } => messages,
        other => panic!("{other:?}"),
    }
}

async fn search(client: &Connection, args: SearchArgs) -> Vec<i64> {
    match ok(client, Call::Search(args)).await {
        Reply::Search { messages, .. } => messages.iter().map(|m| m.seq).collect(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_files_and_file_links_carry_validated_metadata() {
    let cluster = cluster()
        .nodes(2)
        .users(&["alice", "bob", "carol"])
        .room(&["alice", "bob"])
        .room(&["bob", "carol"])
        .room(&["carol"])
        .start()
        .await;
    let [team, other, secret] = cluster.rooms[..] else {
        unreachable!()
    };
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(1, "bob").await;
    let carol = cluster.connect(1, "carol").await;

    let mut photo = file("사진.png", "image/png");
    photo.width = Some(1920);
    photo.height = Some(1080);
    cluster.seed_file("alice", team, &photo).await;
    cluster
        .seed_file("alice", team, &file("report.pdf", "application/pdf"))
        .await;
    let image = send_rich(
        &alice,
        SendRichArgs {
            room_id: team,
            client_msg_id: "img".into(),
            kind: MessageKind::Image,
            file: Some(photo.clone()),
            ..Default::default()
        },
    )
    .await;
    let stored = image.file.clone().expect("an image carries its file");
    assert!(stored.expires_at_ms.is_some(), "the server adds the expiry");
    assert_eq!(
        (
            image.kind,
            &stored.file_id,
            &stored.name,
            image.body.as_str()
        ),
        (MessageKind::Image, &photo.file_id, &photo.name, "")
    );
    let pushed = push_where(
        &bob,
        "the image",
        |p| matches!(p, Push::Message { message } if message.seq == image.seq),
    )
    .await;
    assert_eq!(
        pushed,
        Push::Message {
            message: image.clone()
        },
        "members receive the metadata"
    );
    let report = send_rich(
        &alice,
        SendRichArgs {
            room_id: team,
            client_msg_id: "pdf".into(),
            kind: MessageKind::File,
            body: "이번 분기 보고서".into(),
            file: Some(file("report.pdf", "application/pdf")),
            ..Default::default()
        },
    )
    .await;

    // Bob sends the same file into another room without uploading it again.
    let link = send_rich(
        &bob,
        SendRichArgs {
            room_id: other,
            client_msg_id: "link".into(),
            kind: MessageKind::FileLink,
            file_link: Some(MessageRef {
                room_id: team,
                seq: report.seq,
            }),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(link.kind, MessageKind::FileLink);
    assert_eq!(link.file, report.file, "same file id, name, size and type");
    let seen = history(&carol, other).await;
    assert_eq!(
        seen[0].file.as_ref().map(|f| f.file_id.as_str()),
        Some("fs-report.pdf")
    );

    // Refused: each with bad_args / not_member / not_found, and nothing stored.
    let before = cluster.fingerprint().await;
    let bad = |kind, file: Option<FileInfo>, link: Option<MessageRef>| SendRichArgs {
        room_id: team,
        client_msg_id: "bad".into(),
        kind,
        file,
        file_link: link,
        ..Default::default()
    };
    for args in [
        bad(MessageKind::Image, None, None),
        bad(
            MessageKind::Image,
            Some(file("a.pdf", "application/pdf")),
            None,
        ),
        bad(
            MessageKind::File,
            Some(FileInfo {
                size: 0,
                ..file("a", "text/plain")
            }),
            None,
        ),
        bad(
            MessageKind::File,
            Some(file("../../etc/passwd", "text/plain")),
            None,
        ),
        bad(MessageKind::File, Some(file("a", "not a mime")), None),
        bad(MessageKind::FileLink, None, None),
        bad(
            MessageKind::FileLink,
            Some(photo.clone()),
            Some(MessageRef {
                room_id: team,
                seq: report.seq,
            }),
        ),
        bad(MessageKind::System, None, None),
        bad(MessageKind::Text, Some(photo.clone()), None),
        bad(
            MessageKind::FileLink,
            None,
            Some(MessageRef {
                room_id: team,
                seq: 101,
            }),
        ),
    ] {
        let code = if args.file_link.is_some_and(|l| l.seq > 100) {
            ErrorCode::NotFound
        } else {
            ErrorCode::BadArgs
        };
        refused(&alice, Call::SendRich(args), code).await;
    }
    // A file link to a text message, or into a room the sender cannot see.
    let text = say(&alice, team, "t", "plain").await;
    let before_text = cluster.fingerprint().await;
    refused(
        &alice,
        Call::SendRich(bad(
            MessageKind::FileLink,
            None,
            Some(MessageRef {
                room_id: team,
                seq: text.seq,
            }),
        )),
        ErrorCode::BadArgs,
    )
    .await;
    refused(
        &alice,
        Call::SendRich(bad(
            MessageKind::FileLink,
            None,
            Some(MessageRef {
                room_id: secret,
                seq: 1,
            }),
        )),
        ErrorCode::NotMember,
    )
    .await;
    assert_eq!(cluster.fingerprint().await, before_text);
    assert_ne!(before, before_text, "the plain text in between was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_quote_and_forwards_copy_into_rooms_the_sender_belongs_to() {
    let cluster = cluster()
        .users(&["alice", "bob", "carol"])
        .room(&["alice", "bob"])
        .room(&["alice", "carol"])
        .room(&["bob", "carol"])
        .start()
        .await;
    let [team, mine, closed] = cluster.rooms[..] else {
        unreachable!()
    };
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(0, "bob").await;
    let question = say(&bob, team, "q", "회의는 몇 시인가요?").await;
    let answer = send_rich(
        &alice,
        SendRichArgs {
            room_id: team,
            client_msg_id: "a".into(),
            body: "3시요".into(),
            reply_to: Some(question.seq),
            ..Default::default()
        },
    )
    .await;
    let quote = answer.reply_to.clone().expect("quote");
    assert_eq!(
        (quote.seq, quote.sender_id.as_str(), quote.preview.as_str()),
        (question.seq, "bob", "회의는 몇 시인가요?")
    );
    assert_eq!(history(&bob, team).await[0].reply_to, Some(quote));
    refused(
        &alice,
        Call::SendRich(SendRichArgs {
            room_id: team,
            client_msg_id: "r2".into(),
            body: "x".into(),
            reply_to: Some(999),
            ..Default::default()
        }),
        ErrorCode::NotFound,
    )
    .await;

    // Forward into another room of alice: a copy marked forwarded, same content.
    let Reply::Forward { message, duplicate } = ok(
        &alice,
        Call::Forward(ForwardArgs {
            room_id: team,
            seq: question.seq,
            to_room_id: mine,
            client_msg_id: "fw".into(),
        }),
    )
    .await
    else {
        panic!()
    };
    assert!(!duplicate && message.forwarded);
    assert_eq!(
        (
            message.room_id,
            message.body.as_str(),
            message.sender_id.as_str()
        ),
        (mine, "회의는 몇 시인가요?", "alice")
    );
    // Retrying is idempotent.
    let Reply::Forward {
        message: again,
        duplicate,
    } = ok(
        &alice,
        Call::Forward(ForwardArgs {
            room_id: team,
            seq: question.seq,
            to_room_id: mine,
            client_msg_id: "fw".into(),
        }),
    )
    .await
    else {
        panic!()
    };
    assert!(duplicate && again.seq == message.seq);
    // Not into a room alice is not in, not out of one, not a missing message.
    let before = cluster.fingerprint().await;
    refused(
        &alice,
        Call::Forward(ForwardArgs {
            room_id: team,
            seq: question.seq,
            to_room_id: closed,
            client_msg_id: "x".into(),
        }),
        ErrorCode::NotMember,
    )
    .await;
    refused(
        &alice,
        Call::Forward(ForwardArgs {
            room_id: closed,
            seq: 1,
            to_room_id: mine,
            client_msg_id: "y".into(),
        }),
        ErrorCode::NotMember,
    )
    .await;
    refused(
        &alice,
        Call::Forward(ForwardArgs {
            room_id: team,
            seq: 77,
            to_room_id: mine,
            client_msg_id: "z".into(),
        }),
        ErrorCode::NotFound,
    )
    .await;
    assert_eq!(cluster.fingerprint().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_erases_the_body_for_everyone_within_the_window_only_for_the_sender() {
    support::rules::show_node_logs();
    let cluster = cluster()
        .nodes(2)
        .configure(|c| c.revoke_window_secs = 3)
        .users(&["alice", "bob"])
        .room(&["alice", "bob"])
        .start()
        .await;
    let room = cluster.rooms[0];
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(1, "bob").await;
    cluster
        .seed_file("alice", room, &file("keys.txt", "text/plain"))
        .await;
    let oops = send_rich(
        &alice,
        SendRichArgs {
            room_id: room,
            client_msg_id: "oops".into(),
            kind: MessageKind::File,
            body: "비밀번호는 hunter2".into(),
            file: Some(file("keys.txt", "text/plain")),
            ..Default::default()
        },
    )
    .await;
    let reply = send_rich(
        &bob,
        SendRichArgs {
            room_id: room,
            client_msg_id: "re".into(),
            body: "?".into(),
            reply_to: Some(oops.seq),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        reply.reply_to.as_ref().map(|q| q.preview.as_str()),
        Some("비밀번호는 hunter2")
    );
    let before = cluster.fingerprint().await;
    refused(
        &bob,
        Call::Revoke(MessageRef {
            room_id: room,
            seq: oops.seq,
        }),
        ErrorCode::Forbidden,
    )
    .await;
    assert_eq!(
        cluster.fingerprint().await,
        before,
        "only the sender may revoke"
    );

    ok(
        &alice,
        Call::Revoke(MessageRef {
            room_id: room,
            seq: oops.seq,
        }),
    )
    .await;
    push_where(
        &bob,
        "revoked",
        |p| matches!(p, Push::Revoked { seq, .. } if *seq == oops.seq),
    )
    .await;
    // Gone from the server, not just hidden: the row has no body and no file.
    let row = cluster.db().query_one("SELECT body, file IS NULL, revoked_at IS NOT NULL FROM messages WHERE room_id = $1 AND seq = $2", &[&room, &oops.seq]).await.unwrap();
    assert_eq!(
        (row.get::<_, String>(0).as_str(), row.get(1), row.get(2)),
        ("", true, true)
    );
    let seen = history(&bob, room).await;
    let revoked = seen.iter().find(|m| m.seq == oops.seq).unwrap();
    assert!(revoked.revoked && revoked.body.is_empty() && revoked.file.is_none());
    let quoting = seen.iter().find(|m| m.seq == reply.seq).unwrap();
    assert_eq!(
        quoting
            .reply_to
            .as_ref()
            .map(|q| (q.revoked, q.preview.as_str())),
        Some((true, ""))
    );
    // Idempotent; and after the window, refused.
    ok(
        &alice,
        Call::Revoke(MessageRef {
            room_id: room,
            seq: oops.seq,
        }),
    )
    .await;
    let late = say(&alice, room, "late", "too late to take back").await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    refused(
        &alice,
        Call::Revoke(MessageRef {
            room_id: room,
            seq: late.seq,
        }),
        ErrorCode::Forbidden,
    )
    .await;
    refused(
        &alice,
        Call::Revoke(MessageRef {
            room_id: room,
            seq: 999,
        }),
        ErrorCode::NotFound,
    )
    .await;
    assert_eq!(history(&bob, room).await[0].body, "too late to take back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_for_me_hides_a_message_for_that_user_only_on_all_their_devices() {
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
    let m = say(&bob, room, "1", "embarrassing").await;
    ok(
        &web,
        Call::DeleteForMe(MessageRef {
            room_id: room,
            seq: m.seq,
        }),
    )
    .await;
    push_where(
        &mobile,
        "hidden on the other device",
        |p| matches!(p, Push::Hidden { seq, .. } if *seq == m.seq),
    )
    .await;
    let mine = history(&mobile, room).await;
    assert!(mine[0].hidden && mine[0].body.is_empty(), "{:?}", mine[0]);
    let theirs = history(&bob, room).await;
    assert!(!theirs[0].hidden && theirs[0].body == "embarrassing");
    assert_eq!(
        cluster
            .count(
                "SELECT count(*) FROM messages WHERE body = 'embarrassing'",
                &[]
            )
            .await,
        1
    );
    refused(
        &web,
        Call::DeleteForMe(MessageRef {
            room_id: room,
            seq: 42,
        }),
        ErrorCode::NotFound,
    )
    .await;
    // Hidden messages are not searched, not forwarded.
    let found = search(
        &web,
        SearchArgs {
            room_id: room,
            query: Some("embarrass".into()),
            ..Default::default()
        },
    )
    .await;
    assert!(found.is_empty());
    let mine_too = cluster.room(&["alice"]).await;
    refused(
        &web,
        Call::Forward(ForwardArgs {
            room_id: room,
            seq: m.seq,
            to_room_id: mine_too,
            client_msg_id: "f".into(),
        }),
        ErrorCode::NotFound,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_korean_and_english_substrings_one_members_messages_and_media() {
    support::rules::show_node_logs();
    let cluster = cluster()
        .users(&["alice", "bob"])
        .room(&["alice", "bob"])
        .room(&["alice", "bob"])
        .start()
        .await;
    let [room, elsewhere] = cluster.rooms[..] else {
        unreachable!()
    };
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(0, "bob").await;
    let texts = [
        (&alice, "오늘 회의는 3시에 시작합니다"), // 1
        (&bob, "회의록 올렸어요 https://wiki.example.com/meeting"), // 2
        (&alice, "Deploy finished, see http://ci.example.com/42"), // 3
        (&bob, "점심 뭐 먹을까요?"),              // 4
        (&alice, "DEPLOYMENT freeze starts Friday"), // 5
        (&bob, "회"),                             // 6
    ];
    for (i, (who, text)) in texts.iter().enumerate() {
        say(who, room, &format!("t{i}"), text).await;
    }
    say(&alice, elsewhere, "other", "회의 in another room").await;
    cluster
        .seed_file("alice", room, &file("room.jpg", "image/jpeg"))
        .await;
    cluster
        .seed_file("bob", room, &file("agenda.pdf", "application/pdf"))
        .await;
    let image = send_rich(
        &alice,
        SendRichArgs {
            room_id: room,
            client_msg_id: "img".into(),
            kind: MessageKind::Image,
            body: "회의실 사진".into(),
            file: Some(file("room.jpg", "image/jpeg")),
            ..Default::default()
        },
    )
    .await;
    let pdf = send_rich(
        &bob,
        SendRichArgs {
            room_id: room,
            client_msg_id: "pdf".into(),
            kind: MessageKind::File,
            file: Some(file("agenda.pdf", "application/pdf")),
            ..Default::default()
        },
    )
    .await;
    let q = |text: &str| SearchArgs {
        room_id: room,
        query: Some(text.into()),
        ..Default::default()
    };
    // Two-syllable and one-syllable Korean substrings, newest first, only in this room.
    assert_eq!(search(&alice, q("회의")).await, vec![image.seq, 2, 1]);
    assert_eq!(search(&alice, q("회")).await, vec![image.seq, 6, 2, 1]);
    assert_eq!(search(&alice, q("시작")).await, vec![1]);
    assert_eq!(search(&alice, q("점심 뭐")).await, vec![4]);
    // English, case-insensitive, inside words.
    assert_eq!(search(&alice, q("deploy")).await, vec![5, 3]);
    assert_eq!(search(&alice, q("PLOYM")).await, vec![5]);
    assert!(search(&alice, q("없는말")).await.is_empty());
    // LIKE wildcards in a query are plain characters.
    assert!(search(&alice, q("%")).await.is_empty());
    assert!(search(&alice, q("_")).await.is_empty());
    // One member's messages; combined with text.
    let by_bob = SearchArgs {
        room_id: room,
        sender_id: Some("bob".into()),
        ..Default::default()
    };
    assert_eq!(search(&alice, by_bob.clone()).await, vec![pdf.seq, 6, 4, 2]);
    assert_eq!(
        search(
            &alice,
            SearchArgs {
                query: Some("회의".into()),
                ..by_bob
            }
        )
        .await,
        vec![2]
    );
    // Images, files, links.
    let media = |kind| SearchArgs {
        room_id: room,
        kind: Some(kind),
        ..Default::default()
    };
    assert_eq!(
        search(&alice, media(MediaFilter::Image)).await,
        vec![image.seq]
    );
    assert_eq!(
        search(&alice, media(MediaFilter::File)).await,
        vec![pdf.seq]
    );
    assert_eq!(search(&alice, media(MediaFilter::Link)).await, vec![3, 2]);
    // Paging backwards.
    let Reply::Search {
        messages, has_more, ..
    } = ok(
        &alice,
        Call::Search(SearchArgs {
            limit: Some(2),
            ..q("회")
        }),
    )
    .await
    else {
        panic!()
    };
    assert!(has_more && messages.len() == 2);
    let rest = search(
        &alice,
        SearchArgs {
            before_seq: Some(messages[1].seq),
            ..q("회")
        },
    )
    .await;
    assert_eq!(rest, vec![2, 1]);
    // Revoked messages are not found.
    ok(
        &bob,
        Call::Revoke(MessageRef {
            room_id: room,
            seq: 2,
        }),
    )
    .await;
    assert_eq!(search(&alice, q("회의")).await, vec![image.seq, 1]);
    assert_eq!(search(&alice, media(MediaFilter::Link)).await, vec![3]);
    // Bad queries.
    refused(&alice, Call::Search(q("  ")), ErrorCode::BadArgs).await;
    refused(
        &alice,
        Call::Search(q(&"가".repeat(101))),
        ErrorCode::BadArgs,
    )
    .await;
    refused(
        &alice,
        Call::Search(SearchArgs {
            limit: Some(0),
            ..q("a")
        }),
        ErrorCode::BadArgs,
    )
    .await;
}

/// The search index is used for Korean text (the reason for `sj_search_key`): the plan names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn korean_search_uses_the_trigram_index() {
    let cluster = cluster().users(&["alice"]).room(&["alice"]).start().await;
    let room = cluster.rooms[0];
    cluster
        .db()
        .execute(
            "INSERT INTO messages (room_id, seq, sender_id, client_msg_id, body)
             SELECT $1, i, 'alice', 'c' || i, CASE WHEN i % 1000 = 0 THEN '주간 회의 안건' ELSE 'message number ' || i END
               FROM generate_series(1, 20000) i",
            &[&room],
        )
        .await
        .unwrap();
    cluster
        .db()
        .execute("UPDATE rooms SET last_seq = 20000 WHERE id = $1", &[&room])
        .await
        .unwrap();
    // Messages written by SQL have no search keys until an indexer round writes them (as the node's sweep would).
    let indexed = cluster.nodes[0]
        .ctx
        .store
        .index_search_keys(&[room])
        .await
        .unwrap();
    let keys: i64 = cluster
        .db()
        .query_one(
            "SELECT count(*) FROM message_search_keys WHERE room_id = $1",
            &[&room],
        )
        .await
        .unwrap()
        .get(0);
    assert!(indexed <= 20000, "{indexed}");
    assert_eq!(keys, 20000, "every message has its key");
    cluster
        .db()
        .batch_execute("ANALYZE messages; ANALYZE message_search_keys")
        .await
        .unwrap();
    let plan: Vec<String> = cluster
        .db()
        .query(
            &format!(
                "EXPLAIN SELECT seq FROM messages m WHERE m.room_id = $1 {}",
                sendjay_node::store::search_keys::text_condition(2)
            ),
            &[&room, &"회의"],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        plan.iter()
            .any(|l| l.contains("message_search_keys_trigrams")),
        "{plan:#?}"
    );
    let alice = cluster.connect(0, "alice").await;
    let found = search(
        &alice,
        SearchArgs {
            room_id: room,
            query: Some("회의".into()),
            limit: Some(100),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(found.len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_revoke_window_is_the_original_products_24_hours() {
    let cluster = cluster()
        .nodes(1)
        .users(&["alice", "bob"])
        .room(&["alice", "bob"])
        .start()
        .await;
    let room = cluster.rooms[0];
    let alice = cluster.connect(0, "alice").await;
    let mut seqs = Vec::new();
    for id in ["yesterday-evening", "day-before"] {
        let message = send_rich(
            &alice,
            SendRichArgs {
                room_id: room,
                client_msg_id: id.into(),
                body: id.into(),
                ..Default::default()
            },
        )
        .await;
        seqs.push(message.seq);
    }
    // Age the two messages: 23 hours (inside the window) and 25 hours (outside).
    for (seq, hours) in [(seqs[0], 23i32), (seqs[1], 25i32)] {
        cluster
            .db()
            .execute(
                "UPDATE messages SET created_at = now() - make_interval(hours => $3) \
                 WHERE room_id = $1 AND seq = $2",
                &[&room, &seq, &hours],
            )
            .await
            .unwrap();
    }
    ok(
        &alice,
        Call::Revoke(MessageRef {
            room_id: room,
            seq: seqs[0],
        }),
    )
    .await;
    refused(
        &alice,
        Call::Revoke(MessageRef {
            room_id: room,
            seq: seqs[1],
        }),
        ErrorCode::Forbidden,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_come_with_the_message_in_the_answer_the_push_and_history_and_go_with_a_revoke() {
    let cluster = cluster()
        .nodes(2)
        .users(&["alice", "bob", "carol"])
        .room(&["alice", "bob", "carol"])
        .start()
        .await;
    let room = cluster.rooms[0];
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(1, "bob").await;
    let sent = say(
        &alice,
        room,
        "m1",
        "@bob 회의 자료 봤어요? cc @carol, mail kim@example.com @bob",
    )
    .await;
    assert_eq!(
        sent.mentions,
        ["bob", "carol"],
        "in order, once; an e-mail address is no mention"
    );
    let pushed = push_where(
        &bob,
        "the message",
        |p| matches!(p, Push::Message { message } if message.seq == sent.seq),
    )
    .await;
    let Push::Message { message } = pushed else {
        unreachable!()
    };
    assert_eq!(message.mentions, sent.mentions, "the push carries them");
    assert_eq!(
        history(&bob, room).await.last().map(|m| m.mentions.clone()),
        Some(sent.mentions.clone())
    );
    ok(
        &alice,
        Call::Revoke(MessageRef {
            room_id: room,
            seq: sent.seq,
        }),
    )
    .await;
    let after = history(&bob, room).await;
    let revoked = after
        .iter()
        .find(|m| m.seq == sent.seq)
        .expect("still listed");
    assert!(
        revoked.revoked && revoked.mentions.is_empty(),
        "a revoked message mentions nobody: {revoked:?}"
    );
}
