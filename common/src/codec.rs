//! MessagePack encoding of frames, with the limits and error classification a node needs.
//!
//! Everything is written with named map keys (`rmp_serde::to_vec_named`) so clients in any language can read
//! it. Requests are decoded in two passes: first the `{id, op}` head, so even a request with bad arguments gets
//! an error reply with its own id, then the arguments for that op.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::error_code::ErrorCode;
use crate::protocol::{Call, HistoryArgs, MarkReadArgs, Request, SendArgs, ServerFrame, SyncArgs};

/// Why a frame could not be decoded.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CodecError {
    /// Larger than the allowed size.
    #[error(
        "frame of {len} bytes exceeds the limit of {max} bytes; split the content or send less"
    )]
    TooLarge {
        /// The frame's size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not a MessagePack map with an integer `id` and a string `op`.
    #[error("frame is not a MessagePack map with an integer `id` and a string `op` ({detail}); see docs/protocol.md")]
    BadFrame {
        /// What the decoder said.
        detail: String,
    },
    /// A well-formed request whose op this protocol version does not know.
    #[error("unknown op `{op}`; protocol v1 knows: {known}")]
    UnknownOp {
        /// The request id.
        id: u64,
        /// The op sent.
        op: String,
        /// The ops that exist.
        known: String,
    },
    /// A known op whose `args` are missing or of the wrong shape.
    #[error("bad args for `{op}`: {detail}; see docs/protocol.md for the fields")]
    BadArgs {
        /// The request id.
        id: u64,
        /// The op.
        op: String,
        /// What was wrong.
        detail: String,
    },
    /// Could not encode (a bug: our own types always encode).
    #[error("could not encode frame: {0}")]
    Encode(String),
}

impl CodecError {
    /// The request id the error reply should carry, when one could be read.
    pub fn request_id(&self) -> Option<u64> {
        match self {
            CodecError::UnknownOp { id, .. } | CodecError::BadArgs { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// The wire error code for this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            CodecError::TooLarge { .. } => ErrorCode::FrameTooLarge,
            CodecError::BadFrame { .. } => ErrorCode::BadFrame,
            CodecError::UnknownOp { .. } => ErrorCode::UnknownOp,
            CodecError::BadArgs { .. } => ErrorCode::BadArgs,
            CodecError::Encode(_) => ErrorCode::Internal,
        }
    }
}

/// Encodes any value as a MessagePack map with named fields.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    rmp_serde::to_vec_named(value).map_err(|e| CodecError::Encode(e.to_string()))
}

/// Decodes any value written by [`encode`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    rmp_serde::from_slice(bytes).map_err(|e| CodecError::BadFrame {
        detail: e.to_string(),
    })
}

/// Encodes a server frame.
pub fn encode_server_frame(frame: &ServerFrame) -> Result<Vec<u8>, CodecError> {
    encode(frame)
}

/// Decodes a server frame (client side).
pub fn decode_server_frame(bytes: &[u8]) -> Result<ServerFrame, CodecError> {
    decode(bytes)
}

#[derive(Deserialize)]
struct RequestHead {
    id: u64,
    op: String,
}

#[derive(Deserialize)]
struct ArgsOf<T> {
    args: T,
}

#[derive(Serialize)]
struct RequestOut<'a, A: Serialize> {
    id: u64,
    op: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<&'a A>,
}

/// Encodes a request as `{id, op, args}` (client side).
pub fn encode_request(request: &Request) -> Result<Vec<u8>, CodecError> {
    fn out<A: Serialize>(id: u64, op: &str, args: Option<&A>) -> Result<Vec<u8>, CodecError> {
        encode(&RequestOut { id, op, args })
    }
    let id = request.id;
    let op = request.call.op();
    match &request.call {
        Call::Ping | Call::ListRooms => out::<()>(id, op, None),
        Call::History(a) => out(id, op, Some(a)),
        Call::Send(a) => out(id, op, Some(a)),
        Call::MarkRead(a) => out(id, op, Some(a)),
        Call::Sync(a) => out(id, op, Some(a)),
    }
}

