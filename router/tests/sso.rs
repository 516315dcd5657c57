//! Single sign-on against a real OpenID provider (`oidc-provider` under Node.js, testkit/oidc) and real
//! PostgreSQL and Redis: the test plays the browser — it follows every redirect, keeps the provider's
//! cookies, fills in the provider's own login and consent forms — so the whole authorization-code flow with
//! PKCE runs as it does for a user, and each refusal is seen where the user would see it.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::{StatusCode, Url};
use sendjay_common::keys::KeySchema;
use sendjay_common::membership::{self, NodeInfo};
use sendjay_router::{RouterConfig, RunningRouter};
use sendjay_testkit::{OidcProvider, RedisServer};
use serde_json::Value;

const SECRET: &str = "router-test-secret-router-test-secret";
const CLIENT_ID: &str = "sendjay-test";
const CLIENT_SECRET: &str = "sendjay-test-client-secret-0123456789";

struct Setup {
    redis: RedisServer,
    db: tokio_postgres::Client,
    _provider: Option<OidcProvider>,
    router: RunningRouter,
}

impl Setup {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.router.url())
    }

    /// `(action, detail.method, detail.reason)` of the audit entries about `subject`, oldest first.
    async fn audit_of(&self, subject: &str) -> Vec<(String, Option<String>, Option<String>)> {
        self.db
            .query(
                "SELECT action, detail->>'method', detail->>'reason' FROM audit_log WHERE subject = $1 ORDER BY id",
                &[&subject],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    }
}

/// A port that was free a moment ago (the provider must know the router's callback URL before it starts).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// PostgreSQL with alice and bob (active) and gone (retired); Redis with one live node; a router with single
/// sign-on at a fresh provider when `sso`, without it otherwise.
async fn setup(sso: bool) -> Setup {
    setup_with(sso, |_| {}).await
}

async fn setup_with(sso: bool, adjust: impl FnOnce(&mut RouterConfig)) -> Setup {
    let database_url = sendjay_testkit::postgres().await.fresh_database().await;
    let redis = RedisServer::start().await;
    let (db, connection) = tokio_postgres::connect(&database_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let hash = sendjay_router::accounts::hash_password("pw").unwrap();
    db.execute(
        "INSERT INTO users (id, display_name, password_hash, passkey, retired_at) VALUES
         ('alice', 'Alice', $1, 'pk-a', NULL), ('bob', 'Bob', $1, 'pk-b', NULL), ('gone', 'Gone', $1, 'pk-g', now())",
        &[&hash],
    )
    .await
    .unwrap();
    announce(&redis.url()).await;
    let port = free_port();
    let callback = format!("http://127.0.0.1:{port}/v1/sso/callback");
    let provider = if sso {
        Some(OidcProvider::start(CLIENT_ID, CLIENT_SECRET, &callback).await)
    } else {
        None
    };
    let mut config = RouterConfig::with_required(&database_url, &redis.url(), SECRET);
    config.listen = format!("127.0.0.1:{port}").parse().unwrap();
    config.node_cache_ms = 0;
    if let Some(provider) = &provider {
        config.oidc_issuer = Some(provider.issuer());
        config.oidc_client_id = Some(CLIENT_ID.into());
        config.oidc_client_secret = Some(CLIENT_SECRET.into());
        config.oidc_redirect_url = Some(callback);
        config.oidc_label = "Example Corp".into();
    }
    adjust(&mut config);
    let router = sendjay_router::start(config).await.unwrap();
    Setup {
        redis,
        db,
        _provider: provider,
        router,
    }
}

async fn announce(redis_url: &str) {
    let redis = sendjay_router::redis_client(redis_url).await.unwrap();
    let node = NodeInfo {
        id: "node-a".into(),
        url: "ws://127.0.0.1:1/v1/ws".into(),
        version: "test".into(),
        connections: 0,
        draining: false,
    };
    membership::announce(
        &redis,
        &KeySchema::default(),
        &node,
        Duration::from_secs(600),
    )
    .await
    .unwrap();
}

/// The test's browser: no automatic redirects (each hop is looked at), cookies kept by name (one provider
/// host and one router host on loopback, so a flat jar is enough).
struct Browser {
    http: reqwest::Client,
    cookies: HashMap<String, String>,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

impl Browser {
    fn new() -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let response = request
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        for set in response.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty()
                || set
                    .to_ascii_lowercase()
                    .contains("expires=thu, 01 jan 1970")
            {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Page {
            status: response.status(),
            location: response
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned()),
            body: response.text().await.unwrap(),
        }
    }

    async fn get(&mut self, url: &str) -> Page {
        let request = self.http.get(url);
        self.send(request).await
    }

    async fn post_form(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = self
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(request).await
    }
}

fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The first `<form>`'s action and hidden inputs of an HTML page (the provider's login and consent pages).
fn first_form(html: &str) -> (String, Vec<(String, String)>) {
    let attr = |tag: &str, name: &str| {
        let needle = format!("{name}=\"");
        tag.find(&needle).map(|i| {
            let rest = &tag[i + needle.len()..];
            rest[..rest.find('"').unwrap()].replace("&amp;", "&")
        })
    };
    let start = html.find("<form").expect("the provider's page has a form");
    let form = &html[start..start + html[start..].find("</form>").unwrap()];
    let action = attr(form, "action").expect("the form has an action");
    let hidden = form
        .split("<input")
        .skip(1)
        .filter(|tag| tag.contains("type=\"hidden\""))
        .filter_map(|tag| Some((attr(tag, "name")?, attr(tag, "value")?)))
        .collect();
    (action, hidden)
}

