//! `sendjay-loadtest`: run a load scenario against a cluster (the terminal chat is `sendjay-chat`).
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "sendjay-loadtest",
    version,
    about = "sendjay's load generator (the terminal chat client is sendjay-chat)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a load scenario file (loadtest/scenarios/*.toml) against a cluster.
    Run(sendjay_loadtest::run::RunArgs),
    /// Run every smoke scenario (small, seconds each) against a cluster; exit 0 only if all pass.
    Smoke(sendjay_loadtest::run::SmokeArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => sendjay_loadtest::run::main(args).await,
        Command::Smoke(args) => sendjay_loadtest::run::smoke(args).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sendjay-loadtest: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
