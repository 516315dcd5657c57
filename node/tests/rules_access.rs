//! The access-control matrix: every room operation tried by a non-member, by a retired member whose session is
//! still open, and on a room that does not exist; every owner- or admin-only operation tried by another user.
//! Each attempt must get its documented error code and leave the database exactly as it was.

mod support;

use sendjay_client::{ConnectOptions, Connection};
use sendjay_common::close_code::CloseReason;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{
    Call, CreateChannelArgs, CreateGroupArgs, DeviceClass, EditMessageArgs, FileInfo, ForwardArgs,
    HistoryArgs, InviteArgs, ListChannelsArgs, ListSavedArgs, MarkReadArgs, MessageKind,
    MessageRef, OpenRoomArgs, ProfilePatch, PushSubscribeArgs, ReactionArgs, RemoveMemberArgs,
    RenameRoomArgs, ResetPasskeyArgs, RoomArgs, RoomMembersArgs, SearchAllArgs, SearchArgs,
    SendArgs, SendRichArgs, SetForegroundArgs, SetMobileInstalledArgs, SetRoomOptionsArgs,
    SetRoomPrefsArgs, SettingsPatch, SyncArgs, UnreadCountsArgs, UserArgs,
};
use support::rules::{ok, refused, say};
use support::TestCluster;

/// Every operation scoped to one room, aimed at `room` (with `own` a room the caller is in, for forwards).
fn room_ops(room: i64, seq: i64, own: i64) -> Vec<Call> {
    vec![
        Call::History(HistoryArgs {
            room_id: room,
            before_seq: None,
            limit: None,
        }),
        Call::Send(SendArgs {
            room_id: room,
            client_msg_id: "x-1".into(),
            body: "intrusion".into(),
        }),
        Call::SendRich(SendRichArgs {
            room_id: room,
            client_msg_id: "x-2".into(),
            kind: MessageKind::File,
            file: Some(FileInfo {
                file_id: "f".into(),
                name: "a.txt".into(),
                size: 1,
                mime: "text/plain".into(),
                width: None,
                height: None,
                ..Default::default()
            }),
            ..Default::default()
        }),
        Call::SendRich(SendRichArgs {
            room_id: room,
            client_msg_id: "x-3".into(),
            body: "re".into(),
            reply_to: Some(seq),
            ..Default::default()
        }),
        Call::MarkRead(MarkReadArgs {
            room_id: room,
            seq: None,
        }),
        Call::OpenRoom(OpenRoomArgs {
            room_id: room,
            limit: None,
        }),
        Call::UnreadCounts(UnreadCountsArgs {
            room_id: room,
            seqs: vec![seq],
        }),
        Call::UnreadMembers(MessageRef { room_id: room, seq }),
        Call::Forward(ForwardArgs {
            room_id: room,
            seq,
            to_room_id: own,
            client_msg_id: "x-4".into(),
        }),
        Call::Forward(ForwardArgs {
            room_id: own,
            seq: 1,
            to_room_id: room,
            client_msg_id: "x-5".into(),
        }),
        Call::Revoke(MessageRef { room_id: room, seq }),
        Call::DeleteForMe(MessageRef { room_id: room, seq }),
        Call::Search(SearchArgs {
            room_id: room,
            query: Some("secret".into()),
            ..Default::default()
        }),
        Call::SearchAll(SearchAllArgs {
            query: "secret".into(),
            room_ids: Some(vec![own, room]),
            ..Default::default()
        }),
        Call::Invite(InviteArgs {
            room_id: room,
            user_ids: vec!["outsider".into()],
        }),
        Call::Leave(RoomArgs { room_id: room }),
        Call::RemoveMember(RemoveMemberArgs {
            room_id: room,
            user_id: "bob".into(),
        }),
        Call::RenameRoom(RenameRoomArgs {
            room_id: room,
            name: "hijacked".into(),
        }),
        Call::SetRoomPrefs(SetRoomPrefsArgs {
            room_id: room,
            nickname: Some("mine".into()),
            notifications: Some(false),
        }),
        Call::SetRoomOptions(SetRoomOptionsArgs {
            room_id: room,
            members_hidden: true,
        }),
        Call::RoomMembers(RoomMembersArgs {
            room_id: room,
            after: None,
            limit: None,
        }),
        Call::Typing(RoomArgs { room_id: room }),
        Call::ClearRoom(RoomArgs { room_id: room }),
        Call::SaveMessage(MessageRef { room_id: room, seq }),
        Call::UnsaveMessage(MessageRef { room_id: room, seq }),
        Call::PinMessage(MessageRef { room_id: room, seq }),
        Call::UnpinMessage(MessageRef { room_id: room, seq }),
        Call::ListPins(RoomArgs { room_id: room }),
        Call::EditMessage(EditMessageArgs {
            room_id: room,
            seq,
            body: "changed behind your back".into(),
        }),
        Call::AddReaction(ReactionArgs {
            room_id: room,
            seq,
            emoji: "👀".into(),
        }),
        Call::RemoveReaction(ReactionArgs {
            room_id: room,
            seq,
            emoji: "👍".into(),
        }),
        Call::Reactors(ReactionArgs {
            room_id: room,
            seq,
            emoji: "👍".into(),
        }),
    ]
}

