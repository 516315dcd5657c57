//! The node's files API as a client sees it (docs/protocol.md §19): upload with `POST /v1/files`, download with
//! `GET /v1/files/{id}`, both authorised by the session token.
//!
//! Bodies are streamed both ways: an upload reads its bytes from a [`Stream`] (or a file on disk, chunk by
//! chunk) and a download hands its bytes over as they arrive, so a 1 GiB file never sits in the client's
//! memory. Plain `http://` node URLs only, like [`crate::router`].

use std::path::Path;

use bytes::Bytes;
use futures_util::stream::{self, Stream, StreamExt};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use thiserror::Error;
use tokio::io::AsyncReadExt;

/// Bytes read from disk per chunk of an upload.
const FILE_CHUNK: usize = 256 * 1024;

/// A files request failed.
#[derive(Debug, Error)]
pub enum FilesError {
    /// The node URL is not `ws://host:port/...` or `http://host:port/...`.
    #[error(
        "`{0}` is not a ws:// or http:// node URL (https and wss are not supported by this helper)"
    )]
    BadUrl(String),
    /// Transport failure (connect, send, or the body was cut off).
    #[error("cannot reach the node at {url}: {detail}; is it running?")]
    Unreachable {
        /// The node's base URL.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The node answered with an error (docs/protocol.md §19 lists the codes).
    #[error("the node refused ({status} {code}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The error code (`too_large`, `not_member`, `storage_unavailable`, ...).
        code: String,
        /// What to do next, as the node says it.
        message: String,
    },
    /// The local file to upload could not be read.
    #[error("cannot read {path}: {detail}")]
    Local {
        /// The path.
        path: String,
        /// What failed.
        detail: String,
    },
}

impl FilesError {
    /// A short code for counting: the node's error code, or `unreachable`, `bad_url`, `local`.
    pub fn code(&self) -> String {
        match self {
            FilesError::BadUrl(_) => "bad_url".into(),
            FilesError::Unreachable { .. } => "unreachable".into(),
            FilesError::Refused { code, .. } => code.clone(),
            FilesError::Local { .. } => "local".into(),
        }
    }
}

/// The node's answer to an upload (the object of docs/protocol.md §19.1; fields this SDK does not use are
/// left out).
#[derive(Debug, Clone, Deserialize)]
pub struct Uploaded {
    /// The id to put in `FileInfo.file_id`.
    pub file_id: String,
    /// The stored name.
    pub name: String,
    /// Bytes stored.
    pub size: i64,
    /// The stored (sniffed) type.
    pub mime: String,
    /// Image width, for images.
    #[serde(default)]
    pub width: Option<u32>,
    /// Image height, for images.
    #[serde(default)]
    pub height: Option<u32>,
    /// When the bytes expire (Unix ms).
    #[serde(default)]
    pub expires_at_ms: Option<i64>,
    /// Hex SHA-256 of the bytes.
    #[serde(default)]
    pub sha256: Option<String>,
    /// The room it was uploaded for.
    pub room_id: i64,
}

impl Uploaded {
    /// The `FileInfo` a `send` of kind `file` or `image` carries for this upload.
    pub fn file_info(&self) -> sendjay_common::protocol::FileInfo {
        sendjay_common::protocol::FileInfo {
            file_id: self.file_id.clone(),
            name: self.name.clone(),
            size: self.size,
            mime: self.mime.clone(),
            width: self.width,
            height: self.height,
            expires_at_ms: self.expires_at_ms,
            expired: false,
        }
    }
}

/// A download under way: headers read, the body still arriving.
pub struct Download {
    /// 200, or 206 for a range.
    pub status: u16,
    /// `Content-Length`.
    pub length: Option<u64>,
    /// `ETag` (the quoted SHA-256).
    pub etag: Option<String>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    base: String,
    body: Incoming,
}

impl Download {
    /// The next piece of the body, `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, FilesError> {
        loop {
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => {
                    return Err(FilesError::Unreachable {
                        url: self.base.clone(),
                        detail: format!("the download was cut off: {e}"),
                    })
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }

    /// Reads the rest of the body, dropping it; returns how many bytes came.
    pub async fn discard(mut self) -> Result<u64, FilesError> {
        let mut n = 0u64;
        while let Some(c) = self.chunk().await? {
            n += c.len() as u64;
        }
        Ok(n)
    }
}

/// The `http://host:port` that serves files for a node URL (`ws://host:port/v1/ws` or `http://host:port`).
pub fn base_url(node_url: &str) -> Result<String, FilesError> {
    let rest = node_url
        .strip_prefix("ws://")
        .or_else(|| node_url.strip_prefix("http://"))
        .ok_or_else(|| FilesError::BadUrl(node_url.to_owned()))?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(FilesError::BadUrl(node_url.to_owned()));
    }
    Ok(format!("http://{authority}"))
}

