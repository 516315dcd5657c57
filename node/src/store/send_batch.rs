//! Group commit of sends: the common sends that arrive while the database is busy are written together, in one
//! statement and one commit.
//!
//! Why: on a small machine PostgreSQL's cost per send is mostly per statement and per commit (parse-free but
//! still executor start-up, lock and catalog lookups, a WAL flush), not per row. A few writer tasks each take
//! whatever sends are waiting (up to [`MAX_BATCH`]) and write them as one statement; when the node is quiet a
//! batch is one send and nothing waits for company. Each send is still acknowledged only after its commit.
//!
//! A batch only stores what the one-send statement would store: active members, new client ids, rooms that are
//! not a direct room missing a member. Everything else comes back as `None` and takes the general path, which
//! tells those cases apart. When a batch fails as a whole (a concurrent send of the same client id hitting the
//! unique key, a deadlock between batches, a lost connection), it is tried once more and then its sends are
//! written one by one with the one-send statement, so a batch never changes an outcome, only its cost.

use std::collections::HashSet;
use std::sync::Arc;

use sendjay_common::protocol::Message;
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio_postgres::types::Json;

use super::messages::{send_in_one_statement, NewContent};
use crate::error::NodeError;

/// Most sends written in one statement.
pub const MAX_BATCH: usize = 128;

/// Sends waiting for a writer, at most; past it a send waits for room in the queue.
const QUEUE: usize = 4096;

/// Longest a send waits for a writer (as long as the pool's wait for a connection): past it the database cannot
/// keep up, and the client gets `database_unavailable` at once (it retries with the same client id) instead
/// of a reply that comes too late to be useful.
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// One send waiting to be written.
struct Job {
    user_id: String,
    room_id: i64,
    client_msg_id: String,
    content: NewContent,
    queued: tokio::time::Instant,
    done: oneshot::Sender<Result<Option<Message>, NodeError>>,
}

/// Hands common sends to the writer tasks.
pub struct SendBatcher {
    queue: mpsc::Sender<Job>,
}

impl SendBatcher {
    /// Starts `writers` writer tasks on the current runtime, each using one pooled connection per batch.
    pub fn start(pool: deadpool_postgres::Pool, writers: usize) -> SendBatcher {
        let (queue, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..writers.max(1) {
            tokio::spawn(write_batches(pool.clone(), rx.clone()));
        }
        SendBatcher { queue }
    }

    /// Writes a common send (no reply, no file link) with the next batch. `None`: nothing was written; take
    /// the general path.
    pub async fn send(
        &self,
        user_id: &str,
        room_id: i64,
        client_msg_id: &str,
        content: &NewContent,
    ) -> Result<Option<Message>, NodeError> {
        let (done, result) = oneshot::channel();
        let job = Job {
            user_id: user_id.to_owned(),
            room_id,
            client_msg_id: client_msg_id.to_owned(),
            content: content.clone(),
            queued: tokio::time::Instant::now(),
            done,
        };
        match tokio::time::timeout(MAX_WAIT, self.queue.send(job)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(NodeError::Internal("the send writers have stopped".into())),
            Err(_) => return Err(overloaded()),
        }
        result
            .await
            .map_err(|_| NodeError::Internal("a send writer stopped mid-batch".into()))?
    }
}

/// One writer: takes the first waiting send, then whatever else is already waiting, and writes them.
async fn write_batches(pool: deadpool_postgres::Pool, rx: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let mut batch = Vec::new();
        {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
        }
        write(&pool, batch).await;
    }
}

fn overloaded() -> NodeError {
    NodeError::PoolForBatch(format!(
        "the send waited more than {} s for a database writer (the database cannot keep up)",
        MAX_WAIT.as_secs()
    ))
}

/// Writes one batch and answers every send in it.
async fn write(pool: &deadpool_postgres::Pool, batch: Vec<Job>) {
    let (batch, expired): (Vec<Job>, Vec<Job>) = batch
        .into_iter()
        .partition(|j| j.queued.elapsed() < MAX_WAIT);
    for job in expired {
        let _ = job.done.send(Err(overloaded()));
    }
    if batch.is_empty() {
        return;
    }
    let client = match pool.get().await {
        Ok(client) => client,
        Err(e) => {
            let e = e.to_string();
            for job in batch {
                let _ = job.done.send(Err(NodeError::PoolForBatch(e.clone())));
            }
            return;
        }
    };
    // The same client id twice in one batch would fail the whole statement on the unique key: the later copy
    // waits for the batch and then goes through the one-send statement (it finds the first and returns None).
    let mut seen = HashSet::new();
    let (together, alone): (Vec<Job>, Vec<Job>) = batch
        .into_iter()
        .partition(|j| seen.insert((j.room_id, j.user_id.clone(), j.client_msg_id.clone())));
    // A batch that fails as a whole is tried once more: a concurrent resend of one of its client ids has
    // committed by then (the second try finds it and leaves it to the general path), and a deadlock victim
    // usually gets through. Only then are its sends written one by one.
    let mut together = together;
    let mut attempts = 0;
    while together.len() > 1 && attempts < 2 {
        attempts += 1;
        match write_together(&client, &together).await {
            Ok(results) => {
                metrics::histogram!(crate::metrics::DB_SEND_BATCH_SIZE)
                    .record(together.len() as f64);
                for (job, message) in together.drain(..).zip(results) {
                    let _ = job.done.send(Ok(message));
                }
            }
            Err(e) => {
                metrics::counter!(crate::metrics::DB_SEND_BATCH_RETRIED).increment(1);
                tracing::debug!(error = %e, sends = together.len(), attempt = attempts, "a send batch failed");
            }
        }
    }
    for job in together.into_iter().chain(alone) {
        metrics::histogram!(crate::metrics::DB_SEND_BATCH_SIZE).record(1.0);
        let result = send_in_one_statement(
            &client,
            &job.user_id,
            job.room_id,
            &job.client_msg_id,
            &job.content,
        )
        .await;
        let _ = job.done.send(result);
    }
}

