//! A builder that makes a test read as its scenario, in the style of linkerd2-proxy's test support:
//!
//! ```ignore
//! let s = cluster().nodes(2).users(&["alice", "bob"]).room(&["alice", "bob"]).start().await;
//! let alice = s.connect(0, "alice").await;
//! let room = s.rooms[0];
//! ```

use std::ops::{Deref, DerefMut};

use sendjay_node::NodeConfig;

use super::TestCluster;

/// What a test needs before its first request: nodes, users, rooms.
pub struct ClusterBuilder {
    nodes: usize,
    users: Vec<String>,
    rooms: Vec<Vec<String>>,
    adjust: Box<dyn Fn(&mut NodeConfig)>,
}

/// A started cluster (it derefs to [`TestCluster`]) and the ids of the rooms asked for, in order.
pub struct Scenario {
    /// The cluster.
    pub cluster: TestCluster,
    /// The rooms of [`ClusterBuilder::room`], in the order they were asked for.
    pub rooms: Vec<i64>,
}

impl Deref for Scenario {
    type Target = TestCluster;
    fn deref(&self) -> &TestCluster {
        &self.cluster
    }
}

impl DerefMut for Scenario {
    fn deref_mut(&mut self) -> &mut TestCluster {
        &mut self.cluster
    }
}

/// One node, no users, no rooms.
pub fn cluster() -> ClusterBuilder {
    ClusterBuilder {
        nodes: 1,
        users: Vec::new(),
        rooms: Vec::new(),
        adjust: Box::new(|_| {}),
    }
}

impl ClusterBuilder {
    /// How many nodes to start.
    pub fn nodes(mut self, nodes: usize) -> Self {
        self.nodes = nodes;
        self
    }

    /// A user (passkey `pk-<id>`).
    pub fn user(mut self, id: &str) -> Self {
        self.users.push(id.to_owned());
        self
    }

    /// Several users.
    pub fn users(mut self, ids: &[&str]) -> Self {
        self.users.extend(ids.iter().map(|id| (*id).to_owned()));
        self
    }

    /// A group room with these members (written straight into PostgreSQL).
    pub fn room(mut self, members: &[&str]) -> Self {
        self.rooms
            .push(members.iter().map(|m| (*m).to_owned()).collect());
        self
    }

    /// Changes every node's configuration.
    pub fn configure(mut self, adjust: impl Fn(&mut NodeConfig) + 'static) -> Self {
        self.adjust = Box::new(adjust);
        self
    }

    /// Starts PostgreSQL, Redis and the nodes, and writes the users and rooms.
    pub async fn start(self) -> Scenario {
        let cluster = TestCluster::start_with(self.nodes, &*self.adjust).await;
        let users: Vec<&str> = self.users.iter().map(String::as_str).collect();
        cluster.users(&users).await;
        let mut rooms = Vec::new();
        for members in &self.rooms {
            let members: Vec<&str> = members.iter().map(String::as_str).collect();
            rooms.push(cluster.room(&members).await);
        }
        Scenario { cluster, rooms }
    }
}
