//! Connecting a user the way a real client does when nodes come and go: to the node it hashes to among the
//! live nodes announced in Redis (used by the tests that run nodes as separate processes and kill them).
#![allow(dead_code)]

use std::time::Duration;

use sendjay_client::{ConnectOptions, Connection};
use sendjay_common::keys::KeySchema;
use sendjay_common::membership;
use sendjay_common::protocol::Call;
use sendjay_common::rendezvous;

/// Connects `user` to the node it hashes to among the live nodes, retrying while the cluster settles.
pub async fn connect_assigned(
    redis: &fred::clients::Client,
    token: &str,
    user: &str,
) -> Connection {
    let keys = KeySchema::default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{user} found no node to connect to"
        );
        let (alive, _) = membership::read_nodes(redis, &keys).await.unwrap();
        let owner = rendezvous::pick(alive.iter().map(|n| n.id.as_str()), user);
        if let Some(node) = owner.and_then(|id| alive.iter().find(|n| n.id == id)) {
            if let Ok(client) =
                Connection::connect(&node.url, token, ConnectOptions::default()).await
            {
                if client.call(Call::Ping).await.is_ok() {
                    return client;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
