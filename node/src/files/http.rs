//! The file HTTP API on the node's data port (protocol §19): `POST /v1/files` streams an upload to storage,
//! `GET /v1/files/{id}` and `/v1/files/{id}/thumbnail` stream it back (Range, ETag), `GET /v1/files/{id}/info`
//! returns the metadata with fresh signed URLs. Every request is authenticated (bearer token, or a signed URL
//! for downloads) and checked against PostgreSQL; answers are JSON errors with a stable `error` code.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, WriteMultipart};
use sendjay_common::error_code::ErrorCode;
use sendjay_common::jwt::now_secs;
use sha2::{Digest, Sha256};

use super::blob::{file_path, thumbnail_path};
use super::content_type;
use super::metadata::{self, FileRow, FileState, Finished};
use super::range::{self, RangeAnswer};
use super::signed_url::{SignatureError, Variant};
use super::thumbnail::{self, ImageRefusal};
use crate::error::NodeError;
use crate::metrics as m;
use crate::websocket::query_param;
use crate::NodeContext;

/// The body of every node HTTP answer: small ones in full, downloads streamed.
pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// Parts of an upload in flight at once (each [`PART_BYTES`]); bounds a node's memory per upload.
const PARTS_IN_FLIGHT: usize = 2;
/// Bytes per storage part (S3's minimum part size is 5 MiB).
const PART_BYTES: usize = 5 * 1024 * 1024;

/// Whether `path` belongs to the file API.
pub fn is_files_path(path: &str) -> bool {
    path == "/v1/files" || path.starts_with("/v1/files/")
}

/// Boxes a complete body.
pub fn boxed(body: Full<Bytes>) -> Body {
    body.map_err(|never| match never {}).boxed_unsync()
}

/// A refused or failed file request: HTTP status, stable code, what to do.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

fn api_error(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        code,
        message: message.into(),
    }
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> ApiError {
        let code = e.code();
        let status = match code {
            ErrorCode::BadArgs => StatusCode::BAD_REQUEST,
            ErrorCode::NotMember | ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::FileExpired => StatusCode::GONE,
            ErrorCode::DatabaseUnavailable | ErrorCode::StorageUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorCode::Conflict => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::warn!(error = %e, fault = e.fault().as_str(), "file request failed");
            metrics::counter!(m::ERRORS, "fault" => e.fault().as_str()).increment(1);
        }
        ApiError {
            status,
            code: code.as_str(),
            message: e.client_message(),
        }
    }
}

fn storage_error(op: &'static str, e: object_store::Error) -> ApiError {
    metrics::counter!(m::FILE_STORAGE_ERRORS, "op" => op).increment(1);
    ApiError::from(NodeError::Storage(e))
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(boxed(Full::new(Bytes::from(value.to_string()))))
        .unwrap_or_default()
}

impl ApiError {
    fn response(&self) -> Response<Body> {
        json(
            self.status,
            &serde_json::json!({"error": self.code, "message": self.message}),
        )
    }
}

/// Serves one `/v1/files…` request.
pub async fn serve(req: Request<Incoming>, ctx: Arc<NodeContext>) -> Response<Body> {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_owned);
    let mut response = if req.method() == Method::OPTIONS {
        preflight()
    } else {
        route(req, &ctx).await.unwrap_or_else(|e| e.response())
    };
    if let Some(allowed) = ctx.files.allowed_origin(origin.as_deref()) {
        let h = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&allowed) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Content-Range, ETag, Content-Length, Content-Disposition"),
        );
        if allowed != "*" {
            h.insert(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
    response
}

fn preflight() -> Response<Body> {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            "GET, HEAD, POST, OPTIONS",
        )
        .header(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            "Authorization, Content-Type, Range, If-None-Match",
        )
        .header(header::ACCESS_CONTROL_MAX_AGE, "600")
        .body(boxed(Full::new(Bytes::new())))
        .unwrap_or_default()
}

