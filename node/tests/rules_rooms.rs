//! Rooms over the wire: 1:1 rooms unique per pair (also when opened at once on two nodes), group rooms with a
//! member limit, invite / leave / remove / rename with system messages and live membership, per-member
//! preferences, the room list, reuse of a group with the same members, names from members and hidden member
//! lists.

mod support;

use std::time::Duration;

use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{
    Call, CreateGroupArgs, InviteArgs, MessageKind, OpenRoomArgs, Push, RemoveMemberArgs,
    RenameRoomArgs, Reply, RoomArgs, RoomCursor, RoomMembersArgs, RoomSummary, SetRoomOptionsArgs,
    SetRoomPrefsArgs, SyncArgs, SystemAction, UserArgs,
};
use support::rules::{no_push_where, ok, push_where, refused, say};
use support::{cluster, TestCluster};

async fn open_direct(client: &sendjay_client::Connection, peer: &str) -> (RoomSummary, bool) {
    match ok(
        client,
        Call::OpenDirect(UserArgs {
            user_id: peer.into(),
        }),
    )
    .await
    {
        Reply::OpenDirect { room, created } => (room, created),
        other => panic!("{other:?}"),
    }
}

async fn create_group(
    client: &sendjay_client::Connection,
    name: &str,
    users: &[&str],
) -> RoomSummary {
    match ok(
        client,
        Call::CreateGroup(CreateGroupArgs {
            name: name.into(),
            user_ids: users.iter().map(|u| u.to_string()).collect(),
        }),
    )
    .await
    {
        Reply::CreateGroup { room, .. } => room,
        other => panic!("{other:?}"),
    }
}

