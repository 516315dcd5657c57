//! Wire protocol v1: the frames a client and a node exchange over a WebSocket.
//!
//! Every frame is one binary WebSocket message holding one MessagePack map with named fields (see
//! `docs/protocol.md`). A client sends requests `{id, op, args}`; the node answers each with exactly one
//! `reply` or `error` frame carrying the same `id`. Pushes (`kind: "push"`) are unsolicited and have no id.

use serde::{Deserialize, Serialize};

use crate::error_code::ErrorCode;

/// The largest `limit` a `history` request may ask for.
pub const MAX_HISTORY_PAGE: u32 = 200;
/// The `limit` of a `history` request that names none.
pub const DEFAULT_HISTORY_PAGE: u32 = 50;
/// The largest `limit` a `sync` request may ask for.
pub const MAX_SYNC_PAGE: u32 = 1000;
/// The `limit` of a `sync` request that names none.
pub const DEFAULT_SYNC_PAGE: u32 = 500;
/// The longest text body, in bytes of UTF-8.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;
/// The default member limit of a room (a node can be configured with another).
pub const DEFAULT_MAX_ROOM_MEMBERS: u32 = 5000;
/// Most user ids in one `create_group` or `invite` request (add more with further `invite` calls).
pub const MAX_USERS_PER_CALL: usize = 1000;
/// Longest room name, in characters.
pub const MAX_ROOM_NAME_CHARS: usize = 100;
/// Longest per-member room nickname, in characters.
pub const MAX_ROOM_NICKNAME_CHARS: usize = 100;
/// Most seqs in one `unread_counts` request.
pub const MAX_SEQS_PER_CALL: usize = 200;
/// Longest quote preview in a reply, in characters.
pub const QUOTE_PREVIEW_CHARS: usize = 100;
/// The largest file size a message may declare, in bytes (10 GiB).
pub const MAX_FILE_BYTES: i64 = 10 * 1024 * 1024 * 1024;
/// Longest file id, in bytes.
pub const MAX_FILE_ID_BYTES: usize = 128;
/// Longest file name, in bytes.
pub const MAX_FILE_NAME_BYTES: usize = 255;
/// Longest MIME type, in bytes.
pub const MAX_MIME_BYTES: usize = 127;
/// Longest search query, in characters.
pub const MAX_SEARCH_QUERY_CHARS: usize = 100;
/// The largest page of `search`, `room_members`, `unit_members` and `search_users`.
pub const MAX_LIST_PAGE: u32 = 500;
/// The default page of `search`, `unit_members` and `search_users`.
pub const DEFAULT_LIST_PAGE: u32 = 50;
/// Most user ids in one `get_users` or `presence` request.
pub const MAX_LOOKUP_USERS: usize = 500;
/// Longest profile text fields (nickname, job, phone, absence text), in characters.
pub const MAX_PROFILE_CHARS: usize = 100;
/// Default revoke window, in seconds (a node can be configured with another).
pub const DEFAULT_REVOKE_WINDOW_SECS: u64 = 300;

/// The device class of a session: a user has at most one live session of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceClass {
    /// A browser (standalone tab or embedded in a portal page).
    Web,
    /// The mobile app.
    Mobile,
}

impl DeviceClass {
    /// The class as it appears on the wire and in Redis.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceClass::Web => "web",
            DeviceClass::Mobile => "mobile",
        }
    }

    /// Parses `web` or `mobile`.
    pub fn parse(text: &str) -> Option<DeviceClass> {
        match text {
            "web" => Some(DeviceClass::Web),
            "mobile" => Some(DeviceClass::Mobile),
            _ => None,
        }
    }
}

/// The kind of a message's body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// Plain text typed by a user.
    #[default]
    Text,
    /// An image: `file` holds its metadata (an `image/*` MIME type); `body` is an optional caption.
    Image,
    /// Any other file: `file` holds its metadata; `body` is an optional caption.
    File,
    /// A reference to a file already uploaded in another message, sent without uploading it again.
    FileLink,
    /// A message the server writes (create, invite, leave, rename, remove); `system` says what happened.
    System,
}

