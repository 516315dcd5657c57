//! A private Redis Cluster: several `redis-server` masters in cluster mode on free ports, joined with
//! `redis-cli --cluster create`, for testing sharded pub/sub and hash-tagged keys. With
//! [`RedisCluster::start_with_replicas`] every master gets one replica, so tests can kill a master or fail it
//! over by hand and watch its replica take its slots.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::RedisServer;

/// Servers of a private Redis Cluster (masters, and replicas if asked for); all are killed on drop.
#[derive(Debug)]
pub struct RedisCluster {
    masters: Vec<RedisServer>,
    /// Indexes into `masters` (which then holds every server) of servers killed for good.
    killed: Vec<usize>,
}

impl RedisCluster {
    /// Starts `masters` (at least 3) cluster-mode servers, creates the cluster and waits until it is ok.
    pub async fn start(masters: usize) -> RedisCluster {
        Self::start_servers(masters, 0, "2000").await
    }

    /// Starts `masters` (at least 3) masters with one replica each and a 1 s node timeout, so a replica
    /// takes over a killed master within about 2 s; waits until the cluster is ok.
    pub async fn start_with_replicas(masters: usize) -> RedisCluster {
        Self::start_servers(masters, 1, "1000").await
    }

    async fn start_servers(masters: usize, replicas: usize, node_timeout_ms: &str) -> RedisCluster {
        assert!(masters >= 3, "a Redis Cluster needs at least 3 masters");
        let total = masters * (1 + replicas);
        let mut servers = Vec::with_capacity(total);
        for _ in 0..total {
            servers.push(
                RedisServer::start_with_args(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    node_timeout_ms,
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
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
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
        let cluster = RedisCluster {
            masters: servers,
            killed: Vec::new(),
        };
        cluster.wait_ok().await;
        if replicas > 0 {
            cluster.wait_replicas_linked(masters * replicas).await;
        }
        cluster
    }

    async fn wait_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let all_ok = self.live().all(|m| {
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

    fn live(&self) -> impl Iterator<Item = &RedisServer> {
        self.masters
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.killed.contains(i))
            .map(|(_, s)| s)
    }

    /// Waits until `count` replicas report their master link up, so a failover finds a synced replica.
    async fn wait_replicas_linked(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let linked = self
                .live()
                .filter(|s| {
                    let info = redis_cli(s.port(), &["INFO", "replication"]);
                    info.contains("role:slave") && info.contains("master_link_status:up")
                })
                .count();
            if linked >= count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "only {linked} of {count} replicas of the private Redis Cluster linked to their masters in 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The `CLUSTER NODES` lines of a live server: (node id, port, flags, master id, slot ranges).
    fn nodes(&self) -> Vec<ClusterNode> {
        let port = self.live().next().expect("a live server").port();
        redis_cli(port, &["CLUSTER", "NODES"])
            .lines()
            .filter_map(ClusterNode::parse)
            .collect()
    }

    /// The port of the master serving `key`'s slot and the port of its replica.
    pub fn master_and_replica_of(&self, key: &str) -> (u16, u16) {
        let any = self.live().next().expect("a live server").port();
        let slot: u16 = redis_cli(any, &["CLUSTER", "KEYSLOT", key])
            .trim()
            .parse()
            .expect("CLUSTER KEYSLOT answers a number");
        let nodes = self.nodes();
        let master = nodes
            .iter()
            .find(|n| n.is_master() && n.serves(slot))
            .unwrap_or_else(|| panic!("no master serves slot {slot} of {key}"));
        let replica = nodes
            .iter()
            .find(|n| n.master_id == master.id && !n.flags.contains("fail"))
            .unwrap_or_else(|| panic!("the master on port {} has no replica", master.port));
        (master.port, replica.port)
    }

    /// SIGKILLs the master serving `key`, waits until its replica was promoted and the cluster is ok, and
    /// returns (killed master's port, promoted replica's port). Writes the replica had not received are lost.
    pub async fn kill_master_holding(&mut self, key: &str) -> (u16, u16) {
        let (master, replica) = self.master_and_replica_of(key);
        let index = self
            .masters
            .iter()
            .position(|s| s.port() == master)
            .expect("the master is one of ours");
        self.masters[index].stop().await;
        self.killed.push(index);
        self.wait_promoted(replica).await;
        (master, replica)
    }

    /// Runs `CLUSTER FAILOVER` on the replica of the master serving `key` (the replica first catches up, so
    /// nothing is lost), waits until it is master and the cluster is ok; returns (old master, new master).
    pub async fn fail_over_master_holding(&mut self, key: &str) -> (u16, u16) {
        let (master, replica) = self.master_and_replica_of(key);
        let answer = redis_cli(replica, &["CLUSTER", "FAILOVER"]);
        assert!(
            answer.trim() == "OK",
            "CLUSTER FAILOVER on port {replica} answered {answer}"
        );
        self.wait_promoted(replica).await;
        (master, replica)
    }

    /// Waits until the server on `port` calls itself master in `ROLE` and the cluster is ok again.
    async fn wait_promoted(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !redis_cli(port, &["ROLE"]).starts_with("master") {
            assert!(
                Instant::now() < deadline,
                "the replica on port {port} was not promoted to master within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.wait_ok().await;
    }

    /// Whether the server on `port` is a master now (per its own `ROLE`).
    pub fn is_master(&self, port: u16) -> bool {
        redis_cli(port, &["ROLE"]).starts_with("master")
    }
}

/// One line of `CLUSTER NODES`.
struct ClusterNode {
    id: String,
    port: u16,
    flags: String,
    master_id: String,
    slots: Vec<(u16, u16)>,
}

impl ClusterNode {
    fn parse(line: &str) -> Option<ClusterNode> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 8 {
            return None;
        }
        let addr = fields[1].split('@').next()?;
        let port = addr.rsplit(':').next()?.parse().ok()?;
        let slots = fields[8..]
            .iter()
            .filter(|f| !f.starts_with('['))
            .filter_map(|f| match f.split_once('-') {
                Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                None => f.parse().ok().map(|s| (s, s)),
            })
            .collect();
        Some(ClusterNode {
            id: fields[0].to_string(),
            port,
            flags: fields[2].to_string(),
            master_id: fields[3].to_string(),
            slots,
        })
    }

    fn is_master(&self) -> bool {
        self.flags.contains("master") && !self.flags.contains("fail")
    }

    fn serves(&self, slot: u16) -> bool {
        self.slots.iter().any(|&(a, b)| (a..=b).contains(&slot))
    }
}

/// Runs `redis-cli -p port args…` and returns its output ("" if it could not run).
fn redis_cli(port: u16, args: &[&str]) -> String {
    Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}
