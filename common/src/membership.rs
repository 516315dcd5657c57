//! Cluster membership in Redis: each node announces itself (id, public URL, version, connection count,
//! draining flag) under an expiring key refreshed by a heartbeat; a node silent past the expiry is dead.
//! Routers read the live, non-draining nodes to place users; nodes read them to know whom they host, and
//! sweep the session records dead nodes left behind.

use std::collections::HashMap;
use std::time::Duration;

use fred::prelude::*;
use fred::types::scripts::Script;

use crate::keys::KeySchema;

/// How often a node refreshes its announcement.
pub const ANNOUNCE_INTERVAL: Duration = Duration::from_secs(1);
/// Default life of an announcement without a refresh: past this the node counts as dead.
pub const DEFAULT_NODE_TIMEOUT: Duration = Duration::from_secs(5);

/// What a node announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// The node id.
    pub id: String,
    /// The WebSocket URL clients use.
    pub url: String,
    /// The software version.
    pub version: String,
    /// Open connections.
    pub connections: u64,
    /// Whether the node is draining (routers stop assigning to it).
    pub draining: bool,
}

/// Writes (or refreshes) a node's announcement, living `timeout` without a refresh.
pub async fn announce(
    redis: &Client,
    keys: &KeySchema,
    node: &NodeInfo,
    timeout: Duration,
) -> Result<(), Error> {
    let key = keys.node(&node.id);
    let mut fields: HashMap<&str, String> = HashMap::new();
    fields.insert("url", node.url.clone());
    fields.insert("version", node.version.clone());
    fields.insert("connections", node.connections.to_string());
    fields.insert("draining", if node.draining { "1" } else { "0" }.to_owned());
    let _: () = redis.hset(&key, fields).await?;
    let _: () = redis
        .pexpire(&key, timeout.as_millis() as i64, None)
        .await?;
    let _: () = redis.sadd(keys.nodes(), node.id.as_str()).await?;
    Ok(())
}

/// Removes a node's announcement (clean shutdown).
pub async fn withdraw(redis: &Client, keys: &KeySchema, node: &str) -> Result<(), Error> {
    let _: i64 = redis.del(keys.node(node)).await?;
    let _: i64 = redis.srem(keys.nodes(), node).await?;
    Ok(())
}

/// Every announced node: alive ones with their info, and the ids whose announcement expired.
pub async fn read_nodes(
    redis: &Client,
    keys: &KeySchema,
) -> Result<(Vec<NodeInfo>, Vec<String>), Error> {
    let ids: Vec<String> = redis.smembers(keys.nodes()).await?;
    let mut alive = Vec::with_capacity(ids.len());
    let mut dead = Vec::new();
    for id in ids {
        let fields: HashMap<String, String> = redis.hgetall(keys.node(&id)).await?;
        match fields.get("url") {
            Some(url) => alive.push(NodeInfo {
                url: url.clone(),
                version: fields.get("version").cloned().unwrap_or_default(),
                connections: fields
                    .get("connections")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0),
                draining: fields.get("draining").is_some_and(|d| d == "1"),
                id,
            }),
            None => dead.push(id),
        }
    }
    alive.sort_by(|a, b| a.id.cmp(&b.id));
    Ok((alive, dead))
}

/// Records that `user` has a session on `node` (so a survivor can clean up after the node dies).
pub async fn add_user(
    redis: &Client,
    keys: &KeySchema,
    node: &str,
    user: &str,
) -> Result<(), Error> {
    let _: i64 = redis.sadd(keys.node_users(node), user).await?;
    Ok(())
}

/// Forgets that `user` has a session on `node`.
pub async fn remove_user(
    redis: &Client,
    keys: &KeySchema,
    node: &str,
    user: &str,
) -> Result<(), Error> {
    let _: i64 = redis.srem(keys.node_users(node), user).await?;
    Ok(())
}

const SWEEP_USER: &str = r#"
local removed = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local node = string.match(fields[i + 1], '^(.*)/[0-9]+/[0-9]+$')
  if node == ARGV[1] then
    redis.call('HDEL', KEYS[1], fields[i])
    removed = removed + 1
  end
end
return removed
"#;

/// Removes the session records of a dead node and forgets the node; returns the users whose records went.
pub async fn sweep_dead_node(
    redis: &Client,
    keys: &KeySchema,
    node: &str,
) -> Result<Vec<String>, Error> {
    let users: Vec<String> = redis.smembers(keys.node_users(node)).await?;
    let script = Script::from_lua(SWEEP_USER);
    let mut swept = Vec::new();
    for user in users {
        let n: u64 = script
            .evalsha_with_reload(redis, vec![keys.sessions(&user)], vec![node.to_owned()])
            .await?;
        if n > 0 {
            swept.push(user);
        }
    }
    let _: i64 = redis.del(keys.node_users(node)).await?;
    let _: i64 = redis.srem(keys.nodes(), node).await?;
    Ok(swept)
}
