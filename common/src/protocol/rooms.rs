//! Rooms: the room list entry and the ops that make and change rooms (docs/protocol.md §6.2, §6.8).

#[allow(unused_imports)]
use super::*;
use serde::{Deserialize, Serialize};

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
    /// The caller cleared the chat up to this seq (`clear_room`): older messages are not shown to them; 0 when never.
    #[serde(default)]
    pub cleared_seq: i64,
    /// What to call the room on the caller's screen, computed by the server for the caller: their nickname for
    /// it, else its name, else (direct) the other person's display name, else up to three other members' names
    /// sorted and joined with `", "` plus `" +N"` for the rest (docs/protocol.md §6.7). Empty from older nodes.
    #[serde(default)]
    pub display_name: String,
    /// Group rooms: the member list is shown only to the room's creator and admins (`set_room_options`).
    #[serde(default)]
    pub members_hidden: bool,
    /// Who created the room (nil for direct rooms made before this was recorded, seeded rooms and older nodes);
    /// the creator may change the room's options.
    #[serde(default)]
    pub created_by: Option<String>,
    /// The room's change counter: how many edits and revokes it has had (a client that loads history now may
    /// start its change cursor here).
    #[serde(default)]
    pub change_seq: i64,
    /// A public channel (§6.19): found in `list_channels` and joined with `join_channel`; false for private rooms.
    #[serde(default)]
    pub channel: bool,
}

fn yes() -> bool {
    true
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

/// Arguments of `set_room_options`: a group room's shared settings, changed by its creator or an admin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRoomOptionsArgs {
    /// The group room.
    pub room_id: i64,
    /// Whether `room_members` shows only the caller themself to members other than the creator and admins.
    pub members_hidden: bool,
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
