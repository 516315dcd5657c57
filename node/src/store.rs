//! PostgreSQL, the system of record: users, rooms, members, messages and read cursors.
//!
//! Every message takes its room's next seq under the room row's lock, inside the transaction that inserts it,
//! so seqs are gap-free and a `send` is acknowledged only after commit. The unique key
//! `(room_id, sender_id, client_msg_id)` makes resending idempotent on any node.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{Message, MessageKind, RoomCursor, RoomSummary};
use tokio_postgres::Row;

use crate::error::NodeError;

/// What a node needs to know about a user to accept their token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAuth {
    /// The current passkey; a token carrying another one is revoked.
    pub passkey: String,
    /// Whether the user is retired.
    pub retired: bool,
}

/// A read cursor after `mark_read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadCursor {
    /// The cursor now.
    pub last_read_seq: i64,
    /// Messages after it.
    pub unread: i64,
    /// Whether this call moved it.
    pub moved: bool,
}

/// Handle to the database.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

/// Most message bytes in one `sync` or `history` page, so a reply stays far below the 1 MiB frame limit.
pub const MAX_PAGE_BYTES: usize = 512 * 1024;
/// Longest last-message preview in the room list, in characters.
pub const PREVIEW_CHARS: i32 = 200;

const MESSAGE_COLUMNS: &str =
    "room_id, seq, client_msg_id, sender_id, kind, body, (extract(epoch FROM created_at) * 1000)::bigint AS created_at_ms";

fn message_from(row: &Row, at: usize) -> Message {
    Message {
        room_id: row.get(at),
        seq: row.get(at + 1),
        client_msg_id: row.get(at + 2),
        sender_id: row.get(at + 3),
        kind: MessageKind::parse(row.get(at + 4)).unwrap_or(MessageKind::Text),
        body: row.get(at + 5),
        created_at_ms: row.get(at + 6),
    }
}

/// A resend must carry the same body: a different one under a used id is a client bug, not a retry.
fn same_body(existing: Message, body: &str) -> Result<Message, NodeError> {
    if existing.body == body {
        Ok(existing)
    } else {
        Err(NodeError::client(
            ErrorCode::Conflict,
            format!(
                "client_msg_id `{}` was already used for another message (seq {}); use a fresh id for a new message",
                existing.client_msg_id, existing.seq
            ),
        ))
    }
}

fn not_member(room_id: i64) -> NodeError {
    NodeError::client(
        ErrorCode::NotMember,
        format!("you are not a member of room {room_id}"),
    )
}

