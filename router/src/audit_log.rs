//! Reading and pruning the audit trail: `sendjay-router admin audit-export` writes entries as JSON Lines (one
//! object per line, oldest first) for a SIEM or an auditor, and `admin audit-purge` removes entries older than the
//! retention period — the only deletion the table's append-only trigger allows (docs/operations.md, "Audit log").

use std::io::Write;

use deadpool_postgres::Pool;
use futures_util::TryStreamExt;
use serde::Serialize;

use crate::error::RouterError;

/// The default retention: entries older than this many days are purged.
pub const DEFAULT_RETENTION_DAYS: u32 = 400;

/// Which entries to export.
#[derive(Debug, Clone, Default)]
pub struct ExportFilter {
    /// Only entries at or after this RFC 3339 time (or date, `2026-01-31`).
    pub since: Option<String>,
    /// Only entries before this RFC 3339 time (or date).
    pub until: Option<String>,
    /// Only entries acted by or done to this user (actor or subject).
    pub user: Option<String>,
    /// Only entries with this action code.
    pub action: Option<String>,
}

/// One exported line.
#[derive(Debug, Serialize)]
pub struct ExportedEntry {
    /// Position in the log.
    pub id: i64,
    /// When, RFC 3339 UTC with milliseconds.
    pub at: String,
    /// Who.
    pub actor: Option<String>,
    /// What.
    pub action: String,
    /// To whom or what.
    pub subject: Option<String>,
    /// From where.
    pub source: Option<String>,
    /// Further facts.
    pub detail: serde_json::Value,
}

/// Streams the matching entries to `out` as JSON Lines, oldest first, and returns how many were written. The rows
/// are read as a stream, so an export of millions of entries needs no more memory than one.
pub async fn export(
    pool: &Pool,
    filter: &ExportFilter,
    out: &mut impl Write,
) -> Result<u64, RouterError> {
    let client = pool.get().await?;
    let params: [Option<&str>; 4] = [
        filter.since.as_deref(),
        filter.until.as_deref(),
        filter.user.as_deref(),
        filter.action.as_deref(),
    ];
    let rows = client
        .query_raw(
            "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                    actor, action, subject, source, detail
               FROM audit_log
              WHERE ($1::text IS NULL OR at >= $1::timestamptz)
                AND ($2::text IS NULL OR at < $2::timestamptz)
                AND ($3::text IS NULL OR actor = $3 OR subject = $3)
                AND ($4::text IS NULL OR action = $4)
              ORDER BY id",
            params,
        )
        .await
        .map_err(|e| match e.as_db_error() {
            Some(db) if db.code() == &tokio_postgres::error::SqlState::INVALID_DATETIME_FORMAT => {
                RouterError::Config(format!(
                    "--since/--until: {}; write a date like 2026-01-31 or 2026-01-31T08:00:00Z",
                    db.message()
                ))
            }
            _ => RouterError::Postgres(e),
        })?;
    let mut rows = std::pin::pin!(rows);
    let mut written = 0u64;
    while let Some(row) = rows.try_next().await? {
        let entry = ExportedEntry {
            id: row.get(0),
            at: row.get(1),
            actor: row.get(2),
            action: row.get(3),
            subject: row.get(4),
            source: row.get(5),
            detail: row.get(6),
        };
        let line =
            serde_json::to_string(&entry).map_err(|e| RouterError::Internal(e.to_string()))?;
        writeln!(out, "{line}").map_err(|e| {
            RouterError::Internal(format!(
                "could not write the export ({e}); check the output file or pipe"
            ))
        })?;
        written += 1;
        if written % 100_000 == 0 {
            eprintln!("audit-export: {written} entries written…");
        }
    }
    out.flush()
        .map_err(|e| RouterError::Internal(format!("could not write the export: {e}")))?;
    Ok(written)
}

/// Deletes entries older than `retention_days` and returns how many were removed.
pub async fn purge(pool: &Pool, retention_days: u32) -> Result<u64, RouterError> {
    if retention_days == 0 {
        return Err(RouterError::Config(
            "--retention-days must be at least 1".into(),
        ));
    }
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SET LOCAL sendjay.audit_purge = 'on'", &[])
        .await?;
    let removed = tx
        .execute(
            "DELETE FROM audit_log WHERE at < now() - make_interval(days => $1::int)",
            &[&(retention_days as i32)],
        )
        .await?;
    tx.commit().await?;
    Ok(removed)
}
