//! Keeping messages: clearing a chat for oneself, saved messages and pinned messages (docs/protocol.md §6.17).
//!
//! Clearing never deletes: it moves the member's `cleared_seq` (migration 0009) to the room's newest seq, and every
//! read path leaves out what lies at or below it for that member only. Saved messages are a per-user list read
//! through the same columns as `history`, so a revoked message shows as revoked there too. Pins are shared by the
//! room, so each pin and unpin writes a `system` message under the room row's lock: members learn of it by the
//! usual push, or from `sync` after a reconnect, exactly once by seq.

use sendjay_common::protocol::{Message, MessageRef, Pin, SystemAction, SystemEvent};
use tokio_postgres::GenericClient;

use super::messages::system_message;
use super::reads::ReadCursor;
use super::rooms::lock_room;
use super::{
    forbidden, hidden_for, message_columns, message_from, not_cleared_for, not_found, not_member,
    page_of, require_member, Store, MESSAGE_COLUMNS, QUOTE_JOIN,
};
use crate::error::NodeError;

/// What `clear_room` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cleared {
    /// The member's cleared cursor now.
    pub cleared_seq: i64,
    /// Whether this call moved it.
    pub moved: bool,
    /// The read cursor, moved up to the cleared cursor.
    pub read: ReadCursor,
}

/// Clears a chat for `$2` in room `$1` up to the room's newest seq and marks it read as far, under the member
/// row's lock (`o` is the row before, to tell what moved).
const CLEAR_SQL: &str = "UPDATE room_members m
                SET cleared_seq = GREATEST(m.cleared_seq, r.last_seq),
                    last_read_seq = GREATEST(m.last_read_seq, r.last_seq)
               FROM rooms r, room_members o
              WHERE m.room_id = $1 AND m.user_id = $2 AND r.id = m.room_id
                AND o.room_id = m.room_id AND o.user_id = m.user_id
                AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = $2 AND u.retired_at <= now())
              RETURNING m.cleared_seq, o.cleared_seq, m.last_read_seq, o.last_read_seq, r.last_seq, r.member_count";

/// Whether message `at` exists and what the caller may do with it: `(kind, revoked, visible to the caller)`.
pub(crate) async fn message_state(
    client: &(impl GenericClient + Sync),
    user_id: &str,
    at: MessageRef,
) -> Result<(String, bool, bool), NodeError> {
    let row = client
        .query_opt(
            &format!(
                "SELECT m.kind, m.revoked_at IS NOT NULL, NOT {} AND {}
                   FROM messages m WHERE m.room_id = $1 AND m.seq = $2",
                hidden_for(3),
                not_cleared_for(3)
            ),
            &[&at.room_id, &at.seq, &user_id],
        )
        .await?
        .ok_or_else(|| {
            not_found(format!(
                "message {} does not exist in room {}",
                at.seq, at.room_id
            ))
        })?;
    Ok((row.get(0), row.get(1), row.get(2)))
}

/// Removes the pin of `at`, if any, with an `unpin` system message by `actor` (the caller holds the room row's
/// lock in its transaction); returns that message.
pub(crate) async fn drop_pin(
    client: &(impl GenericClient + Sync),
    actor: &str,
    at: MessageRef,
) -> Result<Option<Message>, NodeError> {
    let removed = client
        .execute(
            "DELETE FROM pinned_messages WHERE room_id = $1 AND seq = $2",
            &[&at.room_id, &at.seq],
        )
        .await?;
    if removed == 0 {
        return Ok(None);
    }
    let event = SystemEvent {
        action: SystemAction::Unpin,
        actor: actor.to_owned(),
        users: Vec::new(),
        name: None,
        seq: Some(at.seq),
        members_hidden: None,
    };
    let body = format!("{actor} unpinned message {}", at.seq);
    Ok(Some(system_message(client, at.room_id, event, body).await?))
}

