//! People ops: the organisation tree and directory, profiles, presence per device class (asked, or watched and
//! pushed), the mobile-installed flag and the typing indicator.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use fred::prelude::HashesInterface;
use sendjay_common::codec;
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{
    DeviceClass, OrgUnitsArgs, PresenceInfo, ProfilePatch, Push, Reply, RoomArgs, SearchUsersArgs,
    ServerFrame, SetMobileInstalledArgs, UnitMembersArgs, UserIdsArgs, UserProfile,
    DEFAULT_LIST_PAGE, MAX_LIST_PAGE, MAX_LOOKUP_USERS,
};

use super::{page, validate};
use crate::error::NodeError;
use crate::registry::Conn;
use crate::NodeContext;

pub(super) async fn org_units(ctx: &NodeContext, args: OrgUnitsArgs) -> Result<Reply, NodeError> {
    if let Some(parent) = &args.parent_id {
        validate::line(parent, "parent_id", 64)?;
    }
    let units = ctx.store.org_units(args.parent_id.as_deref()).await?;
    Ok(Reply::OrgUnits {
        parent_id: args.parent_id,
        units,
    })
}

pub(super) async fn unit_members(
    ctx: &NodeContext,
    args: UnitMembersArgs,
) -> Result<Reply, NodeError> {
    let limit = page(args.limit, DEFAULT_LIST_PAGE, MAX_LIST_PAGE)?;
    validate::line(&args.unit_id, "unit_id", 64)?;
    if let Some(after) = &args.after {
        validate::user_id(after, "after")?;
    }
    let (users, has_more) = ctx
        .store
        .unit_members(&args.unit_id, args.after.as_deref(), limit)
        .await?;
    Ok(Reply::UnitMembers {
        unit_id: args.unit_id,
        users,
        has_more,
    })
}

pub(super) async fn search_users(
    ctx: &NodeContext,
    args: SearchUsersArgs,
) -> Result<Reply, NodeError> {
    let limit = page(args.limit, DEFAULT_LIST_PAGE, MAX_LIST_PAGE)?;
    validate::query(&args.query)?;
    Ok(Reply::SearchUsers {
        users: ctx.store.search_users(&args.query, limit).await?,
    })
}

fn lookup_ids(args: &UserIdsArgs) -> Result<(), NodeError> {
    validate::user_ids(&args.user_ids, "user_ids", MAX_LOOKUP_USERS)
}

pub(super) async fn get_users(ctx: &NodeContext, args: UserIdsArgs) -> Result<Reply, NodeError> {
    lookup_ids(&args)?;
    Ok(Reply::GetUsers {
        users: ctx.store.get_users(&args.user_ids).await?,
    })
}

pub(super) async fn update_profile(
    ctx: &NodeContext,
    user: &str,
    args: ProfilePatch,
) -> Result<Reply, NodeError> {
    validate::profile(&args)?;
    let absence_changed = args.absence_code.is_some()
        || args.absence_text.is_some()
        || args.absence_from.is_some()
        || args.absence_to.is_some();
    let profile = ctx.store.update_profile(user, &args).await?;
    if absence_changed {
        publish_absence(ctx, &profile);
    }
    Ok(Reply::UpdateProfile { user: profile })
}

/// Tells the nodes watching the user's presence the absence status now, in the background (best effort, like
/// every push: a watcher that missed it sees the status in the next `get_users`).
fn publish_absence(ctx: &NodeContext, profile: &UserProfile) {
    let frame = ServerFrame::Push {
        push: Push::Absence {
            user_id: profile.user_id.clone(),
            absence_code: profile.absence_code.clone(),
            absence_text: profile.absence_text.clone(),
            absence_from: profile.absence_from.clone(),
            absence_to: profile.absence_to.clone(),
        },
    };
    let Ok(bytes) = codec::encode_server_frame(&frame) else {
        return;
    };
    let bus = ctx.bus.clone();
    let user = profile.user_id.clone();
    tokio::spawn(async move {
        if let Err(e) = bus.publish_presence_frame(&user, Bytes::from(bytes)).await {
            tracing::warn!(error = %e, "could not publish an absence change");
        }
    });
}

