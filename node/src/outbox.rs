//! A connection's outgoing queue: producers (bus receiver, request handlers) push encoded frames without
//! waiting; the connection task drains it into the socket.
//!
//! It costs nothing while empty (a `VecDeque` allocates on first push and the drained buffer is handed to the
//! writer), which keeps idle connections small. A queue past its limit means the client does not read: the
//! connection is closed as a slow consumer rather than letting memory grow.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;
use sendjay_common::close_code::CloseReason;
use tokio::sync::Notify;

/// Frames waiting for one connection, and a pending close request.
#[derive(Debug, Default)]
pub struct Outbox {
    state: Mutex<State>,
    notify: Notify,
}

#[derive(Debug, Default)]
struct State {
    frames: VecDeque<Bytes>,
    close: Option<(CloseReason, String)>,
}

/// What a connection task takes from its outbox in one go.
#[derive(Debug, Default)]
pub struct Drained {
    /// Frames to write, oldest first.
    pub frames: VecDeque<Bytes>,
    /// Close the connection after writing them.
    pub close: Option<(CloseReason, String)>,
}

/// The result of queueing a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// Queued.
    Ok,
    /// The connection is closing; the frame was discarded.
    Closing,
    /// Over the limit: the connection is now closing as a slow consumer.
    Overflow,
}

impl Outbox {
    /// Queues a frame unless the queue holds `max` frames already.
    pub fn push(&self, frame: Bytes, max: usize) -> Queued {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.close.is_some() {
            return Queued::Closing;
        }
        if state.frames.len() >= max {
            state.frames.clear();
            state.close = Some((
                CloseReason::SlowConsumer,
                "outbound queue full: read your pushes faster".into(),
            ));
            drop(state);
            self.notify.notify_one();
            return Queued::Overflow;
        }
        state.frames.push_back(frame);
        drop(state);
        self.notify.notify_one();
        Queued::Ok
    }

    /// Asks the connection to close with `reason` after flushing what is queued.
    pub fn close(&self, reason: CloseReason, text: impl Into<String>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.close.is_none() {
            state.close = Some((reason, text.into()));
        }
        drop(state);
        self.notify.notify_one();
    }

    /// Takes everything queued.
    pub fn drain(&self) -> Drained {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Drained {
            frames: std::mem::take(&mut state.frames),
            close: state.close.clone(),
        }
    }

    /// Frames currently queued.
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .frames
            .len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until something is pushed or a close is requested.
    pub async fn ready(&self) {
        self.notify.notified().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_closes_as_slow_consumer() {
        let outbox = Outbox::default();
        assert_eq!(outbox.push(Bytes::from_static(b"a"), 2), Queued::Ok);
        assert_eq!(outbox.push(Bytes::from_static(b"b"), 2), Queued::Ok);
        assert_eq!(outbox.push(Bytes::from_static(b"c"), 2), Queued::Overflow);
        assert_eq!(outbox.push(Bytes::from_static(b"d"), 2), Queued::Closing);
        let drained = outbox.drain();
        assert!(drained.frames.is_empty());
        assert_eq!(drained.close.map(|c| c.0), Some(CloseReason::SlowConsumer));
    }
}
