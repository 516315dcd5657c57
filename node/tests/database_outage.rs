//! A send answered `database_unavailable` may or may not have been stored (docs/protocol.md §6.4, §8): the
//! client retries it with the same `client_msg_id` once PostgreSQL is back, and it exists exactly once.

mod support;

use std::time::Duration;

use sendjay_client::{ClientError, SendRetry};
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{Call, Push, Reply, SendArgs};
use support::{drain_pushes, TestCluster};

/// A connection to `database_url`'s server, on database `db` instead.
async fn connect(database_url: &str, db: &str) -> tokio_postgres::Client {
    let (base, _) = database_url
        .rsplit_once('/')
        .expect("a URL with a database");
    let (client, connection) =
        tokio_postgres::connect(&format!("{base}/{db}"), tokio_postgres::NoTls)
            .await
            .expect("connect to the test PostgreSQL");
    tokio::spawn(connection);
    client
}

/// Cuts the test database off (`allow`: false) or lets it be reached again: no new connection is accepted
/// and every backend of the database is terminated, as a PostgreSQL outage looks to the node.
async fn database_reachable(database_url: &str, allow: bool) {
    let (_, name) = database_url.rsplit_once('/').unwrap();
    let admin = connect(database_url, "postgres").await;
    admin
        .batch_execute(&format!(
            "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS {allow}"
        ))
        .await
        .unwrap();
    if !allow {
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                &[&name],
            )
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_during_a_database_outage_is_retried_and_stored_exactly_once() {
    let cluster = TestCluster::start(1).await;
    cluster.users(&["alice", "bob"]).await;
    let room = cluster.room(&["alice", "bob"]).await;
    let alice = cluster.connect(0, "alice").await;
    let bob = cluster.connect(0, "bob").await;
    let args = SendArgs {
        room_id: room,
        client_msg_id: "outage-1".into(),
        body: "sent while PostgreSQL was away".into(),
    };

    database_reachable(&cluster.database_url, false).await;
    let first = alice.call(Call::Send(args.clone())).await;
    assert!(
        matches!(
            &first,
            Err(ClientError::Server {
                code: ErrorCode::DatabaseUnavailable,
                ..
            })
        ),
        "a send during the outage is answered database_unavailable: {first:?}"
    );
    let retry = SendRetry {
        attempts: 30,
        first_wait: Duration::from_millis(200),
        max_wait: Duration::from_millis(500),
    };
    let retried = tokio::spawn(async move {
        let reply = alice.send_retrying(args, &retry).await;
        (alice, reply)
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    database_reachable(&cluster.database_url, true).await;
    let (_alice, reply) = retried.await.unwrap();
    let message = match reply {
        Ok(Reply::Send { message, .. }) => message,
        other => panic!("the retried send is acknowledged once PostgreSQL is back: {other:?}"),
    };

    let stored: i64 = connect(
        &cluster.database_url,
        cluster.database_url.rsplit_once('/').unwrap().1,
    )
    .await
    .query_one(
        "SELECT count(*) FROM messages WHERE client_msg_id = 'outage-1'",
        &[],
    )
    .await
    .unwrap()
    .get(0);
    assert_eq!(stored, 1, "the message is stored exactly once");
    let pushed = drain_pushes(&bob, Duration::from_millis(500))
        .await
        .into_iter()
        .filter(|p| matches!(p, Push::Message { message: m } if m.client_msg_id == "outage-1"))
        .count();
    assert_eq!(pushed, 1, "bob sees it once");
    assert_eq!(message.client_msg_id, "outage-1");
}
