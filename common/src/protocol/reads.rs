//! Read state and catching up: `mark_read`, `sync` and its cursors, `open_room`, unread counts (docs/protocol.md §6.5, §6.6, §6.10).

#[allow(unused_imports)]
use super::*;
use serde::{Deserialize, Serialize};

/// What a client last saw of one room, for `sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomCursor {
    /// The room.
    pub room_id: i64,
    /// The highest seq the client holds for that room.
    pub seq: i64,
}

/// What a client last saw of one room's changes (edits, revokes), for `sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeCursor {
    /// The room.
    pub room_id: i64,
    /// The highest `change_seq` the client holds for that room (0: none yet).
    pub change_seq: i64,
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
    /// What the client holds of each room's changes: messages up to the room's cursor that changed after it come
    /// back in `updates`. Rooms without a cursor in `cursors` are ignored here.
    #[serde(default)]
    pub changes: Vec<ChangeCursor>,
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

/// How many members have not read one message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqCount {
    /// The message.
    pub seq: i64,
    /// Members (other than its sender) whose read cursor is below it.
    pub unread: i64,
}
