//! The loopback push service itself (testkit/push/service.mjs): it decrypts what a standard Web Push client
//! (the `web-push` crate) encrypts, refuses pushes without a valid VAPID signature and records why, grants
//! FCM access tokens only for assertions signed with its service account's key, validates FCM messages like
//! FCM, and answers scripted failures.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sendjay_testkit::push::FCM_PROJECT_ID;
use sendjay_testkit::{PushService, ScriptedResponse, WebPushSubscription};
use serde_json::{json, Value};
use web_push::{
    request_builder, ContentEncoding, SubscriptionInfo, Urgency, VapidSignatureBuilder,
    WebPushMessageBuilder,
};

/// A fixed VAPID private key (raw P-256 scalar, base64url), as an application server keeps one.
const VAPID_PRIVATE: &str = "IQ9Ur0ykXoHS9gzfYX0aBjy9lvdrjx_PFUXmie9YRcY";
/// Another one, for a signature by the wrong key.
const OTHER_VAPID_PRIVATE: &str = "Vq5Lx3pF9DghkpQ_9s4m0BvX5o1sJ0n2yYwzQhL3aUc";

/// What a push came back with.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

/// A Web Push request as the `web-push` crate builds it (its own RFC 8291 encryption and RFC 8292 JWT),
/// as (url, headers, body). `aud: None` keeps the crate's default audience.
fn standard_push(
    subscription: &WebPushSubscription,
    vapid_private: &str,
    aud: Option<&str>,
    payload: &[u8],
) -> (String, Vec<(String, String)>, Vec<u8>) {
    let info = SubscriptionInfo::new(
        subscription.endpoint.as_str(),
        subscription.p256dh.as_str(),
        subscription.auth.as_str(),
    );
    let mut signature = VapidSignatureBuilder::from_base64(vapid_private, &info).unwrap();
    signature.add_claim("sub", "mailto:ops@sendjay.test");
    if let Some(aud) = aud {
        signature.add_claim("aud", aud);
    }
    let mut message = WebPushMessageBuilder::new(&info);
    message.set_payload(ContentEncoding::Aes128Gcm, payload);
    message.set_vapid_signature(signature.build().unwrap());
    message.set_ttl(60);
    message.set_urgency(Urgency::High);
    message.set_topic("room-7".to_string());
    let request = request_builder::build_request::<Vec<u8>>(message.build().unwrap());
    let headers = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap().to_string()))
        .collect();
    (request.uri().to_string(), headers, request.body().clone())
}

async fn post(
    push: &PushService,
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Answer {
    let mut request = push.client().post(url).body(body);
    for (k, v) in headers {
        request = request.header(k.as_str(), v.as_str());
    }
    let response = request.send().await.unwrap();
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .unwrap()
}

#[tokio::test]
async fn subscribe_returns_well_formed_keys() {
    let push = PushService::start().await;
    let a = push.subscribe().await;
    let b = push.subscribe().await;
    assert_eq!(a.endpoint, format!("{}/wp/{}", push.base_url(), a.id));
    let p256dh = URL_SAFE_NO_PAD.decode(&a.p256dh).unwrap();
    assert_eq!(p256dh.len(), 65);
    assert_eq!(p256dh[0], 0x04, "uncompressed point");
    assert_eq!(URL_SAFE_NO_PAD.decode(&a.auth).unwrap().len(), 16);
    assert_ne!(a.id, b.id);
    assert_ne!(a.p256dh, b.p256dh);
    assert_ne!(a.auth, b.auth);
    assert!(push.received(&a.id).await.is_empty());
}

#[tokio::test]
async fn a_standard_client_push_is_decrypted() {
    let push = PushService::start().await;
    let sub = push.subscribe().await;
    let payload = json!({"room": 7, "title": "bob", "body": "héllo"}).to_string();
    let (url, headers, body) = standard_push(
        &sub,
        VAPID_PRIVATE,
        Some(&push.base_url()),
        payload.as_bytes(),
    );
    let answer = post(&push, &url, &headers, body).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert!(answer.headers.contains_key("location"));

    let received = push.wait_received(&sub.id, 1, Duration::from_secs(5)).await;
    assert_eq!(received.len(), 1);
    let got = &received[0];
    assert_eq!(got.payload, payload);
    assert_eq!(got.payload_json()["body"], "héllo");
    assert_eq!(got.ttl, 60);
    assert_eq!(got.urgency.as_deref(), Some("high"));
    assert_eq!(got.topic.as_deref(), Some("room-7"));
    assert_eq!(got.vapid_sub, "mailto:ops@sendjay.test");
    let k = header(&headers, "authorization")
        .split("k=")
        .nth(1)
        .unwrap()
        .trim();
    assert_eq!(got.vapid_key, k);
    let attempts = push.attempts(&sub.id).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].status, 201);
    assert_eq!(attempts[0].reason, None);

    // A subscription restricted to this VAPID key takes it, and refuses another key.
    let restricted = push.subscribe_restricted(&got.vapid_key).await;
    let (url, headers, body) =
        standard_push(&restricted, VAPID_PRIVATE, Some(&push.base_url()), b"ok");
    assert_eq!(post(&push, &url, &headers, body).await.status, 201);
    let (url, headers, body) = standard_push(
        &restricted,
        OTHER_VAPID_PRIVATE,
        Some(&push.base_url()),
        b"no",
    );
    assert_eq!(post(&push, &url, &headers, body).await.status, 403);
    assert_eq!(push.received(&restricted.id).await.len(), 1);
}

