//! Message ops: send (text, image, file, file link, reply), forward, edit, revoke, delete for me, history, search,
//! sync.

use std::time::Duration;

use sendjay_common::ids;
use sendjay_common::protocol::{
    EditMessageArgs, ForwardArgs, HistoryArgs, MessageKind, MessageRef, Push, Reply, SearchAllArgs,
    SearchArgs, SendArgs, SendRichArgs, SyncArgs, DEFAULT_HISTORY_PAGE, DEFAULT_LIST_PAGE,
    DEFAULT_SYNC_PAGE, MAX_HISTORY_PAGE, MAX_LIST_PAGE, MAX_SEARCH_ROOMS, MAX_SYNC_PAGE,
};

use super::fanout::Fanout;
use super::{bad_args, page, validate};
use crate::error::NodeError;
use crate::metrics as m;
use crate::stats::NodeStats;
use crate::store::search::MessageQuery;
use crate::store::search_all::{AllRoomsQuery, SearchAllPlan, SearchPosition};
use crate::store::{NewContent, Sent};
use crate::NodeContext;

pub(super) async fn history(
    ctx: &NodeContext,
    user: &str,
    args: HistoryArgs,
) -> Result<Reply, NodeError> {
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

pub(super) async fn sync(
    ctx: &NodeContext,
    user: &str,
    args: SyncArgs,
) -> Result<Reply, NodeError> {
    let limit = page(args.limit, DEFAULT_SYNC_PAGE, MAX_SYNC_PAGE)?;
    validate::distinct_cursor_rooms(&args.cursors)?;
    validate::distinct_change_rooms(&args.changes)?;
    let (messages, more_messages) = ctx.store.sync(user, &args.cursors, limit).await?;
    let (updates, more_updates) = ctx
        .store
        .changed_since(user, &args.cursors, &args.changes, limit)
        .await?;
    let rooms = ctx.store.list_rooms(user).await?;
    Ok(Reply::Sync {
        messages,
        rooms,
        has_more: more_messages || more_updates,
        updates,
    })
}

/// Counts and publishes a stored message: rejoined members of a direct room first get subscribed and the
/// message directly, then every member gets it through the room; and appends its notification job before
/// the send is answered. Published also for a duplicate, in case the first attempt's publish was lost.
async fn publish_sent(ctx: &NodeContext, sent: &Sent) {
    publish_stored(ctx, sent);
    ctx.notifications
        .message_committed(ctx.bus.commands(), sent.message.room_id, sent.message.seq)
        .await;
}

fn publish_stored(ctx: &NodeContext, sent: &Sent) {
    if !sent.duplicate {
        NodeStats::add(&ctx.stats.messages_persisted, 1);
        metrics::counter!(m::MESSAGES_PERSISTED).increment(1);
    }
    let push = Push::Message {
        message: sent.message.clone(),
    };
    if sent.rejoined.is_empty() {
        ctx.publish_room(sent.message.room_id, push);
        return;
    }
    let mut fanout = Fanout::new();
    fanout.joined(&sent.rejoined, sent.message.room_id, Some(&push));
    fanout.room(sent.message.room_id, &push);
    fanout.spawn(ctx);
}

pub(super) async fn send_text(
    ctx: &NodeContext,
    user: &str,
    args: SendArgs,
) -> Result<Reply, NodeError> {
    metrics::counter!(m::MESSAGES_RECEIVED).increment(1);
    ids::validate_client_msg_id(&args.client_msg_id).map_err(|e| bad_args(e.to_string()))?;
    validate::body(&args.body, true)?;
    let content = NewContent {
        kind: MessageKind::Text,
        body: args.body,
        ..Default::default()
    };
    let sent = ctx
        .store
        .send(user, args.room_id, &args.client_msg_id, content)
        .await?;
    publish_sent(ctx, &sent).await;
    Ok(Reply::Send {
        message: sent.message,
        duplicate: sent.duplicate,
    })
}

pub(super) async fn send_rich(
    ctx: &NodeContext,
    user: &str,
    args: SendRichArgs,
) -> Result<Reply, NodeError> {
    metrics::counter!(m::MESSAGES_RECEIVED).increment(1);
    ids::validate_client_msg_id(&args.client_msg_id).map_err(|e| bad_args(e.to_string()))?;
    match args.kind {
        MessageKind::Text => {
            validate::body(&args.body, true)?;
            if args.file.is_some() || args.file_link.is_some() {
                return Err(bad_args(
                    "a text message has no file or file_link; use kind image, file or file_link",
                ));
            }
        }
        MessageKind::Image | MessageKind::File => {
            validate::body(&args.body, false)?;
            let file = args
                .file
                .as_ref()
                .ok_or_else(|| bad_args(format!("kind {} needs file", args.kind.as_str())))?;
            validate::file(file, args.kind)?;
            if args.file_link.is_some() {
                return Err(bad_args("file_link is only for kind file_link"));
            }
        }
        MessageKind::FileLink => {
            validate::body(&args.body, false)?;
            if args.file_link.is_none() || args.file.is_some() {
                return Err(bad_args(
                    "kind file_link needs file_link {room_id, seq} and no file: the file is taken from that message",
                ));
            }
        }
        MessageKind::System => {
            return Err(bad_args("system messages are written by the server only"))
        }
    }
    // Image and file messages must carry an upload of this room by the sender (text sends skip this query).
    let file = match (&args.file, args.kind) {
        (Some(file), MessageKind::Image | MessageKind::File) => {
            Some(crate::files::claim_for_send(ctx, user, args.room_id, file, args.kind).await?)
        }
        _ => args.file,
    };
    let content = NewContent {
        kind: args.kind,
        body: args.body,
        file,
        file_link: args.file_link,
        reply_to: args.reply_to,
        forwarded: false,
    };
    let sent = ctx
        .store
        .send(user, args.room_id, &args.client_msg_id, content)
        .await?;
    if args.kind == MessageKind::FileLink {
        grant_file_room(ctx, &sent).await?;
    }
    publish_sent(ctx, &sent).await;
    Ok(Reply::Send {
        message: sent.message,
        duplicate: sent.duplicate,
    })
}

/// Opens the file a `file_link` or `forward` carried to the members of the room it was sent to.
async fn grant_file_room(ctx: &NodeContext, sent: &Sent) -> Result<(), NodeError> {
    match &sent.message.file {
        Some(file) => crate::files::grant_room(ctx, &file.file_id, sent.message.room_id).await,
        None => Ok(()),
    }
}

pub(super) async fn forward(
    ctx: &NodeContext,
    user: &str,
    args: ForwardArgs,
) -> Result<Reply, NodeError> {
    ids::validate_client_msg_id(&args.client_msg_id).map_err(|e| bad_args(e.to_string()))?;
    let from = MessageRef {
        room_id: args.room_id,
        seq: args.seq,
    };
    let sent = ctx
        .store
        .forward(user, from, args.to_room_id, &args.client_msg_id)
        .await?;
    grant_file_room(ctx, &sent).await?;
    publish_sent(ctx, &sent).await;
    Ok(Reply::Forward {
        message: sent.message,
        duplicate: sent.duplicate,
    })
}

pub(super) async fn revoke(
    ctx: &NodeContext,
    user: &str,
    args: MessageRef,
) -> Result<Reply, NodeError> {
    let window = Duration::from_secs(ctx.config.revoke_window_secs);
    let revocation = ctx.store.revoke(user, args, window).await?;
    if revocation.revoked {
        // In order: members drop the body, then learn the message is no longer pinned.
        let mut fanout = Fanout::new();
        fanout.room(
            args.room_id,
            &Push::Revoked {
                room_id: args.room_id,
                seq: args.seq,
            },
        );
        if let Some(message) = revocation.unpinned {
            fanout.room(args.room_id, &Push::Message { message });
        }
        fanout.spawn(ctx);
    }
    Ok(Reply::Revoke {
        room_id: args.room_id,
        seq: args.seq,
    })
}

/// The sender edits a message; every member gets the new state (`edited` push), and `sync` brings it to those
/// who miss the push (its `change_seq`).
pub(super) async fn edit_message(
    ctx: &NodeContext,
    user: &str,
    args: EditMessageArgs,
) -> Result<Reply, NodeError> {
    validate::body(&args.body, false)?;
    let window = Duration::from_secs(ctx.config.edit_window_secs);
    let at = MessageRef {
        room_id: args.room_id,
        seq: args.seq,
    };
    let edit = ctx.store.edit_message(user, at, &args.body, window).await?;
    if edit.edited {
        let mut fanout = Fanout::new();
        fanout.room(
            args.room_id,
            &Push::Edited {
                message: edit.message.clone(),
            },
        );
        fanout.spawn(ctx);
    }
    Ok(Reply::EditMessage {
        message: edit.message,
        edited: edit.edited,
    })
}

pub(super) async fn delete_for_me(
    ctx: &NodeContext,
    user: &str,
    args: MessageRef,
) -> Result<Reply, NodeError> {
    if ctx.store.delete_for_me(user, args).await? {
        let mut fanout = Fanout::new();
        fanout.user_push(
            user,
            &Push::Hidden {
                room_id: args.room_id,
                seq: args.seq,
            },
        );
        fanout.spawn(ctx);
    }
    Ok(Reply::DeleteForMe {
        room_id: args.room_id,
        seq: args.seq,
    })
}

pub(super) async fn search(
    ctx: &NodeContext,
    user: &str,
    args: SearchArgs,
) -> Result<Reply, NodeError> {
    let limit = page(args.limit, DEFAULT_LIST_PAGE, MAX_LIST_PAGE)?;
    if let Some(text) = &args.query {
        validate::query(text)?;
    }
    if let Some(sender) = &args.sender_id {
        validate::user_id(sender, "sender_id")?;
    }
    let query = MessageQuery {
        text: args.query,
        sender_id: args.sender_id,
        media: args.kind,
        before_seq: args.before_seq,
    };
    let (messages, has_more) = ctx.store.search(user, args.room_id, &query, limit).await?;
    Ok(Reply::Search {
        room_id: args.room_id,
        messages,
        has_more,
    })
}

pub(super) async fn search_all(
    ctx: &NodeContext,
    user: &str,
    args: SearchAllArgs,
) -> Result<Reply, NodeError> {
    let limit = page(args.limit, DEFAULT_LIST_PAGE, MAX_LIST_PAGE)?;
    validate::query(&args.query)?;
    if let Some(sender) = &args.sender_id {
        validate::user_id(sender, "sender_id")?;
    }
    if let Some(rooms) = &args.room_ids {
        if rooms.is_empty() || rooms.len() > MAX_SEARCH_ROOMS {
            return Err(bad_args(format!(
                "room_ids: 1 to {MAX_SEARCH_ROOMS} rooms, or leave it out to search all your rooms"
            )));
        }
    }
    let mut before = match &args.cursor {
        None => SearchPosition::NEWEST,
        Some(cursor) => SearchPosition::from_cursor(cursor).ok_or_else(|| {
            bad_args("cursor: pass the next_cursor of the previous search_all page unchanged")
        })?,
    };
    // A message's `created_at_ms` is its time rounded to the ms, so "at or after A" (and "before B") in those
    // terms is the exact time from A − 0.5 ms on (before B − 0.5 ms).
    let ms_to_us = |ms: i64, field: &str| {
        ms.checked_mul(1000)
            .filter(|us| (0..=SearchPosition::NEWEST.at_us).contains(us))
            .map(|us| (us - 500).max(0))
            .ok_or_else(|| bad_args(format!("{field}: a time in ms since 1970, before 2255")))
    };
    if let Some(ms) = args.before_ms {
        let at_us = ms_to_us(ms, "before_ms")?;
        before = before.min(SearchPosition {
            at_us,
            room_id: i64::MIN,
            seq: i64::MIN,
        });
    }
    let after_us = match args.after_ms {
        Some(ms) => ms_to_us(ms, "after_ms")?,
        None => 0,
    };
    let query = AllRoomsQuery {
        text: args.query,
        rooms: args.room_ids,
        sender_id: args.sender_id,
        after_us,
        before,
    };
    let found = ctx
        .store
        .search_all(
            user,
            &query,
            limit,
            SearchAllPlan {
                candidates: ctx.config.search_all_candidates,
                walk_budget: ctx.config.search_all_walk,
            },
        )
        .await?;
    Ok(Reply::SearchAll {
        has_more: found.next.is_some(),
        next_cursor: found.next.map(SearchPosition::to_cursor),
        messages: found.messages,
    })
}