impl MessageKind {
    /// The kind as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Image => "image",
            MessageKind::File => "file",
            MessageKind::FileLink => "file_link",
            MessageKind::System => "system",
        }
    }

    /// Parses a stored kind.
    pub fn parse(text: &str) -> Option<MessageKind> {
        match text {
            "text" => Some(MessageKind::Text),
            "image" => Some(MessageKind::Image),
            "file" => Some(MessageKind::File),
            "file_link" => Some(MessageKind::FileLink),
            "system" => Some(MessageKind::System),
            _ => None,
        }
    }

    /// Whether messages of this kind carry file metadata.
    pub fn has_file(self) -> bool {
        matches!(
            self,
            MessageKind::Image | MessageKind::File | MessageKind::FileLink
        )
    }
}

/// A message as stored: its room, its place in the room (`seq`) and its content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The room the message belongs to.
    pub room_id: i64,
    /// The message's position in the room, starting at 1, without gaps.
    pub seq: i64,
    /// The id the sending client chose; unique per sender and room.
    pub client_msg_id: String,
    /// The sender's user id (for system messages: the member who caused it).
    pub sender_id: String,
    /// What the body holds.
    pub kind: MessageKind,
    /// The text (a caption for files and images; a readable sentence for system messages). Empty once revoked
    /// or when hidden for the caller.
    pub body: String,
    /// When it was written, inside the transaction that committed it, in Unix milliseconds.
    pub created_at_ms: i64,
    /// The message this one replies to, in the same room.
    #[serde(default)]
    pub reply_to: Option<Quote>,
    /// File metadata of `image`, `file` and `file_link` messages (nil once revoked).
    #[serde(default)]
    pub file: Option<FileInfo>,
    /// What happened, for `system` messages.
    #[serde(default)]
    pub system: Option<SystemEvent>,
    /// Copied from another message by `forward`.
    #[serde(default)]
    pub forwarded: bool,
    /// Revoked by its sender: body and file are gone from the server.
    #[serde(default)]
    pub revoked: bool,
    /// Deleted by the caller for themselves only (`delete_for_me`): body and file are withheld from them.
    #[serde(default)]
    pub hidden: bool,
}

/// The quoted message of a reply, as it is now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// The quoted message's seq (same room).
    pub seq: i64,
    /// Who wrote it.
    pub sender_id: String,
    /// Its kind.
    pub kind: MessageKind,
    /// Its body cut to `QUOTE_PREVIEW_CHARS` characters (for files: the caption, or the file name when none);
    /// empty when it was revoked.
    pub preview: String,
    /// Whether the quoted message was revoked.
    pub revoked: bool,
}

/// Metadata of an uploaded file (`POST /v1/files`, protocol §19); `file_id` names the bytes in file storage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// The storage id of the bytes: 1–128 printable ASCII characters.
    pub file_id: String,
    /// The file name shown to users: 1–255 bytes of UTF-8, no `/`, `\` or control characters.
    pub name: String,
    /// Size in bytes, 1 … `MAX_FILE_BYTES`.
    pub size: i64,
    /// MIME type `type/subtype` (lowercase ASCII, at most 127 bytes); images must be `image/*`.
    pub mime: String,
    /// Pixel width of an image.
    #[serde(default)]
    pub width: Option<u32>,
    /// Pixel height of an image.
    #[serde(default)]
    pub height: Option<u32>,
    /// When the file's bytes are deleted (Unix ms); filled in by the server from the upload.
    #[serde(default)]
    pub expires_at_ms: Option<i64>,
    /// The bytes were deleted after the retention period: downloads answer 410 `file_expired`.
    #[serde(default)]
    pub expired: bool,
}

