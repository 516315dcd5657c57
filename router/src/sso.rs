//! Single sign-on: the router as an OpenID Connect relying party of the company's identity provider
//! (authorization code flow with PKCE S256, state and nonce), built on the `openidconnect` crate so discovery,
//! the token request and ID-token validation (signature against the provider's JWKS, issuer, audience,
//! expiry, nonce) are the crate's well-tested code, not ours.
//!
//! Discovery is lazy and retried: a router must start and serve password logins while the provider is down,
//! so the metadata is fetched on the first sign-on (and again every few minutes, to follow key rotation);
//! while it cannot be fetched the sign-on endpoints answer `503 sso_unavailable`. The HTTP client never
//! follows redirects (a redirect from the provider's token endpoint is an error, not a hop to follow).
//!
//! The provider's user becomes a sendjay user by one ID-token claim (`SENDJAY_OIDC_USER_CLAIM`, default
//! `preferred_username`) whose value must equal a sendjay user id — the id the HR import gave the user.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use sendjay_common::protocol::DeviceClass;
use tokio::sync::Mutex;

use crate::config::RouterConfig;
use crate::error::RouterError;
use crate::sso_state::PendingSignIn;

/// The client as `from_provider_metadata` makes it: authorization endpoint set, token and userinfo
/// endpoints as the provider announced them.
type Relying = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How long discovered metadata (with the provider's signing keys) is used before it is fetched again.
const METADATA_MAX_AGE: Duration = Duration::from_secs(300);
/// After a failed discovery, requests within this time fail at once instead of waiting on the provider again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(2);
/// Timeout of every request to the provider.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response accepted from the provider.
const MAX_PROVIDER_RESPONSE: usize = 1024 * 1024;

/// Why a sign-on did not give a user id.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    /// The provider cannot be reached or its discovery document is unusable.
    #[error("the OpenID provider is unavailable: {0}; check SENDJAY_OIDC_ISSUER and that the provider is up")]
    Unavailable(String),
    /// The provider answered, but the sign-on is not valid (code exchange refused, bad ID token, no claim).
    #[error("single sign-on failed: {0}")]
    Failed(String),
}

/// An HTTP failure talking to the provider.
#[derive(Debug, thiserror::Error)]
#[error("request to the OpenID provider failed: {0}")]
pub struct ProviderHttpError(String);

/// The single sign-on settings, all present (see [`Sso::from_config`]).
#[derive(Debug, Clone)]
struct Settings {
    issuer: String,
    client_id: String,
    client_secret: String,
    redirect_url: String,
    user_claim: String,
    label: String,
}

struct Discovered {
    client: Option<Arc<Relying>>,
    fetched: Option<Instant>,
    failed: Option<Instant>,
}

/// The router's OpenID Connect relying party.
pub struct Sso {
    settings: Settings,
    http: reqwest::Client,
    discovered: Mutex<Discovered>,
}

impl Sso {
    /// The relying party of a validated configuration; `None` when single sign-on is off (no issuer).
    pub fn from_config(config: &RouterConfig) -> Result<Option<Sso>, RouterError> {
        let Some(issuer) = config.oidc_issuer.clone() else {
            return Ok(None);
        };
        let missing =
            |name: &str| RouterError::Config(format!("{name}: required with SENDJAY_OIDC_ISSUER"));
        let settings = Settings {
            issuer,
            client_id: config
                .oidc_client_id
                .clone()
                .ok_or_else(|| missing("SENDJAY_OIDC_CLIENT_ID"))?,
            client_secret: config
                .oidc_client_secret
                .clone()
                .ok_or_else(|| missing("SENDJAY_OIDC_CLIENT_SECRET"))?,
            redirect_url: config
                .oidc_redirect_url
                .clone()
                .ok_or_else(|| missing("SENDJAY_OIDC_REDIRECT_URL"))?,
            user_claim: config.oidc_user_claim.clone(),
            label: config.oidc_label.clone(),
        };
        IssuerUrl::new(settings.issuer.clone())
            .map_err(|e| RouterError::Config(format!("SENDJAY_OIDC_ISSUER: {e}")))?;
        RedirectUrl::new(settings.redirect_url.clone())
            .map_err(|e| RouterError::Config(format!("SENDJAY_OIDC_REDIRECT_URL: {e}")))?;
        // reqwest is built without a crypto provider (no aws-lc-sys): use ring, as the node does.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .map_err(|e| RouterError::Config(format!("SENDJAY_OIDC_ISSUER: HTTP client: {e}")))?;
        Ok(Some(Sso {
            settings,
            http,
            discovered: Mutex::new(Discovered {
                client: None,
                fetched: None,
                failed: None,
            }),
        }))
    }

