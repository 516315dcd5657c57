//! The frames themselves: requests (`Call`), answers (`Reply`), pushes and the server frame envelope (docs/protocol.md §5, §7, §8).

#[allow(unused_imports)]
use super::*;
use crate::error_code::ErrorCode;
use serde::{Deserialize, Serialize};

/// A request's operation and arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// Round trip check; no arguments.
    Ping,
    /// The caller's rooms with unread counts, most recently active first.
    ListRooms,
    /// A page of a room's history.
    History(HistoryArgs),
    /// Send a text message.
    Send(SendArgs),
    /// Send an image, file, file link or reply (wire op `send`).
    SendRich(SendRichArgs),
    /// Move the read cursor.
    MarkRead(MarkReadArgs),
    /// Fetch what was missed since the given cursors.
    Sync(SyncArgs),
    /// The 1:1 room with a user, created on first use.
    OpenDirect(UserArgs),
    /// A new group room.
    CreateGroup(CreateGroupArgs),
    /// Add members to a group room.
    Invite(InviteArgs),
    /// Leave a room.
    Leave(RoomArgs),
    /// Remove a member (admins, or anyone for a retired member).
    RemoveMember(RemoveMemberArgs),
    /// Rename a group room.
    RenameRoom(RenameRoomArgs),
    /// The caller's nickname and notification switch for a room.
    SetRoomPrefs(SetRoomPrefsArgs),
    /// A group room's shared options (its creator or an admin).
    SetRoomOptions(SetRoomOptionsArgs),
    /// A page of a room's members.
    RoomMembers(RoomMembersArgs),
    /// Mark a room read and load its newest page with per-message unread counts.
    OpenRoom(OpenRoomArgs),
    /// How many members have not read each of the given messages.
    UnreadCounts(UnreadCountsArgs),
    /// Who has not read a message.
    UnreadMembers(MessageRef),
    /// Copy a message into another room.
    Forward(ForwardArgs),
    /// The sender cancels a message for everyone.
    Revoke(MessageRef),
    /// Hide a message for the caller only.
    DeleteForMe(MessageRef),
    /// The sender changes a message's text for everyone.
    EditMessage(EditMessageArgs),
    /// React to a message with an emoji.
    AddReaction(ReactionArgs),
    /// Take one's reaction back.
    RemoveReaction(ReactionArgs),
    /// Who reacted to a message with an emoji.
    Reactors(ReactionArgs),
    /// Search a room's messages.
    Search(SearchArgs),
    /// Search the messages of all the caller's rooms.
    SearchAll(SearchAllArgs),
    /// Create a public channel.
    CreateChannel(CreateChannelArgs),
    /// The channels the caller may join.
    ListChannels(ListChannelsArgs),
    /// Join a public channel.
    JoinChannel(RoomArgs),
    /// Children of an organisation unit.
    OrgUnits(OrgUnitsArgs),
    /// A page of a unit's users.
    UnitMembers(UnitMembersArgs),
    /// Find users by name.
    SearchUsers(SearchUsersArgs),
    /// Profiles of the given users.
    GetUsers(UserIdsArgs),
    /// Change the caller's own profile fields.
    UpdateProfile(ProfilePatch),
    /// Which devices of the given users are connected.
    Presence(UserIdsArgs),
    /// Watch these users' presence on this connection (replaces the watched set; empty stops): answers their
    /// presence now, then changes arrive as `presence` pushes.
    WatchPresence(UserIdsArgs),
    /// The mobile app tells whether it is installed.
    SetMobileInstalled(SetMobileInstalledArgs),
    /// Tell a room's members the caller is typing.
    Typing(RoomArgs),
    /// The caller's settings.
    GetSettings,
    /// Change the caller's settings.
    SetSettings(SettingsPatch),
    /// Change a passkey: every session of that user is closed and every token revoked.
    ResetPasskey(ResetPasskeyArgs),
    /// End this device's session.
    Logout,
    /// Retire a user (admin).
    RetireUser(UserArgs),
    /// The node's push settings: the Web Push (VAPID) public key, whether FCM is configured.
    PushConfig,
    /// Where this device class of the caller gets pushes (replaces the previous subscription).
    PushSubscribe(PushSubscribeArgs),
    /// Stop pushes to this device class of the caller.
    PushUnsubscribe,
    /// Whether the user is looking at this session (no pushes while any session is in the foreground).
    SetForeground(SetForegroundArgs),
    /// Clear a chat for the caller only: messages up to the room's newest are no longer shown to them.
    ClearRoom(RoomArgs),
    /// Add a message to the caller's saved messages.
    SaveMessage(MessageRef),
    /// Remove a message from the caller's saved messages.
    UnsaveMessage(MessageRef),
    /// A page of the caller's saved messages, most recently saved first.
    ListSaved(ListSavedArgs),
    /// Pin a message in its room (for every member).
    PinMessage(MessageRef),
    /// Unpin a message of a room.
    UnpinMessage(MessageRef),
    /// A room's pinned messages.
    ListPins(RoomArgs),
}

