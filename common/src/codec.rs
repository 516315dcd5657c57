//! MessagePack encoding of frames, with the limits and error classification a node needs.
//!
//! Everything is written with named map keys (`rmp_serde::to_vec_named`) so clients in any language can read
//! it. Requests are decoded in two passes: first the `{id, op}` head, so even a request with bad arguments gets
//! an error reply with its own id, then the arguments for that op.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::error_code::ErrorCode;
use crate::protocol::{
    Call, CreateChannelArgs, CreateGroupArgs, EditMessageArgs, ForwardArgs, HistoryArgs,
    InviteArgs, ListChannelsArgs, ListSavedArgs, MarkReadArgs, MessageKind, MessageRef,
    OpenRoomArgs, OrgUnitsArgs, ProfilePatch, PushSubscribeArgs, ReactionArgs, RemoveMemberArgs,
    RenameRoomArgs, Request, ResetPasskeyArgs, RoomArgs, RoomMembersArgs, SearchAllArgs,
    SearchArgs, SearchUsersArgs, SendArgs, SendRichArgs, ServerFrame, SetForegroundArgs,
    SetMobileInstalledArgs, SetRoomOptionsArgs, SetRoomPrefsArgs, SettingsPatch, SyncArgs,
    UnitMembersArgs, UnreadCountsArgs, UserArgs, UserIdsArgs,
};

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
        Call::Ping
        | Call::ListRooms
        | Call::GetSettings
        | Call::Logout
        | Call::PushConfig
        | Call::PushUnsubscribe => out::<()>(id, op, None),
        Call::PushSubscribe(a) => out(id, op, Some(a)),
        Call::SetForeground(a) => out(id, op, Some(a)),
        Call::History(a) => out(id, op, Some(a)),
        Call::Send(a) => out(id, op, Some(a)),
        Call::SendRich(a) => out(id, op, Some(a)),
        Call::MarkRead(a) => out(id, op, Some(a)),
        Call::Sync(a) => out(id, op, Some(a)),
        Call::OpenDirect(a) | Call::RetireUser(a) => out(id, op, Some(a)),
        Call::CreateGroup(a) => out(id, op, Some(a)),
        Call::Invite(a) => out(id, op, Some(a)),
        Call::Leave(a) | Call::Typing(a) => out(id, op, Some(a)),
        Call::RemoveMember(a) => out(id, op, Some(a)),
        Call::RenameRoom(a) => out(id, op, Some(a)),
        Call::SetRoomPrefs(a) => out(id, op, Some(a)),
        Call::SetRoomOptions(a) => out(id, op, Some(a)),
        Call::RoomMembers(a) => out(id, op, Some(a)),
        Call::OpenRoom(a) => out(id, op, Some(a)),
        Call::UnreadCounts(a) => out(id, op, Some(a)),
        Call::UnreadMembers(a) | Call::Revoke(a) | Call::DeleteForMe(a) => out(id, op, Some(a)),
        Call::Forward(a) => out(id, op, Some(a)),
        Call::EditMessage(a) => out(id, op, Some(a)),
        Call::AddReaction(a) | Call::RemoveReaction(a) | Call::Reactors(a) => out(id, op, Some(a)),
        Call::Search(a) => out(id, op, Some(a)),
        Call::SearchAll(a) => out(id, op, Some(a)),
        Call::CreateChannel(a) => out(id, op, Some(a)),
        Call::ListChannels(a) => out(id, op, Some(a)),
        Call::JoinChannel(a) => out(id, op, Some(a)),
        Call::OrgUnits(a) => out(id, op, Some(a)),
        Call::UnitMembers(a) => out(id, op, Some(a)),
        Call::SearchUsers(a) => out(id, op, Some(a)),
        Call::GetUsers(a) | Call::Presence(a) | Call::WatchPresence(a) => out(id, op, Some(a)),
        Call::UpdateProfile(a) => out(id, op, Some(a)),
        Call::SetMobileInstalled(a) => out(id, op, Some(a)),
        Call::SetSettings(a) => out(id, op, Some(a)),
        Call::ResetPasskey(a) => out(id, op, Some(a)),
        Call::ClearRoom(a) | Call::ListPins(a) => out(id, op, Some(a)),
        Call::SaveMessage(a)
        | Call::UnsaveMessage(a)
        | Call::PinMessage(a)
        | Call::UnpinMessage(a) => out(id, op, Some(a)),
        Call::ListSaved(a) => out(id, op, Some(a)),
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
    let op = head.op.as_str();
    // serde reads a MessagePack `bin` into a String when it is UTF-8; the protocol says `str`, so refuse it.
    match find_bin(bytes) {
        BinSite::None => {}
        BinSite::Head => {
            return Err(CodecError::BadFrame {
                detail: "a MessagePack bin where the protocol says str (`op` and keys must be str)"
                    .into(),
            })
        }
        BinSite::Args => {
            return Err(CodecError::BadArgs {
                id,
                op: truncate(op, 64),
                detail: "a MessagePack bin where the protocol says str; send strings as str".into(),
            })
        }
    }
    let call = match op {
        "ping" => Call::Ping,
        "list_rooms" => Call::ListRooms,
        "history" => Call::History(decode_args::<HistoryArgs>(bytes, id, op)?),
        "send" => send_call(decode_args::<SendRichArgs>(bytes, id, op)?),
        "mark_read" => Call::MarkRead(decode_args::<MarkReadArgs>(bytes, id, op)?),
        "sync" => Call::Sync(decode_optional_args::<SyncArgs>(bytes, id, op)?),
        "open_direct" => Call::OpenDirect(decode_args::<UserArgs>(bytes, id, op)?),
        "create_group" => Call::CreateGroup(decode_args::<CreateGroupArgs>(bytes, id, op)?),
        "invite" => Call::Invite(decode_args::<InviteArgs>(bytes, id, op)?),
        "leave" => Call::Leave(decode_args::<RoomArgs>(bytes, id, op)?),
        "remove_member" => Call::RemoveMember(decode_args::<RemoveMemberArgs>(bytes, id, op)?),
        "rename_room" => Call::RenameRoom(decode_args::<RenameRoomArgs>(bytes, id, op)?),
        "set_room_prefs" => Call::SetRoomPrefs(decode_args::<SetRoomPrefsArgs>(bytes, id, op)?),
        "set_room_options" => {
            Call::SetRoomOptions(decode_args::<SetRoomOptionsArgs>(bytes, id, op)?)
        }
        "room_members" => Call::RoomMembers(decode_args::<RoomMembersArgs>(bytes, id, op)?),
        "open_room" => Call::OpenRoom(decode_args::<OpenRoomArgs>(bytes, id, op)?),
        "unread_counts" => Call::UnreadCounts(decode_args::<UnreadCountsArgs>(bytes, id, op)?),
        "unread_members" => Call::UnreadMembers(decode_args::<MessageRef>(bytes, id, op)?),
        "forward" => Call::Forward(decode_args::<ForwardArgs>(bytes, id, op)?),
        "revoke" => Call::Revoke(decode_args::<MessageRef>(bytes, id, op)?),
        "delete_for_me" => Call::DeleteForMe(decode_args::<MessageRef>(bytes, id, op)?),
        "edit_message" => Call::EditMessage(decode_args::<EditMessageArgs>(bytes, id, op)?),
        "add_reaction" => Call::AddReaction(decode_args::<ReactionArgs>(bytes, id, op)?),
        "remove_reaction" => Call::RemoveReaction(decode_args::<ReactionArgs>(bytes, id, op)?),
        "reactors" => Call::Reactors(decode_args::<ReactionArgs>(bytes, id, op)?),
        "search" => Call::Search(decode_args::<SearchArgs>(bytes, id, op)?),
        "search_all" => Call::SearchAll(decode_args::<SearchAllArgs>(bytes, id, op)?),
        "create_channel" => Call::CreateChannel(decode_args::<CreateChannelArgs>(bytes, id, op)?),
        "list_channels" => Call::ListChannels(decode_args::<ListChannelsArgs>(bytes, id, op)?),
        "join_channel" => Call::JoinChannel(decode_args::<RoomArgs>(bytes, id, op)?),
        "org_units" => Call::OrgUnits(decode_optional_args::<OrgUnitsArgs>(bytes, id, op)?),
        "unit_members" => Call::UnitMembers(decode_args::<UnitMembersArgs>(bytes, id, op)?),
        "search_users" => Call::SearchUsers(decode_args::<SearchUsersArgs>(bytes, id, op)?),
        "get_users" => Call::GetUsers(decode_args::<UserIdsArgs>(bytes, id, op)?),
        "update_profile" => Call::UpdateProfile(decode_args::<ProfilePatch>(bytes, id, op)?),
        "presence" => Call::Presence(decode_args::<UserIdsArgs>(bytes, id, op)?),
        "watch_presence" => Call::WatchPresence(decode_args::<UserIdsArgs>(bytes, id, op)?),
        "set_mobile_installed" => {
            Call::SetMobileInstalled(decode_args::<SetMobileInstalledArgs>(bytes, id, op)?)
        }
        "typing" => Call::Typing(decode_args::<RoomArgs>(bytes, id, op)?),
        "get_settings" => Call::GetSettings,
        "set_settings" => Call::SetSettings(decode_args::<SettingsPatch>(bytes, id, op)?),
        "reset_passkey" => {
            Call::ResetPasskey(decode_optional_args::<ResetPasskeyArgs>(bytes, id, op)?)
        }
        "logout" => Call::Logout,
        "retire_user" => Call::RetireUser(decode_args::<UserArgs>(bytes, id, op)?),
        "push_config" => Call::PushConfig,
        "push_subscribe" => Call::PushSubscribe(decode_args::<PushSubscribeArgs>(bytes, id, op)?),
        "push_unsubscribe" => Call::PushUnsubscribe,
        "set_foreground" => Call::SetForeground(decode_args::<SetForegroundArgs>(bytes, id, op)?),
        "clear_room" => Call::ClearRoom(decode_args::<RoomArgs>(bytes, id, op)?),
        "save_message" => Call::SaveMessage(decode_args::<MessageRef>(bytes, id, op)?),
        "unsave_message" => Call::UnsaveMessage(decode_args::<MessageRef>(bytes, id, op)?),
        "list_saved" => Call::ListSaved(decode_optional_args::<ListSavedArgs>(bytes, id, op)?),
        "pin_message" => Call::PinMessage(decode_args::<MessageRef>(bytes, id, op)?),
        "unpin_message" => Call::UnpinMessage(decode_args::<MessageRef>(bytes, id, op)?),
        "list_pins" => Call::ListPins(decode_args::<RoomArgs>(bytes, id, op)?),
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

/// A `send` without file, link, reply or non-text kind is a plain [`Call::Send`].
fn send_call(args: SendRichArgs) -> Call {
    let plain = args.kind == MessageKind::Text
        && args.file.is_none()
        && args.file_link.is_none()
        && args.reply_to.is_none();
    if plain {
        Call::Send(SendArgs {
            room_id: args.room_id,
            client_msg_id: args.client_msg_id,
            body: args.body,
        })
    } else {
        Call::SendRich(args)
    }
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

/// Where a request frame holds a MessagePack `bin` (no request field is binary).
#[derive(Debug, PartialEq, Eq)]
enum BinSite {
    /// None (or the frame is malformed, which decoding reports).
    None,
    /// Outside `args`: a key, `id` or `op`.
    Head,
    /// Inside `args`.
    Args,
}

/// Finds a `bin` in a request frame, walking its top-level map without recursion.
fn find_bin(bytes: &[u8]) -> BinSite {
    let mut reader = Reader { bytes, at: 0 };
    let Some(entries) = reader.map_len() else {
        return BinSite::None;
    };
    for _ in 0..entries {
        let key_start = reader.at;
        match reader.skip_value() {
            Some(true) => return BinSite::Head,
            Some(false) => {}
            None => return BinSite::None,
        }
        let is_args = bytes.get(key_start..reader.at) == Some(b"\xa4args");
        match reader.skip_value() {
            Some(true) if is_args => return BinSite::Args,
            Some(true) => return BinSite::Head,
            Some(false) => {}
            None => return BinSite::None,
        }
    }
    BinSite::None
}

/// A cursor over MessagePack bytes that skips values and notices `bin`.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn uint(&mut self, len: usize) -> Option<u64> {
        let slice = self.bytes.get(self.at..self.at.checked_add(len)?)?;
        self.at += len;
        Some(slice.iter().fold(0u64, |acc, b| acc << 8 | *b as u64))
    }

    fn advance(&mut self, len: u64) -> Option<()> {
        let end = self.at.checked_add(usize::try_from(len).ok()?)?;
        if end > self.bytes.len() {
            return None;
        }
        self.at = end;
        Some(())
    }

    /// The entry count of a map at the cursor.
    fn map_len(&mut self) -> Option<u64> {
        match self.byte()? {
            b @ 0x80..=0x8f => Some((b & 0x0f) as u64),
            0xde => self.uint(2),
            0xdf => self.uint(4),
            _ => None,
        }
    }

    /// Skips one value (with everything nested in it); `Some(true)` when it holds a `bin`, `None` when the
    /// bytes are malformed or end early.
    fn skip_value(&mut self) -> Option<bool> {
        let mut left: u64 = 1;
        while left > 0 {
            left -= 1;
            let marker = self.byte()?;
            match marker {
                0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => {}
                0x80..=0x8f => left = left.checked_add(2 * (marker & 0x0f) as u64)?,
                0x90..=0x9f => left = left.checked_add((marker & 0x0f) as u64)?,
                0xa0..=0xbf => self.advance((marker & 0x1f) as u64)?,
                0xc4..=0xc6 => return Some(true),
                0xc7 => {
                    let len = self.uint(1)?;
                    self.advance(len + 1)?;
                }
                0xc8 => {
                    let len = self.uint(2)?;
                    self.advance(len + 1)?;
                }
                0xc9 => {
                    let len = self.uint(4)?;
                    self.advance(len + 1)?;
                }
                0xca | 0xce | 0xd2 => self.advance(4)?,
                0xcb | 0xcf | 0xd3 => self.advance(8)?,
                0xcc | 0xd0 => self.advance(1)?,
                0xcd | 0xd1 => self.advance(2)?,
                0xd4 => self.advance(2)?,
                0xd5 => self.advance(3)?,
                0xd6 => self.advance(5)?,
                0xd7 => self.advance(9)?,
                0xd8 => self.advance(17)?,
                0xd9 => {
                    let len = self.uint(1)?;
                    self.advance(len)?;
                }
                0xda => {
                    let len = self.uint(2)?;
                    self.advance(len)?;
                }
                0xdb => {
                    let len = self.uint(4)?;
                    self.advance(len)?;
                }
                0xdc => left = left.checked_add(self.uint(2)?)?,
                0xdd => left = left.checked_add(self.uint(4)?)?,
                0xde => left = left.checked_add(2 * self.uint(2)?)?,
                0xdf => left = left.checked_add(2 * self.uint(4)?)?,
                0xc1 => return None,
            }
        }
        Some(false)
    }
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
            ..Default::default()
        }
    }

    fn rich_message() -> Message {
        Message {
            room_id: 7,
            seq: 43,
            client_msg_id: "c-2".into(),
            sender_id: "bob".into(),
            kind: MessageKind::File,
            body: String::new(),
            created_at_ms: 1_700_000_000_001,
            reply_to: Some(Quote {
                seq: 42,
                sender_id: "alice".into(),
                kind: MessageKind::Text,
                preview: "안녕".into(),
                revoked: false,
            }),
            file: Some(FileInfo {
                file_id: "f".into(),
                name: "a.pdf".into(),
                size: 10,
                mime: "application/pdf".into(),
                width: None,
                height: None,
                ..Default::default()
            }),
            system: None,
            forwarded: true,
            revoked: false,
            hidden: false,
            mentions: vec!["alice".into()],
            edited_at_ms: Some(1_700_000_000_900),
            change_seq: 4,
            reactions: vec![Reaction {
                emoji: "👍".into(),
                count: 3,
                mine: true,
            }],
        }
    }

    /// A message written by an older server (without the v1.1 keys) still decodes, with defaults.
    #[test]
    fn messages_without_new_keys_decode() {
        #[derive(Serialize)]
        struct Old<'a> {
            room_id: i64,
            seq: i64,
            client_msg_id: &'a str,
            sender_id: &'a str,
            kind: &'a str,
            body: &'a str,
            created_at_ms: i64,
        }
        let bytes = encode(&Old {
            room_id: 7,
            seq: 42,
            client_msg_id: "c-1",
            sender_id: "alice",
            kind: "text",
            body: "안녕하세요 hello",
            created_at_ms: 1_700_000_000_000,
        })
        .unwrap();
        assert_eq!(decode::<Message>(&bytes).unwrap(), sample_message());
        let system = SystemEvent {
            action: SystemAction::Invite,
            actor: "a".into(),
            users: vec!["b".into()],
            name: None,
            seq: None,
            members_hidden: None,
        };
        let text = String::from_utf8_lossy(&encode(&system).unwrap()).to_string();
        assert!(text.contains("invite") && text.contains("actor"), "{text}");
    }

    #[test]
    fn bin_where_str_is_required_is_refused() {
        #[derive(Serialize)]
        struct BinBody<'a> {
            room_id: i64,
            client_msg_id: &'a str,
            #[serde(with = "serde_bytes")]
            body: &'a [u8],
        }
        #[derive(Serialize)]
        struct Req<A> {
            id: u64,
            op: &'static str,
            args: A,
        }
        #[derive(Serialize)]
        struct BinOp<'a> {
            id: u64,
            #[serde(with = "serde_bytes")]
            op: &'a [u8],
        }
        let args = BinBody {
            room_id: 1,
            client_msg_id: "c",
            body: b"hi",
        };
        let frame = encode(&Req {
            id: 5,
            op: "send",
            args,
        })
        .unwrap();
        let err = decode_request(&frame, 1 << 16).unwrap_err();
        assert_eq!(
            (err.code(), err.request_id()),
            (ErrorCode::BadArgs, Some(5))
        );
        let frame = encode(&BinOp { id: 6, op: b"ping" }).unwrap();
        assert_eq!(
            decode_request(&frame, 1 << 16).unwrap_err().code(),
            ErrorCode::BadFrame
        );
        // Nested: a bin inside a list inside args.
        let frame = encode(&Req {
            id: 7,
            op: "get_users",
            args: std::collections::BTreeMap::from([(
                "user_ids",
                vec![serde_bytes::Bytes::new(b"bob")],
            )]),
        })
        .unwrap();
        assert_eq!(
            decode_request(&frame, 1 << 16).unwrap_err().code(),
            ErrorCode::BadArgs
        );
        // str everywhere still decodes.
        let frame = encode(&Req {
            id: 8,
            op: "send",
            args: SendArgs {
                room_id: 1,
                client_msg_id: "c".into(),
                body: "hi".into(),
            },
        })
        .unwrap();
        assert!(decode_request(&frame, 1 << 16).is_ok());
    }

    fn every_call() -> Vec<Call> {
        let file = FileInfo {
            file_id: "f-1".into(),
            name: "사진.png".into(),
            size: 1234,
            mime: "image/png".into(),
            width: Some(640),
            height: Some(480),
            ..Default::default()
        };
        vec![
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
            Call::SendRich(SendRichArgs {
                room_id: 1,
                client_msg_id: "y".into(),
                body: "caption".into(),
                kind: MessageKind::Image,
                file: Some(file),
                file_link: None,
                reply_to: Some(3),
            }),
            Call::MarkRead(MarkReadArgs {
                room_id: 1,
                seq: None,
            }),
            Call::Sync(SyncArgs {
                cursors: vec![RoomCursor { room_id: 1, seq: 3 }],
                limit: None,
                changes: vec![ChangeCursor {
                    room_id: 1,
                    change_seq: 2,
                }],
            }),
            Call::OpenDirect(UserArgs {
                user_id: "bob".into(),
            }),
            Call::CreateGroup(CreateGroupArgs {
                name: "팀".into(),
                user_ids: vec!["bob".into()],
            }),
            Call::Invite(InviteArgs {
                room_id: 1,
                user_ids: vec!["carol".into()],
            }),
            Call::Leave(RoomArgs { room_id: 1 }),
            Call::RemoveMember(RemoveMemberArgs {
                room_id: 1,
                user_id: "dave".into(),
            }),
            Call::RenameRoom(RenameRoomArgs {
                room_id: 1,
                name: "new".into(),
            }),
            Call::SetRoomPrefs(SetRoomPrefsArgs {
                room_id: 1,
                nickname: Some("mine".into()),
                notifications: Some(false),
            }),
            Call::RoomMembers(RoomMembersArgs {
                room_id: 1,
                after: Some("a".into()),
                limit: Some(10),
            }),
            Call::OpenRoom(OpenRoomArgs {
                room_id: 1,
                limit: Some(50),
            }),
            Call::UnreadCounts(UnreadCountsArgs {
                room_id: 1,
                seqs: vec![1, 2, 3],
            }),
            Call::UnreadMembers(MessageRef { room_id: 1, seq: 2 }),
            Call::Forward(ForwardArgs {
                room_id: 1,
                seq: 2,
                to_room_id: 3,
                client_msg_id: "f".into(),
            }),
            Call::Revoke(MessageRef { room_id: 1, seq: 2 }),
            Call::DeleteForMe(MessageRef { room_id: 1, seq: 2 }),
            Call::EditMessage(EditMessageArgs {
                room_id: 1,
                seq: 2,
                body: "고쳤어요".into(),
            }),
            Call::AddReaction(ReactionArgs {
                room_id: 1,
                seq: 2,
                emoji: "👍".into(),
            }),
            Call::RemoveReaction(ReactionArgs {
                room_id: 1,
                seq: 2,
                emoji: "👍".into(),
            }),
            Call::Reactors(ReactionArgs {
                room_id: 1,
                seq: 2,
                emoji: "🎉".into(),
            }),
            Call::Search(SearchArgs {
                room_id: 1,
                query: Some("회의".into()),
                sender_id: Some("bob".into()),
                kind: Some(MediaFilter::Link),
                before_seq: Some(9),
                limit: Some(5),
            }),
            Call::OrgUnits(OrgUnitsArgs {
                parent_id: Some("hq".into()),
            }),
            Call::UnitMembers(UnitMembersArgs {
                unit_id: "eng".into(),
                after: None,
                limit: Some(3),
            }),
            Call::SearchUsers(SearchUsersArgs {
                query: "김".into(),
                limit: None,
            }),
            Call::GetUsers(UserIdsArgs {
                user_ids: vec!["a".into()],
            }),
            Call::UpdateProfile(ProfilePatch {
                nickname: Some("busy".into()),
                ..Default::default()
            }),
            Call::Presence(UserIdsArgs {
                user_ids: vec!["a".into(), "b".into()],
            }),
            Call::WatchPresence(UserIdsArgs {
                user_ids: vec!["a".into()],
            }),
            Call::SetMobileInstalled(SetMobileInstalledArgs { installed: true }),
            Call::Typing(RoomArgs { room_id: 1 }),
            Call::GetSettings,
            Call::SetSettings(SettingsPatch {
                notify_from: Some("08:00".into()),
                notify_to: Some("19:00".into()),
                time_zone: Some("Asia/Seoul".into()),
                ..Default::default()
            }),
            Call::ResetPasskey(ResetPasskeyArgs { user_id: None }),
            Call::Logout,
            Call::RetireUser(UserArgs {
                user_id: "zed".into(),
            }),
            Call::PushConfig,
            Call::PushSubscribe(PushSubscribeArgs::WebPush {
                endpoint: "https://push.example/abc".into(),
                p256dh: "BAAA".into(),
                auth: "AAAA".into(),
            }),
            Call::PushSubscribe(PushSubscribeArgs::Fcm {
                token: "fcm-token".into(),
            }),
            Call::PushUnsubscribe,
            Call::SetForeground(SetForegroundArgs { foreground: true }),
            Call::ClearRoom(RoomArgs { room_id: 1 }),
            Call::SaveMessage(MessageRef { room_id: 1, seq: 2 }),
            Call::UnsaveMessage(MessageRef { room_id: 1, seq: 2 }),
            Call::ListSaved(ListSavedArgs {
                before: Some(MessageRef { room_id: 1, seq: 2 }),
                limit: Some(10),
            }),
            Call::PinMessage(MessageRef { room_id: 1, seq: 2 }),
            Call::UnpinMessage(MessageRef { room_id: 1, seq: 2 }),
            Call::ListPins(RoomArgs { room_id: 1 }),
            Call::SetRoomOptions(SetRoomOptionsArgs {
                room_id: 1,
                members_hidden: true,
            }),
            Call::SearchAll(SearchAllArgs {
                query: "회의".into(),
                room_ids: Some(vec![1, 2]),
                sender_id: Some("bob".into()),
                after_ms: Some(1_700_000_000_000),
                before_ms: Some(1_700_000_100_000),
                cursor: Some("1700000000000000.1.2".into()),
                limit: Some(5),
            }),
            Call::CreateChannel(CreateChannelArgs {
                name: "개발팀 공지".into(),
                unit_id: Some("eng".into()),
            }),
            Call::ListChannels(ListChannelsArgs {
                query: Some("공지".into()),
                after: Some(ChannelAfter {
                    name: "a".into(),
                    room_id: 3,
                }),
                limit: Some(10),
            }),
            Call::JoinChannel(RoomArgs { room_id: 4 }),
        ]
    }

    #[test]
    fn every_request_round_trips() {
        let calls = every_call();
        let mut ops: Vec<&str> = calls.iter().map(Call::op).collect();
        ops.dedup();
        assert_eq!(ops, OPS.to_vec(), "one call per op, in OPS order");
        for (i, call) in calls.into_iter().enumerate() {
            let request = Request {
                id: i as u64 + 1,
                call,
            };
            let bytes = encode_request(&request).unwrap();
            assert_eq!(decode_request(&bytes, 1 << 16).unwrap(), request);
        }
    }

    /// A rich send without any extra decodes as a plain send, so both spellings mean the same on the wire.
    #[test]
    fn a_send_without_extras_is_a_plain_send() {
        let rich = Request {
            id: 4,
            call: Call::SendRich(SendRichArgs {
                room_id: 1,
                client_msg_id: "c".into(),
                body: "hi".into(),
                ..Default::default()
            }),
        };
        let bytes = encode_request(&rich).unwrap();
        assert_eq!(
            decode_request(&bytes, 1024).unwrap().call,
            Call::Send(SendArgs {
                room_id: 1,
                client_msg_id: "c".into(),
                body: "hi".into(),
            })
        );
    }

    /// Optional args: `{id, op}` alone is valid for these ops.
    #[test]
    fn ops_without_args() {
        #[derive(Serialize)]
        struct Head<'a> {
            id: u64,
            op: &'a str,
        }
        for (op, call) in [
            ("get_settings", Call::GetSettings),
            ("logout", Call::Logout),
            ("push_config", Call::PushConfig),
            ("push_unsubscribe", Call::PushUnsubscribe),
            ("org_units", Call::OrgUnits(OrgUnitsArgs::default())),
            ("list_saved", Call::ListSaved(ListSavedArgs::default())),
            (
                "reset_passkey",
                Call::ResetPasskey(ResetPasskeyArgs::default()),
            ),
        ] {
            let bytes = encode(&Head { id: 1, op }).unwrap();
            assert_eq!(decode_request(&bytes, 1024).unwrap().call, call, "{op}");
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
            ServerFrame::Reply {
                id: 3,
                result: Reply::OpenRoom {
                    room: RoomSummary {
                        room_id: 7,
                        kind: "group".into(),
                        last_message: Some(rich_message()),
                        notifications: true,
                        ..Default::default()
                    },
                    messages: vec![rich_message(), sample_message()],
                    unread_counts: vec![SeqCount { seq: 42, unread: 3 }],
                    has_more: true,
                },
            },
            ServerFrame::Reply {
                id: 4,
                result: Reply::Logout,
            },
            ServerFrame::Push {
                push: Push::Revoked { room_id: 7, seq: 3 },
            },
            ServerFrame::Push {
                push: Push::Reaction {
                    room_id: 7,
                    seq: 3,
                    user_id: "bob".into(),
                    emoji: "🎉".into(),
                    on: true,
                    count: 2,
                    change_seq: 9,
                },
            },
            ServerFrame::Push {
                push: Push::Edited {
                    message: Message {
                        room_id: 7,
                        seq: 3,
                        body: "fixed".into(),
                        edited_at_ms: Some(1_700_000_000_000),
                        change_seq: 2,
                        ..Default::default()
                    },
                },
            },
            ServerFrame::Push {
                push: Push::RoomCleared {
                    room_id: 7,
                    cleared_seq: 41,
                },
            },
            ServerFrame::Push {
                push: Push::Saved {
                    room_id: 7,
                    seq: 3,
                    saved: true,
                },
            },
            ServerFrame::Reply {
                id: 10,
                result: Reply::ListChannels {
                    channels: vec![Channel {
                        room_id: 4,
                        name: "개발팀 공지".into(),
                        unit_id: Some("eng".into()),
                        member_count: 12,
                        joined: false,
                        created_by: Some("kim".into()),
                    }],
                    has_more: false,
                },
            },
            ServerFrame::Reply {
                id: 9,
                result: Reply::SearchAll {
                    messages: vec![rich_message()],
                    has_more: true,
                    next_cursor: Some("1700000000000000.7.3".into()),
                },
            },
            ServerFrame::Reply {
                id: 5,
                result: Reply::ListPins {
                    room_id: 7,
                    pins: vec![Pin {
                        message: rich_message(),
                        pinned_by: "bob".into(),
                        pinned_at_ms: 1_700_000_000_002,
                    }],
                },
            },
            ServerFrame::Reply {
                id: 6,
                result: Reply::PinMessage {
                    room_id: 7,
                    seq: 43,
                    pinned: true,
                    message: Some(Message {
                        kind: MessageKind::System,
                        system: Some(SystemEvent {
                            action: SystemAction::Pin,
                            actor: "bob".into(),
                            seq: Some(43),
                            members_hidden: None,
                            ..Default::default()
                        }),
                        ..sample_message()
                    }),
                },
            },
            ServerFrame::Push {
                push: Push::Settings {
                    settings: Settings {
                        notify_from: Some("08:00".into()),
                        ..Default::default()
                    },
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
