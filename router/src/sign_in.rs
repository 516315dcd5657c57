//! The end of every successful sign-in, by password or SSO: the user is known and verified; refuse a retired
//! account, pick the node, start the device's refresh-token family, sign the access token, write the audit entry.
//!
//! One function for both ways in, so a rule (one phone per user, a new sign-in of a device replaces its old one)
//! holds however the user signed in.

use std::net::IpAddr;

use hyper::{Response, StatusCode};
use sendjay_common::audit::{self, AuditEntry};
use sendjay_common::protocol::DeviceClass;
use serde::Serialize;

use crate::accounts::Account;
use crate::http::{error, json, unavailable, Body};
use crate::nodes::NodeInfo;
use crate::refresh_tokens::{self, Family, IssuedRefresh};
use crate::RouterContext;

/// A verified user about to get a session.
#[derive(Debug)]
pub struct SignIn<'a> {
    /// The user id.
    pub user_id: &'a str,
    /// The user's account row.
    pub account: &'a Account,
    /// Web or mobile.
    pub device: DeviceClass,
    /// The installation's id from the client, when it sent one (one is made up otherwise).
    pub device_id: Option<String>,
    /// Where the request came from.
    pub source: IpAddr,
    /// `password` or `sso`.
    pub method: &'static str,
}

/// The body of a successful `POST /v1/login`, `/v1/refresh` and `/v1/sso/exchange` (docs/protocol.md §2.1).
#[derive(Serialize)]
pub struct SessionResponse<'a> {
    /// The access token (JWT) for `/v1/assign` and the node's WebSocket.
    pub token: String,
    /// The user id.
    pub user_id: &'a str,
    /// `web` or `mobile`.
    pub device: &'a str,
    /// When the access token expires, Unix seconds.
    pub expires_at: i64,
    /// The node to connect to.
    pub node: NodeInfo,
    /// The installation's id: send it with the next password login of this device.
    pub device_id: &'a str,
    /// The refresh token for `POST /v1/refresh`; keep it secret (it is the sign-in).
    pub refresh_token: String,
    /// When the refresh token expires unless used, Unix seconds.
    pub refresh_expires_at: i64,
}

/// A device id is 1-64 characters of `A-Z a-z 0-9 . _ -`.
pub fn valid_device_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The refresh-token lifetime of a device class.
pub fn refresh_ttl_secs(ctx: &RouterContext, device: DeviceClass) -> i64 {
    let days = match device {
        DeviceClass::Web => ctx.config.refresh_ttl_days_web,
        DeviceClass::Mobile => ctx.config.refresh_ttl_days_mobile,
    };
    i64::from(days) * 86_400
}

/// Records a refused sign-in in the audit log (best effort: a failure to log never changes the answer).
pub async fn audit_refused(
    ctx: &RouterContext,
    claimed_user: &str,
    source: IpAddr,
    method: &str,
    reason: &str,
) {
    let entry = AuditEntry::new(None, audit::LOGIN_FAILED)
        .subject(claimed_user)
        .source(source.to_string())
        .detail(serde_json::json!({ "method": method, "reason": reason }));
    if let Err(e) = write_audit(ctx, &entry).await {
        tracing::warn!(error = %e, "could not write a login_failed audit entry; is PostgreSQL up?");
    }
}

async fn write_audit(ctx: &RouterContext, entry: &AuditEntry) -> Result<(), crate::RouterError> {
    let client = ctx.pool.get().await?;
    entry.write(&**client).await?;
    Ok(())
}

/// Grants a session to a verified user and answers with [`SessionResponse`], or with the documented error.
pub async fn grant(ctx: &RouterContext, sign_in: SignIn<'_>) -> Response<Body> {
    if sign_in.account.retired {
        metrics::counter!(crate::metrics::LOGINS, "result" => "retired").increment(1);
        audit_refused(
            ctx,
            sign_in.user_id,
            sign_in.source,
            sign_in.method,
            "user_retired",
        )
        .await;
        return error(
            StatusCode::FORBIDDEN,
            "user_retired",
            "this account is retired; contact your administrator",
        );
    }
    let node = match ctx.nodes.assign(sign_in.user_id).await {
        Ok(Some(node)) => node,
        Ok(None) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_nodes",
                "no node is alive; retry shortly",
            )
        }
        Err(e) => return unavailable(e),
    };
    let device_id = sign_in
        .device_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let family = Family {
        user_id: sign_in.user_id.to_owned(),
        device: sign_in.device,
        device_id: device_id.clone(),
        method: sign_in.method.to_owned(),
    };
    let refresh = match start_session(ctx, &sign_in, &family).await {
        Ok(refresh) => refresh,
        Err(e) => return unavailable(e),
    };
    let now = sendjay_common::jwt::now_secs();
    let token = match ctx.tokens.issue_for_device(
        sign_in.user_id,
        &sign_in.account.passkey,
        sign_in.device,
        Some(&device_id),
        now,
        ctx.config.token_ttl_secs,
    ) {
        Ok(token) => token,
        Err(e) => return unavailable(crate::error::RouterError::Internal(e.to_string())),
    };
    metrics::counter!(crate::metrics::LOGINS, "result" => "ok").increment(1);
    metrics::counter!(crate::metrics::ASSIGNMENTS, "route" => "login").increment(1);
    json(
        StatusCode::OK,
        &SessionResponse {
            token,
            user_id: sign_in.user_id,
            device: sign_in.device.as_str(),
            expires_at: now + ctx.config.token_ttl_secs,
            node,
            device_id: &device_id,
            refresh_token: refresh.token,
            refresh_expires_at: refresh.expires_at,
        },
    )
}

/// In one transaction: the device's earlier families end, on mobile every other phone's too, the new family
/// starts and the sign-in is audited.
async fn start_session(
    ctx: &RouterContext,
    sign_in: &SignIn<'_>,
    family: &Family,
) -> Result<IssuedRefresh, crate::RouterError> {
    let mut client = ctx.pool.get().await?;
    let tx = client.transaction().await?;
    refresh_tokens::revoke_device(&*tx, sign_in.user_id, &family.device_id, "signed_in_again")
        .await?;
    let source = sign_in.source.to_string();
    if sign_in.device == DeviceClass::Mobile {
        let replaced =
            refresh_tokens::revoke_other_mobile_devices(&*tx, sign_in.user_id, &family.device_id)
                .await?;
        if replaced > 0 {
            AuditEntry::new(Some(sign_in.user_id), audit::DEVICE_REPLACED)
                .subject(sign_in.user_id)
                .source(source.clone())
                .detail(serde_json::json!({ "device_id": family.device_id, "revoked_tokens": replaced }))
                .write(&*tx)
                .await?;
        }
    }
    let refresh = refresh_tokens::start_family(
        &*tx,
        family,
        &sign_in.account.passkey,
        refresh_ttl_secs(ctx, sign_in.device),
    )
    .await?;
    AuditEntry::new(Some(sign_in.user_id), audit::LOGIN)
        .subject(sign_in.user_id)
        .source(source)
        .detail(serde_json::json!({
            "method": sign_in.method,
            "device": sign_in.device.as_str(),
            "device_id": family.device_id,
        }))
        .write(&*tx)
        .await?;
    tx.commit().await?;
    Ok(refresh)
}
