//! Read state: cursors that never move backwards, per-message unread counts for a window of messages in one
//! query, who has not read a message, and opening a room (mark all read + newest page + counts).

use sendjay_common::protocol::{Message, RoomSummary, SeqCount};
use tokio_postgres::GenericClient;

use super::messages::page_sql;
use super::rooms::{room_summary_sql, summary_from};
use super::{not_found, page_of, require_member, Store};
use crate::error::NodeError;

/// Unread counts of a window: `$1` room; `window` selects the window's `seq, sender_id` from `messages`.
/// See [`unread_counts`] for how it works.
fn unread_counts_sql(window: &str) -> String {
    format!(
        "WITH w AS ({window}),
              ev AS (SELECT c.last_read_seq AS v, 1 AS k, count(*) AS n
                       FROM room_members c
                      WHERE c.room_id = $1 AND c.last_read_seq < (SELECT max(seq) FROM w)
                      GROUP BY c.last_read_seq
                     UNION ALL
                     SELECT seq, 0, 0 FROM w),
              run AS (SELECT v, k, sum(n) OVER (ORDER BY v, k ROWS UNBOUNDED PRECEDING) AS behind FROM ev)
         SELECT w.seq, run.behind::bigint - CASE WHEN s.last_read_seq < w.seq THEN 1 ELSE 0 END
           FROM w
           JOIN run ON run.k = 0 AND run.v = w.seq
           LEFT JOIN room_members s ON s.room_id = $1 AND s.user_id = w.sender_id
          ORDER BY w.seq"
    )
}

/// Unread counts of the given seqs (`$1` room, `$2` seqs), ascending.
pub fn unread_counts_sql_for_seqs() -> String {
    unread_counts_sql(
        "SELECT seq, sender_id FROM messages WHERE room_id = $1 AND seq = ANY($2::bigint[])",
    )
}

/// Unread counts of the newest messages (`$1` room, `$2` how many), ascending.
pub fn unread_counts_sql_for_newest() -> String {
    unread_counts_sql(
        "SELECT seq, sender_id FROM messages WHERE room_id = $1 ORDER BY seq DESC LIMIT $2",
    )
}

/// Moves a cursor forward (`$1` room, `$2` user, `$3` seq or null for the newest). `m` is re-read under the row
/// lock when another call moves the cursor first, so GREATEST over it never moves backwards; `o` is the value
/// before this statement, to tell whether it moved.
pub const MARK_READ_SQL: &str = "UPDATE room_members m
                SET last_read_seq = GREATEST(m.last_read_seq, LEAST(coalesce($3, r.last_seq), r.last_seq))
               FROM rooms r, room_members o
              WHERE m.room_id = $1 AND m.user_id = $2 AND r.id = m.room_id
                AND o.room_id = m.room_id AND o.user_id = m.user_id
                AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = $2 AND u.retired_at <= now())
              RETURNING m.last_read_seq, r.last_seq, o.last_read_seq, r.member_count";

/// A read cursor after `mark_read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadCursor {
    /// The cursor now.
    pub last_read_seq: i64,
    /// Messages after it.
    pub unread: i64,
    /// Whether this call moved it.
    pub moved: bool,
    /// Members of the room (large rooms get read pushes only on the reader's own devices).
    pub member_count: i64,
}

/// What `open_room` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedRoom {
    /// The caller's cursor after marking everything read.
    pub cursor: ReadCursor,
    /// The room as the list shows it.
    pub room: RoomSummary,
    /// The newest page, newest first.
    pub messages: Vec<Message>,
    /// Whether older messages exist.
    pub has_more: bool,
    /// Unread counts of `messages`, in the same order.
    pub counts: Vec<SeqCount>,
}

/// Members (other than each message's sender) whose cursor is below each seq of `seqs`, for the seqs that
/// exist, ascending: one query whatever the window size ([`unread_counts_sql_for_seqs`]).
///
/// The room's cursors that are behind the newest seq asked are grouped by value (an index-only range scan of
/// `room_members_cursor`), merged with the seqs in one ordered pass, and a running sum gives, at each seq, the
/// number of cursors strictly below it. A cursor equal to a seq means that message is read, so seq rows sort
/// before cursor rows of the same value. The sender's own cursor (normally at or past their message) is
/// subtracted when it is below.
pub(crate) async fn unread_counts(
    client: &(impl GenericClient + Sync),
    room_id: i64,
    seqs: &[i64],
) -> Result<Vec<SeqCount>, NodeError> {
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    let rows = client
        .query(&unread_counts_sql_for_seqs(), &[&room_id, &seqs])
        .await?;
    Ok(rows
        .iter()
        .map(|r| SeqCount {
            seq: r.get(0),
            unread: r.get(1),
        })
        .collect())
}

