//! The accept loops and HTTP routing: one task per TCP connection, a semaphore capping how many are open, and
//! on the data port the WebSocket endpoint, the file API (`/v1/files…`, see [`crate::files::http`]) and the
//! operational endpoints (`/healthz`, `/readyz`, `/metrics`).
//!
//! A new data-port connection must finish its HTTP request head, upgrade and authenticate before its handshake
//! deadline, and takes an [`Admission`] place until it has authenticated: connections that never log in cannot
//! pile up. A connection whose request is a file upload or download is not cut at that deadline (a transfer
//! takes as long as the file needs) but at `SENDJAY_FILES_TRANSFER_TIMEOUT_SECS`. The operational endpoints can also be served on a listener of their own ([`ops_loop`],
//! `SENDJAY_OPS_LISTEN`), which none of that load reaches, so probes keep answering while the data port is full.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sendjay_common::WS_PATH_V1;
use tokio::net::TcpListener;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

use crate::admission::{Admission, Pending};
use crate::connection::{self, ConnectParams};
use crate::files;
use crate::sessions::Launch;
use crate::websocket::{self, query_param};
use crate::NodeContext;

type Body = Full<Bytes>;

fn text(status: StatusCode, body: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap_or_default()
}

/// Accepts connections until `shutdown` turns true.
pub async fn accept_loop(
    listener: TcpListener,
    ctx: Arc<NodeContext>,
    mut shutdown: watch::Receiver<bool>,
) {
    let limit = Arc::new(Semaphore::new(ctx.config.max_connections));
    let admission = Admission::new(
        ctx.config.max_unauthenticated,
        ctx.config.max_unauthenticated_per_ip,
    );
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Usually out of file descriptors: back off briefly instead of spinning.
                tracing::warn!(error = %e, "accept failed; raise the open-file limit (ulimit -n) if this repeats");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(pending) = admission.admit(peer.ip()) else {
            metrics::counter!(crate::metrics::CONNECTIONS_CLOSED, "reason" => "too_many_unauthenticated")
                .increment(1);
            continue; // dropping the stream refuses the connection
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            metrics::counter!(crate::metrics::CONNECTIONS_CLOSED, "reason" => "over_capacity")
                .increment(1);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let ctx = ctx.clone();
        let shutdown = shutdown.clone();
        let deadline = Instant::now() + ctx.config.handshake_timeout();
        let transfer_limit = deadline + ctx.config.files_transfer_timeout();
        tokio::spawn(async move {
            let permit = Arc::new(permit);
            let pending = Arc::new(pending);
            let files_request = Arc::new(AtomicBool::new(false));
            let seen_files = files_request.clone();
            let service = service_fn(move |req| {
                let new = NewConnection {
                    permit: permit.clone(),
                    pending: pending.clone(),
                    deadline,
                    peer: peer.ip(),
                };
                if files::http::is_files_path(req.uri().path()) {
                    seen_files.store(true, Ordering::Relaxed);
                }
                route_files(req, ctx.clone(), new, shutdown.clone())
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .max_buf_size(16 * 1024)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            let mut connection = std::pin::pin!(connection);
            // The request head and the upgrade must come before the deadline (an upgrade ends this future).
            // A file request that arrived in time streams as long as it takes, up to the transfer limit.
            if tokio::time::timeout_at(deadline, connection.as_mut())
                .await
                .is_ok()
            {
                return;
            }
            if !files_request.load(Ordering::Relaxed) {
                metrics::counter!(crate::metrics::CONNECTIONS_CLOSED, "reason" => "handshake_timeout")
                    .increment(1);
                return;
            }
            if tokio::time::timeout_at(transfer_limit, connection)
                .await
                .is_err()
            {
                metrics::counter!(crate::metrics::CONNECTIONS_CLOSED, "reason" => "files_transfer_timeout")
                    .increment(1);
            }
        });
    }
}

/// Serves only the operational endpoints on their own listener, until the node's tasks are stopped (it keeps
/// answering while the node drains, so `/readyz` can say so).
pub async fn ops_loop(listener: TcpListener, ctx: Arc<NodeContext>) {
    // Probes and scrapes are few; this bounds what a stray client of the ops port can hold.
    let limit = Arc::new(Semaphore::new(OPS_MAX_CONNECTIONS));
    loop {
        let accepted = listener.accept().await;
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            continue;
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = service_fn(move |req: Request<Incoming>| {
                let ctx = ctx.clone();
                async move {
                    let response = match ops_response(req.uri().path(), &ctx).await {
                        Some(response) => response,
                        None => text(
                            StatusCode::NOT_FOUND,
                            "not found: this port serves /healthz, /readyz and /metrics\n",
                        ),
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(OPS_CONNECTION_LIFETIME, connection).await;
        });
    }
}

/// Most simultaneous connections to the ops listener.
const OPS_MAX_CONNECTIONS: usize = 64;
/// Longest life of one ops connection (a keep-alive scraper reconnects).
const OPS_CONNECTION_LIFETIME: std::time::Duration = std::time::Duration::from_secs(60);

/// What a data-port connection carries into its upgrade: its capacity permit, its admission place and its
/// handshake deadline.
struct NewConnection {
    permit: Arc<OwnedSemaphorePermit>,
    pending: Arc<Pending>,
    deadline: Instant,
    peer: std::net::IpAddr,
}

/// Sends `/v1/files…` to the file API (streamed bodies) and everything else to [`route`].
async fn route_files(
    req: Request<Incoming>,
    ctx: Arc<NodeContext>,
    new: NewConnection,
    shutdown: watch::Receiver<bool>,
) -> Result<Response<files::http::Body>, Infallible> {
    if files::http::is_files_path(req.uri().path()) {
        return Ok(files::http::serve(req, ctx).await);
    }
    let response = route(req, ctx, new, shutdown).await?;
    Ok(response.map(files::http::boxed))
}

/// The answer of an operational endpoint, or `None` for any other path.
async fn ops_response(path: &str, ctx: &NodeContext) -> Option<Response<Body>> {
    let response = match path {
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" => match ctx.readiness().await {
            Ok(()) => text(StatusCode::OK, "ready\n"),
            Err(why) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("not ready: {why}\n"),
            ),
        },
        "/metrics" => Response::builder()
            .header("content-type", "text/plain; version=0.0.4")
            .body(Full::new(Bytes::from(crate::metrics::render(ctx).await)))
            .unwrap_or_default(),
        _ => return None,
    };
    Some(response)
}

async fn route(
    req: Request<Incoming>,
    ctx: Arc<NodeContext>,
    new: NewConnection,
    shutdown: watch::Receiver<bool>,
) -> Result<Response<Body>, Infallible> {
    if req.uri().path() == WS_PATH_V1 {
        return Ok(upgrade(req, ctx, new, shutdown));
    }
    let response = match ops_response(req.uri().path(), &ctx).await {
        Some(response) => response,
        None => text(
            StatusCode::NOT_FOUND,
            "not found: try /v1/ws, /v1/files, /healthz, /readyz or /metrics\n",
        ),
    };
    Ok(response)
}

fn upgrade(
    req: Request<Incoming>,
    ctx: Arc<NodeContext>,
    new: NewConnection,
    shutdown: watch::Receiver<bool>,
) -> Response<Body> {
    if ctx.is_draining() {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "node draining: ask the router for another node\n",
        );
    }
    let handshake = match websocket::check_upgrade(req.headers()) {
        Ok(handshake) => handshake,
        Err(refusal) => return text(StatusCode::BAD_REQUEST, refusal.message()),
    };
    let query = req.uri().query();
    let token = websocket::find_token(req.headers(), query).map(|(token, source)| {
        metrics::counter!(crate::metrics::WS_TOKEN_SOURCE, "source" => source.label()).increment(1);
        token
    });
    let NewConnection {
        permit,
        pending,
        deadline,
        peer,
    } = new;
    let params = ConnectParams {
        token,
        launch: Launch::parse(query_param(query, "launch")),
        pending,
        deadline,
        peer,
    };
    tokio::spawn(async move {
        let _permit = permit;
        match tokio::time::timeout_at(deadline, hyper::upgrade::on(req)).await {
            Err(_) => {
                metrics::counter!(crate::metrics::CONNECTIONS_CLOSED, "reason" => "handshake_timeout")
                    .increment(1);
            }
            Ok(Ok(upgraded)) => {
                let io = crate::text_frames::TextAsBinary::new(TokioIo::new(upgraded));
                let ws = WebSocketStream::from_raw_socket(
                    io,
                    Role::Server,
                    Some(websocket::server_config()),
                )
                .await;
                // One span per connection; the session fills in who it is once the token is verified.
                // Debug level: an enabled span costs memory for the connection's whole life, so it only
                // exists when SENDJAY_LOG asks for debug detail.
                let span = tracing::debug_span!(
                    "conn",
                    conn = tracing::field::Empty,
                    user = tracing::field::Empty,
                    device = tracing::field::Empty
                );
                let serve = connection::serve(ws, ctx, params, shutdown);
                tracing::Instrument::instrument(serve, span).await;
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "upgrade failed"),
        }
    });
    let mut response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-accept", handshake.accept);
    if handshake.echo_protocol {
        response = response.header("sec-websocket-protocol", sendjay_common::SUBPROTOCOL_V1);
    }
    response.body(Full::new(Bytes::new())).unwrap_or_default()
}
