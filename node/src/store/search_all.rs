//! Finding the caller's messages across every room they are in (`search_all`, docs/protocol.md §6.11).
//!
//! The same match as in one room (a case-insensitive substring of the body, Korean or any script, through the
//! keys of [`super::search_keys`]), over up to all of a user's rooms, newest first by the time a message was sent.
//! A page is found in up to two ways, in this order:
//!
//! * **The walk**: the keys of the caller's rooms are read newest first, a chunk at a time
//!   (`message_search_keys_recent`, migration 0015). A common term fills a page within the first chunk; the trigram
//!   index would have returned every one of its thousands of matches for fifty to be shown.
//! * **The index**, when the first chunk did not fill the page and the term has a trigram: if it has at most
//!   `candidates` keys in the whole company (a capped index scan counts them), the same statement sorts out the
//!   newest older matches of the caller's rooms, and the page is complete. A term too common for that but rare
//!   among the caller's messages goes on walking, at most `walk_budget` keys per request.
//!
//! Either way the rooms' newest messages that have no key yet (past `search_progress.indexed_seq`) are read
//! directly, as `search` does, so a message is found as soon as its `send` is answered.

use std::collections::HashSet;

use sendjay_common::protocol::Message;
use tokio_postgres::types::ToSql;

use super::{
    cut_to_page_bytes, hidden_for, message_columns, message_from, not_cleared_for, not_member,
    room_not_found, Store, QUOTE_JOIN,
};
use crate::error::NodeError;

/// Key rows one chunk of the newest-first walk reads (at most).
const WALK_CHUNK: i64 = 1_000;

/// How `search_all` chooses and bounds its work (node settings `SENDJAY_SEARCH_ALL_CANDIDATES` and
/// `SENDJAY_SEARCH_ALL_WALK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchAllPlan {
    /// Most matching keys in the whole company for which a term is looked up in the trigram index.
    pub candidates: i64,
    /// Most key rows one request walks; past it the page ends early (maybe empty) with a cursor to go on from,
    /// so a term that matches little of a user's many messages costs each request a bounded time.
    pub walk_budget: i64,
}

/// A point in the newest-first order of `search_all` (time sent in µs, then room, then seq); a page holds the
/// matches strictly before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SearchPosition {
    /// When the message was sent, µs since the epoch.
    pub at_us: i64,
    /// Its room.
    pub room_id: i64,
    /// Its seq in the room.
    pub seq: i64,
}

impl SearchPosition {
    /// After every message (the first page): year 2255, far below PostgreSQL's timestamp limit.
    pub const NEWEST: SearchPosition = SearchPosition {
        at_us: 9_000_000_000_000_000,
        room_id: i64::MAX,
        seq: i64::MAX,
    };

    /// The wire form, `at_us.room_id.seq` (the `next_cursor` of a page).
    pub fn to_cursor(self) -> String {
        format!("{}.{}.{}", self.at_us, self.room_id, self.seq)
    }

    /// Reads a cursor written by [`Self::to_cursor`]; `None` when it is not one.
    pub fn from_cursor(cursor: &str) -> Option<SearchPosition> {
        let mut parts = cursor.split('.').map(str::parse::<i64>);
        let (Some(Ok(at_us)), Some(Ok(room_id)), Some(Ok(seq)), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let position = SearchPosition {
            at_us,
            room_id,
            seq,
        };
        (at_us >= 0 && position <= Self::NEWEST).then_some(position)
    }
}

/// What `search_all` looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllRoomsQuery {
    /// Case-insensitive substring of the body.
    pub text: String,
    /// Only these rooms (each must be the caller's); `None`: all of the caller's rooms.
    pub rooms: Option<Vec<i64>>,
    /// Only this sender.
    pub sender_id: Option<String>,
    /// Only messages sent at or after this time (µs).
    pub after_us: i64,
    /// Only messages before this point (the cursor and the `before_ms` filter together).
    pub before: SearchPosition,
}

/// One page of `search_all`.
#[derive(Debug, Clone, PartialEq)]
pub struct AllRoomsPage {
    /// Matches, newest first.
    pub messages: Vec<Message>,
    /// Where the next page starts; `None` when there are no older matches.
    pub next: Option<SearchPosition>,
}

