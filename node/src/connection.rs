//! The life of one WebSocket, top to bottom: authenticate, claim the session, register locally and subscribe,
//! then loop on the next frame, the outbox, the heartbeat or the shutdown signal; finally clean up.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use rand::Rng;
use sendjay_common::bus::UserEvent;
use sendjay_common::close_code::CloseReason;
use sendjay_common::codec;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::keys::SessionRecord;
use sendjay_common::membership;
use sendjay_common::protocol::{Push, ServerFrame};
use tokio::sync::watch;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use crate::admission::Pending;
use crate::auth;
use crate::handler::handle_frame;
use crate::metrics as m;
use crate::outbox::Outbox;
use crate::registry::Conn;
use crate::request_budget::RequestBudget;
use crate::sessions::{Claim, Launch};
use crate::text_frames::{TextAsBinary, TEXT_MARKER};
use crate::NodeContext;

/// The socket type of an upgraded connection.
pub type Socket = WebSocketStream<TextAsBinary<TokioIo<Upgraded>>>;

/// How long one write may take before the client counts as a slow consumer.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the upgrade request carried.
#[derive(Debug)]
pub struct ConnectParams {
    /// The JWT (Authorization header, `sendjay.token.` subprotocol or the deprecated `?token=`).
    pub token: Option<String>,
    /// Manual or automatic launch.
    pub launch: Launch,
    /// The connection's place among the not-yet-authenticated ones, given back once it is.
    pub pending: Arc<Pending>,
    /// When the handshake (request head, upgrade, authentication) must be done.
    pub deadline: Instant,
    /// The client's address (the proxy's, behind one); recorded in the audit log.
    pub peer: std::net::IpAddr,
}

async fn close(ws: &mut Socket, reason: CloseReason, text: &str) {
    metrics::counter!(m::CONNECTIONS_CLOSED, "reason" => reason.as_str()).increment(1);
    // Close reasons are limited to 123 bytes by the protocol.
    let mut text = format!("{}: {text}", reason.as_str());
    while text.len() > 123 {
        text.pop();
    }
    let frame = CloseFrame {
        code: CloseCode::from(reason.code()),
        reason: text.into(),
    };
    let _ = timeout(Duration::from_secs(2), ws.close(Some(frame))).await;
}

/// The `bad_frame` answer to a text frame (the connection stays open).
fn text_frame_refusal() -> Bytes {
    let answer = ServerFrame::Error {
        id: None,
        code: ErrorCode::BadFrame,
        message: "text frames (and frames starting with byte 0xc1) are not part of the protocol: send MessagePack in binary frames".into(),
    };
    Bytes::from(codec::encode_server_frame(&answer).unwrap_or_default())
}

fn push_frame(push: Push) -> Bytes {
    Bytes::from(codec::encode_server_frame(&ServerFrame::Push { push }).unwrap_or_default())
}

/// Serves one upgraded WebSocket until it ends.
///
/// Only what an idle session needs stays in this future across the connection's life: the socket, the
/// connection handle and the session record. Opening, closing and every request run in boxed futures, so
/// their (much larger) state is allocated only while they run — an idle connection stays small.
pub async fn serve(
    mut ws: Socket,
    ctx: Arc<NodeContext>,
    params: ConnectParams,
    mut shutdown: watch::Receiver<bool>,
) {
    let Some((conn, record)) = Box::pin(open(&mut ws, &ctx, params)).await else {
        return;
    };
    let device = conn.device.as_str();
    metrics::counter!(m::CONNECTIONS_ACCEPTED, "device" => device).increment(1);
    metrics::gauge!(m::CONNECTIONS, "device" => device).increment(1.0);
    tracing::debug!(generation = record.generation, "session started");
    let end = run(&mut ws, &ctx, &conn, &mut shutdown).await;
    metrics::gauge!(m::CONNECTIONS, "device" => device).decrement(1.0);
    let close_reason = end.as_ref().map_or("client", |(reason, _)| reason.as_str());
    tracing::debug!(close = close_reason, "session ended");
    Box::pin(finish(&ctx, &conn, Some(&record))).await;
    if let Some((reason, text)) = end {
        Box::pin(close(&mut ws, reason, &text)).await;
    } else {
        metrics::counter!(m::CONNECTIONS_CLOSED, "reason" => "client").increment(1);
    }
}

