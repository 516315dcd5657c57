//! A real OpenID provider for the single sign-on tests: `testkit/oidc/provider.mjs`, panva's certified
//! `oidc-provider` (npm) under Node.js, one process per [`OidcProvider`] on a free port of 127.0.0.1, killed
//! on drop (and by a watchdog if the test process dies).
//!
//! Why this provider: Keycloak cannot be installed here, and `oidc-provider` is an OpenID Certified
//! implementation that does the real protocol — discovery, PKCE, signed ID tokens, its own login pages —
//! in a Node process that starts in a second. Its development login form accepts any account id, so tests
//! sign in as sendjay users and as strangers alike. `scripts/test.sh` runs `npm ci` in `testkit/oidc`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::{find_on_path, free_port, log_tail, spawn_watchdog};

/// How long to wait for the provider's discovery document.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The watchdog's cleanup: `$2` the provider's directory.
const CLEANUP: &str = r#"
if [ -f "$2/provider.pid" ]; then
    kill -9 "$(cat "$2/provider.pid")"
fi
rm -rf "$2"
"#;

/// A running OpenID provider with one confidential client.
#[derive(Debug)]
pub struct OidcProvider {
    port: u16,
    process: Option<Child>,
    watchdog: Child,
    dir: TempDir,
}

/// `testkit/oidc`, where `provider.mjs` and its `node_modules` live.
fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc")
}

impl OidcProvider {
    /// Starts the provider with one client (`client_id`, `secret`, one `redirect_uri`) and waits until its
    /// discovery document answers. Panics, saying what to install, when `node` or the npm packages are missing.
    pub async fn start(client_id: &str, secret: &str, redirect_uri: &str) -> OidcProvider {
        let node = find_on_path("node").unwrap_or_else(|| {
            panic!("node not found on PATH: install Node.js (apt-get install nodejs npm; scripts/test.sh does)")
        });
        let source = provider_dir();
        if !source.join("node_modules/oidc-provider").is_dir() {
            panic!(
                "{} has no node_modules/oidc-provider: run `npm ci` in testkit/oidc (scripts/test.sh does)",
                source.display()
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("sendjay-oidc-")
            .tempdir()
            .unwrap_or_else(|e| {
                panic!("cannot create a temporary directory: {e}; free some space")
            });
        let watchdog = spawn_watchdog(CLEANUP, &[dir.path().as_os_str()]);
        let port = free_port();
        let log_path = dir.path().join("provider.log");
        let log = File::create(&log_path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log_path.display()));
        let log_err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot duplicate a file handle: {e}"));
        let process = Command::new(node)
            .arg(source.join("provider.mjs"))
            .arg(port.to_string())
            .env("OIDC_CLIENT_ID", client_id)
            .env("OIDC_CLIENT_SECRET", secret)
            .env("OIDC_REDIRECT_URIS", redirect_uri)
            .current_dir(&source)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run node testkit/oidc/provider.mjs: {e}"));
        let _ = std::fs::write(dir.path().join("provider.pid"), process.id().to_string());
        let mut provider = OidcProvider {
            port,
            process: Some(process),
            watchdog,
            dir,
        };
        provider.wait_ready(&log_path).await;
        provider
    }

    async fn wait_ready(&mut self, log_path: &Path) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(Ok(Some(status))) = self.process.as_mut().map(Child::try_wait) {
                panic!(
                    "the OpenID provider exited with {status}: {}",
                    log_tail(log_path, 3000)
                );
            }
            let status =
                crate::s3::request(self.port, "GET", "/.well-known/openid-configuration").await;
            if status == Some(200) {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "the OpenID provider did not answer within {READY_TIMEOUT:?}: {}",
                    log_tail(log_path, 3000)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The issuer URL, `http://127.0.0.1:PORT` (discovery at `/.well-known/openid-configuration` below it).
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the provider, to test a router whose provider is down.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = std::fs::remove_file(self.dir.path().join("provider.pid"));
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        self.stop();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}
