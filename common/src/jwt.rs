//! Session tokens: HS256 JWTs carrying the user id, the user's passkey at login time and the device class.
//!
//! The algorithm is pinned (a token naming any other, `none` included, is refused), expiry is required and
//! enforced, and the issuer is checked. A node additionally compares the passkey claim with the user's current
//! passkey, so resetting the passkey revokes every outstanding token at once. `nbf` is enforced when present,
//! `iat` may not lie in the future (beyond [`CLOCK_LEEWAY_SECS`]) and the lifetime `exp - iat` may not exceed
//! the configured maximum: a leaked signing key or a bug elsewhere must not mint tokens that live for decades. Key rotation: tokens are signed
//! with the current key and accepted when signed with the current or the previous key.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::protocol::DeviceClass;

/// The `iss` claim of every sendjay token.
pub const ISSUER: &str = "sendjay";

/// The claims of a session token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The user's passkey when the token was issued.
    pub pk: String,
    /// The device class of the session.
    pub dev: DeviceClass,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// Always [`ISSUER`].
    pub iss: String,
    /// The signed-in installation (`device_id` of the login); absent in tokens of older routers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub did: Option<String>,
}

/// Why a token was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TokenError {
    /// Past its `exp`.
    #[error("token expired; log in again to get a new one")]
    Expired,
    /// Malformed, wrongly signed, wrong algorithm or issuer.
    #[error("token is not valid ({0}); log in again to get a new one")]
    Invalid(String),
    /// The signing key is unusable (too short).
    #[error("JWT secret must be at least 32 bytes; set a longer SENDJAY_JWT_SECRET")]
    WeakKey,
    /// Signing failed.
    #[error("could not sign token: {0}")]
    Sign(String),
}

/// Seconds of clock difference tolerated between the issuer and the verifier (`iat`, `nbf`).
pub const CLOCK_LEEWAY_SECS: i64 = 60;

/// The default longest accepted token lifetime (`exp - iat`): the router's default token lifetime, 12 hours.
pub const DEFAULT_MAX_LIFETIME_SECS: i64 = 12 * 3600;

/// Signs and verifies session tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: Vec<DecodingKey>,
    validation: Validation,
    max_lifetime_secs: i64,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys { .. }")
    }
}

/// The shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

impl TokenKeys {
    /// Keys from the current secret and, during a rotation, the previous one.
    pub fn new(current: &[u8], previous: Option<&[u8]>) -> Result<TokenKeys, TokenError> {
        if current.len() < MIN_SECRET_BYTES || previous.is_some_and(|p| p.len() < MIN_SECRET_BYTES)
        {
            return Err(TokenError::WeakKey);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = 5;
        let mut decoding = vec![DecodingKey::from_secret(current)];
        decoding.extend(previous.map(DecodingKey::from_secret));
        Ok(TokenKeys {
            encoding: EncodingKey::from_secret(current),
            decoding,
            validation,
            max_lifetime_secs: DEFAULT_MAX_LIFETIME_SECS,
        })
    }

    /// Sets the longest accepted token lifetime (`exp - iat`) in seconds.
    pub fn with_max_lifetime_secs(mut self, secs: i64) -> TokenKeys {
        self.max_lifetime_secs = secs;
        self
    }

    /// Signs a token for `user` valid for `ttl_secs` from `now_secs`.
    pub fn issue(
        &self,
        user: &str,
        passkey: &str,
        device: DeviceClass,
        now_secs: i64,
        ttl_secs: i64,
    ) -> Result<String, TokenError> {
        self.issue_for_device(user, passkey, device, None, now_secs, ttl_secs)
    }

    /// Signs a token like [`TokenKeys::issue`] that also names the signed-in installation (`did`).
    pub fn issue_for_device(
        &self,
        user: &str,
        passkey: &str,
        device: DeviceClass,
        device_id: Option<&str>,
        now_secs: i64,
        ttl_secs: i64,
    ) -> Result<String, TokenError> {
        let claims = Claims {
            sub: user.to_owned(),
            pk: passkey.to_owned(),
            dev: device,
            iat: now_secs,
            exp: now_secs + ttl_secs,
            iss: ISSUER.to_owned(),
            did: device_id.map(str::to_owned),
        };
        self.sign(&claims)
    }

    /// Signs arbitrary claims (tests use this for expired tokens).
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| TokenError::Sign(e.to_string()))
    }

    /// Verifies signature, algorithm, issuer and expiry, and returns the claims.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut last = TokenError::Invalid("no key".into());
        for key in &self.decoding {
            match jsonwebtoken::decode::<Claims>(token, key, &self.validation) {
                Ok(data) => return self.check_times(data.claims),
                Err(e) => {
                    last = match e.kind() {
                        jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                            return Err(TokenError::Expired)
                        }
                        _ => TokenError::Invalid(e.to_string()),
                    }
                }
            }
        }
        Err(last)
    }
}