/// What a system message records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemAction {
    /// A group room was created with `users` as its first members.
    #[default]
    Create,
    /// `actor` invited `users`.
    Invite,
    /// `actor` left.
    Leave,
    /// `actor` removed `users`.
    Remove,
    /// `actor` renamed the room to `name`.
    Rename,
}

/// The structured part of a system message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemEvent {
    /// What happened.
    pub action: SystemAction,
    /// Who did it.
    pub actor: String,
    /// Whom it concerned (invited, removed or initial members); empty for leave and rename.
    #[serde(default)]
    pub users: Vec<String>,
    /// The new name, for rename and create.
    #[serde(default)]
    pub name: Option<String>,
}

/// A message named by its room and seq.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRef {
    /// The room.
    pub room_id: i64,
    /// The message's seq in it.
    pub seq: i64,
}

/// One room as the room list shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSummary {
    /// The room's id.
    pub room_id: i64,
    /// `direct` (two people) or `group`.
    pub kind: String,
    /// The room's name (empty for direct rooms).
    pub name: String,
    /// The seq of the newest message (0 when empty).
    pub last_seq: i64,
    /// The caller's read cursor: the highest seq they have read.
    pub last_read_seq: i64,
    /// Messages after the caller's read cursor.
    pub unread: i64,
    /// When the room last had a message (or was created), in Unix milliseconds.
    pub last_activity_ms: i64,
    /// The newest message, if any, as a preview: its body cut to 200 characters.
    #[serde(default)]
    pub last_message: Option<Message>,
    /// The caller's own name for the room (`set_room_prefs`); empty when none.
    #[serde(default)]
    pub nickname: String,
    /// Whether the caller wants notifications for this room.
    #[serde(default = "yes")]
    pub notifications: bool,
    /// Members now.
    #[serde(default)]
    pub member_count: i64,
    /// For direct rooms: the other person's user id.
    #[serde(default)]
    pub peer_id: Option<String>,
}

fn yes() -> bool {
    true
}

/// What a client last saw of one room, for `sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomCursor {
    /// The room.
    pub room_id: i64,
    /// The highest seq the client holds for that room.
    pub seq: i64,
}

/// Arguments of `history`: a page of a room's messages, newest first, before a seq.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryArgs {
    /// The room.
    pub room_id: i64,
    /// Return messages with a seq below this one; omit for the newest page.
    #[serde(default)]
    pub before_seq: Option<i64>,
    /// Page size, 1 to `MAX_HISTORY_PAGE`; default `DEFAULT_HISTORY_PAGE`.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Arguments of `send`: a text message to a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendArgs {
    /// The room.
    pub room_id: i64,
    /// A client-chosen id (1–64 printable ASCII characters); resending it returns the stored message.
    pub client_msg_id: String,
    /// The text, up to `MAX_TEXT_BYTES` bytes.
    pub body: String,
}

/// Arguments of `mark_read`: move the caller's read cursor forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkReadArgs {
    /// The room.
    pub room_id: i64,
    /// The highest seq read; omit to mark the whole room read.
    #[serde(default)]
    pub seq: Option<i64>,
}

/// Arguments of `sync`: everything after the given cursors, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncArgs {
    /// What the client holds per room; rooms not named are only summarised in the reply.
    #[serde(default)]
    pub cursors: Vec<RoomCursor>,
    /// Most messages in this page, 1 to `MAX_SYNC_PAGE`; default `DEFAULT_SYNC_PAGE`.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Arguments of `send` with more than a text body: a file, an image, a file link or a reply. On the wire this is
/// the same op, `send`; a request without any of these extras decodes as [`Call::Send`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRichArgs {
    /// The room.
    pub room_id: i64,
    /// A client-chosen id (1–64 printable ASCII characters); resending it returns the stored message.
    pub client_msg_id: String,
    /// The text; for files and images an optional caption.
    #[serde(default)]
    pub body: String,
    /// `text` (default), `image`, `file` or `file_link`.
    #[serde(default)]
    pub kind: MessageKind,
    /// The file's metadata, for `image` and `file`.
    #[serde(default)]
    pub file: Option<FileInfo>,
    /// The message whose file to send again, for `file_link`.
    #[serde(default)]
    pub file_link: Option<MessageRef>,
    /// The seq of the message (in the same room) this one replies to.
    #[serde(default)]
    pub reply_to: Option<i64>,
}

