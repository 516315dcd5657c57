//! The node's error type: every failure says whose fault it was (client, PostgreSQL, Redis, storage, internal),
//! so a log line or a metric label tells an SRE where to look, and maps to one stable wire error code.

use sendjay_common::error_code::{ErrorCode, Fault};
use thiserror::Error;

/// Anything that can go wrong while a node serves a request or runs.
#[derive(Debug, Error)]
pub enum NodeError {
    /// The client asked for something it may not have or sent bad arguments.
    #[error("{message}")]
    Client {
        /// The wire code.
        code: ErrorCode,
        /// What to do about it.
        message: String,
    },
    /// A PostgreSQL query failed.
    #[error("PostgreSQL error: {0}; check that PostgreSQL is up and reachable")]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection could be had from the pool.
    #[error(
        "PostgreSQL pool error: {0}; check that PostgreSQL is up and the pool is large enough"
    )]
    Pool(#[from] deadpool_postgres::PoolError),
    /// The pool error of a batch of sends, as each send of the batch reports it.
    #[error(
        "PostgreSQL pool error: {0}; check that PostgreSQL is up and the pool is large enough"
    )]
    PoolForBatch(String),
    /// A Redis command failed.
    #[error("Redis error: {0}; check that Redis is up and reachable")]
    Redis(#[from] fred::error::Error),
    /// A bug or resource problem on the node.
    #[error("internal error: {0}")]
    Internal(String),
    /// File storage (the shared directory or the S3-compatible store) failed.
    #[error("file storage error: {0}; check that the storage backend (SENDJAY_FILES_URL) is up and reachable")]
    Storage(#[from] object_store::Error),
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Binding or accepting failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl NodeError {
    /// A client error with a code and a message.
    pub fn client(code: ErrorCode, message: impl Into<String>) -> NodeError {
        NodeError::Client {
            code,
            message: message.into(),
        }
    }

    /// Whose fault the error is.
    pub fn fault(&self) -> Fault {
        match self {
            NodeError::Client { .. } => Fault::Client,
            NodeError::Postgres(_) | NodeError::Pool(_) | NodeError::PoolForBatch(_) => {
                Fault::Postgres
            }
            NodeError::Redis(_) => Fault::Redis,
            NodeError::Storage(_) => Fault::Storage,
            NodeError::Internal(_) | NodeError::Config(_) | NodeError::Io(_) => Fault::Internal,
        }
    }

    /// Whether PostgreSQL refused the data itself (SQLSTATE class 22): retrying would fail again.
    fn is_data_error(&self) -> bool {
        matches!(self, NodeError::Postgres(e) if e.code().is_some_and(|c| c.code().starts_with("22")))
    }

    /// The wire error code for a reply.
    pub fn code(&self) -> ErrorCode {
        match self {
            NodeError::Client { code, .. } => *code,
            _ if self.is_data_error() => ErrorCode::BadArgs,
            NodeError::Postgres(_) | NodeError::Pool(_) | NodeError::PoolForBatch(_) => {
                ErrorCode::DatabaseUnavailable
            }
            NodeError::Storage(_) => ErrorCode::StorageUnavailable,
            _ => ErrorCode::Internal,
        }
    }

    /// The message a client sees: its own mistakes in full, our failures without internals.
    pub fn client_message(&self) -> String {
        match self {
            NodeError::Client { message, .. } => message.clone(),
            _ if self.is_data_error() => "the database refused this value; change the request".into(),
            NodeError::Postgres(_) | NodeError::Pool(_) | NodeError::PoolForBatch(_) => {
                "the database is unavailable; the request may or may not have been written: retry it (a send with the same client_msg_id)".into()
            }
            NodeError::Storage(_) => "file storage is unavailable; nothing was stored, retry later".into(),
            _ => "internal error on the node; retry later".into(),
        }
    }
}
