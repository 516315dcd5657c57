//! Applies the SQL files in `migrations/` in order, safely when several processes start at once.
//!
//! The whole run holds a PostgreSQL session advisory lock, so two nodes starting at the same moment take turns:
//! the second finds everything applied and does nothing. Each migration runs in its own transaction together
//! with its row in `schema_migrations`, so a crash never leaves half a migration recorded as done.

use thiserror::Error;
use tokio_postgres::Client;

/// The advisory lock key guarding migrations (ASCII "sendjay!" as a 64-bit integer).
pub const MIGRATION_LOCK_KEY: i64 = 0x7365_6e64_6a61_7921;

/// One embedded migration.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Applied in ascending order.
    pub version: i32,
    /// The file name.
    pub name: &'static str,
    /// The SQL.
    pub sql: &'static str,
}

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init.sql",
        sql: include_str!("../../migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "0002_rules.sql",
        sql: include_str!("../../migrations/0002_rules.sql"),
    },
    Migration {
        version: 3,
        name: "0003_search_key_plpgsql.sql",
        sql: include_str!("../../migrations/0003_search_key_plpgsql.sql"),
    },
    Migration {
        version: 4,
        name: "0004_search_index_pending_list.sql",
        sql: include_str!("../../migrations/0004_search_index_pending_list.sql"),
    },
    Migration {
        version: 5,
        name: "0005_files.sql",
        sql: include_str!("../../migrations/0005_files.sql"),
    },
    Migration {
        version: 6,
        name: "0006_identity.sql",
        sql: include_str!("../../migrations/0006_identity.sql"),
    },
    Migration {
        version: 7,
        name: "0007_notification_hours.sql",
        sql: include_str!("../../migrations/0007_notification_hours.sql"),
    },
    Migration {
        version: 8,
        name: "0008_push_devices.sql",
        sql: include_str!("../../migrations/0008_push_devices.sql"),
    },
    Migration {
        version: 9,
        name: "0009_keeping.sql",
        sql: include_str!("../../migrations/0009_keeping.sql"),
    },
    Migration {
        version: 10,
        name: "0010_room_options.sql",
        sql: include_str!("../../migrations/0010_room_options.sql"),
    },
    Migration {
        version: 11,
        name: "0011_edits.sql",
        sql: include_str!("../../migrations/0011_edits.sql"),
    },
    Migration {
        version: 12,
        name: "0012_reactions.sql",
        sql: include_str!("../../migrations/0012_reactions.sql"),
    },
    Migration {
        version: 13,
        name: "0013_vibration.sql",
        sql: include_str!("../../migrations/0013_vibration.sql"),
    },
    Migration {
        version: 14,
        name: "0014_send_path.sql",
        sql: include_str!("../../migrations/0014_send_path.sql"),
    },
    Migration {
        version: 15,
        name: "0015_search_all.sql",
        sql: include_str!("../../migrations/0015_search_all.sql"),
    },
    Migration {
        version: 16,
        name: "0016_channels.sql",
        sql: include_str!("../../migrations/0016_channels.sql"),
    },
];

/// A migration run failed.
#[derive(Debug, Error)]
pub enum MigrateError {
    /// PostgreSQL refused or failed.
    #[error("migration {name} failed in PostgreSQL: {source}; fix the database or the migration and run `sendjay-node migrate` again")]
    Postgres {
        /// Which step.
        name: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The database has a migration this binary does not know: it is older than the schema.
    #[error("database schema is at version {found}, newer than this binary's {known}; upgrade sendjay before starting it")]
    SchemaTooNew {
        /// The highest applied version.
        found: i32,
        /// The highest version embedded.
        known: i32,
    },
}

fn pg(name: &str) -> impl FnOnce(tokio_postgres::Error) -> MigrateError + '_ {
    move |source| MigrateError::Postgres {
        name: name.to_owned(),
        source,
    }
}

/// Applies every pending migration; returns the names applied by this call.
pub async fn migrate(client: &mut Client) -> Result<Vec<&'static str>, MigrateError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .map_err(pg("advisory lock"))?;
    let result = apply_pending(client).await;
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await;
    let applied = result?;
    unlock.map_err(pg("advisory unlock"))?;
    Ok(applied)
}

async fn apply_pending(client: &mut Client) -> Result<Vec<&'static str>, MigrateError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await
        .map_err(pg("schema_migrations"))?;
    let row = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(pg("schema_migrations"))?;
    let current: i32 = row.get(0);
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if current > known {
        return Err(MigrateError::SchemaTooNew {
            found: current,
            known,
        });
    }
    let mut applied = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let tx = client.transaction().await.map_err(pg(m.name))?;
        tx.batch_execute(m.sql).await.map_err(pg(m.name))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&m.version, &m.name],
        )
        .await
        .map_err(pg(m.name))?;
        tx.commit().await.map_err(pg(m.name))?;
        applied.push(m.name);
    }
    Ok(applied)
}

/// The highest applied version, or 0 on an empty database.
pub async fn current_version(client: &Client) -> Result<i32, MigrateError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await
        .map_err(pg("schema_migrations"))?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let row = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(pg("schema_migrations"))?;
    Ok(row.get(0))
}

/// Whether every embedded migration is applied.
pub async fn is_current(client: &Client) -> Result<bool, MigrateError> {
    Ok(current_version(client).await? == MIGRATIONS.last().map_or(0, |m| m.version))
}
