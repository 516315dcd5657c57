//! Sign-in that lasts, against real PostgreSQL and Redis: refresh tokens rotate and a reused one ends the whole
//! sign-in, logout / passkey reset / retirement / a newer phone end sign-ins, a password change signs the user
//! out everywhere, and every sign-in lands in the append-only audit log.

mod support;

use std::time::Duration;

use fred::prelude::*;
use sendjay_common::bus::UserEvent;
use sendjay_common::keys::KeySchema;
use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{announce, http, post_login, setup, Setup};

async fn ready() -> Setup {
    let setup = setup(1).await;
    announce(&setup.redis_url, "node-a", false).await;
    setup
}

async fn login(setup: &Setup, user: &str, device: &str, device_id: &str) -> Value {
    let body = format!(
        r#"{{"user_id":"{user}","password":"pw","device":"{device}","device_id":"{device_id}"}}"#
    );
    let (status, answer) = post_login(&setup.routers[0], &body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

async fn refresh(setup: &Setup, refresh_token: &str) -> (u16, Value) {
    let body = format!(r#"{{"refresh_token":"{refresh_token}"}}"#);
    http(&setup.routers[0], "POST", "/v1/refresh", None, &body).await
}

fn refresh_token(answer: &Value) -> String {
    answer["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned()
}

async fn audit_actions(setup: &Setup, user: &str) -> Vec<String> {
    setup
        .db
        .query(
            "SELECT action FROM audit_log WHERE subject = $1 ORDER BY id",
            &[&user],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_and_a_reused_token_ends_the_whole_sign_in() {
    let setup = ready().await;
    let first = login(&setup, "user1", "web", "laptop-1").await;
    assert_eq!(first["device_id"], "laptop-1");
    let r1 = refresh_token(&first);
    assert_eq!(r1.len(), 64, "32 random bytes, hex");
    assert!(first["refresh_expires_at"].as_i64().unwrap() > first["expires_at"].as_i64().unwrap());
    // Only the hash is stored.
    let stored: Vec<Vec<u8>> = setup
        .db
        .query(
            "SELECT token_hash FROM refresh_tokens WHERE user_id = 'user1'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(stored, vec![Sha256::digest(r1.as_bytes()).to_vec()]);

    let (status, second) = refresh(&setup, &r1).await;
    assert_eq!(status, 200, "{second}");
    let r2 = refresh_token(&second);
    assert_ne!(r1, r2);
    assert_eq!(second["device_id"], "laptop-1");
    assert_eq!(second["node"]["id"], "node-a");
    let access = second["token"].as_str().unwrap();
    let (status, _) = http(&setup.routers[0], "GET", "/v1/assign", Some(access), "").await;
    assert_eq!(status, 200, "the refreshed access token works");

    // r1 again: someone holds a copy. The family ends, r2 included.
    let (status, answer) = refresh(&setup, &r1).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("refresh_reused")),
        "{answer}"
    );
    let (status, answer) = refresh(&setup, &r2).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("refresh_revoked")),
        "{answer}"
    );
    assert!(audit_actions(&setup, "user1")
        .await
        .contains(&"refresh_reused".to_owned()));

    // Unknown and malformed tokens.
    let (status, answer) = refresh(&setup, &"0".repeat(64)).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("invalid_refresh_token"))
    );
    let (status, answer) = http(&setup.routers[0], "POST", "/v1/refresh", None, "{").await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("bad_request"))
    );
    let (status, answer) = post_login(
        &setup.routers[0],
        r#"{"user_id":"user1","password":"pw","device":"web","device_id":"bad id!"}"#,
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("bad_request")),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_refreshes_of_one_token_at_once_cannot_both_succeed() {
    let setup = ready().await;
    let token = refresh_token(&login(&setup, "user2", "web", "tab").await);
    let (a, b) = tokio::join!(refresh(&setup, &token), refresh(&setup, &token));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 401], "{} {}", a.1, b.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_reset_retirement_and_expiry_end_refresh() {
    let setup = ready().await;
    let reset = refresh_token(&login(&setup, "user3", "mobile", "phone").await);
    setup
        .db
        .execute("UPDATE users SET passkey = 'reset' WHERE id = 'user3'", &[])
        .await
        .unwrap();
    let (status, answer) = refresh(&setup, &reset).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("refresh_revoked")),
        "{answer}"
    );

    let retired = refresh_token(&login(&setup, "user4", "web", "pc").await);
    setup
        .db
        .execute(
            "UPDATE users SET retired_at = now() WHERE id = 'user4'",
            &[],
        )
        .await
        .unwrap();
    let (status, answer) = refresh(&setup, &retired).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("user_retired")),
        "{answer}"
    );

    let expired = refresh_token(&login(&setup, "user5", "web", "pc").await);
    setup
        .db
        .execute(
            "UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE user_id = 'user5'",
            &[],
        )
        .await
        .unwrap();
    let (status, answer) = refresh(&setup, &expired).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("refresh_expired")),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_phone_signs_the_older_one_out_and_logout_ends_a_sign_in() {
    let setup = ready().await;
    let old_phone = refresh_token(&login(&setup, "user6", "mobile", "phone-a").await);
    let browser = refresh_token(&login(&setup, "user6", "web", "browser").await);
    let new_phone = refresh_token(&login(&setup, "user6", "mobile", "phone-b").await);
    let (status, answer) = refresh(&setup, &old_phone).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("refresh_revoked")),
        "{answer}"
    );
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("newer_mobile_device"),
        "{answer}"
    );
    let (status, answer) = refresh(&setup, &new_phone).await;
    assert_eq!(status, 200, "the new phone stays signed in: {answer}");
    let new_phone = refresh_token(&answer);
    let (status, answer) = refresh(&setup, &browser).await;
    assert_eq!(status, 200, "a phone never signs the browser out: {answer}");

    let body = format!(r#"{{"refresh_token":"{new_phone}"}}"#);
    let (status, answer) = http(&setup.routers[0], "POST", "/v1/logout", None, &body).await;
    assert_eq!((status, &answer["signed_out"]), (200, &Value::Bool(true)));
    let (status, answer) = refresh(&setup, &new_phone).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("refresh_revoked")),
        "{answer}"
    );
    let actions = audit_actions(&setup, "user6").await;
    for action in ["login", "device_replaced", "logout"] {
        assert!(
            actions.contains(&action.to_owned()),
            "{action} in {actions:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_checks_the_current_password_and_signs_out_everywhere() {
    let setup = ready().await;
    let router = &setup.routers[0];
    let sign_in = refresh_token(&login(&setup, "user7", "web", "pc").await);
    let subscriber = Builder::from_config(Config::from_url(&setup.redis_url).unwrap())
        .build_subscriber_client()
        .unwrap();
    subscriber.init().await.unwrap();
    let mut events = subscriber.message_rx();
    subscriber
        .subscribe(KeySchema::default().user_channel("user7"))
        .await
        .unwrap();

    let change = |current: &str, new: &str| {
        format!(r#"{{"user_id":"user7","password":"{current}","new_password":"{new}"}}"#)
    };
    let (status, answer) = http(
        router,
        "POST",
        "/v1/password",
        None,
        &change("wrong", "new-password-1"),
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("invalid_credentials"))
    );
    let (status, answer) = http(router, "POST", "/v1/password", None, &change("pw", "short")).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("weak_password"))
    );
    let (status, answer) = http(
        router,
        "POST",
        "/v1/password",
        None,
        &change("pw", "new-password-1"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");

    // The nodes are told to close every session of the user with 4003.
    let message = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("a close event on the user's channel")
        .unwrap();
    let bytes = message.value.as_bytes().unwrap().to_vec();
    let event: UserEvent = sendjay_common::codec::decode(&bytes).unwrap();
    assert!(
        matches!(
            event,
            UserEvent::Close {
                code: 4003,
                device: None,
                ..
            }
        ),
        "{event:?}"
    );

    let (status, _) = post_login(
        router,
        r#"{"user_id":"user7","password":"pw","device":"web"}"#,
    )
    .await;
    assert_eq!(status, 401, "the old password no longer works");
    let (status, _) = post_login(
        router,
        r#"{"user_id":"user7","password":"new-password-1","device":"web"}"#,
    )
    .await;
    assert_eq!(status, 200, "the new one does");
    let (status, answer) = refresh(&setup, &sign_in).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("refresh_revoked")),
        "{answer}"
    );
    let actions = audit_actions(&setup, "user7").await;
    assert!(
        actions.contains(&"password_changed".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"login_failed".to_owned()),
        "the wrong current password: {actions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_records_sign_ins_is_append_only_exports_and_purges() {
    let setup = ready().await;
    let (status, _) = post_login(
        &setup.routers[0],
        r#"{"user_id":"user8","password":"nope","device":"web"}"#,
    )
    .await;
    assert_eq!(status, 401);
    login(&setup, "user8", "web", "pc").await;
    let rows = setup
        .db
        .query(
            "SELECT actor, action, source, detail->>'method', detail->>'reason' FROM audit_log WHERE subject = 'user8' ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let seen: Vec<(
        Option<String>,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    )> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                None,
                "login_failed".into(),
                Some("127.0.0.1".into()),
                Some("password".into()),
                Some("invalid_credentials".into())
            ),
            (
                Some("user8".into()),
                "login".into(),
                Some("127.0.0.1".into()),
                Some("password".into()),
                None
            ),
        ]
    );

    // Append-only: no update, no delete, no truncate.
    for statement in [
        "UPDATE audit_log SET action = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let refused = setup.db.execute(statement, &[]).await.unwrap_err();
        assert!(
            refused.to_string().contains("append-only")
                || format!("{refused:?}").contains("append-only"),
            "{statement}: {refused:?}"
        );
    }

    // Export: JSON Lines, filtered by user and action.
    let pool = sendjay_router::pg_pool(&setup.database_url, 1).unwrap();
    let mut out = Vec::new();
    let filter = sendjay_router::audit_log::ExportFilter {
        user: Some("user8".into()),
        action: Some("login".into()),
        since: Some("2000-01-01".into()),
        ..Default::default()
    };
    let written = sendjay_router::audit_log::export(&pool, &filter, &mut out)
        .await
        .unwrap();
    let lines: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!((written, lines.len()), (1, 1));
    assert_eq!(lines[0]["actor"], "user8");
    assert_eq!(lines[0]["detail"]["device_id"], "pc");
    assert!(lines[0]["at"].as_str().unwrap().ends_with('Z'));
    let bad = sendjay_router::audit_log::ExportFilter {
        since: Some("yesterday-ish".into()),
        ..Default::default()
    };
    let err = sendjay_router::audit_log::export(&pool, &bad, &mut Vec::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--since"), "{err}");

    // Purge removes only what is past the retention.
    setup
        .db
        .execute(
            "INSERT INTO audit_log (at, action, subject) VALUES (now() - interval '30 days', 'login', 'old')",
            &[],
        )
        .await
        .unwrap();
    let before: i64 = setup
        .db
        .query_one("SELECT count(*) FROM audit_log", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        sendjay_router::audit_log::purge(&pool, 10).await.unwrap(),
        1
    );
    let after: i64 = setup
        .db
        .query_one("SELECT count(*) FROM audit_log", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(after, before - 1);
}