/// Arguments naming a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserArgs {
    /// The user id.
    pub user_id: String,
}

/// Arguments naming a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomArgs {
    /// The room.
    pub room_id: i64,
}

/// Arguments of `create_group`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateGroupArgs {
    /// The room's name (may be empty: clients then show member names).
    #[serde(default)]
    pub name: String,
    /// The other first members (the caller is always added).
    pub user_ids: Vec<String>,
}

/// Arguments of `invite`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteArgs {
    /// The group room.
    pub room_id: i64,
    /// Users to add.
    pub user_ids: Vec<String>,
}

/// Arguments of `remove_member`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveMemberArgs {
    /// The room.
    pub room_id: i64,
    /// The member to remove.
    pub user_id: String,
}

/// Arguments of `rename_room`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenameRoomArgs {
    /// The group room.
    pub room_id: i64,
    /// The new name (may be empty).
    pub name: String,
}

/// Arguments of `set_room_prefs`: the caller's own settings for one room; absent keys keep their value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRoomPrefsArgs {
    /// The room.
    pub room_id: i64,
    /// The caller's name for the room; empty clears it.
    #[serde(default)]
    pub nickname: Option<String>,
    /// Whether to notify the caller about this room.
    #[serde(default)]
    pub notifications: Option<bool>,
}

/// Arguments of `room_members`: a page of members ordered by user id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomMembersArgs {
    /// The room.
    pub room_id: i64,
    /// Start after this user id (the last one of the previous page).
    #[serde(default)]
    pub after: Option<String>,
    /// Page size, 1 to `MAX_LIST_PAGE`; default `MAX_LIST_PAGE`.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Arguments of `open_room`: mark the room read and return its newest page with unread counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenRoomArgs {
    /// The room.
    pub room_id: i64,
    /// Page size, 1 to `MAX_HISTORY_PAGE`; default `DEFAULT_HISTORY_PAGE`.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Arguments of `unread_counts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreadCountsArgs {
    /// The room.
    pub room_id: i64,
    /// The seqs on screen, at most `MAX_SEQS_PER_CALL`.
    pub seqs: Vec<i64>,
}

/// Arguments of `forward`: copy a message into another room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardArgs {
    /// The room of the original.
    pub room_id: i64,
    /// The original's seq.
    pub seq: i64,
    /// The room to copy it into (the caller must be a member of both).
    pub to_room_id: i64,
    /// The copy's client id, as for `send`.
    pub client_msg_id: String,
}

/// What `search` restricts messages to, besides text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaFilter {
    /// `image` messages.
    Image,
    /// `file` and `file_link` messages.
    File,
    /// Text messages containing an `http://` or `https://` link.
    Link,
}

/// Arguments of `search`: a room's messages matching every given filter, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchArgs {
    /// The room.
    pub room_id: i64,
    /// Case-insensitive substring of the body (Korean or any script), 1–`MAX_SEARCH_QUERY_CHARS` characters.
    #[serde(default)]
    pub query: Option<String>,
    /// Only this sender's messages.
    #[serde(default)]
    pub sender_id: Option<String>,
    /// Only images, files or links.
    #[serde(default)]
    pub kind: Option<MediaFilter>,
    /// Only messages with a lower seq (paging).
    #[serde(default)]
    pub before_seq: Option<i64>,
    /// Page size, 1 to `MAX_LIST_PAGE`; default `DEFAULT_LIST_PAGE`.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Arguments of `org_units`: the children of one unit (or the roots).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgUnitsArgs {
    /// The parent unit; omit for the top-level units.
    #[serde(default)]
    pub parent_id: Option<String>,
}

