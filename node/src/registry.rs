//! The node's in-memory view of who is connected here and which rooms they are in.
//!
//! Delivery walks room → local users → their connections, so a room push costs one lookup per local member,
//! not per member of the room. The registry also tells the bus which channels this node needs: a room is
//! needed while at least one local user is in it, a user channel while that user has a connection here.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use sendjay_common::protocol::DeviceClass;

use crate::outbox::{Outbox, Queued};
use crate::presence_watch::{PresenceWatchers, WatchChange};

/// One authenticated WebSocket on this node.
#[derive(Debug)]
pub struct Conn {
    /// Unique on this node.
    pub id: u64,
    /// The user.
    pub user: Arc<str>,
    /// Web or mobile.
    pub device: DeviceClass,
    /// The signed-in installation (the token's `did`), when the router named it.
    pub device_id: Option<Box<str>>,
    /// The client's address, for the audit log.
    pub peer: std::net::IpAddr,
    /// The session generation won in Redis (0 until known).
    pub generation: AtomicU64,
    /// Frames waiting to be written.
    pub outbox: Outbox,
}

impl Conn {
    /// The session generation.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

#[derive(Debug, Default)]
struct UserEntry {
    conns: Vec<Arc<Conn>>,
    rooms: HashSet<i64>,
}

#[derive(Debug, Default)]
struct Inner {
    users: HashMap<Arc<str>, UserEntry>,
    rooms: HashMap<i64, HashSet<Arc<str>>>,
    presence: PresenceWatchers,
}

/// Connections, users and rooms present on this node.
#[derive(Debug)]
pub struct Registry {
    inner: Mutex<Inner>,
    outbox_max: usize,
}

/// What changed in the channels this node needs after an add or remove.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ChannelChange {
    /// Rooms that had no local user before (subscribe) or have none now (unsubscribe).
    pub rooms: Vec<i64>,
    /// Whether the user channel became needed (add) or unneeded (remove).
    pub user: bool,
    /// Presence channels nobody here watches any more (remove).
    pub presence: Vec<Arc<str>>,
}

/// Counts of one delivery.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Frames queued.
    pub queued: usize,
    /// Connections closed as slow consumers by this delivery.
    pub overflowed: usize,
}

