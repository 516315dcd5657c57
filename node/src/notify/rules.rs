//! Who gets a push for a message, on which devices, saying what: pure functions of what the worker read, so
//! every rule has a unit test.
//!
//! A member is told when: they are not the sender and have not read past the message (the query already
//! leaves those out); notifications are not off; the room is not muted, unless the message mentions them;
//! now is inside their notification hours (the original product's 알림시간) in their time zone; and none
//! of their sessions is in the foreground. A device class whose session is connected is skipped even in the
//! background: its client got the message over its socket and notifies by itself.

use std::collections::HashSet;

use sendjay_common::protocol::{DeviceClass, MessageKind, PushPayload};

use crate::store::push::{MessageNotice, PushDevice, Recipient};

/// Longest message preview in a push, in characters (a Web Push payload must stay under 4 KiB).
pub const PUSH_PREVIEW_CHARS: usize = 200;

/// What the sessions in Redis say about one user right now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attention {
    /// Device classes with a live session.
    pub connected: HashSet<DeviceClass>,
    /// A live session said it is in the foreground.
    pub foreground: bool,
}

/// Why a member gets no push (a metrics label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Notifications are off in the user's settings.
    NotificationsOff,
    /// The room is muted and the message does not mention them.
    Muted,
    /// Outside the user's notification hours.
    OutsideHours,
    /// A session of the user is in the foreground.
    Foreground,
}

impl Skip {
    /// The metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::NotificationsOff => "notifications_off",
            Skip::Muted => "muted",
            Skip::OutsideHours => "outside_hours",
            Skip::Foreground => "foreground",
        }
    }
}

/// Whether `minute` (after local midnight) is inside the window `from`–`to`; the window may wrap midnight, and
/// none or `from == to` means always.
pub fn in_window(window: Option<(i16, i16)>, minute: i16) -> bool {
    match window {
        None => true,
        Some((from, to)) if from == to => true,
        Some((from, to)) if from < to => minute >= from && minute < to,
        Some((from, to)) => minute >= from || minute < to,
    }
}

/// Minutes after local midnight at `now` in `zone`, or in `default` when the zone is empty or unknown here.
pub fn local_minute(now: jiff::Timestamp, zone: &str, default: &jiff::tz::TimeZone) -> i16 {
    let tz = if zone.is_empty() {
        default.clone()
    } else {
        jiff::tz::TimeZone::get(zone).unwrap_or_else(|_| default.clone())
    };
    let time = now.to_zoned(tz).time();
    time.hour() as i16 * 60 + time.minute() as i16
}

/// Whether the message mentions `user` (`@user` in its body; the same parser as the protocol's `mentions`).
pub fn mentions(notice: &MessageNotice, user: &str) -> bool {
    notice.kind != MessageKind::System
        && sendjay_common::mentions::parse(&notice.body)
            .iter()
            .any(|m| m == user)
}

/// The devices of `recipient` to push to, or why none.
pub fn devices_to_push<'a>(
    recipient: &'a Recipient,
    mentioned: bool,
    minute: i16,
    attention: &Attention,
) -> Result<Vec<&'a PushDevice>, Skip> {
    if recipient.notifications_off {
        return Err(Skip::NotificationsOff);
    }
    if !recipient.room_notifications && !mentioned {
        return Err(Skip::Muted);
    }
    if !in_window(recipient.notify_window, minute) {
        return Err(Skip::OutsideHours);
    }
    if attention.foreground {
        return Err(Skip::Foreground);
    }
    Ok(recipient
        .devices
        .iter()
        .filter(|d| !attention.connected.contains(&d.device))
        .collect())
}

/// The preview of a message: its text, or a label with the caption for images and files.
fn preview(notice: &MessageNotice) -> String {
    let text = match notice.kind {
        MessageKind::Image if notice.body.is_empty() => "📷 Photo".to_owned(),
        MessageKind::Image => format!("📷 {}", notice.body),
        MessageKind::File | MessageKind::FileLink => {
            let name = notice.file_name.as_deref().unwrap_or("File");
            if notice.body.is_empty() {
                format!("📎 {name}")
            } else {
                format!("📎 {name}: {}", notice.body)
            }
        }
        MessageKind::Text | MessageKind::System => notice.body.clone(),
    };
    text.chars().take(PUSH_PREVIEW_CHARS).collect()
}

/// What the push for `notice` tells `recipient`, honouring hide-body and hide-sender.
pub fn message_payload(
    notice: &MessageNotice,
    recipient: &Recipient,
    mentioned: bool,
) -> PushPayload {
    let room_name = if !recipient.room_nickname.is_empty() {
        recipient.room_nickname.clone()
    } else if notice.group {
        notice.room_name.clone()
    } else {
        String::new()
    };
    PushPayload::Message {
        room_id: notice.room_id,
        seq: notice.seq,
        room_name,
        sender_name: (!recipient.hide_sender).then(|| notice.sender_name.clone()),
        body: (!recipient.hide_body).then(|| preview(notice)),
        mention: mentioned,
        sent_at_ms: notice.sent_at_ms,
    }
}

