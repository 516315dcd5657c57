//! The user's settings and the mobile app's installed flag (docs/protocol.md §6.14).

#[allow(unused_imports)]
use super::*;
use serde::{Deserialize, Serialize};

/// Arguments of `set_settings`: absent keys keep their value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsPatch {
    /// No notifications at all.
    #[serde(default)]
    pub notifications_off: Option<bool>,
    /// Notifications without sound.
    #[serde(default)]
    pub sound_off: Option<bool>,
    /// Notifications without the message text.
    #[serde(default)]
    pub hide_body: Option<bool>,
    /// Notifications without the sender's name.
    #[serde(default)]
    pub hide_sender: Option<bool>,
    /// Notification hours start, `HH:MM` (24 h, in `time_zone`), or `""` for always; give with `notify_to`.
    #[serde(default)]
    pub notify_from: Option<String>,
    /// Notification hours end, `HH:MM`, or `""` for always; give with `notify_from`.
    #[serde(default)]
    pub notify_to: Option<String>,
    /// The user's time zone, an IANA name such as `Asia/Seoul`, or `""` for the device's own.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Web only: open the messenger in its own tab instead of embedded in the portal page.
    #[serde(default)]
    pub web_standalone: Option<bool>,
    /// Mobile: notifications without vibration.
    #[serde(default)]
    pub vibration_off: Option<bool>,
}

/// Arguments of `set_mobile_installed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetMobileInstalledArgs {
    /// Whether the mobile app is installed and signed in.
    pub installed: bool,
}

/// A user's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// No notifications at all.
    pub notifications_off: bool,
    /// Notifications without sound.
    pub sound_off: bool,
    /// Notifications without the message text.
    pub hide_body: bool,
    /// Notifications without the sender's name.
    pub hide_sender: bool,
    /// Notifications are delivered from `HH:MM` (in `time_zone`)…, or nil: always.
    pub notify_from: Option<String>,
    /// …until `HH:MM` (wrapping past midnight when earlier than `notify_from`; equal: the whole day), or nil.
    pub notify_to: Option<String>,
    /// The user's time zone (IANA name), or `""`: the device's own.
    pub time_zone: String,
    /// Web only: open the messenger in its own tab.
    pub web_standalone: bool,
    /// Mobile: notifications without vibration (the seed's 진동 끔). Absent from older nodes: false.
    #[serde(default)]
    pub vibration_off: bool,
}