impl Call {
    /// The operation name on the wire.
    pub fn op(&self) -> &'static str {
        match self {
            Call::Ping => "ping",
            Call::ListRooms => "list_rooms",
            Call::History(_) => "history",
            Call::Send(_) | Call::SendRich(_) => "send",
            Call::MarkRead(_) => "mark_read",
            Call::Sync(_) => "sync",
            Call::OpenDirect(_) => "open_direct",
            Call::CreateGroup(_) => "create_group",
            Call::Invite(_) => "invite",
            Call::Leave(_) => "leave",
            Call::RemoveMember(_) => "remove_member",
            Call::RenameRoom(_) => "rename_room",
            Call::SetRoomPrefs(_) => "set_room_prefs",
            Call::SetRoomOptions(_) => "set_room_options",
            Call::RoomMembers(_) => "room_members",
            Call::OpenRoom(_) => "open_room",
            Call::UnreadCounts(_) => "unread_counts",
            Call::UnreadMembers(_) => "unread_members",
            Call::Forward(_) => "forward",
            Call::Revoke(_) => "revoke",
            Call::DeleteForMe(_) => "delete_for_me",
            Call::EditMessage(_) => "edit_message",
            Call::AddReaction(_) => "add_reaction",
            Call::RemoveReaction(_) => "remove_reaction",
            Call::Reactors(_) => "reactors",
            Call::Search(_) => "search",
            Call::SearchAll(_) => "search_all",
            Call::CreateChannel(_) => "create_channel",
            Call::ListChannels(_) => "list_channels",
            Call::JoinChannel(_) => "join_channel",
            Call::OrgUnits(_) => "org_units",
            Call::UnitMembers(_) => "unit_members",
            Call::SearchUsers(_) => "search_users",
            Call::GetUsers(_) => "get_users",
            Call::UpdateProfile(_) => "update_profile",
            Call::Presence(_) => "presence",
            Call::WatchPresence(_) => "watch_presence",
            Call::SetMobileInstalled(_) => "set_mobile_installed",
            Call::Typing(_) => "typing",
            Call::GetSettings => "get_settings",
            Call::SetSettings(_) => "set_settings",
            Call::ResetPasskey(_) => "reset_passkey",
            Call::Logout => "logout",
            Call::RetireUser(_) => "retire_user",
            Call::PushConfig => "push_config",
            Call::PushSubscribe(_) => "push_subscribe",
            Call::PushUnsubscribe => "push_unsubscribe",
            Call::SetForeground(_) => "set_foreground",
            Call::ClearRoom(_) => "clear_room",
            Call::SaveMessage(_) => "save_message",
            Call::UnsaveMessage(_) => "unsave_message",
            Call::ListSaved(_) => "list_saved",
            Call::PinMessage(_) => "pin_message",
            Call::UnpinMessage(_) => "unpin_message",
            Call::ListPins(_) => "list_pins",
        }
    }
}

