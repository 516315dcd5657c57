//! A real push service for the push notification tests: `testkit/push/service.mjs` under Node.js, one process
//! per [`PushService`] on a free port of 127.0.0.1, killed on drop (and by a watchdog if the test process dies).
//! It is both a Web Push service (RFC 8030 delivery, RFC 8291 `aes128gcm`, RFC 8292 VAPID) and an FCM HTTP v1
//! endpoint (service account, OAuth 2 JWT-bearer token endpoint, `messages:send`), because no vendor service is
//! reachable from tests.
//!
//! Why Node and `http_ece`: the service decrypts every Web Push with Martin Thomson's `http_ece` (npm; he wrote
//! RFC 8188 and RFC 8291) and checks VAPID and FCM signatures with Node's own `crypto`, an implementation
//! independent of the Rust `web-push`/`ece` crates the server uses. So a test that reads a decrypted payload
//! back proves the server's encryption and signatures are right, not merely that our code round-trips with
//! itself. Tests read back what arrived and every refused attempt (with the reason), and script failures: 429
//! with `Retry-After`, 503, a subscription gone (410), an unregistered FCM device (404 `UNREGISTERED`).
//! `scripts/test.sh` runs `npm ci` in `testkit/push`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tempfile::TempDir;

use crate::{find_on_path, log_tail, spawn_watchdog};

/// How long to wait for the service to listen.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How often [`PushService::wait_received`] and [`PushService::wait_fcm_messages`] look again.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The FCM project of the service account [`PushService::fcm_service_account`] hands out.
pub const FCM_PROJECT_ID: &str = "sendjay-test";

/// The watchdog's cleanup: `$2` the service's directory.
const CLEANUP: &str = r#"
if [ -f "$2/service.pid" ]; then
    kill -9 "$(cat "$2/service.pid")"
fi
rm -rf "$2"
"#;

/// A running loopback Web Push service and FCM endpoint.
#[derive(Debug)]
pub struct PushService {
    port: u16,
    process: Option<Child>,
    watchdog: Child,
    dir: TempDir,
    http: reqwest::Client,
}

/// A Web Push subscription as a browser's `PushSubscription.toJSON()` gives it (keys base64url, no padding).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebPushSubscription {
    /// The service's id of the subscription, for [`PushService::received`] and friends.
    pub id: String,
    /// The push resource, `http://127.0.0.1:PORT/wp/<id>`; the VAPID `aud` must be its origin.
    pub endpoint: String,
    /// The user agent's P-256 public key: base64url of the 65-byte uncompressed point.
    pub p256dh: String,
    /// The 16-byte authentication secret, base64url.
    pub auth: String,
}

/// A push the service accepted (201) and decrypted.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReceivedPush {
    /// When it arrived, milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The status answered, always 201.
    pub status: u16,
    /// The `Topic` header, if any.
    pub topic: Option<String>,
    /// The `Urgency` header, if any.
    pub urgency: Option<String>,
    /// The `TTL` header, seconds.
    pub ttl: u64,
    /// The VAPID JWT's `sub` claim (`mailto:` or `https:`).
    pub vapid_sub: String,
    /// The VAPID public key (`k=`), base64url of the uncompressed point.
    pub vapid_key: String,
    /// The decrypted body as UTF-8 (lossy).
    pub payload: String,
}

impl ReceivedPush {
    /// The payload parsed as JSON; panics when it is not JSON.
    pub fn payload_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.payload).unwrap_or_else(|e| {
            panic!(
                "the decrypted push payload is not JSON ({e}): {:?}; check what the server puts in its pushes",
                self.payload
            )
        })
    }
}

/// One push to a subscription, accepted or refused.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PushAttempt {
    /// When it arrived, milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The status answered.
    pub status: u16,
    /// Why it was refused (`"scripted"` for a scripted response); `None` when accepted.
    pub reason: Option<String>,
    /// The `Retry-After` seconds answered with a scripted response.
    #[serde(default)]
    pub retry_after: Option<u64>,
}

/// A response the service gives instead of accepting the next push (or FCM send), see [`PushService::script`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScriptedResponse {
    /// The status to answer, e.g. 429 or 503.
    pub status: u16,
    /// A `Retry-After` header in seconds, if any.
    pub retry_after: Option<u64>,
}

impl ScriptedResponse {
    /// Answer `status` without a `Retry-After` header.
    pub fn status(status: u16) -> ScriptedResponse {
        ScriptedResponse {
            status,
            retry_after: None,
        }
    }

    /// Answer `status` with `Retry-After: seconds`.
    pub fn retry_after(status: u16, seconds: u64) -> ScriptedResponse {
        ScriptedResponse {
            status,
            retry_after: Some(seconds),
        }
    }
}

/// A message FCM accepted.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FcmMessage {
    /// When it arrived, milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The device registration token it was sent to.
    pub token: String,
    /// The `message` object of the request, as sent.
    pub message: serde_json::Value,
    /// The name answered, `projects/sendjay-test/messages/<n>`.
    pub name: String,
}

