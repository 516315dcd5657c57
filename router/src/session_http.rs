//! The session endpoints besides login (docs/protocol.md §2.3–2.5): `POST /v1/refresh` trades a refresh token
//! for a new access token and the next refresh token, `POST /v1/logout` ends a device's sign-in, and
//! `POST /v1/password` changes a password user's password, which signs the user out everywhere.

use std::net::SocketAddr;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use sendjay_common::audit::{self, AuditEntry};
use serde::Deserialize;

use crate::accounts;
use crate::http::{error, json, read_json, source_address, throttled, unavailable, Body};
use crate::login_throttle::Verdict;
use crate::refresh_tokens::{self, Rotation};
use crate::sign_in::{refresh_ttl_secs, SessionResponse};
use crate::RouterContext;

/// Shortest password accepted by `/v1/password`.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted by `/v1/password`.
pub const MAX_PASSWORD_CHARS: usize = 256;

#[derive(Deserialize)]
struct RefreshRequest {
    refresh_token: String,
}

#[derive(Deserialize)]
struct PasswordRequest {
    user_id: String,
    password: String,
    new_password: String,
}

/// `401` with `code`: the client must sign in again.
fn sign_in_again(code: &str, why: &str) -> Response<Body> {
    error(
        StatusCode::UNAUTHORIZED,
        code,
        &format!("{why}; sign in again"),
    )
}

/// `POST /v1/refresh {refresh_token}`.
pub async fn refresh(
    req: Request<Incoming>,
    peer: SocketAddr,
    ctx: &RouterContext,
) -> Response<Body> {
    let source = source_address(&req, peer, ctx);
    if let Verdict::Throttled { retry_after, limit } = ctx.login_throttle.check_local(source) {
        return throttled(retry_after, limit);
    }
    let request: RefreshRequest =
        match read_json(req, "expected JSON {\"refresh_token\": string}").await {
            Ok(request) => request,
            Err(response) => return response,
        };
    let mut client = match ctx.pool.get().await {
        Ok(client) => client,
        Err(e) => return unavailable(e.into()),
    };
    // The node is picked before the token is rotated: answering "no node" after rotating would lose the new
    // refresh token, and the client's retry with the old one would look like theft.
    let owner = match client
        .query_opt(
            "SELECT user_id FROM refresh_tokens WHERE token_hash = $1",
            &[&refresh_tokens::stored_hash(&request.refresh_token)],
        )
        .await
    {
        Ok(Some(row)) => row.get::<_, String>(0),
        Ok(None) => return sign_in_again("invalid_refresh_token", "this refresh token is unknown"),
        Err(e) => return unavailable(e.into()),
    };
    let node = match ctx.nodes.assign(&owner).await {
        Ok(Some(node)) => node,
        Ok(None) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_nodes",
                "no node is alive; retry shortly with the same refresh token",
            )
        }
        Err(e) => return unavailable(e),
    };
    let rotation = refresh_tokens::rotate(&mut client, &request.refresh_token, |device| {
        refresh_ttl_secs(ctx, device)
    })
    .await;
    let (family, passkey, next) = match rotation {
        Ok(Rotation::Rotated {
            family,
            passkey,
            next,
        }) => (family, passkey, next),
        Ok(Rotation::Unknown) => {
            return sign_in_again("invalid_refresh_token", "this refresh token is unknown")
        }
        Ok(Rotation::Expired) => {
            return sign_in_again("refresh_expired", "this refresh token has expired")
        }
        Ok(Rotation::Revoked(reason)) => {
            return sign_in_again(
                "refresh_revoked",
                &format!("this sign-in was ended ({reason})"),
            )
        }
        Ok(Rotation::PasskeyReset(_)) => {
            return sign_in_again("refresh_revoked", "authentication was reset")
        }
        Ok(Rotation::Retired(_)) => {
            return error(
                StatusCode::FORBIDDEN,
                "user_retired",
                "this account is retired; contact your administrator",
            )
        }
        Ok(Rotation::Reused(family)) => {
            metrics::counter!(crate::metrics::REFRESH_REUSED).increment(1);
            let entry = AuditEntry::new(None, audit::REFRESH_REUSED)
                .subject(family.user_id.as_str())
                .source(source.to_string())
                .detail(serde_json::json!({
                    "device": family.device.as_str(),
                    "device_id": family.device_id,
                }));
            if let Err(e) = entry.write(&**client).await {
                tracing::warn!(error = %e, "could not write a refresh_reused audit entry");
            }
            return sign_in_again(
                "refresh_reused",
                "this refresh token was used before, so a copy may be in other hands and every token of this sign-in is revoked",
            );
        }
        Err(e) => return unavailable(e),
    };
    let now = sendjay_common::jwt::now_secs();
    let token = match ctx.tokens.issue_for_device(
        &family.user_id,
        &passkey,
        family.device,
        Some(&family.device_id),
        now,
        ctx.config.token_ttl_secs,
    ) {
        Ok(token) => token,
        Err(e) => return unavailable(crate::RouterError::Internal(e.to_string())),
    };
    metrics::counter!(crate::metrics::REFRESHES).increment(1);
    json(
        StatusCode::OK,
        &SessionResponse {
            token,
            user_id: &family.user_id,
            device: family.device.as_str(),
            expires_at: now + ctx.config.token_ttl_secs,
            node,
            device_id: &family.device_id,
            refresh_token: next.token,
            refresh_expires_at: next.expires_at,
        },
    )
}

