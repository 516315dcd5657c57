//! User accounts as the router needs them: password check at login (argon2, off the async threads) and the
//! passkey that goes into the token.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use deadpool_postgres::Pool;

use crate::error::RouterError;

/// A user's login data.
#[derive(Debug, Clone)]
pub struct Account {
    /// The argon2 PHC string.
    pub password_hash: String,
    /// The current passkey.
    pub passkey: String,
    /// Whether the user is retired.
    pub retired: bool,
}

/// Loads a user's login data.
pub async fn load(pool: &Pool, user_id: &str) -> Result<Option<Account>, RouterError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT password_hash, passkey, retired_at IS NOT NULL AND retired_at <= now() FROM users WHERE id = $1",
            &[&user_id],
        )
        .await?;
    Ok(row.map(|r| Account {
        password_hash: r.get(0),
        passkey: r.get(1),
        retired: r.get(2),
    }))
}

/// Checks a password against a PHC string on a blocking thread (argon2 is deliberately slow).
pub async fn verify_password(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&phc).map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
    })
    .await
    .ok()
    .and_then(Result::ok)
    .unwrap_or(false)
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, RouterError> {
    let salt = SaltString::encode_b64(uuid::Uuid::new_v4().as_bytes())
        .map_err(|e| RouterError::Internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| RouterError::Internal(format!("argon2: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_and_verifies() {
        let phc = hash_password("s3cret").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("s3cret".into(), phc.clone()).await);
        assert!(!verify_password("wrong".into(), phc).await);
        assert!(!verify_password("x".into(), "not a hash".into()).await);
    }
}
