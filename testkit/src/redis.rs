//! Private `redis-server` processes, one per [`RedisServer`], that tests can stop and restart.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{find_on_path, free_port, is_executable, log_tail, spawn_watchdog};

/// How long to wait for the server to answer PING.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How many ports to try when the server fails to start (another process may grab a port we picked).
const START_ATTEMPTS: usize = 3;
/// Holds the PID of the running server, for the watchdog; absent while the server is stopped.
const PID_FILE: &str = "server.pid";

/// The watchdog's cleanup: `$2` the server's directory; kills the server recorded in it, removes it.
const CLEANUP: &str = r#"
if [ -f "$2/server.pid" ]; then
    kill -9 "$(cat "$2/server.pid")"
fi
rm -rf "$2"
"#;

/// A private redis-server on a free port, stopped (killed) on Drop.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    bin: PathBuf,
    server: Option<Child>,
    extra_args: Vec<String>,
    watchdog: Child,
    // Last, so it is removed after the processes using it are gone.
    dir: TempDir,
}

impl RedisServer {
    /// Starts a redis-server without persistence on a free port of 127.0.0.1 and waits until it answers PING.
    ///
    /// Panics, saying what to do, if `redis-server` is missing or does not come up.
    pub async fn start() -> RedisServer {
        Self::start_with_args(&[]).await
    }

    /// Like [`RedisServer::start`], with extra `redis-server` arguments (for example cluster mode).
    pub async fn start_with_args(extra_args: &[&str]) -> RedisServer {
        let bin = find_redis_server();
        let dir = tempfile::Builder::new()
            .prefix("sendjay-redis-")
            .tempdir()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot create a temporary directory in {}: {e}; free some space or point TMPDIR at a writable directory",
                    std::env::temp_dir().display()
                )
            });
        let watchdog = spawn_watchdog(CLEANUP, &[dir.path().as_os_str()]);
        let mut server = RedisServer {
            port: 0,
            bin,
            server: None,
            extra_args: extra_args.iter().map(|a| a.to_string()).collect(),
            watchdog,
            dir,
        };
        let mut failures = String::new();
        for attempt in 1..=START_ATTEMPTS {
            server.port = free_port();
            match server.launch().await {
                Ok(()) => return server,
                Err(e) => {
                    failures.push_str(&format!("attempt {attempt} on port {}: {e}\n", server.port))
                }
            }
        }
        panic!("the private redis-server did not start after {START_ATTEMPTS} attempts:\n{failures}check that ports are free");
    }

    /// The TCP port the server listens on (on 127.0.0.1); it stays the same across `stop` and `restart`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The connection URL, `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The temporary directory holding the server's working directory and `redis.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stop the server (SIGKILL-like) to simulate Redis going away; `restart()` starts it again on the SAME port.
    pub async fn stop(&mut self) {
        self.kill();
    }

    /// Starts the server again on the same port (stopping it first if it runs) and waits until it answers PING.
    ///
    /// The data is gone: the server keeps nothing on disk.
    pub async fn restart(&mut self) {
        self.kill();
        // The port was ours a moment ago; give a process that grabbed it meanwhile a few chances to let go.
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match self.launch().await {
                Ok(()) => return,
                Err(e) if Instant::now() >= deadline => panic!(
                    "cannot restart the private redis-server on port {}: {e}; find what took the port (ss -ltnp)",
                    self.port
                ),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// Spawns redis-server on `self.port` and waits until it answers PING; on failure nothing is left running.
    async fn launch(&mut self) -> Result<(), String> {
        let dir = self.dir.path();
        let log = dir.join("redis.log");
        let stderr_path = dir.join("redis.stderr");
        let stderr = File::create(&stderr_path).map_err(|e| {
            format!(
                "cannot create {}: {e}; check the free space",
                stderr_path.display()
            )
        })?;
        let child = Command::new(&self.bin)
            .arg("--port")
            .arg(self.port.to_string())
            .args([
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ])
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(&log)
            .args(&self.extra_args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot run {}: {e}; check the Redis installation",
                    self.bin.display()
                )
            })?;
        let pid_file = dir.join(PID_FILE);
        let pid_written = std::fs::write(&pid_file, child.id().to_string());
        self.server = Some(child);
        if let Err(e) = pid_written {
            self.kill();
            return Err(format!(
                "cannot write {}: {e}; check the free space",
                pid_file.display()
            ));
        }

        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(Ok(Some(status))) = self.server.as_mut().map(Child::try_wait) {
                self.kill();
                return Err(format!(
                    "redis-server exited with {status}: {}{}",
                    log_tail(&stderr_path, 1000),
                    log_tail(&log, 1000)
                ));
            }
            if ping(self.port).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(format!(
                    "redis-server did not answer PING within {READY_TIMEOUT:?}; see its log {}:\n{}",
                    log.display(),
                    log_tail(&log, 1000)
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills and reaps the server, if it runs.
    fn kill(&mut self) {
        if let Some(mut child) = self.server.take() {
            // The PID file goes first: the watchdog must never kill a recycled PID.
            let _ = std::fs::remove_file(self.dir.path().join(PID_FILE));
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

/// Whether a Redis on `port` answers `PING` with `+PONG` within a second.
async fn ping(port: u16) -> bool {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        stream.write_all(b"PING\r\n").await.ok()?;
        let mut reply = [0u8; 64];
        let mut len = 0;
        while len < 5 {
            let n = stream.read(&mut reply[len..]).await.ok()?;
            if n == 0 {
                break;
            }
            len += n;
        }
        Some(reply[..len].starts_with(b"+PONG"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), exchange).await,
        Ok(Some(true))
    )
}

/// The `redis-server` binary: from `PATH`, else the usual install locations.
fn find_redis_server() -> PathBuf {
    find_on_path("redis-server")
        .or_else(|| {
            ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
                .into_iter()
                .map(PathBuf::from)
                .find(|p| is_executable(p))
        })
        .unwrap_or_else(|| {
            panic!(
                "redis-server not found on PATH, in /usr/bin or in /usr/local/bin: \
                 install Redis (apt-get install redis-server) or put redis-server on PATH"
            )
        })
}
