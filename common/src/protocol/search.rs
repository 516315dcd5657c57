//! A room's messages by text, sender or media kind (docs/protocol.md §6.11).

#[allow(unused_imports)]
use super::*;
use serde::{Deserialize, Serialize};

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

/// Most rooms one `search_all` may be narrowed to.
pub const MAX_SEARCH_ROOMS: usize = 100;

/// Arguments of `search_all`: the caller's messages in every room they are in (or the rooms named), newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchAllArgs {
    /// Case-insensitive substring of the body (Korean or any script), 1–`MAX_SEARCH_QUERY_CHARS` characters.
    pub query: String,
    /// Only these rooms (each one the caller is in), at most `MAX_SEARCH_ROOMS`; absent: all the caller's rooms.
    #[serde(default)]
    pub room_ids: Option<Vec<i64>>,
    /// Only this sender's messages.
    #[serde(default)]
    pub sender_id: Option<String>,
    /// Only messages sent at or after this time (ms since the epoch).
    #[serde(default)]
    pub after_ms: Option<i64>,
    /// Only messages sent before this time (ms since the epoch).
    #[serde(default)]
    pub before_ms: Option<i64>,
    /// The `next_cursor` of the previous page (paging); absent: the newest matches.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size, 1 to `MAX_LIST_PAGE`; default `DEFAULT_LIST_PAGE`.
    #[serde(default)]
    pub limit: Option<u32>,
}
