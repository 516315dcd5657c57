//! Turns one request frame into exactly one reply or error frame, and publishes what others must see.
//!
//! The ops live by topic in `handler/`: [`rooms`] (membership), [`messages`] (send, forward, revoke, history,
//! search, sync), [`reads`] (read state), [`people`] (directory, presence, typing), [`accounts`] (settings,
//! passkey reset, logout, retirement), [`keeping`] (clear chat, saved and pinned messages) and [`notifications`] (push subscriptions, foreground reports). Arguments are checked in [`validate`]; what other sessions must learn is
//! published in order by [`fanout`].

mod accounts;
mod channels;
mod fanout;
mod keeping;
mod messages;
mod notifications;
mod people;
mod reactions;
mod reads;
mod rooms;
mod validate;

use std::time::Instant;

use bytes::Bytes;
use sendjay_common::codec;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{Call, Reply, ServerFrame};

use crate::error::NodeError;
use crate::metrics as m;
use crate::registry::Conn;
use crate::NodeContext;

pub use reads::READ_PUSH_MAX_MEMBERS;

/// Handles one binary frame from `conn` and returns the encoded answer; `over_limit` (how long to wait) refuses
/// it with `rate_limited` without executing it.
pub async fn handle_frame(
    ctx: &NodeContext,
    conn: &Conn,
    frame: &[u8],
    over_limit: Option<std::time::Duration>,
) -> Bytes {
    let started = Instant::now();
    let request = match codec::decode_request(frame, ctx.config.max_frame_bytes) {
        Ok(request) => request,
        Err(e) => {
            metrics::counter!(m::REQUESTS, "op" => "invalid", "code" => e.code().as_str())
                .increment(1);
            metrics::counter!(m::ERRORS, "fault" => "client").increment(1);
            return encode(&ServerFrame::Error {
                id: e.request_id(),
                code: e.code(),
                message: e.to_string(),
            });
        }
    };
    let op = request.call.op();
    if let Some(wait) = over_limit {
        metrics::counter!(m::REQUESTS_RATE_LIMITED).increment(1);
        metrics::counter!(m::REQUESTS, "op" => op, "code" => ErrorCode::RateLimited.as_str())
            .increment(1);
        metrics::counter!(m::ERRORS, "fault" => "client").increment(1);
        let wait_ms = wait.as_millis().max(1);
        return encode(&ServerFrame::Error {
            id: Some(request.id),
            code: ErrorCode::RateLimited,
            message: format!(
                "more than {} requests per second (burst {}) on this connection: nothing was done; wait {wait_ms} ms, then send it again",
                ctx.config.requests_per_sec, ctx.config.request_burst
            ),
        });
    }
    // One span per request: logs of the request carry its id and op (never its arguments).
    let span = tracing::info_span!("request", id = request.id, op);
    let answer = tracing::Instrument::instrument(run(ctx, conn, request.call), span).await;
    metrics::histogram!(m::REQUEST_SECONDS, "op" => op).record(started.elapsed().as_secs_f64());
    let frame = match answer {
        Ok(result) => {
            metrics::counter!(m::REQUESTS, "op" => op, "code" => "ok").increment(1);
            crate::audit_trail::record(ctx, conn, &result);
            ServerFrame::Reply {
                id: request.id,
                result,
            }
        }
        Err(e) => {
            metrics::counter!(m::REQUESTS, "op" => op, "code" => e.code().as_str()).increment(1);
            metrics::counter!(m::ERRORS, "fault" => e.fault().as_str()).increment(1);
            if e.fault() != sendjay_common::error_code::Fault::Client {
                tracing::warn!(op, error = %e, fault = e.fault().as_str(), "request failed");
            }
            ServerFrame::Error {
                id: Some(request.id),
                code: e.code(),
                message: e.client_message(),
            }
        }
    };
    encode(&frame)
}

fn encode(frame: &ServerFrame) -> Bytes {
    match codec::encode_server_frame(frame) {
        Ok(bytes) => Bytes::from(bytes),
        // Our own frames always encode; answer with a fixed internal error if one ever does not.
        Err(_) => {
            Bytes::from_static(b"\x83\xa4kind\xa5error\xa4code\xa8internal\xa7message\xa8internal")
        }
    }
}

fn bad_args(message: impl Into<String>) -> NodeError {
    NodeError::client(ErrorCode::BadArgs, message)
}

fn page(limit: Option<u32>, default: u32, max: u32) -> Result<u32, NodeError> {
    match limit.unwrap_or(default) {
        0 => Err(bad_args("limit must be at least 1")),
        n if n > max => Err(bad_args(format!("limit must be at most {max}"))),
        n => Ok(n),
    }
}

/// Whether `call` checks by itself, inside its own statement, that the caller is not retired (the hot paths);
/// every other op except `ping` checks it first with one primary-key lookup.
fn checks_caller_itself(call: &Call) -> bool {
    matches!(
        call,
        Call::Ping | Call::Send(_) | Call::SendRich(_) | Call::MarkRead(_)
    )
}

