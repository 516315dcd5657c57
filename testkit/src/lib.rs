//! Private PostgreSQL and Redis servers for sendjay's tests.
//!
//! Tests must never depend on services someone started by hand (or on the machine's own PostgreSQL on 5432
//! and Redis on 6379): those hold state from earlier runs, differ between machines and can be shared by two
//! test runs at once. So every test process starts its own servers from the installed binaries, each with
//! its own data directory in a temporary directory and its own free port on 127.0.0.1.
//!
//! * [`postgres()`] starts one PostgreSQL per test process on first use; [`PgServer::fresh_database`] hands
//!   each test its own database, cloned from a template that already has the sendjay schema, so tests are
//!   isolated without paying for a server or a migration run each.
//! * [`S3Server::start`] starts a moto S3 server per call (file storage tests), killed on drop.
//! * [`OidcProvider::start`] starts a real OpenID provider (Node.js `oidc-provider`) per call, killed on drop.
//! * [`PushService::start`] starts a Web Push service and FCM endpoint (Node.js, decrypting with `http_ece`)
//!   per call, killed on drop.
//! * [`RedisServer::start`] starts one `redis-server` per call, killed on drop; tests can stop and restart it
//!   to simulate Redis going away.
//!
//! A `static` is never dropped, and a test process may also die by panic or signal, so cleanup does not rely
//! on destructors: every server gets a small watchdog shell process that polls the test process's PID and,
//! once it is gone, stops the server and removes its directory.
#![forbid(unsafe_code)]

pub mod oidc;
mod postgres;
pub mod push;
mod redis;
mod redis_cluster;
pub mod s3;

pub use oidc::OidcProvider;
pub use postgres::{postgres, PgServer};
pub use push::{
    FcmAttempt, FcmMessage, PushAttempt, PushService, ReceivedPush, ScriptedResponse,
    WebPushSubscription,
};
pub use redis::RedisServer;
pub use redis_cluster::RedisCluster;
pub use s3::S3Server;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Asks the kernel for a currently free TCP port on 127.0.0.1 (another process may take it before we bind it).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| {
        panic!("cannot bind a TCP socket on 127.0.0.1 to find a free port: {e}; check that the loopback interface is up")
    });
    listener
        .local_addr()
        .unwrap_or_else(|e| {
            panic!("cannot read the local address of a bound socket: {e}; check the network stack")
        })
        .port()
}

/// The effective user id of this process, read from `/proc/self/status` (falling back to `id -u`).
fn euid() -> u32 {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let effective = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            .and_then(|id| id.parse().ok());
        if let Some(id) = effective {
            return id;
        }
    }
    let out = Command::new("id").arg("-u").output().unwrap_or_else(|e| {
        panic!("cannot run `id -u` to find the effective user id: {e}; install coreutils")
    });
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|e| {
            panic!("`id -u` printed no user id ({e}); install coreutils or mount /proc")
        })
}

/// Looks `name` up in the directories of `PATH`.
fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// Whether `path` is a file with an execute bit set.
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Spawns a detached watchdog: a `sh` loop that waits until this test process has exited, then runs `cleanup`.
///
/// `args` become `$2`, `$3`, … of the cleanup script (`$1` is this process's PID). The watchdog gets its own
/// process group, so a Ctrl-C aimed at the test run does not kill it before it has cleaned up, and no stdio,
/// so it never holds the test's output pipes open.
fn spawn_watchdog(cleanup: &str, args: &[&std::ffi::OsStr]) -> Child {
    use std::os::unix::process::CommandExt;
    let script = format!("while kill -0 \"$1\" 2>/dev/null; do sleep 0.5; done\n{cleanup}\n");
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sendjay-testkit-watchdog")
        .arg(std::process::id().to_string())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn the cleanup watchdog `sh`: {e}; make sure /bin/sh exists and is on PATH"))
}

/// The last `max` bytes of a log file, for error messages.
fn log_tail(path: &Path, max: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let start = bytes.len().saturating_sub(max);
            String::from_utf8_lossy(&bytes[start..]).into_owned()
        }
        Err(e) => format!("(no log at {}: {e})", path.display()),
    }
}