async fn request<B>(
    base: &str,
    request: hyper::Request<B>,
) -> Result<hyper::Response<Incoming>, FilesError>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let unreachable = |detail: String| FilesError::Unreachable {
        url: base.to_owned(),
        detail,
    };
    let authority = base.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    tokio::spawn(conn);
    sender
        .send_request(request)
        .await
        .map_err(|e| unreachable(e.to_string()))
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    message: String,
}

async fn refused(response: hyper::Response<Incoming>) -> FilesError {
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(e) => FilesError::Refused {
            status,
            code: e.error,
            message: e.message,
        },
        Err(_) => FilesError::Refused {
            status,
            code: format!("http_{status}"),
            message: String::from_utf8_lossy(&bytes).into_owned(),
        },
    }
}

/// Uploads `body` (streamed as it is produced) as file `name` for room `room_id`. `length`, when known, is
/// sent as `Content-Length` (the node then refuses an oversized file before reading it); otherwise the body
/// goes chunked.
pub async fn upload<S>(
    node_url: &str,
    token: &str,
    room_id: i64,
    name: &str,
    content_type: &str,
    length: Option<u64>,
    body: S,
) -> Result<Uploaded, FilesError>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
{
    let base = base_url(node_url)?;
    let name = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    let mut builder = hyper::Request::builder()
        .method("POST")
        .uri(format!("/v1/files?room_id={room_id}&name={name}"))
        .header("host", base.trim_start_matches("http://"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", content_type);
    if let Some(n) = length {
        builder = builder.header("content-length", n);
    }
    let body = StreamBody::new(body.map(|chunk| chunk.map(Frame::data)));
    let req = builder.body(body).map_err(|e| FilesError::Unreachable {
        url: base.clone(),
        detail: e.to_string(),
    })?;
    let response = request(&base, req).await?;
    if response.status().as_u16() != 201 {
        return Err(refused(response).await);
    }
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| FilesError::Unreachable {
            url: base.clone(),
            detail: e.to_string(),
        })?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| FilesError::Refused {
        status: 201,
        code: "unreadable_answer".into(),
        message: format!("the upload answer is not the documented object: {e}"),
    })
}

/// Uploads a file from disk, read in chunks (never whole into memory); the name sent is the file's own.
pub async fn upload_file(
    node_url: &str,
    token: &str,
    room_id: i64,
    path: &Path,
    content_type: &str,
) -> Result<Uploaded, FilesError> {
    let local = |e: std::io::Error| FilesError::Local {
        path: path.display().to_string(),
        detail: e.to_string(),
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| FilesError::Local {
            path: path.display().to_string(),
            detail: "the path has no UTF-8 file name".into(),
        })?
        .to_owned();
    let file = tokio::fs::File::open(path).await.map_err(local)?;
    let length = file.metadata().await.map_err(local)?.len();
    let chunks = stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; FILE_CHUNK];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    upload(
        node_url,
        token,
        room_id,
        &name,
        content_type,
        Some(length),
        chunks,
    )
    .await
}

/// Starts downloading file `file_id` (`GET /v1/files/{id}`, optionally with a `Range` header value such as
/// `bytes=0-1023`); the body is read with [`Download::chunk`].
pub async fn download(
    node_url: &str,
    token: &str,
    file_id: &str,
    range: Option<&str>,
) -> Result<Download, FilesError> {
    let base = base_url(node_url)?;
    let id = percent_encoding::utf8_percent_encode(file_id, percent_encoding::NON_ALPHANUMERIC);
    let mut builder = hyper::Request::builder()
        .method("GET")
        .uri(format!("/v1/files/{id}"))
        .header("host", base.trim_start_matches("http://"))
        .header("authorization", format!("Bearer {token}"));
    if let Some(r) = range {
        builder = builder.header("range", r);
    }
    let req = builder
        .body(Full::new(Bytes::new()))
        .map_err(|e| FilesError::Unreachable {
            url: base.clone(),
            detail: e.to_string(),
        })?;
    let response = request(&base, req).await?;
    let status = response.status().as_u16();
    if status != 200 && status != 206 {
        return Err(refused(response).await);
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Ok(Download {
        status,
        length: header("content-length").and_then(|v| v.parse().ok()),
        etag: header("etag"),
        content_type: header("content-type"),
        base,
        body: response.into_body(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_urls_become_http_bases() {
        assert_eq!(
            base_url("ws://127.0.0.1:7411/v1/ws").unwrap(),
            "http://127.0.0.1:7411"
        );
        assert_eq!(
            base_url("http://127.0.0.1:7411").unwrap(),
            "http://127.0.0.1:7411"
        );
        assert!(base_url("wss://example.com/v1/ws").is_err());
        assert!(base_url("ws:///v1/ws").is_err());
    }
}
