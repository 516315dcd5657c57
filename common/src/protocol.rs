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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// Plain text typed by a user.
    Text,
    /// A message the server writes (invite, leave, rename, remove).
    System,
}

impl MessageKind {
    /// The kind as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::System => "system",
        }
    }

    /// Parses a stored kind.
    pub fn parse(text: &str) -> Option<MessageKind> {
        match text {
            "text" => Some(MessageKind::Text),
            "system" => Some(MessageKind::System),
            _ => None,
        }
    }
}

/// A message as stored: its room, its place in the room (`seq`) and its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The room the message belongs to.
    pub room_id: i64,
    /// The message's position in the room, starting at 1, without gaps.
    pub seq: i64,
    /// The id the sending client chose; unique per sender and room.
    pub client_msg_id: String,
    /// The sender's user id.
    pub sender_id: String,
    /// What the body holds.
    pub kind: MessageKind,
    /// The text.
    pub body: String,
    /// When it was written, inside the transaction that committed it, in Unix milliseconds.
    pub created_at_ms: i64,
}

/// One room as the room list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Move the read cursor.
    MarkRead(MarkReadArgs),
    /// Fetch what was missed since the given cursors.
    Sync(SyncArgs),
}

impl Call {
    /// The operation name on the wire.
    pub fn op(&self) -> &'static str {
        match self {
            Call::Ping => "ping",
            Call::ListRooms => "list_rooms",
            Call::History(_) => "history",
            Call::Send(_) => "send",
            Call::MarkRead(_) => "mark_read",
            Call::Sync(_) => "sync",
        }
    }
}

/// Every operation name of protocol v1.
pub const OPS: [&str; 6] = ["ping", "list_rooms", "history", "send", "mark_read", "sync"];

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
    },
}

/// Something the server tells a client without being asked.
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
}

/// Any frame a node sends.
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
