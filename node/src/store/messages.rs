//! Writing and reading messages: send (text, image, file, file link, reply), forward, revoke, delete for me,
//! system messages, history and sync.

use std::time::Duration;

use sendjay_common::protocol::{
    FileInfo, Message, MessageKind, MessageRef, Quote, RoomCursor, SystemEvent, QUOTE_PREVIEW_CHARS,
};
use tokio_postgres::types::Json;
use tokio_postgres::GenericClient;

use super::{
    bad_args, conflict, forbidden, hidden_for, message_columns, message_from, not_cleared_for,
    not_found, not_member, page_of, require_member, Store, QUOTE_JOIN,
};
use crate::error::NodeError;

/// The content of a message to store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewContent {
    /// Its kind (never `system`: those are written by the server itself).
    pub kind: MessageKind,
    /// Text or caption.
    pub body: String,
    /// File metadata for `image`, `file` (and `file_link` when already resolved, as in `forward`).
    pub file: Option<FileInfo>,
    /// For `file_link`: the message whose file to reuse.
    pub file_link: Option<MessageRef>,
    /// The quoted message's seq, same room.
    pub reply_to: Option<i64>,
    /// Copied by `forward`.
    pub forwarded: bool,
}

/// The outcome of a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The stored message.
    pub message: Message,
    /// The client id was used before: nothing was written.
    pub duplicate: bool,
    /// Members of a direct room brought back by this message (they had left); they must be subscribed.
    pub rejoined: Vec<String>,
}

/// The outcome of a revoke.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revocation {
    /// This call revoked the message (false when it already was).
    pub revoked: bool,
    /// The `unpin` system message written because the message was pinned.
    pub unpinned: Option<Message>,
}

/// Takes the room's next seq under its row lock (no membership check: callers have made theirs).
pub(crate) async fn next_seq(
    client: &(impl GenericClient + Sync),
    room_id: i64,
) -> Result<i64, NodeError> {
    let row = client
        .query_opt(
            "UPDATE rooms SET last_seq = last_seq + 1, last_activity = now() WHERE id = $1 RETURNING last_seq",
            &[&room_id],
        )
        .await?;
    row.map(|r| r.get(0))
        .ok_or_else(|| super::room_not_found(room_id))
}

/// One row to insert.
pub(crate) struct Insert<'a> {
    pub room_id: i64,
    pub seq: i64,
    pub sender_id: &'a str,
    pub client_msg_id: &'a str,
    pub kind: MessageKind,
    pub body: &'a str,
    pub file: Option<&'a FileInfo>,
    pub system: Option<&'a SystemEvent>,
    pub reply_to: Option<Quote>,
    pub forwarded: bool,
}

/// Inserts a message row whose seq the caller has taken, and returns it as every member sees it.
pub(crate) async fn insert_message(
    client: &(impl GenericClient + Sync),
    m: Insert<'_>,
) -> Result<Message, NodeError> {
    let file = m.file.map(Json);
    let system = m.system.map(Json);
    let reply_seq = m.reply_to.as_ref().map(|q| q.seq);
    let row = client
        .query_one(
            "INSERT INTO messages (room_id, seq, sender_id, client_msg_id, kind, body, file, system, reply_to, forwarded)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             RETURNING (extract(epoch FROM created_at) * 1000)::bigint",
            &[
                &m.room_id,
                &m.seq,
                &m.sender_id,
                &m.client_msg_id,
                &m.kind.as_str(),
                &m.body,
                &file,
                &system,
                &reply_seq,
                &m.forwarded,
            ],
        )
        .await?;
    Ok(Message {
        room_id: m.room_id,
        seq: m.seq,
        client_msg_id: m.client_msg_id.to_owned(),
        sender_id: m.sender_id.to_owned(),
        kind: m.kind,
        body: m.body.to_owned(),
        created_at_ms: row.get(0),
        reply_to: m.reply_to,
        file: m.file.cloned(),
        system: m.system.cloned(),
        forwarded: m.forwarded,
        revoked: false,
        hidden: false,
        mentions: super::mentions_of(m.kind, m.body),
        edited_at_ms: None,
        change_seq: 0,
        reactions: Vec::new(),
    })
}

