//! What nodes tell each other over Redis pub/sub, as MessagePack maps.
//!
//! Room channels carry ready-made client frames (an encoded [`crate::protocol::ServerFrame::Push`]), so a
//! receiving node forwards the same bytes to every local member without decoding or re-encoding them.
//! User channels carry [`UserEvent`]s addressed to one user's sessions wherever they live.

use serde::{Deserialize, Serialize};

use crate::protocol::DeviceClass;

/// An event for the sessions of one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum UserEvent {
    /// Forward this encoded client frame to every session of the user.
    Deliver {
        /// An encoded `ServerFrame`.
        #[serde(with = "serde_bytes")]
        frame: Vec<u8>,
    },
    /// Close sessions of the user: of one device class (or all), except the one that won.
    Close {
        /// Only this device class, or every session.
        device: Option<DeviceClass>,
        /// Keep the session with this generation (the new winner); close older ones.
        keep_generation: Option<u64>,
        /// The close code to use.
        code: u16,
        /// Why, in words (sent to the client).
        reason: String,
    },
    /// The user joined a room: start delivering its pushes.
    JoinedRoom {
        /// The room.
        room_id: i64,
    },
    /// The user left a room: stop delivering its pushes.
    LeftRoom {
        /// The room.
        room_id: i64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_events_round_trip_as_maps() {
        let events = [
            UserEvent::Deliver {
                frame: vec![0x80, 1, 2],
            },
            UserEvent::Close {
                device: Some(DeviceClass::Web),
                keep_generation: Some(4),
                code: 4005,
                reason: "x".into(),
            },
            UserEvent::JoinedRoom { room_id: 3 },
        ];
        for event in events {
            let bytes = crate::codec::encode(&event).unwrap();
            assert_eq!(bytes[0] & 0xf0, 0x80);
            assert_eq!(crate::codec::decode::<UserEvent>(&bytes).unwrap(), event);
        }
    }
}