async fn route(req: Request<Incoming>, ctx: &NodeContext) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().to_owned();
    let rest = path.trim_start_matches("/v1/files").trim_start_matches('/');
    let mut parts = rest.split('/');
    let id = parts.next().unwrap_or("").to_owned();
    let sub = parts.next();
    if parts.next().is_some() {
        return Err(not_found_route());
    }
    let method = req.method().clone();
    match (method, id.is_empty(), sub) {
        (Method::POST, true, None) => {
            let user = bearer_user(ctx, req.headers()).await?;
            upload(req, ctx, &user).await
        }
        (Method::GET | Method::HEAD, false, None) => download(req, ctx, &id, Variant::File).await,
        (Method::GET | Method::HEAD, false, Some("thumbnail")) => {
            download(req, ctx, &id, Variant::Thumbnail).await
        }
        (Method::GET, false, Some("info")) => {
            let user = bearer_user(ctx, req.headers()).await?;
            let file = readable(ctx, &id, &user).await?;
            Ok(json(StatusCode::OK, &describe(ctx, &file, &user)))
        }
        (_, _, None | Some("thumbnail") | Some("info")) => Err(api_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "use POST /v1/files to upload, GET /v1/files/{id}[/thumbnail|/info] to read",
        )),
        _ => Err(not_found_route()),
    }
}

fn not_found_route() -> ApiError {
    api_error(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint: try POST /v1/files or GET /v1/files/{id}, /v1/files/{id}/thumbnail, /v1/files/{id}/info",
    )
}

/// The user of an `Authorization: Bearer` token, verified as for a WebSocket session (passkey, retirement).
async fn bearer_user(ctx: &NodeContext, headers: &HeaderMap) -> Result<String, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    match crate::auth::authenticate(&ctx.tokens, &ctx.store, token).await {
        Ok(claims) => Ok(claims.sub),
        Err((reason, text)) => {
            let code = match reason {
                sendjay_common::close_code::CloseReason::Internal => {
                    return Err(api_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "database_unavailable",
                        text,
                    ))
                }
                sendjay_common::close_code::CloseReason::TokenExpired => "token_expired",
                sendjay_common::close_code::CloseReason::UserUnavailable => "forbidden",
                _ => "unauthorized",
            };
            let status = if code == "forbidden" {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::UNAUTHORIZED
            };
            Err(api_error(status, code, text))
        }
    }
}

/// The user of a download: a bearer token, or else the signed URL's user (who must exist and not be retired).
async fn download_user(
    ctx: &NodeContext,
    req: &Request<Incoming>,
    id: &str,
    variant: Variant,
) -> Result<String, ApiError> {
    let query = req.uri().query();
    let Some(sig) = query_param(query, "sig") else {
        return bearer_user(ctx, req.headers()).await;
    };
    let forged = || {
        api_error(
            StatusCode::FORBIDDEN,
            "bad_signature",
            "the signed URL is invalid or was altered; ask for a fresh one with GET /v1/files/{id}/info",
        )
    };
    let user = query_param(query, "u")
        .and_then(|u| percent_encoding::percent_decode_str(u).decode_utf8().ok())
        .ok_or_else(forged)?
        .into_owned();
    let expires: i64 = query_param(query, "exp")
        .and_then(|e| e.parse().ok())
        .ok_or_else(forged)?;
    match ctx
        .files
        .signer
        .verify(id, variant, &user, expires, sig, now_secs())
    {
        Ok(()) => {}
        Err(SignatureError::Invalid) => return Err(forged()),
        Err(SignatureError::Expired) => {
            return Err(api_error(
                StatusCode::FORBIDDEN,
                "url_expired",
                "the signed URL has expired; ask for a fresh one with GET /v1/files/{id}/info",
            ))
        }
    }
    match ctx.store.user_auth(&user).await.map_err(ApiError::from)? {
        Some(u) if !u.retired => Ok(user),
        _ => Err(api_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the user of this URL is retired or unknown",
        )),
    }
}

