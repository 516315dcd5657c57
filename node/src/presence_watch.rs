//! Who watches whose presence on this node (`watch_presence`, docs/protocol.md §6.13).
//!
//! A node subscribes to a user's presence channel only while one of its connections watches that user, so a
//! presence change costs one PUBLISH plus one delivery per node that shows the person — never a message to every
//! node, and nothing that grows with the size of the company. Each connection's watched set is replaced as a
//! whole by each `watch_presence`, and dropped when the connection ends.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A connection, by its user and its id on this node.
pub type ConnKey = (Arc<str>, u64);

/// The watched sets of this node's connections.
#[derive(Debug, Default)]
pub struct PresenceWatchers {
    by_watched: HashMap<Arc<str>, HashSet<ConnKey>>,
    by_conn: HashMap<u64, Vec<Arc<str>>>,
}

/// Presence channels to subscribe to and to leave after a change of watched sets.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct WatchChange {
    /// Users nobody here watched before.
    pub needed: Vec<Arc<str>>,
    /// Users nobody here watches any more.
    pub unneeded: Vec<Arc<str>>,
}

impl PresenceWatchers {
    /// Makes `users` the whole watched set of connection `conn`.
    pub fn set(&mut self, conn: ConnKey, users: Vec<Arc<str>>) -> WatchChange {
        let mut change = self.clear(conn.1);
        for user in &users {
            let watchers = self.by_watched.entry(user.clone()).or_default();
            if watchers.is_empty() {
                // Dropped a moment ago by `clear` and watched again: the channel stays, nothing to do.
                match change.unneeded.iter().position(|u| u == user) {
                    Some(i) => {
                        change.unneeded.swap_remove(i);
                    }
                    None => change.needed.push(user.clone()),
                }
            }
            watchers.insert(conn.clone());
        }
        if !users.is_empty() {
            self.by_conn.insert(conn.1, users);
        }
        change
    }

    /// Forgets what connection `conn_id` watched; returns the users nobody here watches any more.
    pub fn clear(&mut self, conn_id: u64) -> WatchChange {
        let mut change = WatchChange::default();
        for user in self.by_conn.remove(&conn_id).unwrap_or_default() {
            if let Some(watchers) = self.by_watched.get_mut(&user) {
                watchers.retain(|(_, id)| *id != conn_id);
                if watchers.is_empty() {
                    self.by_watched.remove(&user);
                    change.unneeded.push(user);
                }
            }
        }
        change
    }

    /// Whether some connection here watches `user`.
    pub fn needed(&self, user: &str) -> bool {
        self.by_watched.contains_key(user)
    }

    /// The connections watching `user`.
    pub fn watchers(&self, user: &str) -> impl Iterator<Item = &ConnKey> {
        self.by_watched.get(user).into_iter().flatten()
    }

    /// How many users are watched here (a gauge).
    pub fn watched_users(&self) -> usize {
        self.by_watched.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(names: &[&str]) -> Vec<Arc<str>> {
        names.iter().map(|n| Arc::from(*n)).collect()
    }

    #[test]
    fn channels_are_needed_while_one_connection_watches() {
        let mut w = PresenceWatchers::default();
        let a = (Arc::from("alice"), 1);
        let b = (Arc::from("bob"), 2);
        assert_eq!(
            w.set(a.clone(), users(&["dave", "carol"])).needed,
            users(&["dave", "carol"])
        );
        assert_eq!(w.set(b.clone(), users(&["dave"])), WatchChange::default());
        // alice replaces her set: carol is no longer watched by anyone, dave still by bob.
        let change = w.set(a.clone(), users(&["dave", "erin"]));
        assert_eq!(change.needed, users(&["erin"]));
        assert_eq!(change.unneeded, users(&["carol"]));
        assert_eq!(w.watchers("dave").count(), 2);
        assert_eq!(w.clear(2).unneeded, users(&[]));
        let mut gone = w.clear(1).unneeded;
        gone.sort();
        assert_eq!(gone, users(&["dave", "erin"]));
        assert!(!w.needed("dave") && w.watched_users() == 0);
    }

    #[test]
    fn watching_the_same_set_again_changes_no_channel() {
        let mut w = PresenceWatchers::default();
        let a = (Arc::from("alice"), 1);
        w.set(a.clone(), users(&["dave"]));
        assert_eq!(w.set(a.clone(), users(&["dave"])), WatchChange::default());
        assert_eq!(w.set(a, users(&[])).unneeded, users(&["dave"]));
    }
}
