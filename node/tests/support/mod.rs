//! A small builder for integration tests: a private PostgreSQL database and Redis server, nodes started
//! in-process on 127.0.0.1:0, users and rooms written straight into PostgreSQL, tokens minted with the
//! cluster's key, and clients that speak the real wire protocol.
#![allow(dead_code)]

use std::time::Duration;

use sendjay_client::{ConnectOptions, Connection};
use sendjay_common::jwt::{now_secs, TokenKeys};
use sendjay_common::protocol::{Call, DeviceClass, Message, Push, Reply, SendArgs};
use sendjay_node::{NodeConfig, RunningNode};
use sendjay_testkit::{RedisCluster, RedisServer};

/// The JWT secret of test clusters.
pub const SECRET: &str = "test-secret-test-secret-test-secret!";

/// A database, a Redis and the nodes started on them.
pub struct TestCluster {
    /// The test's own database.
    pub database_url: String,
    /// The test's own Redis (absent when running on a Redis Cluster).
    pub redis: Option<RedisServer>,
    /// The test's own Redis Cluster, when asked for.
    pub redis_cluster: Option<RedisCluster>,
    /// The Redis URL nodes use.
    pub redis_url: String,
    /// Running nodes.
    pub nodes: Vec<RunningNode>,
    /// Token keys.
    pub keys: TokenKeys,
    /// The file storage directory every node of this cluster shares (`SENDJAY_FILES_URL=file://…`).
    pub files_dir: tempfile::TempDir,
    db: tokio_postgres::Client,
}

impl TestCluster {
    /// A fresh database and Redis with `nodes` nodes.
    pub async fn start(nodes: usize) -> TestCluster {
        Self::start_with(nodes, |_| {}).await
    }

    /// Like [`TestCluster::start`], adjusting each node's configuration.
    pub async fn start_with(nodes: usize, adjust: impl Fn(&mut NodeConfig)) -> TestCluster {
        let redis = RedisServer::start().await;
        Self::start_on(nodes, Some(redis), None, adjust).await
    }

    /// A fresh database and a 3-master Redis Cluster with `nodes` nodes.
    pub async fn start_on_redis_cluster(nodes: usize) -> TestCluster {
        let cluster = RedisCluster::start(3).await;
        Self::start_on(nodes, None, Some(cluster), |_| {}).await
    }

    /// A fresh database and a 3-master Redis Cluster with one replica per master, with `nodes` nodes.
    pub async fn start_on_redis_cluster_with_replicas(nodes: usize) -> TestCluster {
        let cluster = RedisCluster::start_with_replicas(3).await;
        Self::start_on(nodes, None, Some(cluster), |_| {}).await
    }

