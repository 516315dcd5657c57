//! The router's HTTP API as a client sees it: log in (`POST /v1/login`), ask for an assignment (`GET /v1/assign`).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The router could not log us in.
#[derive(Debug, Error)]
pub enum RouterApiError {
    /// Transport failure.
    #[error("cannot reach the router at {url}: {detail}; is it running?")]
    Unreachable {
        /// The URL.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The router answered with an error.
    #[error("router refused ({status}): {body}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The JSON error body.
        body: String,
    },
}

/// A node as the router names it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct NodeRef {
    /// The node id.
    pub id: String,
    /// Its WebSocket URL.
    pub url: String,
}

/// The answer to a login.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Login {
    /// The session token.
    pub token: String,
    /// The user.
    pub user_id: String,
    /// The device class.
    pub device: String,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
    /// The node to connect to.
    pub node: NodeRef,
    /// The installation's id (routers before refresh tokens send none).
    #[serde(default)]
    pub device_id: Option<String>,
    /// The refresh token for [`refresh`] (protocol §2.5); secret.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// When the refresh token expires unless used, Unix seconds.
    #[serde(default)]
    pub refresh_expires_at: Option<i64>,
}

#[derive(Deserialize)]
struct Assign {
    node: NodeRef,
}

async fn http(
    base: &str,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<String>,
) -> Result<(u16, Bytes), RouterApiError> {
    let unreachable = |detail: String| RouterApiError::Unreachable {
        url: base.to_owned(),
        detail,
    };
    let authority = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let stream = tokio::net::TcpStream::connect(&authority)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    tokio::spawn(conn);
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", &authority);
    if let Some(token) = auth {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = request
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| unreachable(e.to_string()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| unreachable(e.to_string()))?
        .to_bytes();
    Ok((status, bytes))
}

/// Logs in with a password; returns the token and the assigned node.
pub async fn login(
    router: &str,
    user: &str,
    password: &str,
    device: &str,
) -> Result<Login, RouterApiError> {
    let body =
        serde_json::json!({ "user_id": user, "password": password, "device": device }).to_string();
    let (status, bytes) = http(router, "POST", "/v1/login", None, Some(body)).await?;
    answer(status, &bytes, "login")
}

/// The JSON body of a `200` answer, or `Refused` with the status and body (or why the body is unreadable).
fn answer<T: serde::de::DeserializeOwned>(
    status: u16,
    bytes: &[u8],
    what: &str,
) -> Result<T, RouterApiError> {
    if status != 200 {
        return Err(RouterApiError::Refused {
            status,
            body: String::from_utf8_lossy(bytes).into_owned(),
        });
    }
    serde_json::from_slice(bytes).map_err(|e| RouterApiError::Refused {
        status,
        body: format!("unreadable {what} answer: {e}"),
    })
}

/// Trades a refresh token for a new access token and the next refresh token (protocol §2.5). A `Refused` with
/// status 401 means the sign-in ended: log in again.
pub async fn refresh(router: &str, refresh_token: &str) -> Result<Login, RouterApiError> {
    let body = serde_json::json!({ "refresh_token": refresh_token }).to_string();
    let (status, bytes) = http(router, "POST", "/v1/refresh", None, Some(body)).await?;
    answer(status, &bytes, "refresh")
}

/// Asks which node a token's user belongs on.
pub async fn assign(router: &str, token: &str) -> Result<NodeRef, RouterApiError> {
    let (status, bytes) = http(router, "GET", "/v1/assign", Some(token), None).await?;
    answer::<Assign>(status, &bytes, "assign").map(|a| a.node)
}
