//! Ends a user's live WebSocket sessions from the router, the way a node's passkey reset does: a `Close` event on
//! the user's Redis channel, which every node holding one of the user's sessions applies.
//!
//! Sent twice, 400 ms apart: a session that was authenticating with the old passkey while the first event went
//! out subscribes to the channel only after it, and the second one closes it too (the node's rule, see
//! node/src/handler/accounts.rs).

use std::time::Duration;

use fred::prelude::*;
use sendjay_common::bus::UserEvent;
use sendjay_common::close_code::CloseReason;
use sendjay_common::keys::KeySchema;

/// The pause before the second close event.
const SECOND_CLOSE_AFTER: Duration = Duration::from_millis(400);

/// Closes every session of `user` on every node with 4003 and `reason`; returns at once (the second event is
/// sent in the background). A Redis failure is logged: the sessions' tokens are revoked anyway and fail at
/// the next connect.
pub fn close_everywhere(redis: &Client, keys: &KeySchema, cluster: bool, user: &str, reason: &str) {
    let event = UserEvent::Close {
        device: None,
        keep_generation: None,
        code: CloseReason::TokenRevoked.code(),
        reason: reason.to_owned(),
    };
    let Ok(bytes) = sendjay_common::codec::encode(&event) else {
        tracing::error!("could not encode a close event; this is a bug");
        return;
    };
    let channel = keys.user_channel(user);
    let redis = redis.clone();
    tokio::spawn(async move {
        for round in 0..2 {
            if round == 1 {
                tokio::time::sleep(SECOND_CLOSE_AFTER).await;
            }
            let payload = Value::Bytes(bytes.clone().into());
            let sent: Result<i64, _> = if cluster {
                redis.spublish(channel.clone(), payload).await
            } else {
                redis.publish(channel.clone(), payload).await
            };
            if let Err(e) = sent {
                tracing::warn!(error = %e, "could not tell the nodes to close a user's sessions (Redis); the tokens are revoked and fail at the next connect");
            }
        }
    });
}