/// Decodes a client request, enforcing `max_len` first (node side).
pub fn decode_request(bytes: &[u8], max_len: usize) -> Result<Request, CodecError> {
    if bytes.len() > max_len {
        return Err(CodecError::TooLarge {
            len: bytes.len(),
            max: max_len,
        });
    }
    if !is_map(bytes) {
        return Err(CodecError::BadFrame {
            detail: "top level is not a map".into(),
        });
    }
    let head: RequestHead = decode(bytes)?;
    let id = head.id;
    let call = match head.op.as_str() {
        "ping" => Call::Ping,
        "list_rooms" => Call::ListRooms,
        "history" => Call::History(decode_args::<HistoryArgs>(bytes, id, &head.op)?),
        "send" => Call::Send(decode_args::<SendArgs>(bytes, id, &head.op)?),
        "mark_read" => Call::MarkRead(decode_args::<MarkReadArgs>(bytes, id, &head.op)?),
        "sync" => Call::Sync(decode_optional_args::<SyncArgs>(bytes, id, &head.op)?),
        _ => {
            return Err(CodecError::UnknownOp {
                id,
                op: truncate(&head.op, 64),
                known: crate::protocol::OPS.join(", "),
            })
        }
    };
    Ok(Request { id, call })
}

fn decode_args<T: DeserializeOwned>(bytes: &[u8], id: u64, op: &str) -> Result<T, CodecError> {
    rmp_serde::from_slice::<ArgsOf<T>>(bytes)
        .map(|a| a.args)
        .map_err(|e| CodecError::BadArgs {
            id,
            op: op.to_owned(),
            detail: e.to_string(),
        })
}

fn decode_optional_args<T: DeserializeOwned + Default>(
    bytes: &[u8],
    id: u64,
    op: &str,
) -> Result<T, CodecError> {
    #[derive(Deserialize)]
    struct MaybeArgs<T> {
        #[serde(default)]
        args: Option<T>,
    }
    rmp_serde::from_slice::<MaybeArgs<T>>(bytes)
        .map(|a| a.args.unwrap_or_default())
        .map_err(|e| CodecError::BadArgs {
            id,
            op: op.to_owned(),
            detail: e.to_string(),
        })
}

