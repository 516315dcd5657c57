//! Keeping ops: clear a chat for oneself, save and unsave messages, pin and unpin them (docs/protocol.md §6.17).
//!
//! What only the caller sees (a cleared chat, saved messages) is pushed to the caller's own sessions, so their other
//! device follows; pins are pushed to the whole room as the `system` message that records them, which `sync` also
//! returns — a member who was offline learns of a pin like of any other message.

use sendjay_common::protocol::{
    ListSavedArgs, MessageRef, Push, Reply, RoomArgs, DEFAULT_SAVED_PAGE, MAX_PINS_PER_ROOM,
    MAX_SAVED_PAGE,
};

use super::fanout::Fanout;
use super::page;
use super::reads::publish_read;
use crate::error::NodeError;
use crate::registry::Conn;
use crate::NodeContext;

pub(super) async fn clear_room(
    ctx: &NodeContext,
    conn: &Conn,
    args: RoomArgs,
) -> Result<Reply, NodeError> {
    let cleared = ctx.store.clear_room(&conn.user, args.room_id).await?;
    publish_read(ctx, conn, args.room_id, cleared.read).await;
    if cleared.moved {
        let mut fanout = Fanout::new();
        fanout.user_push(
            &conn.user,
            &Push::RoomCleared {
                room_id: args.room_id,
                cleared_seq: cleared.cleared_seq,
            },
        );
        fanout.spawn(ctx);
    }
    Ok(Reply::ClearRoom {
        room_id: args.room_id,
        cleared_seq: cleared.cleared_seq,
    })
}

/// Tells the caller's sessions that a message's saved state changed.
fn publish_saved(ctx: &NodeContext, user: &str, at: MessageRef, saved: bool) {
    let mut fanout = Fanout::new();
    fanout.user_push(
        user,
        &Push::Saved {
            room_id: at.room_id,
            seq: at.seq,
            saved,
        },
    );
    fanout.spawn(ctx);
}

pub(super) async fn save_message(
    ctx: &NodeContext,
    user: &str,
    args: MessageRef,
) -> Result<Reply, NodeError> {
    if ctx.store.save_message(user, args).await? {
        publish_saved(ctx, user, args, true);
    }
    Ok(Reply::SaveMessage {
        room_id: args.room_id,
        seq: args.seq,
        saved: true,
    })
}

pub(super) async fn unsave_message(
    ctx: &NodeContext,
    user: &str,
    args: MessageRef,
) -> Result<Reply, NodeError> {
    if ctx.store.unsave_message(user, args).await? {
        publish_saved(ctx, user, args, false);
    }
    Ok(Reply::UnsaveMessage {
        room_id: args.room_id,
        seq: args.seq,
        saved: false,
    })
}

pub(super) async fn list_saved(
    ctx: &NodeContext,
    user: &str,
    args: ListSavedArgs,
) -> Result<Reply, NodeError> {
    let limit = page(args.limit, DEFAULT_SAVED_PAGE, MAX_SAVED_PAGE)?;
    let (messages, has_more) = ctx.store.list_saved(user, args.before, limit).await?;
    Ok(Reply::ListSaved { messages, has_more })
}

/// Pushes a pin's or an unpin's system message to the room.
fn publish_system(ctx: &NodeContext, message: &Option<sendjay_common::protocol::Message>) {
    if let Some(message) = message {
        ctx.publish_room(
            message.room_id,
            Push::Message {
                message: message.clone(),
            },
        );
    }
}

pub(super) async fn pin_message(
    ctx: &NodeContext,
    user: &str,
    args: MessageRef,
) -> Result<Reply, NodeError> {
    let message = ctx.store.pin_message(user, args, MAX_PINS_PER_ROOM).await?;
    publish_system(ctx, &message);
    Ok(Reply::PinMessage {
        room_id: args.room_id,
        seq: args.seq,
        pinned: true,
        message,
    })
}

pub(super) async fn unpin_message(
    ctx: &NodeContext,
    user: &str,
    args: MessageRef,
) -> Result<Reply, NodeError> {
    let message = ctx.store.unpin_message(user, args).await?;
    publish_system(ctx, &message);
    Ok(Reply::UnpinMessage {
        room_id: args.room_id,
        seq: args.seq,
        pinned: false,
        message,
    })
}

pub(super) async fn list_pins(
    ctx: &NodeContext,
    user: &str,
    args: RoomArgs,
) -> Result<Reply, NodeError> {
    let pins = ctx.store.list_pins(user, args.room_id).await?;
    Ok(Reply::ListPins {
        room_id: args.room_id,
        pins,
    })
}
