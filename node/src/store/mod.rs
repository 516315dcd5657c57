//! PostgreSQL, the system of record: users, rooms, members, messages and read cursors.
//!
//! Every message takes its room's next seq under the room row's lock, inside the transaction that inserts it,
//! so seqs are gap-free and a `send` is acknowledged only after commit. The unique key
//! `(room_id, sender_id, client_msg_id)` makes resending idempotent on any node.
//!
//! One idea per file: [`rooms`] (membership and room settings), [`messages`] (writing and reading messages),
//! [`reads`] (read cursors and unread counts), [`search`] (finding messages), [`search_keys`] (their index,
//! written after the commit), [`directory`] (organisation and people), [`keeping`] (clear chat, saved and pinned
//! messages) and [`accounts`] (passkeys, retirement, settings). Every function checks that the caller may do what
//! it asks and changes nothing when refusing.

pub mod accounts;
pub mod channels;
pub mod directory;
pub mod edits;
pub mod keeping;
pub mod messages;
pub mod push;
pub mod reactions;
pub mod reads;
pub mod rooms;
pub mod search;
pub mod search_all;
pub mod search_keys;
pub mod send_batch;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{
    FileInfo, Message, MessageKind, Quote, Reaction, SystemEvent, QUOTE_PREVIEW_CHARS,
};
use tokio_postgres::types::Json;
use tokio_postgres::{GenericClient, Row};

use crate::error::NodeError;

pub use messages::{NewContent, Revocation, Sent};
pub use reads::ReadCursor;

/// What a node needs to know about a user to accept their token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAuth {
    /// The current passkey; a token carrying another one is revoked.
    pub passkey: String,
    /// Whether the user is retired.
    pub retired: bool,
}

/// Handle to the database.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// Group commit of common sends; started on the first send (it needs the runtime).
    batcher: std::sync::Arc<std::sync::OnceLock<send_batch::SendBatcher>>,
    /// Connections background work (the notification worker) may hold at once: a quarter of the pool, so a
    /// burst of jobs never leaves the sends and reads of connected users waiting for a connection.
    background: std::sync::Arc<tokio::sync::Semaphore>,
    /// Rooms with messages whose search keys are not written yet (see [`search_keys`]).
    search_due: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<i64>>>,
}

/// Most message bytes in one `sync` or `history` page, so a reply stays far below the 1 MiB frame limit.
pub const MAX_PAGE_BYTES: usize = 512 * 1024;
/// Longest last-message preview in the room list, in characters.
pub const PREVIEW_CHARS: i32 = 200;

/// The columns of a message `m` as its viewer sees it, in the order [`message_from`] reads them. The query must
/// join the quoted message as `q` (see [`QUOTE_JOIN`]). `body` is the expression for the body (to cut previews)
/// and `viewer` the query parameter holding the viewer's user id (whether they deleted the message for themselves,
/// which reactions are theirs); `None` where nothing is hidden and no reaction is marked `mine`.
pub(crate) fn message_columns(body: &str, viewer: Option<usize>) -> String {
    let hidden = viewer.map_or_else(|| "false".to_owned(), hidden_for);
    let viewer = viewer.map_or_else(|| "NULL::text".to_owned(), |n| format!("${n}"));
    format!(
        "m.room_id, m.seq, m.client_msg_id, m.sender_id, m.kind, {body},
         (extract(epoch FROM m.created_at) * 1000)::bigint, m.file, m.system, m.forwarded,
         m.revoked_at IS NOT NULL, {hidden},
         q.seq, q.sender_id, q.kind, left(q.body, {QUOTE_PREVIEW_CHARS}), q.file ->> 'name', q.revoked_at IS NOT NULL,
         (extract(epoch FROM m.edited_at) * 1000)::bigint, m.change_seq,
         (SELECT jsonb_agg(jsonb_build_array(x.emoji, x.n, x.mine) ORDER BY x.first, x.emoji)
            FROM (SELECT r.emoji, count(*) AS n, coalesce(bool_or(r.user_id = {viewer}), false) AS mine,
                         min(r.reacted_at) AS first
                    FROM message_reactions r WHERE r.room_id = m.room_id AND r.seq = m.seq
                   GROUP BY r.emoji) x)"
    )
}

/// How many columns [`message_columns`] selects: a query's own columns after them start here.
pub(crate) const MESSAGE_COLUMNS: usize = 21;

/// Joins the message quoted by `m` as `q`.
pub(crate) const QUOTE_JOIN: &str =
    "LEFT JOIN messages q ON q.room_id = m.room_id AND q.seq = m.reply_to";

/// The hidden-for-me test of message `m` for the user in parameter `$n`.
pub(crate) fn hidden_for(param: usize) -> String {
    format!(
        "EXISTS (SELECT 1 FROM message_hidden h WHERE h.user_id = ${param} AND h.room_id = m.room_id AND h.seq = m.seq)"
    )
}