/// The file, if `user` may read it now: 404 unknown or still uploading, 403 not allowed, 410 expired.
async fn readable(ctx: &NodeContext, id: &str, user: &str) -> Result<FileRow, ApiError> {
    let db = ctx.store.pool().get().await.map_err(NodeError::from)?;
    let found = metadata::lookup(&**db, id, user).await?;
    let not_found = || {
        api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no file {id}: check the id (an upload is visible only once it has answered)"),
        )
    };
    let Some((file, allowed)) = found else {
        return Err(not_found());
    };
    if !allowed {
        return Err(api_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "you may not read this file: only the uploader and members of a room it was sent to may",
        ));
    }
    if file.state == FileState::Uploading {
        return Err(not_found());
    }
    if file.is_expired() {
        return Err(expired(id));
    }
    Ok(file)
}

fn expired(id: &str) -> ApiError {
    api_error(
        StatusCode::GONE,
        "file_expired",
        format!("file {id} has expired: its retention period is over and the bytes are deleted"),
    )
}

/// The JSON describing a file to `user`: FileInfo keys plus state, checksum and signed URLs.
fn describe(ctx: &NodeContext, file: &FileRow, user: &str) -> serde_json::Value {
    let expires = now_secs() + ctx.config.files_url_ttl_secs as i64;
    let signer = &ctx.files.signer;
    let info = file.info();
    serde_json::json!({
        "file_id": info.file_id,
        "name": info.name,
        "size": info.size,
        "mime": info.mime,
        "width": info.width,
        "height": info.height,
        "expires_at_ms": info.expires_at_ms,
        "expired": info.expired,
        "created_at_ms": file.created_at_ms,
        "sha256": file.sha256,
        "state": file.state.as_str(),
        "room_id": file.room_id,
        "url": signer.url(&file.id, Variant::File, user, expires),
        "thumbnail_url": file.thumbnail_mime.as_ref().map(|_| signer.url(&file.id, Variant::Thumbnail, user, expires)),
        "urls_expire_at_ms": expires * 1000,
    })
}

/// A file name as users see it: 1–255 bytes, not `.`/`..`, no `/`, `\` or control characters (§6.7).
fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= sendjay_common::protocol::MAX_FILE_NAME_BYTES
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(api_error(
            StatusCode::BAD_REQUEST,
            "bad_args",
            "name must be 1 to 255 bytes of UTF-8 without /, \\ or control characters (percent-encode it in the query)",
        ))
    }
}

async fn upload(
    req: Request<Incoming>,
    ctx: &NodeContext,
    user: &str,
) -> Result<Response<Body>, ApiError> {
    let query = req.uri().query();
    let room_id: i64 = query_param(query, "room_id")
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| {
            api_error(
                StatusCode::BAD_REQUEST,
                "bad_args",
                "POST /v1/files?room_id=<room>&name=<percent-encoded name>: room_id is missing or not a number",
            )
        })?;
    let name = query_param(query, "name")
        .and_then(|n| percent_encoding::percent_decode_str(n).decode_utf8().ok())
        .map(|n| n.into_owned())
        .unwrap_or_default();
    check_name(&name)?;
    let max = ctx.config.files_max_bytes;
    let too_large = || {
        metrics::counter!(m::FILE_UPLOADS, "result" => "too_large").increment(1);
        api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("files are limited to {max} bytes on this server; send a smaller file"),
        )
    };
    let declared: Option<u64> = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let claimed = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let id = uuid::Uuid::new_v4().simple().to_string();
    {
        let db = ctx.store.pool().get().await.map_err(NodeError::from)?;
        metadata::begin_upload(
            &**db,
            &id,
            user,
            room_id,
            &name,
            "application/octet-stream",
            ctx.config.files_retention_days,
        )
        .await?;
    }
    let started = Instant::now();
    let received = receive(req.into_body(), ctx, &id, claimed.as_deref(), max).await;
    metrics::histogram!(m::FILE_UPLOAD_SECONDS).record(started.elapsed().as_secs_f64());
    let done = match received {
        Ok(done) => done,
        Err(e) => {
            if e.code != "too_large" {
                metrics::counter!(m::FILE_UPLOADS, "result" => e.code).increment(1);
            }
            forget(ctx, &id).await;
            return Err(e);
        }
    };
    let row = {
        let db = ctx.store.pool().get().await.map_err(NodeError::from)?;
        metadata::finish_upload(&**db, &id, &done).await
    };
    let row = match row {
        Ok(row) => row,
        Err(e) => {
            forget(ctx, &id).await;
            return Err(e.into());
        }
    };
    metrics::counter!(m::FILE_UPLOADS, "result" => "ok").increment(1);
    metrics::counter!(m::FILE_UPLOAD_BYTES).increment(done.size as u64);
    tracing::debug!(file = %id, size = done.size, mime = %done.mime, "file uploaded");
    Ok(json(StatusCode::CREATED, &describe(ctx, &row, user)))
}

