//! Room ops: open a 1:1 room, create a group, invite, leave, remove, rename, room options, per-member preferences,
//! members.

use sendjay_common::protocol::{
    CreateGroupArgs, InviteArgs, Push, RemoveMemberArgs, RenameRoomArgs, Reply, RoomArgs,
    RoomMembersArgs, SetRoomOptionsArgs, SetRoomPrefsArgs, UserArgs, MAX_LIST_PAGE,
    MAX_ROOM_NAME_CHARS, MAX_ROOM_NICKNAME_CHARS, MAX_USERS_PER_CALL,
};

use super::fanout::Fanout;
use super::{bad_args, page, validate};
use crate::error::NodeError;
use crate::store::rooms::MembershipChange;
use crate::NodeContext;

pub(super) async fn open_direct(
    ctx: &NodeContext,
    user: &str,
    args: UserArgs,
) -> Result<Reply, NodeError> {
    validate::user_id(&args.user_id, "user_id")?;
    if args.user_id == user {
        return Err(bad_args("open_direct needs another user's id"));
    }
    let (room, created, joined) = ctx.store.open_direct(user, &args.user_id).await?;
    let mut fanout = Fanout::new();
    fanout.joined(&joined, room.room_id, None);
    fanout.spawn(ctx);
    Ok(Reply::OpenDirect { room, created })
}

/// Publishes a membership change: the message to the room (members, leavers included, still subscribed), then
/// subscriptions of the new members with the message delivered to them, then unsubscriptions of the leavers.
pub(super) fn publish_change(
    ctx: &NodeContext,
    room: i64,
    change: &MembershipChange,
    to_room: bool,
) {
    let push = Push::Message {
        message: change.message.clone(),
    };
    let mut fanout = Fanout::new();
    if to_room {
        fanout.room(room, &push);
    }
    fanout.joined(&change.joined, room, Some(&push));
    fanout.left(&change.left, room);
    fanout.spawn(ctx);
}

pub(super) async fn create_group(
    ctx: &NodeContext,
    user: &str,
    args: CreateGroupArgs,
) -> Result<Reply, NodeError> {
    validate::line(&args.name, "name", MAX_ROOM_NAME_CHARS)?;
    validate::user_ids(&args.user_ids, "user_ids", MAX_USERS_PER_CALL)?;
    let (room, change) = ctx
        .store
        .create_group(
            user,
            &args.name,
            &args.user_ids,
            ctx.config.max_room_members,
        )
        .await?;
    let existing = change.is_none();
    if let Some(change) = change {
        // Nobody is subscribed to a brand-new room: every member gets the message directly.
        publish_change(ctx, room.room_id, &change, false);
    }
    Ok(Reply::CreateGroup { room, existing })
}

pub(super) async fn invite(
    ctx: &NodeContext,
    user: &str,
    args: InviteArgs,
) -> Result<Reply, NodeError> {
    if args.user_ids.is_empty() {
        return Err(bad_args("user_ids must name at least one user"));
    }
    validate::user_ids(&args.user_ids, "user_ids", MAX_USERS_PER_CALL)?;
    let change = ctx
        .store
        .invite(
            user,
            args.room_id,
            &args.user_ids,
            ctx.config.max_room_members,
        )
        .await?;
    publish_change(ctx, args.room_id, &change, true);
    Ok(Reply::Invite {
        room_id: args.room_id,
        added: change.joined,
        message: change.message,
    })
}

pub(super) async fn leave(
    ctx: &NodeContext,
    user: &str,
    args: RoomArgs,
) -> Result<Reply, NodeError> {
    let change = ctx.store.leave(user, args.room_id).await?;
    publish_change(ctx, args.room_id, &change, true);
    Ok(Reply::Leave {
        room_id: args.room_id,
    })
}

pub(super) async fn remove_member(
    ctx: &NodeContext,
    user: &str,
    args: RemoveMemberArgs,
) -> Result<Reply, NodeError> {
    validate::user_id(&args.user_id, "user_id")?;
    let change = ctx
        .store
        .remove_member(user, args.room_id, &args.user_id)
        .await?;
    publish_change(ctx, args.room_id, &change, true);
    Ok(Reply::RemoveMember {
        room_id: args.room_id,
        user_id: args.user_id,
        message: change.message,
    })
}

pub(super) async fn rename_room(
    ctx: &NodeContext,
    user: &str,
    args: RenameRoomArgs,
) -> Result<Reply, NodeError> {
    validate::line(&args.name, "name", MAX_ROOM_NAME_CHARS)?;
    let message = ctx
        .store
        .rename_room(user, args.room_id, &args.name)
        .await?;
    let mut fanout = Fanout::new();
    fanout.room(
        args.room_id,
        &Push::Message {
            message: message.clone(),
        },
    );
    fanout.spawn(ctx);
    Ok(Reply::RenameRoom {
        room_id: args.room_id,
        name: args.name,
        message,
    })
}

pub(super) async fn set_room_options(
    ctx: &NodeContext,
    user: &str,
    args: SetRoomOptionsArgs,
) -> Result<Reply, NodeError> {
    let message = ctx
        .store
        .set_room_options(user, args.room_id, args.members_hidden)
        .await?;
    let mut fanout = Fanout::new();
    fanout.room(
        args.room_id,
        &Push::Message {
            message: message.clone(),
        },
    );
    fanout.spawn(ctx);
    Ok(Reply::SetRoomOptions {
        room_id: args.room_id,
        members_hidden: args.members_hidden,
        message,
    })
}

pub(super) async fn set_room_prefs(
    ctx: &NodeContext,
    user: &str,
    args: SetRoomPrefsArgs,
) -> Result<Reply, NodeError> {
    if let Some(nickname) = &args.nickname {
        validate::line(nickname, "nickname", MAX_ROOM_NICKNAME_CHARS)?;
    }
    let (nickname, notifications) = ctx
        .store
        .set_room_prefs(
            user,
            args.room_id,
            args.nickname.as_deref(),
            args.notifications,
        )
        .await?;
    let mut fanout = Fanout::new();
    fanout.user_push(
        user,
        &Push::RoomPrefs {
            room_id: args.room_id,
            nickname: nickname.clone(),
            notifications,
        },
    );
    fanout.spawn(ctx);
    Ok(Reply::SetRoomPrefs {
        room_id: args.room_id,
        nickname,
        notifications,
    })
}

pub(super) async fn room_members(
    ctx: &NodeContext,
    user: &str,
    args: RoomMembersArgs,
) -> Result<Reply, NodeError> {
    let limit = page(args.limit, MAX_LIST_PAGE, MAX_LIST_PAGE)?;
    let (members, has_more) = ctx
        .store
        .room_members(user, args.room_id, args.after.as_deref(), limit)
        .await?;
    Ok(Reply::RoomMembers {
        room_id: args.room_id,
        members,
        has_more,
    })
}