/// Writes a system message (takes the next seq) in the caller's transaction.
pub(crate) async fn system_message(
    client: &(impl GenericClient + Sync),
    room_id: i64,
    event: SystemEvent,
    body: String,
) -> Result<Message, NodeError> {
    let seq = next_seq(client, room_id).await?;
    let client_msg_id = format!("sys-{}", sendjay_common::ids::new_client_msg_id());
    let actor = event.actor.clone();
    insert_message(
        client,
        Insert {
            room_id,
            seq,
            sender_id: &actor,
            client_msg_id: &client_msg_id,
            kind: MessageKind::System,
            body: &body,
            file: None,
            system: Some(&event),
            reply_to: None,
            forwarded: false,
        },
    )
    .await
}

/// The common send as one prepared statement, committed on its own: take the room's next seq under its row
/// lock, insert the message, move the sender's read cursor. It writes nothing, and returns `None`, unless the
/// sender is an active member, the client id is new and the room is not a direct room missing a member; a
/// concurrent send of the same client id makes it fail on the unique key, also `None`. The caller then takes
/// the general path, which tells those cases apart. One round trip instead of about a dozen is what lets
/// PostgreSQL keep up with thousands of sends per second on a small machine.
const SEND_IN_ONE_STATEMENT: &str = "
WITH target AS (
    SELECT r.id FROM rooms r JOIN room_members m ON m.room_id = r.id AND m.user_id = $2::text
     WHERE r.id = $1::bigint
       AND NOT (r.kind = 'direct' AND r.member_count < 2)
       AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = $2::text AND u.retired_at <= now())
       AND NOT EXISTS (SELECT 1 FROM messages x
                        WHERE x.room_id = $1::bigint AND x.sender_id = $2::text AND x.client_msg_id = $3::text)
), bumped AS (
    UPDATE rooms r SET last_seq = r.last_seq + 1, last_activity = now()
      FROM target t WHERE r.id = t.id
    RETURNING r.last_seq
), stored AS (
    INSERT INTO messages (room_id, seq, sender_id, client_msg_id, kind, body, file, forwarded)
    SELECT $1::bigint, b.last_seq, $2::text, $3::text, $4::text, $5::text, $6::jsonb, $7::boolean FROM bumped b
    RETURNING seq, (extract(epoch FROM created_at) * 1000)::bigint AS created_ms
), read AS (
    UPDATE room_members SET last_read_seq = GREATEST(last_read_seq, s.seq)
      FROM stored s WHERE room_id = $1::bigint AND user_id = $2::text
)
SELECT seq, created_ms FROM stored";

pub(crate) async fn send_in_one_statement(
    client: &deadpool_postgres::Object,
    user_id: &str,
    room_id: i64,
    client_msg_id: &str,
    content: &NewContent,
) -> Result<Option<Message>, NodeError> {
    let statement = client.prepare_cached(SEND_IN_ONE_STATEMENT).await?;
    let file = content.file.as_ref().map(Json);
    let row = match client
        .query_opt(
            &statement,
            &[
                &room_id,
                &user_id,
                &client_msg_id,
                &content.kind.as_str(),
                &content.body,
                &file,
                &content.forwarded,
            ],
        )
        .await
    {
        Ok(row) => row,
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => None,
        Err(e) => return Err(e.into()),
    };
    Ok(row.map(|row| Message {
        room_id,
        seq: row.get(0),
        client_msg_id: client_msg_id.to_owned(),
        sender_id: user_id.to_owned(),
        kind: content.kind,
        body: content.body.clone(),
        created_at_ms: row.get(1),
        reply_to: None,
        file: content.file.clone(),
        system: None,
        forwarded: content.forwarded,
        revoked: false,
        hidden: false,
        mentions: super::mentions_of(content.kind, &content.body),
        edited_at_ms: None,
        change_seq: 0,
        reactions: Vec::new(),
    }))
}

/// A resend must carry the same content: different content under a used id is a client bug, not a retry.
fn same_content(existing: Message, content: &NewContent) -> Result<Message, NodeError> {
    let same_file = match (&existing.file, &content.file) {
        (Some(a), Some(b)) => a.file_id == b.file_id,
        (_, None) => true,
        (None, Some(_)) => false,
    };
    if existing.body == content.body && existing.kind == content.kind && same_file {
        Ok(existing)
    } else {
        Err(conflict(format!(
            "client_msg_id `{}` was already used for another message (seq {}); use a fresh id for a new message",
            existing.client_msg_id, existing.seq
        )))
    }
}

