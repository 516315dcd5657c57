//! Read-state ops: mark read, open a room (mark all read + newest page + unread counts), unread counts of a
//! window of messages, and who has not read a message.

use sendjay_common::protocol::{
    MarkReadArgs, MessageRef, OpenRoomArgs, Push, Reply, UnreadCountsArgs, DEFAULT_HISTORY_PAGE,
    MAX_HISTORY_PAGE, MAX_SEQS_PER_CALL,
};

use super::fanout::Fanout;
use super::{bad_args, page};
use crate::error::NodeError;
use crate::registry::Conn;
use crate::store::ReadCursor;
use crate::NodeContext;

/// Rooms up to this many members push every member's reads to every member (live per-message counts); in
/// larger rooms a read is pushed only to the reader's own sessions (their other device clears its badge), and
/// the others refresh counts with `unread_counts` — otherwise one read in a 5 000-member room would cost 5 000
/// deliveries.
pub const READ_PUSH_MAX_MEMBERS: i64 = 100;

/// Publishes a moved cursor: to the room in small rooms, to the reader's own sessions in large ones; and
/// appends a read job, so what was pushed to the reader's other device is cleared.
pub(super) async fn publish_read(ctx: &NodeContext, conn: &Conn, room_id: i64, cursor: ReadCursor) {
    if !cursor.moved {
        return;
    }
    let user = &*conn.user;
    ctx.notifications
        .read_moved(
            ctx.bus.commands(),
            room_id,
            user,
            conn.device,
            cursor.last_read_seq,
        )
        .await;
    let push = Push::Read {
        room_id,
        user_id: user.to_owned(),
        last_read_seq: cursor.last_read_seq,
    };
    if cursor.member_count <= READ_PUSH_MAX_MEMBERS {
        ctx.publish_room(room_id, push);
    } else {
        let mut fanout = Fanout::new();
        fanout.user_push(user, &push);
        fanout.spawn(ctx);
    }
}

pub(super) async fn mark_read(
    ctx: &NodeContext,
    conn: &Conn,
    args: MarkReadArgs,
) -> Result<Reply, NodeError> {
    let cursor = ctx
        .store
        .mark_read(&conn.user, args.room_id, args.seq)
        .await?;
    publish_read(ctx, conn, args.room_id, cursor).await;
    Ok(Reply::MarkRead {
        room_id: args.room_id,
        last_read_seq: cursor.last_read_seq,
        unread: cursor.unread,
    })
}

pub(super) async fn open_room(
    ctx: &NodeContext,
    conn: &Conn,
    args: OpenRoomArgs,
) -> Result<Reply, NodeError> {
    let limit = page(args.limit, DEFAULT_HISTORY_PAGE, MAX_HISTORY_PAGE)?;
    let opened = ctx.store.open_room(&conn.user, args.room_id, limit).await?;
    publish_read(ctx, conn, args.room_id, opened.cursor).await;
    Ok(Reply::OpenRoom {
        room: opened.room,
        messages: opened.messages,
        unread_counts: opened.counts,
        has_more: opened.has_more,
    })
}

pub(super) async fn unread_counts(
    ctx: &NodeContext,
    user: &str,
    mut args: UnreadCountsArgs,
) -> Result<Reply, NodeError> {
    if args.seqs.len() > MAX_SEQS_PER_CALL {
        return Err(bad_args(format!(
            "seqs: at most {MAX_SEQS_PER_CALL} per request"
        )));
    }
    args.seqs.sort_unstable();
    args.seqs.dedup();
    let counts = ctx
        .store
        .unread_counts(user, args.room_id, &args.seqs)
        .await?;
    Ok(Reply::UnreadCounts {
        room_id: args.room_id,
        counts,
    })
}

pub(super) async fn unread_members(
    ctx: &NodeContext,
    user: &str,
    args: MessageRef,
) -> Result<Reply, NodeError> {
    let user_ids = ctx
        .store
        .unread_members(user, args.room_id, args.seq)
        .await?;
    Ok(Reply::UnreadMembers {
        room_id: args.room_id,
        seq: args.seq,
        user_ids,
    })
}
