//! WebSocket close codes the server uses, one per reason it ends a connection.
//!
//! Codes 4000–4999 are reserved by RFC 6455 for applications; the standard ones are used where they fit
//! exactly (1009 for a frame over the hard limit). A client must treat `EVICTED` and the auth codes as final:
//! reconnecting by itself would just fight the other session or fail again.

/// Why the server closed a WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The peer broke the WebSocket protocol itself (1002).
    ProtocolError,
    /// A frame exceeded the hard limit (1009); the connection cannot continue.
    FrameTooLarge,
    /// An internal error on the node (1011); reconnect with backoff.
    Internal,
    /// No token, a malformed one, a wrong signature or a wrong algorithm (4001).
    AuthFailed,
    /// The token has expired (4002); log in again.
    TokenExpired,
    /// The token's passkey is no longer the user's passkey (4003): the account was reset.
    TokenRevoked,
    /// The user does not exist or is retired (4004).
    UserUnavailable,
    /// A newer session of the same user and device class replaced this one (4005). Do not reconnect by itself.
    Evicted,
    /// The user belongs on another node (4006); the close reason carries the node's URL.
    WrongNode,
    /// The client did not read its pushes fast enough (4007).
    SlowConsumer,
    /// The node is draining (4008); reconnect through the router after the advised delay.
    NodeDraining,
    /// No frame or pong arrived within the heartbeat timeout (4009).
    HeartbeatTimeout,
    /// The same device session was ended by a logout (4010).
    LoggedOut,
    /// An automatic launch found a session of its device class running (4011). Do not retry by itself.
    AlreadyRunning,
}

impl CloseReason {
    /// Every reason, for documentation and exhaustive tests.
    pub const ALL: [CloseReason; 14] = [
        CloseReason::ProtocolError,
        CloseReason::FrameTooLarge,
        CloseReason::Internal,
        CloseReason::AuthFailed,
        CloseReason::TokenExpired,
        CloseReason::TokenRevoked,
        CloseReason::UserUnavailable,
        CloseReason::Evicted,
        CloseReason::WrongNode,
        CloseReason::SlowConsumer,
        CloseReason::NodeDraining,
        CloseReason::HeartbeatTimeout,
        CloseReason::LoggedOut,
        CloseReason::AlreadyRunning,
    ];

    /// The numeric close code on the wire.
    pub fn code(self) -> u16 {
        match self {
            CloseReason::ProtocolError => 1002,
            CloseReason::FrameTooLarge => 1009,
            CloseReason::Internal => 1011,
            CloseReason::AuthFailed => 4001,
            CloseReason::TokenExpired => 4002,
            CloseReason::TokenRevoked => 4003,
            CloseReason::UserUnavailable => 4004,
            CloseReason::Evicted => 4005,
            CloseReason::WrongNode => 4006,
            CloseReason::SlowConsumer => 4007,
            CloseReason::NodeDraining => 4008,
            CloseReason::HeartbeatTimeout => 4009,
            CloseReason::LoggedOut => 4010,
            CloseReason::AlreadyRunning => 4011,
        }
    }

    /// A short stable name, used as the close reason text prefix and as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::ProtocolError => "protocol_error",
            CloseReason::FrameTooLarge => "frame_too_large",
            CloseReason::Internal => "internal",
            CloseReason::AuthFailed => "auth_failed",
            CloseReason::TokenExpired => "token_expired",
            CloseReason::TokenRevoked => "token_revoked",
            CloseReason::UserUnavailable => "user_unavailable",
            CloseReason::Evicted => "evicted",
            CloseReason::WrongNode => "wrong_node",
            CloseReason::SlowConsumer => "slow_consumer",
            CloseReason::NodeDraining => "node_draining",
            CloseReason::HeartbeatTimeout => "heartbeat_timeout",
            CloseReason::LoggedOut => "logged_out",
            CloseReason::AlreadyRunning => "already_running",
        }
    }

    /// The reason for a numeric code, if it is one of ours.
    pub fn from_code(code: u16) -> Option<CloseReason> {
        CloseReason::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Whether a client may reconnect by itself after this close.
    pub fn may_reconnect(self) -> bool {
        !matches!(
            self,
            CloseReason::AuthFailed
                | CloseReason::TokenExpired
                | CloseReason::TokenRevoked
                | CloseReason::UserUnavailable
                | CloseReason::Evicted
                | CloseReason::LoggedOut
                | CloseReason::AlreadyRunning
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for reason in CloseReason::ALL {
            assert!(
                seen.insert(reason.code()),
                "duplicate code {}",
                reason.code()
            );
            assert_eq!(CloseReason::from_code(reason.code()), Some(reason));
        }
        assert_eq!(CloseReason::from_code(1000), None);
    }
}
