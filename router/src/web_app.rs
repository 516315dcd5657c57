//! Serves the built web app (`web/app/dist`, setting `SENDJAY_WEB_DIR`) at `/`, so the app, `/v1/login` and
//! `/v1/assign` share one origin and login needs no CORS.
//!
//! Why each header: `index.html` is `no-cache` (a deploy is picked up on the next load), files under `assets/`
//! carry a content hash in their name and are cached for a year as `immutable`; every answer has
//! `X-Content-Type-Options: nosniff`, and HTML gets a Content-Security-Policy that allows scripts and styles from
//! this origin only, WebSocket connections (`ws:`/`wss:`) to the nodes, whose URLs are on other ports or hosts, and
//! HTTP(S) fetches and images from the nodes' file API (docs/protocol.md §19: uploads, thumbnails, downloads).
//! A path that names no file and has no file extension is a screen of the single-page app: it gets `index.html`.
//! Paths are checked segment by segment after percent-decoding (no `..`, no hidden files, no backslashes) and the
//! file found must still lie inside the directory after symlinks are resolved.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Response, StatusCode};

/// The Content-Security-Policy of the app's HTML.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob: http: https:; font-src 'self'; connect-src 'self' ws: wss: http: https:; worker-src 'self'; \
     object-src 'none'; base-uri 'self'; form-action 'self'";

/// `Cache-Control` of the hashed files under `assets/`.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

type Body = Full<Bytes>;

/// True for paths the web app answers: every `GET`/`HEAD` outside the API (`/v1/…`).
pub fn handles(method: &Method, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD) && path != "/v1" && !path.starts_with("/v1/")
}

/// Answers `GET`/`HEAD path` from the web app in `dir`, or a 404 that says how to configure it.
pub async fn serve(dir: Option<&Path>, method: &Method, path: &str) -> Response<Body> {
    let Some(dir) = dir else {
        return plain(
            StatusCode::NOT_FOUND,
            "no web app here: set SENDJAY_WEB_DIR (--web-dir) to the built app, e.g. web/app/dist \
             (npm ci && npm run build in web/app); the API is POST /v1/login and GET /v1/assign\n",
        );
    };
    let head = method == Method::HEAD;
    let Some(relative) = safe_relative(path) else {
        return plain(StatusCode::BAD_REQUEST, "bad path\n");
    };
    if let Some(found) = existing_file(dir, &relative).await {
        return file(&found, head).await;
    }
    let last = relative.rsplit('/').next().unwrap_or_default();
    if last.contains('.') {
        return plain(StatusCode::NOT_FOUND, "no such file in the web app\n");
    }
    match existing_file(dir, "index.html").await {
        Some(index) => file(&index, head).await,
        None => plain(
            StatusCode::NOT_FOUND,
            "SENDJAY_WEB_DIR has no index.html; build the app (npm run build in web/app)\n",
        ),
    }
}

/// The request path as a relative file path (`""` → `index.html`), or `None` when it could leave the directory.
fn safe_relative(path: &str) -> Option<String> {
    let decoded = percent_decode(path)?;
    let mut parts = Vec::new();
    for segment in decoded.split('/') {
        if segment.is_empty() {
            continue;
        }
        if segment.starts_with('.') || segment.contains(['\\', '\0', ':']) {
            return None;
        }
        parts.push(segment);
    }
    if parts.is_empty() {
        return Some("index.html".into());
    }
    Some(parts.join("/"))
}

/// Decodes `%XX` escapes; `None` for a malformed escape or a result that is not UTF-8.
fn percent_decode(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The canonical path of `dir/relative` when it is a regular file inside the canonical `dir`.
async fn existing_file(dir: &Path, relative: &str) -> Option<PathBuf> {
    let root = tokio::fs::canonicalize(dir).await.ok()?;
    let found = tokio::fs::canonicalize(root.join(relative)).await.ok()?;
    if !found.starts_with(&root) {
        return None;
    }
    let meta = tokio::fs::metadata(&found).await.ok()?;
    meta.is_file().then_some(found)
}

async fn file(path: &Path, head: bool) -> Response<Body> {
    let bytes = match tokio::fs::read(path).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read a web app file");
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot read the file (the router's fault: check SENDJAY_WEB_DIR's permissions)\n",
            );
        }
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let in_assets = path
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|p| p == "assets");
    let content_type = content_type(name);
    let cache = if in_assets { IMMUTABLE } else { "no-cache" };
    let mut response = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", content_type)
        .header("cache-control", cache)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "same-origin")
        .header("content-length", bytes.len());
    if content_type.starts_with("text/html") {
        response = response.header("content-security-policy", CONTENT_SECURITY_POLICY);
    }
    let body = if head {
        Bytes::new()
    } else {
        Bytes::from(bytes)
    };
    response.body(Full::new(body)).unwrap_or_default()
}

/// The `Content-Type` for a file name, by extension.
pub fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    match ext.to_ascii_lowercase().as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "wasm" => "application/wasm",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn plain(status: StatusCode, body: &'static str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .header("x-content-type-options", "nosniff")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_could_leave_the_directory_are_refused() {
        for bad in [
            "/../etc/passwd",
            "/assets/../../x",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2Fetc",
            "/.env",
            "/a\\..\\b",
            "/%00",
            "/%zz",
            "/c:/x",
        ] {
            assert_eq!(safe_relative(bad), None, "{bad}");
        }
        assert_eq!(safe_relative("/").as_deref(), Some("index.html"));
        assert_eq!(
            safe_relative("/assets//index-1.js").as_deref(),
            Some("assets/index-1.js")
        );
    }

    #[test]
    fn api_paths_are_not_the_apps() {
        assert!(!handles(&Method::GET, "/v1/nothing"));
        assert!(!handles(&Method::POST, "/"));
        assert!(handles(&Method::GET, "/rooms/3"));
        assert!(handles(&Method::HEAD, "/"));
    }
}
