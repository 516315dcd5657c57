//! What a client does when its connection ends, and how long it waits before trying again.
//!
//! The close code decides (docs/protocol.md §13): some mean "come back through the router", some "log in
//! again", and some end the session for good — reconnecting by itself after an eviction would only fight the
//! newer session, and an automatic launch refused with 4011 must not take over. Retries use exponential backoff
//! with full jitter (§13.1), so a node crash does not send every client back at the same instant.

use std::time::Duration;

use crate::connection::Closed;

/// Why the server ended a session for good; the client stops and tells the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// 4005: a newer login of the same user and device class replaced this session ("signed in elsewhere").
    Evicted,
    /// 4011: an automatic launch found a session of its device class running; offer to use this one instead.
    AlreadyRunning,
    /// 4004: the user is unknown or retired.
    UserUnavailable,
    /// 4010: this device logged out.
    LoggedOut,
}

impl EndReason {
    /// What to tell the user, in one sentence.
    pub fn explain(self) -> &'static str {
        match self {
            EndReason::Evicted => {
                "signed in elsewhere with the same user and device class; sign in again here to take over"
            }
            EndReason::AlreadyRunning => {
                "another session of this device class is running; start with launch=manual to use this one"
            }
            EndReason::UserUnavailable => "the user is unknown or retired",
            EndReason::LoggedOut => "this device logged out",
        }
    }
}

/// What to do after a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseAction {
    /// Ask the router for a node (`GET /v1/assign`) and connect again with the same token.
    Reconnect,
    /// The token was refused (4001–4003): log in again, then reconnect.
    LogInAgain,
    /// Stop; the session is over.
    End(EndReason),
}

/// Classifies how a connection ended: by its close frame, or `None` when it was lost without one.
pub fn after_close(closed: Option<&Closed>) -> CloseAction {
    match closed.map(|c| c.code) {
        Some(4005) => CloseAction::End(EndReason::Evicted),
        Some(4011) => CloseAction::End(EndReason::AlreadyRunning),
        Some(4004) => CloseAction::End(EndReason::UserUnavailable),
        Some(4010) => CloseAction::End(EndReason::LoggedOut),
        Some(4001..=4003) => CloseAction::LogInAgain,
        // 1011, 4006 (wrong node), 4007, 4008 (draining), 4009, a lost socket: the router knows where to go.
        _ => CloseAction::Reconnect,
    }
}

/// Exponential backoff with full jitter: attempt `n` waits a random time in `[0, min(cap, base · 2ⁿ))`.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Default for Backoff {
    /// 0.5 s doubling up to 30 s, as docs/protocol.md §13.1 advises.
    fn default() -> Self {
        Backoff::new(Duration::from_millis(500), Duration::from_secs(30))
    }
}

impl Backoff {
    /// A backoff starting at `base` and never above `cap`.
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            cap,
            attempt: 0,
        }
    }

    /// How many delays were handed out since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// The upper bound of the next delay.
    pub fn ceiling(&self) -> Duration {
        let factor = 2f64.powi(self.attempt.min(30) as i32);
        self.cap.min(self.base.mul_f64(factor))
    }

    /// The next delay (random below [`Backoff::ceiling`]); the one after may be twice as long.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.ceiling().mul_f64(rand::random::<f64>());
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// Starts again from `base` (after a connection that worked).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(code: u16) -> Closed {
        Closed {
            code,
            reason: String::new(),
        }
    }

    #[test]
    fn final_codes_end_and_token_codes_log_in_again() {
        assert_eq!(after_close(None), CloseAction::Reconnect);
        for code in [1011, 4006, 4007, 4008, 4009] {
            assert_eq!(
                after_close(Some(&closed(code))),
                CloseAction::Reconnect,
                "{code}"
            );
        }
        for code in [4001, 4002, 4003] {
            assert_eq!(
                after_close(Some(&closed(code))),
                CloseAction::LogInAgain,
                "{code}"
            );
        }
        assert_eq!(
            after_close(Some(&closed(4005))),
            CloseAction::End(EndReason::Evicted)
        );
        assert_eq!(
            after_close(Some(&closed(4011))),
            CloseAction::End(EndReason::AlreadyRunning)
        );
        assert_eq!(
            after_close(Some(&closed(4010))),
            CloseAction::End(EndReason::LoggedOut)
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(750));
        let ceilings: Vec<u128> = (0..6)
            .map(|_| {
                let ceiling = b.ceiling();
                assert!(b.next_delay() <= ceiling);
                ceiling.as_millis()
            })
            .collect();
        assert_eq!(ceilings, [100, 200, 400, 750, 750, 750]);
        b.reset();
        assert_eq!(b.ceiling(), Duration::from_millis(100));
    }
}