/// Arguments of `unit_members`: a page of one unit's active users, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitMembersArgs {
    /// The unit.
    pub unit_id: String,
    /// Start after this user (the last user id of the previous page).
    #[serde(default)]
    pub after: Option<String>,
    /// Page size, 1 to `MAX_LIST_PAGE`; default `DEFAULT_LIST_PAGE`.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Arguments of `search_users`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchUsersArgs {
    /// A case-insensitive substring of the name (or of the user id), 1–`MAX_SEARCH_QUERY_CHARS` characters.
    pub query: String,
    /// Most results, 1 to `MAX_LIST_PAGE`; default `DEFAULT_LIST_PAGE`.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Arguments naming several users.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserIdsArgs {
    /// At most `MAX_LOOKUP_USERS` user ids.
    pub user_ids: Vec<String>,
}

/// Arguments of `update_profile`: the caller's own directory fields; absent keys keep their value, `""` clears.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfilePatch {
    /// Nickname or status line.
    #[serde(default)]
    pub nickname: Option<String>,
    /// Job description.
    #[serde(default)]
    pub job: Option<String>,
    /// Phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// Absence code, e.g. `dayoff`, `biztrip` (1–16 characters `a-z0-9_-`), or `""`.
    #[serde(default)]
    pub absence_code: Option<String>,
    /// Absence text, e.g. `08/15~08/23`.
    #[serde(default)]
    pub absence_text: Option<String>,
    /// First day of the absence, `YYYY-MM-DD`, or `""`.
    #[serde(default)]
    pub absence_from: Option<String>,
    /// Last day of the absence, `YYYY-MM-DD`, or `""`.
    #[serde(default)]
    pub absence_to: Option<String>,
}

/// Arguments of `set_settings`: absent keys keep their value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsPatch {
    /// No notifications at all.
    #[serde(default)]
    pub notifications_off: Option<bool>,
    /// Notifications without sound.
    #[serde(default)]
    pub sound_off: Option<bool>,
    /// Notifications without the message text.
    #[serde(default)]
    pub hide_body: Option<bool>,
    /// Notifications without the sender's name.
    #[serde(default)]
    pub hide_sender: Option<bool>,
    /// Quiet hours start, `HH:MM` (24 h, the user's local time), or `""` to clear; give with `quiet_to`.
    #[serde(default)]
    pub quiet_from: Option<String>,
    /// Quiet hours end, `HH:MM`, or `""` to clear; give with `quiet_from`.
    #[serde(default)]
    pub quiet_to: Option<String>,
    /// Web only: open the messenger in its own tab instead of embedded in the portal page.
    #[serde(default)]
    pub web_standalone: Option<bool>,
}

/// Arguments of `set_mobile_installed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetMobileInstalledArgs {
    /// Whether the mobile app is installed and signed in.
    pub installed: bool,
}

/// Arguments of `reset_passkey`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetPasskeyArgs {
    /// Whose passkey; omit for the caller's own (another user's needs the admin role).
    #[serde(default)]
    pub user_id: Option<String>,
}

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
    /// Search a room's messages.
    Search(SearchArgs),
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
            Call::RoomMembers(_) => "room_members",
            Call::OpenRoom(_) => "open_room",
            Call::UnreadCounts(_) => "unread_counts",
            Call::UnreadMembers(_) => "unread_members",
            Call::Forward(_) => "forward",
            Call::Revoke(_) => "revoke",
            Call::DeleteForMe(_) => "delete_for_me",
            Call::Search(_) => "search",
            Call::OrgUnits(_) => "org_units",
            Call::UnitMembers(_) => "unit_members",
            Call::SearchUsers(_) => "search_users",
            Call::GetUsers(_) => "get_users",
            Call::UpdateProfile(_) => "update_profile",
            Call::Presence(_) => "presence",
            Call::SetMobileInstalled(_) => "set_mobile_installed",
            Call::Typing(_) => "typing",
            Call::GetSettings => "get_settings",
            Call::SetSettings(_) => "set_settings",
            Call::ResetPasskey(_) => "reset_passkey",
            Call::Logout => "logout",
            Call::RetireUser(_) => "retire_user",
        }
    }
}