/// The not-cleared test of message `m` for the user in parameter `$n`: the viewer has not cleared the chat past
/// it (`clear_room`; a non-member's cursor counts as 0).
pub(crate) fn not_cleared_for(param: usize) -> String {
    format!(
        "m.seq > coalesce((SELECT c.cleared_seq FROM room_members c WHERE c.room_id = m.room_id AND c.user_id = ${param}), 0)"
    )
}

/// Who a message mentions: parsed from its body (system messages name people in sentences, not mentions).
pub(crate) fn mentions_of(kind: MessageKind, body: &str) -> Vec<String> {
    if kind == MessageKind::System {
        return Vec::new();
    }
    sendjay_common::mentions::parse(body)
}

/// Reads a message from the columns of [`message_columns`] starting at `at`.
pub(crate) fn message_from(row: &Row, at: usize) -> Message {
    let hidden: bool = row.get(at + 11);
    let reactions: Option<Json<Vec<(String, i64, bool)>>> = row.get(at + 20);
    let file: Option<Json<FileInfo>> = row.get(at + 7);
    let system: Option<Json<SystemEvent>> = row.get(at + 8);
    let quote_seq: Option<i64> = row.get(at + 12);
    let reply_to = quote_seq.map(|seq| {
        let revoked: bool = row.get(at + 17);
        let body: String = row.get(at + 15);
        let file_name: Option<String> = row.get(at + 16);
        let preview = if revoked {
            String::new()
        } else if body.is_empty() {
            file_name.unwrap_or_default()
        } else {
            body
        };
        Quote {
            seq,
            sender_id: row.get(at + 13),
            kind: MessageKind::parse(row.get(at + 14)).unwrap_or(MessageKind::Text),
            preview,
            revoked,
        }
    });
    let kind = MessageKind::parse(row.get(at + 4)).unwrap_or(MessageKind::Text);
    let body: String = if hidden {
        String::new()
    } else {
        row.get(at + 5)
    };
    Message {
        room_id: row.get(at),
        seq: row.get(at + 1),
        client_msg_id: row.get(at + 2),
        sender_id: row.get(at + 3),
        kind,
        mentions: mentions_of(kind, &body),
        body,
        created_at_ms: row.get(at + 6),
        reply_to,
        file: if hidden { None } else { file.map(|f| f.0) },
        system: system.map(|s| s.0),
        forwarded: row.get(at + 9),
        revoked: row.get(at + 10),
        hidden,
        edited_at_ms: row.get(at + 18),
        change_seq: row.get(at + 19),
        reactions: reactions
            .map(|r| {
                r.0.into_iter()
                    .map(|(emoji, count, mine)| Reaction { emoji, count, mine })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// A page of messages from rows of [`message_columns`] fetched with `limit + 1`: at most `limit` of them, cut to
/// about `MAX_PAGE_BYTES`, and whether more are waiting.
pub(crate) fn page_of(rows: &[Row], limit: u32) -> (Vec<Message>, bool) {
    let mut has_more = rows.len() > limit as usize;
    let mut messages: Vec<Message> = rows
        .iter()
        .take(limit as usize)
        .map(|r| message_from(r, 0))
        .collect();
    has_more |= cut_to_page_bytes(&mut messages);
    (messages, has_more)
}

/// Keeps messages until their bodies pass `MAX_PAGE_BYTES` (always at least one); returns whether it cut.
pub(crate) fn cut_to_page_bytes(messages: &mut Vec<Message>) -> bool {
    let mut bytes = 0usize;
    for (i, m) in messages.iter().enumerate() {
        bytes += m.body.len() + 128;
        if bytes > MAX_PAGE_BYTES && i > 0 {
            messages.truncate(i);
            return true;
        }
    }
    false
}

pub(crate) fn not_member(room_id: i64) -> NodeError {
    NodeError::client(
        ErrorCode::NotMember,
        format!("you are not a member of room {room_id}"),
    )
}

pub(crate) fn room_not_found(room_id: i64) -> NodeError {
    NodeError::client(
        ErrorCode::NotFound,
        format!("room {room_id} does not exist"),
    )
}

pub(crate) fn not_found(message: impl Into<String>) -> NodeError {
    NodeError::client(ErrorCode::NotFound, message)
}

pub(crate) fn forbidden(message: impl Into<String>) -> NodeError {
    NodeError::client(ErrorCode::Forbidden, message)
}

pub(crate) fn conflict(message: impl Into<String>) -> NodeError {
    NodeError::client(ErrorCode::Conflict, message)
}

pub(crate) fn bad_args(message: impl Into<String>) -> NodeError {
    NodeError::client(ErrorCode::BadArgs, message)
}

/// Why a caller cannot act in a room: `not_found` when the room does not exist, `not_member` when they are not
/// in it, `forbidden` when their account is retired; `Ok` when none applies.
pub(crate) async fn require_member(
    client: &(impl GenericClient + Sync),
    user_id: &str,
    room_id: i64,
) -> Result<(), NodeError> {
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM rooms WHERE id = $1),
                    EXISTS (SELECT 1 FROM room_members WHERE room_id = $1 AND user_id = $2),
                    EXISTS (SELECT 1 FROM users WHERE id = $2 AND retired_at <= now())",
            &[&room_id, &user_id],
        )
        .await?;
    match (
        row.get::<_, bool>(0),
        row.get::<_, bool>(1),
        row.get::<_, bool>(2),
    ) {
        (false, _, _) => Err(room_not_found(room_id)),
        (true, false, _) => Err(not_member(room_id)),
        (true, true, true) => Err(forbidden("your account is retired")),
        (true, true, false) => Ok(()),
    }
}

/// The caller's role and whether they are retired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `user` or `admin`.
    pub role: String,
    /// Retired now.
    pub retired: bool,
}

impl Caller {
    /// Whether the caller has the admin role (and is not retired).
    pub fn is_admin(&self) -> bool {
        self.role == "admin" && !self.retired
    }
}

/// The caller's role; `forbidden` for a retired or unknown caller.
pub(crate) async fn active_caller(
    client: &(impl GenericClient + Sync),
    user_id: &str,
) -> Result<Caller, NodeError> {
    caller_from(client.query_opt(ACTIVE_CALLER, &[&user_id]).await?)
}

const ACTIVE_CALLER: &str =
    "SELECT role, retired_at IS NOT NULL AND retired_at <= now() FROM users WHERE id = $1";

fn caller_from(row: Option<tokio_postgres::Row>) -> Result<Caller, NodeError> {
    match row {
        Some(row) if !row.get::<_, bool>(1) => Ok(Caller {
            role: row.get(0),
            retired: false,
        }),
        _ => Err(forbidden("your account is retired")),
    }
}

impl Store {
    /// A pool of `size` connections to `url`.
    pub fn connect(url: &str, size: usize) -> Result<Store, NodeError> {
        let mut pg_config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| NodeError::Config(format!("SENDJAY_DATABASE_URL: {e}")))?;
        // No JIT for the node's sessions: its statements are short lookups whose cost estimates can still pass
        // jit_above_cost (a search over many rooms did), and compiling one took 219 ms for a 5 ms query. The
        // URL's own `options` stay in force; a later `-c jit=on` there wins.
        let options = match pg_config.get_options() {
            Some(own) => format!("-c jit=off {own}"),
            None => "-c jit=off".to_owned(),
        };
        pg_config.options(&options);
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
        Ok(Store {
            pool,
            batcher: Default::default(),
            background: std::sync::Arc::new(tokio::sync::Semaphore::new((size / 4).max(1))),
            search_due: Default::default(),
        })
    }

    /// The group-commit writers: a quarter of the pool, at least one.
    fn batcher(&self) -> &send_batch::SendBatcher {
        self.batcher.get_or_init(|| {
            let writers = (self.pool.status().max_size / 4).max(1);
            send_batch::SendBatcher::start(self.pool.clone(), writers)
        })
    }

    /// The underlying pool (for pool metrics and migrations).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A pooled connection for background work, held with one of the background permits (see `background`).
    async fn get_for_background(
        &self,
    ) -> Result<(tokio::sync::OwnedSemaphorePermit, deadpool_postgres::Object), NodeError> {
        let permit =
            self.background.clone().acquire_owned().await.map_err(|_| {
                NodeError::Internal("the store's background permits are closed".into())
            })?;
        Ok((permit, self.get().await?))
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
        // Prepared once per pooled connection: every connect runs it.
        let statement = client
            .prepare_cached(
                "SELECT passkey, retired_at IS NOT NULL AND retired_at <= now() FROM users WHERE id = $1",
            )
            .await?;
        let row = client.query_opt(&statement, &[&user_id]).await?;
        Ok(row.map(|r| UserAuth {
            passkey: r.get(0),
            retired: r.get(1),
        }))
    }

    /// [`Store::user_auth`] and the ids of the user's rooms, in one statement (what a new session needs).
    pub async fn session_user(
        &self,
        user_id: &str,
    ) -> Result<Option<(UserAuth, Vec<i64>)>, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("session_user");
        // Prepared once per pooled connection: every connect runs it.
        let statement = client
            .prepare_cached(
                "SELECT passkey, retired_at IS NOT NULL AND retired_at <= now(),
                        ARRAY(SELECT room_id FROM room_members WHERE user_id = $1)
                   FROM users WHERE id = $1",
            )
            .await?;
        let row = client.query_opt(&statement, &[&user_id]).await?;
        Ok(row.map(|r| {
            (
                UserAuth {
                    passkey: r.get(0),
                    retired: r.get(1),
                },
                r.get(2),
            )
        }))
    }

    /// The caller's role; `forbidden` when retired.
    pub async fn caller(&self, user_id: &str) -> Result<Caller, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("caller");
        // Prepared once per pooled connection: most requests run it first.
        let statement = client.prepare_cached(ACTIVE_CALLER).await?;
        caller_from(client.query_opt(&statement, &[&user_id]).await?)
    }

    /// Checks that `user_id` is an active member of `room_id` (`not_found`, `not_member`, `forbidden`).
    pub async fn check_member(&self, user_id: &str, room_id: i64) -> Result<(), NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("check_member");
        require_member(&**client, user_id, room_id).await
    }
}
