//! Reactions: one row per member, message and emoji (migration 0012), docs/protocol.md §6.18.
//!
//! Adding or removing a reaction changes a message every member holds, so it takes the room's next `change_seq`
//! under the room row's lock, as an edit does (`store::edits`): `sync` then returns the message with its counts to a
//! member who missed the push. Counts and the viewer's own reactions are read with every message
//! ([`super::message_columns`]); who reacted is asked for on its own.

use sendjay_common::protocol::{Message, MessageRef, MAX_REACTIONS_PER_MESSAGE, MAX_REACTORS};

use super::edits::{message_as_seen, next_change};
use super::keeping::message_state;
use super::rooms::lock_room;
use super::{forbidden, not_found, require_member, Store};
use crate::error::NodeError;

/// What an `add_reaction` or `remove_reaction` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reacted {
    /// The message as the caller sees it now.
    pub message: Message,
    /// Whether this call changed anything.
    pub changed: bool,
    /// How many members react with the emoji now.
    pub count: i64,
}

impl Store {
    /// Adds (`on`) or removes the caller's `emoji` on message `at`. Revoked, deleted-for-me and cleared messages
    /// are `not_found`; system messages and a 21st different emoji are `forbidden`.
    pub async fn react(
        &self,
        user_id: &str,
        at: MessageRef,
        emoji: &str,
        on: bool,
    ) -> Result<Reacted, NodeError> {
        let mut client = self.get().await?;
        let _query = crate::metrics::Timer::db(if on {
            "add_reaction"
        } else {
            "remove_reaction"
        });
        let tx = client.transaction().await?;
        require_member(&*tx, user_id, at.room_id).await?;
        lock_room(&*tx, at.room_id).await?;
        let (kind, revoked, visible) = message_state(&*tx, user_id, at).await?;
        if revoked || !visible {
            return Err(not_found(format!(
                "message {} of room {} was revoked or deleted by you: it takes no reactions",
                at.seq, at.room_id
            )));
        }
        if kind == "system" {
            return Err(forbidden("system messages take no reactions"));
        }
        let changed = if on {
            let row = tx
                .query_one(
                    "SELECT count(DISTINCT emoji), coalesce(bool_or(emoji = $3), false),
                            coalesce(bool_or(emoji = $3 AND user_id = $4), false)
                       FROM message_reactions WHERE room_id = $1 AND seq = $2",
                    &[&at.room_id, &at.seq, &emoji, &user_id],
                )
                .await?;
            let (emojis, used, mine): (i64, bool, bool) = (row.get(0), row.get(1), row.get(2));
            if !used && emojis >= MAX_REACTIONS_PER_MESSAGE as i64 {
                return Err(forbidden(format!(
                    "the message already holds {MAX_REACTIONS_PER_MESSAGE} different reactions; react with one of them"
                )));
            }
            !mine
                && tx
                    .execute(
                        "INSERT INTO message_reactions (room_id, seq, emoji, user_id) VALUES ($1, $2, $3, $4)",
                        &[&at.room_id, &at.seq, &emoji, &user_id],
                    )
                    .await?
                    == 1
        } else {
            tx.execute(
                "DELETE FROM message_reactions WHERE room_id = $1 AND seq = $2 AND emoji = $3 AND user_id = $4",
                &[&at.room_id, &at.seq, &emoji, &user_id],
            )
            .await?
                == 1
        };
        if changed {
            let change = next_change(&*tx, at.room_id).await?;
            tx.execute(
                "UPDATE messages SET change_seq = $3 WHERE room_id = $1 AND seq = $2",
                &[&at.room_id, &at.seq, &change],
            )
            .await?;
        }
        let count: i64 = tx
            .query_one(
                "SELECT count(*) FROM message_reactions WHERE room_id = $1 AND seq = $2 AND emoji = $3",
                &[&at.room_id, &at.seq, &emoji],
            )
            .await?
            .get(0);
        let message = message_as_seen(&*tx, user_id, at).await?;
        tx.commit().await?;
        Ok(Reacted {
            message,
            changed,
            count,
        })
    }

    /// Who reacted to message `at` with `emoji`, first reactor first (at most `MAX_REACTORS`), and how many in all.
    pub async fn reactors(
        &self,
        user_id: &str,
        at: MessageRef,
        emoji: &str,
    ) -> Result<(Vec<String>, i64), NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("reactors");
        require_member(&**client, user_id, at.room_id).await?;
        message_state(&**client, user_id, at).await?;
        let rows = client
            .query(
                "SELECT user_id, count(*) OVER () FROM message_reactions
                  WHERE room_id = $1 AND seq = $2 AND emoji = $3
                  ORDER BY reacted_at, user_id LIMIT $4",
                &[&at.room_id, &at.seq, &emoji, &(MAX_REACTORS as i64)],
            )
            .await?;
        let count = rows.first().map_or(0, |r| r.get(1));
        Ok((rows.iter().map(|r| r.get(0)).collect(), count))
    }
}