/// The collapse key of a room: one visible notification per room per device (Web Push `Topic`, at most 32
/// URL-safe characters; FCM `collapse_key`; the service worker's tag).
pub fn collapse_key(room_id: i64) -> String {
    format!("room-{room_id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sendjay_common::protocol::PushProvider;

    fn device(class: DeviceClass) -> PushDevice {
        PushDevice {
            device: class,
            provider: PushProvider::WebPush,
            address: format!("https://push.example/{}", class.as_str()),
            p256dh: "k".into(),
            auth: "a".into(),
        }
    }

    fn recipient() -> Recipient {
        Recipient {
            user_id: "lee".into(),
            room_notifications: true,
            room_nickname: String::new(),
            notifications_off: false,
            hide_body: false,
            hide_sender: false,
            notify_window: None,
            time_zone: String::new(),
            devices: vec![device(DeviceClass::Web), device(DeviceClass::Mobile)],
        }
    }

    fn notice(body: &str) -> MessageNotice {
        MessageNotice {
            room_id: 9,
            seq: 3,
            sender_id: "kim".into(),
            sender_name: "Kim".into(),
            kind: MessageKind::Text,
            body: body.into(),
            file_name: None,
            group: true,
            room_name: "Team".into(),
            sent_at_ms: 5,
            revoked: false,
            recipients: vec![],
        }
    }

    fn classes(devices: &[&PushDevice]) -> Vec<DeviceClass> {
        devices.iter().map(|d| d.device).collect()
    }

    #[test]
    fn windows_wrap_midnight_and_empty_means_always() {
        assert!(in_window(None, 0));
        assert!(in_window(Some((600, 600)), 0), "equal ends: the whole day");
        assert!(in_window(Some((540, 1080)), 540));
        assert!(!in_window(Some((540, 1080)), 1080), "the end is exclusive");
        assert!(!in_window(Some((540, 1080)), 100));
        assert!(
            in_window(Some((1320, 420)), 1400),
            "22:00-07:00 contains 23:20"
        );
        assert!(in_window(Some((1320, 420)), 60));
        assert!(!in_window(Some((1320, 420)), 720));
    }

    #[test]
    fn the_local_minute_is_read_in_the_users_zone() {
        let utc = jiff::tz::TimeZone::UTC;
        let now: jiff::Timestamp = "2026-12-03T01:30:00Z".parse().unwrap();
        assert_eq!(local_minute(now, "", &utc), 90);
        assert_eq!(local_minute(now, "Asia/Seoul", &utc), 10 * 60 + 30);
        assert_eq!(
            local_minute(now, "Not/AZone", &utc),
            90,
            "an unknown zone falls back to the default"
        );
    }

    #[test]
    fn every_rule_refuses_or_picks_devices() {
        let idle = Attention::default();
        let r = recipient();
        assert_eq!(
            classes(&devices_to_push(&r, false, 0, &idle).unwrap()),
            [DeviceClass::Web, DeviceClass::Mobile]
        );
        let off = Recipient {
            notifications_off: true,
            ..recipient()
        };
        assert_eq!(
            devices_to_push(&off, true, 0, &idle),
            Err(Skip::NotificationsOff),
            "off beats a mention"
        );
        let muted = Recipient {
            room_notifications: false,
            ..recipient()
        };
        assert_eq!(devices_to_push(&muted, false, 0, &idle), Err(Skip::Muted));
        assert_eq!(
            devices_to_push(&muted, true, 0, &idle).map(|d| d.len()),
            Ok(2),
            "a mention gets through a muted room"
        );
        let hours = Recipient {
            notify_window: Some((540, 1080)),
            ..recipient()
        };
        assert_eq!(
            devices_to_push(&hours, true, 100, &idle),
            Err(Skip::OutsideHours)
        );
        let looking = Attention {
            connected: [DeviceClass::Web].into(),
            foreground: true,
        };
        assert_eq!(
            devices_to_push(&r, false, 0, &looking),
            Err(Skip::Foreground)
        );
        let web_open_in_background = Attention {
            connected: [DeviceClass::Web].into(),
            foreground: false,
        };
        assert_eq!(
            classes(&devices_to_push(&r, false, 0, &web_open_in_background).unwrap()),
            [DeviceClass::Mobile],
            "the connected web client notifies by itself"
        );
    }

    #[test]
    fn payloads_hide_what_the_settings_hide() {
        let n = notice("hello @lee");
        let shown = message_payload(&n, &recipient(), true);
        assert_eq!(
            shown,
            PushPayload::Message {
                room_id: 9,
                seq: 3,
                room_name: "Team".into(),
                sender_name: Some("Kim".into()),
                body: Some("hello @lee".into()),
                mention: true,
                sent_at_ms: 5,
            }
        );
        let hidden = Recipient {
            hide_body: true,
            hide_sender: true,
            room_nickname: "Mine".into(),
            ..recipient()
        };
        match message_payload(&n, &hidden, false) {
            PushPayload::Message {
                sender_name,
                body,
                room_name,
                ..
            } => {
                assert_eq!((sender_name, body), (None, None));
                assert_eq!(room_name, "Mine", "the member's own name for the room");
            }
            other => panic!("{other:?}"),
        }
        let long = notice(&"가".repeat(500));
        match message_payload(&long, &recipient(), false) {
            PushPayload::Message { body, .. } => {
                assert_eq!(body.unwrap().chars().count(), PUSH_PREVIEW_CHARS)
            }
            other => panic!("{other:?}"),
        }
        let direct = MessageNotice {
            group: false,
            room_name: String::new(),
            ..notice("hi")
        };
        assert!(matches!(
            message_payload(&direct, &recipient(), false),
            PushPayload::Message { room_name, .. } if room_name.is_empty()
        ));
    }

    #[test]
    fn mentions_use_the_protocols_parser() {
        assert!(mentions(&notice("hi @lee!"), "lee"));
        assert!(!mentions(&notice("mail lee@corp.example"), "lee"));
    }
}
