//! Account operations: passkey reset (docs/protocol.md §6.15).

#[allow(unused_imports)]
use super::*;
use serde::{Deserialize, Serialize};

/// Arguments of `reset_passkey`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetPasskeyArgs {
    /// Whose passkey; omit for the caller's own (another user's needs the admin role).
    #[serde(default)]
    pub user_id: Option<String>,
}
