//! The Rust SDK of sendjay's wire protocol v1 (docs/protocol.md).
//!
//! Two layers, so a caller takes only what it needs:
//!
//! * [`Connection`] — one WebSocket to one node: typed requests matched to their answers by id
//!   ([`Connection::call`]), pushes in arrival order ([`Connection::next_push`]) and the close frame the server
//!   ended with. Load scenarios and tests that count every frame use it directly.
//! * [`Session`] — a logged-in user across connections: login and assignment through the router
//!   ([`RouterLocator`]), `sync` from gap-free cursors ([`RoomCursors`]), the unsent queue with stable
//!   `client_msg_id`s ([`UnsentQueue`]), and reconnects by close code ([`reconnect::after_close`]) with
//!   backoff — drains, 4006, node crashes and Redis blips are invisible to the caller, who sees every message
//!   once. Evictions (4005), 4011 and logouts end it with [`Event::Ended`].
//!
//! [`files`] uploads and downloads over the node's HTTP files API (streamed both ways).
//!
//! It depends on `sendjay-common` and the wire only, like any client in any language would.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use sendjay_client::{router, ConnectOptions, Connection};
//! use sendjay_common::protocol::{Call, Reply};
//!
//! let login = router::login("http://127.0.0.1:7300", "alice", "sendjay", "web").await?;
//! let connection = Connection::connect(&login.node.url, &login.token, ConnectOptions::default()).await?;
//! if let Reply::ListRooms { rooms } = connection.call(Call::ListRooms).await? {
//!     println!("{} rooms", rooms.len());
//! }
//! # Ok(()) }
//! ```
//!
//! `examples/echo_room.rs` is a complete program: `cargo run -p sendjay-client --example echo_room`.
#![forbid(unsafe_code)]

pub mod connection;
pub mod cursor;
pub mod files;
pub mod reconnect;
pub mod router;
pub mod session;
pub mod unsent;

pub use connection::{client_config, ClientError, Closed, ConnectOptions, Connection, SendRetry};
pub use cursor::{HeldCursor, RoomCursors};
pub use reconnect::{Backoff, CloseAction, EndReason};
pub use session::{
    Event, LocateError, Locator, RouterLocator, Session, SessionError, SessionOptions,
};
pub use unsent::{Unsent, UnsentQueue, UnsentState};
