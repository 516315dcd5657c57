//! The terminal chat client (to be written).

use clap::Args;

/// Options of `sendjay-loadtest chat`.
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The router's base URL.
    #[arg(long, default_value = "http://127.0.0.1:7300")]
    pub router: String,
}

/// Runs the chat client.
pub async fn run(_args: ChatArgs) -> Result<std::process::ExitCode, Box<dyn std::error::Error>> {
    Err("not written yet".into())
}
