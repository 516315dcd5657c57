//! Account ops: settings, passkey reset (every session closed, every token revoked), logout of one device and
//! retirement.

use std::time::Duration;

use sendjay_common::bus::UserEvent;
use sendjay_common::close_code::CloseReason;
use sendjay_common::protocol::{
    DeviceClass, Push, Reply, ResetPasskeyArgs, SettingsPatch, UserArgs,
};

use super::fanout::Fanout;
use super::validate;
use crate::error::NodeError;
use crate::registry::Conn;
use crate::NodeContext;

/// A session that was authenticating while the passkey changed may subscribe just after the first close
/// event; a second one this much later closes it too (a connect takes milliseconds), well within a second.
const SECOND_CLOSE_AFTER: Duration = Duration::from_millis(400);

pub(super) async fn get_settings(ctx: &NodeContext, user: &str) -> Result<Reply, NodeError> {
    Ok(Reply::GetSettings {
        settings: ctx.store.settings(user).await?,
    })
}

pub(super) async fn set_settings(
    ctx: &NodeContext,
    user: &str,
    args: SettingsPatch,
) -> Result<Reply, NodeError> {
    let settings = ctx.store.set_settings(user, &args).await?;
    let mut fanout = Fanout::new();
    fanout.user_push(
        user,
        &Push::Settings {
            settings: settings.clone(),
        },
    );
    fanout.spawn(ctx);
    Ok(Reply::SetSettings { settings })
}

/// Closes every session of `user` on every node with `reason`, twice (see [`SECOND_CLOSE_AFTER`]).
fn close_everywhere(ctx: &NodeContext, user: &str, reason: CloseReason, text: &str) {
    let event = UserEvent::Close {
        device: None,
        keep_generation: None,
        code: reason.code(),
        reason: text.to_owned(),
    };
    let mut fanout = Fanout::new();
    fanout
        .user_event(user, event.clone())
        .sleep(SECOND_CLOSE_AFTER)
        .user_event(user, event);
    fanout.spawn(ctx);
}

pub(super) async fn reset_passkey(
    ctx: &NodeContext,
    user: &str,
    args: ResetPasskeyArgs,
) -> Result<Reply, NodeError> {
    let target = args.user_id.unwrap_or_else(|| user.to_owned());
    validate::user_id(&target, "user_id")?;
    ctx.store.reset_passkey(user, &target).await?;
    close_everywhere(
        ctx,
        &target,
        CloseReason::TokenRevoked,
        "authentication was reset: log in again",
    );
    Ok(Reply::ResetPasskey { user_id: target })
}

/// Ends this session only: the device's refresh tokens are revoked, the reply is written, then the connection
/// closes with 4010. A mobile logout also clears the mobile-installed flag (the app is signed out and can no
/// longer be reached).
pub(super) async fn logout(ctx: &NodeContext, conn: &Conn) -> Result<Reply, NodeError> {
    ctx.store
        .revoke_device_sign_in(&conn.user, conn.device, conn.device_id.as_deref())
        .await?;
    if conn.device == DeviceClass::Mobile {
        ctx.store.set_mobile_installed(&conn.user, false).await?;
    }
    conn.outbox
        .close(CloseReason::LoggedOut, "logged out on this device");
    Ok(Reply::Logout)
}

pub(super) async fn retire_user(
    ctx: &NodeContext,
    user: &str,
    args: UserArgs,
) -> Result<Reply, NodeError> {
    validate::user_id(&args.user_id, "user_id")?;
    let retired_at_ms = ctx.store.retire_user(user, &args.user_id).await?;
    close_everywhere(
        ctx,
        &args.user_id,
        CloseReason::UserUnavailable,
        "the account is retired",
    );
    Ok(Reply::RetireUser {
        user_id: args.user_id,
        retired_at_ms,
    })
}