/// Starts a sign-on at the router as `account` and goes through the provider's pages up to the redirect back
/// to the router, which is returned (not followed): `<router>/v1/sso/callback?code=…&state=…`.
async fn sign_in_at_provider(
    setup: &Setup,
    browser: &mut Browser,
    device: &str,
    account: &str,
) -> String {
    let start = browser
        .get(&setup.url(&format!("/v1/sso/start?device={device}")))
        .await;
    assert_eq!(start.status, StatusCode::FOUND, "{}", start.body);
    let mut next = start.location.expect("start redirects to the provider");
    let authorize = Url::parse(&next).unwrap();
    let params: HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(params["code_challenge_method"], "S256", "PKCE with S256");
    assert_eq!(params["response_type"], "code");
    assert!(params["scope"].split(' ').any(|s| s == "openid"));
    assert!(params.contains_key("state") && params.contains_key("nonce"));
    let callback = setup.url("/v1/sso/callback");
    for _ in 0..20 {
        if next.starts_with(&callback) {
            return next;
        }
        let page = browser.get(&next).await;
        let base = Url::parse(&next).unwrap();
        if let Some(location) = page.location {
            next = base.join(&location).unwrap().to_string();
            continue;
        }
        assert_eq!(
            page.status,
            StatusCode::OK,
            "provider page {next}: {}",
            page.body
        );
        let (action, hidden) = first_form(&page.body);
        let mut form: Vec<(&str, &str)> = hidden
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if page.body.contains("name=\"login\"") {
            form.push(("login", account));
            form.push(("password", "anything"));
        }
        let submitted = browser
            .post_form(base.join(&action).unwrap().as_str(), &form)
            .await;
        let location = submitted.location.unwrap_or_else(|| {
            panic!(
                "the provider's form answered {}: {}",
                submitted.status, submitted.body
            )
        });
        next = base.join(&location).unwrap().to_string();
    }
    panic!("the provider never redirected back to {callback}; last URL {next}");
}

/// Where the router's callback sends the browser: `/#sso=…` or `/#sso_error=…`.
async fn callback_target(browser: &mut Browser, callback_url: &str) -> String {
    let page = browser.get(callback_url).await;
    assert_eq!(page.status, StatusCode::FOUND, "{}", page.body);
    let location = page.location.expect("the callback redirects to the app");
    assert!(
        location.starts_with("/#"),
        "back to the app with a fragment: {location}"
    );
    location
}

