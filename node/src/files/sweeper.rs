//! Deletes the bytes of expired files, and uploads never sent within the grace period (including those a
//! crash cut off). Every node runs a sweeper; each batch locks its rows with `FOR UPDATE SKIP LOCKED`, so two
//! nodes never sweep the same file and a node that dies mid-batch only releases its rows to the others.
//!
//! An expired file keeps its row (state `expired`) so downloads can answer `410 file_expired`, and the
//! messages carrying it get `expired: true` in their FileInfo; an unsent upload is forgotten entirely.

use std::sync::Arc;
use std::time::Duration;

use crate::error::NodeError;
use crate::metrics as m;
use crate::NodeContext;

/// Rows per batch (and per transaction).
const BATCH: i64 = 100;

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Sent files whose retention ended.
    pub expired: u64,
    /// Uploads never sent (or cut off).
    pub unsent: u64,
    /// Bytes deleted from storage.
    pub bytes: u64,
}

/// Sweeps every `SENDJAY_FILES_SWEEP_INTERVAL_SECS` until aborted.
pub async fn run(ctx: Arc<NodeContext>) {
    let mut tick = tokio::time::interval(Duration::from_secs(ctx.config.files_sweep_interval_secs));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match sweep_once(&ctx).await {
            Ok(report) if report != SweepReport::default() => {
                tracing::info!(?report, "swept files")
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, fault = e.fault().as_str(), "file sweep failed; it runs again at the next interval")
            }
        }
    }
}

/// One pass over both queues, batch after batch, until they are empty.
pub async fn sweep_once(ctx: &NodeContext) -> Result<SweepReport, NodeError> {
    let mut report = SweepReport::default();
    loop {
        let (files, bytes) = sweep_batch(ctx, Queue::Expired).await?;
        report.expired += files;
        report.bytes += bytes;
        if files < BATCH as u64 {
            break;
        }
    }
    loop {
        let (files, bytes) = sweep_batch(ctx, Queue::Unsent).await?;
        report.unsent += files;
        report.bytes += bytes;
        if files < BATCH as u64 {
            break;
        }
    }
    Ok(report)
}

#[derive(Clone, Copy)]
enum Queue {
    Expired,
    Unsent,
}

async fn sweep_batch(ctx: &NodeContext, queue: Queue) -> Result<(u64, u64), NodeError> {
    let mut client = ctx.store.pool().get().await?;
    let tx = client.transaction().await?;
    let grace = ctx.config.files_unsent_grace_secs as f64;
    let rows = match queue {
        Queue::Expired => {
            tx.query(
                "SELECT id, size FROM files WHERE state = 'sent' AND expires_at <= now()
                  ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED",
                &[&BATCH],
            )
            .await?
        }
        Queue::Unsent => {
            tx.query(
                "SELECT id, size FROM files WHERE state IN ('uploading', 'uploaded')
                    AND (created_at <= now() - make_interval(secs => $2) OR expires_at <= now())
                  ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED",
                &[&BATCH, &grace],
            )
            .await?
        }
    };
    if rows.is_empty() {
        return Ok((0, 0));
    }
    let mut ids = Vec::with_capacity(rows.len());
    let mut bytes = 0u64;
    for row in &rows {
        let id: String = row.get(0);
        let size: i64 = row.get(1);
        // A storage failure rolls the batch back: its rows are tried again next time.
        ctx.files.blobs.delete(&id).await?;
        bytes += size.max(0) as u64;
        ids.push(id);
    }
    match queue {
        Queue::Expired => {
            tx.execute(
                "UPDATE files SET state = 'expired', swept_at = now() WHERE id = ANY($1)",
                &[&ids],
            )
            .await?;
            tx.execute(
                "UPDATE messages SET file = jsonb_set(file, '{expired}', 'true')
                  WHERE room_id IN (SELECT room_id FROM file_rooms WHERE file_id = ANY($1))
                    AND kind IN ('image', 'file', 'file_link') AND file ->> 'file_id' = ANY($1)",
                &[&ids],
            )
            .await?;
        }
        Queue::Unsent => {
            tx.execute("DELETE FROM files WHERE id = ANY($1)", &[&ids])
                .await?;
        }
    }
    tx.commit().await?;
    let reason = match queue {
        Queue::Expired => "expired",
        Queue::Unsent => "unsent",
    };
    metrics::counter!(m::FILE_SWEPT_BYTES, "reason" => reason).increment(bytes);
    Ok((ids.len() as u64, bytes))
}
