//! Everything two sendjay parties must agree on: the wire protocol and its MessagePack codec, the JWT format,
//! identifiers, the Redis key and channel schema, the bus envelope, rendezvous hashing and the database schema.
//!
//! Servers (`node`, `router`) and clients (`loadtest`, the terminal client, other-language clients through
//! `docs/protocol.md`) all build on this crate, so a change here is a protocol change: bump the version.
#![forbid(unsafe_code)]

#[cfg(feature = "postgres")]
pub mod audit;
pub mod bus;
pub mod close_code;
pub mod codec;
pub mod error_code;
pub mod ids;
pub mod jwt;
pub mod keys;
#[cfg(feature = "redis")]
pub mod membership;
pub mod mentions;
#[cfg(feature = "postgres")]
pub mod migrate;
pub mod profile;
pub mod protocol;
pub mod rendezvous;

/// The WebSocket subprotocol that selects wire protocol v1.
pub const SUBPROTOCOL_V1: &str = "sendjay.v1";
/// The HTTP path a node serves protocol v1 WebSockets on.
pub const WS_PATH_V1: &str = "/v1/ws";
