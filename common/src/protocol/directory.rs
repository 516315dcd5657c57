//! The organisation and people: units, members, user search and profiles (docs/protocol.md §6.12).

#[allow(unused_imports)]
use super::*;
use serde::{Deserialize, Serialize};

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
