//! Push subscriptions (one per user and device class) and what a notification worker reads about a message:
//! who should hear of it, with their settings and devices, in one query (for many messages at once).

use std::collections::HashMap;

use sendjay_common::protocol::{DeviceClass, MessageKind, PushProvider, PushSubscribeArgs};
use tokio_postgres::Row;

use super::Store;
use crate::error::NodeError;

/// Where one device class of a user gets pushes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushDevice {
    /// Web or mobile.
    pub device: DeviceClass,
    /// Who delivers.
    pub provider: PushProvider,
    /// Web Push: the push service URL; FCM: the registration token.
    pub address: String,
    /// Web Push: the browser's P-256 public key (base64url).
    pub p256dh: String,
    /// Web Push: the browser's auth secret (base64url).
    pub auth: String,
}

/// A member who may be told of a message, with what decides whether and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The member.
    pub user_id: String,
    /// The member's switch for this room.
    pub room_notifications: bool,
    /// The member's own name for the room (`""`: none).
    pub room_nickname: String,
    /// No notifications at all.
    pub notifications_off: bool,
    /// Pushes without the message text.
    pub hide_body: bool,
    /// Pushes without the sender's name.
    pub hide_sender: bool,
    /// Notification window start and end, minutes after local midnight (both or neither).
    pub notify_window: Option<(i16, i16)>,
    /// IANA time zone name, `""` for the deployment's default.
    pub time_zone: String,
    /// The member's subscribed devices.
    pub devices: Vec<PushDevice>,
}

/// A stored message as a notification worker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageNotice {
    /// The room.
    pub room_id: i64,
    /// The message's seq.
    pub seq: i64,
    /// Who sent it.
    pub sender_id: String,
    /// The sender's display name.
    pub sender_name: String,
    /// Text, image, file, …
    pub kind: MessageKind,
    /// The body (a caption for images and files).
    pub body: String,
    /// The file's name, for images and files.
    pub file_name: Option<String>,
    /// A group room (direct rooms are named after the other person).
    pub group: bool,
    /// The room's name (`""`: unnamed).
    pub room_name: String,
    /// When it was stored, Unix milliseconds.
    pub sent_at_ms: i64,
    /// Revoked before the worker got to it.
    pub revoked: bool,
    /// Members other than the sender who have subscribed devices and have not read it yet.
    pub recipients: Vec<Recipient>,
}

/// The messages of pushes and their recipients' devices, one row per device (a single row with null recipient
/// columns for a message with nobody to push to), ordered by message. Recipient columns start at [`R`].
const MESSAGE_NOTICES: &str = "
SELECT m.room_id, m.seq, m.sender_id, su.display_name, m.kind, m.body, m.file ->> 'name', r.kind = 'group', r.name,
       (extract(epoch FROM m.created_at) * 1000)::bigint, m.revoked_at IS NOT NULL,
       x.user_id, x.notifications, x.nickname, x.notifications_off, x.hide_body, x.hide_sender, x.notify_from,
       x.notify_to, x.time_zone, x.device, x.provider, x.address, x.p256dh, x.auth
  FROM unnest($1::bigint[], $2::bigint[]) AS i(room_id, seq)
  JOIN messages m ON m.room_id = i.room_id AND m.seq = i.seq
  JOIN rooms r ON r.id = m.room_id JOIN users su ON su.id = m.sender_id
  LEFT JOIN LATERAL (
       SELECT rm.user_id, rm.notifications, rm.nickname,
              coalesce(s.notifications_off, false) AS notifications_off, coalesce(s.hide_body, false) AS hide_body,
              coalesce(s.hide_sender, false) AS hide_sender, s.notify_from, s.notify_to,
              coalesce(s.time_zone, '') AS time_zone, d.device, d.provider, d.address, d.p256dh, d.auth
         FROM room_members rm
         JOIN users u ON u.id = rm.user_id AND u.retired_at IS NULL
         JOIN push_devices d ON d.user_id = rm.user_id
         LEFT JOIN user_settings s ON s.user_id = rm.user_id
        WHERE rm.room_id = m.room_id AND rm.user_id <> m.sender_id AND rm.last_read_seq < m.seq) x ON true
 ORDER BY m.room_id, m.seq, x.user_id, x.device";

/// The first recipient column of [`MESSAGE_NOTICES`].
const R: usize = 11;

fn device_from(row: &Row, at: usize) -> Option<PushDevice> {
    let device = DeviceClass::parse(row.get::<_, &str>(at))?;
    let provider = match row.get::<_, &str>(at + 1) {
        "web_push" => PushProvider::WebPush,
        "fcm" => PushProvider::Fcm,
        _ => return None,
    };
    Some(PushDevice {
        device,
        provider,
        address: row.get(at + 2),
        p256dh: row.get(at + 3),
        auth: row.get(at + 4),
    })
}