/// One `messages:send` request, accepted or refused.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FcmAttempt {
    /// When it arrived, milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The status answered.
    pub status: u16,
    /// The device token, when the body named one.
    pub token: Option<String>,
    /// Why it was refused (`"scripted"` for a scripted response); `None` when accepted.
    pub reason: Option<String>,
}

/// `testkit/push`, where `service.mjs` and its `node_modules` live.
fn service_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("push")
}

#[derive(Serialize)]
struct Script<'a> {
    responses: &'a [ScriptedResponse],
}

#[derive(Deserialize)]
struct Grants {
    count: u64,
}

impl PushService {
    /// Starts the service and waits until it answers. Panics, saying what to install, when `node` or the npm
    /// packages are missing.
    pub async fn start() -> PushService {
        let node = find_on_path("node").unwrap_or_else(|| {
            panic!("node not found on PATH: install Node.js (apt-get install nodejs npm; scripts/test.sh does)")
        });
        let source = service_dir();
        if !source.join("node_modules/http_ece").is_dir() {
            panic!(
                "{} has no node_modules/http_ece: run `npm ci` in testkit/push (scripts/test.sh does)",
                source.display()
            );
        }
        // reqwest is built with rustls but no crypto provider; it wants one even for plain http.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_else(|e| panic!("cannot build an HTTP client: {e}"));
        let dir = tempfile::Builder::new()
            .prefix("sendjay-push-")
            .tempdir()
            .unwrap_or_else(|e| {
                panic!("cannot create a temporary directory: {e}; free some space")
            });
        let watchdog = spawn_watchdog(CLEANUP, &[dir.path().as_os_str()]);
        let log_path = dir.path().join("service.log");
        let port_path = dir.path().join("port");
        let log = File::create(&log_path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log_path.display()));
        let log_err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot duplicate a file handle: {e}"));
        // Port 0: the service binds any free port and writes it to PUSH_PORT_FILE, so no other process can
        // take the port between choosing and binding it.
        let process = Command::new(node)
            .arg(source.join("service.mjs"))
            .arg("0")
            .env("PUSH_PORT_FILE", &port_path)
            .current_dir(&source)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run node testkit/push/service.mjs: {e}"));
        let _ = std::fs::write(dir.path().join("service.pid"), process.id().to_string());
        let mut service = PushService {
            port: 0,
            process: Some(process),
            watchdog,
            dir,
            http,
        };
        service.wait_ready(&log_path, &port_path).await;
        service
    }

    async fn wait_ready(&mut self, log_path: &Path, port_path: &Path) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(Ok(Some(status))) = self.process.as_mut().map(Child::try_wait) {
                panic!(
                    "the push service exited with {status}: {}",
                    log_tail(log_path, 3000)
                );
            }
            if self.port == 0 {
                if let Ok(text) = std::fs::read_to_string(port_path) {
                    self.port = text.trim().parse().unwrap_or_else(|e| {
                        panic!("the push service wrote a bad port {text:?} ({e}); check testkit/push/service.mjs")
                    });
                }
            }
            if self.port != 0 && crate::s3::request(self.port, "GET", "/health").await == Some(200)
            {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "the push service did not answer within {READY_TIMEOUT:?}: {}",
                    log_tail(log_path, 3000)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The service's base URL, `http://127.0.0.1:PORT` (also the FCM API root in place of `https://fcm.googleapis.com`).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The FCM send URL of the test project, `http://127.0.0.1:PORT/v1/projects/sendjay-test/messages:send`.
    pub fn fcm_send_url(&self) -> String {
        format!(
            "{}/v1/projects/{FCM_PROJECT_ID}/messages:send",
            self.base_url()
        )
    }

    /// The service's process id (benchmarks read its CPU time from `/proc`), while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Child::id)
    }

    /// A plain-HTTP client for talking to the service directly (no proxy, 10 s timeout).
    pub fn client(&self) -> reqwest::Client {
        self.http.clone()
    }

    /// Kills the service, to test a server whose push service is down.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = std::fs::remove_file(self.dir.path().join("service.pid"));
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends one request and returns the body of a 2xx answer; panics with the service's answer otherwise.
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Vec<u8>>) -> Vec<u8> {
        let url = format!("{}{path}", self.base_url());
        let mut request = self.http.request(method.clone(), &url);
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let response = request.send().await.unwrap_or_else(|e| {
            panic!("{method} {url} failed: {e}; is the push service still running (PushService dropped or stopped?)")
        });
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: cannot read the answer: {e}"));
        if !status.is_success() {
            panic!(
                "{method} {url} answered {status}: {}; check the id/token (from subscribe()) and the log",
                String::from_utf8_lossy(&bytes)
            );
        }
        bytes.to_vec()
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> T {
        let bytes = self.call(reqwest::Method::GET, path, None).await;
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "GET {path}: unexpected JSON ({e}): {}; testkit/push/service.mjs and push.rs disagree",
                String::from_utf8_lossy(&bytes)
            )
        })
    }

    async fn post_json<T: DeserializeOwned>(&self, path: &str, body: Vec<u8>) -> T {
        let bytes = self.call(reqwest::Method::POST, path, Some(body)).await;
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "POST {path}: unexpected JSON ({e}): {}; testkit/push/service.mjs and push.rs disagree",
                String::from_utf8_lossy(&bytes)
            )
        })
    }

    /// Creates a subscription (fresh P-256 key pair and auth secret), as a browser's `pushManager.subscribe`.
    pub async fn subscribe(&self) -> WebPushSubscription {
        self.post_json("/subscriptions", Vec::new()).await
    }

    /// Creates a subscription restricted to one VAPID key (base64url public key): pushes signed by another get 403.
    pub async fn subscribe_restricted(&self, application_server_key: &str) -> WebPushSubscription {
        let body = serde_json::json!({ "application_server_key": application_server_key });
        self.post_json("/subscriptions", to_json(&body)).await
    }

    /// The pushes subscription `id` accepted and decrypted so far, oldest first.
    pub async fn received(&self, id: &str) -> Vec<ReceivedPush> {
        self.get_json(&format!("/subscriptions/{id}/received"))
            .await
    }

    /// Every push to subscription `id` so far, refused ones included, oldest first.
    pub async fn attempts(&self, id: &str) -> Vec<PushAttempt> {
        self.get_json(&format!("/subscriptions/{id}/attempts"))
            .await
    }

    /// Queues responses for the next valid pushes to subscription `id`, one per push, in order (after the
    /// VAPID and header checks, before decryption); such a push is recorded as an attempt, not received.
    pub async fn script(&self, id: &str, responses: &[ScriptedResponse]) {
        let body = to_json(&Script { responses });
        let _: serde_json::Value = self
            .post_json(&format!("/subscriptions/{id}/script"), body)
            .await;
    }

    /// Marks subscription `id` gone: every later push to it gets 410 Gone.
    pub async fn gone(&self, id: &str) {
        let _: serde_json::Value = self
            .post_json(&format!("/subscriptions/{id}/gone"), Vec::new())
            .await;
    }

    /// Waits until subscription `id` has received at least `n` pushes and returns them; panics after `timeout`.
    pub async fn wait_received(&self, id: &str, n: usize, timeout: Duration) -> Vec<ReceivedPush> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received(id).await;
            if received.len() >= n {
                return received;
            }
            if Instant::now() >= deadline {
                panic!(
                    "subscription {id} received {} of {n} pushes within {timeout:?}; attempts: {:?}",
                    received.len(),
                    self.attempts(id).await
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The FCM service account JSON (Google's format; `token_uri` points here), the same for every call.
    pub async fn fcm_service_account(&self) -> String {
        let bytes = self.call(reqwest::Method::POST, "/fcm/setup", None).await;
        String::from_utf8(bytes).unwrap_or_else(|e| {
            panic!("the service account JSON is not UTF-8: {e}; check testkit/push/service.mjs")
        })
    }

    /// The messages FCM accepted so far (not `validate_only` ones), oldest first.
    pub async fn fcm_messages(&self) -> Vec<FcmMessage> {
        self.get_json("/fcm/messages").await
    }

    /// Every `messages:send` request so far, refused ones included, oldest first.
    pub async fn fcm_attempts(&self) -> Vec<FcmAttempt> {
        self.get_json("/fcm/attempts").await
    }

    /// How many access tokens the token endpoint has granted.
    pub async fn fcm_grants(&self) -> u64 {
        self.get_json::<Grants>("/fcm/grants").await.count
    }

    /// Unregisters device `token`: later sends to it get 404 `UNREGISTERED`.
    pub async fn fcm_unregister(&self, token: &str) {
        let _: serde_json::Value = self
            .post_json(
                &format!("/fcm/devices/{}/unregister", path_segment(token)),
                Vec::new(),
            )
            .await;
    }

    /// Queues responses for the next valid sends to device `token`, one per send, in order.
    pub async fn fcm_script(&self, token: &str, responses: &[ScriptedResponse]) {
        let body = to_json(&Script { responses });
        let _: serde_json::Value = self
            .post_json(
                &format!("/fcm/devices/{}/script", path_segment(token)),
                body,
            )
            .await;
    }

    /// Waits until FCM has accepted at least `n` messages and returns them; panics after `timeout`.
    pub async fn wait_fcm_messages(&self, n: usize, timeout: Duration) -> Vec<FcmMessage> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.fcm_messages().await;
            if messages.len() >= n {
                return messages;
            }
            if Instant::now() >= deadline {
                panic!(
                    "FCM accepted {} of {n} messages within {timeout:?}; attempts: {:?}",
                    messages.len(),
                    self.fcm_attempts().await
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

impl Drop for PushService {
    fn drop(&mut self) {
        self.stop();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|e| panic!("cannot serialize a request body: {e}"))
}

/// Percent-encodes everything but unreserved characters, for an FCM device token in a URL path.
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
