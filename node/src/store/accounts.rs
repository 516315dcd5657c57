//! Accounts: passkey resets (revoking every token), retirement, the mobile-installed flag, and user settings.

use sendjay_common::protocol::{Settings, SettingsPatch};
use tokio_postgres::Row;

use super::{active_caller, bad_args, forbidden, not_found, Store};
use crate::error::NodeError;

/// Minutes after midnight of an `HH:MM` time (24 h), or `None` when malformed.
pub fn parse_hhmm(text: &str) -> Option<i16> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (i16, i16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

fn hhmm(minutes: Option<i16>) -> Option<String> {
    minutes.map(|m| format!("{:02}:{:02}", m / 60, m % 60))
}

fn settings_from(row: &Row) -> Settings {
    Settings {
        notifications_off: row.get(0),
        sound_off: row.get(1),
        hide_body: row.get(2),
        hide_sender: row.get(3),
        notify_from: hhmm(row.get(4)),
        notify_to: hhmm(row.get(5)),
        web_standalone: row.get(6),
        time_zone: row.get(7),
        vibration_off: row.get(8),
    }
}

const SETTINGS_COLUMNS: &str =
    "notifications_off, sound_off, hide_body, hide_sender, notify_from, notify_to, web_standalone, time_zone,
     vibration_off";

/// Whether `zone` looks like an IANA time zone name (`Asia/Seoul`, `America/Argentina/Buenos_Aires`, `UTC`,
/// `Etc/GMT+9`) or is `""`. Nodes do not carry the zone database: a well-formed but unknown name is stored, and
/// the device falls back to its own zone (docs/protocol.md §6.14).
pub fn time_zone_shaped(zone: &str) -> bool {
    zone.is_empty()
        || (zone.len() <= 64
            && zone.split('/').all(|part| {
                part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
            }))
}

impl Store {
    /// Gives `target` a new passkey, revoking every token issued before. Only the user themselves or an admin.
    pub async fn reset_passkey(&self, user_id: &str, target: &str) -> Result<(), NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("reset_passkey");
        let caller = active_caller(&**client, user_id).await?;
        if target != user_id && !caller.is_admin() {
            return Err(forbidden(
                "only admins may reset another user's authentication",
            ));
        }
        let changed = client
            .execute(
                "UPDATE users SET passkey = $2, updated_at = now() WHERE id = $1",
                &[&target, &sendjay_common::ids::new_passkey()],
            )
            .await?;
        if changed == 0 {
            return Err(not_found(format!("user {target} does not exist")));
        }
        Ok(())
    }

    /// Appends an audit entry (docs/operations.md, "Audit log").
    pub async fn write_audit(
        &self,
        entry: &sendjay_common::audit::AuditEntry,
    ) -> Result<(), NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("write_audit");
        entry.write(&**client).await?;
        Ok(())
    }

    /// Ends the sign-in of the device a session belongs to (its refresh tokens; see router/src/refresh_tokens.rs):
    /// the installation named by the token, or every installation of the device class for tokens without one.
    pub async fn revoke_device_sign_in(
        &self,
        user_id: &str,
        device: sendjay_common::protocol::DeviceClass,
        device_id: Option<&str>,
    ) -> Result<u64, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("revoke_device_sign_in");
        Ok(client
            .execute(
                "UPDATE refresh_tokens SET revoked_at = now(), revoked_reason = 'logout'
                  WHERE user_id = $1 AND device = $2 AND ($3::text IS NULL OR device_id = $3)
                    AND revoked_at IS NULL",
                &[&user_id, &device.as_str(), &device_id],
            )
            .await?)
    }

    /// Retires `target` now (admins only); returns the retirement time in Unix ms (the earlier one when the user
    /// was already retired). History is kept.
    pub async fn retire_user(&self, user_id: &str, target: &str) -> Result<i64, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("retire_user");
        let caller = active_caller(&**client, user_id).await?;
        if !caller.is_admin() {
            return Err(forbidden("only admins may retire users"));
        }
        if target == user_id {
            return Err(bad_args("admins cannot retire themselves"));
        }
        let row = client
            .query_opt(
                "UPDATE users SET retired_at = CASE WHEN retired_at IS NOT NULL AND retired_at <= now()
                                                    THEN retired_at ELSE now() END,
                                  mobile_installed = false, updated_at = now()
                  WHERE id = $1
                  RETURNING (extract(epoch FROM retired_at) * 1000)::bigint",
                &[&target],
            )
            .await?
            .ok_or_else(|| not_found(format!("user {target} does not exist")))?;
        Ok(row.get(0))
    }

    /// Records whether the user's mobile app is installed and signed in.
    pub async fn set_mobile_installed(
        &self,
        user_id: &str,
        installed: bool,
    ) -> Result<(), NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("set_mobile_installed");
        active_caller(&**client, user_id).await?;
        client
            .execute(
                "UPDATE users SET mobile_installed = $2 WHERE id = $1",
                &[&user_id, &installed],
            )
            .await?;
        Ok(())
    }

    /// The user's settings (defaults when never set).
    pub async fn settings(&self, user_id: &str) -> Result<Settings, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("settings");
        let row = client
            .query_opt(
                &format!("SELECT {SETTINGS_COLUMNS} FROM user_settings WHERE user_id = $1"),
                &[&user_id],
            )
            .await?;
        Ok(row.as_ref().map(settings_from).unwrap_or_default())
    }

    /// Applies a validated patch to the user's settings and returns them.
    pub async fn set_settings(
        &self,
        user_id: &str,
        patch: &SettingsPatch,
    ) -> Result<Settings, NodeError> {
        if let Some(zone) = patch.time_zone.as_deref().filter(|z| !time_zone_shaped(z)) {
            return Err(bad_args(format!(
                "time_zone {zone:?} is no IANA time zone name: give one such as \"Asia/Seoul\", or \"\" for the device's own"
            )));
        }
        let window =
            match (patch.notify_from.as_deref(), patch.notify_to.as_deref()) {
                (None, None) => None,
                (Some(""), Some("")) => Some((None, None)),
                (Some(from), Some(to)) => match (parse_hhmm(from), parse_hhmm(to)) {
                    (Some(f), Some(t)) => Some((Some(f), Some(t))),
                    _ => {
                        return Err(bad_args(
                            "notify_from and notify_to must be HH:MM (00:00 to 23:59)",
                        ))
                    }
                },
                _ => return Err(bad_args(
                    "notify_from and notify_to go together: both HH:MM, or both \"\" for always",
                )),
            };
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("set_settings");
        active_caller(&**client, user_id).await?;
        let (set_window, from, to) = match window {
            Some((f, t)) => (true, f, t),
            None => (false, None, None),
        };
        let row = client
            .query_one(
                &format!(
                    "INSERT INTO user_settings AS s (user_id, notifications_off, sound_off, hide_body, hide_sender,
                                                     notify_from, notify_to, web_standalone, time_zone,
                                                     vibration_off)
                     VALUES ($1, coalesce($2, false), coalesce($3, false), coalesce($4, false), coalesce($5, false),
                             $7, $8, coalesce($9, false), coalesce($10, ''), coalesce($11, false))
                     ON CONFLICT (user_id) DO UPDATE SET
                        notifications_off = coalesce($2, s.notifications_off),
                        sound_off = coalesce($3, s.sound_off),
                        hide_body = coalesce($4, s.hide_body),
                        hide_sender = coalesce($5, s.hide_sender),
                        notify_from = CASE WHEN $6 THEN $7 ELSE s.notify_from END,
                        notify_to = CASE WHEN $6 THEN $8 ELSE s.notify_to END,
                        web_standalone = coalesce($9, s.web_standalone),
                        time_zone = coalesce($10, s.time_zone),
                        vibration_off = coalesce($11, s.vibration_off),
                        updated_at = now()
                     RETURNING {SETTINGS_COLUMNS}"
                ),
                &[
                    &user_id,
                    &patch.notifications_off,
                    &patch.sound_off,
                    &patch.hide_body,
                    &patch.hide_sender,
                    &set_window,
                    &from,
                    &to,
                    &patch.web_standalone,
                    &patch.time_zone,
                    &patch.vibration_off,
                ],
            )
            .await?;
        Ok(settings_from(&row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_are_checked_for_shape() {
        for good in [
            "",
            "UTC",
            "Asia/Seoul",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+9",
            "America/Port-au-Prince",
        ] {
            assert!(time_zone_shaped(good), "{good}");
        }
        for bad in [
            "Asia/",
            "/Seoul",
            "Asia Seoul",
            "../etc",
            "+09:00",
            &"A".repeat(65),
        ] {
            assert!(!time_zone_shaped(bad), "{bad}");
        }
    }

    #[test]
    fn notification_hours_parse_strictly() {
        assert_eq!(parse_hhmm("00:00"), Some(0));
        assert_eq!(parse_hhmm("23:59"), Some(1439));
        assert_eq!(parse_hhmm("07:05"), Some(425));
        for bad in [
            "24:00", "7:05", "07:60", "0705", "ab:cd", "07:5", "", "+7:05",
        ] {
            assert_eq!(parse_hhmm(bad), None, "{bad}");
        }
        assert_eq!(hhmm(Some(425)).as_deref(), Some("07:05"));
    }
}