async fn rooms_of(client: &sendjay_client::Connection) -> Vec<RoomSummary> {
    match ok(client, Call::ListRooms).await {
        Reply::ListRooms { rooms } => rooms,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_room_is_unique_per_pair_even_when_both_open_it_at_once_on_two_nodes() {
    let cluster = cluster()
        .nodes(2)
        .users(&["alice", "bob", "carol"])
        .start()
        .await;
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(1, "bob").await;

    // Ten rounds of both sides opening at the same moment, each round a fresh pair.
    let pairs = [
        "dave", "erin", "frank", "gina", "hank", "ivy", "jack", "kim", "lee", "moe",
    ];
    cluster.users(&pairs).await;
    for peer in pairs {
        let p = cluster.connect(1, peer).await;
        let (a, b) = tokio::join!(open_direct(&alice, peer), open_direct(&p, "alice"));
        assert_eq!(a.0.room_id, b.0.room_id, "{peer}: both got the same room");
        assert!(a.1 ^ b.1, "{peer}: exactly one call created it");
        assert_eq!(a.0.kind, "direct");
        assert_eq!(a.0.peer_id.as_deref(), Some(peer));
        assert_eq!(b.0.peer_id.as_deref(), Some("alice"));
    }
    let rooms = cluster
        .count("SELECT count(*) FROM rooms WHERE kind = 'direct'", &[])
        .await;
    assert_eq!(rooms, pairs.len() as i64, "no duplicate rooms");

    // Opening again returns the same room; the peer's session (other node) gets its messages live.
    let (first, created) = open_direct(&alice, "bob").await;
    assert!(created);
    let (again, created) = open_direct(&bob, "alice").await;
    assert_eq!((again.room_id, created), (first.room_id, false));
    let sent = say(&alice, first.room_id, "d-1", "안녕").await;
    push_where(&bob, "message in the new direct room", |p| {
        matches!(p, Push::Message { message } if message.room_id == first.room_id && message.seq == sent.seq)
    })
    .await;

    // Not with yourself, not with strangers, not with retired people.
    refused(
        &alice,
        Call::OpenDirect(UserArgs {
            user_id: "alice".into(),
        }),
        ErrorCode::BadArgs,
    )
    .await;
    refused(
        &alice,
        Call::OpenDirect(UserArgs {
            user_id: "nobody".into(),
        }),
        ErrorCode::NotFound,
    )
    .await;
    cluster.retire("carol").await;
    refused(
        &alice,
        Call::OpenDirect(UserArgs {
            user_id: "carol".into(),
        }),
        ErrorCode::Forbidden,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_a_direct_room_keeps_history_and_a_new_message_brings_the_peer_back() {
    let cluster = cluster().nodes(2).users(&["alice", "bob"]).start().await;
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(1, "bob").await;
    let (room, _) = open_direct(&alice, "bob").await;
    say(&alice, room.room_id, "1", "first").await;
    ok(
        &bob,
        Call::Leave(RoomArgs {
            room_id: room.room_id,
        }),
    )
    .await;
    assert!(rooms_of(&bob).await.is_empty());
    // Alice still reads everything, including the leave notice.
    let Reply::History { messages, .. } = ok(
        &alice,
        Call::History(sendjay_common::protocol::HistoryArgs {
            room_id: room.room_id,
            before_seq: None,
            limit: None,
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(messages.len(), 2);
    assert_eq!(
        messages[0].system.as_ref().map(|s| s.action),
        Some(SystemAction::Leave)
    );
    // Alice writes again: bob is back (live, without reconnecting) and sees it as unread.
    let sent = say(&alice, room.room_id, "2", "come back").await;
    push_where(
        &bob,
        "the message that brought bob back",
        |p| matches!(p, Push::Message { message } if message.seq == sent.seq),
    )
    .await;
    let rooms = rooms_of(&bob).await;
    assert_eq!((rooms[0].room_id, rooms[0].unread), (room.room_id, 1));
    // And opening the pair again is still the same room.
    assert_eq!(open_direct(&bob, "alice").await.0.room_id, room.room_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_lifecycle_invite_rename_leave_remove_with_system_messages_and_live_membership() {
    let cluster = TestCluster::start(2).await;
    cluster
        .users(&["alice", "bob", "carol", "dave", "erin"])
        .await;
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(1, "bob").await;
    let carol = cluster.connect(1, "carol").await;
    let dave = cluster.connect(0, "dave").await;

    let room = create_group(&alice, "프로젝트", &["bob", "bob", "alice"]).await;
    assert_eq!(
        (room.kind.as_str(), room.name.as_str(), room.member_count),
        ("group", "프로젝트", 2)
    );
    assert_eq!(room.last_seq, 1, "the create notice");
    assert_eq!(room.unread, 0, "the create notice counts as read");
    let created = push_where(
        &bob,
        "create notice",
        |p| matches!(p, Push::Message { message } if message.room_id == room.room_id),
    )
    .await;
    let Push::Message { message } = created else {
        panic!()
    };
    assert_eq!(message.kind, MessageKind::System);
    assert_eq!(
        message.system.as_ref().map(|s| (s.action, s.users.clone())),
        Some((SystemAction::Create, vec!["bob".to_string()]))
    );
    // Bob, on the other node, gets messages of the new room live without reconnecting.
    let m = say(&alice, room.room_id, "g-1", "hello team").await;
    push_where(
        &bob,
        "g-1",
        |p| matches!(p, Push::Message { message } if message.seq == m.seq),
    )
    .await;

    // Invite carol and dave (bob again is skipped); they get the room live, and everyone sees the notice.
    let Reply::Invite { added, message, .. } = ok(
        &bob,
        Call::Invite(InviteArgs {
            room_id: room.room_id,
            user_ids: vec!["carol".into(), "dave".into(), "bob".into()],
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(added, vec!["carol".to_string(), "dave".to_string()]);
    assert_eq!(
        message.system.as_ref().map(|s| s.action),
        Some(SystemAction::Invite)
    );
    for c in [&alice, &carol, &dave] {
        push_where(
            c,
            "invite notice",
            |p| matches!(p, Push::Message { message: x } if x.seq == message.seq),
        )
        .await;
    }
    let m = say(&alice, room.room_id, "g-2", "welcome").await;
    for c in [&carol, &dave] {
        push_where(
            c,
            "g-2",
            |p| matches!(p, Push::Message { message } if message.seq == m.seq),
        )
        .await;
    }
    // New members start with the past read, and see the whole history.
    let mine = rooms_of(&carol).await;
    assert_eq!((mine[0].member_count, mine[0].unread), (4, 1));
    refused(
        &bob,
        Call::Invite(InviteArgs {
            room_id: room.room_id,
            user_ids: vec!["carol".into()],
        }),
        ErrorCode::Conflict,
    )
    .await;

    // Rename: shared name, system message.
    let Reply::RenameRoom { message, .. } = ok(
        &carol,
        Call::RenameRoom(RenameRoomArgs {
            room_id: room.room_id,
            name: "Launch".into(),
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(
        message
            .system
            .as_ref()
            .and_then(|s| s.name.clone())
            .as_deref(),
        Some("Launch")
    );
    assert_eq!(rooms_of(&dave).await[0].name, "Launch");

    // Dave leaves: notice to the others, no more pushes for dave, history stays for the others.
    ok(
        &dave,
        Call::Leave(RoomArgs {
            room_id: room.room_id,
        }),
    )
    .await;
    push_where(&alice, "leave notice", |p| matches!(p, Push::Message { message } if message.system.as_ref().is_some_and(|s| s.action == SystemAction::Leave))).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let m = say(&alice, room.room_id, "g-3", "after dave left").await;
    assert!(
        no_push_where(
            &dave,
            Duration::from_millis(700),
            |p| matches!(p, Push::Message { message } if message.seq == m.seq)
        )
        .await,
        "a member who left gets no more pushes"
    );
    refused(
        &dave,
        Call::History(sendjay_common::protocol::HistoryArgs {
            room_id: room.room_id,
            before_seq: None,
            limit: None,
        }),
        ErrorCode::NotMember,
    )
    .await;

    // Removing an active member needs an admin; a retired one anyone may remove.
    refused(
        &bob,
        Call::RemoveMember(RemoveMemberArgs {
            room_id: room.room_id,
            user_id: "carol".into(),
        }),
        ErrorCode::Forbidden,
    )
    .await;
    cluster.retire("carol").await;
    let Reply::RemoveMember { message, .. } = ok(
        &bob,
        Call::RemoveMember(RemoveMemberArgs {
            room_id: room.room_id,
            user_id: "carol".into(),
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(
        message.system.as_ref().map(|s| (s.action, s.users.clone())),
        Some((SystemAction::Remove, vec!["carol".to_string()]))
    );
    cluster.users(&["zoe"]).await;
    ok(
        &bob,
        Call::Invite(InviteArgs {
            room_id: room.room_id,
            user_ids: vec!["zoe".into()],
        }),
    )
    .await;
    cluster.make_admin("erin").await;
    let erin = cluster.connect(0, "erin").await;
    ok(
        &erin,
        Call::RemoveMember(RemoveMemberArgs {
            room_id: room.room_id,
            user_id: "zoe".into(),
        }),
    )
    .await;
    let Reply::RoomMembers {
        members, has_more, ..
    } = ok(
        &alice,
        Call::RoomMembers(RoomMembersArgs {
            room_id: room.room_id,
            after: None,
            limit: None,
        }),
    )
    .await
    else {
        panic!()
    };
    assert!(!has_more);
    assert_eq!(
        members
            .iter()
            .map(|m| m.user_id.as_str())
            .collect::<Vec<_>>(),
        vec!["alice", "bob"]
    );
    // History keeps every notice: create, g-1, invite, g-2, rename, leave, g-3, remove, invite, remove.
    let last_seq = cluster
        .count("SELECT last_seq FROM rooms WHERE id = $1", &[&room.room_id])
        .await;
    assert_eq!(last_seq, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_respect_the_member_limit() {
    let cluster = cluster()
        .configure(|c| c.max_room_members = 4)
        .users(&["a", "b", "c", "d", "e", "f"])
        .start()
        .await;
    let a = cluster.connect(0, "a").await;
    refused(
        &a,
        Call::CreateGroup(CreateGroupArgs {
            name: "big".into(),
            user_ids: vec!["b".into(), "c".into(), "d".into(), "e".into()],
        }),
        // The same code as an invite over the limit.
        ErrorCode::Forbidden,
    )
    .await;
    let room = create_group(&a, "full", &["b", "c"]).await;
    let before = cluster.fingerprint().await;
    refused(
        &a,
        Call::Invite(InviteArgs {
            room_id: room.room_id,
            user_ids: vec!["d".into(), "e".into()],
        }),
        ErrorCode::Forbidden,
    )
    .await;
    assert_eq!(
        cluster.fingerprint().await,
        before,
        "a refused invite changes nothing"
    );
    ok(
        &a,
        Call::Invite(InviteArgs {
            room_id: room.room_id,
            user_ids: vec!["d".into()],
        }),
    )
    .await;
    assert_eq!(
        cluster
            .count(
                "SELECT member_count FROM rooms WHERE id = $1",
                &[&room.room_id]
            )
            .await,
        4
    );
    // Unknown or retired users make the whole call fail.
    refused(
        &a,
        Call::CreateGroup(CreateGroupArgs {
            name: "x".into(),
            user_ids: vec!["b".into(), "ghost".into()],
        }),
        ErrorCode::NotFound,
    )
    .await;
    cluster.retire("f").await;
    refused(
        &a,
        Call::CreateGroup(CreateGroupArgs {
            name: "x".into(),
            user_ids: vec!["f".into()],
        }),
        ErrorCode::Forbidden,
    )
    .await;
    refused(
        &a,
        Call::CreateGroup(CreateGroupArgs {
            name: "line\nbreak".into(),
            user_ids: vec![],
        }),
        ErrorCode::BadArgs,
    )
    .await;
    // Direct rooms take no invitations and no names.
    let Reply::OpenDirect { room: direct, .. } = ok(
        &a,
        Call::OpenDirect(UserArgs {
            user_id: "b".into(),
        }),
    )
    .await
    else {
        panic!()
    };
    refused(
        &a,
        Call::Invite(InviteArgs {
            room_id: direct.room_id,
            user_ids: vec!["c".into()],
        }),
        ErrorCode::Forbidden,
    )
    .await;
    refused(
        &a,
        Call::RenameRoom(RenameRoomArgs {
            room_id: direct.room_id,
            name: "x".into(),
        }),
        ErrorCode::Forbidden,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_announcement_room_of_5000_members_works() {
    let cluster = TestCluster::start(2).await;
    cluster
        .db()
        .execute(
            "INSERT INTO users (id, display_name, password_hash, passkey)
             SELECT format('emp%s', lpad(i::text, 5, '0')), format('Employee %s', i), 'x', 'pk-' || format('emp%s', lpad(i::text, 5, '0'))
               FROM generate_series(1, 5000) i",
            &[],
        )
        .await
        .unwrap();
    let boss = cluster.connect(0, "emp00001").await;
    let far = cluster.connect(1, "emp04999").await;
    let ids: Vec<String> = (2..=1000).map(|i| format!("emp{i:05}")).collect();
    let Reply::CreateGroup { room, .. } = ok(
        &boss,
        Call::CreateGroup(CreateGroupArgs {
            name: "전사 공지".into(),
            user_ids: ids,
        }),
    )
    .await
    else {
        panic!()
    };
    for chunk in (1001..=5000).collect::<Vec<_>>().chunks(1000) {
        let ids = chunk.iter().map(|i| format!("emp{i:05}")).collect();
        ok(
            &boss,
            Call::Invite(InviteArgs {
                room_id: room.room_id,
                user_ids: ids,
            }),
        )
        .await;
    }
    assert_eq!(
        cluster
            .count(
                "SELECT member_count FROM rooms WHERE id = $1",
                &[&room.room_id]
            )
            .await,
        5000
    );
    // The invitation reaches the far member (on the other node) after its node subscribed to the room.
    push_where(&far, "the invite naming emp04999", |p| {
        matches!(p, Push::Message { message } if message.system.as_ref().is_some_and(|s| s.users.iter().any(|u| u == "emp04999")))
    })
    .await;
    cluster.users(&["late"]).await;
    refused(
        &boss,
        Call::Invite(InviteArgs {
            room_id: room.room_id,
            user_ids: vec!["late".into()],
        }),
        ErrorCode::Forbidden,
    )
    .await;
    let m = say(
        &boss,
        room.room_id,
        "notice-1",
        "다음 주 월요일은 휴무입니다",
    )
    .await;
    push_where(
        &far,
        "the announcement, on another node",
        |p| matches!(p, Push::Message { message } if message.seq == m.seq),
    )
    .await;
    let Reply::UnreadCounts { counts, .. } = ok(
        &boss,
        Call::UnreadCounts(sendjay_common::protocol::UnreadCountsArgs {
            room_id: room.room_id,
            seqs: vec![m.seq],
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(counts[0].unread, 4999);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_list_is_sorted_by_activity_with_unread_preview_and_per_member_prefs() {
    let cluster = cluster()
        .nodes(2)
        .users(&["alice", "bob", "carol"])
        .start()
        .await;
    let alice = cluster.connect(0, "alice").await;
    let alice_mobile = cluster
        .connect_as(
            1,
            "alice",
            sendjay_common::protocol::DeviceClass::Mobile,
            "manual",
        )
        .await;
    let bob = cluster.connect(1, "bob").await;
    let (direct, _) = open_direct(&bob, "alice").await;
    let g1 = create_group(&bob, "one", &["alice"]).await;
    let g2 = create_group(&bob, "two", &["alice", "carol"]).await;
    say(&bob, g1.room_id, "1", "old").await;
    say(&bob, direct.room_id, "2", "middle").await;
    say(&bob, g2.room_id, "3", &"긴 메시지 ".repeat(100)).await;
    say(&bob, g2.room_id, "4", "newest").await;
    let rooms = rooms_of(&alice).await;
    assert_eq!(
        rooms.iter().map(|r| r.room_id).collect::<Vec<_>>(),
        vec![g2.room_id, direct.room_id, g1.room_id],
        "most recently active first"
    );
    assert_eq!(
        (rooms[0].unread, rooms[1].unread, rooms[2].unread),
        (2, 1, 1)
    );
    assert_eq!(
        rooms[0].last_message.as_ref().map(|m| m.body.as_str()),
        Some("newest")
    );
    assert_eq!(rooms[1].peer_id.as_deref(), Some("bob"));

    // A per-member nickname and notifications switch: only alice's view changes, her other device hears it.
    let Reply::SetRoomPrefs {
        nickname,
        notifications,
        ..
    } = ok(
        &alice,
        Call::SetRoomPrefs(SetRoomPrefsArgs {
            room_id: g2.room_id,
            nickname: Some("우리 팀".into()),
            notifications: Some(false),
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!((nickname.as_str(), notifications), ("우리 팀", false));
    push_where(&alice_mobile, "room prefs", |p| matches!(p, Push::RoomPrefs { room_id, notifications: false, .. } if *room_id == g2.room_id)).await;
    let mine = rooms_of(&alice).await;
    assert_eq!(
        (
            mine[0].nickname.as_str(),
            mine[0].notifications,
            mine[0].name.as_str()
        ),
        ("우리 팀", false, "two")
    );
    let theirs = rooms_of(&bob).await;
    let bobs = theirs.iter().find(|r| r.room_id == g2.room_id).unwrap();
    assert_eq!((bobs.nickname.as_str(), bobs.notifications), ("", true));
    // Only the nickname: notifications stay off; clearing with "".
    ok(
        &alice,
        Call::SetRoomPrefs(SetRoomPrefsArgs {
            room_id: g2.room_id,
            nickname: Some(String::new()),
            notifications: None,
        }),
    )
    .await;
    let mine = rooms_of(&alice).await;
    assert_eq!(
        (mine[0].nickname.as_str(), mine[0].notifications),
        ("", false)
    );
}

async fn create_group_reply(
    client: &sendjay_client::Connection,
    name: &str,
    users: &[&str],
) -> (RoomSummary, bool) {
    match ok(
        client,
        Call::CreateGroup(CreateGroupArgs {
            name: name.into(),
            user_ids: users.iter().map(|u| u.to_string()).collect(),
        }),
    )
    .await
    {
        Reply::CreateGroup { room, existing } => (room, existing),
        other => panic!("{other:?}"),
    }
}

/// The caller's summary of one room, as `list_rooms`, `open_room` and `sync` each give it (they must agree).
async fn summaries_of(client: &sendjay_client::Connection, room_id: i64) -> RoomSummary {
    let listed = rooms_of(client)
        .await
        .into_iter()
        .find(|r| r.room_id == room_id)
        .expect("room listed");
    let Reply::OpenRoom { room: opened, .. } = ok(
        client,
        Call::OpenRoom(OpenRoomArgs {
            room_id,
            limit: Some(1),
        }),
    )
    .await
    else {
        panic!()
    };
    let Reply::Sync { rooms, .. } = ok(client, Call::Sync(SyncArgs::default())).await else {
        panic!()
    };
    let synced = rooms
        .into_iter()
        .find(|r| r.room_id == room_id)
        .expect("room synced");
    assert_eq!(
        (&opened.display_name, opened.members_hidden),
        (&listed.display_name, listed.members_hidden)
    );
    assert_eq!(
        (&synced.display_name, synced.members_hidden),
        (&listed.display_name, listed.members_hidden)
    );
    listed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_with_exactly_the_same_members_reuses_that_room() {
    let cluster = cluster()
        .users(&["alice", "bob", "carol", "dave"])
        .start()
        .await;
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(0, "bob").await;
    let (first, existing) = create_group_reply(&alice, "", &["bob", "carol"]).await;
    assert!(!existing, "a new set makes a new room");
    let messages = "SELECT count(*) FROM messages WHERE room_id = $1";
    let groups = "SELECT count(*) FROM rooms WHERE kind = 'group'";

    // The same set, in another order, with duplicates and the caller named: the same room, nothing written.
    let (again, existing) =
        create_group_reply(&alice, "another name", &["carol", "bob", "bob", "alice"]).await;
    assert_eq!((again.room_id, existing), (first.room_id, true));
    assert_eq!(cluster.count(messages, &[&first.room_id]).await, 1);
    assert_eq!(cluster.count(groups, &[]).await, 1);
    assert!(
        no_push_where(&bob, Duration::from_millis(500), |p| matches!(
            p,
            Push::Message { message } if message.room_id == first.room_id && message.seq > 1
        ))
        .await,
        "reusing the room writes no system message"
    );
    // Another member asking for the same set gets it too.
    let (bobs, existing) = create_group_reply(&bob, "", &["alice", "carol"]).await;
    assert_eq!((bobs.room_id, existing), (first.room_id, true));

    // A subset or a superset is another room.
    let (pair, existing) = create_group_reply(&alice, "", &["bob"]).await;
    assert!(!existing);
    assert_ne!(pair.room_id, first.room_id);
    let (four, existing) = create_group_reply(&alice, "", &["bob", "carol", "dave"]).await;
    assert!(!existing);
    assert_ne!(four.room_id, first.room_id);
    assert_eq!(cluster.count(groups, &[]).await, 3);
    let (pair_again, existing) = create_group_reply(&alice, "", &["bob"]).await;
    assert_eq!((pair_again.room_id, existing), (pair.room_id, true));

    // Once dave leaves the four, two rooms have the set: the most recently active one is chosen.
    let dave = cluster.connect(0, "dave").await;
    ok(
        &dave,
        Call::Leave(RoomArgs {
            room_id: four.room_id,
        }),
    )
    .await;
    let (newest, _) = create_group_reply(&alice, "", &["bob", "carol"]).await;
    assert_eq!(newest.room_id, four.room_id, "the leave message is newer");
    say(&alice, first.room_id, "r-1", "back here").await;
    let carol = cluster.connect(0, "carol").await;
    let (newest, existing) = create_group_reply(&carol, "", &["alice", "bob"]).await;
    assert_eq!((newest.room_id, existing), (first.room_id, true));
    assert_eq!(cluster.count(groups, &[]).await, 3);

    // Two members creating the same new set at the same moment get one room between them.
    for round in 0..5 {
        let (a, c) = tokio::join!(
            create_group_reply(&alice, "", &["carol", "dave"]),
            create_group_reply(&carol, "", &["alice", "dave"]),
        );
        assert_eq!(a.0.room_id, c.0.room_id, "round {round}: the same room");
        if round == 0 {
            assert!(a.1 ^ c.1, "exactly one call created it");
        } else {
            assert!(a.1 && c.1);
        }
    }
    assert_eq!(cluster.count(groups, &[]).await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_without_a_name_is_named_from_its_members_for_each_viewer() {
    let users = ["amy", "ben", "cal", "dan", "eve", "fay", "gus"];
    let cluster = cluster().users(&users).start().await;
    // Display names sort differently from ids: fay is "abe".
    cluster
        .db()
        .execute(
            "UPDATE users SET display_name = 'abe' WHERE id = 'fay'",
            &[],
        )
        .await
        .unwrap();
    let amy = cluster.connect(0, "amy").await;
    let gus = cluster.connect(0, "gus").await;
    let ben = cluster.connect(0, "ben").await;
    let room = create_group(&gus, "", &["amy", "ben", "cal", "dan", "eve", "fay"]).await;
    assert_eq!(room.display_name, "abe, amy, ben +3", "the creator's reply");
    assert_eq!(
        summaries_of(&gus, room.room_id).await.display_name,
        "abe, amy, ben +3"
    );
    assert_eq!(
        summaries_of(&amy, room.room_id).await.display_name,
        "abe, ben, cal +3",
        "the viewer is left out"
    );

    // A member leaving changes the name.
    ok(
        &amy,
        Call::Leave(RoomArgs {
            room_id: room.room_id,
        }),
    )
    .await;
    assert_eq!(
        summaries_of(&gus, room.room_id).await.display_name,
        "abe, ben, cal +2"
    );

    // A small group has no "+N"; a direct room shows the other person to each side.
    let small = create_group(&amy, "", &["ben", "cal"]).await;
    assert_eq!(
        summaries_of(&amy, small.room_id).await.display_name,
        "ben, cal"
    );
    let (direct, _) = open_direct(&amy, "ben").await;
    assert_eq!(summaries_of(&amy, direct.room_id).await.display_name, "ben");
    assert_eq!(summaries_of(&ben, direct.room_id).await.display_name, "amy");
    let (direct, _) = open_direct(&gus, "fay").await;
    assert_eq!(direct.display_name, "abe");

    // A named room shows its name; the viewer's own nickname wins for them only.
    ok(
        &ben,
        Call::RenameRoom(RenameRoomArgs {
            room_id: small.room_id,
            name: "Trio".into(),
        }),
    )
    .await;
    assert_eq!(summaries_of(&amy, small.room_id).await.display_name, "Trio");
    ok(
        &ben,
        Call::SetRoomPrefs(SetRoomPrefsArgs {
            room_id: small.room_id,
            nickname: Some("mine".into()),
            notifications: None,
        }),
    )
    .await;
    assert_eq!(summaries_of(&ben, small.room_id).await.display_name, "mine");
    assert_eq!(summaries_of(&amy, small.room_id).await.display_name, "Trio");
}

async fn members_seen(client: &sendjay_client::Connection, room_id: i64) -> Vec<String> {
    match ok(
        client,
        Call::RoomMembers(RoomMembersArgs {
            room_id,
            after: None,
            limit: None,
        }),
    )
    .await
    {
        Reply::RoomMembers { members, .. } => members.into_iter().map(|m| m.user_id).collect(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_creator_or_an_admin_may_hide_the_member_list() {
    let cluster = cluster()
        .users(&["boss", "amy", "ben", "root"])
        .start()
        .await;
    cluster.make_admin("root").await;
    let boss = cluster.connect(0, "boss").await;
    let amy = cluster.connect(0, "amy").await;
    let root = cluster.connect(0, "root").await;
    let room = create_group(&boss, "", &["amy", "ben"]).await;
    assert!(!room.members_hidden);
    let hide = |hidden: bool| {
        Call::SetRoomOptions(SetRoomOptionsArgs {
            room_id: room.room_id,
            members_hidden: hidden,
        })
    };

    // A member who is neither the creator nor an admin may not; refused changes nothing.
    let before = cluster.fingerprint().await;
    refused(&amy, hide(true), ErrorCode::Forbidden).await;
    assert_eq!(cluster.fingerprint().await, before);

    // The creator hides it: a system message reaches the members live and via sync.
    let Reply::SetRoomOptions {
        members_hidden,
        message,
        ..
    } = ok(&boss, hide(true)).await
    else {
        panic!()
    };
    assert!(members_hidden);
    let system = message.system.clone().expect("system event");
    assert_eq!(
        (system.action, system.members_hidden),
        (SystemAction::RoomOptions, Some(true))
    );
    push_where(&amy, "the room_options message", |p| {
        matches!(p, Push::Message { message: m } if m.room_id == room.room_id && m.seq == message.seq)
    })
    .await;
    let Reply::Sync { messages, .. } = ok(
        &amy,
        Call::Sync(SyncArgs {
            cursors: vec![RoomCursor {
                room_id: room.room_id,
                seq: 1,
            }],
            limit: None,
            changes: Vec::new(),
        }),
    )
    .await
    else {
        panic!()
    };
    assert!(messages
        .iter()
        .any(|m| m.seq == message.seq
            && m.system.as_ref().and_then(|s| s.members_hidden) == Some(true)));
    let before = cluster.fingerprint().await;
    refused(&boss, hide(true), ErrorCode::Conflict).await;
    assert_eq!(cluster.fingerprint().await, before);

    // While hidden: members see only themselves and no member names; the creator sees all.
    assert_eq!(members_seen(&amy, room.room_id).await, ["amy"]);
    assert_eq!(
        members_seen(&boss, room.room_id).await,
        ["amy", "ben", "boss"]
    );
    let amys = summaries_of(&amy, room.room_id).await;
    assert!(amys.members_hidden);
    assert_eq!(amys.display_name, "");
    let boss_view = summaries_of(&boss, room.room_id).await;
    assert!(boss_view.members_hidden);
    assert_eq!(boss_view.display_name, "amy, ben");

    // An admin, member or not, may show it again.
    ok(&root, hide(false)).await;
    assert_eq!(
        members_seen(&amy, room.room_id).await,
        ["amy", "ben", "boss"]
    );
    assert!(!summaries_of(&amy, room.room_id).await.members_hidden);

    // Direct rooms have no options.
    let (direct, _) = open_direct(&boss, "amy").await;
    let before = cluster.fingerprint().await;
    refused(
        &boss,
        Call::SetRoomOptions(SetRoomOptionsArgs {
            room_id: direct.room_id,
            members_hidden: true,
        }),
        ErrorCode::Forbidden,
    )
    .await;
    assert_eq!(cluster.fingerprint().await, before);
}