/// A room of alice, bob and the retiree with one message (saved and pinned by the retiree, so refusing their
/// unsave and unpin has something to leave alone), and one room each for the outsider and the retiree.
async fn setup() -> (TestCluster, i64, i64, i64) {
    let cluster = TestCluster::start(1).await;
    cluster
        .users(&["alice", "bob", "outsider", "retiree", "admin"])
        .await;
    cluster.make_admin("admin").await;
    let room = cluster.room(&["alice", "bob", "retiree"]).await;
    let outsiders_room = cluster.room(&["outsider"]).await;
    let retirees_room = cluster.room(&["retiree"]).await;
    let alice = cluster.connect(0, "alice").await;
    say(&alice, room, "s-1", "the secret draft").await;
    // Edited, so that the room has a change a foreign `sync` must not leak.
    ok(
        &alice,
        Call::EditMessage(EditMessageArgs {
            room_id: room,
            seq: 1,
            body: "the secret plan".into(),
        }),
    )
    .await;
    let o = cluster.connect(0, "outsider").await;
    say(&o, outsiders_room, "o-1", "my own").await;
    let r = cluster.connect(0, "retiree").await;
    say(&r, retirees_room, "r-1", "mine").await;
    // A reaction of the retiree, so that refusing their remove_reaction has something to leave alone.
    ok(
        &r,
        Call::AddReaction(ReactionArgs {
            room_id: room,
            seq: 1,
            emoji: "👍".into(),
        }),
    )
    .await;
    ok(
        &r,
        Call::SaveMessage(MessageRef {
            room_id: room,
            seq: 1,
        }),
    )
    .await;
    ok(
        &r,
        Call::PinMessage(MessageRef {
            room_id: room,
            seq: 1,
        }),
    )
    .await;
    (cluster, room, outsiders_room, retirees_room)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_member_gets_not_member_for_every_room_operation_and_changes_nothing() {
    let (cluster, room, own, _) = setup().await;
    let outsider = cluster.connect(0, "outsider").await;
    let before = cluster.fingerprint().await;
    for call in room_ops(room, 1, own) {
        refused(&outsider, call, ErrorCode::NotMember).await;
        assert_eq!(cluster.fingerprint().await, before);
    }
    // A private group cannot be joined like a channel, and a search of all rooms finds nothing of it.
    refused(
        &outsider,
        Call::JoinChannel(RoomArgs { room_id: room }),
        ErrorCode::Forbidden,
    )
    .await;
    assert_eq!(cluster.fingerprint().await, before);
    match ok(
        &outsider,
        Call::SearchAll(SearchAllArgs {
            query: "secret".into(),
            ..Default::default()
        }),
    )
    .await
    {
        sendjay_common::protocol::Reply::SearchAll { messages, .. } => {
            assert!(messages.is_empty(), "{messages:?}")
        }
        other => panic!("{other:?}"),
    }
    // Sync does not leak a foreign room either.
    let reply = ok(
        &outsider,
        Call::Sync(SyncArgs {
            cursors: vec![sendjay_common::protocol::RoomCursor {
                room_id: room,
                seq: 0,
            }],
            limit: None,
            changes: vec![sendjay_common::protocol::ChangeCursor {
                room_id: room,
                change_seq: 0,
            }],
        }),
    )
    .await;
    let sendjay_common::protocol::Reply::Sync {
        messages,
        rooms,
        updates,
        ..
    } = reply
    else {
        panic!()
    };
    assert!(messages.iter().all(|m| m.room_id != room) && rooms.iter().all(|r| r.room_id != room));
    assert!(updates.is_empty(), "no foreign change: {updates:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_that_does_not_exist_gives_not_found_for_every_room_operation() {
    let (cluster, _, own, _) = setup().await;
    let outsider = cluster.connect(0, "outsider").await;
    let before = cluster.fingerprint().await;
    for call in room_ops(987_654, 1, own) {
        refused(&outsider, call, ErrorCode::NotFound).await;
    }
    refused(
        &outsider,
        Call::JoinChannel(RoomArgs { room_id: 987_654 }),
        ErrorCode::NotFound,
    )
    .await;
    assert_eq!(cluster.fingerprint().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_member_whose_session_is_still_open_is_refused_everything() {
    let (cluster, room, _, own) = setup().await;
    let retiree = cluster.connect(0, "retiree").await;
    // Retired behind the node's back (as if the close event was lost): the session stays open.
    cluster.retire("retiree").await;
    let before = cluster.fingerprint().await;
    let mut calls = room_ops(room, 1, own);
    calls.extend([
        Call::ListRooms,
        Call::Sync(SyncArgs::default()),
        Call::OpenDirect(UserArgs {
            user_id: "alice".into(),
        }),
        Call::CreateGroup(CreateGroupArgs {
            name: "g".into(),
            user_ids: vec!["alice".into()],
        }),
        Call::UpdateProfile(ProfilePatch {
            nickname: Some("still here".into()),
            ..Default::default()
        }),
        Call::SetSettings(SettingsPatch {
            sound_off: Some(true),
            ..Default::default()
        }),
        Call::GetSettings,
        Call::ResetPasskey(ResetPasskeyArgs { user_id: None }),
        Call::SetMobileInstalled(SetMobileInstalledArgs { installed: true }),
        Call::RetireUser(UserArgs {
            user_id: "alice".into(),
        }),
        Call::PushConfig,
        Call::PushSubscribe(PushSubscribeArgs::Fcm {
            token: "retired-phone".into(),
        }),
        Call::PushUnsubscribe,
        Call::SetForeground(SetForegroundArgs { foreground: true }),
        Call::ListSaved(ListSavedArgs::default()),
        Call::SearchAll(SearchAllArgs {
            query: "secret".into(),
            ..Default::default()
        }),
        Call::CreateChannel(CreateChannelArgs {
            name: "retired news".into(),
            unit_id: None,
        }),
        Call::ListChannels(ListChannelsArgs::default()),
        Call::JoinChannel(RoomArgs { room_id: room }),
    ]);
    for call in calls {
        refused(&retiree, call, ErrorCode::Forbidden).await;
    }
    assert_eq!(cluster.fingerprint().await, before);
    // And a new connection is refused outright.
    let token = cluster.token("retiree", DeviceClass::Web);
    let client = Connection::connect(
        &cluster.nodes[0].ws_url(),
        &token,
        ConnectOptions::default(),
    )
    .await
    .unwrap();
    let closed = client
        .closed(std::time::Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(closed.code, CloseReason::UserUnavailable.code());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_may_not_do_what_belongs_to_the_sender_an_admin_or_the_device() {
    let (cluster, room, _, _) = setup().await;
    let bob = cluster.connect(0, "bob").await;
    let before = cluster.fingerprint().await;
    // Revoking or editing alice's message; removing an active member; resetting, retiring someone else.
    refused(
        &bob,
        Call::Revoke(MessageRef {
            room_id: room,
            seq: 1,
        }),
        ErrorCode::Forbidden,
    )
    .await;
    refused(
        &bob,
        Call::EditMessage(EditMessageArgs {
            room_id: room,
            seq: 1,
            body: "bob's version".into(),
        }),
        ErrorCode::Forbidden,
    )
    .await;
    refused(
        &bob,
        Call::RemoveMember(RemoveMemberArgs {
            room_id: room,
            user_id: "alice".into(),
        }),
        ErrorCode::Forbidden,
    )
    .await;
    refused(
        &bob,
        Call::ResetPasskey(ResetPasskeyArgs {
            user_id: Some("alice".into()),
        }),
        ErrorCode::Forbidden,
    )
    .await;
    refused(
        &bob,
        Call::RetireUser(UserArgs {
            user_id: "alice".into(),
        }),
        ErrorCode::Forbidden,
    )
    .await;
    // Hiding the member list belongs to the room's creator and admins.
    refused(
        &bob,
        Call::SetRoomOptions(SetRoomOptionsArgs {
            room_id: room,
            members_hidden: true,
        }),
        ErrorCode::Forbidden,
    )
    .await;
    // The web may not claim the mobile app is installed.
    refused(
        &bob,
        Call::SetMobileInstalled(SetMobileInstalledArgs { installed: true }),
        ErrorCode::Forbidden,
    )
    .await;
    // Inviting, or opening a chat with, a retired user.
    cluster.retire("retiree").await;
    cluster.users(&["carol"]).await;
    let mid = cluster.fingerprint().await;
    refused(
        &bob,
        Call::OpenDirect(UserArgs {
            user_id: "retiree".into(),
        }),
        ErrorCode::Forbidden,
    )
    .await;
    refused(
        &bob,
        Call::Invite(InviteArgs {
            room_id: room,
            user_ids: vec!["carol".into(), "retiree".into()],
        }),
        ErrorCode::Forbidden,
    )
    .await;
    refused(
        &bob,
        Call::CreateGroup(CreateGroupArgs {
            name: "g".into(),
            user_ids: vec!["retiree".into()],
        }),
        ErrorCode::Forbidden,
    )
    .await;
    assert_eq!(cluster.fingerprint().await, mid);
    assert_ne!(before, mid);
    // While the admin may remove an active member from a room they are not in, and anyone a retired one.
    let admin = cluster.connect(0, "admin").await;
    ok(
        &admin,
        Call::RemoveMember(RemoveMemberArgs {
            room_id: room,
            user_id: "alice".into(),
        }),
    )
    .await;
    ok(
        &bob,
        Call::RemoveMember(RemoveMemberArgs {
            room_id: room,
            user_id: "retiree".into(),
        }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_members_cleared_chat_and_saved_messages_are_not_anothers() {
    let (cluster, room, _, _) = setup().await;
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(0, "bob").await;
    ok(
        &alice,
        Call::SaveMessage(MessageRef {
            room_id: room,
            seq: 1,
        }),
    )
    .await;
    let alices = "SELECT count(*) FROM saved_messages WHERE user_id = 'alice'";
    // Bob unsaving and clearing touch only his own rows.
    ok(
        &bob,
        Call::UnsaveMessage(MessageRef {
            room_id: room,
            seq: 1,
        }),
    )
    .await;
    assert_eq!(cluster.count(alices, &[]).await, 1);
    ok(&bob, Call::ClearRoom(RoomArgs { room_id: room })).await;
    let cleared = "SELECT cleared_seq FROM room_members WHERE room_id = $1 AND user_id = $2";
    assert_eq!(cluster.count(cleared, &[&room, &"alice"]).await, 0);
    assert!(cluster.count(cleared, &[&room, &"bob"]).await > 0);
    let sendjay_common::protocol::Reply::ListSaved { messages, .. } =
        ok(&bob, Call::ListSaved(ListSavedArgs::default())).await
    else {
        panic!()
    };
    assert!(
        messages.is_empty(),
        "bob sees none of alice's saved messages"
    );
}