impl Store {
    /// Clears a chat for the caller only, up to the room's newest message, and marks the room read as far.
    pub async fn clear_room(&self, user_id: &str, room_id: i64) -> Result<Cleared, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("clear_room");
        let Some(row) = client.query_opt(CLEAR_SQL, &[&room_id, &user_id]).await? else {
            require_member(&**client, user_id, room_id).await?;
            return Err(not_member(room_id));
        };
        let (cleared, cleared_before): (i64, i64) = (row.get(0), row.get(1));
        let (read, read_before, last): (i64, i64, i64) = (row.get(2), row.get(3), row.get(4));
        Ok(Cleared {
            cleared_seq: cleared,
            moved: cleared > cleared_before,
            read: ReadCursor {
                last_read_seq: read,
                unread: (last - read).max(0),
                moved: read > read_before,
                member_count: row.get::<_, i32>(5) as i64,
            },
        })
    }

    /// Adds a message the caller can see to their saved messages; returns whether it was not saved before.
    pub async fn save_message(&self, user_id: &str, at: MessageRef) -> Result<bool, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("save_message");
        require_member(&**client, user_id, at.room_id).await?;
        let (_, revoked, visible) = message_state(&**client, user_id, at).await?;
        if revoked || !visible {
            return Err(not_found(format!(
                "message {} of room {} was {}",
                at.seq,
                at.room_id,
                if revoked {
                    "revoked"
                } else {
                    "deleted or cleared by you"
                }
            )));
        }
        let inserted = client
            .execute(
                "INSERT INTO saved_messages (user_id, room_id, seq) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&user_id, &at.room_id, &at.seq],
            )
            .await?;
        Ok(inserted == 1)
    }

    /// Removes a message from the caller's saved messages; returns whether it was saved.
    pub async fn unsave_message(&self, user_id: &str, at: MessageRef) -> Result<bool, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("unsave_message");
        require_member(&**client, user_id, at.room_id).await?;
        let removed = client
            .execute(
                "DELETE FROM saved_messages WHERE user_id = $1 AND room_id = $2 AND seq = $3",
                &[&user_id, &at.room_id, &at.seq],
            )
            .await?;
        Ok(removed == 1)
    }

    /// A page of the caller's saved messages, most recently saved first, after the saved message `before`: only
    /// from rooms they are still in, neither deleted nor cleared by them (revoked ones show as revoked).
    pub async fn list_saved(
        &self,
        user_id: &str,
        before: Option<MessageRef>,
        limit: u32,
    ) -> Result<(Vec<Message>, bool), NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("list_saved");
        let below: i64 = match before {
            None => i64::MAX,
            Some(at) => client
                .query_opt(
                    "SELECT id FROM saved_messages WHERE user_id = $1 AND room_id = $2 AND seq = $3",
                    &[&user_id, &at.room_id, &at.seq],
                )
                .await?
                .ok_or_else(|| {
                    not_found(format!(
                        "before: message {} of room {} is not among your saved messages; list again from the first page",
                        at.seq, at.room_id
                    ))
                })?
                .get(0),
        };
        let sql = format!(
            "SELECT {} FROM saved_messages s
               JOIN room_members mm ON mm.room_id = s.room_id AND mm.user_id = s.user_id
               JOIN messages m ON m.room_id = s.room_id AND m.seq = s.seq
               {QUOTE_JOIN}
              WHERE s.user_id = $1 AND s.id < $2 AND m.seq > mm.cleared_seq AND NOT {}
              ORDER BY s.id DESC LIMIT $3",
            message_columns("m.body", Some(1)),
            hidden_for(1)
        );
        let rows = client
            .query(&sql, &[&user_id, &below, &(limit as i64 + 1)])
            .await?;
        Ok(page_of(&rows, limit))
    }

    /// Pins a message of the caller's room with a `pin` system message; `None` when it already was pinned.
    /// Revoked and system messages cannot be pinned, nor more than `max_pins` per room (`forbidden`).
    pub async fn pin_message(
        &self,
        user_id: &str,
        at: MessageRef,
        max_pins: usize,
    ) -> Result<Option<Message>, NodeError> {
        let mut client = self.get().await?;
        let _query = crate::metrics::Timer::db("pin_message");
        let tx = client.transaction().await?;
        lock_room(&*tx, at.room_id).await?;
        require_member(&*tx, user_id, at.room_id).await?;
        let (kind, revoked, _) = message_state(&*tx, user_id, at).await?;
        if revoked {
            return Err(forbidden("a revoked message cannot be pinned"));
        }
        if kind == "system" {
            return Err(forbidden("system messages cannot be pinned"));
        }
        let row = tx
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE seq = $2) FROM pinned_messages WHERE room_id = $1",
                &[&at.room_id, &at.seq],
            )
            .await?;
        let (pins, already): (i64, i64) = (row.get(0), row.get(1));
        if already > 0 {
            return Ok(None);
        }
        if pins >= max_pins as i64 {
            return Err(forbidden(format!(
                "a room holds at most {max_pins} pinned messages; unpin one first"
            )));
        }
        tx.execute(
            "INSERT INTO pinned_messages (room_id, seq, pinned_by) VALUES ($1, $2, $3)",
            &[&at.room_id, &at.seq, &user_id],
        )
        .await?;
        let event = SystemEvent {
            action: SystemAction::Pin,
            actor: user_id.to_owned(),
            users: Vec::new(),
            name: None,
            seq: Some(at.seq),
            members_hidden: None,
        };
        let body = format!("{user_id} pinned message {}", at.seq);
        let message = system_message(&*tx, at.room_id, event, body).await?;
        tx.commit().await?;
        Ok(Some(message))
    }

    /// Unpins a message of the caller's room with an `unpin` system message; `None` when it was not pinned.
    pub async fn unpin_message(
        &self,
        user_id: &str,
        at: MessageRef,
    ) -> Result<Option<Message>, NodeError> {
        let mut client = self.get().await?;
        let _query = crate::metrics::Timer::db("unpin_message");
        let tx = client.transaction().await?;
        lock_room(&*tx, at.room_id).await?;
        require_member(&*tx, user_id, at.room_id).await?;
        message_state(&*tx, user_id, at).await?;
        let message = drop_pin(&*tx, user_id, at).await?;
        if message.is_some() {
            tx.commit().await?;
        }
        Ok(message)
    }

    /// The pinned messages of a room the caller is in, most recently pinned first.
    pub async fn list_pins(&self, user_id: &str, room_id: i64) -> Result<Vec<Pin>, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("list_pins");
        require_member(&**client, user_id, room_id).await?;
        let sql = format!(
            "SELECT {}, p.pinned_by, (extract(epoch FROM p.pinned_at) * 1000)::bigint
               FROM pinned_messages p JOIN messages m ON m.room_id = p.room_id AND m.seq = p.seq
               {QUOTE_JOIN}
              WHERE p.room_id = $1 ORDER BY p.pinned_at DESC, p.seq DESC",
            message_columns("m.body", Some(2))
        );
        let rows = client.query(&sql, &[&room_id, &user_id]).await?;
        Ok(rows
            .iter()
            .map(|r| Pin {
                message: message_from(r, 0),
                pinned_by: r.get(MESSAGE_COLUMNS),
                pinned_at_ms: r.get(MESSAGE_COLUMNS + 1),
            })
            .collect())
    }
}
