//! The audit trail: who did what, when and from where, in the append-only `audit_log` table (migration 0006).
//!
//! Routers (sign-in) and nodes (account and room changes) both write it, so the writer lives here. Where a change
//! is made in a transaction, its entry is written in the same transaction: an entry exists exactly when the change
//! does. The action codes are a documented interface (docs/operations.md, "Audit log"): exports are read by
//! other tools, so a code is never renamed.

use tokio_postgres::GenericClient;

/// A password or SSO sign-in that succeeded.
pub const LOGIN: &str = "login";
/// A sign-in that was refused (unknown user, wrong password, retired user).
pub const LOGIN_FAILED: &str = "login_failed";
/// A refresh token was presented a second time: its whole family was revoked.
pub const REFRESH_REUSED: &str = "refresh_reused";
/// A device signed out (its refresh tokens were revoked).
pub const LOGOUT: &str = "logout";
/// A newer mobile device signed in: the older one's refresh tokens were revoked.
pub const DEVICE_REPLACED: &str = "device_replaced";
/// A user changed their password.
pub const PASSWORD_CHANGED: &str = "password_changed";
/// A user's passkey was reset (by themselves or an admin): every session and token ended.
pub const PASSKEY_RESET: &str = "passkey_reset";
/// An admin retired a user.
pub const USER_RETIRED: &str = "user_retired";
/// A message was revoked (withdrawn for everyone).
pub const MESSAGE_REVOKED: &str = "message_revoked";
/// A message was edited by its sender (the earlier text is in `message_edits`).
pub const MESSAGE_EDITED: &str = "message_edited";
/// A room was created with its first members.
pub const ROOM_CREATED: &str = "room_created";
/// Users were invited into a room.
pub const MEMBERS_INVITED: &str = "members_invited";
/// A user left a room.
pub const MEMBER_LEFT: &str = "member_left";
/// A member was removed from a room by someone else.
pub const MEMBER_REMOVED: &str = "member_removed";
/// An administrator ran the HR import.
pub const ADMIN_IMPORT: &str = "admin_import";

/// One entry to append.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// Who acted: a user id, or `None` when unknown (a failed login) or the system.
    pub actor: Option<String>,
    /// What happened: one of the codes of this module.
    pub action: &'static str,
    /// To whom or what: a user id, or `room:<id>`.
    pub subject: Option<String>,
    /// Where from: the client's address as the server saw it.
    pub source: Option<String>,
    /// Further facts (device, method, counts), a JSON object.
    pub detail: serde_json::Value,
}

impl AuditEntry {
    /// An entry with no subject, source or detail yet.
    pub fn new(actor: Option<&str>, action: &'static str) -> AuditEntry {
        AuditEntry {
            actor: actor.map(str::to_owned),
            action,
            subject: None,
            source: None,
            detail: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    /// Names whom or what the action was done to.
    pub fn subject(mut self, subject: impl Into<String>) -> AuditEntry {
        self.subject = Some(subject.into());
        self
    }

    /// Names where the action came from.
    pub fn source(mut self, source: impl Into<String>) -> AuditEntry {
        self.source = Some(source.into());
        self
    }

    /// Sets the detail object.
    pub fn detail(mut self, detail: serde_json::Value) -> AuditEntry {
        self.detail = detail;
        self
    }

    /// Appends the entry through `client` (a connection or the transaction of the change).
    pub async fn write(&self, client: &impl GenericClient) -> Result<(), tokio_postgres::Error> {
        client
            .execute(
                "INSERT INTO audit_log (actor, action, subject, source, detail) VALUES ($1, $2, $3, $4, $5)",
                &[
                    &self.actor,
                    &self.action,
                    &self.subject,
                    &self.source,
                    &self.detail,
                ],
            )
            .await?;
        Ok(())
    }
}
