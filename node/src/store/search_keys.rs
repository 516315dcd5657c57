//! The search keys of messages, written after the commit instead of inside it (migration 0014).
//!
//! Why: the trigram index over every message body was more than half of what a send cost PostgreSQL. A send now
//! only marks its room as needing keys ([`Store::search_keys_due`]); a node's indexer
//! (`crate::search_indexer`) writes the keys of those rooms' new messages a moment later, many rooms per
//! statement, and moves `search_progress` on. Search reads the key index up to a room's `indexed_seq` and the
//! few newer messages of the room directly, so nothing is missing from a result while the indexer catches up.
//!
//! Edits and revokes write their message's key themselves, in their own transaction, as an upsert: an indexer
//! that read the older body before they committed then finds the row there and leaves it alone.

use std::collections::HashSet;

use tokio_postgres::GenericClient;

use sendjay_common::protocol::MessageRef;

use super::Store;
use crate::error::NodeError;

/// Most messages one indexer statement writes keys for; a bigger backlog takes several statements.
pub const MAX_KEYS_PER_STATEMENT: i64 = 5_000;

/// Writes the keys of the given rooms' messages past their `indexed_seq` (oldest first, at most `$2`) and moves
/// each room's `indexed_seq` to the last message written. Seqs of a room commit in order (they are taken under
/// the room row's lock), so the messages a snapshot sees past `indexed_seq` are a gap-free run.
const INDEX_ROOMS: &str = "
WITH todo AS MATERIALIZED (
    SELECT m.room_id, m.seq, sj_search_key(m.body) AS key, m.created_at
      FROM unnest($1::bigint[]) AS t(room_id)
      LEFT JOIN search_progress p ON p.room_id = t.room_id
      JOIN messages m ON m.room_id = t.room_id AND m.seq > coalesce(p.indexed_seq, 0)
     ORDER BY m.room_id, m.seq
     LIMIT $2
), keys AS (
    INSERT INTO message_search_keys (room_id, seq, key, created_at) SELECT room_id, seq, key, created_at FROM todo
    ON CONFLICT (room_id, seq) DO NOTHING
), progress AS (
    INSERT INTO search_progress (room_id, indexed_seq) SELECT room_id, max(seq) FROM todo GROUP BY room_id
    ON CONFLICT (room_id) DO UPDATE SET indexed_seq = GREATEST(search_progress.indexed_seq, EXCLUDED.indexed_seq)
)
SELECT count(*) FROM todo";

/// Rooms whose newest messages have no keys yet (`$1` at most): what a crashed node's indexer left behind,
/// and messages written by other means than a send.
const ROOMS_BEHIND: &str = "
SELECT r.id FROM rooms r LEFT JOIN search_progress p ON p.room_id = r.id
 WHERE r.last_seq > coalesce(p.indexed_seq, 0)
 LIMIT $1";

impl Store {
    /// Marks a room as having messages without keys; this node's indexer writes them soon.
    pub fn search_keys_due(&self, room_id: i64) {
        self.search_due
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(room_id);
    }

    /// The rooms marked since the last call (and forgets them).
    pub fn take_search_keys_due(&self) -> HashSet<i64> {
        std::mem::take(&mut *self.search_due.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Writes the keys of `rooms`' messages that have none, up to [`MAX_KEYS_PER_STATEMENT`] per statement;
    /// returns how many messages it indexed.
    pub async fn index_search_keys(&self, rooms: &[i64]) -> Result<u64, NodeError> {
        if rooms.is_empty() {
            return Ok(0);
        }
        let (_permit, client) = self.get_for_background().await?;
        let _query = crate::metrics::Timer::db("index_search_keys");
        let statement = client.prepare_cached(INDEX_ROOMS).await?;
        let mut total = 0;
        loop {
            let row = client
                .query_one(&statement, &[&rooms, &MAX_KEYS_PER_STATEMENT])
                .await?;
            let written: i64 = row.get(0);
            total += written as u64;
            if written < MAX_KEYS_PER_STATEMENT {
                return Ok(total);
            }
        }
    }

    /// Up to `limit` rooms whose newest messages have no keys yet.
    pub async fn rooms_behind_search(&self, limit: i64) -> Result<Vec<i64>, NodeError> {
        let (_permit, client) = self.get_for_background().await?;
        let _query = crate::metrics::Timer::db("rooms_behind_search");
        let statement = client.prepare_cached(ROOMS_BEHIND).await?;
        let rows = client.query(&statement, &[&limit]).await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}

/// Sets the key of a message to its new body, inside the edit's or revoke's transaction.
pub async fn set_search_key(
    client: &impl GenericClient,
    at: MessageRef,
    body: &str,
) -> Result<(), NodeError> {
    client
        .execute(
            "INSERT INTO message_search_keys (room_id, seq, key, created_at)
             SELECT m.room_id, m.seq, sj_search_key($3), m.created_at FROM messages m
              WHERE m.room_id = $1 AND m.seq = $2
             ON CONFLICT (room_id, seq) DO UPDATE SET key = EXCLUDED.key",
            &[&at.room_id, &at.seq, &body],
        )
        .await?;
    Ok(())
}

/// The search condition on messages `m` of room `$1` for the text in parameter `text`: the key index up to the
/// room's `indexed_seq`, the newer messages directly, and the real body for an exact match.
pub fn text_condition(text: usize) -> String {
    format!(
        " AND m.seq IN (SELECT k.seq FROM message_search_keys k
                         WHERE k.room_id = $1 AND k.key LIKE sj_search_pattern(${text})
                        UNION ALL
                        SELECT t.seq FROM messages t
                         WHERE t.room_id = $1
                           AND t.seq > coalesce((SELECT p.indexed_seq FROM search_progress p WHERE p.room_id = $1), 0))
          AND strpos(lower(m.body), lower(${text})) > 0"
    )
}
