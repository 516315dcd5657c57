//! Limits and defaults of protocol v1 (docs/protocol.md §15).

#[allow(unused_imports)]
use super::*;

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

/// Default revoke window, in seconds: 24 hours, the original product's rule (a node can be configured with another).
pub const DEFAULT_REVOKE_WINDOW_SECS: u64 = 24 * 3600;
/// Default seconds after sending during which the sender may edit a message (node setting).
pub const DEFAULT_EDIT_WINDOW_SECS: u64 = 24 * 3600;