/// Authenticates, registers and claims the session; on refusal closes the socket and returns `None`.
async fn open(
    ws: &mut Socket,
    ctx: &Arc<NodeContext>,
    params: ConnectParams,
) -> Option<(Arc<Conn>, SessionRecord)> {
    let authenticating =
        auth::authenticate_session(&ctx.tokens, &ctx.store, params.token.as_deref());
    let (claims, rooms) = match tokio::time::timeout_at(params.deadline, authenticating).await {
        Ok(Ok(found)) => found,
        Ok(Err((reason, text))) => {
            close(ws, reason, &text).await;
            return None;
        }
        Err(_) => {
            metrics::counter!(m::CONNECTIONS_CLOSED, "reason" => "handshake_timeout").increment(1);
            close(
                ws,
                CloseReason::Internal,
                "could not authenticate before the handshake deadline: reconnect later",
            )
            .await;
            return None;
        }
    };
    // Authenticated: this connection no longer counts against the caps of unauthenticated ones.
    params.pending.release();
    drop(params.pending);
    if ctx.config.enforce_assignment && !ctx.ring.accepts(&claims.sub) {
        let owner = ctx.ring.owner(&claims.sub).unwrap_or_default();
        close(
            ws,
            CloseReason::WrongNode,
            &format!("assigned to {owner}; ask the router"),
        )
        .await;
        return None;
    }
    let conn = Arc::new(Conn {
        id: ctx.next_conn_id.fetch_add(1, Ordering::Relaxed),
        user: Arc::from(claims.sub.as_str()),
        device: claims.dev,
        device_id: claims.did.map(String::into_boxed_str),
        peer: params.peer,
        generation: AtomicU64::new(0),
        outbox: Outbox::default(),
    });
    tracing::Span::current()
        .record("conn", conn.id)
        .record("user", &*conn.user)
        .record("device", conn.device.as_str());
    // Register locally and subscribe before claiming, so an eviction published by a racing login reaches us.
    let change = ctx.registry.add(conn.clone(), &rooms);
    match start_session(ctx, &conn, &change.rooms, change.user, params.launch).await {
        Ok(record) => {
            announce_presence(ctx, &conn.user).await;
            Some((conn, record))
        }
        Err((reason, text)) => {
            finish(ctx, &conn, None).await;
            close(ws, reason, &text).await;
            None
        }
    }
}

