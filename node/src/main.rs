//! `sendjay-node`: run a socket node, or apply the database migrations and exit.
#![forbid(unsafe_code)]

use clap::Parser;
use sendjay_node::{NodeConfig, NodeError};

mod logging;

/// `sendjay-node migrate`: only what the migrator uses.
#[derive(Parser)]
#[command(
    name = "sendjay-node migrate",
    version,
    about = "Apply pending PostgreSQL migrations and exit (safe to run from several places at once)"
)]
struct MigrateArgs {
    /// PostgreSQL connection URL.
    #[arg(long, env = "SENDJAY_DATABASE_URL")]
    database_url: String,
    /// Log format: `text` or `json`.
    #[arg(long, env = "SENDJAY_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
}

/// What to run: `sendjay-node [serve] [node settings]` (the default), `sendjay-node migrate [its settings]`, or
/// `sendjay-node vapid-key` (prints a new Web Push key).
/// Each subcommand parses its own arguments, so `migrate` needs neither Redis nor the token key, and flags may
/// come after the subcommand's name.
enum Command {
    Serve(Box<NodeConfig>),
    Migrate(MigrateArgs),
    /// Print a new Web Push (VAPID) private key for `SENDJAY_VAPID_PRIVATE_KEY` and exit.
    VapidKey,
}

fn parse_command() -> Command {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match args.get(1).and_then(|a| a.to_str()) {
        Some("migrate") => {
            args.remove(1);
            Command::Migrate(MigrateArgs::parse_from(args))
        }
        Some("vapid-key") => Command::VapidKey,
        // `serve` may also stand after the settings, as older scripts wrote it.
        _ => {
            if let Some(at) = args.iter().skip(1).position(|a| a == "serve") {
                args.remove(at + 1);
            }
            Command::Serve(Box::new(NodeConfig::parse_from(args)))
        }
    }
}

/// Structured logs: levels from `SENDJAY_LOG`, text or JSON, spans per connection and request.
fn init_logging(format: &str) {
    logging::init(format);
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let command = parse_command();
    init_logging(match &command {
        Command::Serve(config) => &config.log_format,
        Command::Migrate(args) => &args.log_format,
        Command::VapidKey => "text",
    });
    match run(command).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sendjay-node: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), NodeError> {
    match command {
        Command::VapidKey => {
            println!("{}", sendjay_node::notify::web_push::new_vapid_key());
            Ok(())
        }
        Command::Migrate(args) => {
            let store = sendjay_node::store::Store::connect(&args.database_url, 1)?;
            let applied = store.migrate().await?;
            if applied.is_empty() {
                println!("schema is current; nothing to apply");
            } else {
                println!("applied: {}", applied.join(", "));
            }
            Ok(())
        }
        Command::Serve(config) => {
            let node = sendjay_node::start(*config).await?;
            println!(
                "sendjay-node {} listening on {} ({})",
                node.node_id(),
                node.addr,
                node.ws_url()
            );
            wait_for_signal().await;
            tracing::info!("draining");
            node.drain().await;
            Ok(())
        }
    }
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