/// Every operation name of protocol v1.
pub const OPS: [&str; 55] = [
    "ping",
    "list_rooms",
    "history",
    "send",
    "mark_read",
    "sync",
    "open_direct",
    "create_group",
    "invite",
    "leave",
    "remove_member",
    "rename_room",
    "set_room_prefs",
    "room_members",
    "open_room",
    "unread_counts",
    "unread_members",
    "forward",
    "revoke",
    "delete_for_me",
    "edit_message",
    "add_reaction",
    "remove_reaction",
    "reactors",
    "search",
    "org_units",
    "unit_members",
    "search_users",
    "get_users",
    "update_profile",
    "presence",
    "watch_presence",
    "set_mobile_installed",
    "typing",
    "get_settings",
    "set_settings",
    "reset_passkey",
    "logout",
    "retire_user",
    "push_config",
    "push_subscribe",
    "push_unsubscribe",
    "set_foreground",
    "clear_room",
    "save_message",
    "unsave_message",
    "list_saved",
    "pin_message",
    "unpin_message",
    "list_pins",
    "set_room_options",
    "search_all",
    "create_channel",
    "list_channels",
    "join_channel",
];

/// A client request: an id chosen by the client and a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Echoed in the reply; the client keeps them unique among its requests in flight.
    pub id: u64,
    /// What to do.
    pub call: Call,
}

