//! Reaction ops: add and remove an emoji on a message, and who reacted (docs/protocol.md §6.18).
//!
//! A change is pushed to the whole room as a `reaction` push carrying the emoji's new count and the room's change
//! number, so clients apply each once and in order; `sync` returns the message with its counts to whoever missed it.

use sendjay_common::protocol::{check_reaction, MessageRef, Push, ReactionArgs, Reply};

use super::bad_args;
use super::fanout::Fanout;
use crate::error::NodeError;
use crate::NodeContext;

/// Adds (`on`) or removes the caller's reaction and pushes the change to the room.
pub(super) async fn react(
    ctx: &NodeContext,
    user: &str,
    args: ReactionArgs,
    on: bool,
) -> Result<Reply, NodeError> {
    check_reaction(&args.emoji).map_err(bad_args)?;
    let at = MessageRef {
        room_id: args.room_id,
        seq: args.seq,
    };
    let reacted = ctx.store.react(user, at, &args.emoji, on).await?;
    if reacted.changed {
        let mut fanout = Fanout::new();
        fanout.room(
            args.room_id,
            &Push::Reaction {
                room_id: args.room_id,
                seq: args.seq,
                user_id: user.to_owned(),
                emoji: args.emoji,
                on,
                count: reacted.count,
                change_seq: reacted.message.change_seq,
            },
        );
        fanout.spawn(ctx);
    }
    let (message, changed) = (reacted.message, reacted.changed);
    Ok(if on {
        Reply::AddReaction { message, changed }
    } else {
        Reply::RemoveReaction { message, changed }
    })
}

/// Who reacted to a message with an emoji.
pub(super) async fn reactors(
    ctx: &NodeContext,
    user: &str,
    args: ReactionArgs,
) -> Result<Reply, NodeError> {
    check_reaction(&args.emoji).map_err(bad_args)?;
    let at = MessageRef {
        room_id: args.room_id,
        seq: args.seq,
    };
    let (user_ids, count) = ctx.store.reactors(user, at, &args.emoji).await?;
    Ok(Reply::Reactors {
        room_id: args.room_id,
        seq: args.seq,
        emoji: args.emoji,
        user_ids,
        count,
    })
}