    async fn start_on(
        nodes: usize,
        redis: Option<RedisServer>,
        redis_cluster: Option<RedisCluster>,
        adjust: impl Fn(&mut NodeConfig),
    ) -> TestCluster {
        let database_url = sendjay_testkit::postgres().await.fresh_database().await;
        let redis_url = match (&redis, &redis_cluster) {
            (Some(r), _) => r.url(),
            (None, Some(c)) => c.url(),
            (None, None) => unreachable!("a test cluster needs a Redis"),
        };
        let (db, connection) = tokio_postgres::connect(&database_url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(connection);
        let mut cluster = TestCluster {
            database_url,
            redis,
            redis_cluster,
            redis_url,
            nodes: Vec::new(),
            keys: TokenKeys::new(SECRET.as_bytes(), None).unwrap(),
            files_dir: tempfile::Builder::new()
                .prefix("sendjay-files-")
                .tempdir()
                .expect("temporary directory for files"),
            db,
        };
        for _ in 0..nodes {
            cluster.add_node(&adjust).await;
        }
        cluster
    }

    /// The configuration a node of this cluster gets.
    pub fn node_config(&self) -> NodeConfig {
        let mut config = NodeConfig::with_required(&self.database_url, &self.redis_url, SECRET);
        config.heartbeat_interval_secs = 1;
        config.heartbeat_timeout_secs = 3;
        config.drain_grace_secs = 2;
        // Tests place users on chosen nodes; the assignment rule has tests of its own.
        config.enforce_assignment = false;
        config.files_url = format!("file://{}", self.files_dir.path().display());
        config
    }

    /// Records `file` as uploaded by `uploader` for `room` (metadata only, no bytes), so a `send` of kind
    /// image or file may carry it.
    pub async fn seed_file(
        &self,
        uploader: &str,
        room: i64,
        file: &sendjay_common::protocol::FileInfo,
    ) {
        self.db
            .execute(
                "INSERT INTO files (id, uploader, room_id, name, size, mime, state, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'uploaded', now() + interval '1 day')
                 ON CONFLICT DO NOTHING",
                &[
                    &file.file_id,
                    &uploader,
                    &room,
                    &file.name,
                    &file.size,
                    &file.mime,
                ],
            )
            .await
            .expect("insert file");
    }

    /// Starts one more node.
    pub async fn add_node(&mut self, adjust: &impl Fn(&mut NodeConfig)) -> usize {
        let mut config = self.node_config();
        adjust(&mut config);
        let node = sendjay_node::start(config).await.expect("node starts");
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// The single Redis server (panics on a Redis Cluster).
    pub fn redis(&mut self) -> &mut RedisServer {
        self.redis
            .as_mut()
            .expect("this test cluster runs on a single Redis")
    }

    /// Direct SQL access.
    pub fn db(&self) -> &tokio_postgres::Client {
        &self.db
    }

    /// Creates users with passkey `pk-<id>`.
    pub async fn users(&self, ids: &[&str]) {
        for id in ids {
            self.db
                .execute(
                    "INSERT INTO users (id, display_name, password_hash, passkey) VALUES ($1, $1, 'x', 'pk-' || $1)",
                    &[id],
                )
                .await
                .expect("insert user");
        }
    }

    /// Creates a group room with these members and returns its id.
    pub async fn room(&self, members: &[&str]) -> i64 {
        let id: i64 = self
            .db
            .query_one(
                "INSERT INTO rooms (kind, name) VALUES ('group', 'test') RETURNING id",
                &[],
            )
            .await
            .expect("insert room")
            .get(0);
        for m in members {
            self.db
                .execute(
                    "INSERT INTO room_members (room_id, user_id) VALUES ($1, $2)",
                    &[&id, m],
                )
                .await
                .expect("insert member");
        }
        id
    }

    /// A valid token for `user` on `device`.
    pub fn token(&self, user: &str, device: DeviceClass) -> String {
        self.keys
            .issue(user, &format!("pk-{user}"), device, now_secs(), 3600)
            .unwrap()
    }

    /// Connects `user` as a web client to node `node`.
    pub async fn connect(&self, node: usize, user: &str) -> Connection {
        self.connect_as(node, user, DeviceClass::Web, "manual")
            .await
    }

    /// Connects with a device class and launch mode; waits until the session is live.
    pub async fn connect_as(
        &self,
        node: usize,
        user: &str,
        device: DeviceClass,
        launch: &'static str,
    ) -> Connection {
        let token = self.token(user, device);
        let client = Connection::connect(
            &self.nodes[node].ws_url(),
            &token,
            ConnectOptions {
                launch,
                ..Default::default()
            },
        )
        .await
        .expect("connect");
        // The first reply proves the session passed auth, claiming and subscription.
        client.call(Call::Ping).await.expect("session is live");
        client
    }
}

/// Sends a text message and returns the stored message and whether it was a duplicate.
pub async fn send(
    client: &Connection,
    room: i64,
    client_msg_id: &str,
    body: &str,
) -> (Message, bool) {
    let reply = client
        .call(Call::Send(SendArgs {
            room_id: room,
            client_msg_id: client_msg_id.into(),
            body: body.into(),
        }))
        .await
        .expect("send succeeds");
    match reply {
        Reply::Send { message, duplicate } => (message, duplicate),
        other => panic!("unexpected reply {other:?}"),
    }
}

/// Waits for a `message` push in `room` with `seq`, skipping other pushes.
pub async fn expect_message(client: &Connection, room: i64, seq: i64) -> Message {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match client.next_push(left).await {
            Some(Push::Message { message }) if message.room_id == room && message.seq == seq => {
                return message
            }
            Some(_) => continue,
            None => panic!("no push for room {room} seq {seq} within 5 s"),
        }
    }
}

/// Collects pushes for `wait`.
pub async fn drain_pushes(client: &Connection, wait: Duration) -> Vec<Push> {
    let mut pushes = Vec::new();
    while let Some(push) = client.next_push(wait).await {
        pushes.push(push);
    }
    pushes
}
pub mod assigned;
pub mod builder;
pub mod http;
pub mod rules;
pub mod storage;

#[allow(unused_imports)]
pub use builder::cluster;
