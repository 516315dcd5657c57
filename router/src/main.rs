//! `sendjay-router`: serve login and assignment, or run administrative commands.
#![forbid(unsafe_code)]

mod import;

use clap::{Args, Parser, Subcommand};
use sendjay_router::{RouterConfig, RouterError};

#[path = "../../node/src/logging.rs"]
mod logging;

#[derive(Parser)]
#[command(
    name = "sendjay-router",
    version,
    about = "The sendjay router: login and node assignment"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP (the default when no command is given needs all settings from the environment).
    Serve(Box<RouterConfig>),
    /// Administrative commands against the database.
    #[command(subcommand)]
    Admin(Admin),
}

#[derive(Subcommand)]
enum Admin {
    /// Import or update the organisation tree and users from an HR export (JSON, or units and users CSVs).
    Import(Box<import::ImportArgs>),
    /// Apply migrations, then create the demo organisation, users (password `sendjay`) and rooms.
    SeedDemo(SeedArgs),
    /// Create (or with `--cleanup` remove) load-test users and rooms; prints a JSON description on stdout.
    SeedLoad(SeedLoadArgs),
    /// Write audit-log entries as JSON Lines on stdout, oldest first.
    AuditExport(AuditExportArgs),
    /// Delete audit-log entries older than the retention period (run it daily).
    AuditPurge(AuditPurgeArgs),
}

#[derive(Args)]
struct AuditExportArgs {
    /// PostgreSQL connection URL.
    #[arg(long, env = "SENDJAY_DATABASE_URL")]
    database_url: String,
    /// Only entries at or after this time (`2026-01-31` or `2026-01-31T08:00:00Z`).
    #[arg(long)]
    since: Option<String>,
    /// Only entries before this time.
    #[arg(long)]
    until: Option<String>,
    /// Only entries by or about this user id.
    #[arg(long)]
    user: Option<String>,
    /// Only this action (`login`, `login_failed`, `passkey_reset`, …; docs/operations.md).
    #[arg(long)]
    action: Option<String>,
}

#[derive(Args)]
struct AuditPurgeArgs {
    /// PostgreSQL connection URL.
    #[arg(long, env = "SENDJAY_DATABASE_URL")]
    database_url: String,
    /// Keep entries this many days.
    #[arg(long, env = "SENDJAY_AUDIT_RETENTION_DAYS", default_value_t = sendjay_router::audit_log::DEFAULT_RETENTION_DAYS)]
    retention_days: u32,
}

#[derive(Args)]
struct SeedLoadArgs {
    /// PostgreSQL connection URL.
    #[arg(long, env = "SENDJAY_DATABASE_URL")]
    database_url: String,
    /// Prefix of the user ids (`<prefix>-000001`…) and room names.
    #[arg(long, default_value = "lt")]
    prefix: String,
    /// Users to create.
    #[arg(long, default_value_t = 0)]
    users: u32,
    /// Members per group room.
    #[arg(long, default_value_t = 0)]
    group_size: u32,
    /// Group rooms (group `g` holds users `g*K+1 ..= g*K+K`).
    #[arg(long, default_value_t = 0)]
    groups: u32,
    /// Two-member rooms (pair `p` holds users `2p+1` and `2p+2`).
    #[arg(long, default_value_t = 0)]
    pairs: u32,
    /// Remove the prefix's messages, memberships, rooms and users instead.
    #[arg(long)]
    cleanup: bool,
}

#[derive(Args)]
struct SeedArgs {
    /// PostgreSQL connection URL.
    #[arg(long, env = "SENDJAY_DATABASE_URL")]
    database_url: String,
    /// Generated users (`user0001`…) besides alice, bob, carol and dave.
    #[arg(long, default_value_t = 0)]
    users: u32,
}

/// Structured logs: levels from `SENDJAY_LOG`, text or JSON, spans per connection and request.
fn init_logging(format: &str) {
    logging::init(format);
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sendjay-router: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), RouterError> {
    let command = match cli.command {
        Some(command) => command,
        None => Command::Serve(Box::new(RouterConfig::parse_from(["sendjay-router"]))),
    };
    match command {
        Command::Serve(config) => {
            init_logging(&config.log_format);
            let router = sendjay_router::start(*config).await?;
            println!("sendjay-router listening on {}", router.url());
            wait_for_signal().await;
            router.stop().await;
            Ok(())
        }
        Command::Admin(Admin::Import(args)) => import::run(*args).await,
        Command::Admin(Admin::SeedDemo(args)) => {
            let pool = sendjay_router::pg_pool(&args.database_url, 2)?;
            let mut client = pool.get().await?;
            sendjay_common::migrate::migrate(&mut client)
                .await
                .map_err(|e| RouterError::Internal(e.to_string()))?;
            drop(client);
            let seeded = sendjay_router::seed::seed_demo(&pool, args.users).await?;
            println!(
                "seeded {} new users and {} new rooms (demo users: alice, bob, carol, dave; password `{}`)",
                seeded.users,
                seeded.rooms,
                sendjay_router::seed::DEMO_PASSWORD
            );
            Ok(())
        }
        Command::Admin(Admin::SeedLoad(args)) => seed_load(args).await,
        Command::Admin(Admin::AuditExport(args)) => {
            let pool = sendjay_router::pg_pool(&args.database_url, 1)?;
            let filter = sendjay_router::audit_log::ExportFilter {
                since: args.since,
                until: args.until,
                user: args.user,
                action: args.action,
            };
            let mut out = std::io::BufWriter::new(std::io::stdout());
            let written = sendjay_router::audit_log::export(&pool, &filter, &mut out).await?;
            eprintln!("audit-export: {written} entries written");
            Ok(())
        }
        Command::Admin(Admin::AuditPurge(args)) => {
            let pool = sendjay_router::pg_pool(&args.database_url, 1)?;
            let removed = sendjay_router::audit_log::purge(&pool, args.retention_days).await?;
            eprintln!(
                "audit-purge: {removed} entries older than {} days removed",
                args.retention_days
            );
            Ok(())
        }
    }
}

async fn seed_load(args: SeedLoadArgs) -> Result<(), RouterError> {
    use sendjay_router::load_seed;
    let pool = sendjay_router::pg_pool(&args.database_url, 2)?;
    let json = if args.cleanup {
        serde_json::to_string(&load_seed::cleanup_load(&pool, &args.prefix).await?)
    } else {
        let mut client = pool.get().await?;
        sendjay_common::migrate::migrate(&mut client)
            .await
            .map_err(|e| RouterError::Internal(e.to_string()))?;
        drop(client);
        let spec = load_seed::LoadSeedSpec {
            prefix: args.prefix,
            users: args.users,
            group_size: args.group_size,
            groups: args.groups,
            pairs: args.pairs,
        };
        serde_json::to_string(&load_seed::seed_load(&pool, &spec).await?)
    };
    println!(
        "{}",
        json.map_err(|e| RouterError::Internal(e.to_string()))?
    );
    Ok(())
}

async fn wait_for_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
