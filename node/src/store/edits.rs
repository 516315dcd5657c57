//! Editing messages, and the room change counter that lets `sync` bring back what changed while a client was away
//! (docs/protocol.md §6.9, §6.6).
//!
//! A message is appended once and then changes in place (an edit, a revoke). Pushes of those changes are best
//! effort, so each change also takes the room's next `change_seq` under the room row's lock (migration 0011): the
//! counter's order is the commit order, and a client that syncs with the highest `change_seq` it holds gets every
//! change after it, each once. Earlier texts of an edited message are kept in `message_edits` for the audit log.

use std::collections::HashMap;
use std::time::Duration;

use sendjay_common::protocol::{ChangeCursor, Message, MessageRef, RoomCursor};
use tokio_postgres::GenericClient;

use super::{
    forbidden, hidden_for, message_columns, message_from, not_found, page_of, require_member,
    Store, QUOTE_JOIN,
};
use crate::error::NodeError;

/// The outcome of an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The message as it is now.
    pub message: Message,
    /// Whether this call changed it (false when the body already was the new one).
    pub edited: bool,
}

/// Takes room `room_id`'s next change number (locking its row until the transaction ends).
pub(crate) async fn next_change(
    client: &(impl GenericClient + Sync),
    room_id: i64,
) -> Result<i64, NodeError> {
    let row = client
        .query_one(
            "UPDATE rooms SET change_seq = change_seq + 1 WHERE id = $1 RETURNING change_seq",
            &[&room_id],
        )
        .await?;
    Ok(row.get(0))
}

/// Message `at` as `user_id` sees it.
pub(crate) async fn message_as_seen(
    client: &(impl GenericClient + Sync),
    user_id: &str,
    at: MessageRef,
) -> Result<Message, NodeError> {
    let sql = format!(
        "SELECT {} FROM messages m {QUOTE_JOIN} WHERE m.room_id = $1 AND m.seq = $2",
        message_columns("m.body", Some(3))
    );
    let row = client
        .query_one(&sql, &[&at.room_id, &at.seq, &user_id])
        .await?;
    Ok(message_from(&row, 0))
}

impl Store {
    /// The sender replaces the text of their message `at` within `window` of sending it; the old text goes to
    /// `message_edits`. Same text again: nothing is written (`edited: false`).
    pub async fn edit_message(
        &self,
        user_id: &str,
        at: MessageRef,
        body: &str,
        window: Duration,
    ) -> Result<Edit, NodeError> {
        let mut client = self.get().await?;
        let _query = crate::metrics::Timer::db("edit_message");
        let tx = client.transaction().await?;
        require_member(&*tx, user_id, at.room_id).await?;
        // The room row first, as `revoke` and `pin_message` take it: changes of one room take turns.
        super::rooms::lock_room(&*tx, at.room_id).await?;
        let row = tx
            .query_opt(
                &format!(
                    "SELECT m.sender_id, m.kind, m.revoked_at IS NOT NULL OR {}, m.body,
                            now() - m.created_at > make_interval(secs => $4)
                       FROM messages m WHERE m.room_id = $1 AND m.seq = $2 FOR UPDATE",
                    hidden_for(3)
                ),
                &[&at.room_id, &at.seq, &user_id, &window.as_secs_f64()],
            )
            .await?
            .ok_or_else(|| {
                not_found(format!(
                    "message {} does not exist in room {}",
                    at.seq, at.room_id
                ))
            })?;
        let (sender, kind, gone, old_body, too_late): (String, &str, bool, String, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        if sender != user_id || kind == "system" {
            return Err(forbidden("only the sender may edit a message"));
        }
        if gone {
            return Err(not_found(format!(
                "message {} of room {} was revoked or deleted by you: there is nothing to edit",
                at.seq, at.room_id
            )));
        }
        if kind == "text" && body.trim().is_empty() {
            return Err(super::bad_args(
                "a text message's body must not be empty; revoke the message instead",
            ));
        }
        if old_body == body {
            let message = message_as_seen(&*tx, user_id, at).await?;
            tx.commit().await?;
            return Ok(Edit {
                message,
                edited: false,
            });
        }
        if too_late {
            return Err(forbidden(format!(
                "messages can be edited within {} s of sending",
                window.as_secs()
            )));
        }
        let change = next_change(&*tx, at.room_id).await?;
        tx.execute(
            "INSERT INTO message_edits (room_id, seq, edited_by, old_body) VALUES ($1, $2, $3, $4)",
            &[&at.room_id, &at.seq, &user_id, &old_body],
        )
        .await?;
        tx.execute(
            "UPDATE messages SET body = $3, edited_at = now(), change_seq = $4
              WHERE room_id = $1 AND seq = $2",
            &[&at.room_id, &at.seq, &body, &change],
        )
        .await?;
        super::search_keys::set_search_key(&*tx, at, body).await?;
        let message = message_as_seen(&*tx, user_id, at).await?;
        tx.commit().await?;
        Ok(Edit {
            message,
            edited: true,
        })
    }

    /// The messages `user_id` holds (at or below the room's cursor, past what they cleared) that changed after the
    /// room's change cursor, by room then change, at most `limit`, and whether more are waiting. Change cursors of
    /// rooms without a message cursor, or of rooms the user is not a member of, are ignored.
    pub async fn changed_since(
        &self,
        user_id: &str,
        cursors: &[RoomCursor],
        changes: &[ChangeCursor],
        limit: u32,
    ) -> Result<(Vec<Message>, bool), NodeError> {
        let held_up_to: HashMap<i64, i64> = cursors.iter().map(|c| (c.room_id, c.seq)).collect();
        let (rooms, (held, since)): (Vec<i64>, (Vec<i64>, Vec<i64>)) = changes
            .iter()
            .filter_map(|c| Some((c.room_id, (*held_up_to.get(&c.room_id)?, c.change_seq))))
            .unzip();
        if rooms.is_empty() {
            return Ok((Vec::new(), false));
        }
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("sync_changes");
        let fetch = limit as i64 + 1;
        let sql = format!(
            "SELECT x.* FROM unnest($2::bigint[], $3::bigint[], $4::bigint[]) AS c(room_id, held, since)
               JOIN room_members mm ON mm.room_id = c.room_id AND mm.user_id = $1
               CROSS JOIN LATERAL (
                   SELECT {} FROM messages m {QUOTE_JOIN}
                    WHERE m.room_id = c.room_id AND m.change_seq > c.since AND m.change_seq > 0
                      AND m.seq <= c.held AND m.seq > mm.cleared_seq
                    ORDER BY m.change_seq LIMIT $5) x
              ORDER BY x.room_id, x.change_seq
              LIMIT $5",
            message_columns("m.body", Some(1))
        );
        let rows = client
            .query(&sql, &[&user_id, &rooms, &held, &since, &fetch])
            .await?;
        Ok(page_of(&rows, limit))
    }
}