/// Deletes what a failed upload left (bytes, thumbnail, row); the sweeper retries whatever this misses.
async fn forget(ctx: &NodeContext, id: &str) {
    if let Err(e) = ctx.files.blobs.delete(id).await {
        tracing::warn!(error = %e, file = %id, "could not delete a failed upload's bytes; the sweeper will retry");
        return; // keep the row so the sweeper finds the bytes
    }
    match ctx.store.pool().get().await {
        Ok(db) => {
            if let Err(e) = metadata::discard_upload(&**db, id).await {
                tracing::warn!(error = %e, file = %id, "could not forget a failed upload; the sweeper will");
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, file = %id, "could not forget a failed upload; the sweeper will")
        }
    }
}

/// Streams the body to storage, hashing it, sniffing its type and checking the size as it goes; makes the
/// thumbnail of an image. On any error the multipart upload is aborted, so nothing becomes visible.
async fn receive(
    mut body: Incoming,
    ctx: &NodeContext,
    id: &str,
    claimed: Option<&str>,
    max: u64,
) -> Result<Finished, ApiError> {
    let store = &ctx.files.blobs.store;
    let upload = store
        .put_multipart(&file_path(id))
        .await
        .map_err(|e| storage_error("put", e))?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
    let pace = ctx.files.pace.as_deref();
    let outcome = stream_into(&mut body, &mut writer, claimed, max, pace).await;
    let (size, sha256, mime, image) = match outcome {
        Ok(v) => v,
        Err(e) => {
            let _ = writer.abort().await;
            return Err(e);
        }
    };
    let mut done = Finished {
        size: size as i64,
        sha256,
        mime,
        ..Default::default()
    };
    let mut thumb = None;
    if let Some(bytes) = image {
        let max_pixels = ctx.config.files_max_image_pixels;
        let inspected = tokio::task::spawn_blocking(move || thumbnail::inspect(&bytes, max_pixels))
            .await
            .map_err(|e| NodeError::Internal(format!("thumbnail task failed: {e}")));
        match inspected {
            Ok(Ok(facts)) => {
                done.width = Some(facts.width as i32);
                done.height = Some(facts.height as i32);
                done.thumbnail_mime = Some(facts.thumbnail.1.to_owned());
                thumb = Some(facts.thumbnail.0);
            }
            Ok(Err(refusal)) => {
                let _ = writer.abort().await;
                let code = match refusal {
                    ImageRefusal::TooManyPixels { .. } => "image_too_large",
                    ImageRefusal::Undecodable(_) => "bad_image",
                };
                return Err(api_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    code,
                    refusal.to_string(),
                ));
            }
            Err(e) => {
                let _ = writer.abort().await;
                return Err(e.into());
            }
        }
    }
    writer.finish().await.map_err(|e| storage_error("put", e))?;
    if let Some(thumb) = thumb {
        store
            .put(&thumbnail_path(id), thumb.into())
            .await
            .map_err(|e| storage_error("put", e))?;
    }
    Ok(done)
}

/// What [`stream_into`] learnt: size, hex SHA-256, stored type, and the bytes of a small inline image.
type Streamed = (u64, String, String, Option<Vec<u8>>);