/// Whether the trigram index can narrow a search for `text`: its key (ASCII kept, every other character four
/// base-36 digits) has a run of three word characters, the shortest that yields a trigram.
pub fn has_trigram(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_alphanumeric() {
            run + 1
        } else if c.is_ascii() {
            0
        } else {
            run + 4
        };
        if run >= 3 {
            return true;
        }
    }
    false
}

/// `$n` (µs since the epoch) as a timestamptz.
fn micros(param: usize) -> String {
    format!("(timestamptz 'epoch' + ${param}::bigint * interval '1 microsecond')")
}

/// The time of message or key `alias` in µs, as the order and the cursor use it.
fn at_us(alias: &str) -> String {
    format!("(extract(epoch FROM {alias}.created_at) * 1000000)::bigint")
}

/// Everything a match must pass besides being in the caller's rooms, for message `m`. Parameters: `$1` viewer,
/// `$3` text, `$4` sender or NULL, `$5` after (µs), `$6`–`$8` the position the page ends before.
fn match_filter() -> String {
    format!(
        "m.revoked_at IS NULL AND m.kind <> 'system' AND NOT {hidden} AND {cleared}
         AND strpos(lower(m.body), lower($3)) > 0
         AND ($4::text IS NULL OR m.sender_id = $4)
         AND m.created_at >= {after}
         AND (m.created_at, m.room_id, m.seq) < ({before}, $7, $8)",
        hidden = hidden_for(1),
        cleared = not_cleared_for(1),
        after = micros(5),
        before = micros(6),
    )
}

impl Store {
    /// A page of the caller's messages matching `query` across their rooms, newest first.
    pub async fn search_all(
        &self,
        user_id: &str,
        query: &AllRoomsQuery,
        limit: u32,
        plan: SearchAllPlan,
    ) -> Result<AllRoomsPage, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("search_all");
        let rooms = searchable_rooms(&**client, user_id, query.rooms.as_deref()).await?;
        let empty = AllRoomsPage {
            messages: Vec::new(),
            next: None,
        };
        if rooms.is_empty() {
            return Ok(empty);
        }
        let fetch = i64::from(limit) + 1;
        let mut before = query.before;
        let user_id = &user_id;
        let params = bind(user_id, &rooms, query, &before, &fetch);
        let filter = match_filter();

        // The rooms' unindexed newest messages first: a message the indexer keys after this read is then found
        // in the keys below (and deduplicated), never missed between the two.
        let tail = format!(
            "SELECT m.room_id, m.seq, {at}
               FROM unnest($2::bigint[]) AS r(id)
               LEFT JOIN search_progress p ON p.room_id = r.id
               JOIN messages m ON m.room_id = r.id AND m.seq > coalesce(p.indexed_seq, 0)
              WHERE {filter}
              ORDER BY 3 DESC, 1 DESC, 2 DESC LIMIT $9",
            at = at_us("m")
        );
        let mut hits = positions(&client.query(&tail, &params).await?);