/// Which device classes hold a session record in Redis (`<prefix>:{u:<user>}:sess`, one field per class).
/// Records of a crashed node linger until they expire (the session TTL, 90 s by default).
pub(super) async fn presence(ctx: &NodeContext, args: UserIdsArgs) -> Result<Reply, NodeError> {
    lookup_ids(&args)?;
    Ok(Reply::Presence {
        users: presence_of(ctx, args).await?,
    })
}

/// Makes `args.user_ids` the set whose presence `conn` watches and answers their presence now. The presence
/// channels are joined before the sessions are read, so a change cannot fall between the answer and the first
/// push; a failed subscription leaves nothing watched (the client asks again).
pub(super) async fn watch_presence(
    ctx: &NodeContext,
    conn: &Conn,
    args: UserIdsArgs,
) -> Result<Reply, NodeError> {
    lookup_ids(&args)?;
    let mut seen = HashSet::new();
    let watched: Vec<Arc<str>> = args
        .user_ids
        .iter()
        .filter(|id| seen.insert(id.as_str()))
        .map(|id| Arc::from(id.as_str()))
        .collect();
    let change = ctx.registry.watch_presence(conn, watched);
    if let Err(e) = ctx.bus.acquire_presence(&change.needed).await {
        let dropped = ctx.registry.watch_presence(conn, Vec::new());
        let _ = ctx.bus.release_presence(&dropped.unneeded).await;
        return Err(e);
    }
    if let Err(e) = ctx.bus.release_presence(&change.unneeded).await {
        tracing::debug!(error = %e, "could not leave presence channels nobody watches");
    }
    Ok(Reply::WatchPresence {
        users: presence_of(ctx, args).await?,
    })
}

/// The presence of the existing users among `args.user_ids`, in the order asked, each once.
async fn presence_of(ctx: &NodeContext, args: UserIdsArgs) -> Result<Vec<PresenceInfo>, NodeError> {
    let mut seen = HashSet::new();
    let ids: Vec<String> = args
        .user_ids
        .into_iter()
        .filter(|id| seen.insert(id.clone()))
        .collect();
    let known = ctx.store.mobile_installed(&ids).await?;
    if known.is_empty() {
        return Ok(Vec::new());
    }
    let pipeline = ctx.bus.commands().pipeline();
    for (id, _) in &known {
        let _: () = pipeline.hkeys(ctx.bus.keys().sessions(id)).await?;
    }
    let sessions = pipeline.try_all::<Vec<String>>().await;
    let mut users = Vec::with_capacity(known.len());
    for ((user_id, mobile_installed), devices) in known.into_iter().zip(sessions) {
        let devices = devices?;
        let has = |d: DeviceClass| devices.iter().any(|x| x == d.as_str());
        users.push(PresenceInfo {
            web: has(DeviceClass::Web),
            mobile: has(DeviceClass::Mobile),
            user_id,
            mobile_installed,
        });
    }
    Ok(users)
}

pub(super) async fn set_mobile_installed(
    ctx: &NodeContext,
    conn: &Conn,
    args: SetMobileInstalledArgs,
) -> Result<Reply, NodeError> {
    if conn.device != DeviceClass::Mobile {
        return Err(NodeError::client(
            ErrorCode::Forbidden,
            "only the mobile app (a mobile session) reports whether it is installed",
        ));
    }
    ctx.store
        .set_mobile_installed(&conn.user, args.installed)
        .await?;
    Ok(Reply::SetMobileInstalled {
        installed: args.installed,
    })
}

pub(super) async fn typing(
    ctx: &NodeContext,
    user: &str,
    args: RoomArgs,
) -> Result<Reply, NodeError> {
    ctx.store.check_member(user, args.room_id).await?;
    ctx.publish_room(
        args.room_id,
        Push::Typing {
            room_id: args.room_id,
            user_id: user.to_owned(),
        },
    );
    Ok(Reply::Typing {
        room_id: args.room_id,
    })
}