async fn stream_into(
    body: &mut Incoming,
    writer: &mut WriteMultipart,
    claimed: Option<&str>,
    max: u64,
    pace: Option<&super::pace::Pace>,
) -> Result<Streamed, ApiError> {
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut head: Vec<u8> = Vec::with_capacity(content_type::SNIFF_BYTES);
    let mut mime: Option<String> = None;
    let mut image: Option<Vec<u8>> = None;
    let too_large = || {
        metrics::counter!(m::FILE_UPLOADS, "result" => "too_large").increment(1);
        api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("files are limited to {max} bytes on this server; send a smaller file"),
        )
    };
    loop {
        let frame = match body.frame().await {
            None => break,
            Some(Ok(frame)) => frame,
            Some(Err(e)) => {
                return Err(api_error(
                    StatusCode::BAD_REQUEST,
                    "upload_incomplete",
                    format!(
                        "the upload was cut off ({e}); nothing was stored, upload the file again"
                    ),
                ))
            }
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        size += data.len() as u64;
        if size > max {
            return Err(too_large());
        }
        if let Some(pace) = pace {
            pace.take(data.len()).await;
        }
        hasher.update(&data);
        if mime.is_none() {
            let take = (content_type::SNIFF_BYTES - head.len()).min(data.len());
            head.extend_from_slice(&data[..take]);
            if head.len() >= content_type::SNIFF_BYTES {
                mime = Some(decide(&head, claimed, &mut image)?);
                // The bytes of earlier frames are only in `head`; this frame is appended whole below.
                if let Some(buf) = image.as_mut() {
                    buf.extend_from_slice(&head[..head.len() - take]);
                }
            }
        }
        if let Some(buf) = image.as_mut() {
            if buf.len() + data.len() <= thumbnail::MAX_DECODE_BYTES {
                buf.extend_from_slice(&data);
            } else {
                image = None; // too large to decode here: stored without a thumbnail
            }
        }
        writer.write(&data);
        writer
            .wait_for_capacity(PARTS_IN_FLIGHT)
            .await
            .map_err(|e| storage_error("put", e))?;
    }
    if size == 0 {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            "bad_args",
            "the file is empty; send at least one byte",
        ));
    }
    let mime = match mime {
        Some(mime) => mime,
        None => {
            let mime = decide(&head, claimed, &mut image)?;
            // The whole (small) file is in `head`.
            if let Some(buf) = image.as_mut() {
                buf.extend_from_slice(&head);
            }
            mime
        }
    };
    Ok((size, hex::encode(hasher.finalize()), mime, image))
}

/// Decides the stored type from the first bytes; starts collecting an inline image's bytes (from `head`,
/// which the caller has not yet copied when the file is longer than the sniff window).
fn decide(
    head: &[u8],
    claimed: Option<&str>,
    image: &mut Option<Vec<u8>>,
) -> Result<String, ApiError> {
    let mime = content_type::decide(head, claimed).map_err(|why| {
        api_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type_mismatch",
            why,
        )
    })?;
    if content_type::INLINE_IMAGES.contains(&mime.as_str()) {
        *image = Some(Vec::new());
    }
    Ok(mime)
}

