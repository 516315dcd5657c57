//! Channel ops (docs/protocol.md §6.19): create a public channel, list the ones open to the caller, join one.

use sendjay_common::protocol::{
    CreateChannelArgs, ListChannelsArgs, Reply, RoomArgs, DEFAULT_LIST_PAGE, MAX_LIST_PAGE,
    MAX_ROOM_NAME_CHARS,
};

use super::rooms::publish_change;
use super::{bad_args, page, validate};
use crate::error::NodeError;
use crate::NodeContext;

pub(super) async fn create_channel(
    ctx: &NodeContext,
    user: &str,
    args: CreateChannelArgs,
) -> Result<Reply, NodeError> {
    if args.name.trim().is_empty() {
        return Err(bad_args(
            "name: a channel needs a name people can find it by",
        ));
    }
    validate::line(&args.name, "name", MAX_ROOM_NAME_CHARS)?;
    if let Some(unit) = &args.unit_id {
        validate::line(unit, "unit_id", MAX_ROOM_NAME_CHARS)?;
    }
    let (room, change) = ctx
        .store
        .create_channel(user, &args.name, args.unit_id.as_deref())
        .await?;
    // Nobody is subscribed to a brand-new room: the creator's sessions get the message directly.
    publish_change(ctx, room.room_id, &change, false);
    Ok(Reply::CreateChannel { room })
}

pub(super) async fn list_channels(
    ctx: &NodeContext,
    user: &str,
    args: ListChannelsArgs,
) -> Result<Reply, NodeError> {
    let limit = page(args.limit, DEFAULT_LIST_PAGE, MAX_LIST_PAGE)?;
    if let Some(query) = &args.query {
        validate::query(query)?;
    }
    let (channels, has_more) = ctx
        .store
        .list_channels(user, args.query.as_deref(), args.after.as_ref(), limit)
        .await?;
    Ok(Reply::ListChannels { channels, has_more })
}

pub(super) async fn join_channel(
    ctx: &NodeContext,
    user: &str,
    args: RoomArgs,
) -> Result<Reply, NodeError> {
    let (room, change) = ctx
        .store
        .join_channel(user, args.room_id, ctx.config.max_room_members)
        .await?;
    let joined = change.is_some();
    if let Some(change) = change {
        publish_change(ctx, args.room_id, &change, true);
    }
    Ok(Reply::JoinChannel { room, joined })
}
