//! Who is connected on which device class (docs/protocol.md §6.13).

#[allow(unused_imports)]
use super::*;
use serde::{Deserialize, Serialize};

/// Which devices of a user are connected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceInfo {
    /// The user id.
    pub user_id: String,
    /// A web session is connected.
    pub web: bool,
    /// A mobile session is connected.
    pub mobile: bool,
    /// The mobile app is installed and signed in (it can be reached even when not connected).
    pub mobile_installed: bool,
}
