//! Public channels: group rooms anyone in the company, or in one organisation unit, can find and join
//! themselves (docs/protocol.md §6.19). Private groups stay invite-only.

#[allow(unused_imports)]
use super::*;
use serde::{Deserialize, Serialize};

/// Arguments of `create_channel`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateChannelArgs {
    /// The channel's name: 1–`MAX_ROOM_NAME_CHARS` characters, unique among channels (ignoring case).
    pub name: String,
    /// Only users of this unit and the units under it may find and join it; absent: the whole company.
    #[serde(default)]
    pub unit_id: Option<String>,
}

/// Where a `list_channels` page starts: after this channel of the previous page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelAfter {
    /// The last channel's name.
    pub name: String,
    /// The last channel's room id.
    pub room_id: i64,
}

/// Arguments of `list_channels`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListChannelsArgs {
    /// Only channels whose name contains this (case-insensitive, any script), 1–`MAX_SEARCH_QUERY_CHARS`.
    #[serde(default)]
    pub query: Option<String>,
    /// Paging: the last channel of the previous page.
    #[serde(default)]
    pub after: Option<ChannelAfter>,
    /// Page size, 1 to `MAX_LIST_PAGE`; default `DEFAULT_LIST_PAGE`.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// A channel as the directory shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// The room.
    pub room_id: i64,
    /// Its name.
    pub name: String,
    /// The unit it is open to; nil: the whole company.
    #[serde(default)]
    pub unit_id: Option<String>,
    /// Members now.
    pub member_count: i64,
    /// Whether the caller is a member.
    pub joined: bool,
    /// Who created it.
    #[serde(default)]
    pub created_by: Option<String>,
}