/// The result of a successful request; `op` names the request it answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Reply {
    /// Answer to `ping`.
    Ping {
        /// The node's clock, Unix milliseconds.
        server_time_ms: i64,
    },
    /// Answer to `list_rooms`.
    ListRooms {
        /// The rooms, most recently active first.
        rooms: Vec<RoomSummary>,
    },
    /// Answer to `history`.
    History {
        /// The room.
        room_id: i64,
        /// Messages, newest first.
        messages: Vec<Message>,
        /// Whether older messages exist.
        has_more: bool,
    },
    /// Answer to `send`: sent only after the message is committed in PostgreSQL.
    Send {
        /// The stored message (the original one when the client id was seen before).
        message: Message,
        /// True when this client id was already stored and nothing new was written.
        duplicate: bool,
    },
    /// Answer to `mark_read`.
    MarkRead {
        /// The room.
        room_id: i64,
        /// The cursor after the call (it never moves backwards).
        last_read_seq: i64,
        /// Unread messages left.
        unread: i64,
    },
    /// Answer to `sync`.
    Sync {
        /// Missed messages, ordered by room then seq.
        messages: Vec<Message>,
        /// The latest state of every room of the caller.
        rooms: Vec<RoomSummary>,
        /// Whether more messages are waiting: call `sync` again with advanced cursors.
        has_more: bool,
        /// Messages the client holds (at or below its cursor) that changed after its change cursor, ordered by
        /// room then `change_seq`.
        #[serde(default)]
        updates: Vec<Message>,
    },
    /// Answer to `open_direct`.
    OpenDirect {
        /// The pair's room.
        room: RoomSummary,
        /// Whether this call created it.
        created: bool,
    },
    /// Answer to `create_group`.
    CreateGroup {
        /// The new room, or the caller's existing group room with exactly these members.
        room: RoomSummary,
        /// True when `room` already existed and nothing was created (absent from older nodes: false).
        #[serde(default)]
        existing: bool,
    },
    /// Answer to `invite`.
    Invite {
        /// The room.
        room_id: i64,
        /// Users added (those already members are left out).
        added: Vec<String>,
        /// The system message recording it.
        message: Message,
    },
    /// Answer to `leave`.
    Leave {
        /// The room left.
        room_id: i64,
    },
    /// Answer to `remove_member`.
    RemoveMember {
        /// The room.
        room_id: i64,
        /// Who was removed.
        user_id: String,
        /// The system message recording it.
        message: Message,
    },
    /// Answer to `rename_room`.
    RenameRoom {
        /// The room.
        room_id: i64,
        /// The new name.
        name: String,
        /// The system message recording it.
        message: Message,
    },
    /// Answer to `set_room_options`.
    SetRoomOptions {
        /// The room.
        room_id: i64,
        /// Whether the member list is hidden now.
        members_hidden: bool,
        /// The system message recording it.
        message: Message,
    },
    /// Answer to `set_room_prefs`.
    SetRoomPrefs {
        /// The room.
        room_id: i64,
        /// The caller's name for it now.
        nickname: String,
        /// Whether notifications are on now.
        notifications: bool,
    },
    /// Answer to `room_members`.
    RoomMembers {
        /// The room.
        room_id: i64,
        /// Members ordered by user id.
        members: Vec<RoomMember>,
        /// Whether more members follow.
        has_more: bool,
    },
    /// Answer to `open_room`.
    OpenRoom {
        /// The room after marking it read.
        room: RoomSummary,
        /// Its newest messages, newest first.
        messages: Vec<Message>,
        /// For each message of `messages`, in the same order: members who have not read it.
        unread_counts: Vec<SeqCount>,
        /// Whether older messages exist.
        has_more: bool,
    },
    /// Answer to `unread_counts`.
    UnreadCounts {
        /// The room.
        room_id: i64,
        /// One entry per existing requested seq, ascending.
        counts: Vec<SeqCount>,
    },
    /// Answer to `unread_members`.
    UnreadMembers {
        /// The room.
        room_id: i64,
        /// The message.
        seq: i64,
        /// Members (other than the sender) who have not read it, by user id.
        user_ids: Vec<String>,
    },
    /// Answer to `forward`.
    Forward {
        /// The copy.
        message: Message,
        /// True when this client id was already used for the same copy.
        duplicate: bool,
    },
    /// Answer to `revoke`.
    Revoke {
        /// The room.
        room_id: i64,
        /// The revoked message.
        seq: i64,
    },
    /// Answer to `delete_for_me`.
    DeleteForMe {
        /// The room.
        room_id: i64,
        /// The hidden message.
        seq: i64,
    },
    /// Answer to `add_reaction`.
    AddReaction {
        /// The message as the caller sees it now (its `reactions` counted).
        message: Message,
        /// Whether this call changed anything (false: the reaction was already there).
        changed: bool,
    },
    /// Answer to `remove_reaction`.
    RemoveReaction {
        /// The message as the caller sees it now.
        message: Message,
        /// Whether this call changed anything (false: there was no such reaction).
        changed: bool,
    },
    /// Answer to `reactors`.
    Reactors {
        /// The room.
        room_id: i64,
        /// The message.
        seq: i64,
        /// The emoji.
        emoji: String,
        /// Who reacted with it, first reactor first, at most `MAX_REACTORS`.
        user_ids: Vec<String>,
        /// How many reacted in all (more than `user_ids` holds when past `MAX_REACTORS`).
        count: i64,
    },
    /// Answer to `edit_message`.
    EditMessage {
        /// The message as it is now.
        message: Message,
        /// Whether this call changed it (false when the body was already this).
        edited: bool,
    },
    /// Answer to `search`.
    Search {
        /// The room.
        room_id: i64,
        /// Matching messages, newest first.
        messages: Vec<Message>,
        /// Whether older matches exist.
        has_more: bool,
    },
    /// Answer to `search_all`.
    SearchAll {
        /// Matching messages of any of the caller's rooms, newest first (each names its room).
        messages: Vec<Message>,
        /// Whether older matches exist.
        has_more: bool,
        /// Pass as `cursor` for the next page; absent when there is none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_cursor: Option<String>,
    },
    /// Answer to `create_channel`.
    CreateChannel {
        /// The new channel (the caller is its first member).
        room: RoomSummary,
    },
    /// Answer to `list_channels`.
    ListChannels {
        /// Channels open to the caller, by name.
        channels: Vec<Channel>,
        /// Whether more follow (pass the last as `after`).
        has_more: bool,
    },
    /// Answer to `join_channel`.
    JoinChannel {
        /// The channel as the caller's room list shows it.
        room: RoomSummary,
        /// Whether this call made the caller a member (false: they already were).
        joined: bool,
    },
    /// Answer to `org_units`.
    OrgUnits {
        /// The parent asked for.
        parent_id: Option<String>,
        /// Its child units in use, by sort order then name.
        units: Vec<OrgUnit>,
    },
    /// Answer to `unit_members`.
    UnitMembers {
        /// The unit.
        unit_id: String,
        /// Active users, by name then id.
        users: Vec<UserProfile>,
        /// Whether more follow.
        has_more: bool,
    },
    /// Answer to `search_users`.
    SearchUsers {
        /// Active users whose name or id contains the query, by name then id.
        users: Vec<UserProfile>,
    },
    /// Answer to `get_users`.
    GetUsers {
        /// Profiles of the users that exist (retired ones included), in the order asked.
        users: Vec<UserProfile>,
    },
    /// Answer to `update_profile`.
    UpdateProfile {
        /// The caller's profile now.
        user: UserProfile,
    },
    /// Answer to `presence`.
    Presence {
        /// One entry per existing user asked for, in the order asked.
        users: Vec<PresenceInfo>,
    },
    /// Answer to `watch_presence`: the watched users' presence now.
    WatchPresence {
        /// One entry per existing user asked for, in the order asked.
        users: Vec<PresenceInfo>,
    },
    /// Answer to `set_mobile_installed`.
    SetMobileInstalled {
        /// The flag now.
        installed: bool,
    },
    /// Answer to `typing`.
    Typing {
        /// The room.
        room_id: i64,
    },
    /// Answer to `get_settings`.
    GetSettings {
        /// The settings.
        settings: Settings,
    },
    /// Answer to `set_settings`.
    SetSettings {
        /// The settings now.
        settings: Settings,
    },
    /// Answer to `reset_passkey`: that user's sessions are being closed (this one too, if it is the caller's).
    ResetPasskey {
        /// Whose passkey changed.
        user_id: String,
    },
    /// Answer to `logout`: this session closes with 4010 right after.
    Logout,
    /// Answer to `retire_user`.
    RetireUser {
        /// The retired user.
        user_id: String,
        /// The retirement time now recorded, Unix milliseconds.
        retired_at_ms: i64,
    },
    /// Answer to `push_config`.
    PushConfig {
        /// The VAPID public key for `PushManager.subscribe` (base64url, 65-byte point), `""` when Web Push is off.
        web_push_key: String,
        /// Whether this deployment sends FCM pushes.
        fcm: bool,
    },
    /// Answer to `push_subscribe`.
    PushSubscribe {
        /// The provider now stored for this device class.
        provider: PushProvider,
    },
    /// Answer to `push_unsubscribe`.
    PushUnsubscribe {
        /// A subscription was there and is gone.
        removed: bool,
    },
    /// Answer to `set_foreground`.
    SetForeground {
        /// The state now recorded.
        foreground: bool,
    },
    /// Answer to `clear_room`.
    ClearRoom {
        /// The room.
        room_id: i64,
        /// Messages up to this seq are no longer shown to the caller (the room is read up to it too).
        cleared_seq: i64,
    },
    /// Answer to `save_message`.
    SaveMessage {
        /// The room.
        room_id: i64,
        /// The message.
        seq: i64,
        /// Whether it is saved now (always true).
        saved: bool,
    },
    /// Answer to `unsave_message`.
    UnsaveMessage {
        /// The room.
        room_id: i64,
        /// The message.
        seq: i64,
        /// Whether it is saved now (always false).
        saved: bool,
    },
    /// Answer to `list_saved`.
    ListSaved {
        /// Saved messages, most recently saved first, as `history` shows them.
        messages: Vec<Message>,
        /// Whether older saved messages exist.
        has_more: bool,
    },
    /// Answer to `pin_message`.
    PinMessage {
        /// The room.
        room_id: i64,
        /// The message.
        seq: i64,
        /// Whether it is pinned now (always true).
        pinned: bool,
        /// The `pin` system message this call wrote; nil when the message was already pinned.
        message: Option<Message>,
    },
    /// Answer to `unpin_message`.
    UnpinMessage {
        /// The room.
        room_id: i64,
        /// The message.
        seq: i64,
        /// Whether it is pinned now (always false).
        pinned: bool,
        /// The `unpin` system message this call wrote; nil when the message was not pinned.
        message: Option<Message>,
    },
    /// Answer to `list_pins`.
    ListPins {
        /// The room.
        room_id: i64,
        /// Its pinned messages, most recently pinned first.
        pins: Vec<Pin>,
    },
}

