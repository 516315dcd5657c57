//! Sending and reading messages: `history`, `send` (text and rich), `forward` (docs/protocol.md §6.3, §6.4, §6.9).

#[allow(unused_imports)]
use super::*;
use serde::{Deserialize, Serialize};

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

/// Arguments of `edit_message`: the sender replaces a message's text (a file's caption) for everyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditMessageArgs {
    /// The room.
    pub room_id: i64,
    /// The message.
    pub seq: i64,
    /// The new text, under the rules of `send` (non-blank for `text`, at most `MAX_BODY_BYTES`).
    pub body: String,
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