/// Every operation name of protocol v1.
pub const OPS: [&str; 34] = [
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
    "search",
    "org_units",
    "unit_members",
    "search_users",
    "get_users",
    "update_profile",
    "presence",
    "set_mobile_installed",
    "typing",
    "get_settings",
    "set_settings",
    "reset_passkey",
    "logout",
    "retire_user",
];

/// A client request: an id chosen by the client and a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Echoed in the reply; the client keeps them unique among its requests in flight.
    pub id: u64,
    /// What to do.
    pub call: Call,
}

/// One member of a room.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomMember {
    /// The user id.
    pub user_id: String,
    /// The display name.
    pub name: String,
    /// Their read cursor in the room.
    pub last_read_seq: i64,
    /// Whether the user is retired (such members may be removed by anyone).
    pub retired: bool,
}

/// How many members have not read one message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqCount {
    /// The message.
    pub seq: i64,
    /// Members (other than its sender) whose read cursor is below it.
    pub unread: i64,
}

/// One unit of the organisation tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgUnit {
    /// The unit's id (the HR system's code).
    pub id: String,
    /// Its parent, nil for a top-level unit.
    pub parent_id: Option<String>,
    /// Its name.
    pub name: String,
    /// 0 for a top-level unit, parent's depth + 1 below.
    pub depth: i32,
    /// Position among its siblings (ascending).
    pub sort_order: i32,
    /// Child units in use.
    pub child_count: i64,
    /// Active (not retired) users directly in this unit.
    pub member_count: i64,
}

/// A user as the directory shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProfile {
    /// The user id.
    pub user_id: String,
    /// The display name.
    pub name: String,
    /// The unit, if any.
    pub unit_id: Option<String>,
    /// The unit's name (empty without a unit).
    pub unit_name: String,
    /// Nickname or status line.
    pub nickname: String,
    /// Job description.
    pub job: String,
    /// Phone number.
    pub phone: String,
    /// Absence code (`dayoff`, `biztrip`, …), empty when present.
    pub absence_code: String,
    /// Absence text.
    pub absence_text: String,
    /// First day of the absence, `YYYY-MM-DD`.
    pub absence_from: Option<String>,
    /// Last day of the absence, `YYYY-MM-DD`.
    pub absence_to: Option<String>,
    /// `user` or `admin`.
    pub role: String,
    /// Whether the user is retired.
    pub retired: bool,
}

/// Which devices of a user are connected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceInfo {
    /// The user id.
    pub user_id: String,
    /// A web session is connected.
    pub web: bool,
    /// A mobile session is connected.
    pub mobile: bool,
    /// The mobile app is installed and signed in (it can be reached even when not connected).
    pub mobile_installed: bool,
}

/// A user's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// No notifications at all.
    pub notifications_off: bool,
    /// Notifications without sound.
    pub sound_off: bool,
    /// Notifications without the message text.
    pub hide_body: bool,
    /// Notifications without the sender's name.
    pub hide_sender: bool,
    /// Quiet hours start, `HH:MM`, or nil.
    pub quiet_from: Option<String>,
    /// Quiet hours end, `HH:MM`, or nil.
    pub quiet_to: Option<String>,
    /// Web only: open the messenger in its own tab.
    pub web_standalone: bool,
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
        /// The new room.
        room: RoomSummary,
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
    /// Answer to `search`.
    Search {
        /// The room.
        room_id: i64,
        /// Matching messages, newest first.
        messages: Vec<Message>,
        /// Whether older matches exist.
        has_more: bool,
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
    /// The user deleted a message for themselves on another device.
    Hidden {
        /// The room.
        room_id: i64,
        /// The message.
        seq: i64,
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