        // Newest first through the keys of the caller's rooms, a chunk at a time, until a page matched.
        let walk = format!(
            "SELECT w.room_id, w.seq, w.at,
                    w.key LIKE sj_search_pattern($3)
                    AND EXISTS (SELECT 1 FROM messages m
                                 WHERE m.room_id = w.room_id AND m.seq = w.seq AND {filter})
               FROM (SELECT k.room_id, k.seq, k.key, {at} AS at
                       FROM message_search_keys k
                      WHERE k.room_id = ANY($2) AND k.created_at >= {after}
                        AND (k.created_at, k.room_id, k.seq) < ({before}, $7, $8)
                      ORDER BY k.created_at DESC, k.room_id DESC, k.seq DESC
                      LIMIT $9) w",
            at = at_us("k"),
            after = micros(5),
            before = micros(6),
        );
        // Every match older than the walk's position, when the term has at most `$10 - 1` keys company-wide
        // (`total` says how many it has, up to `$10`).
        let indexed = format!(
            "WITH c AS MATERIALIZED (
                 SELECT k.room_id, k.seq FROM message_search_keys k
                  WHERE k.key LIKE sj_search_pattern($3) LIMIT $10)
             SELECT n.total, h.room_id, h.seq, h.at
               FROM (SELECT count(*) AS total FROM c) n
               LEFT JOIN LATERAL (
                   SELECT m.room_id, m.seq, {at} AS at
                     FROM c JOIN messages m ON m.room_id = c.room_id AND m.seq = c.seq
                    WHERE c.room_id = ANY($2) AND {filter}
                    ORDER BY 3 DESC, 1 DESC, 2 DESC LIMIT $9) h ON true",
            at = at_us("m")
        );
        // Each chunk is its own one-time statement: planned for its actual parameters. A cached statement turns
        // generic after five runs, and the generic plan of this one (rooms and bounds unknown) sorts every key of
        // the rooms: 559 ms instead of a few on the benchmark's million messages (scripts/search-all-explain.sql).
        let mut chunk = plan.walk_budget.clamp(1, WALK_CHUNK);
        let capped = plan.candidates.saturating_add(1);
        let (mut found, mut read) = (0, 0);
        let mut index_tried = !has_trigram(&query.text);
        let mut walked_to = None;
        loop {
            let rows = client
                .query(
                    walk.as_str(),
                    &bind(user_id, &rooms, query, &before, &chunk),
                )
                .await?;
            read += rows.len() as i64;
            for row in &rows {
                if row.get::<_, bool>(3) {
                    hits.push(position(row));
                    found += 1;
                }
            }
            // A short chunk: every key of the caller's rooms has been looked at.
            let Some(last) = rows.last().filter(|_| rows.len() as i64 == chunk) else {
                break;
            };
            if found >= fetch {
                break;
            }
            before = position(last);
            if !index_tried {
                // Not common among the caller's newest messages: if it is rare in the whole company, the trigram
                // index holds every older match, found in one statement.
                index_tried = true;
                let mut params = bind(user_id, &rooms, query, &before, &fetch).to_vec();
                params.push(&capped);
                let rows = client.query(&indexed, &params).await?;
                if rows[0].get::<_, i64>(0) <= plan.candidates {
                    hits.extend(rows.iter().filter_map(|r| {
                        Some(SearchPosition {
                            room_id: r.get::<_, Option<i64>>(1)?,
                            seq: r.get(2),
                            at_us: r.get(3),
                        })
                    }));
                    break;
                }
            }
            if read >= plan.walk_budget {
                walked_to = Some(before);
                break;
            }
            chunk = next_chunk(found, read, fetch, plan.walk_budget);
        }
        // A walk that stopped early has looked at everything down to `walked_to` and nothing below it: the page
        // holds what it found there (the tail's older matches come with a later page) and goes on from there.
        if let Some(end) = walked_to {
            hits.retain(|p| *p >= end);
        }

        let mut seen = HashSet::new();
        hits.retain(|p| seen.insert((p.room_id, p.seq)));
        hits.sort_unstable_by(|a, b| b.cmp(a));
        let has_more = hits.len() > limit as usize;
        hits.truncate(limit as usize);
        if hits.is_empty() {
            return Ok(AllRoomsPage {
                messages: Vec::new(),
                next: walked_to,
            });
        }

        let room_ids: Vec<i64> = hits.iter().map(|p| p.room_id).collect();
        let seqs: Vec<i64> = hits.iter().map(|p| p.seq).collect();
        let sql = format!(
            "SELECT {} FROM unnest($2::bigint[], $3::bigint[]) AS t(room_id, seq)
               JOIN messages m ON m.room_id = t.room_id AND m.seq = t.seq {QUOTE_JOIN}",
            message_columns("m.body", Some(1))
        );
        let rows = client.query(&sql, &[&user_id, &room_ids, &seqs]).await?;
        let mut by_ref: std::collections::HashMap<(i64, i64), Message> = rows
            .iter()
            .map(|r| message_from(r, 0))
            .map(|m| ((m.room_id, m.seq), m))
            .collect();
        let mut messages: Vec<Message> = hits
            .iter()
            .filter_map(|p| by_ref.remove(&(p.room_id, p.seq)))
            .collect();
        let cut = cut_to_page_bytes(&mut messages);
        let next = match messages.last() {
            Some(last) if has_more || cut => hits
                .iter()
                .find(|p| p.room_id == last.room_id && p.seq == last.seq)
                .copied(),
            // Every match of the page was deleted between the two reads: go on after the last one found.
            None if has_more => hits.last().copied(),
            _ => walked_to,
        };
        Ok(AllRoomsPage { messages, next })
    }
}