    /// The sign-in button's text.
    pub fn label(&self) -> &str {
        &self.settings.label
    }

    /// Fetches the provider's metadata now (at start-up, so the first sign-on does not wait for it);
    /// a failure is logged and retried on the next sign-on.
    pub async fn warm_up(&self) {
        match self.relying(false).await {
            Ok(_) => tracing::info!(issuer = %self.settings.issuer, "OpenID provider discovered"),
            Err(e) => {
                tracing::warn!(error = %e, "OpenID provider discovery failed; retried on the next sign-on")
            }
        }
    }

    /// The client from fresh enough metadata; `refresh` fetches it again (the keys may have rotated).
    async fn relying(&self, refresh: bool) -> Result<Arc<Relying>, SsoError> {
        let mut slot = self.discovered.lock().await;
        let fresh = slot
            .fetched
            .is_some_and(|at| at.elapsed() < METADATA_MAX_AGE);
        if let (Some(client), true, false) = (&slot.client, fresh, refresh) {
            return Ok(client.clone());
        }
        if slot
            .failed
            .is_some_and(|at| at.elapsed() < RETRY_AFTER_FAILURE)
            && slot.client.is_none()
        {
            return Err(SsoError::Unavailable("discovery failed moments ago".into()));
        }
        match self.discover().await {
            Ok(client) => {
                let client = Arc::new(client);
                slot.client = Some(client.clone());
                slot.fetched = Some(Instant::now());
                slot.failed = None;
                Ok(client)
            }
            Err(e) => {
                slot.failed = Some(Instant::now());
                match &slot.client {
                    // Stale metadata beats none: the provider's keys rarely change within minutes.
                    Some(client) if !refresh => {
                        tracing::warn!(error = %e, "OpenID provider metadata refresh failed; using the previous one");
                        Ok(client.clone())
                    }
                    _ => Err(e),
                }
            }
        }
    }

