//! `sendjay-loadtest`: chat from a terminal, or run a load scenario against a cluster.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "sendjay-loadtest", version, about = "sendjay's load generator and terminal client")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Log in as a user and chat from the terminal.
    Chat(sendjay_loadtest::chat::ChatArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Chat(args) => sendjay_loadtest::chat::run(args).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sendjay-loadtest: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