/// The batch statement: the one-send statement over arrays. Rooms are locked in id order (no deadlock between
/// batches over the same rooms); each room's seq moves by its number of sends, numbered in arrival order.
const SEND_BATCH: &str = "
WITH input AS (
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::boolean[])
        WITH ORDINALITY AS i(room_id, sender_id, client_msg_id, kind, body, file, forwarded, ord)
), eligible AS (
    SELECT i.* FROM input i
      JOIN rooms r ON r.id = i.room_id AND NOT (r.kind = 'direct' AND r.member_count < 2)
      JOIN room_members m ON m.room_id = i.room_id AND m.user_id = i.sender_id
     WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = i.sender_id AND u.retired_at <= now())
       AND NOT EXISTS (SELECT 1 FROM messages x
                        WHERE x.room_id = i.room_id AND x.sender_id = i.sender_id
                          AND x.client_msg_id = i.client_msg_id)
), counts AS (
    SELECT room_id, count(*)::bigint AS n FROM eligible GROUP BY room_id
), locked AS (
    SELECT r.id FROM rooms r JOIN counts c ON c.room_id = r.id ORDER BY r.id FOR UPDATE OF r
), bumped AS (
    UPDATE rooms r SET last_seq = r.last_seq + c.n, last_activity = now()
      FROM counts c
     WHERE r.id = c.room_id AND r.id IN (SELECT id FROM locked)
    RETURNING r.id, r.last_seq AS new_last, c.n
), numbered AS (
    SELECT e.*, b.new_last - b.n + row_number() OVER (PARTITION BY e.room_id ORDER BY e.ord) AS seq
      FROM eligible e JOIN bumped b ON b.id = e.room_id
), stored AS (
    INSERT INTO messages (room_id, seq, sender_id, client_msg_id, kind, body, file, forwarded)
    SELECT room_id, seq, sender_id, client_msg_id, kind, body, file, forwarded FROM numbered
    RETURNING room_id, seq, (extract(epoch FROM created_at) * 1000)::bigint AS created_ms
), read AS (
    UPDATE room_members m SET last_read_seq = GREATEST(m.last_read_seq, s.max_seq)
      FROM (SELECT n.room_id, n.sender_id, max(n.seq) AS max_seq
              FROM numbered n JOIN stored s ON s.room_id = n.room_id AND s.seq = n.seq
             GROUP BY n.room_id, n.sender_id) s
     WHERE m.room_id = s.room_id AND m.user_id = s.sender_id
)
SELECT n.ord, s.seq, s.created_ms FROM stored s JOIN numbered n ON n.room_id = s.room_id AND n.seq = s.seq";

/// Writes several sends in one statement; per send, the stored message or `None`.
async fn write_together(
    client: &deadpool_postgres::Object,
    jobs: &[Job],
) -> Result<Vec<Option<Message>>, tokio_postgres::Error> {
    let statement = client.prepare_cached(SEND_BATCH).await?;
    let rooms: Vec<i64> = jobs.iter().map(|j| j.room_id).collect();
    let senders: Vec<&str> = jobs.iter().map(|j| j.user_id.as_str()).collect();
    let ids: Vec<&str> = jobs.iter().map(|j| j.client_msg_id.as_str()).collect();
    let kinds: Vec<&str> = jobs.iter().map(|j| j.content.kind.as_str()).collect();
    let bodies: Vec<&str> = jobs.iter().map(|j| j.content.body.as_str()).collect();
    let files: Vec<Option<Json<_>>> = jobs
        .iter()
        .map(|j| j.content.file.as_ref().map(Json))
        .collect();
    let forwarded: Vec<bool> = jobs.iter().map(|j| j.content.forwarded).collect();
    let rows = client
        .query(
            &statement,
            &[&rooms, &senders, &ids, &kinds, &bodies, &files, &forwarded],
        )
        .await?;
    let mut results: Vec<Option<Message>> = vec![None; jobs.len()];
    for row in rows {
        let ord: i64 = row.get(0);
        let Some(job) = usize::try_from(ord - 1).ok().and_then(|i| jobs.get(i)) else {
            continue;
        };
        results[(ord - 1) as usize] = Some(Message {
            room_id: job.room_id,
            seq: row.get(1),
            client_msg_id: job.client_msg_id.clone(),
            sender_id: job.user_id.clone(),
            kind: job.content.kind,
            body: job.content.body.clone(),
            created_at_ms: row.get(2),
            reply_to: None,
            file: job.content.file.clone(),
            system: None,
            forwarded: job.content.forwarded,
            revoked: false,
            hidden: false,
            mentions: super::mentions_of(job.content.kind, &job.content.body),
            edited_at_ms: None,
            change_seq: 0,
            reactions: Vec::new(),
        });
    }
    Ok(results)
}