fn cursor_from(row: &tokio_postgres::Row) -> ReadCursor {
    let (cursor, last, before): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    ReadCursor {
        last_read_seq: cursor,
        unread: (last - cursor).max(0),
        moved: cursor > before,
        member_count: row.get::<_, i32>(3) as i64,
    }
}

async fn mark_read(
    client: &(impl GenericClient + Sync),
    user_id: &str,
    room_id: i64,
    seq: Option<i64>,
) -> Result<ReadCursor, NodeError> {
    let row = client
        .query_opt(MARK_READ_SQL, &[&room_id, &user_id, &seq])
        .await?;
    match row {
        Some(row) => Ok(cursor_from(&row)),
        None => {
            require_member(client, user_id, room_id).await?;
            Err(super::not_member(room_id))
        }
    }
}

impl Store {
    /// Moves the read cursor forward (never back) to `seq`, or to the newest message.
    pub async fn mark_read(
        &self,
        user_id: &str,
        room_id: i64,
        seq: Option<i64>,
    ) -> Result<ReadCursor, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("mark_read");
        mark_read(&**client, user_id, room_id, seq).await
    }

    /// Marks the room read, then returns its newest page with per-message unread counts.
    ///
    /// One round trip: the four statements are prepared once per connection and sent together; PostgreSQL runs
    /// them in order, so the page and the counts see the cursor just moved. When the caller is not a member the
    /// update matches nothing and the other results are dropped unread.
    pub async fn open_room(
        &self,
        user_id: &str,
        room_id: i64,
        limit: u32,
    ) -> Result<OpenedRoom, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("open_room");
        let mark = client.prepare_cached(MARK_READ_SQL).await?;
        let newest = client.prepare_cached(&page_sql()).await?;
        let counts = client
            .prepare_cached(&unread_counts_sql_for_newest())
            .await?;
        let summary = client.prepare_cached(&room_summary_sql()).await?;
        let none: Option<i64> = None;
        let fetch = limit as i64 + 1;
        let (marked, page, counted, summarised) = futures_util::future::join4(
            client.query_opt(&mark, &[&room_id, &user_id, &none]),
            client.query(&newest, &[&room_id, &i64::MAX, &fetch, &user_id]),
            client.query(&counts, &[&room_id, &(limit as i64)]),
            client.query_opt(&summary, &[&user_id, &room_id]),
        )
        .await;
        let Some(marked) = marked? else {
            require_member(&**client, user_id, room_id).await?;
            return Err(super::not_member(room_id));
        };
        let cursor = cursor_from(&marked);
        let (messages, has_more) = page_of(&page?, limit);
        let mut counts: Vec<SeqCount> = counted?
            .iter()
            .rev()
            .map(|r| SeqCount {
                seq: r.get(0),
                unread: r.get(1),
            })
            .collect();
        // A message committed between the page and the count statements shifts the newest window by one:
        // then count exactly the page's seqs (rare).
        let aligned = counts.len() == messages.len()
            && counts.iter().zip(&messages).all(|(c, m)| c.seq == m.seq);
        if !aligned {
            let seqs: Vec<i64> = messages.iter().map(|m| m.seq).collect();
            counts = unread_counts(&**client, room_id, &seqs).await?;
            counts.reverse();
        }
        let room = summarised?
            .as_ref()
            .map(summary_from)
            .ok_or_else(|| super::not_member(room_id))?;
        Ok(OpenedRoom {
            cursor,
            room,
            messages,
            has_more,
            counts,
        })
    }

    /// Unread counts of the given messages of a room the caller is in.
    pub async fn unread_counts(
        &self,
        user_id: &str,
        room_id: i64,
        seqs: &[i64],
    ) -> Result<Vec<SeqCount>, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("unread_counts");
        require_member(&**client, user_id, room_id).await?;
        unread_counts(&**client, room_id, seqs).await
    }

    /// Members (other than the sender) who have not read message `seq`, by user id.
    pub async fn unread_members(
        &self,
        user_id: &str,
        room_id: i64,
        seq: i64,
    ) -> Result<Vec<String>, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("unread_members");
        require_member(&**client, user_id, room_id).await?;
        let sender: String = client
            .query_opt(
                "SELECT sender_id FROM messages WHERE room_id = $1 AND seq = $2",
                &[&room_id, &seq],
            )
            .await?
            .ok_or_else(|| not_found(format!("message {seq} does not exist in room {room_id}")))?
            .get(0);
        let rows = client
            .query(
                "SELECT user_id FROM room_members
                  WHERE room_id = $1 AND last_read_seq < $2 AND user_id <> $3 ORDER BY user_id",
                &[&room_id, &seq, &sender],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}