/// The `web-push` crate's default `aud` is scheme://host without the port, which is not the endpoint's
/// origin here: the service refuses it, so the server must set `aud` itself.
#[tokio::test]
async fn vapid_audience_without_the_port_is_refused() {
    let push = PushService::start().await;
    let sub = push.subscribe().await;
    let (url, headers, body) = standard_push(&sub, VAPID_PRIVATE, None, b"{}");
    let answer = post(&push, &url, &headers, body).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    let attempts = push.attempts(&sub.id).await;
    assert_eq!(attempts.len(), 1);
    assert!(
        attempts[0].reason.as_deref().unwrap().contains("aud"),
        "{attempts:?}"
    );
    assert!(push.received(&sub.id).await.is_empty());
}

#[tokio::test]
async fn missing_or_forged_vapid_is_refused_and_recorded() {
    let push = PushService::start().await;
    let sub = push.subscribe().await;
    let (url, headers, body) =
        standard_push(&sub, VAPID_PRIVATE, Some(&push.base_url()), b"{\"n\":1}");

    // No Authorization header at all.
    let without: Vec<_> = headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("authorization"))
        .cloned()
        .collect();
    let answer = post(&push, &url, &without, body.clone()).await;
    assert_eq!(answer.status, 401, "{}", answer.body);

    // The JWT of one key presented with another key's k=.
    let (_, other_headers, _) =
        standard_push(&sub, OTHER_VAPID_PRIVATE, Some(&push.base_url()), b"x");
    let other_k = header(&other_headers, "authorization")
        .split("k=")
        .nth(1)
        .unwrap()
        .to_string();
    let t = header(&headers, "authorization")
        .split("k=")
        .next()
        .unwrap()
        .to_string();
    let forged: Vec<_> = without
        .iter()
        .cloned()
        .chain([("Authorization".to_string(), format!("{t}k={other_k}"))])
        .collect();
    let answer = post(&push, &url, &forged, body.clone()).await;
    assert_eq!(answer.status, 403, "{}", answer.body);

    // A plain raw POST: no encoding, no TTL, no VAPID.
    let raw = push
        .client()
        .post(&sub.endpoint)
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);

    let attempts = push.attempts(&sub.id).await;
    let statuses: Vec<u16> = attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [401, 403, 400]);
    let reasons: Vec<&str> = attempts
        .iter()
        .map(|a| a.reason.as_deref().unwrap())
        .collect();
    assert!(reasons[0].contains("Authorization"), "{reasons:?}");
    assert!(reasons[1].contains("signature"), "{reasons:?}");
    assert!(reasons[2].contains("Content-Encoding"), "{reasons:?}");
    assert!(push.received(&sub.id).await.is_empty());

    // The genuine request still goes through; a tampered body does not decrypt.
    let mut tampered = body.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(post(&push, &url, &headers, tampered).await.status, 400);
    assert!(push.attempts(&sub.id).await[3]
        .reason
        .as_deref()
        .unwrap()
        .contains("decrypt"));
    assert_eq!(post(&push, &url, &headers, body).await.status, 201);
    assert_eq!(push.received(&sub.id).await[0].payload_json()["n"], 1);
}

