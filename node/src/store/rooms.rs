//! Rooms and membership: the room list, 1:1 rooms unique per pair, group rooms up to a member limit, invite,
//! leave, remove, rename, room options, per-member preferences and the member list.

use sendjay_common::protocol::{Message, RoomMember, RoomSummary, SystemAction, SystemEvent};
use tokio_postgres::{GenericClient, Row};

use super::messages::system_message;
use super::{
    active_caller, bad_args, conflict, forbidden, message_columns, message_from, not_found,
    not_member, require_member, room_not_found, Store, PREVIEW_CHARS, QUOTE_JOIN,
};
use crate::error::NodeError;

/// A change of membership: the system message that records it and who joined or left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipChange {
    /// The system message (already committed).
    pub message: Message,
    /// Users who became members.
    pub joined: Vec<String>,
    /// Users who stopped being members.
    pub left: Vec<String>,
}

impl MembershipChange {
    /// `joined` became members, recorded by `message`.
    pub fn joining(message: Message, joined: Vec<String>) -> MembershipChange {
        MembershipChange {
            message,
            joined,
            left: Vec::new(),
        }
    }
}

fn summary_sql(filter: &str) -> String {
    // `dn`: for an unnamed group room without the caller's nickname, the first three other members by display
    // name and how many were found (a one-time filter skips it for every other room); the " +N" rest comes from
    // member_count. While members are hidden, only the creator and admins get names (others see an empty one).
    format!(
        "SELECT r.id, r.kind, r.name, r.last_seq, mm.last_read_seq,
                (extract(epoch FROM r.last_activity) * 1000)::bigint,
                mm.nickname, mm.notifications, r.member_count,
                p.peer,
                mm.cleared_seq,
                CASE WHEN mm.nickname <> '' THEN mm.nickname
                     WHEN r.name <> '' THEN r.name
                     WHEN r.kind = 'direct' THEN coalesce(pu.display_name, p.peer, '')
                     ELSE coalesce(dn.names, '')
                          || CASE WHEN r.member_count - 1 > dn.shown AND dn.shown > 0
                                  THEN ' +' || (r.member_count - 1 - dn.shown) ELSE '' END
                END,
                r.members_hidden,
                r.created_by,
                r.change_seq,
                r.channel,
                lm.*
           FROM room_members mm
           JOIN rooms r ON r.id = mm.room_id
           CROSS JOIN LATERAL (SELECT CASE WHEN r.kind = 'direct' THEN coalesce(
                    (SELECT CASE WHEN d.low_user = $1 THEN d.high_user ELSE d.low_user END
                       FROM direct_pairs d WHERE d.room_id = r.id),
                    (SELECT o.user_id FROM room_members o WHERE o.room_id = r.id AND o.user_id <> $1 LIMIT 1))
                END AS peer) p
           LEFT JOIN users pu ON pu.id = p.peer
           CROSS JOIN LATERAL (SELECT string_agg(f.display_name, ', ' ORDER BY f.display_name, f.id) AS names,
                                      count(*) AS shown
                                 FROM (SELECT u.display_name, u.id FROM room_members o JOIN users u ON u.id = o.user_id
                                        WHERE o.room_id = r.id AND o.user_id <> $1
                                          AND r.kind = 'group' AND r.name = '' AND mm.nickname = ''
                                          AND (NOT r.members_hidden OR r.created_by = $1
                                               OR EXISTS (SELECT 1 FROM users a WHERE a.id = $1 AND a.role = 'admin'))
                                        ORDER BY u.display_name, u.id LIMIT {SHOWN_NAMES}) f) dn
           LEFT JOIN LATERAL (SELECT {} FROM messages m {QUOTE_JOIN}
                               WHERE m.room_id = r.id AND m.seq = r.last_seq AND m.seq > mm.cleared_seq) lm ON true
          WHERE mm.user_id = $1 {filter}
          ORDER BY r.last_activity DESC, r.id DESC",
        message_columns(&format!("left(m.body, {PREVIEW_CHARS})"), Some(1))
    )
}

/// How many other members an unnamed group room's `display_name` names before " +N".
const SHOWN_NAMES: i64 = 3;

/// The room list of user `$1`, most recently active first (what `list_rooms` runs).
pub fn list_rooms_sql() -> String {
    summary_sql("")
}

