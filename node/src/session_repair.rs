//! Keeping the one-session-per-device-class rule exact when Redis loses its data.
//!
//! A Redis restarted without persistence, or a replica promoted before it had every write, has forgotten the
//! session records of sessions that are still connected. Until they are back, an automatic launch would not
//! see the running session and the dead-node sweep would not know whom a node held. So whenever the node's
//! Redis clients reconnect, the cluster topology changes, or the periodic refresh finds a record missing, the
//! node repairs every live local session: its record goes back (with the user in the node's user set), the
//! generation counter is raised to at least the session's generation, and a session that a newer login
//! superseded meanwhile is closed with 4005. Claims take generations from the Redis clock as well (see
//! [`crate::sessions`]), so a login that comes before the repair still outranks the older session.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fred::interfaces::EventInterface;
use sendjay_common::bus::UserEvent;
use sendjay_common::close_code::CloseReason;
use sendjay_common::codec;
use sendjay_common::keys::SessionRecord;
use sendjay_common::membership;
use sendjay_common::protocol::{Push, ServerFrame};
use tokio::sync::broadcast::error::RecvError;

use crate::metrics as m;
use crate::registry::Conn;
use crate::sessions::Repair;
use crate::NodeContext;

/// A second pass this long after the first catches a login that raced the first one while the subscriber
/// was still resubscribing (its eviction event may not have reached this node).
const SECOND_PASS: Duration = Duration::from_secs(1);

/// Tells a session it was replaced by a newer login and closes it with 4005.
pub fn evict(conn: &Conn, reason: &str) {
    metrics::counter!(m::EVICTIONS).increment(1);
    let push = ServerFrame::Push {
        push: Push::Evicted {
            reason: reason.to_owned(),
        },
    };
    if let Ok(bytes) = codec::encode_server_frame(&push) {
        conn.outbox.push(Bytes::from(bytes), usize::MAX);
    }
    conn.outbox.close(CloseReason::Evicted, reason.to_owned());
}

/// Repairs the session records after every Redis reconnect or topology change, until aborted.
pub async fn follow_redis(ctx: Arc<NodeContext>) {
    let commands = ctx.bus.commands();
    let mut reconnects = commands.reconnect_rx();
    let mut cluster_changes = commands.cluster_change_rx();
    loop {
        let reason = tokio::select! {
            received = reconnects.recv() => match received {
                Ok(_) | Err(RecvError::Lagged(_)) => "redis_reconnected",
                Err(RecvError::Closed) => break,
            },
            changed = cluster_changes.recv() => match changed {
                Ok(_) | Err(RecvError::Lagged(_)) => "redis_cluster_changed",
                Err(RecvError::Closed) => break,
            },
            () = ctx.bus.repair_requested() => "bus_reconnected",
        };
        repair_all(&ctx, reason).await;
        tokio::time::sleep(SECOND_PASS).await;
        repair_all(&ctx, reason).await;
    }
}

/// Repairs the records of every live local session.
pub async fn repair_all(ctx: &NodeContext, reason: &str) {
    let conns = ctx.registry.all_conns();
    repair_conns(ctx, &conns, reason).await;
}

/// Repairs the records of the live local sessions of `users` (the refresh found their records missing).
pub async fn repair_users(ctx: &NodeContext, users: &[Arc<str>]) {
    let conns: Vec<Arc<Conn>> = users
        .iter()
        .flat_map(|u| ctx.registry.conns_of(u))
        .collect();
    repair_conns(ctx, &conns, "session_record_missing").await;
}

async fn repair_conns(ctx: &NodeContext, conns: &[Arc<Conn>], reason: &str) {
    let redis = ctx.bus.commands();
    let (mut restored, mut superseded, mut failed) = (0u64, 0u64, 0u64);
    for conn in conns {
        let generation = conn.generation();
        // A session still claiming settles its own record.
        if generation == 0 {
            continue;
        }
        let record = SessionRecord {
            node: ctx.node_id.clone(),
            conn: conn.id,
            generation,
        };
        let outcome = ctx
            .sessions
            .repair(redis, &conn.user, conn.device, &record)
            .await;
        let reason_text = || format!("signed in again on another {} device", conn.device.as_str());
        match outcome {
            Ok(Repair::Held) => {}
            Ok(Repair::Superseded) => {
                superseded += 1;
                evict(conn, &reason_text());
            }
            Ok(outcome) => {
                restored += 1;
                if let Err(e) =
                    membership::add_user(redis, ctx.bus.keys(), &ctx.node_id, &conn.user).await
                {
                    tracing::warn!(error = %e, "could not restore the node's user set in Redis");
                }
                if outcome == Repair::RestoredOverOlder {
                    let event = UserEvent::Close {
                        device: Some(conn.device),
                        keep_generation: Some(generation),
                        code: CloseReason::Evicted.code(),
                        reason: reason_text(),
                    };
                    if let Err(e) = ctx.bus.publish_user(&conn.user, &event).await {
                        tracing::warn!(error = %e, "could not evict an older session after a repair");
                    }
                }
            }
            Err(e) => {
                failed += 1;
                tracing::debug!(error = %e, "could not repair a session record");
            }
        }
    }
    if restored + superseded + failed > 0 {
        metrics::counter!(m::SESSIONS_REPAIRED, "outcome" => "restored").increment(restored);
        metrics::counter!(m::SESSIONS_REPAIRED, "outcome" => "superseded").increment(superseded);
        tracing::warn!(
            reason,
            restored,
            superseded,
            failed,
            "repaired session records in Redis; failed ones are retried at the next reconnect or refresh"
        );
    }
}
