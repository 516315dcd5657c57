//! The unsent queue: messages the user wrote that the node has not acknowledged yet.
//!
//! Each message gets its `client_msg_id` when it is written, never when it is sent, so a resend after a lost
//! connection, a node crash or a `database_unavailable` answer (which may or may not have been written) carries
//! the same id and the node answers with the stored original (`duplicate: true`) instead of writing it twice.
//! Messages leave the queue in the order they were written; one refused for good (`not_member`, `bad_args`, …)
//! is kept as failed for the user to retry or discard (the original product's retry rule).

use std::collections::VecDeque;

use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::SendArgs;

use crate::connection::ClientError;

/// Where an unsent message stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnsentState {
    /// Waiting to be sent (or resent after a reconnect).
    Pending,
    /// Refused for good; only a manual retry sends it again.
    Failed(ErrorCode),
}

/// One message the node has not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsent {
    /// The send, with its stable `client_msg_id`.
    pub args: SendArgs,
    /// Pending or failed.
    pub state: UnsentState,
}

/// Whether a failed send should be tried again with the same `client_msg_id`.
pub fn worth_retrying(error: &ClientError) -> bool {
    match error {
        ClientError::Closed(_) | ClientError::Timeout(_) => true,
        ClientError::Server { code, .. } => code.retryable(),
        ClientError::Connect(_) | ClientError::Unexpected(_) => false,
    }
}

/// The queue, in the order the user wrote the messages.
#[derive(Debug, Default, Clone)]
pub struct UnsentQueue {
    items: VecDeque<Unsent>,
}

impl UnsentQueue {
    /// An empty queue.
    pub fn new() -> UnsentQueue {
        UnsentQueue::default()
    }

    /// A new text message for `room_id`, with a fresh `client_msg_id`; returns the send to make.
    pub fn write(&mut self, room_id: i64, body: impl Into<String>) -> SendArgs {
        let args = SendArgs {
            room_id,
            client_msg_id: sendjay_common::ids::new_client_msg_id(),
            body: body.into(),
        };
        self.items.push_back(Unsent {
            args: args.clone(),
            state: UnsentState::Pending,
        });
        args
    }

    /// The oldest pending message, the next to send.
    pub fn next_pending(&self) -> Option<&SendArgs> {
        self.items
            .iter()
            .find(|u| u.state == UnsentState::Pending)
            .map(|u| &u.args)
    }

    /// The node acknowledged the message: it leaves the queue.
    pub fn acknowledged(&mut self, client_msg_id: &str) {
        self.items.retain(|u| u.args.client_msg_id != client_msg_id);
    }

    /// The node refused the message for good.
    pub fn failed(&mut self, client_msg_id: &str, code: ErrorCode) {
        if let Some(u) = self.find_mut(client_msg_id) {
            u.state = UnsentState::Failed(code);
        }
    }

    /// The user asks to try a failed message again (same `client_msg_id`).
    pub fn retry(&mut self, client_msg_id: &str) -> bool {
        match self.find_mut(client_msg_id) {
            Some(u) => {
                u.state = UnsentState::Pending;
                true
            }
            None => false,
        }
    }

    /// The user gives a message up.
    pub fn discard(&mut self, client_msg_id: &str) -> bool {
        let before = self.items.len();
        self.items.retain(|u| u.args.client_msg_id != client_msg_id);
        self.items.len() != before
    }

    /// Every message not acknowledged, pending and failed, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Unsent> {
        self.items.iter()
    }

    /// How many messages are pending.
    pub fn pending(&self) -> usize {
        self.items
            .iter()
            .filter(|u| u.state == UnsentState::Pending)
            .count()
    }

    /// Whether nothing is waiting or failed.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn find_mut(&mut self, client_msg_id: &str) -> Option<&mut Unsent> {
        self.items
            .iter_mut()
            .find(|u| u.args.client_msg_id == client_msg_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_ids_through_failures_and_retries() {
        let mut q = UnsentQueue::new();
        let a = q.write(1, "a").client_msg_id;
        let b = q.write(1, "b").client_msg_id;
        let c = q.write(2, "c").client_msg_id;
        assert_eq!(q.next_pending().unwrap().client_msg_id, a);
        q.failed(&a, ErrorCode::NotMember);
        assert_eq!(
            q.next_pending().unwrap().client_msg_id,
            b,
            "a failed: b is next"
        );
        q.acknowledged(&b);
        assert_eq!(q.next_pending().unwrap().client_msg_id, c);
        assert!(q.retry(&a));
        assert_eq!(
            q.next_pending().unwrap().client_msg_id,
            a,
            "a retried keeps its place and id"
        );
        assert!(q.discard(&a));
        assert!(!q.discard(&a));
        q.acknowledged(&c);
        assert!(q.is_empty());
    }

    #[test]
    fn retries_what_may_not_have_been_written() {
        let server = |code| ClientError::Server {
            code,
            message: String::new(),
        };
        assert!(worth_retrying(&server(ErrorCode::DatabaseUnavailable)));
        assert!(worth_retrying(&ClientError::Closed(None)));
        assert!(worth_retrying(&ClientError::Timeout(
            std::time::Duration::from_secs(1)
        )));
        assert!(!worth_retrying(&server(ErrorCode::NotMember)));
        assert!(!worth_retrying(&server(ErrorCode::BadArgs)));
    }
}
