//! A private Redis Cluster: several `redis-server` masters in cluster mode on free ports, joined with
//! `redis-cli --cluster create`, for testing sharded pub/sub and hash-tagged keys.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::RedisServer;

/// Masters of a private Redis Cluster; all are killed on drop.
#[derive(Debug)]
pub struct RedisCluster {
    masters: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `masters` (at least 3) cluster-mode servers, creates the cluster and waits until it is ok.
    pub async fn start(masters: usize) -> RedisCluster {
        assert!(masters >= 3, "a Redis Cluster needs at least 3 masters");
        let mut servers = Vec::with_capacity(masters);
        for _ in 0..masters {
            servers.push(
                RedisServer::start_with_args(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "2000",
                ])
                .await,
            );
        }
        let addrs: Vec<String> = servers
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port()))
            .collect();
        let output = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-cli: {e}; install the redis-tools package")
            });
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let cluster = RedisCluster { masters: servers };
        cluster.wait_ok().await;
        cluster
    }

    async fn wait_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let all_ok = self.masters.iter().all(|m| {
                Command::new("redis-cli")
                    .args(["-p", &m.port().to_string(), "cluster", "info"])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok"))
                    .unwrap_or(false)
            });
            if all_ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the private Redis Cluster did not reach cluster_state:ok in 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The URL for clients: `redis-cluster://` with every master as a seed node.
    pub fn url(&self) -> String {
        let first = self.masters[0].port();
        let others: Vec<String> = self.masters[1..]
            .iter()
            .map(|m| format!("node=127.0.0.1:{}", m.port()))
            .collect();
        format!("redis-cluster://127.0.0.1:{first}?{}", others.join("&"))
    }

    /// Restarts, empty, the master that holds `key` (the same port and cluster identity, no data), as a
    /// shard without persistence or replica would come back after a crash; waits until the cluster is ok
    /// again and returns the master's port.
    pub async fn restart_master_holding(&mut self, key: &str) -> u16 {
        let index = self
            .masters
            .iter()
            .position(|m| {
                Command::new("redis-cli")
                    .args(["-p", &m.port().to_string(), "EXISTS", key])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "1")
                    .unwrap_or(false)
            })
            .unwrap_or_else(|| panic!("no master of the private Redis Cluster holds {key}"));
        self.masters[index].restart().await;
        self.wait_ok().await;
        self.masters[index].port()
    }

    /// The masters' ports.
    pub fn ports(&self) -> Vec<u16> {
        self.masters.iter().map(RedisServer::port).collect()
    }
}
