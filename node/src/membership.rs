//! A node's announcement in Redis: id, public URL, version, connection count and draining flag, refreshed by a
//! heartbeat and expiring when the node goes silent. Routers read these to place users.

use std::collections::HashMap;
use std::time::Duration;

use fred::prelude::*;
use sendjay_common::keys::KeySchema;

use crate::error::NodeError;

/// How often a node refreshes its announcement.
pub const ANNOUNCE_INTERVAL: Duration = Duration::from_secs(1);
/// How long an announcement lives without a refresh: past this the node counts as dead.
pub const ANNOUNCE_TTL: Duration = Duration::from_secs(5);

/// What a node announces.
#[derive(Debug, Clone)]
pub struct Announcement<'a> {
    /// The node id.
    pub node: &'a str,
    /// The WebSocket URL clients use.
    pub url: &'a str,
    /// The software version.
    pub version: &'a str,
    /// Open connections.
    pub connections: usize,
    /// Whether the node is draining (routers stop assigning to it).
    pub draining: bool,
}

/// Writes (or refreshes) the announcement.
pub async fn announce(
    redis: &Client,
    keys: &KeySchema,
    a: &Announcement<'_>,
) -> Result<(), NodeError> {
    let key = keys.node(a.node);
    let mut fields: HashMap<&str, String> = HashMap::new();
    fields.insert("url", a.url.to_owned());
    fields.insert("version", a.version.to_owned());
    fields.insert("connections", a.connections.to_string());
    fields.insert("draining", if a.draining { "1" } else { "0" }.to_owned());
    let pipeline = redis.pipeline();
    let _: () = pipeline.hset(&key, fields).await?;
    let _: () = pipeline
        .pexpire(&key, ANNOUNCE_TTL.as_millis() as i64, None)
        .await?;
    let _: () = pipeline.sadd(keys.nodes(), a.node).await?;
    let _: Vec<Value> = pipeline.all().await?;
    Ok(())
}

/// Removes the announcement (clean shutdown).
pub async fn withdraw(redis: &Client, keys: &KeySchema, node: &str) -> Result<(), NodeError> {
    let _: i64 = redis.del(keys.node(node)).await?;
    let _: i64 = redis.srem(keys.nodes(), node).await?;
    Ok(())
}