async fn run(ctx: &NodeContext, conn: &Conn, call: Call) -> Result<Reply, NodeError> {
    let user = &*conn.user;
    // A retired user's sessions are closed when they are retired; this refuses whatever slips through (a
    // session opened while the close was in flight, or retired while Redis was unreachable).
    if !checks_caller_itself(&call) {
        ctx.store.caller(user).await?;
    }
    match call {
        Call::Ping => Ok(Reply::Ping {
            server_time_ms: crate::clock::now_ms(),
        }),
        Call::ListRooms => Ok(Reply::ListRooms {
            rooms: ctx.store.list_rooms(user).await?,
        }),
        Call::History(args) => messages::history(ctx, user, args).await,
        Call::Send(args) => messages::send_text(ctx, user, args).await,
        Call::SendRich(args) => messages::send_rich(ctx, user, args).await,
        Call::MarkRead(args) => reads::mark_read(ctx, conn, args).await,
        Call::Sync(args) => messages::sync(ctx, user, args).await,
        Call::OpenDirect(args) => rooms::open_direct(ctx, user, args).await,
        Call::CreateGroup(args) => rooms::create_group(ctx, user, args).await,
        Call::Invite(args) => rooms::invite(ctx, user, args).await,
        Call::Leave(args) => rooms::leave(ctx, user, args).await,
        Call::RemoveMember(args) => rooms::remove_member(ctx, user, args).await,
        Call::RenameRoom(args) => rooms::rename_room(ctx, user, args).await,
        Call::SetRoomOptions(args) => rooms::set_room_options(ctx, user, args).await,
        Call::SetRoomPrefs(args) => rooms::set_room_prefs(ctx, user, args).await,
        Call::RoomMembers(args) => rooms::room_members(ctx, user, args).await,
        Call::OpenRoom(args) => reads::open_room(ctx, conn, args).await,
        Call::UnreadCounts(args) => reads::unread_counts(ctx, user, args).await,
        Call::UnreadMembers(args) => reads::unread_members(ctx, user, args).await,
        Call::Forward(args) => messages::forward(ctx, user, args).await,
        Call::Revoke(args) => messages::revoke(ctx, user, args).await,
        Call::DeleteForMe(args) => messages::delete_for_me(ctx, user, args).await,
        Call::Search(args) => messages::search(ctx, user, args).await,
        Call::SearchAll(args) => messages::search_all(ctx, user, args).await,
        Call::CreateChannel(args) => channels::create_channel(ctx, user, args).await,
        Call::ListChannels(args) => channels::list_channels(ctx, user, args).await,
        Call::JoinChannel(args) => channels::join_channel(ctx, user, args).await,
        Call::OrgUnits(args) => people::org_units(ctx, args).await,
        Call::UnitMembers(args) => people::unit_members(ctx, args).await,
        Call::SearchUsers(args) => people::search_users(ctx, args).await,
        Call::GetUsers(args) => people::get_users(ctx, args).await,
        Call::UpdateProfile(args) => people::update_profile(ctx, user, args).await,
        Call::Presence(args) => people::presence(ctx, args).await,
        Call::WatchPresence(args) => people::watch_presence(ctx, conn, args).await,
        Call::SetMobileInstalled(args) => people::set_mobile_installed(ctx, conn, args).await,
        Call::Typing(args) => people::typing(ctx, user, args).await,
        Call::GetSettings => accounts::get_settings(ctx, user).await,
        Call::SetSettings(args) => accounts::set_settings(ctx, user, args).await,
        Call::ResetPasskey(args) => accounts::reset_passkey(ctx, user, args).await,
        Call::Logout => accounts::logout(ctx, conn).await,
        Call::RetireUser(args) => accounts::retire_user(ctx, user, args).await,
        Call::PushConfig => Ok(notifications::push_config(ctx)),
        Call::PushSubscribe(args) => notifications::push_subscribe(ctx, conn, args).await,
        Call::PushUnsubscribe => notifications::push_unsubscribe(ctx, conn).await,
        Call::SetForeground(args) => notifications::set_foreground(ctx, conn, args).await,
        Call::ClearRoom(args) => keeping::clear_room(ctx, conn, args).await,
        Call::SaveMessage(args) => keeping::save_message(ctx, user, args).await,
        Call::UnsaveMessage(args) => keeping::unsave_message(ctx, user, args).await,
        Call::ListSaved(args) => keeping::list_saved(ctx, user, args).await,
        Call::EditMessage(args) => messages::edit_message(ctx, user, args).await,
        Call::AddReaction(args) => reactions::react(ctx, user, args, true).await,
        Call::RemoveReaction(args) => reactions::react(ctx, user, args, false).await,
        Call::Reactors(args) => reactions::reactors(ctx, user, args).await,
        Call::PinMessage(args) => keeping::pin_message(ctx, user, args).await,
        Call::UnpinMessage(args) => keeping::unpin_message(ctx, user, args).await,
        Call::ListPins(args) => keeping::list_pins(ctx, user, args).await,
    }
}