async fn post_json(setup: &Setup, path: &str, body: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(setup.url(path))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

async fn get_json(setup: &Setup, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(setup.url(path));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

/// The seconds to live of a Redis key (-2: it does not exist).
async fn ttl_of(setup: &Setup, key: &str) -> i64 {
    use fred::prelude::KeysInterface;
    let redis = sendjay_router::redis_client(&setup.redis.url())
        .await
        .unwrap();
    let ttl: i64 = redis.ttl(key).await.unwrap();
    ttl
}

fn param_of(url: &str, name: &str) -> String {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("{url} has no {name}"))
        .1
        .into_owned()
}

fn handoff_of(location: &str) -> &str {
    location
        .strip_prefix("/#sso=")
        .unwrap_or_else(|| panic!("expected /#sso=<handoff>, got {location}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_signs_in_with_the_provider_and_her_session_works_once() {
    let setup = setup(true).await;
    let (status, methods) = get_json(&setup, "/v1/auth/methods", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        methods,
        serde_json::json!({"password": true, "sso": {"label": "Example Corp", "start": "/v1/sso/start"}})
    );

    let mut browser = Browser::new();
    let callback = sign_in_at_provider(&setup, &mut browser, "web", "alice").await;
    let location = callback_target(&mut browser, &callback).await;
    let handoff = handoff_of(&location).to_owned();
    assert_eq!(handoff.len(), 64, "32 random bytes in hex");
    let handoff_key = KeySchema::default().sso_handoff(&handoff);
    assert!(
        (1..=60).contains(&ttl_of(&setup, &handoff_key).await),
        "a handoff lives 60 s"
    );

    let (status, session) = post_json(
        &setup,
        "/v1/sso/exchange",
        &format!(r#"{{"handoff":"{handoff}"}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["user_id"], "alice");
    assert_eq!(session["device"], "web");
    assert_eq!(session["node"]["id"], "node-a");
    assert!(session["expires_at"].as_i64().unwrap() > 0);
    // The same shape as a password login's answer.
    let (status, login) = post_json(
        &setup,
        "/v1/login",
        r#"{"user_id":"alice","password":"pw","device":"web"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&session), keys(&login));

    assert_eq!(
        setup.audit_of("alice").await.first(),
        Some(&("login".to_owned(), Some("sso".to_owned()), None)),
        "the sign-on is in the audit log as a login by sso"
    );
    assert!(session["refresh_token"].is_string() && session["device_id"].is_string());
    let token = session["token"].as_str().unwrap();
    let (status, assigned) = get_json(&setup, "/v1/assign", Some(token)).await;
    assert_eq!(
        (status, assigned["node"]["id"].as_str()),
        (StatusCode::OK, Some("node-a"))
    );

    // A handoff works once.
    let (status, again) = post_json(
        &setup,
        "/v1/sso/exchange",
        &format!(r#"{{"handoff":"{handoff}"}}"#),
    )
    .await;
    assert_eq!(
        (status, again["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_handoff"))
    );
    assert_eq!(
        ttl_of(&setup, &handoff_key).await,
        -2,
        "the exchange took the handoff"
    );
    let (status, forged) = post_json(
        &setup,
        "/v1/sso/exchange",
        &format!(r#"{{"handoff":"{}"}}"#, "0".repeat(64)),
    )
    .await;
    assert_eq!(
        (status, forged["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_handoff"))
    );
    let (status, bad) = post_json(&setup, "/v1/sso/exchange", r#"{"nope":1}"#).await;
    assert_eq!(
        (status, bad["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mobile_sign_on_gives_a_mobile_session() {
    let setup = setup(true).await;
    let mut browser = Browser::new();
    let callback = sign_in_at_provider(&setup, &mut browser, "mobile", "bob").await;
    let location = callback_target(&mut browser, &callback).await;
    let handoff = handoff_of(&location);
    let (status, session) = post_json(
        &setup,
        "/v1/sso/exchange",
        &format!(r#"{{"handoff":"{handoff}","device_id":"phone-1"}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(
        (session["user_id"].as_str(), session["device"].as_str()),
        (Some("bob"), Some("mobile"))
    );
    let (status, _) = get_json(&setup, "/v1/sso/start?device=tablet", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_sendjay_does_not_know_or_has_retired_are_refused() {
    let setup = setup(true).await;
    for (account, expected) in [
        ("mallory", "/#sso_error=unknown_user"),
        ("gone", "/#sso_error=user_retired"),
    ] {
        let mut browser = Browser::new();
        let callback = sign_in_at_provider(&setup, &mut browser, "web", account).await;
        let location = callback_target(&mut browser, &callback).await;
        assert_eq!(location, expected, "{account}");
        let reason = expected.strip_prefix("/#sso_error=").unwrap().to_owned();
        assert_eq!(
            setup.audit_of(account).await,
            vec![(
                "login_failed".to_owned(),
                Some("sso".to_owned()),
                Some(reason)
            )],
            "the refusal of {account} is in the audit log"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_or_forged_state_is_refused() {
    let setup = setup(true).await;
    let mut browser = Browser::new();
    let callback = sign_in_at_provider(&setup, &mut browser, "web", "alice").await;

    // A forged state finds nothing, and does not use up the real one.
    let mut forged = Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = forged
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "state" {
                (k, "f".repeat(43))
            } else {
                (k, v)
            }
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    let location = callback_target(&mut browser, forged.as_str()).await;
    assert_eq!(location, "/#sso_error=sso_failed");
    assert_eq!(
        setup.audit_of("(unknown)").await,
        vec![(
            "login_failed".to_owned(),
            Some("sso".to_owned()),
            Some("sso_state_unknown".to_owned())
        )]
    );

    let state_key = KeySchema::default().sso_state(&param_of(&callback, "state"));
    assert!(
        (590..=600).contains(&ttl_of(&setup, &state_key).await),
        "a sign-on lives 10 minutes"
    );
    let location = callback_target(&mut browser, &callback).await;
    handoff_of(&location);
    // The router took the state (the provider would also refuse the used code, so look at Redis).
    assert_eq!(
        ttl_of(&setup, &state_key).await,
        -2,
        "the callback took the state"
    );
    // The same callback again: the state was taken, so it is refused.
    let location = callback_target(&mut browser, &callback).await;
    assert_eq!(location, "/#sso_error=sso_failed");

    // A callback without a state, and one where the provider reports a refusal (the user cancelled).
    let location = callback_target(&mut browser, &setup.url("/v1/sso/callback?code=x")).await;
    assert_eq!(location, "/#sso_error=sso_failed");
    let start = browser.get(&setup.url("/v1/sso/start?device=web")).await;
    let state = param_of(&start.location.unwrap(), "state");
    let refused = setup.url(&format!(
        "/v1/sso/callback?error=access_denied&state={state}"
    ));
    let location = callback_target(&mut browser, &refused).await;
    assert_eq!(location, "/#sso_error=sso_failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_presented_under_another_sign_on_is_refused() {
    // Alice's code with the state of bob's sign-on: the router exchanges it with bob's PKCE verifier, which
    // the provider refuses (and bob's nonce would not match alice's ID token either): sso_failed.
    let setup = setup(true).await;
    let mut alice = Browser::new();
    let alice_callback = sign_in_at_provider(&setup, &mut alice, "web", "alice").await;
    let mut bob = Browser::new();
    let bob_callback = sign_in_at_provider(&setup, &mut bob, "web", "bob").await;
    let code = param_of(&alice_callback, "code");
    let mut mixed = Url::parse(&bob_callback).unwrap();
    let pairs: Vec<(String, String)> = mixed
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "code" {
                (k, code.clone())
            } else {
                (k, v)
            }
        })
        .collect();
    mixed.query_pairs_mut().clear().extend_pairs(pairs);
    let location = callback_target(&mut bob, mixed.as_str()).await;
    assert_eq!(location, "/#sso_error=sso_failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_single_sign_on_the_endpoints_say_so() {
    let setup = setup(false).await;
    let (status, methods) = get_json(&setup, "/v1/auth/methods", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(methods, serde_json::json!({"password": true, "sso": null}));
    for (status, body) in [
        get_json(&setup, "/v1/sso/start?device=web", None).await,
        get_json(&setup, "/v1/sso/callback?code=a&state=b", None).await,
        post_json(&setup, "/v1/sso/exchange", r#"{"handoff":"x"}"#).await,
    ] {
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::NOT_FOUND, Some("sso_not_configured")),
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_starts_while_the_provider_is_down() {
    // Nothing listens at the issuer: the router starts, password logins work, sign-on answers 503.
    let issuer = format!("http://127.0.0.1:{}", free_port());
    let setup = setup_with(false, |config| {
        config.oidc_issuer = Some(issuer);
        config.oidc_client_id = Some(CLIENT_ID.into());
        config.oidc_client_secret = Some(CLIENT_SECRET.into());
        config.oidc_redirect_url = Some("http://127.0.0.1:1/v1/sso/callback".into());
    })
    .await;
    let (status, methods) = get_json(&setup, "/v1/auth/methods", None).await;
    assert_eq!(
        (status, methods["sso"]["start"].as_str()),
        (StatusCode::OK, Some("/v1/sso/start"))
    );
    let (status, body) = get_json(&setup, "/v1/sso/start?device=web", None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("sso_unavailable")),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().contains("password"));
    let (status, _) = post_json(
        &setup,
        "/v1/login",
        r#"{"user_id":"alice","password":"pw","device":"web"}"#,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "password logins do not depend on the provider"
    );
}
