//! Notifications to devices that are not looking: push subscriptions and foreground reports
//! (docs/protocol.md §6.16).

#[allow(unused_imports)]
use super::*;
use serde::{Deserialize, Serialize};

/// Arguments of `push_subscribe`: where this device class of the caller gets its pushes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum PushSubscribeArgs {
    /// A browser's Web Push subscription, as `PushSubscription.toJSON()` gives it.
    WebPush {
        /// The push service URL the browser handed out.
        endpoint: String,
        /// The browser's P-256 public key, base64url of the 65-byte uncompressed point.
        p256dh: String,
        /// The browser's 16-byte authentication secret, base64url.
        auth: String,
    },
    /// An Android app's Firebase Cloud Messaging registration token.
    Fcm {
        /// The registration token.
        token: String,
    },
}

impl PushSubscribeArgs {
    /// The provider's wire name.
    pub fn provider(&self) -> PushProvider {
        match self {
            PushSubscribeArgs::WebPush { .. } => PushProvider::WebPush,
            PushSubscribeArgs::Fcm { .. } => PushProvider::Fcm,
        }
    }
}

/// Who delivers a device's pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushProvider {
    /// Web Push (RFC 8030) to a browser's push service.
    WebPush,
    /// Firebase Cloud Messaging HTTP v1.
    Fcm,
}

impl PushProvider {
    /// The wire (and metrics label) name.
    pub fn as_str(self) -> &'static str {
        match self {
            PushProvider::WebPush => "web_push",
            PushProvider::Fcm => "fcm",
        }
    }
}

/// Arguments of `set_foreground`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetForegroundArgs {
    /// Whether the user is looking at this session (a visible tab, the app on screen).
    pub foreground: bool,
}

/// What a push to a device says (the Web Push payload as JSON; FCM `data` as strings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PushPayload {
    /// A new message in one of the user's rooms.
    Message {
        /// The room.
        room_id: i64,
        /// The message's seq.
        seq: i64,
        /// The room's name, `""` for direct and unnamed rooms (the client names them).
        room_name: String,
        /// The sender's name; absent when the user's settings hide the sender.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sender_name: Option<String>,
        /// A preview of the message (≤ 200 characters); absent when the settings hide the body.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
        /// The message mentions the user.
        mention: bool,
        /// When the message was stored, Unix milliseconds.
        sent_at_ms: i64,
    },
    /// The user read the room on another device: remove its notification.
    Clear {
        /// The room.
        room_id: i64,
        /// The user's read cursor now.
        last_read_seq: i64,
    },
}

impl PushPayload {
    /// The room the push is about (notifications collapse per room).
    pub fn room_id(&self) -> i64 {
        match self {
            PushPayload::Message { room_id, .. } | PushPayload::Clear { room_id, .. } => *room_id,
        }
    }
}
