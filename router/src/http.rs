//! The router's HTTP API: `POST /v1/login`, `GET /v1/assign`, the session endpoints of [`crate::session_http`],
//! and `/healthz`, `/readyz`, `/metrics`.
//! Errors are JSON `{error, message}` with a stable `error` code and a message that says what to do.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use sendjay_common::protocol::DeviceClass;
use serde::{Deserialize, Serialize};

use crate::login_throttle::Verdict;
use crate::nodes::NodeInfo;
use crate::RouterContext;

/// The body of every router response.
pub(crate) type Body = Full<Bytes>;

/// Largest request body accepted.
pub(crate) const MAX_BODY: usize = 16 * 1024;

#[derive(Deserialize)]
struct LoginRequest {
    user_id: String,
    password: String,
    device: String,
    #[serde(default)]
    device_id: Option<String>,
}

#[derive(Serialize)]
struct AssignResponse {
    node: NodeInfo,
}

/// A JSON response.
pub(crate) fn json<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .unwrap_or_default()
}

/// A documented error: `{error, message}`.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    metrics::counter!(crate::metrics::HTTP_ERRORS, "error" => code.to_owned()).increment(1);
    json(
        status,
        &serde_json::json!({ "error": code, "message": message }),
    )
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}

/// Routes one request, in a tracing span, counted and timed by route.
pub async fn route(
    req: Request<Incoming>,
    peer: SocketAddr,
    ctx: Arc<RouterContext>,
) -> Result<Response<Body>, Infallible> {
    let started = std::time::Instant::now();
    let route = crate::metrics::route_label(req.uri().path());
    let span = tracing::info_span!("request", method = %req.method(), route);
    let response = tracing::Instrument::instrument(dispatch(req, peer, ctx), span).await;
    crate::metrics::record_request(route, response.status().as_u16(), started);
    Ok(response)
}

async fn dispatch(
    req: Request<Incoming>,
    peer: SocketAddr,
    ctx: Arc<RouterContext>,
) -> Response<Body> {
    match (req.method(), req.uri().path()) {
        (&Method::POST, "/v1/login") => login(req, peer, &ctx).await,
        (&Method::GET, "/v1/assign") => assign(&req, &ctx).await,
        (&Method::POST, "/v1/refresh") => crate::session_http::refresh(req, peer, &ctx).await,
        (&Method::POST, "/v1/logout") => crate::session_http::logout(req, peer, &ctx).await,
        (&Method::POST, "/v1/password") => {
            crate::session_http::change_password(req, peer, &ctx).await
        }
        (&Method::GET, "/v1/auth/methods") => crate::sso_http::methods(&ctx),
        (&Method::GET, "/v1/sso/start") => crate::sso_http::start(&req, peer, &ctx).await,
        (&Method::GET, "/v1/sso/callback") => crate::sso_http::callback(&req, peer, &ctx).await,
        (&Method::POST, "/v1/sso/exchange") => crate::sso_http::exchange(req, peer, &ctx).await,
        (&Method::GET, "/healthz") => text(StatusCode::OK, "ok\n".into()),
        (&Method::GET, "/readyz") => match ctx.readiness().await {
            Ok(()) => text(StatusCode::OK, "ready\n".into()),
            Err(why) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {why}\n"),
            ),
        },
        (&Method::GET, "/metrics") => text(StatusCode::OK, crate::metrics::render(&ctx).await),
        (method, path) if crate::web_app::handles(method, path) => {
            crate::web_app::serve(ctx.config.web_dir.as_deref(), method, path).await
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "not_found",
            "try POST /v1/login, POST /v1/refresh or GET /v1/assign",
        ),
    }
}

/// `503 unavailable` for a dependency failure (logged with whose fault it is).
pub(crate) fn unavailable(e: crate::error::RouterError) -> Response<Body> {
    tracing::warn!(error = %e, fault = e.fault().as_str(), "router dependency failed");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "a dependency of the router is down; retry shortly",
    )
}

