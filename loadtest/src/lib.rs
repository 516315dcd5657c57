//! sendjay's load generator.
//!
//! It is a client like any other: it speaks the public wire protocol through the `sendjay-client` SDK (one
//! [`sendjay_client::Connection`] per simulated user) and the router's HTTP API, never a server's internals.
#![forbid(unsafe_code)]

pub mod report;
pub mod run;
pub mod scenario;
pub mod scenarios;
pub mod seed;
pub mod stats;
pub mod sys;