/// Whether the frame starts with a MessagePack map marker (fixmap, map 16 or map 32).
fn is_map(bytes: &[u8]) -> bool {
    matches!(bytes.first(), Some(0x80..=0x8f | 0xde | 0xdf))
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error_code::ErrorCode;
    use crate::protocol::*;

    fn sample_message() -> Message {
        Message {
            room_id: 7,
            seq: 42,
            client_msg_id: "c-1".into(),
            sender_id: "alice".into(),
            kind: MessageKind::Text,
            body: "안녕하세요 hello".into(),
            created_at_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn every_request_round_trips() {
        let calls = vec![
            Call::Ping,
            Call::ListRooms,
            Call::History(HistoryArgs {
                room_id: 1,
                before_seq: Some(10),
                limit: Some(20),
            }),
            Call::Send(SendArgs {
                room_id: 1,
                client_msg_id: "x".into(),
                body: "hi".into(),
            }),
            Call::MarkRead(MarkReadArgs {
                room_id: 1,
                seq: None,
            }),
            Call::Sync(SyncArgs {
                cursors: vec![RoomCursor { room_id: 1, seq: 3 }],
                limit: None,
            }),
        ];
        assert_eq!(calls.len(), OPS.len());
        for (i, call) in calls.into_iter().enumerate() {
            let request = Request {
                id: i as u64 + 1,
                call,
            };
            let bytes = encode_request(&request).unwrap();
            assert_eq!(decode_request(&bytes, 1 << 16).unwrap(), request);
        }
    }

    #[test]
    fn server_frames_round_trip() {
        let frames = vec![
            ServerFrame::Reply {
                id: 1,
                result: Reply::Send {
                    message: sample_message(),
                    duplicate: false,
                },
            },
            ServerFrame::Reply {
                id: 2,
                result: Reply::Ping { server_time_ms: 5 },
            },
            ServerFrame::Error {
                id: None,
                code: ErrorCode::BadFrame,
                message: "x".into(),
            },
            ServerFrame::Push {
                push: Push::Message {
                    message: sample_message(),
                },
            },
            ServerFrame::Push {
                push: Push::SyncNeeded {
                    reason: "lag".into(),
                },
            },
        ];
        for frame in frames {
            let bytes = encode_server_frame(&frame).unwrap();
            assert_eq!(decode_server_frame(&bytes).unwrap(), frame);
        }
    }

    /// Other-language clients read maps with named keys: check the bytes, not just our own round trip.
    #[test]
    fn frames_are_maps_with_named_keys() {
        let frame = ServerFrame::Reply {
            id: 9,
            result: Reply::Ping { server_time_ms: 1 },
        };
        let bytes = encode_server_frame(&frame).unwrap();
        assert_eq!(bytes[0] & 0xf0, 0x80, "top level must be a fixmap");
        let text = String::from_utf8_lossy(&bytes);
        for key in [
            "kind",
            "reply",
            "id",
            "result",
            "op",
            "ping",
            "server_time_ms",
        ] {
            assert!(text.contains(key), "missing key {key}");
        }
        let request = encode_request(&Request {
            id: 1,
            call: Call::ListRooms,
        })
        .unwrap();
        assert_eq!(request[0], 0x82, "list_rooms is a 2-entry map {{id, op}}");
    }

    #[test]
    fn malformed_frames_are_classified() {
        // Not MessagePack at all / truncated / positional array instead of a map.
        assert!(matches!(
            decode_request(b"\xc1garbage", 1024),
            Err(CodecError::BadFrame { .. })
        ));
        let good = encode_request(&Request {
            id: 3,
            call: Call::Send(SendArgs {
                room_id: 1,
                client_msg_id: "a".into(),
                body: "b".into(),
            }),
        })
        .unwrap();
        let truncated = &good[..good.len() - 3];
        assert!(decode_request(truncated, 1024).is_err());
        let positional = rmp_serde::to_vec(&(3u64, "ping")).unwrap();
        assert!(matches!(
            decode_request(&positional, 1024),
            Err(CodecError::BadFrame { .. })
        ));
        assert!(matches!(
            decode_request(&[], 1024),
            Err(CodecError::BadFrame { .. })
        ));
    }

    #[test]
    fn oversized_frames_are_refused_before_decoding() {
        let err = decode_request(&vec![0u8; 2048], 1024).unwrap_err();
        assert_eq!(
            err,
            CodecError::TooLarge {
                len: 2048,
                max: 1024
            }
        );
        assert_eq!(err.code(), ErrorCode::FrameTooLarge);
    }

    #[test]
    fn wrongly_typed_args_keep_the_request_id() {
        #[derive(Serialize)]
        struct Raw<'a> {
            id: u64,
            op: &'a str,
            args: (&'a str, bool),
        }
        let bytes = encode(&Raw {
            id: 77,
            op: "send",
            args: ("room", true),
        })
        .unwrap();
        let err = decode_request(&bytes, 1024).unwrap_err();
        assert_eq!(err.request_id(), Some(77));
        assert_eq!(err.code(), ErrorCode::BadArgs);

        #[derive(Serialize)]
        struct WrongId<'a> {
            id: &'a str,
            op: &'a str,
        }
        let bytes = encode(&WrongId {
            id: "seven",
            op: "ping",
        })
        .unwrap();
        assert_eq!(
            decode_request(&bytes, 1024).unwrap_err().code(),
            ErrorCode::BadFrame
        );

        #[derive(Serialize)]
        struct Head<'a> {
            id: u64,
            op: &'a str,
        }
        let bytes = encode(&Head { id: 5, op: "fly" }).unwrap();
        let err = decode_request(&bytes, 1024).unwrap_err();
        assert_eq!(
            (err.code(), err.request_id()),
            (ErrorCode::UnknownOp, Some(5))
        );
        let bytes = encode(&Head { id: 6, op: "send" }).unwrap();
        assert_eq!(
            decode_request(&bytes, 1024).unwrap_err().code(),
            ErrorCode::BadArgs,
            "missing args"
        );
    }
}