async fn download(
    req: Request<Incoming>,
    ctx: &NodeContext,
    id: &str,
    variant: Variant,
) -> Result<Response<Body>, ApiError> {
    let started = Instant::now();
    let result = download_inner(&req, ctx, id, variant).await;
    let status = match &result {
        Ok(r) => r.status(),
        Err(e) => e.status,
    };
    let class = match status.as_u16() {
        304 => "304",
        200..=299 => "2xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::counter!(m::FILE_DOWNLOADS, "status" => class).increment(1);
    let _ = started;
    result
}

async fn download_inner(
    req: &Request<Incoming>,
    ctx: &NodeContext,
    id: &str,
    variant: Variant,
) -> Result<Response<Body>, ApiError> {
    let user = download_user(ctx, req, id, variant).await?;
    let file = readable(ctx, id, &user).await?;
    let (path, mime, etag) = match variant {
        Variant::File => (
            file_path(id),
            file.mime.clone(),
            format!("\"{}\"", file.sha256.as_deref().unwrap_or(id)),
        ),
        Variant::Thumbnail => {
            let Some(mime) = file.thumbnail_mime.clone() else {
                return Err(api_error(
                    StatusCode::NOT_FOUND,
                    "no_thumbnail",
                    "this file has no thumbnail (only JPEG, PNG, GIF and WebP images up to 32 MiB get one)",
                ));
            };
            (
                thumbnail_path(id),
                mime,
                format!("\"{}-thumbnail\"", file.sha256.as_deref().unwrap_or(id)),
            )
        }
    };
    let headers = req.headers();
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut builder = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, "private, max-age=300")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        )
        .header(header::ACCEPT_RANGES, "bytes");
    if not_modified {
        return Ok(builder
            .status(StatusCode::NOT_MODIFIED)
            .body(boxed(Full::new(Bytes::new())))
            .unwrap_or_default());
    }
    let size = match variant {
        Variant::File => file.size as u64,
        Variant::Thumbnail => match ctx.files.blobs.store.head(&path).await {
            Ok(meta) => meta.size,
            Err(object_store::Error::NotFound { .. }) => return Err(expired(id)),
            Err(e) => return Err(storage_error("head", e)),
        },
    };
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, start, end) = match range::parse(range_header, size) {
        RangeAnswer::Whole => (StatusCode::OK, 0, size),
        RangeAnswer::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end),
        RangeAnswer::Unsatisfiable => {
            return Ok(builder
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{size}"))
                .body(boxed(Full::new(Bytes::new())))
                .unwrap_or_default())
        }
    };
    let disposition = if variant == Variant::Thumbnail || content_type::inline(&file.mime) {
        "inline"
    } else {
        "attachment"
    };
    let encoded_name =
        percent_encoding::utf8_percent_encode(&file.name, percent_encoding::NON_ALPHANUMERIC);
    builder = builder
        .status(status)
        .header(header::CONTENT_TYPE, &mime)
        .header(header::CONTENT_LENGTH, end - start)
        .header(
            header::CONTENT_DISPOSITION,
            format!("{disposition}; filename*=UTF-8''{encoded_name}"),
        );
    if status == StatusCode::PARTIAL_CONTENT {
        builder = builder.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", end - 1),
        );
    }
    if req.method() == Method::HEAD {
        return Ok(builder
            .body(boxed(Full::new(Bytes::new())))
            .unwrap_or_default());
    }
    let options = GetOptions {
        range: (status == StatusCode::PARTIAL_CONTENT).then_some(GetRange::Bounded(start..end)),
        ..Default::default()
    };
    let got = match ctx.files.blobs.store.get_opts(&path, options).await {
        Ok(got) => got,
        // The sweeper took the bytes between the lookup and now.
        Err(object_store::Error::NotFound { .. }) => return Err(expired(id)),
        Err(e) => return Err(storage_error("get", e)),
    };
    let started = Instant::now();
    let pace = ctx.files.pace.clone();
    let paced = super::chunks::chunks(got).then(move |chunk| {
        let pace = pace.clone();
        async move {
            if let (Some(pace), Ok(bytes)) = (&pace, &chunk) {
                pace.take(bytes.len()).await;
            }
            chunk
        }
    });
    let stream = paced.map(move |chunk| match chunk {
        Ok(bytes) => {
            metrics::counter!(m::FILE_DOWNLOAD_BYTES).increment(bytes.len() as u64);
            Ok(Frame::data(bytes))
        }
        Err(e) => {
            metrics::counter!(m::FILE_STORAGE_ERRORS, "op" => "get").increment(1);
            Err(std::io::Error::other(e))
        }
    });
    let timed = TimedStream {
        inner: Box::pin(stream),
        started,
    };
    Ok(builder
        .body(StreamBody::new(timed).boxed_unsync())
        .unwrap_or_default())
}

type FrameResult = Result<Frame<Bytes>, std::io::Error>;

/// Records the download duration when the stream ends or the client goes away.
struct TimedStream {
    inner: std::pin::Pin<Box<dyn futures_util::Stream<Item = FrameResult> + Send>>,
    started: Instant,
}

impl futures_util::Stream for TimedStream {
    type Item = FrameResult;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl Drop for TimedStream {
    fn drop(&mut self) {
        metrics::histogram!(m::FILE_DOWNLOAD_SECONDS).record(self.started.elapsed().as_secs_f64());
    }
}