/// The address a login comes from: the peer, or behind a trusted proxy the last `X-Forwarded-For` entry
/// (the one the proxy appended; entries before it are whatever the client sent).
pub(crate) fn source_address(
    req: &Request<Incoming>,
    peer: SocketAddr,
    ctx: &RouterContext,
) -> IpAddr {
    if ctx.config.login_trust_forwarded_for {
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next_back())
            .and_then(|a| a.trim().parse::<IpAddr>().ok());
        if let Some(address) = forwarded {
            return address;
        }
    }
    peer.ip()
}

/// `429 too_many_attempts` with `Retry-After`.
pub(crate) fn throttled(retry_after: u64, limit: &'static str) -> Response<Body> {
    metrics::counter!(crate::metrics::LOGINS, "result" => "throttled").increment(1);
    metrics::counter!(crate::metrics::LOGINS_THROTTLED, "limit" => limit).increment(1);
    metrics::counter!(crate::metrics::HTTP_ERRORS, "error" => "too_many_attempts").increment(1);
    let body = serde_json::json!({
        "error": "too_many_attempts",
        "message": format!("too many login attempts; wait {retry_after} s before trying again"),
        "retry_after": retry_after,
    });
    let mut response = json(StatusCode::TOO_MANY_REQUESTS, &body);
    if let Ok(value) = hyper::header::HeaderValue::from_str(&retry_after.to_string()) {
        response
            .headers_mut()
            .insert(hyper::header::RETRY_AFTER, value);
    }
    response
}

async fn login(req: Request<Incoming>, peer: SocketAddr, ctx: &RouterContext) -> Response<Body> {
    let source = source_address(&req, peer, ctx);
    if let Verdict::Throttled { retry_after, limit } = ctx.login_throttle.check_local(source) {
        return throttled(retry_after, limit);
    }
    let login: LoginRequest = match read_json(
        req,
        "expected JSON {\"user_id\": string, \"password\": string, \"device\": \"web\"|\"mobile\", \"device_id\": optional string}",
    )
    .await
    {
        Ok(login) => login,
        Err(response) => return response,
    };
    if login
        .device_id
        .as_deref()
        .is_some_and(|id| !crate::sign_in::valid_device_id(id))
    {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "device_id must be 1-64 characters of A-Z a-z 0-9 . _ -",
        );
    }
    let Some(device) = DeviceClass::parse(&login.device) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "device must be \"web\" or \"mobile\"",
        );
    };
    let account =
        match crate::password_check::check(ctx, &login.user_id, login.password, source, "password")
            .await
        {
            Ok(account) => account,
            Err(response) => return response,
        };
    crate::sign_in::grant(
        ctx,
        crate::sign_in::SignIn {
            user_id: &login.user_id,
            account: &account,
            device,
            device_id: login.device_id,
            source,
            method: "password",
        },
    )
    .await
}

/// Reads a JSON body of at most [`MAX_BODY`]; a `400 bad_request` saying `expected` when it is not one.
pub(crate) async fn read_json<T: serde::de::DeserializeOwned>(
    req: Request<Incoming>,
    expected: &str,
) -> Result<T, Response<Body>> {
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "body unreadable or over 16 KiB",
            ))
        }
    };
    serde_json::from_slice::<T>(&body)
        .map_err(|_| error(StatusCode::BAD_REQUEST, "bad_request", expected))
}

async fn assign(req: &Request<Incoming>, ctx: &RouterContext) -> Response<Body> {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(claims) = token.and_then(|t| ctx.tokens.verify(t).ok()) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "send Authorization: Bearer <token from /v1/login>",
        );
    };
    match ctx.nodes.assign(&claims.sub).await {
        Ok(Some(node)) => {
            metrics::counter!(crate::metrics::ASSIGNMENTS, "route" => "assign").increment(1);
            metrics::counter!(crate::metrics::REDIRECTS).increment(1);
            json(StatusCode::OK, &AssignResponse { node })
        }
        Ok(None) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_nodes",
            "no node is alive; retry shortly",
        ),
        Err(e) => unavailable(e),
    }
}