#[tokio::test]
async fn scripted_failures_gone_and_unknown() {
    let push = PushService::start().await;
    let sub = push.subscribe().await;
    push.script(
        &sub.id,
        &[
            ScriptedResponse::retry_after(429, 2),
            ScriptedResponse::status(503),
        ],
    )
    .await;
    let (url, headers, body) = standard_push(&sub, VAPID_PRIVATE, Some(&push.base_url()), b"{}");
    let first = post(&push, &url, &headers, body.clone()).await;
    assert_eq!(first.status, 429);
    assert_eq!(first.headers["retry-after"], "2");
    let second = post(&push, &url, &headers, body.clone()).await;
    assert_eq!(second.status, 503);
    assert!(!second.headers.contains_key("retry-after"));
    assert_eq!(push.received(&sub.id).await.len(), 0);
    assert_eq!(post(&push, &url, &headers, body.clone()).await.status, 201);
    let attempts = push.attempts(&sub.id).await;
    let statuses: Vec<u16> = attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [429, 503, 201]);
    assert_eq!(attempts[0].retry_after, Some(2));
    assert_eq!(push.received(&sub.id).await.len(), 1);

    push.gone(&sub.id).await;
    assert_eq!(post(&push, &url, &headers, body).await.status, 410);
    assert_eq!(push.attempts(&sub.id).await.last().unwrap().status, 410);

    let unknown = format!("{}/wp/no-such-subscription", push.base_url());
    let answer = push.client().post(unknown).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 404);
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A signed JWT-bearer assertion for the service account `account`, signed with `signing_account`'s key.
fn assertion(account: &Value, signing_account: &Value, claims_patch: Value) -> String {
    let now = now();
    let mut claims = json!({
        "iss": account["client_email"],
        "scope": "https://www.googleapis.com/auth/firebase.messaging",
        "aud": account["token_uri"],
        "iat": now,
        "exp": now + 3600,
    });
    for (k, v) in claims_patch.as_object().unwrap() {
        claims[k] = v.clone();
    }
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = signing_account["private_key_id"]
        .as_str()
        .map(str::to_string);
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(
        signing_account["private_key"].as_str().unwrap().as_bytes(),
    )
    .unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

async fn token_request(push: &PushService, assertion: &str) -> (u16, Value) {
    let form = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
    );
    let response = push
        .client()
        .post(format!("{}/fcm/token", push.base_url()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}

async fn fcm_send(
    push: &PushService,
    access_token: Option<&str>,
    body: Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = push
        .client()
        .post(push.fcm_send_url())
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(&body).unwrap());
    if let Some(token) = access_token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap();
    (status, headers, serde_json::from_slice(&body).unwrap())
}

async fn access_token(push: &PushService) -> String {
    let account: Value = serde_json::from_str(&push.fcm_service_account().await).unwrap();
    let (status, grant) = token_request(push, &assertion(&account, &account, json!({}))).await;
    assert_eq!(status, 200, "{grant}");
    grant["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn fcm_token_endpoint_checks_the_assertion_and_send_is_recorded() {
    let push = PushService::start().await;
    let other = PushService::start().await;
    let text = push.fcm_service_account().await;
    let account: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(account["type"], "service_account");
    assert_eq!(account["project_id"], FCM_PROJECT_ID);
    assert_eq!(
        account["client_email"],
        "push@sendjay-test.iam.gserviceaccount.com"
    );
    assert_eq!(
        account["token_uri"],
        format!("{}/fcm/token", push.base_url())
    );
    assert!(account["private_key"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(push.fcm_service_account().await, text, "one account");
    let stranger: Value = serde_json::from_str(&other.fcm_service_account().await).unwrap();

    // Signed by another RSA key (with this account's kid, so only the signature is wrong).
    let mut forger = stranger.clone();
    forger["private_key_id"] = account["private_key_id"].clone();
    let (status, refused) = token_request(&push, &assertion(&account, &forger, json!({}))).await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"], "invalid_grant");
    let (status, _) = token_request(
        &push,
        &assertion(
            &account,
            &account,
            json!({"aud": "https://oauth2.googleapis.com/token"}),
        ),
    )
    .await;
    assert_eq!(status, 400, "wrong aud");
    let (status, _) = token_request(
        &push,
        &assertion(&account, &account, json!({"scope": "openid"})),
    )
    .await;
    assert_eq!(status, 400, "no firebase.messaging scope");
    let (status, _) = token_request(
        &push,
        &assertion(&account, &account, json!({"exp": now() + 7200})),
    )
    .await;
    assert_eq!(status, 400, "lives over an hour");
    assert_eq!(push.fcm_grants().await, 0);

    let (status, grant) = token_request(&push, &assertion(&account, &account, json!({}))).await;
    assert_eq!(status, 200, "{grant}");
    assert_eq!(grant["token_type"], "Bearer");
    assert_eq!(grant["expires_in"], 3600);
    let token = grant["access_token"].as_str().unwrap();
    assert_eq!(push.fcm_grants().await, 1);

    let message = json!({
        "token": "device-1:APA91b",
        "data": {"room": "7", "kind": "message"},
        "notification": {"title": "bob", "body": "hi"},
        "android": {"collapse_key": "room-7", "priority": "HIGH", "ttl": "60s"},
    });
    let (status, _, error) = fcm_send(&push, None, json!({"message": message})).await;
    assert_eq!(status, 401);
    assert_eq!(error["error"]["status"], "UNAUTHENTICATED");
    let (status, _, error) =
        fcm_send(&push, Some("ya29.made-up"), json!({"message": message})).await;
    assert_eq!(status, 401, "{error}");

    let (status, _, sent) = fcm_send(&push, Some(token), json!({"message": message})).await;
    assert_eq!(status, 200, "{sent}");
    assert!(sent["name"]
        .as_str()
        .unwrap()
        .starts_with("projects/sendjay-test/messages/"));
    let messages = push.wait_fcm_messages(1, Duration::from_secs(5)).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].token, "device-1:APA91b");
    assert_eq!(messages[0].message, message);
    assert_eq!(messages[0].name, sent["name"]);

    let (status, _, error) = fcm_send(
        &push,
        Some(token),
        json!({"message": {"token": "device-1:APA91b", "data": {"room": 7}}}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");
    let (status, _, _) = fcm_send(
        &push,
        Some(token),
        json!({"message": {"token": "device-1:APA91b", "android": {"ttl": 60}}}),
    )
    .await;
    assert_eq!(status, 400, "ttl must be a duration string");
    assert_eq!(push.fcm_messages().await.len(), 1);
    let statuses: Vec<u16> = push.fcm_attempts().await.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [401, 401, 200, 400, 400]);
}

#[tokio::test]
async fn fcm_scripted_429_and_unregistered_device() {
    let push = PushService::start().await;
    let token = access_token(&push).await;
    let body = json!({"message": {"token": "device-2", "data": {"room": "1"}}});
    push.fcm_script("device-2", &[ScriptedResponse::retry_after(429, 3)])
        .await;
    let (status, headers, error) = fcm_send(&push, Some(&token), body.clone()).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "3");
    assert_eq!(error["error"]["status"], "RESOURCE_EXHAUSTED");
    let (status, _, _) = fcm_send(&push, Some(&token), body.clone()).await;
    assert_eq!(status, 200);

    push.fcm_unregister("device-2").await;
    let (status, _, error) = fcm_send(&push, Some(&token), body).await;
    assert_eq!(status, 404);
    assert_eq!(
        error,
        json!({"error": {
            "code": 404,
            "message": "Requested entity was not found.",
            "status": "NOT_FOUND",
            "details": [{
                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                "errorCode": "UNREGISTERED"
            }]
        }})
    );
    let attempts = push.fcm_attempts().await;
    let statuses: Vec<u16> = attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [429, 200, 404]);
    assert!(attempts
        .iter()
        .all(|a| a.token.as_deref() == Some("device-2")));
    assert_eq!(push.fcm_messages().await.len(), 1);
}
