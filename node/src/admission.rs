//! Admission of new connections: how many have not authenticated yet, in total and per source address.
//!
//! A connection that never logs in costs a descriptor and a task until its handshake deadline passes; without a
//! cap, some tens of thousands of silent TCP connections exhaust the node's descriptors and lock everyone out.
//! A connection takes a [`Pending`] place when accepted and gives it back once authenticated (or when it ends);
//! when the total or its address's share is taken, the connection is refused at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Counts not-yet-authenticated connections against the configured caps.
#[derive(Debug)]
pub struct Admission {
    total: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    max_total: usize,
    max_per_ip: usize,
}

/// One not-yet-authenticated connection's place; given back by [`Pending::release`] or on drop.
#[derive(Debug)]
pub struct Pending {
    admission: Arc<Admission>,
    ip: IpAddr,
    released: AtomicBool,
}

impl Admission {
    /// Caps of `max_total` pending connections and `max_per_ip` per source address (0: no per-address cap).
    pub fn new(max_total: usize, max_per_ip: usize) -> Arc<Admission> {
        Arc::new(Admission {
            total: AtomicUsize::new(0),
            per_ip: Mutex::new(HashMap::new()),
            max_total,
            max_per_ip,
        })
    }

    /// Takes a place for a connection from `ip`, or `None` when a cap is reached.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Pending> {
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if self.total.load(Ordering::Relaxed) >= self.max_total {
            return None;
        }
        if self.max_per_ip > 0 {
            let taken = per_ip.entry(ip).or_insert(0);
            if *taken >= self.max_per_ip {
                return None;
            }
            *taken += 1;
        }
        self.total.fetch_add(1, Ordering::Relaxed);
        Some(Pending {
            admission: self.clone(),
            ip,
            released: AtomicBool::new(false),
        })
    }

    /// Connections that have not authenticated yet.
    pub fn pending(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    fn give_back(&self, ip: IpAddr) {
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if self.max_per_ip > 0 {
            if let Some(taken) = per_ip.get_mut(&ip) {
                *taken -= 1;
                if *taken == 0 {
                    per_ip.remove(&ip);
                }
            }
        }
        self.total.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Pending {
    /// Gives the place back (the connection authenticated); later calls do nothing.
    pub fn release(&self) {
        if !self.released.swap(true, Ordering::AcqRel) {
            self.admission.give_back(self.ip);
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_in_total_and_per_address_and_gives_places_back() {
        let admission = Admission::new(3, 2);
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let a1 = admission.admit(a).unwrap();
        let _a2 = admission.admit(a).unwrap();
        assert!(admission.admit(a).is_none(), "per-address cap");
        let b1 = admission.admit(b).unwrap();
        assert!(admission.admit(b).is_none(), "total cap");
        a1.release();
        a1.release();
        assert_eq!(admission.pending(), 2);
        drop(a1);
        assert_eq!(admission.pending(), 2, "release then drop gives back once");
        drop(b1);
        let _b2 = admission.admit(b).unwrap();
        let _a3 = admission.admit(a).unwrap();
        assert_eq!(admission.pending(), 3);
        let unlimited = Admission::new(10, 0);
        let held: Vec<_> = (0..10).map(|_| unlimited.admit(a).unwrap()).collect();
        assert!(unlimited.admit(b).is_none());
        drop(held);
        assert_eq!(unlimited.pending(), 0);
    }
}
