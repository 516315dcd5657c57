//! Every way a token is refused, each with its documented close code.

mod support;

use std::time::Duration;

use sendjay_client::{ConnectOptions, Connection};
use sendjay_common::close_code::CloseReason;
use sendjay_common::jwt::{now_secs, Claims, TokenKeys};
use sendjay_common::protocol::{Call, DeviceClass};
use support::TestCluster;

async fn refused_with(cluster: &TestCluster, token: &str) -> u16 {
    let client = Connection::connect(&cluster.nodes[0].ws_url(), token, ConnectOptions::default())
        .await
        .expect("upgrade");
    let closed = client
        .closed(Duration::from_secs(5))
        .await
        .expect("server closes the socket");
    closed.expect("with a close frame").code
}

fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (*b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_token_is_refused_with_its_close_code() {
    let cluster = TestCluster::start(1).await;
    cluster.users(&["alice", "retiree"]).await;
    cluster
        .db()
        .execute(
            "UPDATE users SET retired_at = now() - interval '1 day' WHERE id = 'retiree'",
            &[],
        )
        .await
        .unwrap();

    let other_key = TokenKeys::new(b"another-key-another-key-another-key!", None).unwrap();
    let forged = other_key
        .issue("alice", "pk-alice", DeviceClass::Web, now_secs(), 600)
        .unwrap();
    let expired = cluster
        .keys
        .sign(&Claims {
            sub: "alice".into(),
            pk: "pk-alice".into(),
            dev: DeviceClass::Web,
            iat: now_secs() - 7200,
            exp: now_secs() - 3600,
            iss: "sendjay".into(),
            did: None,
        })
        .unwrap();
    let none_alg = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(format!(
            r#"{{"sub":"alice","pk":"pk-alice","dev":"web","iat":0,"exp":{},"iss":"sendjay"}}"#,
            now_secs() + 600
        )
        .as_bytes())
    );
    let stale = cluster
        .keys
        .issue("alice", "old-passkey", DeviceClass::Web, now_secs(), 600)
        .unwrap();
    let unknown = cluster
        .keys
        .issue("ghost", "pk-ghost", DeviceClass::Web, now_secs(), 600)
        .unwrap();
    let retired = cluster.token("retiree", DeviceClass::Web);

    let cases = [
        ("no token", String::new(), CloseReason::AuthFailed),
        ("garbage", "not-a-jwt".to_owned(), CloseReason::AuthFailed),
        ("another key's signature", forged, CloseReason::AuthFailed),
        ("alg none", none_alg, CloseReason::AuthFailed),
        ("expired", expired, CloseReason::TokenExpired),
        ("stale passkey", stale, CloseReason::TokenRevoked),
        ("unknown user", unknown, CloseReason::UserUnavailable),
        ("retired user", retired, CloseReason::UserUnavailable),
    ];
    for (what, token, reason) in cases {
        assert_eq!(
            refused_with(&cluster, &token).await,
            reason.code(),
            "{what}"
        );
    }
    // The node still serves a good token after all that.
    let alice = cluster.connect(0, "alice").await;
    alice.call(Call::Ping).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resetting_the_passkey_refuses_old_tokens() {
    let cluster = TestCluster::start(1).await;
    cluster.users(&["alice"]).await;
    let old = cluster.token("alice", DeviceClass::Web);
    cluster
        .db()
        .execute(
            "UPDATE users SET passkey = 'rotated' WHERE id = 'alice'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        refused_with(&cluster, &old).await,
        CloseReason::TokenRevoked.code()
    );
}
