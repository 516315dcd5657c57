//! `sendjay-node`: run a socket node, or apply the database migrations and exit.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use sendjay_node::{NodeConfig, NodeError};

mod logging;

#[derive(Parser)]
#[command(name = "sendjay-node", version, about = "A sendjay socket node")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: NodeConfig,
}

#[derive(Subcommand)]
enum Command {
    /// Serve WebSockets (the default).
    Serve,
    /// Apply pending PostgreSQL migrations and exit (safe to run from several places at once).
    Migrate,
}

/// Structured logs: levels from `SENDJAY_LOG`, text or JSON, spans per connection and request.
fn init_logging(format: &str) {
    logging::init(format);
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.config.log_format);
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sendjay-node: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), NodeError> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => {
            cli.config.validate()?;
            let store = sendjay_node::store::Store::connect(&cli.config.database_url, 1)?;
            let applied = store.migrate().await?;
            if applied.is_empty() {
                println!("schema is current; nothing to apply");
            } else {
                println!("applied: {}", applied.join(", "));
            }
            Ok(())
        }
        Command::Serve => {
            let node = sendjay_node::start(cli.config).await?;
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
