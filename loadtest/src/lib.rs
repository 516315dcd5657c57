//! sendjay's load generator and wire client.
//!
//! It is a client like any other: it speaks the public wire protocol through `sendjay-common` and the
//! router's HTTP API, never a server's internals. The same [`client::Client`] drives the terminal chat, the
//! load scenarios and the integration tests.
#![forbid(unsafe_code)]

pub mod chat;
pub mod client;
pub mod report;
pub mod router_api;
pub mod run;
pub mod scenario;
pub mod scenarios;
pub mod seed;
pub mod stats;
pub mod sys;
