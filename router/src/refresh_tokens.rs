//! Refresh tokens: one rotating family per signed-in device, stored as SHA-256 hashes (migration 0006).
//!
//! Access tokens are short (an hour by default) so that a revocation takes effect soon without the nodes asking
//! anyone on every connect; the refresh token is what keeps a phone signed in for years (the original product's
//! rule). Each refresh marks the presented token used and hands out the next one of the same family; a used token
//! presented again means two parties hold copies, so the whole family is revoked and both must sign in again
//! (refresh token rotation, RFC 9700 §4.14.2). A passkey reset or a retirement ends a family at its next refresh;
//! logout, a newer mobile device and a new sign-in of the same device end it at once.

use sendjay_common::protocol::DeviceClass;
use sha2::{Digest, Sha256};
use tokio_postgres::GenericClient;

use crate::error::RouterError;

/// Used tokens are kept this long after their use to recognise a replay; older ones are collected.
const KEEP_USED_FOR: &str = "7 days";

/// A refresh token as handed to the client.
#[derive(Debug, Clone)]
pub struct IssuedRefresh {
    /// The token (64 hex characters); only its hash is stored.
    pub token: String,
    /// When it expires unless used, Unix seconds.
    pub expires_at: i64,
}

/// Who a family belongs to and how it was started.
#[derive(Debug, Clone)]
pub struct Family {
    /// The user.
    pub user_id: String,
    /// Web or mobile.
    pub device: DeviceClass,
    /// The installation's id.
    pub device_id: String,
    /// `password` or `sso`.
    pub method: String,
}

/// What presenting a refresh token led to.
#[derive(Debug)]
pub enum Rotation {
    /// Valid: the next token of the family, and the user's current passkey for the access token.
    Rotated {
        /// The family.
        family: Family,
        /// The current passkey.
        passkey: String,
        /// The next refresh token.
        next: IssuedRefresh,
    },
    /// Not a token this cluster issued (or collected long ago).
    Unknown,
    /// Past its expiry.
    Expired,
    /// Revoked earlier (logout, newer device, passkey reset, retirement, reuse); the reason.
    Revoked(String),
    /// Used before: the family is revoked now.
    Reused(Family),
    /// The user is retired: the family is revoked now.
    Retired(Family),
    /// The passkey was reset since the sign-in: the family is revoked now.
    PasskeyReset(Family),
}

/// The stored form of a token: its SHA-256.
pub fn stored_hash(token: &str) -> Vec<u8> {
    hash(token)
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Starts a family for a sign-in and returns its first token.
pub async fn start_family(
    client: &impl GenericClient,
    family: &Family,
    passkey: &str,
    ttl_secs: i64,
) -> Result<IssuedRefresh, RouterError> {
    insert(client, uuid::Uuid::new_v4(), family, passkey, ttl_secs).await
}

async fn insert(
    client: &impl GenericClient,
    family_id: uuid::Uuid,
    family: &Family,
    passkey: &str,
    ttl_secs: i64,
) -> Result<IssuedRefresh, RouterError> {
    let token = new_token();
    let row = client
        .query_one(
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, device, device_id, passkey, method, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8::bigint::double precision))
             RETURNING extract(epoch FROM expires_at)::bigint",
            &[
                &hash(&token),
                &family_id,
                &family.user_id,
                &family.device.as_str(),
                &family.device_id,
                &passkey,
                &family.method,
                &ttl_secs,
            ],
        )
        .await?;
    Ok(IssuedRefresh {
        token,
        expires_at: row.get(0),
    })
}

/// Revokes the live families of `user` that `filter` selects (an SQL condition on `device`/`device_id` using
/// `$3`); returns how many tokens were revoked.
async fn revoke_where(
    client: &impl GenericClient,
    user: &str,
    reason: &str,
    filter: &str,
    arg: &str,
) -> Result<u64, RouterError> {
    Ok(client
        .execute(
            &format!(
                "UPDATE refresh_tokens SET revoked_at = now(), revoked_reason = $2
                  WHERE user_id = $1 AND revoked_at IS NULL AND used_at IS NULL AND ({filter})"
            ),
            &[&user, &reason, &arg],
        )
        .await?)
}

/// Revokes the families of one installation (a new sign-in of the same device replaces them).
pub async fn revoke_device(
    client: &impl GenericClient,
    user: &str,
    device_id: &str,
    reason: &str,
) -> Result<u64, RouterError> {
    revoke_where(client, user, reason, "device_id = $3", device_id).await
}

