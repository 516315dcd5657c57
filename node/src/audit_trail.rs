//! The node's part of the audit trail (docs/operations.md, "Audit log"): account and room changes made over the
//! WebSocket, recorded from the reply of the request that made them.
//!
//! Recording from the reply keeps the rule in one place — a change is audited exactly when its request succeeded
//! — instead of threading an audit argument through every store function. The entry is written right after
//! the change commits, off the request's path; a node that dies in between loses that entry, and a write
//! failure is logged and counted (`sendjay_audit_write_failures_total`), never answered to the client.

use sendjay_common::audit::{self, AuditEntry};
use sendjay_common::protocol::Reply;

use crate::registry::Conn;
use crate::NodeContext;

/// The entry a successful reply records, if it is an audited change.
pub fn entry_for(conn: &Conn, reply: &Reply) -> Option<AuditEntry> {
    let actor = Some(&*conn.user);
    let entry = match reply {
        Reply::ResetPasskey { user_id } => {
            AuditEntry::new(actor, audit::PASSKEY_RESET).subject(user_id.as_str())
        }
        Reply::RetireUser { user_id, .. } => {
            AuditEntry::new(actor, audit::USER_RETIRED).subject(user_id.as_str())
        }
        Reply::Logout => AuditEntry::new(actor, audit::LOGOUT)
            .subject(&*conn.user)
            .detail(serde_json::json!({ "device": conn.device.as_str(), "device_id": conn.device_id.as_deref() })),
        Reply::Revoke { room_id, seq } => AuditEntry::new(actor, audit::MESSAGE_REVOKED)
            .subject(format!("room:{room_id}"))
            .detail(serde_json::json!({ "seq": seq })),
        Reply::EditMessage {
            message,
            edited: true,
        } => AuditEntry::new(actor, audit::MESSAGE_EDITED)
            .subject(format!("room:{}", message.room_id))
            .detail(serde_json::json!({ "seq": message.seq })),
        Reply::CreateGroup {
            room,
            existing: false,
        } => AuditEntry::new(actor, audit::ROOM_CREATED)
            .subject(format!("room:{}", room.room_id))
            .detail(serde_json::json!({ "name": room.name })),
        Reply::Invite { room_id, added, .. } => AuditEntry::new(actor, audit::MEMBERS_INVITED)
            .subject(format!("room:{room_id}"))
            .detail(serde_json::json!({ "users": added })),
        Reply::Leave { room_id } => {
            AuditEntry::new(actor, audit::MEMBER_LEFT).subject(format!("room:{room_id}"))
        }
        Reply::RemoveMember {
            room_id, user_id, ..
        } => AuditEntry::new(actor, audit::MEMBER_REMOVED)
            .subject(format!("room:{room_id}"))
            .detail(serde_json::json!({ "user": user_id })),
        _ => return None,
    };
    Some(entry.source(conn.peer.to_string()))
}

/// Writes the entry for `reply`, if any, in the background.
pub fn record(ctx: &NodeContext, conn: &Conn, reply: &Reply) {
    let Some(entry) = entry_for(conn, reply) else {
        return;
    };
    let store = ctx.store.clone();
    tokio::spawn(async move {
        if let Err(e) = store.write_audit(&entry).await {
            metrics::counter!(crate::metrics::AUDIT_WRITE_FAILURES).increment(1);
            tracing::warn!(error = %e, action = entry.action, "could not write an audit entry; check PostgreSQL");
        }
    });
}
