//! The router's error type, carrying whose fault a failure is.

use sendjay_common::error_code::Fault;
use thiserror::Error;

/// Anything that can go wrong in the router.
#[derive(Debug, Error)]
pub enum RouterError {
    /// A PostgreSQL query failed.
    #[error("PostgreSQL error: {0}; check that PostgreSQL is up and reachable")]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection could be had.
    #[error("PostgreSQL pool error: {0}; check that PostgreSQL is up and reachable")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A Redis command failed.
    #[error("Redis error: {0}; check that Redis is up and reachable")]
    Redis(#[from] fred::error::Error),
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Binding failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A bug.
    #[error("internal error: {0}")]
    Internal(String),
}

impl RouterError {
    /// Whose fault the error is.
    pub fn fault(&self) -> Fault {
        match self {
            RouterError::Postgres(_) | RouterError::Pool(_) => Fault::Postgres,
            RouterError::Redis(_) => Fault::Redis,
            _ => Fault::Internal,
        }
    }
}