/// The rooms to search: the caller's, or the ones named when each is the caller's.
async fn searchable_rooms(
    client: &(impl tokio_postgres::GenericClient + Sync),
    user_id: &str,
    named: Option<&[i64]>,
) -> Result<Vec<i64>, NodeError> {
    // A retired caller was refused before (the handler checks every op that does not check it itself).
    let mine: Vec<i64> = client
        .query_one(
            "SELECT ARRAY(SELECT room_id FROM room_members WHERE user_id = $1)",
            &[&user_id],
        )
        .await?
        .get(0);
    let Some(named) = named else {
        return Ok(mine);
    };
    let mine: HashSet<i64> = mine.into_iter().collect();
    let mut rooms: Vec<i64> = Vec::with_capacity(named.len());
    for &room in named {
        if rooms.contains(&room) {
            continue;
        }
        if !mine.contains(&room) {
            let exists: bool = client
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM rooms WHERE id = $1)",
                    &[&room],
                )
                .await?
                .get(0);
            return Err(if exists {
                not_member(room)
            } else {
                room_not_found(room)
            });
        }
        rooms.push(room);
    }
    Ok(rooms)
}

/// How many keys the next chunk of a walk reads: about as many as the matches so far say a full page needs (with a
/// fifth more), at least [`WALK_CHUNK`], at most eight of them without a match yet, never past the budget.
fn next_chunk(found: i64, read: i64, fetch: i64, budget: i64) -> i64 {
    let wanted = if found == 0 {
        8 * WALK_CHUNK
    } else {
        (fetch - found).max(1) * read / found * 6 / 5
    };
    wanted
        .clamp(WALK_CHUNK, 8 * WALK_CHUNK)
        .min(budget - read)
        .max(1)
}

/// The parameters of every statement but the last: `$1` viewer, `$2` rooms, `$3` text, `$4` sender, `$5` after,
/// `$6`–`$8` the position the page ends before, `$9` how many rows.
fn bind<'a>(
    user_id: &'a &str,
    rooms: &'a Vec<i64>,
    query: &'a AllRoomsQuery,
    before: &'a SearchPosition,
    rows: &'a i64,
) -> [&'a (dyn ToSql + Sync); 9] {
    [
        user_id,
        rooms,
        &query.text,
        &query.sender_id,
        &query.after_us,
        &before.at_us,
        &before.room_id,
        &before.seq,
        rows,
    ]
}

/// A row's `(room_id, seq, at_us)` as a position.
fn position(row: &tokio_postgres::Row) -> SearchPosition {
    SearchPosition {
        room_id: row.get(0),
        seq: row.get(1),
        at_us: row.get(2),
    }
}

/// Every row's position.
fn positions(rows: &[tokio_postgres::Row]) -> Vec<SearchPosition> {
    rows.iter().map(position).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_what_is_not_one() {
        let p = SearchPosition {
            at_us: 1_700_000_000_123_456,
            room_id: 7,
            seq: 42,
        };
        assert_eq!(SearchPosition::from_cursor(&p.to_cursor()), Some(p));
        for bad in [
            "",
            "1.2",
            "1.2.3.4",
            "a.b.c",
            "-1.2.3",
            "9000000000000001.1.1",
        ] {
            assert_eq!(SearchPosition::from_cursor(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_walk_reads_about_what_a_page_needs_within_its_budget() {
        // 10 of 51 in the first 1 000 keys: about 4 100 more (and a fifth) read at once.
        assert_eq!(next_chunk(10, 1_000, 51, 20_000), 4_920);
        assert_eq!(next_chunk(0, 1_000, 51, 20_000), 8_000, "no match yet");
        assert_eq!(next_chunk(50, 1_000, 51, 20_000), 1_000, "at least a chunk");
        assert_eq!(next_chunk(1, 1_000, 51, 20_000), 8_000, "at most eight");
        assert_eq!(
            next_chunk(0, 19_000, 51, 20_000),
            1_000,
            "never past the budget"
        );
        assert_eq!(next_chunk(0, 2, 51, 3), 1);
    }

    #[test]
    fn trigrams_need_three_key_characters_in_a_row() {
        assert!(!has_trigram("ab"));
        assert!(!has_trigram("a b c"));
        assert!(has_trigram("abc"));
        assert!(has_trigram("회"));
        assert!(has_trigram("x회"));
        assert!(!has_trigram("a-b"));
    }
}
