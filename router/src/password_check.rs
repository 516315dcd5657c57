//! Checking a user's password the way `POST /v1/login` does, for every endpoint that takes one (login, password
//! change): the failure limits first, then argon2 against the stored hash — or a dummy hash for an unknown user,
//! so refusing one takes as long as a wrong password — then counting the outcome in Redis and the audit log.

use std::net::IpAddr;

use hyper::{Response, StatusCode};

use crate::accounts::{self, Account};
use crate::http::{error, throttled, unavailable, Body};
use crate::login_throttle::Verdict;
use crate::RouterContext;

/// The account of `user_id` when `password` is right; otherwise the answer to send (`400 bad_request`,
/// `429 too_many_attempts`, `401 invalid_credentials` or `503 unavailable`). `method` names the endpoint in the
/// audit entry of a refusal (`password`, `password_change`).
pub async fn check(
    ctx: &RouterContext,
    user_id: &str,
    password: String,
    source: IpAddr,
    method: &'static str,
) -> Result<Account, Response<Body>> {
    if user_id.is_empty() || user_id.len() > 64 {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "user_id must be 1-64 characters",
        ));
    }
    match ctx.login_throttle.check(user_id, source).await {
        Ok(Verdict::Allowed) => {}
        Ok(Verdict::Throttled { retry_after, limit }) => return Err(throttled(retry_after, limit)),
        Err(e) => return Err(unavailable(e)),
    }
    let account = accounts::load(&ctx.pool, user_id)
        .await
        .map_err(unavailable)?;
    let phc = account.as_ref().map_or_else(
        || ctx.dummy_password_hash.clone(),
        |a| a.password_hash.clone(),
    );
    let verified = accounts::verify_password(password, phc).await;
    let Some(account) = account.filter(|_| verified) else {
        if let Err(e) = ctx.login_throttle.failed(user_id, source).await {
            tracing::warn!(error = %e, "could not count a failed password check in Redis");
        }
        crate::sign_in::audit_refused(ctx, user_id, source, method, "invalid_credentials").await;
        if method == "password" {
            metrics::counter!(crate::metrics::LOGINS, "result" => "invalid_credentials")
                .increment(1);
        }
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "unknown user or wrong password",
        ));
    };
    if let Err(e) = ctx.login_throttle.succeeded(user_id, source).await {
        tracing::debug!(error = %e, "could not clear the login failure counter in Redis");
    }
    Ok(account)
}
