//! The single sign-on endpoints of the router's HTTP API (docs/protocol.md §2.9):
//!
//! * `GET /v1/auth/methods` — which sign-in methods this router offers, so a client knows whether to show
//!   the "Sign in with …" button;
//! * `GET /v1/sso/start?device=web|mobile` — 302 to the provider, the sign-on remembered in Redis;
//! * `GET /v1/sso/callback` — where the provider sends the browser back: code exchange, ID-token
//!   validation, user mapping, then a 302 to the app with a one-time handoff in the URL **fragment**;
//! * `POST /v1/sso/exchange` — the app trades the handoff for exactly what `POST /v1/login` answers.
//!
//! Why the handoff: the callback is a browser navigation, so whatever it returns lands in a URL. A session
//! token there would sit in the history and, in a query string, in every proxy's access log. A fragment is
//! never sent to a server, and the handoff in it is worth nothing after one use or 60 seconds.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use sendjay_common::protocol::DeviceClass;
use serde::{Deserialize, Serialize};

use crate::http::{error, json, source_address, throttled, unavailable, Body};
use crate::login_throttle::Verdict;
use crate::sign_in::{self, SignIn};
use crate::sso::{Sso, SsoError};
use crate::sso_state::Handoff;
use crate::{accounts, RouterContext};

/// The audit subject of a refused sign-on whose user is not known (the provider vouched for nobody yet).
const UNKNOWN: &str = "(unknown)";

/// Largest `/v1/sso/exchange` body accepted.
const MAX_EXCHANGE_BODY: usize = 4 * 1024;

#[derive(Serialize)]
struct SsoMethod<'a> {
    label: &'a str,
    start: &'static str,
}

#[derive(Serialize)]
struct AuthMethods<'a> {
    password: bool,
    sso: Option<SsoMethod<'a>>,
}

#[derive(Deserialize)]
struct ExchangeRequest {
    handoff: String,
    #[serde(default)]
    device_id: Option<String>,
}

/// `GET /v1/auth/methods`.
pub fn methods(ctx: &RouterContext) -> Response<Body> {
    json(
        StatusCode::OK,
        &AuthMethods {
            password: true,
            sso: ctx.sso.as_ref().map(|sso| SsoMethod {
                label: sso.label(),
                start: "/v1/sso/start",
            }),
        },
    )
}

fn not_configured() -> Response<Body> {
    error(
        StatusCode::NOT_FOUND,
        "sso_not_configured",
        "single sign-on is not configured on this router; sign in with a password (GET /v1/auth/methods lists what is offered)",
    )
}

fn sso_unavailable(e: &SsoError) -> Response<Body> {
    tracing::warn!(error = %e, "single sign-on: the OpenID provider is unavailable");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "sso_unavailable",
        "the company sign-in service cannot be reached; try again in a minute or sign in with a password",
    )
}

/// A 302 that no cache keeps and that leaks no referrer.
fn redirect(location: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::FOUND)
        .header(hyper::header::LOCATION, location)
        .header(hyper::header::CACHE_CONTROL, "no-store")
        .header("referrer-policy", "no-referrer")
        .body(Full::new(Bytes::new()))
        .unwrap_or_default()
}

/// Back to the app with a refusal the app explains (`/#sso_error=<code>`).
fn back_with_error(code: &'static str) -> Response<Body> {
    metrics::counter!(crate::metrics::HTTP_ERRORS, "error" => code).increment(1);
    redirect(&format!("/#sso_error={code}"))
}

/// The value of `name` in the request's query string.
fn query_param(req: &Request<Incoming>, name: &str) -> Option<String> {
    let query = req.uri().query()?;
    openidconnect::url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn configured(ctx: &RouterContext) -> Option<&Sso> {
    ctx.sso.as_ref()
}

/// `GET /v1/sso/start?device=web|mobile`.
pub async fn start(
    req: &Request<Incoming>,
    peer: SocketAddr,
    ctx: &RouterContext,
) -> Response<Body> {
    let Some(sso) = configured(ctx) else {
        return not_configured();
    };
    if let Verdict::Throttled { retry_after, limit } = ctx
        .login_throttle
        .check_local(source_address(req, peer, ctx))
    {
        return throttled(retry_after, limit);
    }
    let device = query_param(req, "device").unwrap_or_else(|| "web".into());
    let Some(device) = DeviceClass::parse(&device) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "device must be \"web\" or \"mobile\"",
        );
    };
    let (url, state, pending) = match sso.begin(device).await {
        Ok(started) => started,
        Err(e) => return sso_unavailable(&e),
    };
    if let Err(e) = ctx.sso_store.put_pending(&state, &pending).await {
        return unavailable(e);
    }
    redirect(&url)
}

