//! Accepting a session: the token must verify (pinned algorithm, signature, issuer, expiry) and its passkey
//! must still be the user's current one, and the user must exist and not be retired.

use sendjay_common::close_code::CloseReason;
use sendjay_common::jwt::{Claims, TokenError, TokenKeys};

use crate::metrics as m;
use crate::store::Store;

/// A refused session: the close code and the text sent with it.
pub type Refusal = (CloseReason, String);

fn refuse(reason: CloseReason, text: &str) -> Refusal {
    metrics::counter!(m::AUTH_FAILURES, "reason" => reason.as_str()).increment(1);
    (reason, text.to_owned())
}

/// Verifies `token` and the user's current state; returns the claims or why the session is refused.
pub async fn authenticate(
    keys: &TokenKeys,
    store: &Store,
    token: Option<&str>,
) -> Result<Claims, Refusal> {
    let claims = verify(keys, token)?;
    let user = looked_up(store.user_auth(&claims.sub).await)?;
    admit(claims, user)
}

/// [`authenticate`] for a new WebSocket session: also returns the ids of the user's rooms, read in the same
/// statement (one round trip to PostgreSQL per connect instead of two).
pub async fn authenticate_session(
    keys: &TokenKeys,
    store: &Store,
    token: Option<&str>,
) -> Result<(Claims, Vec<i64>), Refusal> {
    let claims = verify(keys, token)?;
    let found = looked_up(store.session_user(&claims.sub).await)?;
    let (user, rooms) = found.map_or((None, Vec::new()), |(user, rooms)| (Some(user), rooms));
    Ok((admit(claims, user)?, rooms))
}

fn verify(keys: &TokenKeys, token: Option<&str>) -> Result<Claims, Refusal> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(refuse(
            CloseReason::AuthFailed,
            "no token: send `Authorization: Bearer <jwt>` or subprotocol `sendjay.token.<jwt>` (jwt from /v1/login)",
        ));
    };
    match keys.verify(token) {
        Ok(claims) => Ok(claims),
        Err(TokenError::Expired) => Err(refuse(
            CloseReason::TokenExpired,
            "token expired: log in again",
        )),
        Err(_) => Err(refuse(
            CloseReason::AuthFailed,
            "invalid token: log in again",
        )),
    }
}

fn looked_up<T>(found: Result<T, crate::error::NodeError>) -> Result<T, Refusal> {
    found.map_err(|e| {
        tracing::warn!(error = %e, fault = e.fault().as_str(), "could not check a token's user");
        metrics::counter!(m::AUTH_FAILURES, "reason" => "database").increment(1);
        (
            CloseReason::Internal,
            "cannot check your account now: reconnect later".into(),
        )
    })
}

fn admit(claims: Claims, user: Option<crate::store::UserAuth>) -> Result<Claims, Refusal> {
    match user {
        None => Err(refuse(CloseReason::UserUnavailable, "unknown user")),
        Some(user) if user.retired => Err(refuse(CloseReason::UserUnavailable, "user is retired")),
        Some(user) if user.passkey != claims.pk => Err(refuse(
            CloseReason::TokenRevoked,
            "token revoked (authentication was reset): log in again",
        )),
        Some(_) => Ok(claims),
    }
}