async fn quote_of(
    client: &(impl GenericClient + Sync),
    room_id: i64,
    seq: i64,
) -> Result<Quote, NodeError> {
    let row = client
        .query_opt(
            &format!(
                "SELECT sender_id, kind, left(body, {QUOTE_PREVIEW_CHARS}), file ->> 'name', revoked_at IS NOT NULL
                   FROM messages WHERE room_id = $1 AND seq = $2"
            ),
            &[&room_id, &seq],
        )
        .await?
        .ok_or_else(|| not_found(format!("reply_to: message {seq} does not exist in room {room_id}")))?;
    let revoked: bool = row.get(4);
    let body: String = row.get(2);
    let name: Option<String> = row.get(3);
    Ok(Quote {
        seq,
        sender_id: row.get(0),
        kind: MessageKind::parse(row.get(1)).unwrap_or_default(),
        preview: match (revoked, body.is_empty()) {
            (true, _) => String::new(),
            (false, true) => name.unwrap_or_default(),
            (false, false) => body,
        },
        revoked,
    })
}

/// A message the caller may copy from (a member of its room, not revoked, not hidden for them).
async fn readable_message(
    client: &(impl GenericClient + Sync),
    user_id: &str,
    at: MessageRef,
) -> Result<(MessageKind, String, Option<FileInfo>), NodeError> {
    require_member(client, user_id, at.room_id).await?;
    let row = client
        .query_opt(
            &format!(
                "SELECT m.kind, m.body, m.file, m.revoked_at IS NOT NULL, {} OR NOT ({})
                   FROM messages m WHERE m.room_id = $1 AND m.seq = $2",
                hidden_for(3),
                not_cleared_for(3)
            ),
            &[&at.room_id, &at.seq, &user_id],
        )
        .await?;
    let Some(row) = row else {
        return Err(not_found(format!(
            "message {} does not exist in room {}",
            at.seq, at.room_id
        )));
    };
    let (revoked, hidden): (bool, bool) = (row.get(3), row.get(4));
    if revoked || hidden {
        return Err(not_found(format!(
            "message {} of room {} was {}",
            at.seq,
            at.room_id,
            if revoked { "revoked" } else { "deleted by you" }
        )));
    }
    let file: Option<Json<FileInfo>> = row.get(2);
    Ok((
        MessageKind::parse(row.get(0)).unwrap_or_default(),
        row.get(1),
        file.map(|f| f.0),
    ))
}

