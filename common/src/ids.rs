//! Identifiers: client message ids, node ids and user ids, and their validation.

use thiserror::Error;

/// The longest client message id, in bytes.
pub const MAX_CLIENT_MSG_ID_LEN: usize = 64;
/// The longest user id, in bytes.
pub const MAX_USER_ID_LEN: usize = 64;

/// An identifier that breaks the rules.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum IdError {
    /// Empty, too long or with characters outside printable ASCII.
    #[error("{what} must be 1 to {max} printable ASCII characters without spaces")]
    Malformed {
        /// Which id.
        what: &'static str,
        /// Its length limit.
        max: usize,
    },
}

fn check(id: &str, what: &'static str, max: usize) -> Result<(), IdError> {
    let ok = !id.is_empty() && id.len() <= max && id.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(IdError::Malformed { what, max })
    }
}

/// Checks a client-chosen message id.
pub fn validate_client_msg_id(id: &str) -> Result<(), IdError> {
    check(id, "client_msg_id", MAX_CLIENT_MSG_ID_LEN)
}

/// Checks a user id (the organisation's employee id).
pub fn validate_user_id(id: &str) -> Result<(), IdError> {
    check(id, "user id", MAX_USER_ID_LEN)
}

/// A fresh client message id: a time-ordered UUID (v7), as clients are advised to generate.
pub fn new_client_msg_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// A fresh node id: `n-` and 12 hex digits, unique per process start.
pub fn new_node_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("n-{}", &id[..12])
}

/// A fresh random passkey for a user (resetting it revokes all tokens).
pub fn new_passkey() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_ids() {
        assert!(validate_client_msg_id(&new_client_msg_id()).is_ok());
        assert!(validate_client_msg_id("").is_err());
        assert!(validate_client_msg_id("has space").is_err());
        assert!(validate_client_msg_id(&"x".repeat(65)).is_err());
        assert!(validate_user_id("emp-0001").is_ok());
        assert!(validate_user_id("사용자").is_err());
        assert_ne!(new_node_id(), new_node_id());
    }
}
