//! The single-use records of a single sign-on, kept in Redis so any router replica can finish what another
//! started: the browser may reach one router at `/v1/sso/start` and another at `/v1/sso/callback`.
//!
//! * A **pending sign-in** is written at `/v1/sso/start` under its OAuth `state` (10 minutes): the PKCE
//!   verifier, the nonce and the device class. The callback takes it with `GETDEL`, so a state works once —
//!   a replayed or forged callback finds nothing.
//! * A **handoff** is written when the callback has mapped the ID token to a sendjay user (60 seconds): a
//!   random 256-bit value the browser gets in the URL fragment and trades for a session at
//!   `/v1/sso/exchange`, again once (`GETDEL`). The session token itself never appears in a URL.

use fred::prelude::*;
use rand::RngCore;
use sendjay_common::keys::KeySchema;
use sendjay_common::protocol::DeviceClass;
use serde::{Deserialize, Serialize};

use crate::error::RouterError;

/// Seconds a started sign-on may take at the provider before its state expires.
pub const PENDING_TTL_SECS: i64 = 600;
/// Seconds the client has to exchange a handoff.
pub const HANDOFF_TTL_SECS: i64 = 60;

/// A sign-on started at `/v1/sso/start`, waiting for the provider's callback.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingSignIn {
    /// The PKCE code verifier (its S256 challenge went to the provider).
    pub pkce_verifier: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// `web` or `mobile`: the device class of the session to issue.
    pub device: String,
}

/// A verified sign-on, waiting for `/v1/sso/exchange`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Handoff {
    /// The sendjay user the ID token mapped to.
    pub user_id: String,
    /// `web` or `mobile`.
    pub device: String,
}

impl Handoff {
    /// The device class (`web` when the stored value is unknown, which only a bug could write).
    pub fn device_class(&self) -> DeviceClass {
        DeviceClass::parse(&self.device).unwrap_or(DeviceClass::Web)
    }
}

/// Writes and takes the sign-on records.
#[derive(Clone)]
pub struct SsoStore {
    redis: Client,
    keys: KeySchema,
}

/// 32 random bytes from the OS-seeded generator, as 64 hex digits.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Whether `value` looks like something [`random_token`] or a provider's `state` could be (bounded, URL-safe),
/// so junk never becomes a Redis key.
pub fn plausible_token(value: &str) -> bool {
    (16..=256).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

impl SsoStore {
    /// Records under `keys` in `redis`.
    pub fn new(redis: Client, keys: KeySchema) -> SsoStore {
        SsoStore { redis, keys }
    }

    /// Keeps a started sign-on under `state` for [`PENDING_TTL_SECS`].
    pub async fn put_pending(
        &self,
        state: &str,
        pending: &PendingSignIn,
    ) -> Result<(), RouterError> {
        self.put(&self.keys.sso_state(state), pending, PENDING_TTL_SECS)
            .await
    }

    /// Takes the sign-on started under `state`; `None` when it is unknown, expired or already taken.
    pub async fn take_pending(&self, state: &str) -> Result<Option<PendingSignIn>, RouterError> {
        if !plausible_token(state) {
            return Ok(None);
        }
        self.take(&self.keys.sso_state(state)).await
    }

    /// Keeps a verified sign-on under a new random handoff for [`HANDOFF_TTL_SECS`]; returns the handoff.
    pub async fn put_handoff(&self, handoff: &Handoff) -> Result<String, RouterError> {
        let token = random_token();
        self.put(&self.keys.sso_handoff(&token), handoff, HANDOFF_TTL_SECS)
            .await?;
        Ok(token)
    }

    /// Takes the sign-on behind `token`; `None` when it is unknown, expired or already taken.
    pub async fn take_handoff(&self, token: &str) -> Result<Option<Handoff>, RouterError> {
        if !plausible_token(token) {
            return Ok(None);
        }
        self.take(&self.keys.sso_handoff(token)).await
    }

    async fn put<T: Serialize>(&self, key: &str, value: &T, ttl: i64) -> Result<(), RouterError> {
        let json = serde_json::to_string(value)
            .map_err(|e| RouterError::Internal(format!("sso record: {e}")))?;
        let _: () = self
            .redis
            .set(key, json, Some(Expiration::EX(ttl)), None, false)
            .await?;
        Ok(())
    }

    async fn take<T: for<'de> Deserialize<'de>>(
        &self,
        key: &str,
    ) -> Result<Option<T>, RouterError> {
        let json: Option<String> = self.redis.getdel(key).await?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_are_256_bit_hex_and_plausible() {
        let a = random_token();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, random_token());
        assert!(plausible_token(&a));
        assert!(!plausible_token("short"));
        assert!(!plausible_token("has spaces in it, sixteen+"));
        assert!(!plausible_token(&"x".repeat(257)));
    }
}