/// Something the server tells a client without being asked.
// A push lives only between decoding and handling; boxing the message would cost an allocation per push.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Push {
    /// A new message in one of the client's rooms (also the client's own, for its other devices).
    Message {
        /// The message.
        message: Message,
    },
    /// A member's read cursor moved.
    Read {
        /// The room.
        room_id: i64,
        /// Whose cursor.
        user_id: String,
        /// The new cursor.
        last_read_seq: i64,
    },
    /// This session is about to be closed because another one replaced it.
    Evicted {
        /// Why, in words.
        reason: String,
    },
    /// Reconnect (through the router) after the given delay; the node is draining or rebalancing.
    Reconnect {
        /// Wait this long before reconnecting, to spread the load.
        after_ms: u64,
        /// Why.
        reason: String,
    },
    /// Some pushes may have been lost; call `sync` with your cursors.
    SyncNeeded {
        /// Why.
        reason: String,
    },
    /// A message was revoked by its sender: drop its body and file.
    Revoked {
        /// The room.
        room_id: i64,
        /// The message.
        seq: i64,
    },
    /// A member reacted to a message or took the reaction back: the emoji's count now.
    Reaction {
        /// The room.
        room_id: i64,
        /// The message.
        seq: i64,
        /// Who reacted (or stopped).
        user_id: String,
        /// The emoji.
        emoji: String,
        /// Added (true) or removed.
        on: bool,
        /// How many members react with this emoji now.
        count: i64,
        /// The room's change counter of this change: apply it only to a copy with a lower `change_seq`.
        change_seq: i64,
    },
    /// A message's sender edited it: replace the message held with this one.
    Edited {
        /// The message as it is now.
        message: Message,
    },
    /// The user deleted a message for themselves on another device.
    Hidden {
        /// The room.
        room_id: i64,
        /// The message.
        seq: i64,
    },
    /// A watched user's connected devices changed (`watch_presence`).
    Presence {
        /// Who.
        user_id: String,
        /// A web session is connected.
        web: bool,
        /// A mobile session is connected.
        mobile: bool,
    },
    /// A watched user's absence status changed (`watch_presence`): the status now.
    Absence {
        /// Who.
        user_id: String,
        /// The absence code (`""`: present).
        absence_code: String,
        /// Free text shown with it.
        absence_text: String,
        /// First day, `YYYY-MM-DD`, or nil.
        absence_from: Option<String>,
        /// Last day, `YYYY-MM-DD`, or nil.
        absence_to: Option<String>,
    },
    /// A member is typing (ephemeral; show for about 5 s).
    Typing {
        /// The room.
        room_id: i64,
        /// Who.
        user_id: String,
    },
    /// The user's own settings for a room changed (from another device).
    RoomPrefs {
        /// The room.
        room_id: i64,
        /// The user's name for it.
        nickname: String,
        /// Whether notifications are on.
        notifications: bool,
    },
    /// The user's settings changed (from another device).
    Settings {
        /// The settings now.
        settings: Settings,
    },
    /// The user cleared a chat (on this or another device): drop its messages up to `cleared_seq`.
    RoomCleared {
        /// The room.
        room_id: i64,
        /// Messages up to this seq are no longer shown.
        cleared_seq: i64,
    },
    /// The user saved or unsaved a message (on this or another device).
    Saved {
        /// The room.
        room_id: i64,
        /// The message.
        seq: i64,
        /// Whether it is saved now.
        saved: bool,
    },
}

/// Any frame a node sends.
// Frames are short-lived values on their way to or from the socket; boxing replies would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The successful answer to request `id`.
    Reply {
        /// The request's id.
        id: u64,
        /// The result.
        result: Reply,
    },
    /// The failed answer to request `id` (no id when the frame was unreadable).
    Error {
        /// The request's id, when it could be read.
        id: Option<u64>,
        /// A stable machine code.
        code: ErrorCode,
        /// A human message saying what to do.
        message: String,
    },
    /// An unsolicited event.
    Push {
        /// The event.
        push: Push,
    },
}