/// `POST /v1/logout {refresh_token}`: revokes the sign-in the token belongs to. Always `200` (an unknown or
/// already ended sign-in is signed out already).
pub async fn logout(
    req: Request<Incoming>,
    peer: SocketAddr,
    ctx: &RouterContext,
) -> Response<Body> {
    let source = source_address(&req, peer, ctx);
    let request: RefreshRequest =
        match read_json(req, "expected JSON {\"refresh_token\": string}").await {
            Ok(request) => request,
            Err(response) => return response,
        };
    let outcome = async {
        let mut client = ctx.pool.get().await?;
        let tx = client.transaction().await?;
        if let Some(family) =
            refresh_tokens::revoke_family_of(&*tx, &request.refresh_token, "logout").await?
        {
            AuditEntry::new(Some(&family.user_id), audit::LOGOUT)
                .subject(family.user_id.as_str())
                .source(source.to_string())
                .detail(serde_json::json!({
                    "device": family.device.as_str(),
                    "device_id": family.device_id,
                }))
                .write(&*tx)
                .await?;
        }
        tx.commit().await?;
        Ok::<(), crate::RouterError>(())
    }
    .await;
    match outcome {
        Ok(()) => json(StatusCode::OK, &serde_json::json!({ "signed_out": true })),
        Err(e) => unavailable(e),
    }
}

/// `POST /v1/password {user_id, password, new_password}`: checks the current password (with the login limits),
/// stores the new one, resets the passkey (every token and refresh token of the user is revoked) and closes the
/// user's live sessions. The caller signs in again with the new password.
pub async fn change_password(
    req: Request<Incoming>,
    peer: SocketAddr,
    ctx: &RouterContext,
) -> Response<Body> {
    let source = source_address(&req, peer, ctx);
    if let Verdict::Throttled { retry_after, limit } = ctx.login_throttle.check_local(source) {
        return throttled(retry_after, limit);
    }
    let request: PasswordRequest = match read_json(
        req,
        "expected JSON {\"user_id\": string, \"password\": string, \"new_password\": string}",
    )
    .await
    {
        Ok(request) => request,
        Err(response) => return response,
    };
    let chars = request.new_password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return error(
            StatusCode::BAD_REQUEST,
            "weak_password",
            &format!("the new password must be {MIN_PASSWORD_CHARS}-{MAX_PASSWORD_CHARS} characters; choose another"),
        );
    }
    if request.new_password == request.password {
        return error(
            StatusCode::BAD_REQUEST,
            "weak_password",
            "the new password must differ from the current one; choose another",
        );
    }
    let account = match crate::password_check::check(
        ctx,
        &request.user_id,
        request.password,
        source,
        "password_change",
    )
    .await
    {
        Ok(account) => account,
        Err(response) => return response,
    };
    if account.retired {
        return error(
            StatusCode::FORBIDDEN,
            "user_retired",
            "this account is retired; contact your administrator",
        );
    }
    let new_password = request.new_password;
    let hashed = tokio::task::spawn_blocking(move || accounts::hash_password(&new_password)).await;
    let phc = match hashed {
        Ok(Ok(phc)) => phc,
        Ok(Err(e)) => return unavailable(e),
        Err(e) => return unavailable(crate::RouterError::Internal(e.to_string())),
    };
    if let Err(e) = store_password(ctx, &request.user_id, &phc, source).await {
        return unavailable(e);
    }
    crate::session_close::close_everywhere(
        &ctx.redis,
        &ctx.keys,
        ctx.redis_cluster,
        &request.user_id,
        "the password was changed: sign in again",
    );
    json(
        StatusCode::OK,
        &serde_json::json!({ "user_id": request.user_id, "signed_out_everywhere": true }),
    )
}

/// New hash and passkey, every refresh token revoked and the audit entry, in one transaction.
async fn store_password(
    ctx: &RouterContext,
    user: &str,
    phc: &str,
    source: std::net::IpAddr,
) -> Result<(), crate::RouterError> {
    let mut client = ctx.pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute(
        "UPDATE users SET password_hash = $2, passkey = $3, updated_at = now() WHERE id = $1",
        &[&user, &phc, &sendjay_common::ids::new_passkey()],
    )
    .await?;
    tx.execute(
        "UPDATE refresh_tokens SET revoked_at = now(), revoked_reason = 'password_changed'
          WHERE user_id = $1 AND revoked_at IS NULL",
        &[&user],
    )
    .await?;
    AuditEntry::new(Some(user), audit::PASSWORD_CHANGED)
        .subject(user)
        .source(source.to_string())
        .write(&*tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