impl Store {
    /// Stores where this device class of the user gets pushes, replacing what was there.
    pub async fn push_subscribe(
        &self,
        user_id: &str,
        device: DeviceClass,
        args: &PushSubscribeArgs,
    ) -> Result<(), NodeError> {
        let (address, p256dh, auth) = match args {
            PushSubscribeArgs::WebPush {
                endpoint,
                p256dh,
                auth,
            } => (endpoint.as_str(), p256dh.as_str(), auth.as_str()),
            PushSubscribeArgs::Fcm { token } => (token.as_str(), "", ""),
        };
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("push_subscribe");
        client
            .execute(
                "INSERT INTO push_devices (user_id, device, provider, address, p256dh, auth)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (user_id, device) DO UPDATE
                 SET provider = EXCLUDED.provider, address = EXCLUDED.address, p256dh = EXCLUDED.p256dh,
                     auth = EXCLUDED.auth, created_at = now()",
                &[
                    &user_id,
                    &device.as_str(),
                    &args.provider().as_str(),
                    &address,
                    &p256dh,
                    &auth,
                ],
            )
            .await?;
        Ok(())
    }

    /// Removes this device class's subscription; whether there was one.
    pub async fn push_unsubscribe(
        &self,
        user_id: &str,
        device: DeviceClass,
    ) -> Result<bool, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("push_unsubscribe");
        let n = client
            .execute(
                "DELETE FROM push_devices WHERE user_id = $1 AND device = $2",
                &[&user_id, &device.as_str()],
            )
            .await?;
        Ok(n > 0)
    }

    /// Removes a subscription the push service says is gone, unless a newer one replaced it meanwhile.
    pub async fn remove_dead_push_device(
        &self,
        user_id: &str,
        device: DeviceClass,
        address: &str,
    ) -> Result<bool, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("remove_dead_push_device");
        let n = client
            .execute(
                "DELETE FROM push_devices WHERE user_id = $1 AND device = $2 AND address = $3",
                &[&user_id, &device.as_str(), &address],
            )
            .await?;
        Ok(n > 0)
    }

    /// A user's subscribed devices.
    pub async fn push_devices(&self, user_id: &str) -> Result<Vec<PushDevice>, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("push_devices");
        let rows = client
            .query(
                "SELECT device, provider, address, p256dh, auth FROM push_devices WHERE user_id = $1 ORDER BY device",
                &[&user_id],
            )
            .await?;
        Ok(rows.iter().filter_map(|r| device_from(r, 0)).collect())
    }

    /// The message and the members to consider for a push: not the sender, not retired, not yet read past it,
    /// with at least one subscribed device. `None` when the message does not exist.
    pub async fn message_notice(
        &self,
        room_id: i64,
        seq: i64,
    ) -> Result<Option<MessageNotice>, NodeError> {
        Ok(self
            .message_notices(&[(room_id, seq)])
            .await?
            .remove(&(room_id, seq)))
    }

    /// [`Store::message_notice`] of several messages, by `(room_id, seq)`; a message that does not exist is
    /// absent. One prepared statement on one of the background connections: the worker looks up every message
    /// job of one stream read together, beside the sends it must not slow down.
    pub async fn message_notices(
        &self,
        messages: &[(i64, i64)],
    ) -> Result<HashMap<(i64, i64), MessageNotice>, NodeError> {
        let mut notices = HashMap::new();
        if messages.is_empty() {
            return Ok(notices);
        }
        let rooms: Vec<i64> = messages.iter().map(|m| m.0).collect();
        let seqs: Vec<i64> = messages.iter().map(|m| m.1).collect();
        let (_permit, client) = self.get_for_background().await?;
        let _query = crate::metrics::Timer::db("message_notice");
        let statement = client.prepare_cached(MESSAGE_NOTICES).await?;
        let rows = client.query(&statement, &[&rooms, &seqs]).await?;
        let mut current: Option<MessageNotice> = None;
        for row in &rows {
            let at: (i64, i64) = (row.get(0), row.get(1));
            if current.as_ref().is_none_or(|n| (n.room_id, n.seq) != at) {
                if let Some(done) = current.take() {
                    notices.insert((done.room_id, done.seq), done);
                }
                current = Some(MessageNotice {
                    room_id: at.0,
                    seq: at.1,
                    sender_id: row.get(2),
                    sender_name: row.get(3),
                    kind: MessageKind::parse(row.get::<_, &str>(4)).unwrap_or(MessageKind::Text),
                    body: row.get(5),
                    file_name: row.get(6),
                    group: row.get(7),
                    room_name: row.get(8),
                    sent_at_ms: row.get(9),
                    revoked: row.get(10),
                    recipients: Vec::new(),
                });
            }
            let Some(notice) = current.as_mut() else {
                continue;
            };
            let Some(user_id) = row.get::<_, Option<&str>>(R) else {
                continue; // the message row alone: nobody to push to
            };
            let recipients = &mut notice.recipients;
            if recipients.last().is_none_or(|r| r.user_id != user_id) {
                let window = match (
                    row.get::<_, Option<i16>>(R + 6),
                    row.get::<_, Option<i16>>(R + 7),
                ) {
                    (Some(from), Some(to)) => Some((from, to)),
                    _ => None,
                };
                recipients.push(Recipient {
                    user_id: user_id.to_owned(),
                    room_notifications: row.get(R + 1),
                    room_nickname: row.get(R + 2),
                    notifications_off: row.get(R + 3),
                    hide_body: row.get(R + 4),
                    hide_sender: row.get(R + 5),
                    notify_window: window,
                    time_zone: row.get(R + 8),
                    devices: Vec::new(),
                });
            }
            if let (Some(device), Some(last)) = (device_from(row, R + 9), recipients.last_mut()) {
                last.devices.push(device);
            }
        }
        if let Some(done) = current.take() {
            notices.insert((done.room_id, done.seq), done);
        }
        Ok(notices)
    }
}