/// Revokes the families of every other mobile installation of `user`: one phone per user, as in the original
/// product. Returns how many were revoked.
pub async fn revoke_other_mobile_devices(
    client: &impl GenericClient,
    user: &str,
    keep_device_id: &str,
) -> Result<u64, RouterError> {
    revoke_where(
        client,
        user,
        "newer_mobile_device",
        "device = 'mobile' AND device_id <> $3",
        keep_device_id,
    )
    .await
}

/// Revokes the family of a presented token (logout); returns its owner when the token was known and live.
pub async fn revoke_family_of(
    client: &impl GenericClient,
    token: &str,
    reason: &str,
) -> Result<Option<Family>, RouterError> {
    let Some(row) = client
        .query_opt(
            "SELECT family_id, user_id, device, device_id, method FROM refresh_tokens
              WHERE token_hash = $1 AND revoked_at IS NULL AND used_at IS NULL AND expires_at > now()",
            &[&hash(token)],
        )
        .await?
    else {
        return Ok(None);
    };
    let family_id: uuid::Uuid = row.get(0);
    revoke_family(client, family_id, reason).await?;
    Ok(Some(family_from(&row, 1)))
}

async fn revoke_family(
    client: &impl GenericClient,
    family_id: uuid::Uuid,
    reason: &str,
) -> Result<(), RouterError> {
    client
        .execute(
            "UPDATE refresh_tokens SET revoked_at = now(), revoked_reason = $2
              WHERE family_id = $1 AND revoked_at IS NULL",
            &[&family_id, &reason],
        )
        .await?;
    Ok(())
}

fn family_from(row: &tokio_postgres::Row, first: usize) -> Family {
    let device: String = row.get(first + 1);
    Family {
        user_id: row.get(first),
        device: DeviceClass::parse(&device).unwrap_or(DeviceClass::Web),
        device_id: row.get(first + 2),
        method: row.get(first + 3),
    }
}

/// Presents a refresh token: rotates it when valid, and revokes its family when it was reused or its user can no
/// longer sign in. Runs in one transaction with the token's row locked, so two concurrent refreshes of one token
/// cannot both succeed.
pub async fn rotate(
    client: &mut deadpool_postgres::Client,
    token: &str,
    ttl_secs: impl Fn(DeviceClass) -> i64,
) -> Result<Rotation, RouterError> {
    let tx = client.transaction().await?;
    let Some(row) = tx
        .query_opt(
            "SELECT rt.family_id, rt.user_id, rt.device, rt.device_id, rt.method,
                    rt.passkey, rt.expires_at <= now(), rt.used_at IS NOT NULL, rt.revoked_reason,
                    rt.revoked_at IS NOT NULL, u.passkey,
                    u.retired_at IS NOT NULL AND u.retired_at <= now()
               FROM refresh_tokens rt JOIN users u ON u.id = rt.user_id
              WHERE rt.token_hash = $1
                FOR UPDATE OF rt",
            &[&hash(token)],
        )
        .await?
    else {
        return Ok(Rotation::Unknown);
    };
    let family_id: uuid::Uuid = row.get(0);
    let family = family_from(&row, 1);
    let issued_passkey: String = row.get(5);
    let (expired, used, revoked): (bool, bool, bool) = (row.get(6), row.get(7), row.get(9));
    let current_passkey: String = row.get(10);
    let retired: bool = row.get(11);
    let outcome = if revoked {
        Rotation::Revoked(row.get::<_, Option<String>>(8).unwrap_or_default())
    } else if used {
        revoke_family(&*tx, family_id, "reused").await?;
        Rotation::Reused(family)
    } else if expired {
        Rotation::Expired
    } else if retired {
        revoke_family(&*tx, family_id, "retired").await?;
        Rotation::Retired(family)
    } else if issued_passkey != current_passkey {
        revoke_family(&*tx, family_id, "passkey_reset").await?;
        Rotation::PasskeyReset(family)
    } else {
        tx.execute(
            "UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1",
            &[&hash(token)],
        )
        .await?;
        tx.execute(
            &format!(
                "DELETE FROM refresh_tokens WHERE family_id = $1 AND used_at < now() - interval '{KEEP_USED_FOR}'"
            ),
            &[&family_id],
        )
        .await?;
        let next = insert(
            &*tx,
            family_id,
            &family,
            &current_passkey,
            ttl_secs(family.device),
        )
        .await?;
        Rotation::Rotated {
            family,
            passkey: current_passkey,
            next,
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_stored_only_as_hashes() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(hash(&a).len(), 32);
        assert_ne!(hash(&a), a.as_bytes());
    }
}
