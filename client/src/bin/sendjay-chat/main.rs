//! `sendjay-chat`: log in as a user and chat from the terminal (or from a script, with flags or a pipe).
#![forbid(unsafe_code)]

mod chat;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "sendjay-chat",
    version,
    about = "sendjay's terminal chat client: log in through the router and chat"
)]
struct Cli {
    #[command(flatten)]
    chat: chat::ChatArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match chat::run(cli.chat).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sendjay-chat: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