impl Store {
    /// A pool of `size` connections to `url`.
    pub fn connect(url: &str, size: usize) -> Result<Store, NodeError> {
        let pg_config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| NodeError::Config(format!("SENDJAY_DATABASE_URL: {e}")))?;
        let manager = Manager::from_config(
            pg_config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(size)
            .wait_timeout(Some(std::time::Duration::from_secs(5)))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| NodeError::Config(format!("SENDJAY_DATABASE_URL: {e}")))?;
        Ok(Store { pool })
    }

    /// The underlying pool (for pool metrics and migrations).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A pooled connection; the wait is recorded in `sendjay_db_pool_wait_duration_seconds`.
    async fn get(&self) -> Result<deadpool_postgres::Object, NodeError> {
        let _wait = crate::metrics::Timer::new(crate::metrics::DB_POOL_WAIT_SECONDS);
        Ok(self.pool.get().await?)
    }

    /// Applies pending migrations under the advisory lock.
    pub async fn migrate(&self) -> Result<Vec<&'static str>, NodeError> {
        let mut client = self.pool.get().await?;
        sendjay_common::migrate::migrate(&mut client)
            .await
            .map_err(|e| NodeError::Internal(e.to_string()))
    }

    /// Whether the database answers and has the current schema.
    pub async fn ready(&self) -> bool {
        let _query = crate::metrics::Timer::db("ready");
        match self.pool.get().await {
            Ok(client) => sendjay_common::migrate::is_current(&client)
                .await
                .unwrap_or(false),
            Err(_) => false,
        }
    }

    /// The passkey and retirement of a user, or `None` when unknown.
    pub async fn user_auth(&self, user_id: &str) -> Result<Option<UserAuth>, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("user_auth");
        let row = client
            .query_opt(
                "SELECT passkey, retired_at IS NOT NULL AND retired_at <= now() FROM users WHERE id = $1",
                &[&user_id],
            )
            .await?;
        Ok(row.map(|r| UserAuth {
            passkey: r.get(0),
            retired: r.get(1),
        }))
    }

    /// The ids of the rooms a user is a member of.
    pub async fn room_ids(&self, user_id: &str) -> Result<Vec<i64>, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("room_ids");
        let rows = client
            .query(
                "SELECT room_id FROM room_members WHERE user_id = $1",
                &[&user_id],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// The user's rooms with unread counts and last message, most recently active first.
    pub async fn list_rooms(&self, user_id: &str) -> Result<Vec<RoomSummary>, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("list_rooms");
        let sql = format!(
            "SELECT r.id, r.kind, r.name, r.last_seq, m.last_read_seq,
                    (extract(epoch FROM r.last_activity) * 1000)::bigint,
                    lm.room_id, lm.seq, lm.client_msg_id, lm.sender_id, lm.kind, lm.body, lm.created_at_ms
               FROM room_members m
               JOIN rooms r ON r.id = m.room_id
               LEFT JOIN LATERAL (SELECT room_id, seq, client_msg_id, sender_id, kind, left(body, {PREVIEW_CHARS}) AS body,
                                         (extract(epoch FROM created_at) * 1000)::bigint AS created_at_ms
                                    FROM messages x
                                   WHERE x.room_id = r.id AND x.seq = r.last_seq) lm ON true
              WHERE m.user_id = $1
              ORDER BY r.last_activity DESC, r.id DESC"
        );
        let rows = client.query(&sql, &[&user_id]).await?;
        Ok(rows
            .iter()
            .map(|row| {
                let last_seq: i64 = row.get(3);
                let last_read_seq: i64 = row.get(4);
                let has_last: Option<i64> = row.get(6);
                RoomSummary {
                    room_id: row.get(0),
                    kind: row.get(1),
                    name: row.get(2),
                    last_seq,
                    last_read_seq,
                    unread: (last_seq - last_read_seq).max(0),
                    last_activity_ms: row.get(5),
                    last_message: has_last.map(|_| message_from(row, 6)),
                }
            })
            .collect())
    }

    /// A page of history, newest first, and whether older messages exist.
    pub async fn history(
        &self,
        user_id: &str,
        room_id: i64,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<(Vec<Message>, bool), NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("history");
        self.require_member(&client, user_id, room_id).await?;
        let before = before_seq.unwrap_or(i64::MAX);
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE room_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
        );
        let rows = client
            .query(&sql, &[&room_id, &before, &(limit as i64 + 1)])
            .await?;
        let has_more = rows.len() > limit as usize;
        Ok((
            rows.iter()
                .take(limit as usize)
                .map(|r| message_from(r, 0))
                .collect(),
            has_more,
        ))
    }

    async fn require_member(
        &self,
        client: &tokio_postgres::Client,
        user_id: &str,
        room_id: i64,
    ) -> Result<(), NodeError> {
        let row = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM rooms WHERE id = $1),
                        EXISTS (SELECT 1 FROM room_members WHERE room_id = $1 AND user_id = $2)",
                &[&room_id, &user_id],
            )
            .await?;
        match (row.get::<_, bool>(0), row.get::<_, bool>(1)) {
            (_, true) => Ok(()),
            (true, false) => Err(not_member(room_id)),
            (false, _) => Err(NodeError::client(
                ErrorCode::NotFound,
                format!("room {room_id} does not exist"),
            )),
        }
    }

    /// Stores a text message and returns it, or the stored one when the client id was seen before.
    pub async fn send(
        &self,
        user_id: &str,
        room_id: i64,
        client_msg_id: &str,
        body: &str,
    ) -> Result<(Message, bool), NodeError> {
        let mut client = self.get().await?;
        let _query = crate::metrics::Timer::db("send");
        if let Some(existing) = self
            .find_by_client_id(&client, user_id, room_id, client_msg_id)
            .await?
        {
            return same_body(existing, body).map(|m| (m, true));
        }
        let tx = client.transaction().await?;
        // Take the room's next seq under its row lock; only members may.
        let seq_row = tx
            .query_opt(
                "UPDATE rooms r SET last_seq = r.last_seq + 1, last_activity = now()
                   FROM room_members m
                  WHERE r.id = $1 AND m.room_id = r.id AND m.user_id = $2
                  RETURNING r.last_seq",
                &[&room_id, &user_id],
            )
            .await?;
        let Some(seq_row) = seq_row else {
            drop(tx);
            self.require_member(&client, user_id, room_id).await?;
            return Err(not_member(room_id));
        };
        let seq: i64 = seq_row.get(0);
        // A concurrent send of the same client id may have committed while we waited for the lock.
        let dup_sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE room_id = $1 AND sender_id = $2 AND client_msg_id = $3"
        );
        if let Some(row) = tx
            .query_opt(&dup_sql, &[&room_id, &user_id, &client_msg_id])
            .await?
        {
            tx.rollback().await?;
            return same_body(message_from(&row, 0), body).map(|m| (m, true));
        }
        let insert = format!(
            "INSERT INTO messages (room_id, seq, sender_id, client_msg_id, kind, body)
             VALUES ($1, $2, $3, $4, 'text', $5) RETURNING {MESSAGE_COLUMNS}"
        );
        let row = tx
            .query_one(&insert, &[&room_id, &seq, &user_id, &client_msg_id, &body])
            .await?;
        // The sender has read their own message.
        tx.execute(
            "UPDATE room_members SET last_read_seq = GREATEST(last_read_seq, $3) WHERE room_id = $1 AND user_id = $2",
            &[&room_id, &user_id, &seq],
        )
        .await?;
        tx.commit().await?;
        Ok((message_from(&row, 0), false))
    }

    async fn find_by_client_id(
        &self,
        client: &tokio_postgres::Client,
        user_id: &str,
        room_id: i64,
        client_msg_id: &str,
    ) -> Result<Option<Message>, NodeError> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE room_id = $1 AND sender_id = $2 AND client_msg_id = $3"
        );
        Ok(client
            .query_opt(&sql, &[&room_id, &user_id, &client_msg_id])
            .await?
            .map(|r| message_from(&r, 0)))
    }

    /// Moves the read cursor forward (never back) to `seq`, or to the newest message; returns (cursor, unread).
    pub async fn mark_read(
        &self,
        user_id: &str,
        room_id: i64,
        seq: Option<i64>,
    ) -> Result<(i64, i64), NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("mark_read");
        let row = client
            .query_opt(
                "UPDATE room_members m
                    SET last_read_seq = GREATEST(m.last_read_seq, LEAST(coalesce($3, r.last_seq), r.last_seq))
                   FROM rooms r
                  WHERE m.room_id = $1 AND m.user_id = $2 AND r.id = m.room_id
                  RETURNING m.last_read_seq, r.last_seq",
                &[&room_id, &user_id, &seq],
            )
            .await?;
        match row {
            Some(row) => {
                let (cursor, last): (i64, i64) = (row.get(0), row.get(1));
                Ok((cursor, (last - cursor).max(0)))
            }
            None => {
                self.require_member(&client, user_id, room_id).await?;
                Err(not_member(room_id))
            }
        }
    }

    /// Messages after the given cursors, by room then seq, at most `limit`, and whether more are waiting.
    /// Cursors on rooms the user is not a member of are ignored.
    pub async fn sync(
        &self,
        user_id: &str,
        cursors: &[RoomCursor],
        limit: u32,
    ) -> Result<(Vec<Message>, bool), NodeError> {
        if cursors.is_empty() {
            return Ok((Vec::new(), false));
        }
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("sync");
        let rooms: Vec<i64> = cursors.iter().map(|c| c.room_id).collect();
        let seqs: Vec<i64> = cursors.iter().map(|c| c.seq).collect();
        let fetch = limit as i64 + 1;
        let sql = format!(
            "SELECT x.* FROM unnest($2::bigint[], $3::bigint[]) AS c(room_id, seq)
               JOIN room_members m ON m.room_id = c.room_id AND m.user_id = $1
               CROSS JOIN LATERAL (
                   SELECT {MESSAGE_COLUMNS} FROM messages y
                    WHERE y.room_id = c.room_id AND y.seq > c.seq ORDER BY y.seq LIMIT $4) x
              ORDER BY x.room_id, x.seq
              LIMIT $4"
        );
        let rows = client
            .query(&sql, &[&user_id, &rooms, &seqs, &fetch])
            .await?;
        let has_more = rows.len() > limit as usize;
        Ok((
            rows.iter()
                .take(limit as usize)
                .map(|r| message_from(r, 0))
                .collect(),
            has_more,
        ))
    }
}