    async fn discover(&self) -> Result<Relying, SsoError> {
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|e| SsoError::Unavailable(format!("issuer URL: {e}")))?;
        let redirect = RedirectUrl::new(self.settings.redirect_url.clone())
            .map_err(|e| SsoError::Unavailable(format!("redirect URL: {e}")))?;
        let http = self.http_client();
        let metadata = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .map_err(|e| SsoError::Unavailable(format!("discovery: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_redirect_uri(redirect))
    }

    /// The closure `openidconnect` calls for each request to the provider.
    fn http_client(
        &self,
    ) -> impl Fn(
        HttpRequest,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<HttpResponse, ProviderHttpError>> + Send>,
    > {
        let client = self.http.clone();
        move |request| Box::pin(send(client.clone(), request))
    }

    /// Starts a sign-on: the provider's authorization URL to send the browser to, its `state`, and what the
    /// callback will need to finish it.
    pub async fn begin(
        &self,
        device: DeviceClass,
    ) -> Result<(String, String, PendingSignIn), SsoError> {
        let client = self.relying(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        if self.settings.user_claim == "email" {
            request = request.add_scope(Scope::new("email".into()));
        }
        let (url, state, nonce) = request.url();
        Ok((
            url.to_string(),
            state.secret().clone(),
            PendingSignIn {
                pkce_verifier: verifier.secret().clone(),
                nonce: nonce.secret().clone(),
                device: device.as_str().to_owned(),
            },
        ))
    }

    /// Finishes a sign-on: trades `code` (with the PKCE verifier) for tokens, validates the ID token and
    /// returns the value of the user claim — the sendjay user id the provider vouches for.
    pub async fn finish(&self, code: &str, pending: &PendingSignIn) -> Result<String, SsoError> {
        let client = self.relying(false).await?;
        let http = self.http_client();
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| SsoError::Failed(format!("the provider has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&http)
            .await
            .map_err(|e| SsoError::Failed(format!("code exchange: {e}")))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| SsoError::Failed("the token response has no ID token".into()))?;
        let nonce = Nonce::new(pending.nonce.clone());
        match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(_) => {}
            // An unknown key id or a bad signature may mean the provider rotated its keys: fetch them once more.
            Err(ClaimsVerificationError::SignatureVerification(first)) => {
                let fresh = self.relying(true).await?;
                id_token
                    .claims(&fresh.id_token_verifier(), &nonce)
                    .map_err(|e| {
                        SsoError::Failed(format!("ID token: {e} (before the key refresh: {first})"))
                    })?;
            }
            Err(e) => return Err(SsoError::Failed(format!("ID token: {e}"))),
        }
        claim_of(&id_token.to_string(), &self.settings.user_claim)
    }
}

/// Sends one request with reqwest (redirects off) and reads the whole, bounded, response.
async fn send(
    client: reqwest::Client,
    request: HttpRequest,
) -> Result<HttpResponse, ProviderHttpError> {
    let (parts, body) = request.into_parts();
    let response = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| ProviderHttpError(e.to_string()))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|e| ProviderHttpError(e.to_string()))?;
    if body.len() > MAX_PROVIDER_RESPONSE {
        return Err(ProviderHttpError(format!(
            "response of {} bytes is over {MAX_PROVIDER_RESPONSE}",
            body.len()
        )));
    }
    let mut out = HttpResponse::new(body.to_vec());
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    Ok(out)
}

/// The string value of `claim` in a compact JWT's payload. Only called on an ID token `openidconnect` has
/// already validated, so reading the payload without checking again is safe; it lets any claim name be the
/// user claim, custom ones (an employee number) included.
fn claim_of(jwt: &str, claim: &str) -> Result<String, SsoError> {
    let payload = jwt
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .ok_or_else(|| SsoError::Failed("the ID token's payload is not JSON".into()))?;
    match payload.get(claim) {
        Some(serde_json::Value::String(value)) if !value.is_empty() => Ok(value.clone()),
        Some(serde_json::Value::Number(value)) => Ok(value.to_string()),
        _ => Err(SsoError::Failed(format!(
            "the ID token has no claim {claim:?} (SENDJAY_OIDC_USER_CLAIM); make the provider put the sendjay user id in it"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!("{}.{}.sig", enc.encode(b"{}"), enc.encode(payload))
    }

    #[test]
    fn the_user_claim_is_read_by_name_strings_and_numbers() {
        let token = jwt(r#"{"sub":"x1","preferred_username":"alice","employee":1234,"empty":""}"#);
        assert_eq!(claim_of(&token, "preferred_username").unwrap(), "alice");
        assert_eq!(claim_of(&token, "employee").unwrap(), "1234");
        assert!(matches!(
            claim_of(&token, "empty"),
            Err(SsoError::Failed(_))
        ));
        assert!(matches!(
            claim_of(&token, "email"),
            Err(SsoError::Failed(_))
        ));
        assert!(matches!(
            claim_of("garbage", "sub"),
            Err(SsoError::Failed(_))
        ));
    }
}