/// The summary of one room `$2` for user `$1` (no row when not a member).
pub fn room_summary_sql() -> String {
    summary_sql("AND r.id = $2")
}

pub(crate) fn summary_from(row: &Row) -> RoomSummary {
    let last_seq: i64 = row.get(3);
    let last_read_seq: i64 = row.get(4);
    let has_last: Option<i64> = row.get(16);
    let member_count: i32 = row.get(8);
    RoomSummary {
        room_id: row.get(0),
        kind: row.get(1),
        name: row.get(2),
        last_seq,
        last_read_seq,
        unread: (last_seq - last_read_seq).max(0),
        last_activity_ms: row.get(5),
        last_message: has_last.map(|_| message_from(row, 16)),
        nickname: row.get(6),
        notifications: row.get(7),
        member_count: member_count as i64,
        peer_id: row.get(9),
        cleared_seq: row.get(10),
        display_name: row.get(11),
        members_hidden: row.get(12),
        created_by: row.get(13),
        change_seq: row.get(14),
        channel: row.get(15),
    }
}

/// The caller's summary of one room they are a member of.
pub(crate) async fn room_summary(
    client: &(impl GenericClient + Sync),
    user_id: &str,
    room_id: i64,
) -> Result<RoomSummary, NodeError> {
    let row = client
        .query_opt(&room_summary_sql(), &[&user_id, &room_id])
        .await?;
    match row {
        Some(row) => Ok(summary_from(&row)),
        None => Err(not_member(room_id)),
    }
}