impl Store {
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
        require_member(&**client, user_id, room_id).await?;
        page(&**client, user_id, room_id, before_seq, limit).await
    }

    /// Stores a message and returns it, or the stored one when the client id was seen before.
    pub async fn send(
        &self,
        user_id: &str,
        room_id: i64,
        client_msg_id: &str,
        mut content: NewContent,
    ) -> Result<Sent, NodeError> {
        if content.file_link.is_none() && content.reply_to.is_none() {
            let _query = crate::metrics::Timer::db("send");
            if let Some(message) = self
                .batcher()
                .send(user_id, room_id, client_msg_id, &content)
                .await?
            {
                self.search_keys_due(room_id);
                return Ok(Sent {
                    message,
                    duplicate: false,
                    rejoined: Vec::new(),
                });
            }
        }
        // The general path: repeats, replies, file links, non-members and direct rooms someone has left.
        let mut client = self.get().await?;
        let _query = crate::metrics::Timer::db("send");
        if let Some(existing) =
            find_by_client_id(&**client, user_id, room_id, client_msg_id).await?
        {
            return same_content(existing, &content).map(|message| Sent {
                message,
                duplicate: true,
                rejoined: Vec::new(),
            });
        }
        if let Some(link) = content.file_link {
            let (kind, _, file) = readable_message(&**client, user_id, link).await?;
            if !kind.has_file() {
                return Err(bad_args(format!(
                    "file_link must name an image, file or file_link message; message {} of room {} is {}",
                    link.seq,
                    link.room_id,
                    kind.as_str()
                )));
            }
            if let Some(file) = &file {
                crate::files::metadata::refuse_expired(&**client, &file.file_id).await?;
            }
            content.file = file;
        }
        let tx = client.transaction().await?;
        // Take the room's next seq under its row lock; only active members may.
        let seq_row = tx
            .query_opt(
                "UPDATE rooms r SET last_seq = r.last_seq + 1, last_activity = now()
                   FROM room_members m
                  WHERE r.id = $1 AND m.room_id = r.id AND m.user_id = $2
                    AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = $2 AND u.retired_at <= now())
                  RETURNING r.last_seq, r.kind, r.member_count",
                &[&room_id, &user_id],
            )
            .await?;
        let Some(seq_row) = seq_row else {
            drop(tx);
            require_member(&**client, user_id, room_id).await?;
            return Err(not_member(room_id));
        };
        let seq: i64 = seq_row.get(0);
        let room_kind: String = seq_row.get(1);
        let member_count: i32 = seq_row.get(2);
        // A concurrent send of the same client id may have committed while we waited for the lock.
        if let Some(existing) = find_by_client_id(&*tx, user_id, room_id, client_msg_id).await? {
            tx.rollback().await?;
            return same_content(existing, &content).map(|message| Sent {
                message,
                duplicate: true,
                rejoined: Vec::new(),
            });
        }
        let reply_to = match content.reply_to {
            Some(quoted) if quoted < seq => Some(quote_of(&*tx, room_id, quoted).await?),
            Some(quoted) => {
                return Err(not_found(format!(
                    "reply_to: message {quoted} does not exist in room {room_id}"
                )))
            }
            None => None,
        };
        let message = insert_message(
            &*tx,
            Insert {
                room_id,
                seq,
                sender_id: user_id,
                client_msg_id,
                kind: content.kind,
                body: &content.body,
                file: content.file.as_ref(),
                system: None,
                reply_to,
                forwarded: content.forwarded,
            },
        )
        .await?;
        // A message in a direct room brings back whichever of the two had left (unless retired).
        let rejoined: Vec<String> = if room_kind == "direct" && member_count < 2 {
            tx.query(
                "INSERT INTO room_members (room_id, user_id, last_read_seq)
                 SELECT d.room_id, u.id, $2::bigint - 1
                   FROM direct_pairs d JOIN users u ON u.id IN (d.low_user, d.high_user)
                  WHERE d.room_id = $1 AND (u.retired_at IS NULL OR u.retired_at > now())
                 ON CONFLICT DO NOTHING RETURNING user_id",
                &[&room_id, &seq],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect()
        } else {
            Vec::new()
        };
        // The sender has read their own message.
        tx.execute(
            "UPDATE room_members SET last_read_seq = GREATEST(last_read_seq, $3) WHERE room_id = $1 AND user_id = $2",
            &[&room_id, &user_id, &seq],
        )
        .await?;
        tx.commit().await?;
        self.search_keys_due(room_id);
        Ok(Sent {
            message,
            duplicate: false,
            rejoined,
        })
    }

    /// Copies a message of a room the caller is in into another room they are in, marked `forwarded`.
    pub async fn forward(
        &self,
        user_id: &str,
        from: MessageRef,
        to_room_id: i64,
        client_msg_id: &str,
    ) -> Result<Sent, NodeError> {
        let (kind, body, file) = {
            let client = self.get().await?;
            let _query = crate::metrics::Timer::db("forward");
            let (kind, body, file) = readable_message(&**client, user_id, from).await?;
            if let Some(file) = &file {
                crate::files::metadata::refuse_expired(&**client, &file.file_id).await?;
            }
            (kind, body, file)
        };
        if kind == MessageKind::System {
            return Err(bad_args("system messages cannot be forwarded"));
        }
        self.send(
            user_id,
            to_room_id,
            client_msg_id,
            NewContent {
                kind,
                body,
                file,
                file_link: None,
                reply_to: None,
                forwarded: true,
            },
        )
        .await
    }

    /// The sender cancels their message for everyone within `window`: body and file are erased, and a pin of it
    /// is removed with an `unpin` system message. Returns whether this call revoked it (false when it already
    /// was) and that system message.
    pub async fn revoke(
        &self,
        user_id: &str,
        at: MessageRef,
        window: Duration,
    ) -> Result<Revocation, NodeError> {
        let mut client = self.get().await?;
        let _query = crate::metrics::Timer::db("revoke");
        let tx = client.transaction().await?;
        require_member(&*tx, user_id, at.room_id).await?;
        // The room row first, as `pin_message` does: a pin and a revoke of one message take turns.
        super::rooms::lock_room(&*tx, at.room_id).await?;
        let row = tx
            .query_opt(
                "SELECT sender_id, kind, revoked_at IS NOT NULL,
                        now() - created_at > make_interval(secs => $3)
                   FROM messages WHERE room_id = $1 AND seq = $2 FOR UPDATE",
                &[&at.room_id, &at.seq, &window.as_secs_f64()],
            )
            .await?
            .ok_or_else(|| {
                not_found(format!(
                    "message {} does not exist in room {}",
                    at.seq, at.room_id
                ))
            })?;
        let (sender, kind, revoked, too_late): (String, &str, bool, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        if sender != user_id || kind == "system" {
            return Err(forbidden("only the sender may revoke a message"));
        }
        if revoked {
            return Ok(Revocation::default());
        }
        if too_late {
            return Err(forbidden(format!(
                "messages can be revoked within {} s of sending",
                window.as_secs()
            )));
        }
        let change = super::edits::next_change(&*tx, at.room_id).await?;
        tx.execute(
            "UPDATE messages SET body = '', file = NULL, revoked_at = now(), change_seq = $3
              WHERE room_id = $1 AND seq = $2",
            &[&at.room_id, &at.seq, &change],
        )
        .await?;
        // Revoked means gone from the server: its search key, the earlier texts of an edited message and its
        // reactions too.
        super::search_keys::set_search_key(&*tx, at, "").await?;
        for table in ["message_edits", "message_reactions"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE room_id = $1 AND seq = $2"),
                &[&at.room_id, &at.seq],
            )
            .await?;
        }
        let unpinned = super::keeping::drop_pin(&*tx, user_id, at).await?;
        tx.commit().await?;
        Ok(Revocation {
            revoked: true,
            unpinned,
        })
    }

    /// Hides a message for the caller only. Returns whether it was visible before.
    pub async fn delete_for_me(&self, user_id: &str, at: MessageRef) -> Result<bool, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("delete_for_me");
        require_member(&**client, user_id, at.room_id).await?;
        let exists = client
            .query_opt(
                "SELECT 1 FROM messages WHERE room_id = $1 AND seq = $2",
                &[&at.room_id, &at.seq],
            )
            .await?
            .is_some();
        if !exists {
            return Err(not_found(format!(
                "message {} does not exist in room {}",
                at.seq, at.room_id
            )));
        }
        let inserted = client
            .execute(
                "INSERT INTO message_hidden (user_id, room_id, seq) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&user_id, &at.room_id, &at.seq],
            )
            .await?;
        Ok(inserted == 1)
    }

    /// Messages after the given cursors, by room then seq, at most `limit` (and about `MAX_PAGE_BYTES`), and
    /// whether more are waiting. Cursors on rooms the user is not a member of are ignored; messages the user
    /// cleared (`clear_room`) are skipped, so a room's run then starts after its `cleared_seq`.
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
               JOIN room_members mm ON mm.room_id = c.room_id AND mm.user_id = $1
               CROSS JOIN LATERAL (
                   SELECT {} FROM messages m {QUOTE_JOIN}
                    WHERE m.room_id = c.room_id AND m.seq > c.seq AND m.seq > mm.cleared_seq
                    ORDER BY m.seq LIMIT $4) x
              ORDER BY 1, 2
              LIMIT $4",
            message_columns("m.body", Some(1))
        );
        let rows = client
            .query(&sql, &[&user_id, &rooms, &seqs, &fetch])
            .await?;
        Ok(page_of(&rows, limit))
    }
}

