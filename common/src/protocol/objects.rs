//! The objects requests and answers carry: devices, messages and their kinds, quotes, file metadata, system events (docs/protocol.md §6.7).

#[allow(unused_imports)]
use super::*;
use serde::{Deserialize, Serialize};

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
    /// A message the server writes (create, invite, leave, rename, remove, pin, unpin, room options); `system` says what happened.
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
    /// The user ids the body mentions with `@id` (`mentions::parse` of the body; empty when revoked or hidden).
    #[serde(default)]
    pub mentions: Vec<String>,
    /// When its sender last edited it (`edit_message`), in Unix milliseconds; nil when never.
    #[serde(default)]
    pub edited_at_ms: Option<i64>,
    /// The room's change counter when the message last changed after it was sent (an edit or a revoke); 0 when
    /// never. `sync` returns changed messages by it (docs/protocol.md §6.6).
    #[serde(default)]
    pub change_seq: i64,
    /// The emoji members reacted with, in the order they were first used, with counts (§6.18); empty when none.
    #[serde(default)]
    pub reactions: Vec<Reaction>,
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
    /// `actor` pinned message `seq`.
    Pin,
    /// `actor` unpinned message `seq` (or revoked it while it was pinned).
    Unpin,
    /// `actor` changed the room's options (`set_room_options`): `members_hidden` holds the new value.
    RoomOptions,
    /// `actor` joined a public channel by themselves (`join_channel`).
    Join,
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
    /// The message pinned or unpinned, for pin and unpin.
    #[serde(default)]
    pub seq: Option<i64>,
    /// Whether the member list is now hidden, for room_options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members_hidden: Option<bool>,
}

impl SystemEvent {
    /// An event of `action` by `actor`, concerning nobody else, without a name or a seq.
    pub fn by(action: SystemAction, actor: &str) -> SystemEvent {
        SystemEvent {
            action,
            actor: actor.to_owned(),
            ..SystemEvent::default()
        }
    }
}

/// A message named by its room and seq.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRef {
    /// The room.
    pub room_id: i64,
    /// The message's seq in it.
    pub seq: i64,
}
