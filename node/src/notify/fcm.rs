//! Firebase Cloud Messaging HTTP v1 for the Android app: an OAuth2 access token from the service-account key
//! (RFC 7523 JWT bearer grant, RS256), cached until shortly before it expires, then one `messages:send` per
//! device with the room as collapse key.
//!
//! Both URLs are settings, so a company can route through its own gateway (and the tests through theirs).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sendjay_common::protocol::PushPayload;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::delivery::{classify, retry_after_of, Attempt};
use crate::error::NodeError;

/// The OAuth2 scope FCM sends need.
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// Lifetime asked for an access token (Google's maximum).
const TOKEN_LIFETIME_SECS: i64 = 3600;
/// A cached token is replaced this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(300);
/// How long FCM keeps an undelivered message.
const TTL: &str = "259200s";
/// One HTTP attempt's deadline.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The fields of a Google service-account key file that the sender uses.
#[derive(Debug, Deserialize)]
struct ServiceAccount {
    project_id: String,
    client_email: String,
    private_key: String,
    token_uri: String,
}

#[derive(Serialize)]
struct GrantClaims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

/// Sends FCM messages for one Firebase project.
pub struct FcmSender {
    client_email: String,
    key: EncodingKey,
    token_url: String,
    send_url: String,
    http: reqwest::Client,
    token: Mutex<Option<(String, Instant)>>,
}

impl FcmSender {
    /// A sender from a service-account key file; `endpoint` is the FCM base URL, `token_url` overrides the
    /// file's `token_uri`.
    pub fn new(
        key_file: &Path,
        endpoint: &str,
        token_url: Option<&str>,
        http: reqwest::Client,
    ) -> Result<FcmSender, NodeError> {
        let bad = |why: String| {
            NodeError::Config(format!(
                "SENDJAY_FCM_SERVICE_ACCOUNT_FILE ({}): {why}; download the key of a service account with the Firebase Cloud Messaging API role",
                key_file.display()
            ))
        };
        let text = std::fs::read_to_string(key_file).map_err(|e| bad(e.to_string()))?;
        let account: ServiceAccount = serde_json::from_str(&text)
            .map_err(|e| bad(format!("not a service-account key: {e}")))?;
        let key = EncodingKey::from_rsa_pem(account.private_key.as_bytes())
            .map_err(|e| bad(format!("private_key: {e}")))?;
        Ok(FcmSender {
            client_email: account.client_email,
            key,
            token_url: token_url.unwrap_or(&account.token_uri).to_owned(),
            send_url: format!(
                "{}/v1/projects/{}/messages:send",
                endpoint.trim_end_matches('/'),
                account.project_id
            ),
            http,
            token: Mutex::new(None),
        })
    }

    /// A valid access token: the cached one, or a new one from the token endpoint.
    async fn access_token(&self) -> Result<String, Attempt> {
        let mut cached = self.token.lock().await;
        if let Some((token, expires)) = &*cached {
            if Instant::now() + TOKEN_MARGIN < *expires {
                return Ok(token.clone());
            }
        }
        let now = jiff::Timestamp::now().as_second();
        let claims = GrantClaims {
            iss: &self.client_email,
            scope: SCOPE,
            aud: &self.token_url,
            iat: now,
            exp: now + TOKEN_LIFETIME_SECS,
        };
        let assertion = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|e| Attempt::Failed(format!("could not sign the OAuth2 assertion: {e}")))?;
        let body = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
        );
        let response = self
            .http
            .post(&self.token_url)
            .timeout(REQUEST_TIMEOUT)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| Attempt::Retry {
                after: None,
                why: format!("OAuth2 token endpoint unreachable: {e}"),
            })?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(match status {
                429 | 500..=599 => Attempt::Retry {
                    after: None,
                    why: format!("OAuth2 token endpoint: HTTP {status}"),
                },
                _ => Attempt::Failed(format!(
                    "OAuth2 token endpoint refused the service account: HTTP {status}: {}",
                    text.chars().take(200).collect::<String>()
                )),
            });
        }
        let answer: TokenAnswer = serde_json::from_str(&text)
            .map_err(|e| Attempt::Failed(format!("OAuth2 token answer: {e}")))?;
        *cached = Some((
            answer.access_token.clone(),
            Instant::now() + Duration::from_secs(answer.expires_in),
        ));
        Ok(answer.access_token)
    }

    /// One attempt to send `payload` as a data message to an app's registration token.
    pub async fn send(
        &self,
        token: &str,
        payload: &PushPayload,
        collapse_key: &str,
        urgent: bool,
    ) -> Attempt {
        let access = match self.access_token().await {
            Ok(access) => access,
            Err(attempt) => return attempt,
        };
        let message = serde_json::json!({
            "message": {
                "token": token,
                "data": data_strings(payload),
                "android": {
                    "collapse_key": collapse_key,
                    "priority": if urgent { "HIGH" } else { "NORMAL" },
                    "ttl": TTL,
                },
            }
        });
        let response = match self
            .http
            .post(&self.send_url)
            .timeout(REQUEST_TIMEOUT)
            .bearer_auth(&access)
            .header("Content-Type", "application/json")
            .body(message.to_string())
            .send()
            .await
        {
            Ok(response) => response,
            Err(e) => {
                return Attempt::Retry {
                    after: None,
                    why: format!("FCM unreachable: {e}"),
                }
            }
        };
        let status = response.status().as_u16();
        let retry_after = retry_after_of(&response);
        let text = response.text().await.unwrap_or_default();
        if status == 401 {
            // The token was revoked or expired early: forget it, the next attempt gets a new one.
            *self.token.lock().await = None;
            return Attempt::Retry {
                after: None,
                why: "FCM refused the access token (401)".into(),
            };
        }
        if status == 400 && text.contains("\"UNREGISTERED\"") {
            return Attempt::Gone;
        }
        classify(status, retry_after, &text)
    }
}

/// FCM `data` must map strings to strings: the payload's JSON fields, each as text.
pub fn data_strings(payload: &PushPayload) -> BTreeMap<String, String> {
    let value = serde_json::to_value(payload).unwrap_or_default();
    let mut data = BTreeMap::new();
    if let serde_json::Value::Object(fields) = value {
        for (key, value) in fields {
            let text = match value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            data.insert(key, text);
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_values_are_all_strings() {
        let data = data_strings(&PushPayload::Clear {
            room_id: 5,
            last_read_seq: 12,
        });
        assert_eq!(data["kind"], "clear");
        assert_eq!(data["room_id"], "5");
        assert_eq!(data["last_read_seq"], "12");
    }
}