/// `GET /v1/sso/callback?code=&state=` (or `?error=&state=` when the provider refused).
pub async fn callback(
    req: &Request<Incoming>,
    peer: SocketAddr,
    ctx: &RouterContext,
) -> Response<Body> {
    let Some(sso) = configured(ctx) else {
        return not_configured();
    };
    let source = source_address(req, peer, ctx);
    if let Verdict::Throttled { .. } = ctx.login_throttle.check_local(source) {
        return back_with_error("too_many_attempts");
    }
    let state = query_param(req, "state").unwrap_or_default();
    // Taken before anything else: a state works once, whatever happens next.
    let pending = match ctx.sso_store.take_pending(&state).await {
        Ok(Some(pending)) => pending,
        Ok(None) => {
            tracing::info!("single sign-on callback with an unknown, expired or used state");
            sign_in::audit_refused(ctx, UNKNOWN, source, "sso", "sso_state_unknown").await;
            return back_with_error("sso_failed");
        }
        Err(e) => {
            tracing::warn!(error = %e, "single sign-on: Redis unavailable at the callback");
            return back_with_error("unavailable");
        }
    };
    if let Some(refusal) = query_param(req, "error") {
        tracing::info!(error = %refusal, "single sign-on refused by the provider");
        sign_in::audit_refused(ctx, UNKNOWN, source, "sso", "sso_provider_refused").await;
        return back_with_error("sso_failed");
    }
    let Some(code) = query_param(req, "code").filter(|c| !c.is_empty()) else {
        return back_with_error("sso_failed");
    };
    let user_id = match sso.finish(&code, &pending).await {
        Ok(user_id) => user_id,
        Err(e @ SsoError::Unavailable(_)) => {
            tracing::warn!(error = %e, "single sign-on: provider unavailable at the callback");
            return back_with_error("sso_unavailable");
        }
        Err(e) => {
            tracing::info!(error = %e, "single sign-on failed");
            sign_in::audit_refused(ctx, UNKNOWN, source, "sso", "sso_failed").await;
            return back_with_error("sso_failed");
        }
    };
    let account = match accounts::load(&ctx.pool, &user_id).await {
        Ok(account) => account,
        Err(e) => {
            tracing::warn!(error = %e, "single sign-on: PostgreSQL unavailable at the callback");
            return back_with_error("unavailable");
        }
    };
    let Some(account) = account else {
        tracing::info!(user = %user_id, "single sign-on of a user sendjay does not know");
        sign_in::audit_refused(ctx, &user_id, source, "sso", "unknown_user").await;
        return back_with_error("unknown_user");
    };
    if account.retired {
        tracing::info!(user = %user_id, "single sign-on of a retired user");
        sign_in::audit_refused(ctx, &user_id, source, "sso", "user_retired").await;
        return back_with_error("user_retired");
    }
    let handoff = Handoff {
        user_id,
        device: pending.device,
    };
    match ctx.sso_store.put_handoff(&handoff).await {
        Ok(token) => redirect(&format!("/#sso={token}")),
        Err(e) => {
            tracing::warn!(error = %e, "single sign-on: Redis unavailable for the handoff");
            back_with_error("unavailable")
        }
    }
}

/// `POST /v1/sso/exchange {"handoff": "...", "device_id": optional}`.
pub async fn exchange(
    req: Request<Incoming>,
    peer: SocketAddr,
    ctx: &RouterContext,
) -> Response<Body> {
    if configured(ctx).is_none() {
        return not_configured();
    }
    let source = source_address(&req, peer, ctx);
    if let Verdict::Throttled { retry_after, limit } = ctx.login_throttle.check_local(source) {
        return throttled(retry_after, limit);
    }
    let body = match Limited::new(req.into_body(), MAX_EXCHANGE_BODY)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "body unreadable or over 4 KiB",
            )
        }
    };
    let Ok(request) = serde_json::from_slice::<ExchangeRequest>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "expected JSON {\"handoff\": string, \"device_id\": optional string}",
        );
    };
    if request
        .device_id
        .as_deref()
        .is_some_and(|id| !sign_in::valid_device_id(id))
    {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "device_id must be 1-64 characters of A-Z a-z 0-9 . _ -",
        );
    }
    let handoff = match ctx.sso_store.take_handoff(&request.handoff).await {
        Ok(Some(handoff)) => handoff,
        Ok(None) => return error(
            StatusCode::UNAUTHORIZED,
            "invalid_handoff",
            "this sign-in hand-off is unknown, used, or older than 60 s; start the sign-in again",
        ),
        Err(e) => return unavailable(e),
    };
    let account = match accounts::load(&ctx.pool, &handoff.user_id).await {
        Ok(Some(account)) => account,
        Ok(None) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "invalid_handoff",
                "the user of this hand-off no longer exists; contact your administrator",
            )
        }
        Err(e) => return unavailable(e),
    };
    sign_in::grant(
        ctx,
        SignIn {
            user_id: &handoff.user_id,
            account: &account,
            device: handoff.device_class(),
            device_id: request.device_id,
            source,
            method: "sso",
        },
    )
    .await
}
