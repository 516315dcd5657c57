//! The live nodes, read from their announcements in Redis and cached briefly. A router holds no other state,
//! so any number of replicas give the same answer for the same user.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use fred::prelude::Client;
use sendjay_common::keys::KeySchema;
use sendjay_common::membership;
use sendjay_common::rendezvous;

use crate::error::RouterError;

/// A node clients can be sent to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeInfo {
    /// The node id.
    pub id: String,
    /// Its WebSocket URL.
    pub url: String,
}

/// Reads and caches live, non-draining nodes.
pub struct NodeDirectory {
    redis: Client,
    keys: KeySchema,
    ttl: Duration,
    cache: Mutex<Option<(Instant, Vec<NodeInfo>)>>,
}

impl NodeDirectory {
    /// A directory reading from `redis`, caching for `ttl`.
    pub fn new(redis: Client, keys: KeySchema, ttl: Duration) -> NodeDirectory {
        NodeDirectory {
            redis,
            keys,
            ttl,
            cache: Mutex::new(None),
        }
    }

    /// Live, non-draining nodes, sorted by id.
    pub async fn live(&self) -> Result<Vec<NodeInfo>, RouterError> {
        if let Some((at, nodes)) = &*self.cache.lock().unwrap_or_else(|p| p.into_inner()) {
            if at.elapsed() < self.ttl {
                return Ok(nodes.clone());
            }
        }
        let (alive, _dead) = membership::read_nodes(&self.redis, &self.keys).await?;
        let nodes: Vec<NodeInfo> = alive
            .into_iter()
            .filter(|n| !n.draining)
            .map(|n| NodeInfo {
                id: n.id,
                url: n.url,
            })
            .collect();
        ::metrics::gauge!(crate::metrics::LIVE_NODES).set(nodes.len() as f64);
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now(), nodes.clone()));
        Ok(nodes)
    }

    /// The node `user` belongs to, by rendezvous hashing over the live nodes.
    pub async fn assign(&self, user: &str) -> Result<Option<NodeInfo>, RouterError> {
        let nodes = self.live().await?;
        let chosen = rendezvous::pick(nodes.iter().map(|n| n.id.as_str()), user).map(str::to_owned);
        Ok(chosen.and_then(|id| nodes.into_iter().find(|n| n.id == id)))
    }
}
