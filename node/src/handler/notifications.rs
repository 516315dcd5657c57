//! Notification ops: the push settings, subscribing a device class to pushes and leaving them, and the
//! foreground report that keeps pushes away while the user is looking.

use base64::Engine;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{PushProvider, PushSubscribeArgs, Reply, SetForegroundArgs};

use super::bad_args;
use crate::error::NodeError;
use crate::registry::Conn;
use crate::NodeContext;

/// Longest push endpoint URL or registration token accepted.
pub const MAX_PUSH_ADDRESS_BYTES: usize = 2048;

pub(super) fn push_config(ctx: &NodeContext) -> Reply {
    Reply::PushConfig {
        web_push_key: ctx.notifications.web_push_key().to_owned(),
        fcm: ctx.notifications.fcm.is_some(),
    }
}

fn decoded_len(text: &str) -> Option<usize> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()
        .map(|bytes| bytes.len())
}

/// Checks a subscription's shape: an http(s) endpoint, a 65-byte P-256 point, a 16-byte secret, a token.
fn validate(args: &PushSubscribeArgs) -> Result<(), NodeError> {
    match args {
        PushSubscribeArgs::WebPush {
            endpoint,
            p256dh,
            auth,
        } => {
            if endpoint.len() > MAX_PUSH_ADDRESS_BYTES
                || !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
                || reqwest::Url::parse(endpoint).is_err()
            {
                return Err(bad_args(format!(
                    "endpoint must be the push service's http(s) URL (at most {MAX_PUSH_ADDRESS_BYTES} bytes), as PushSubscription.toJSON() gives it"
                )));
            }
            let point = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p256dh.trim_end_matches('='))
                .ok();
            if point.as_ref().is_none_or(|p| p.len() != 65 || p[0] != 4) {
                return Err(bad_args(
                    "p256dh must be base64url of the browser's 65-byte uncompressed P-256 key (keys.p256dh)",
                ));
            }
            if decoded_len(auth) != Some(16) {
                return Err(bad_args(
                    "auth must be base64url of the browser's 16-byte secret (keys.auth)",
                ));
            }
        }
        PushSubscribeArgs::Fcm { token } => {
            if token.is_empty()
                || token.len() > MAX_PUSH_ADDRESS_BYTES
                || token.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(bad_args(format!(
                    "token must be the app's FCM registration token (1-{MAX_PUSH_ADDRESS_BYTES} bytes, no spaces)"
                )));
            }
        }
    }
    Ok(())
}

pub(super) async fn push_subscribe(
    ctx: &NodeContext,
    conn: &Conn,
    args: PushSubscribeArgs,
) -> Result<Reply, NodeError> {
    validate(&args)?;
    let provider = args.provider();
    let configured = match provider {
        PushProvider::WebPush => ctx.notifications.web_push.is_some(),
        PushProvider::Fcm => ctx.notifications.fcm.is_some(),
    };
    if !configured {
        return Err(NodeError::client(
            ErrorCode::Forbidden,
            format!(
                "this deployment does not send {} pushes (see push_config); nothing was stored",
                provider.as_str()
            ),
        ));
    }
    ctx.store
        .push_subscribe(&conn.user, conn.device, &args)
        .await?;
    Ok(Reply::PushSubscribe { provider })
}

pub(super) async fn push_unsubscribe(ctx: &NodeContext, conn: &Conn) -> Result<Reply, NodeError> {
    let removed = ctx.store.push_unsubscribe(&conn.user, conn.device).await?;
    Ok(Reply::PushUnsubscribe { removed })
}

pub(super) async fn set_foreground(
    ctx: &NodeContext,
    conn: &Conn,
    args: SetForegroundArgs,
) -> Result<Reply, NodeError> {
    ctx.notifications
        .attention
        .set_foreground(
            ctx.bus.commands(),
            &conn.user,
            conn.device,
            conn.generation(),
            args.foreground,
        )
        .await?;
    Ok(Reply::SetForeground {
        foreground: args.foreground,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web(endpoint: &str, p256dh: &str, auth: &str) -> PushSubscribeArgs {
        PushSubscribeArgs::WebPush {
            endpoint: endpoint.into(),
            p256dh: p256dh.into(),
            auth: auth.into(),
        }
    }

    #[test]
    fn subscriptions_are_checked_before_they_are_stored() {
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let mut point = vec![4u8];
        point.extend([7u8; 64]);
        let (key, secret) = (b64(&point), b64(&[1u8; 16]));
        assert!(validate(&web("https://push.example/x", &key, &secret)).is_ok());
        assert!(validate(&web("ftp://push.example/x", &key, &secret)).is_err());
        assert!(validate(&web("https://push.example/x", &b64(&[4u8; 33]), &secret)).is_err());
        assert!(validate(&web("https://push.example/x", &key, &b64(&[1u8; 8]))).is_err());
        assert!(validate(&PushSubscribeArgs::Fcm {
            token: "abc:DEF_1".into()
        })
        .is_ok());
        assert!(validate(&PushSubscribeArgs::Fcm {
            token: "a b".into()
        })
        .is_err());
        assert!(validate(&PushSubscribeArgs::Fcm {
            token: String::new()
        })
        .is_err());
    }
}
