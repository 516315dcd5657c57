//! Turns one request frame into exactly one reply or error frame, and publishes what others must see.

use std::time::Instant;

use bytes::Bytes;
use sendjay_common::codec;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::ids;
use sendjay_common::protocol::{
    Call, Push, Reply, ServerFrame, DEFAULT_HISTORY_PAGE, DEFAULT_SYNC_PAGE, MAX_HISTORY_PAGE,
    MAX_SYNC_PAGE, MAX_TEXT_BYTES,
};

use crate::error::NodeError;
use crate::metrics as m;
use crate::registry::Conn;
use crate::stats::NodeStats;
use crate::NodeContext;

/// Handles one binary frame from `conn` and returns the encoded answer.
pub async fn handle_frame(ctx: &NodeContext, conn: &Conn, frame: &[u8]) -> Bytes {
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
    // One span per request: logs of the request carry its id and op (never its arguments).
    let span = tracing::info_span!("request", id = request.id, op);
    let answer = tracing::Instrument::instrument(run(ctx, conn, request.call), span).await;
    metrics::histogram!(m::REQUEST_SECONDS, "op" => op).record(started.elapsed().as_secs_f64());
    let frame = match answer {
        Ok(result) => {
            metrics::counter!(m::REQUESTS, "op" => op, "code" => "ok").increment(1);
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

async fn run(ctx: &NodeContext, conn: &Conn, call: Call) -> Result<Reply, NodeError> {
    let user = &*conn.user;
    match call {
        Call::Ping => Ok(Reply::Ping {
            server_time_ms: now_ms(),
        }),
        Call::ListRooms => Ok(Reply::ListRooms {
            rooms: ctx.store.list_rooms(user).await?,
        }),
        Call::History(args) => {
            let limit = page(args.limit, DEFAULT_HISTORY_PAGE, MAX_HISTORY_PAGE)?;
            let (messages, has_more) = ctx
                .store
                .history(user, args.room_id, args.before_seq, limit)
                .await?;
            Ok(Reply::History {
                room_id: args.room_id,
                messages,
                has_more,
            })
        }
        Call::Send(args) => {
            metrics::counter!(m::MESSAGES_RECEIVED).increment(1);
            ids::validate_client_msg_id(&args.client_msg_id)
                .map_err(|e| bad_args(e.to_string()))?;
            if args.body.trim().is_empty() {
                return Err(bad_args("body must not be empty"));
            }
            if args.body.contains('\0') {
                return Err(bad_args("body must not contain NUL characters"));
            }
            if args.body.len() > MAX_TEXT_BYTES {
                return Err(bad_args(format!(
                    "body is {} bytes; the limit is {MAX_TEXT_BYTES}",
                    args.body.len()
                )));
            }
            let (message, duplicate) = ctx
                .store
                .send(user, args.room_id, &args.client_msg_id, &args.body)
                .await?;
            if !duplicate {
                NodeStats::add(&ctx.stats.messages_persisted, 1);
                metrics::counter!(m::MESSAGES_PERSISTED).increment(1);
            }
            // Published after commit; also for a duplicate, in case the first attempt's publish was lost.
            ctx.publish_room(
                message.room_id,
                Push::Message {
                    message: message.clone(),
                },
            );
            Ok(Reply::Send { message, duplicate })
        }
        Call::MarkRead(args) => {
            let (last_read_seq, unread) = ctx.store.mark_read(user, args.room_id, args.seq).await?;
            ctx.publish_room(
                args.room_id,
                Push::Read {
                    room_id: args.room_id,
                    user_id: user.to_owned(),
                    last_read_seq,
                },
            );
            Ok(Reply::MarkRead {
                room_id: args.room_id,
                last_read_seq,
                unread,
            })
        }
        Call::Sync(args) => {
            let limit = page(args.limit, DEFAULT_SYNC_PAGE, MAX_SYNC_PAGE)?;
            let (messages, has_more) = ctx.store.sync(user, &args.cursors, limit).await?;
            let rooms = ctx.store.list_rooms(user).await?;
            Ok(Reply::Sync {
                messages,
                rooms,
                has_more,
            })
        }
    }
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
