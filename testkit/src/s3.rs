//! A private S3-compatible server for tests: moto's server mode (`moto_server`, Python package `moto[server]`),
//! one process per [`S3Server`], on a free port of 127.0.0.1, killed on drop.
//!
//! Why moto: it is a real S3 HTTP server (SigV4 requests, multipart uploads, ranged GETs) that installs from
//! PyPI in seconds, keeps everything in memory and starts in about a second; the Rust `s3s-fs` would add a
//! large dependency tree to every test build. `scripts/test.sh` installs it.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{find_on_path, free_port, log_tail, spawn_watchdog};

/// How long to wait for moto to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Holds the PID of the running server, for the watchdog.
const PID_FILE: &str = "server.pid";

/// The watchdog's cleanup: `$2` the server's directory.
const CLEANUP: &str = r#"
if [ -f "$2/server.pid" ]; then
    kill -9 "$(cat "$2/server.pid")"
fi
rm -rf "$2"
"#;

/// The access key moto accepts (any works); tests set it as `AWS_ACCESS_KEY_ID`.
pub const ACCESS_KEY: &str = "testing";
/// The secret key moto accepts.
pub const SECRET_KEY: &str = "testing";

/// A private moto S3 server with one bucket.
#[derive(Debug)]
pub struct S3Server {
    port: u16,
    bin: PathBuf,
    bucket: String,
    server: Option<Child>,
    watchdog: Child,
    dir: TempDir,
}

impl S3Server {
    /// Starts moto on a free port and creates `bucket`. Panics, saying what to install, if moto is missing.
    pub async fn start(bucket: &str) -> S3Server {
        let bin = find_on_path("moto_server").unwrap_or_else(|| {
            panic!(
                "moto_server not found on PATH: install it with `pip install 'moto[server]'` \
                 (scripts/test.sh does) and make sure pip's bin directory is on PATH"
            )
        });
        let dir = tempfile::Builder::new()
            .prefix("sendjay-s3-")
            .tempdir()
            .unwrap_or_else(|e| {
                panic!("cannot create a temporary directory: {e}; free some space")
            });
        let watchdog = spawn_watchdog(CLEANUP, &[dir.path().as_os_str()]);
        let mut server = S3Server {
            port: free_port(),
            bin,
            bucket: bucket.to_owned(),
            server: None,
            watchdog,
            dir,
        };
        if let Err(e) = server.launch().await {
            panic!("the private moto S3 server did not start: {e}");
        }
        server.create_bucket().await;
        server
    }

    /// The endpoint URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The bucket created at start.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Kills the server to simulate storage going away (its data is lost).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = std::fs::remove_file(self.dir.path().join(PID_FILE));
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, with the bucket re-created (empty).
    pub async fn restart(&mut self) {
        self.stop();
        if let Err(e) = self.launch().await {
            panic!("cannot restart moto on port {}: {e}", self.port);
        }
        self.create_bucket().await;
    }

    async fn launch(&mut self) -> Result<(), String> {
        let stderr_path = self.dir.path().join("moto.log");
        let stderr = File::create(&stderr_path).map_err(|e| format!("cannot create a log: {e}"))?;
        let child = Command::new(&self.bin)
            .args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.bin.display()))?;
        let _ = std::fs::write(self.dir.path().join(PID_FILE), child.id().to_string());
        self.server = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(Ok(Some(status))) = self.server.as_mut().map(Child::try_wait) {
                self.stop();
                return Err(format!(
                    "moto_server exited with {status}: {}",
                    log_tail(&stderr_path, 2000)
                ));
            }
            if request(self.port, "GET", "/").await.is_some() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(format!(
                    "moto_server did not answer within {READY_TIMEOUT:?}: {}",
                    log_tail(&stderr_path, 2000)
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn create_bucket(&self) {
        let path = format!("/{}", self.bucket);
        match request(self.port, "PUT", &path).await {
            Some(status) if status < 300 => {}
            other => panic!(
                "moto refused to create bucket {}: status {other:?}",
                self.bucket
            ),
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

/// Sends a bodiless HTTP/1.1 request and returns the status code.
pub(crate) async fn request(port: u16, method: &str, path: &str) -> Option<u16> {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(req.as_bytes()).await.ok()?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.ok()?;
        let text = String::from_utf8_lossy(&reply);
        text.split_whitespace().nth(1)?.parse().ok()
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .ok()
        .flatten()
}
