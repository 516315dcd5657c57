//! Wire protocol v1: the frames a client and a node exchange over a WebSocket.
//!
//! Every frame is one binary WebSocket message holding one MessagePack map with named fields (see
//! `docs/protocol.md`). A client sends requests `{id, op, args}`; the node answers each with exactly one
//! `reply` or `error` frame carrying the same `id`. Pushes (`kind: "push"`) are unsolicited and have no id.
//!
//! The types are split by the areas of `docs/protocol.md`, one file per section, and all re-exported here, so
//! `sendjay_common::protocol::X` names every one of them.

mod accounts;
mod channels;
mod directory;
mod frames;
mod keeping;
mod limits;
mod messages;
mod notifications;
mod objects;
mod presence;
mod reactions;
mod reads;
mod rooms;
mod search;
mod settings;

pub use accounts::*;
pub use channels::*;
pub use directory::*;
pub use frames::*;
pub use keeping::*;
pub use limits::*;
pub use messages::*;
pub use notifications::*;
pub use objects::*;
pub use presence::*;
pub use reactions::*;
pub use reads::*;
pub use rooms::*;
pub use search::*;
pub use settings::*;
