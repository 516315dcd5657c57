//! Stable machine codes carried by error replies, and which party is at fault for each.

use serde::{Deserialize, Serialize};

/// A stable, machine-readable error code sent in an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not a MessagePack map with an integer `id` and a string `op`.
    BadFrame,
    /// The frame is larger than the node's request limit; nothing was done.
    FrameTooLarge,
    /// The `op` is not part of this protocol version.
    UnknownOp,
    /// The `args` are missing, of the wrong type or out of range.
    BadArgs,
    /// The caller is not a member of the room.
    NotMember,
    /// The room, message or user does not exist (or is not visible to the caller).
    NotFound,
    /// The caller may not do this (not an admin, not the sender, window passed).
    Forbidden,
    /// The request conflicts with the current state (for example a reused client message id).
    Conflict,
    /// PostgreSQL is unavailable; the request may or may not have taken effect: retry it (a send with the same
    /// `client_msg_id`, which stores it once).
    DatabaseUnavailable,
    /// An unexpected error on the node; the request may be retried.
    Internal,
    /// The file named has expired: its bytes were deleted after the retention period.
    FileExpired,
    /// File storage (the shared directory or the S3 bucket) is unavailable; retry later.
    StorageUnavailable,
    /// The connection sent requests faster than the node's per-connection limit; nothing was done: wait as long
    /// as the message says, then send the request again.
    RateLimited,
}

/// Who caused an error: used in logs and as a metric label so an SRE knows whose fault it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The client sent something wrong.
    Client,
    /// PostgreSQL failed.
    Postgres,
    /// Redis failed.
    Redis,
    /// A bug or resource problem in the node itself.
    Internal,
    /// File storage (the shared directory or the S3-compatible store) failed.
    Storage,
}

impl Fault {
    /// A stable label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Client => "client",
            Fault::Postgres => "postgres",
            Fault::Redis => "redis",
            Fault::Internal => "internal",
            Fault::Storage => "storage",
        }
    }
}

impl ErrorCode {
    /// Every code, for documentation and exhaustive tests.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::BadFrame,
        ErrorCode::FrameTooLarge,
        ErrorCode::UnknownOp,
        ErrorCode::BadArgs,
        ErrorCode::NotMember,
        ErrorCode::NotFound,
        ErrorCode::Forbidden,
        ErrorCode::Conflict,
        ErrorCode::DatabaseUnavailable,
        ErrorCode::Internal,
        ErrorCode::FileExpired,
        ErrorCode::StorageUnavailable,
        ErrorCode::RateLimited,
    ];

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadFrame => "bad_frame",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::UnknownOp => "unknown_op",
            ErrorCode::BadArgs => "bad_args",
            ErrorCode::NotMember => "not_member",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Conflict => "conflict",
            ErrorCode::DatabaseUnavailable => "database_unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::FileExpired => "file_expired",
            ErrorCode::StorageUnavailable => "storage_unavailable",
            ErrorCode::RateLimited => "rate_limited",
        }
    }

    /// Whose fault an error with this code is.
    pub fn fault(self) -> Fault {
        match self {
            ErrorCode::DatabaseUnavailable => Fault::Postgres,
            ErrorCode::Internal => Fault::Internal,
            ErrorCode::StorageUnavailable => Fault::Storage,
            _ => Fault::Client,
        }
    }

    /// Whether the request may have taken effect although its answer was this error, so that a retry must reuse
    /// its ids (a send its `client_msg_id`). Not `rate_limited`: that request was not executed at all — wait
    /// as long as its message says, then send it again.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::DatabaseUnavailable | ErrorCode::Internal | ErrorCode::StorageUnavailable
        )
    }
}
