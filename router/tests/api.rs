//! The router against real PostgreSQL and Redis: login, assignment by rendezvous hashing, and two replicas
//! that agree without sharing anything but Redis.

mod support;

use std::time::Duration;

use sendjay_common::rendezvous;
use sendjay_router::RunningRouter;
use serde_json::Value;
use support::{announce, http, http_raw, post_login, setup, setup_with};

/// A login with extra header lines; returns the status, the `Retry-After` header and the body.
async fn login_from(
    router: &RunningRouter,
    headers: &str,
    user: &str,
    password: &str,
) -> (u16, Option<u64>, Value) {
    let body = format!(r#"{{"user_id":"{user}","password":"{password}","device":"web"}}"#);
    let (status, head, body) = http_raw(router, "POST", "/v1/login", headers, &body).await;
    let retry_after = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("retry-after:")
                .map(|v| v.trim().to_owned())
        })
        .map(|v| v.parse().expect("Retry-After is whole seconds"));
    (status, retry_after, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_routers_agree_on_every_assignment() {
    let setup = setup(2).await;
    for id in ["node-a", "node-b", "node-c"] {
        announce(&setup.redis_url, id, false).await;
    }
    announce(&setup.redis_url, "node-draining", true).await;
    let nodes = ["node-a", "node-b", "node-c"];
    let mut per_node = std::collections::HashMap::new();
    for i in 1..=40 {
        let user = format!("user{i}");
        let body = format!(r#"{{"user_id":"{user}","password":"pw","device":"web"}}"#);
        let (s1, a) = post_login(&setup.routers[0], &body).await;
        let (s2, b) = post_login(&setup.routers[1], &body).await;
        assert_eq!((s1, s2), (200, 200), "{a} {b}");
        let expected = rendezvous::pick(nodes.iter().copied(), &user).unwrap();
        assert_eq!(
            a["node"]["id"], expected,
            "router 1 follows rendezvous hashing"
        );
        assert_eq!(b["node"]["id"], expected, "router 2 agrees");
        // The token also gets the same answer from /v1/assign on either router.
        let token = a["token"].as_str().unwrap().to_owned();
        let (s, assigned) = http(&setup.routers[1], "GET", "/v1/assign", Some(&token), "").await;
        assert_eq!((s, assigned["node"]["id"].as_str()), (200, Some(expected)));
        *per_node.entry(expected).or_insert(0) += 1;
    }
    assert_eq!(
        per_node.len(),
        3,
        "users spread over all live nodes and never the draining one: {per_node:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_refusals_are_clear() {
    let setup = setup(1).await;
    let router = &setup.routers[0];
    let (status, body) = post_login(
        router,
        r#"{"user_id":"user1","password":"pw","device":"web"}"#,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("no_nodes")),
        "no node announced yet"
    );
    announce(&setup.redis_url, "node-a", false).await;
    let cases = [
        (
            r#"{"user_id":"user1","password":"wrong","device":"web"}"#,
            401,
            "invalid_credentials",
        ),
        (
            r#"{"user_id":"nobody","password":"pw","device":"web"}"#,
            401,
            "invalid_credentials",
        ),
        (
            r#"{"user_id":"gone","password":"pw","device":"web"}"#,
            403,
            "user_retired",
        ),
        (
            r#"{"user_id":"user1","password":"pw","device":"tablet"}"#,
            400,
            "bad_request",
        ),
        (r#"not json"#, 400, "bad_request"),
    ];
    for (body, status, code) in cases {
        let (got, answer) = post_login(router, body).await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(code)),
            "{body}"
        );
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (status, ok) = post_login(
        router,
        r#"{"user_id":"user1","password":"pw","device":"mobile"}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(ok["device"], "mobile");
    let (status, _) = http(router, "GET", "/v1/assign", Some("forged"), "").await;
    assert_eq!(status, 401);
    let count: i64 = setup
        .db
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 41, "logins change nothing in the database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_are_throttled_and_the_right_one_waits_for_the_window() {
    let setup = setup_with(1, |c| {
        c.login_window_secs = 2;
        c.login_max_failures_per_user_source = 3;
    })
    .await;
    announce(&setup.redis_url, "node-a", false).await;
    let router = &setup.routers[0];
    for attempt in 1..=3 {
        let (status, _, body) = login_from(router, "", "user1", "wrong").await;
        assert_eq!(status, 401, "attempt {attempt}: {body}");
    }
    let (status, retry_after, body) = login_from(router, "", "user1", "wrong").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("too_many_attempts"))
    );
    let retry_after = retry_after.expect("a 429 carries Retry-After");
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(body["retry_after"].as_u64(), Some(retry_after));
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    let (status, _, _) = login_from(router, "", "user1", "pw").await;
    assert_eq!(status, 429, "the right password is refused while throttled");
    let (status, _, _) = login_from(router, "", "user2", "pw").await;
    assert_eq!(
        status, 200,
        "another user from the same address is not affected"
    );
    tokio::time::sleep(Duration::from_secs(retry_after) + Duration::from_millis(300)).await;
    let (status, _, body) = login_from(router, "", "user1", "pw").await;
    assert_eq!(status, 200, "accepted once the window is over: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_routers_share_the_login_limit_through_redis() {
    let setup = setup_with(2, |c| c.login_max_failures_per_user_source = 4).await;
    announce(&setup.redis_url, "node-a", false).await;
    for router in [
        &setup.routers[0],
        &setup.routers[1],
        &setup.routers[0],
        &setup.routers[1],
    ] {
        let (status, _, _) = login_from(router, "", "user1", "wrong").await;
        assert_eq!(status, 401);
    }
    for router in &setup.routers {
        let (status, retry_after, _) = login_from(router, "", "user1", "pw").await;
        assert_eq!(
            status, 429,
            "four failures spread over two routers reach the limit of four"
        );
        assert!(retry_after.is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guesser_on_one_address_does_not_lock_the_user_out_elsewhere() {
    let setup = setup_with(1, |c| {
        c.login_trust_forwarded_for = true;
        c.login_max_failures_per_user_source = 3;
        c.login_max_failures_per_user = 6;
    })
    .await;
    announce(&setup.redis_url, "node-a", false).await;
    let router = &setup.routers[0];
    let attacker = "x-forwarded-for: 10.9.9.9\r\n";
    let victim = "x-forwarded-for: 1.2.3.4, 10.1.1.1\r\n";
    for _ in 0..3 {
        assert_eq!(login_from(router, attacker, "user1", "wrong").await.0, 401);
    }
    assert_eq!(login_from(router, attacker, "user1", "pw").await.0, 429);
    assert_eq!(
        login_from(router, victim, "user1", "pw").await.0,
        200,
        "the user logs in from her own address"
    );
    // Guessing from many addresses reaches the per-user ceiling, which holds on every address.
    for i in 0..6 {
        let spread = format!("x-forwarded-for: 10.8.0.{i}\r\n");
        let _ = login_from(router, &spread, "user1", "wrong").await;
    }
    assert_eq!(login_from(router, victim, "user1", "pw").await.0, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_user_takes_as_long_to_refuse_as_a_wrong_password() {
    let setup = setup_with(1, |c| {
        c.login_max_failures_per_user_source = 1000;
        c.login_max_failures_per_user = 1000;
        c.login_max_failures_per_source = 1000;
    })
    .await;
    announce(&setup.redis_url, "node-a", false).await;
    let router = &setup.routers[0];
    // Interleaved, so whatever else loads the machine weighs on both series alike.
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        for (user, times) in [("user1", &mut known), ("nobody", &mut unknown)] {
            let started = std::time::Instant::now();
            let (status, _, _) = login_from(router, "", user, "wrong").await;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(status, 401);
        }
    }
    let median = |times: &mut Vec<f64>| {
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    let (known, unknown) = (median(&mut known), median(&mut unknown));
    assert!(
        unknown >= 0.5 * known,
        "an unknown user is refused in {unknown:.1} ms, a wrong password in {known:.1} ms: the answer tells which users exist"
    );
}