/// Checks that every user exists and is not retired.
async fn require_active_users(
    client: &(impl GenericClient + Sync),
    user_ids: &[String],
) -> Result<(), NodeError> {
    let rows = client
        .query(
            "SELECT u, x.id IS NOT NULL, coalesce(x.retired_at <= now(), false)
               FROM unnest($1::text[]) AS u LEFT JOIN users x ON x.id = u",
            &[&user_ids],
        )
        .await?;
    let missing: Vec<String> = rows
        .iter()
        .filter(|r| !r.get::<_, bool>(1))
        .map(|r| r.get(0))
        .collect();
    if !missing.is_empty() {
        return Err(not_found(format!(
            "unknown users: {}",
            missing
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let retired: Vec<String> = rows
        .iter()
        .filter(|r| r.get::<_, bool>(2))
        .map(|r| r.get(0))
        .collect();
    if !retired.is_empty() {
        return Err(forbidden(format!(
            "retired users cannot join rooms: {}",
            retired
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

/// Locks a room's row for a membership change (or a pin); returns its kind and member count.
pub(crate) async fn lock_room(
    client: &(impl GenericClient + Sync),
    room_id: i64,
) -> Result<(String, i64), NodeError> {
    let row = client
        .query_opt(
            "SELECT kind, member_count FROM rooms WHERE id = $1 FOR UPDATE",
            &[&room_id],
        )
        .await?
        .ok_or_else(|| room_not_found(room_id))?;
    Ok((row.get(0), row.get::<_, i32>(1) as i64))
}

fn dedupe(ids: &[String], without: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        if id != without && seen.insert(id.as_str()) {
            out.push(id.clone());
        }
    }
    out
}

fn names(ids: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = ids
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        text.push_str(&format!(" and {} more", ids.len() - SHOWN));
    }
    text
}

impl Store {
    /// The user's rooms with unread counts and last message, most recently active first.
    pub async fn list_rooms(&self, user_id: &str) -> Result<Vec<RoomSummary>, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("list_rooms");
        let statement = client.prepare_cached(&list_rooms_sql()).await?;
        let rows = client.query(&statement, &[&user_id]).await?;
        Ok(rows.iter().map(summary_from).collect())
    }

    /// The caller's summary of one room (`not_found`, `not_member`).
    pub async fn room_summary(
        &self,
        user_id: &str,
        room_id: i64,
    ) -> Result<RoomSummary, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("room_summary");
        require_member(&**client, user_id, room_id).await?;
        room_summary(&**client, user_id, room_id).await
    }

    /// The 1:1 room of the caller and `peer`, created on first use. Returns the room, whether this call
    /// created it, and who became a member (both on creation; the caller when they had left it).
    ///
    /// Two nodes opening the same pair at once both try `INSERT … ON CONFLICT DO NOTHING` on `direct_pairs`:
    /// the second waits for the first to commit, inserts nothing, rolls back its own room and reads the winner.
    pub async fn open_direct(
        &self,
        user_id: &str,
        peer: &str,
    ) -> Result<(RoomSummary, bool, Vec<String>), NodeError> {
        let mut client = self.get().await?;
        let _query = crate::metrics::Timer::db("open_direct");
        active_caller(&**client, user_id).await?;
        require_active_users(&**client, &[peer.to_owned()]).await?;
        let (low, high) = if user_id < peer {
            (user_id, peer)
        } else {
            (peer, user_id)
        };
        for _ in 0..3 {
            let existing = client
                .query_opt(
                    "SELECT room_id FROM direct_pairs WHERE low_user = $1 AND high_user = $2",
                    &[&low, &high],
                )
                .await?;
            if let Some(row) = existing {
                let room_id: i64 = row.get(0);
                let rejoined = client
                    .execute(
                        "INSERT INTO room_members (room_id, user_id, last_read_seq)
                         SELECT id, $2, last_seq FROM rooms WHERE id = $1 ON CONFLICT DO NOTHING",
                        &[&room_id, &user_id],
                    )
                    .await?;
                let joined = if rejoined == 1 {
                    vec![user_id.to_owned()]
                } else {
                    Vec::new()
                };
                let summary = room_summary(&**client, user_id, room_id).await?;
                return Ok((summary, false, joined));
            }
            let tx = client.transaction().await?;
            // A direct room written before pairs were recorded (or by a seeding tool) is adopted, not doubled.
            let legacy: Option<i64> = tx
                .query_opt(
                    "SELECT r.id FROM rooms r
                       JOIN room_members a ON a.room_id = r.id AND a.user_id = $1
                       JOIN room_members b ON b.room_id = r.id AND b.user_id = $2
                      WHERE r.kind = 'direct' AND NOT EXISTS (SELECT 1 FROM direct_pairs d WHERE d.room_id = r.id)
                      ORDER BY r.id LIMIT 1",
                    &[&low, &high],
                )
                .await?
                .map(|r| r.get(0));
            let room_id: i64 = match legacy {
                Some(id) => id,
                None => tx
                    .query_one(
                        "INSERT INTO rooms (kind, created_by) VALUES ('direct', $1) RETURNING id",
                        &[&user_id],
                    )
                    .await?
                    .get(0),
            };
            let won = tx
                .query_opt(
                    "INSERT INTO direct_pairs (low_user, high_user, room_id) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING RETURNING room_id",
                    &[&low, &high, &room_id],
                )
                .await?;
            if won.is_none() {
                // Another node opened this pair first: use its room.
                tx.rollback().await?;
                continue;
            }
            if legacy.is_none() {
                tx.execute(
                    "INSERT INTO room_members (room_id, user_id) VALUES ($1, $2), ($1, $3)",
                    &[&room_id, &low, &high],
                )
                .await?;
            }
            tx.commit().await?;
            let summary = room_summary(&**client, user_id, room_id).await?;
            let joined = if legacy.is_none() {
                vec![low.to_owned(), high.to_owned()]
            } else {
                Vec::new()
            };
            return Ok((summary, legacy.is_none(), joined));
        }
        Err(NodeError::Internal(
            "direct pair kept changing while opening it".into(),
        ))
    }

    /// A new group room with the caller and `others`, and its `create` system message (seq 1, read by all);
    /// or, when a group room of the caller already has exactly these members (caller included), the most
    /// recently active such room and no change (`None`).
    ///
    /// Two creates of the same member set take turns on a transaction advisory lock keyed by the sorted set, so
    /// the second finds the first's room instead of making a twin.
    pub async fn create_group(
        &self,
        user_id: &str,
        name: &str,
        others: &[String],
        max_members: u32,
    ) -> Result<(RoomSummary, Option<MembershipChange>), NodeError> {
        let others = dedupe(others, user_id);
        if others.len() + 1 > max_members as usize {
            return Err(forbidden(format!(
                "a room holds at most {max_members} members; add the others with invite once the limit allows"
            )));
        }
        let mut client = self.get().await?;
        let _query = crate::metrics::Timer::db("create_group");
        active_caller(&**client, user_id).await?;
        require_active_users(&**client, &others).await?;
        let mut set = others.clone();
        set.push(user_id.to_owned());
        set.sort();
        let tx = client.transaction().await?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('create_group:' || array_to_string($1::text[], ','), 0))",
            &[&set],
        )
        .await?;
        // Rooms of the caller with as many members as the set, none of them outside it: the same set.
        let existing: Option<i64> = tx
            .query_opt(
                "SELECT r.id FROM room_members me JOIN rooms r ON r.id = me.room_id
                  WHERE me.user_id = $1 AND r.kind = 'group' AND r.member_count = $2
                    AND NOT EXISTS (SELECT 1 FROM room_members o
                                     WHERE o.room_id = r.id AND o.user_id <> ALL ($3::text[]))
                  ORDER BY r.last_activity DESC, r.id DESC LIMIT 1",
                &[&user_id, &(set.len() as i32), &set],
            )
            .await?
            .map(|r| r.get(0));
        if let Some(room_id) = existing {
            tx.commit().await?;
            let summary = room_summary(&**client, user_id, room_id).await?;
            return Ok((summary, None));
        }
        let room_id: i64 = tx
            .query_one(
                "INSERT INTO rooms (kind, name, created_by) VALUES ('group', $1, $2) RETURNING id",
                &[&name, &user_id],
            )
            .await?
            .get(0);
        let mut members = others.clone();
        members.push(user_id.to_owned());
        tx.execute(
            "INSERT INTO room_members (room_id, user_id, last_read_seq) SELECT $1, u, 1 FROM unnest($2::text[]) u",
            &[&room_id, &members],
        )
        .await?;
        let body = if others.is_empty() {
            format!("{user_id} created the room")
        } else {
            format!("{user_id} created the room with {}", names(&others))
        };
        let event = SystemEvent {
            action: SystemAction::Create,
            actor: user_id.to_owned(),
            users: others,
            name: Some(name.to_owned()),
            seq: None,
            members_hidden: None,
        };
        let message = system_message(&*tx, room_id, event, body).await?;
        tx.commit().await?;
        let summary = room_summary(&**client, user_id, room_id).await?;
        Ok((summary, Some(MembershipChange::joining(message, members))))
    }

    /// Adds users to a group room, up to `max_members`, with an `invite` system message. New members start with
    /// everything up to that message read.
    pub async fn invite(
        &self,
        user_id: &str,
        room_id: i64,
        user_ids: &[String],
        max_members: u32,
    ) -> Result<MembershipChange, NodeError> {
        let wanted = dedupe(user_ids, "");
        let mut client = self.get().await?;
        let _query = crate::metrics::Timer::db("invite");
        let tx = client.transaction().await?;
        let (kind, count) = lock_room(&*tx, room_id).await?;
        require_member(&*tx, user_id, room_id).await?;
        if kind != "group" {
            return Err(forbidden(
                "direct rooms have exactly two members: create a group room instead",
            ));
        }
        require_active_users(&*tx, &wanted).await?;
        let added: Vec<String> = tx
            .query(
                "SELECT u FROM unnest($2::text[]) WITH ORDINALITY AS w(u, i)
                  WHERE NOT EXISTS (SELECT 1 FROM room_members m WHERE m.room_id = $1 AND m.user_id = w.u)
                  ORDER BY i",
                &[&room_id, &wanted],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if added.is_empty() {
            return Err(conflict("every user named is already a member"));
        }
        if count + added.len() as i64 > max_members as i64 {
            return Err(forbidden(format!(
                "the room would have {} members; the limit is {max_members}",
                count + added.len() as i64
            )));
        }
        let body = format!("{user_id} invited {}", names(&added));
        let event = SystemEvent {
            action: SystemAction::Invite,
            actor: user_id.to_owned(),
            users: added.clone(),
            name: None,
            seq: None,
            members_hidden: None,
        };
        let message = system_message(&*tx, room_id, event, body).await?;
        tx.execute(
            "INSERT INTO room_members (room_id, user_id, last_read_seq) SELECT $1, u, $3 FROM unnest($2::text[]) u",
            &[&room_id, &added, &message.seq],
        )
        .await?;
        tx.commit().await?;
        Ok(MembershipChange {
            message,
            joined: added,
            left: Vec::new(),
        })
    }

    /// The caller leaves a room (a `leave` system message stays in its history for the others).
    pub async fn leave(&self, user_id: &str, room_id: i64) -> Result<MembershipChange, NodeError> {
        let mut client = self.get().await?;
        let _query = crate::metrics::Timer::db("leave");
        let tx = client.transaction().await?;
        lock_room(&*tx, room_id).await?;
        let deleted = tx
            .execute(
                "DELETE FROM room_members WHERE room_id = $1 AND user_id = $2",
                &[&room_id, &user_id],
            )
            .await?;
        if deleted == 0 {
            return Err(not_member(room_id));
        }
        let event = SystemEvent {
            action: SystemAction::Leave,
            actor: user_id.to_owned(),
            users: Vec::new(),
            name: None,
            seq: None,
            members_hidden: None,
        };
        let message = system_message(&*tx, room_id, event, format!("{user_id} left")).await?;
        tx.commit().await?;
        Ok(MembershipChange {
            message,
            joined: Vec::new(),
            left: vec![user_id.to_owned()],
        })
    }

    /// Removes `target` from a room. Allowed to admins (members or not), and to any member when the target is
    /// retired.
    pub async fn remove_member(
        &self,
        user_id: &str,
        room_id: i64,
        target: &str,
    ) -> Result<MembershipChange, NodeError> {
        if target == user_id {
            return Err(bad_args("to remove yourself, use leave"));
        }
        let mut client = self.get().await?;
        let _query = crate::metrics::Timer::db("remove_member");
        let tx = client.transaction().await?;
        lock_room(&*tx, room_id).await?;
        let caller = active_caller(&*tx, user_id).await?;
        if !caller.is_admin() {
            require_member(&*tx, user_id, room_id).await?;
        }
        let target_retired: bool = tx
            .query_opt(
                "SELECT u.retired_at IS NOT NULL AND u.retired_at <= now()
                   FROM room_members m JOIN users u ON u.id = m.user_id
                  WHERE m.room_id = $1 AND m.user_id = $2",
                &[&room_id, &target],
            )
            .await?
            .ok_or_else(|| not_found(format!("{target} is not a member of room {room_id}")))?
            .get(0);
        if !caller.is_admin() && !target_retired {
            return Err(forbidden(
                "only admins may remove active members; any member may remove a retired one",
            ));
        }
        tx.execute(
            "DELETE FROM room_members WHERE room_id = $1 AND user_id = $2",
            &[&room_id, &target],
        )
        .await?;
        let event = SystemEvent {
            action: SystemAction::Remove,
            actor: user_id.to_owned(),
            users: vec![target.to_owned()],
            name: None,
            seq: None,
            members_hidden: None,
        };
        let body = format!("{user_id} removed {target}");
        let message = system_message(&*tx, room_id, event, body).await?;
        tx.commit().await?;
        Ok(MembershipChange {
            message,
            joined: Vec::new(),
            left: vec![target.to_owned()],
        })
    }

    /// Renames a group room, with a `rename` system message.
    pub async fn rename_room(
        &self,
        user_id: &str,
        room_id: i64,
        name: &str,
    ) -> Result<Message, NodeError> {
        let mut client = self.get().await?;
        let _query = crate::metrics::Timer::db("rename_room");
        let tx = client.transaction().await?;
        let (kind, _) = lock_room(&*tx, room_id).await?;
        require_member(&*tx, user_id, room_id).await?;
        if kind != "group" {
            return Err(forbidden(
                "direct rooms have no name; set a nickname with set_room_prefs",
            ));
        }
        tx.execute(
            "UPDATE rooms SET name = $2 WHERE id = $1",
            &[&room_id, &name],
        )
        .await?;
        let event = SystemEvent {
            action: SystemAction::Rename,
            actor: user_id.to_owned(),
            users: Vec::new(),
            name: Some(name.to_owned()),
            seq: None,
            members_hidden: None,
        };
        let body = format!("{user_id} renamed the room to {name}");
        let message = system_message(&*tx, room_id, event, body).await?;
        tx.commit().await?;
        Ok(message)
    }

    /// Hides or shows a group room's member list, with a `room_options` system message. Allowed to the room's
    /// creator (a member) and to admins (members or not); `conflict` when the option already has that value.
    pub async fn set_room_options(
        &self,
        user_id: &str,
        room_id: i64,
        members_hidden: bool,
    ) -> Result<Message, NodeError> {
        let mut client = self.get().await?;
        let _query = crate::metrics::Timer::db("set_room_options");
        let tx = client.transaction().await?;
        lock_room(&*tx, room_id).await?;
        let caller = active_caller(&*tx, user_id).await?;
        if !caller.is_admin() {
            require_member(&*tx, user_id, room_id).await?;
        }
        let row = tx
            .query_one(
                "SELECT kind, created_by IS NOT DISTINCT FROM $2, members_hidden FROM rooms WHERE id = $1",
                &[&room_id, &user_id],
            )
            .await?;
        let (kind, creator, hidden): (String, bool, bool) = (row.get(0), row.get(1), row.get(2));
        if kind != "group" {
            return Err(forbidden("direct rooms have no room options"));
        }
        if !caller.is_admin() && !creator {
            return Err(forbidden(
                "only the room's creator or an admin may change its options",
            ));
        }
        if hidden == members_hidden {
            return Err(conflict(if members_hidden {
                "the member list is already hidden"
            } else {
                "the member list is already shown"
            }));
        }
        tx.execute(
            "UPDATE rooms SET members_hidden = $2 WHERE id = $1",
            &[&room_id, &members_hidden],
        )
        .await?;
        let event = SystemEvent {
            action: SystemAction::RoomOptions,
            actor: user_id.to_owned(),
            users: Vec::new(),
            name: None,
            seq: None,
            members_hidden: Some(members_hidden),
        };
        let body = if members_hidden {
            format!("{user_id} hid the member list")
        } else {
            format!("{user_id} showed the member list")
        };
        let message = system_message(&*tx, room_id, event, body).await?;
        tx.commit().await?;
        Ok(message)
    }

    /// Sets the caller's own nickname for a room and/or its notification switch; returns both as now stored.
    pub async fn set_room_prefs(
        &self,
        user_id: &str,
        room_id: i64,
        nickname: Option<&str>,
        notifications: Option<bool>,
    ) -> Result<(String, bool), NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("set_room_prefs");
        require_member(&**client, user_id, room_id).await?;
        let row = client
            .query_opt(
                "UPDATE room_members SET nickname = coalesce($3, nickname), notifications = coalesce($4, notifications)
                  WHERE room_id = $1 AND user_id = $2 RETURNING nickname, notifications",
                &[&room_id, &user_id, &nickname, &notifications],
            )
            .await?
            .ok_or_else(|| not_member(room_id))?;
        Ok((row.get(0), row.get(1)))
    }

    /// A page of a room's members ordered by user id, after `after`; and whether more follow.
    pub async fn room_members(
        &self,
        user_id: &str,
        room_id: i64,
        after: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<RoomMember>, bool), NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("room_members");
        require_member(&**client, user_id, room_id).await?;
        // While the list is hidden, members other than the creator and admins see only themselves.
        let rows = client
            .query(
                "SELECT m.user_id, u.display_name, m.last_read_seq,
                        u.retired_at IS NOT NULL AND u.retired_at <= now()
                   FROM room_members m JOIN users u ON u.id = m.user_id
                  WHERE m.room_id = $1 AND m.user_id > $2
                    AND (m.user_id = $4
                         OR NOT EXISTS (SELECT 1 FROM rooms r WHERE r.id = $1 AND r.members_hidden
                                          AND r.created_by IS DISTINCT FROM $4
                                          AND NOT EXISTS (SELECT 1 FROM users a WHERE a.id = $4 AND a.role = 'admin')))
                  ORDER BY m.user_id LIMIT $3",
                &[&room_id, &after.unwrap_or(""), &(limit as i64 + 1), &user_id],
            )
            .await?;
        let has_more = rows.len() > limit as usize;
        Ok((
            rows.iter()
                .take(limit as usize)
                .map(|r| RoomMember {
                    user_id: r.get(0),
                    name: r.get(1),
                    last_read_seq: r.get(2),
                    retired: r.get(3),
                })
                .collect(),
            has_more,
        ))
    }
}