impl TokenKeys {
    /// Refuses an `iat` in the future and a lifetime above the maximum (signature and `exp`/`nbf` are checked).
    fn check_times(&self, claims: Claims) -> Result<Claims, TokenError> {
        if claims.iat > now_secs() + CLOCK_LEEWAY_SECS {
            return Err(TokenError::Invalid("iat is in the future".into()));
        }
        if claims.exp.saturating_sub(claims.iat) > self.max_lifetime_secs {
            return Err(TokenError::Invalid(format!(
                "lifetime exp - iat exceeds {} seconds",
                self.max_lifetime_secs
            )));
        }
        Ok(claims)
    }
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const OTHER: &[u8] = b"ffffffffffffffffffffffffffffffff";

    #[test]
    fn issues_and_verifies() {
        let keys = TokenKeys::new(KEY, None).unwrap();
        let token = keys
            .issue("alice", "pk1", DeviceClass::Mobile, now_secs(), 60)
            .unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.pk.as_str(), claims.dev),
            ("alice", "pk1", DeviceClass::Mobile)
        );
    }

    #[test]
    fn refuses_other_key_expired_none_and_garbage() {
        let keys = TokenKeys::new(KEY, None).unwrap();
        let other = TokenKeys::new(OTHER, None).unwrap();
        let forged = other
            .issue("alice", "pk", DeviceClass::Web, now_secs(), 60)
            .unwrap();
        assert!(matches!(keys.verify(&forged), Err(TokenError::Invalid(_))));
        let expired = keys
            .issue("alice", "pk", DeviceClass::Web, now_secs() - 3600, 60)
            .unwrap();
        assert_eq!(keys.verify(&expired), Err(TokenError::Expired));
        assert!(matches!(
            keys.verify("not.a.token"),
            Err(TokenError::Invalid(_))
        ));
        assert!(matches!(
            keys.verify(&unsigned_none_token("alice")),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn rotation_accepts_previous_key() {
        let old = TokenKeys::new(OTHER, None).unwrap();
        let token = old
            .issue("bob", "pk", DeviceClass::Web, now_secs(), 60)
            .unwrap();
        let rotated = TokenKeys::new(KEY, Some(OTHER)).unwrap();
        assert_eq!(rotated.verify(&token).unwrap().sub, "bob");
        assert_eq!(
            TokenKeys::new(b"short", None).unwrap_err(),
            TokenError::WeakKey
        );
    }

    /// Signs raw claims, `nbf` included, as a token minted elsewhere with the right key could carry them.
    fn raw_token(iat: i64, exp: i64, nbf: Option<i64>) -> String {
        #[derive(Serialize)]
        struct Raw {
            sub: &'static str,
            pk: &'static str,
            dev: DeviceClass,
            iat: i64,
            exp: i64,
            iss: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            nbf: Option<i64>,
        }
        let raw = Raw {
            sub: "alice",
            pk: "pk",
            dev: DeviceClass::Web,
            iat,
            exp,
            iss: ISSUER,
            nbf,
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &raw,
            &EncodingKey::from_secret(KEY),
        )
        .unwrap()
    }

    #[test]
    fn refuses_future_nbf_future_iat_and_overlong_lifetime() {
        let keys = TokenKeys::new(KEY, None).unwrap();
        let now = now_secs();
        let year = 365 * 24 * 3600;
        // Accepted: a normal token, nbf in the past, iat within the clock leeway.
        keys.verify(&raw_token(now, now + 3600, Some(now - 10)))
            .unwrap();
        keys.verify(&raw_token(now + 30, now + 3600, None)).unwrap();
        for (what, token) in [
            (
                "nbf an hour ahead",
                raw_token(now, now + 7200, Some(now + 3600)),
            ),
            (
                "iat a year ahead",
                raw_token(now + year, now + year + 60, None),
            ),
            (
                "exp 100 years ahead",
                raw_token(now, now + 100 * year, None),
            ),
        ] {
            assert!(
                matches!(keys.verify(&token), Err(TokenError::Invalid(_))),
                "{what} was accepted"
            );
        }
        // The lifetime limit is configurable.
        let short = TokenKeys::new(KEY, None)
            .unwrap()
            .with_max_lifetime_secs(600);
        assert!(short.verify(&raw_token(now, now + 3600, None)).is_err());
        short.verify(&raw_token(now, now + 600, None)).unwrap();
    }

    /// Builds an `alg: none` token by hand, as an attacker would.
    pub(crate) fn unsigned_none_token(user: &str) -> String {
        use base64_url as b64;
        let header = b64::encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = format!(
            r#"{{"sub":"{user}","pk":"pk","dev":"web","iat":0,"exp":{},"iss":"sendjay"}}"#,
            now_secs() + 600
        );
        format!("{header}.{}.", b64::encode(payload.as_bytes()))
    }

    mod base64_url {
        /// Unpadded base64url, enough to forge a test token.
        pub fn encode(bytes: &[u8]) -> String {
            const ALPHABET: &[u8; 64] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let mut out = String::new();
            for chunk in bytes.chunks(3) {
                let n = chunk
                    .iter()
                    .enumerate()
                    .fold(0u32, |acc, (i, b)| acc | (*b as u32) << (16 - 8 * i));
                for i in 0..=chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
                }
            }
            out
        }
    }
}
