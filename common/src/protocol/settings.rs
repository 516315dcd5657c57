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
    /// Quiet hours start, `HH:MM` (24 h, the user's local time), or `""` to clear; give with `quiet_to`.
    #[serde(default)]
    pub quiet_from: Option<String>,
    /// Quiet hours end, `HH:MM`, or `""` to clear; give with `quiet_from`.
    #[serde(default)]
    pub quiet_to: Option<String>,
    /// Web only: open the messenger in its own tab instead of embedded in the portal page.
    #[serde(default)]
    pub web_standalone: Option<bool>,
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
    /// Quiet hours start, `HH:MM`, or nil.
    pub quiet_from: Option<String>,
    /// Quiet hours end, `HH:MM`, or nil.
    pub quiet_to: Option<String>,
    /// Web only: open the messenger in its own tab.
    pub web_standalone: bool,
}