impl Registry {
    /// An empty registry whose connections queue at most `outbox_max` frames.
    pub fn new(outbox_max: usize) -> Registry {
        Registry {
            inner: Mutex::new(Inner::default()),
            outbox_max,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a connection whose user is in `rooms`.
    pub fn add(&self, conn: Arc<Conn>, rooms: &[i64]) -> ChannelChange {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let user = conn.user.clone();
        let entry = inner.users.entry(user.clone()).or_default();
        let new_user = entry.conns.is_empty();
        entry.conns.push(conn);
        let mut change = ChannelChange {
            user: new_user,
            ..ChannelChange::default()
        };
        for &room in rooms {
            if entry.rooms.insert(room) {
                let members = inner.rooms.entry(room).or_default();
                if members.is_empty() {
                    change.rooms.push(room);
                }
                members.insert(user.clone());
            }
        }
        change
    }

    /// Removes a connection; returns the rooms and user channel no longer needed.
    pub fn remove(&self, conn: &Conn) -> ChannelChange {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let mut change = ChannelChange {
            presence: inner.presence.clear(conn.id).unneeded,
            ..ChannelChange::default()
        };
        let Some(entry) = inner.users.get_mut(&conn.user) else {
            return change;
        };
        entry.conns.retain(|c| c.id != conn.id);
        if !entry.conns.is_empty() {
            return change;
        }
        let entry = inner.users.remove(&conn.user).unwrap_or_default();
        change.user = true;
        for room in entry.rooms {
            if let Some(members) = inner.rooms.get_mut(&room) {
                members.remove(&conn.user);
                if members.is_empty() {
                    inner.rooms.remove(&room);
                    change.rooms.push(room);
                }
            }
        }
        change
    }

    /// Records that a connected user joined a room; true when the room became needed.
    pub fn join_room(&self, user: &str, room: i64) -> bool {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let Some(key) = inner.users.get_key_value(user).map(|(k, _)| k.clone()) else {
            return false;
        };
        let Some(entry) = inner.users.get_mut(user) else {
            return false;
        };
        if !entry.rooms.insert(room) {
            return false;
        }
        let members = inner.rooms.entry(room).or_default();
        let newly = members.is_empty();
        members.insert(key);
        newly
    }

    /// Records that a connected user left a room; true when the room is no longer needed.
    pub fn leave_room(&self, user: &str, room: i64) -> bool {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let Some(entry) = inner.users.get_mut(user) else {
            return false;
        };
        if !entry.rooms.remove(&room) {
            return false;
        }
        match inner.rooms.get_mut(&room) {
            Some(members) => {
                members.remove(user);
                if members.is_empty() {
                    inner.rooms.remove(&room);
                    return true;
                }
                false
            }
            None => false,
        }
    }

    /// Whether some local user is in `room`.
    pub fn room_needed(&self, room: i64) -> bool {
        self.lock().rooms.contains_key(&room)
    }

    /// Makes `users` the whole set whose presence `conn` watches; says which presence channels to join and leave.
    pub fn watch_presence(&self, conn: &Conn, users: Vec<Arc<str>>) -> WatchChange {
        self.lock()
            .presence
            .set((conn.user.clone(), conn.id), users)
    }

    /// Whether some connection here watches `user`'s presence.
    pub fn presence_needed(&self, user: &str) -> bool {
        self.lock().presence.needed(user)
    }

    /// Queues `frame` for every local connection watching `user`'s presence.
    pub fn deliver_presence(&self, user: &str, frame: &Bytes) -> Delivery {
        let inner = self.lock();
        let mut delivery = Delivery::default();
        for (watcher, id) in inner.presence.watchers(user) {
            let conn = inner
                .users
                .get(watcher)
                .and_then(|e| e.conns.iter().find(|c| c.id == *id));
            if let Some(conn) = conn {
                self.queue(conn, frame, &mut delivery);
            }
        }
        delivery
    }

    /// Whether `user` has a connection here.
    pub fn user_needed(&self, user: &str) -> bool {
        self.lock().users.contains_key(user)
    }

    /// Queues `frame` for every local connection of every local member of `room`.
    pub fn deliver_room(&self, room: i64, frame: &Bytes) -> Delivery {
        let inner = self.lock();
        let mut delivery = Delivery::default();
        let Some(members) = inner.rooms.get(&room) else {
            return delivery;
        };
        for user in members {
            if let Some(entry) = inner.users.get(user) {
                for conn in &entry.conns {
                    self.queue(conn, frame, &mut delivery);
                }
            }
        }
        delivery
    }

    /// Queues `frame` for every local connection of `user`.
    pub fn deliver_user(&self, user: &str, frame: &Bytes) -> Delivery {
        let inner = self.lock();
        let mut delivery = Delivery::default();
        if let Some(entry) = inner.users.get(user) {
            for conn in &entry.conns {
                self.queue(conn, frame, &mut delivery);
            }
        }
        delivery
    }

    fn queue(&self, conn: &Conn, frame: &Bytes, delivery: &mut Delivery) {
        match conn.outbox.push(frame.clone(), self.outbox_max) {
            Queued::Ok => delivery.queued += 1,
            Queued::Overflow => delivery.overflowed += 1,
            Queued::Closing => {}
        }
    }

    /// The local connections of `user`.
    pub fn conns_of(&self, user: &str) -> Vec<Arc<Conn>> {
        self.lock()
            .users
            .get(user)
            .map(|e| e.conns.clone())
            .unwrap_or_default()
    }

    /// Every local connection.
    pub fn all_conns(&self) -> Vec<Arc<Conn>> {
        self.lock()
            .users
            .values()
            .flat_map(|e| e.conns.iter().cloned())
            .collect()
    }

    /// Every local user id.
    pub fn users(&self) -> Vec<Arc<str>> {
        self.lock().users.keys().cloned().collect()
    }

    /// (connections, users, rooms) present here.
    pub fn counts(&self) -> (usize, usize, usize) {
        let inner = self.lock();
        (
            inner.users.values().map(|e| e.conns.len()).sum(),
            inner.users.len(),
            inner.rooms.len(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(id: u64, user: &str) -> Arc<Conn> {
        Arc::new(Conn {
            id,
            user: Arc::from(user),
            device: DeviceClass::Web,
            device_id: None,
            peer: std::net::Ipv4Addr::LOCALHOST.into(),
            generation: AtomicU64::new(1),
            outbox: Outbox::default(),
        })
    }

    #[test]
    fn rooms_are_needed_while_a_local_member_is_connected() {
        let reg = Registry::new(16);
        let a1 = conn(1, "a");
        let a2 = conn(2, "a");
        let b = conn(3, "b");
        assert_eq!(
            reg.add(a1.clone(), &[10, 11]),
            ChannelChange {
                rooms: vec![10, 11],
                user: true,
                ..ChannelChange::default()
            }
        );
        assert_eq!(reg.add(a2.clone(), &[10, 11]), ChannelChange::default());
        assert_eq!(
            reg.add(b.clone(), &[11]),
            ChannelChange {
                user: true,
                ..ChannelChange::default()
            }
        );
        let d = reg.deliver_room(11, &Bytes::from_static(b"x"));
        assert_eq!(d.queued, 3);
        assert_eq!(reg.remove(&a1), ChannelChange::default());
        let mut gone = reg.remove(&a2);
        gone.rooms.sort();
        assert_eq!(
            gone,
            ChannelChange {
                rooms: vec![10],
                user: true,
                ..ChannelChange::default()
            }
        );
        assert!(reg.room_needed(11) && !reg.room_needed(10));
        assert!(reg.join_room("b", 12));
        assert!(reg.leave_room("b", 12));
        assert!(!reg.join_room("nobody", 12));
    }
}