/// Subscribes and claims the user's device class; on success returns the record this session holds.
async fn start_session(
    ctx: &NodeContext,
    conn: &Conn,
    new_rooms: &[i64],
    new_user: bool,
    launch: Launch,
) -> Result<SessionRecord, auth::Refusal> {
    let unavailable = |e: crate::error::NodeError| {
        tracing::warn!(error = %e, fault = e.fault().as_str(), "could not start a session");
        (
            CloseReason::Internal,
            "cluster state unavailable: reconnect later".to_owned(),
        )
    };
    ctx.bus
        .acquire(new_rooms, new_user.then_some(&*conn.user))
        .await
        .map_err(unavailable)?;
    let redis = ctx.bus.commands();
    let claim = ctx
        .sessions
        .claim(
            redis,
            &conn.user,
            conn.device,
            &ctx.node_id,
            conn.id,
            launch,
        )
        .await;
    let generation = match claim.map_err(unavailable)? {
        Claim::Won { generation, .. } => generation,
        Claim::Running(record) if ctx.node_alive(&record.node).await => {
            return Err((
                CloseReason::AlreadyRunning,
                format!(
                    "a {} session is already running; an automatic launch does not replace it",
                    conn.device.as_str()
                ),
            ));
        }
        // The running session's node is dead: its record is stale, so take over as a manual launch would.
        Claim::Running(_) => {
            match ctx
                .sessions
                .claim(
                    redis,
                    &conn.user,
                    conn.device,
                    &ctx.node_id,
                    conn.id,
                    Launch::Manual,
                )
                .await
            {
                Ok(Claim::Won { generation, .. }) => generation,
                Ok(Claim::Running(_)) => {
                    return Err((
                        CloseReason::Internal,
                        "session claim failed: reconnect".into(),
                    ))
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
    };
    conn.generation.store(generation, Ordering::Release);
    membership::add_user(redis, ctx.bus.keys(), &ctx.node_id, &conn.user)
        .await
        .map_err(|e| unavailable(e.into()))?;
    let record = SessionRecord {
        node: ctx.node_id.clone(),
        conn: conn.id,
        generation,
    };
    let event = UserEvent::Close {
        device: Some(conn.device),
        keep_generation: Some(generation),
        code: CloseReason::Evicted.code(),
        reason: format!("signed in again on another {} device", conn.device.as_str()),
    };
    ctx.bus
        .publish_user(&conn.user, &event)
        .await
        .map_err(unavailable)?;
    // A newer claim may have won while we registered: then we are the one to leave.
    match ctx
        .sessions
        .current(redis, &conn.user, conn.device)
        .await
        .map_err(unavailable)?
    {
        Some(current) if current.generation > generation => Err((
            CloseReason::Evicted,
            format!("signed in again on another {} device", conn.device.as_str()),
        )),
        _ => Ok(record),
    }
}

/// Unregisters locally, releases channels and the session record.
async fn finish(ctx: &NodeContext, conn: &Conn, record: Option<&SessionRecord>) {
    let change = ctx.registry.remove(conn);
    if let Err(e) = ctx
        .bus
        .release(&change.rooms, change.user.then_some(&*conn.user))
        .await
    {
        tracing::debug!(error = %e, "could not unsubscribe after a disconnect");
    }
    if let Err(e) = ctx.bus.release_presence(&change.presence).await {
        tracing::debug!(error = %e, "could not leave presence channels after a disconnect");
    }
    if let Some(record) = record {
        match ctx
            .sessions
            .release(ctx.bus.commands(), &conn.user, conn.device, record)
            .await
        {
            Ok(true) => announce_presence(ctx, &conn.user).await,
            // A newer session holds the device class (an eviction): presence did not change.
            Ok(false) => {}
            Err(e) => {
                tracing::debug!(error = %e, "could not release a session record; it will expire")
            }
        }
    }
}

/// Pushes `user`'s connected device classes to whoever watches them (best effort: a watcher that misses it
/// sees the change at its next `watch_presence`, e.g. after a reconnect).
async fn announce_presence(ctx: &NodeContext, user: &str) {
    if let Err(e) = ctx
        .sessions
        .announce_presence(ctx.bus.commands(), user, ctx.bus.sharded())
        .await
    {
        tracing::debug!(error = %e, "could not publish a presence change");
    }
}

/// The connection loop; returns how to close, or `None` when the client went away.
async fn run(
    ws: &mut Socket,
    ctx: &NodeContext,
    conn: &Conn,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<(CloseReason, String)> {
    let mut last_heard = Instant::now();
    let (per_sec, burst) = (ctx.config.requests_per_sec, ctx.config.request_burst);
    let mut budget = RequestBudget::new(burst, last_heard);
    let mut drain_deadline: Option<Instant> = None;
    let mut heartbeat = tokio::time::interval(ctx.config.heartbeat_interval());
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.reset();
    loop {
        tokio::select! {
            biased;
            _ = conn.outbox.ready() => {
                let drained = conn.outbox.drain();
                let pushes = drained.frames.len() as u64;
                for frame in drained.frames {
                    if !write(ws, Message::Binary(frame), false).await {
                        return Some((CloseReason::SlowConsumer, "socket write timed out".into()));
                    }
                }
                if !write_flush(ws).await {
                    return Some((CloseReason::SlowConsumer, "socket write timed out".into()));
                }
                metrics::counter!(m::PUSHES_WRITTEN).increment(pushes);
                if let Some(close) = drained.close {
                    return Some(close);
                }
            }
            incoming = ws.next() => {
                last_heard = Instant::now();
                match incoming {
                    Some(Ok(Message::Binary(frame))) if frame.first() == Some(&TEXT_MARKER) => {
                        if !write(ws, Message::Binary(text_frame_refusal()), true).await {
                            return None;
                        }
                    }
                    Some(Ok(Message::Binary(frame))) => {
                        let over_limit = budget.take(per_sec, burst, last_heard).err();
                        let answer = Box::pin(handle_frame(ctx, conn, &frame, over_limit)).await;
                        if !write(ws, Message::Binary(answer), true).await {
                            return Some((CloseReason::SlowConsumer, "reply write timed out".into()));
                        }
                    }
                    Some(Ok(Message::Text(_))) => {
                        // Not reached: text frames arrive as marked binary frames (see `text_frames`).
                        if !write(ws, Message::Binary(text_frame_refusal()), true).await {
                            return None;
                        }
                    }
                    Some(Ok(Message::Close(_))) => {
                        // tungstenite queued the echo of the client's close; send it.
                        let _ = write_flush(ws).await;
                        return None;
                    }
                    None => return None,
                    Some(Ok(_)) => {} // ping (answered by tungstenite), pong
                    Some(Err(WsError::Capacity(e))) => {
                        return Some((CloseReason::FrameTooLarge, format!("{e}")));
                    }
                    Some(Err(WsError::Protocol(e))) => {
                        return Some((CloseReason::ProtocolError, format!("{e}")));
                    }
                    Some(Err(_)) => return None,
                }
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > ctx.config.heartbeat_timeout() {
                    return Some((CloseReason::HeartbeatTimeout, "no frame or pong within the heartbeat timeout".into()));
                }
                if !write(ws, Message::Ping(Bytes::new()), true).await {
                    return None;
                }
            }
            _ = shutdown.changed(), if drain_deadline.is_none() => {
                // Ask the client to move within the first half of the grace period (jittered, so the
                // survivors see no reconnect storm); close whoever is still here when the grace period ends.
                let grace = ctx.config.drain_grace();
                let after_ms = rand::rng().random_range(0..=grace.as_millis() as u64 / 2);
                let push = push_frame(Push::Reconnect { after_ms, reason: "node draining".into() });
                if !write(ws, Message::Binary(push), true).await {
                    return None;
                }
                drain_deadline = Some(Instant::now() + grace);
            }
            _ = tokio::time::sleep_until(drain_deadline.unwrap_or_else(Instant::now)), if drain_deadline.is_some() => {
                return Some((CloseReason::NodeDraining, "node draining: reconnect through the router".into()));
            }
        }
    }
}

async fn write(ws: &mut Socket, message: Message, flush: bool) -> bool {
    let result = if flush {
        timeout(WRITE_TIMEOUT, ws.send(message)).await
    } else {
        timeout(WRITE_TIMEOUT, ws.feed(message)).await
    };
    matches!(result, Ok(Ok(())))
}

async fn write_flush(ws: &mut Socket) -> bool {
    matches!(timeout(WRITE_TIMEOUT, ws.flush()).await, Ok(Ok(())))
}
