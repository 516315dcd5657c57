//! Keeping and tidying messages: clearing a chat for oneself, saved messages, pinned messages (docs/protocol.md
//! §6.17).
//!
//! Clearing and saving are per user (other members never see them); pins belong to the room and are announced with
//! `system` messages so they reach every member the way every other change does: live, or through `sync`.

#[allow(unused_imports)]
use super::*;
use serde::{Deserialize, Serialize};

/// Most pinned messages one room may hold.
pub const MAX_PINS_PER_ROOM: usize = 50;

/// The largest page of `list_saved`.
pub const MAX_SAVED_PAGE: u32 = 200;

/// The page of a `list_saved` request that names none.
pub const DEFAULT_SAVED_PAGE: u32 = 50;

/// Arguments of `list_saved`: a page of the caller's saved messages, most recently saved first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListSavedArgs {
    /// Start after this saved message (the last one of the previous page); omit for the first page.
    #[serde(default)]
    pub before: Option<MessageRef>,
    /// Page size, 1 to `MAX_SAVED_PAGE`; default `DEFAULT_SAVED_PAGE`.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One pinned message of a room.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// The message as the caller sees it.
    pub message: Message,
    /// The member who pinned it.
    pub pinned_by: String,
    /// When it was pinned, Unix milliseconds.
    pub pinned_at_ms: i64,
}
