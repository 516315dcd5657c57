//! Per-connection request rate limits: a burst above the limit gets `rate_limited` for the excess, the refused
//! requests do nothing, the connection stays open and works again after a wait, and other users are unaffected.

mod support;

use std::time::Duration;

use sendjay_client::ClientError;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{Call, SendArgs};
use support::builder::cluster;

const BURST: u32 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_above_the_limit_is_refused_and_does_nothing() {
    let s = cluster()
        .nodes(1)
        .users(&["alice", "bob"])
        .room(&["alice", "bob"])
        .configure(|c| {
            c.requests_per_sec = 1;
            c.request_burst = BURST;
        })
        .start()
        .await;
    let room = s.rooms[0];
    let alice = s.connect(0, "alice").await;
    let bob = s.connect(0, "bob").await;

    let mut accepted = 0u32;
    let mut refused = 0u32;
    for i in 0..(BURST * 3) {
        let call = Call::Send(SendArgs {
            room_id: room,
            client_msg_id: format!("burst-{i}"),
            body: format!("burst {i}"),
        });
        match alice.call(call).await {
            Ok(_) => accepted += 1,
            Err(ClientError::Server { code, message }) => {
                assert_eq!(code, ErrorCode::RateLimited, "{message}");
                assert!(
                    message.contains("wait"),
                    "the message says how long to wait: {message}"
                );
                refused += 1;
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    // `connect` spent one token on its liveness ping; the bucket refills at 1/s, so at most one more can be
    // admitted while the loop runs.
    assert!(
        (BURST - 1..=BURST).contains(&accepted),
        "accepted {accepted}"
    );
    assert!(refused >= BURST * 2, "refused {refused}");
    assert_eq!(accepted + refused, BURST * 3);

    let stored: i64 = s
        .db()
        .query_one("SELECT count(*) FROM messages WHERE room_id = $1", &[&room])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, i64::from(accepted), "refused sends are not stored");

    // Bob's connection has its own bucket.
    let (_, duplicate) = support::send(&bob, room, "bob-1", "hi").await;
    assert!(!duplicate);

    // After a wait, Alice's connection (still open) works again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    support::send(&alice, room, "after-wait", "again").await;
}