/// A page of history: `$1` room, `$2` below this seq, `$3` most rows, `$4` the viewer (whose cleared messages
/// are left out).
pub fn page_sql() -> String {
    format!(
        "SELECT {} FROM messages m {QUOTE_JOIN}
          WHERE m.room_id = $1 AND m.seq < $2 AND {} ORDER BY m.seq DESC LIMIT $3",
        message_columns("m.body", Some(4)),
        not_cleared_for(4)
    )
}

/// A page of a room's messages as `user_id` sees them, newest first (no membership check).
pub(crate) async fn page(
    client: &(impl GenericClient + Sync),
    user_id: &str,
    room_id: i64,
    before_seq: Option<i64>,
    limit: u32,
) -> Result<(Vec<Message>, bool), NodeError> {
    let before = before_seq.unwrap_or(i64::MAX);
    let rows = client
        .query(
            &page_sql(),
            &[&room_id, &before, &(limit as i64 + 1), &user_id],
        )
        .await?;
    Ok(page_of(&rows, limit))
}

async fn find_by_client_id(
    client: &(impl GenericClient + Sync),
    user_id: &str,
    room_id: i64,
    client_msg_id: &str,
) -> Result<Option<Message>, NodeError> {
    let sql = format!(
        "SELECT {} FROM messages m {QUOTE_JOIN}
          WHERE m.room_id = $1 AND m.sender_id = $2 AND m.client_msg_id = $3",
        message_columns("m.body", None)
    );
    Ok(client
        .query_opt(&sql, &[&room_id, &user_id, &client_msg_id])
        .await?
        .map(|r| message_from(&r, 0)))
}
