//! Public channels (migration 0016): group rooms marked `channel`, open to the whole company or to one
//! organisation unit and every unit below it. Anyone they are open to finds them with `list_channels` and joins
//! with `join_channel`; from then on a channel is an ordinary group room (history, invite, leave, search).

use super::messages::system_message;
use super::rooms::{lock_room, room_summary, MembershipChange};
use super::{active_caller, conflict, forbidden, not_found, Store};
use crate::error::NodeError;
use sendjay_common::protocol::{Channel, ChannelAfter, RoomSummary, SystemAction, SystemEvent};

/// The units of user `$1`: their own and every one above it.
const CALLER_UNITS: &str = "WITH RECURSIVE up AS (
        SELECT o.id, o.parent_id FROM org_units o WHERE o.id = (SELECT unit_id FROM users WHERE id = $1)
        UNION ALL
        SELECT o.id, o.parent_id FROM org_units o JOIN up ON o.id = up.parent_id
    ) SELECT id FROM up";

/// Whether the channel of row `r` is open to user `$1`: company-wide, or open to one of their units.
fn open_to_caller() -> String {
    format!("(r.channel_unit_id IS NULL OR r.channel_unit_id IN ({CALLER_UNITS}))")
}

impl Store {
    /// Creates a channel named `name` with the caller as its first member, open to `unit_id` (and the units
    /// under it) or to everyone. A unit must be the caller's or one above it, unless the caller is an admin.
    pub async fn create_channel(
        &self,
        user_id: &str,
        name: &str,
        unit_id: Option<&str>,
    ) -> Result<(RoomSummary, MembershipChange), NodeError> {
        let mut client = self.get().await?;
        let _query = crate::metrics::Timer::db("create_channel");
        let caller = active_caller(&**client, user_id).await?;
        if let Some(unit) = unit_id {
            let row = client
                .query_one(
                    &format!(
                        "SELECT EXISTS (SELECT 1 FROM org_units WHERE id = $2), $2 IN ({CALLER_UNITS})"
                    ),
                    &[&user_id, &unit],
                )
                .await?;
            if !row.get::<_, bool>(0) {
                return Err(not_found(format!(
                    "no organisation unit {unit}: pick one from org_units"
                )));
            }
            if !row.get::<_, bool>(1) && !caller.is_admin() {
                return Err(forbidden(format!(
                    "you are not in unit {unit}: open the channel to your own unit or one above it"
                )));
            }
        }
        let tx = client.transaction().await?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('channel:' || lower($1::text), 0))",
            &[&name],
        )
        .await?;
        let taken = tx
            .query_opt(
                "SELECT id FROM rooms WHERE channel AND lower(name) = lower($1)",
                &[&name],
            )
            .await?;
        if let Some(row) = taken {
            let id: i64 = row.get(0);
            return Err(conflict(format!(
                "a channel named {name} exists (room {id}): join it, or pick another name"
            )));
        }
        let room_id: i64 = tx
            .query_one(
                "INSERT INTO rooms (kind, name, created_by, channel, channel_unit_id)
                 VALUES ('group', $1, $2, true, $3) RETURNING id",
                &[&name, &user_id, &unit_id],
            )
            .await?
            .get(0);
        tx.execute(
            "INSERT INTO room_members (room_id, user_id, last_read_seq) VALUES ($1, $2, 1)",
            &[&room_id, &user_id],
        )
        .await?;
        let event = SystemEvent {
            name: Some(name.to_owned()),
            ..SystemEvent::by(SystemAction::Create, user_id)
        };
        let message = system_message(
            &*tx,
            room_id,
            event,
            format!("{user_id} created the channel"),
        )
        .await?;
        tx.commit().await?;
        let summary = room_summary(&**client, user_id, room_id).await?;
        Ok((
            summary,
            MembershipChange::joining(message, vec![user_id.to_owned()]),
        ))
    }

    /// The channels open to the caller whose name contains `query`, by name, after `after`; and whether more
    /// follow.
    pub async fn list_channels(
        &self,
        user_id: &str,
        query: Option<&str>,
        after: Option<&ChannelAfter>,
        limit: u32,
    ) -> Result<(Vec<Channel>, bool), NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("list_channels");
        let (after_name, after_id) = match after {
            Some(a) => (Some(a.name.as_str()), a.room_id),
            None => (None, 0),
        };
        let fetch = i64::from(limit) + 1;
        let rows = client
            .query(
                &format!(
                    "SELECT r.id, r.name, r.channel_unit_id, r.member_count, r.created_by,
                            EXISTS (SELECT 1 FROM room_members m WHERE m.room_id = r.id AND m.user_id = $1)
                       FROM rooms r
                      WHERE r.channel AND {open}
                        AND ($2::text IS NULL OR strpos(lower(r.name), lower($2)) > 0)
                        AND ($3::text IS NULL OR (lower(r.name), r.id) > (lower($3), $4))
                      ORDER BY lower(r.name), r.id
                      LIMIT $5",
                    open = open_to_caller()
                ),
                &[&user_id, &query, &after_name, &after_id, &fetch],
            )
            .await?;
        let has_more = rows.len() > limit as usize;
        let channels = rows
            .iter()
            .take(limit as usize)
            .map(|r| Channel {
                room_id: r.get(0),
                name: r.get(1),
                unit_id: r.get(2),
                member_count: i64::from(r.get::<_, i32>(3)),
                created_by: r.get(4),
                joined: r.get(5),
            })
            .collect();
        Ok((channels, has_more))
    }

    /// The caller joins a channel open to them, up to `max_members`, with a `join` system message; `None` for
    /// the change when they already were a member.
    pub async fn join_channel(
        &self,
        user_id: &str,
        room_id: i64,
        max_members: u32,
    ) -> Result<(RoomSummary, Option<MembershipChange>), NodeError> {
        let mut client = self.get().await?;
        let _query = crate::metrics::Timer::db("join_channel");
        let tx = client.transaction().await?;
        let (_, count) = lock_room(&*tx, room_id).await?;
        let row = tx
            .query_one(
                &format!(
                    "SELECT r.channel, {open},
                            EXISTS (SELECT 1 FROM room_members m WHERE m.room_id = r.id AND m.user_id = $1)
                       FROM rooms r WHERE r.id = $2",
                    open = open_to_caller()
                ),
                &[&user_id, &room_id],
            )
            .await?;
        let (channel, open, member): (bool, bool, bool) = (row.get(0), row.get(1), row.get(2));
        if !channel {
            return Err(forbidden(
                "this room is private: a member has to invite you",
            ));
        }
        if member {
            tx.commit().await?;
            return Ok((room_summary(&**client, user_id, room_id).await?, None));
        }
        if !open {
            return Err(forbidden(
                "this channel is open to another organisation unit only: ask a member to invite you",
            ));
        }
        if count + 1 > i64::from(max_members) {
            return Err(forbidden(format!(
                "the channel has {count} members, the limit: ask an admin"
            )));
        }
        let event = SystemEvent::by(SystemAction::Join, user_id);
        let message = system_message(&*tx, room_id, event, format!("{user_id} joined")).await?;
        tx.execute(
            "INSERT INTO room_members (room_id, user_id, last_read_seq) VALUES ($1, $2, $3)",
            &[&room_id, &user_id, &message.seq],
        )
        .await?;
        tx.commit().await?;
        let summary = room_summary(&**client, user_id, room_id).await?;
        Ok((
            summary,
            Some(MembershipChange::joining(message, vec![user_id.to_owned()])),
        ))
    }
}
