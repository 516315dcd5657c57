//! The node's view of the ring: the live, non-draining nodes users are hashed over, and the previous ring
//! for a grace window after a change, so clients placed by a router with a slightly older view are not
//! bounced back and forth while the cluster settles.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sendjay_common::rendezvous;

#[derive(Debug)]
struct State {
    current: Vec<String>,
    previous: Vec<String>,
    changed_at: Instant,
}

/// The current and previous ring.
#[derive(Debug)]
pub struct Ring {
    own: String,
    grace: Duration,
    state: Mutex<State>,
}

impl Ring {
    /// An empty ring for node `own`; the previous ring is honoured for `grace` after a change.
    pub fn new(own: &str, grace: Duration) -> Ring {
        Ring {
            own: own.to_owned(),
            grace,
            state: Mutex::new(State {
                current: Vec::new(),
                previous: Vec::new(),
                changed_at: Instant::now(),
            }),
        }
    }

    /// Installs a new member list (sorted ids); returns true when it differs from the current one.
    pub fn update(&self, mut members: Vec<String>) -> bool {
        members.sort();
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.current == members {
            return false;
        }
        state.previous = std::mem::replace(&mut state.current, members);
        state.changed_at = Instant::now();
        true
    }

    /// The node `user` belongs to now, if the ring is known.
    pub fn owner(&self, user: &str) -> Option<String> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        rendezvous::pick(state.current.iter().map(String::as_str), user).map(str::to_owned)
    }

    /// Whether `user` may be served here: assigned here now, or by the previous ring within the grace window.
    /// An unknown ring (Redis unreachable, node just started) accepts everyone.
    pub fn accepts(&self, user: &str) -> bool {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.current.is_empty() || !state.current.contains(&self.own) {
            return true;
        }
        let here = |ring: &[String]| {
            rendezvous::pick(ring.iter().map(String::as_str), user) == Some(self.own.as_str())
        };
        here(&state.current) || (state.changed_at.elapsed() < self.grace && here(&state.previous))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_assignment_is_honoured_within_the_grace_window() {
        let ring = Ring::new("n-a", Duration::from_secs(60));
        assert!(ring.accepts("anyone"), "unknown ring accepts");
        ring.update(vec!["n-a".into()]);
        assert!(ring.accepts("u1"));
        assert!(ring.update(vec!["n-a".into(), "n-b".into()]));
        let moved: Vec<String> = (0..200)
            .map(|i| format!("u{i}"))
            .filter(|u| ring.owner(u).as_deref() == Some("n-b"))
            .collect();
        assert!(!moved.is_empty());
        assert!(
            moved.iter().all(|u| ring.accepts(u)),
            "still accepted during the grace window"
        );
        let strict = Ring::new("n-a", Duration::ZERO);
        strict.update(vec!["n-a".into()]);
        strict.update(vec!["n-a".into(), "n-b".into()]);
        assert!(
            moved.iter().all(|u| !strict.accepts(u)),
            "refused once the grace window is over"
        );
    }
}
