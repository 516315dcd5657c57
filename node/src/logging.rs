//! Log setup of the `sendjay-node` and `sendjay-router` binaries (both include this file).
//!
//! * Levels come from `SENDJAY_LOG` (else `RUST_LOG`, else `info`), in `tracing` filter syntax:
//!   `SENDJAY_LOG=debug`, `SENDJAY_LOG=info,sendjay_node::bus=debug`.
//! * `SENDJAY_LOG_FORMAT=json` (or `--log-format json`) writes one JSON object per line with the current span
//!   and the list of enclosing spans (`conn{conn,user,device}`, `request{id,op}` on nodes, `request{method,route}`
//!   on routers); `text` (the default) writes human-readable lines with the spans as a prefix.
//! * Logs go to stderr. They never carry tokens, passwords or message bodies: our own events do not log them,
//!   and the libraries that could (the WebSocket, Redis and PostgreSQL clients, hyper) are capped at `info`
//!   unless the filter names them explicitly — do that only on a test system.

use tracing_subscriber::EnvFilter;

/// Libraries whose debug/trace output may contain frame payloads, Redis command arguments or SQL parameters.
const CAPPED: [&str; 6] = [
    "tungstenite",
    "tokio_tungstenite",
    "fred",
    "tokio_postgres",
    "hyper",
    "deadpool_postgres",
];

/// The filter directives in force: the environment's, plus a cap for every library it does not name.
pub fn directives() -> String {
    let from_env = std::env::var("SENDJAY_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| "info".to_owned());
    let mut directives = from_env.clone();
    for lib in CAPPED {
        let named = from_env
            .split(',')
            .any(|d| d.trim().split(['=', '[']).next() == Some(lib));
        if !named {
            directives.push_str(&format!(",{lib}=info"));
        }
    }
    directives
}

/// Installs the global subscriber; `format` is `text` or `json` (validated by the configuration).
pub fn init(format: &str) {
    let directives = directives();
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|e| {
        eprintln!("ignoring the log filter `{directives}` ({e}); logging at info");
        EnvFilter::new("info")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .init();
    } else {
        builder.init();
    }
}
