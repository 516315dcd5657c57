//! The organisation tree and the user directory: children of a unit (lazy loading, so a 10 000-user tree
//! never travels at once), a unit's users page by page, search by name, profiles, and self-service profile
//! fields. Everyone may read the directory; only the user edits their own fields (the HR import owns the rest).

use sendjay_common::protocol::{OrgUnit, ProfilePatch, UserProfile};
use tokio_postgres::Row;

use super::{active_caller, bad_args, not_found, Store};
use crate::error::NodeError;

const PROFILE_COLUMNS: &str = "u.id, u.display_name, u.unit_id, coalesce(o.name, ''), u.nickname, u.job, u.phone,
     u.absence_code, u.absence_text, to_char(u.absence_from, 'YYYY-MM-DD'), to_char(u.absence_to, 'YYYY-MM-DD'),
     u.role, u.retired_at IS NOT NULL AND u.retired_at <= now()";

const ACTIVE: &str = "(u.retired_at IS NULL OR u.retired_at > now())";

fn profile_from(row: &Row) -> UserProfile {
    UserProfile {
        user_id: row.get(0),
        name: row.get(1),
        unit_id: row.get(2),
        unit_name: row.get(3),
        nickname: row.get(4),
        job: row.get(5),
        phone: row.get(6),
        absence_code: row.get(7),
        absence_text: row.get(8),
        absence_from: row.get(9),
        absence_to: row.get(10),
        role: row.get(11),
        retired: row.get(12),
    }
}

fn unit_from(row: &Row) -> OrgUnit {
    OrgUnit {
        id: row.get(0),
        parent_id: row.get(1),
        name: row.get(2),
        depth: row.get(3),
        sort_order: row.get(4),
        child_count: row.get(5),
        member_count: row.get(6),
    }
}

impl Store {
    /// The units in use directly under `parent` (top-level units when `None`), by sort order then name.
    pub async fn org_units(&self, parent: Option<&str>) -> Result<Vec<OrgUnit>, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("org_units");
        let select = format!(
            "SELECT o.id, o.parent_id, o.name, o.depth, o.sort_order,
                    (SELECT count(*) FROM org_units c WHERE c.parent_id = o.id AND c.in_use),
                    (SELECT count(*) FROM users u WHERE u.unit_id = o.id AND {ACTIVE})
               FROM org_units o"
        );
        let rows = match parent {
            None => {
                client
                    .query(
                        &format!("{select} WHERE o.parent_id IS NULL AND o.in_use ORDER BY o.sort_order, o.name, o.id"),
                        &[],
                    )
                    .await?
            }
            Some(parent) => {
                let exists = client
                    .query_opt("SELECT 1 FROM org_units WHERE id = $1", &[&parent])
                    .await?
                    .is_some();
                if !exists {
                    return Err(not_found(format!("unit {parent} does not exist")));
                }
                client
                    .query(
                        &format!("{select} WHERE o.parent_id = $1 AND o.in_use ORDER BY o.sort_order, o.name, o.id"),
                        &[&parent],
                    )
                    .await?
            }
        };
        Ok(rows.iter().map(unit_from).collect())
    }

    /// A page of a unit's active users by name then id, after user `after`; and whether more follow.
    pub async fn unit_members(
        &self,
        unit_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<UserProfile>, bool), NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("unit_members");
        let exists = client
            .query_opt("SELECT 1 FROM org_units WHERE id = $1", &[&unit_id])
            .await?
            .is_some();
        if !exists {
            return Err(not_found(format!("unit {unit_id} does not exist")));
        }
        let fetch = limit as i64 + 1;
        let rows = match after {
            None => {
                client
                    .query(
                        &format!(
                            "SELECT {PROFILE_COLUMNS} FROM users u LEFT JOIN org_units o ON o.id = u.unit_id
                              WHERE u.unit_id = $1 AND {ACTIVE}
                              ORDER BY u.display_name, u.id LIMIT $2"
                        ),
                        &[&unit_id, &fetch],
                    )
                    .await?
            }
            Some(after) => {
                let key = client
                    .query_opt(
                        "SELECT display_name, id FROM users WHERE id = $1",
                        &[&after],
                    )
                    .await?
                    .ok_or_else(|| bad_args(format!("after: unknown user {after}")))?;
                let (name, id): (String, String) = (key.get(0), key.get(1));
                client
                    .query(
                        &format!(
                            "SELECT {PROFILE_COLUMNS} FROM users u LEFT JOIN org_units o ON o.id = u.unit_id
                              WHERE u.unit_id = $1 AND {ACTIVE} AND (u.display_name, u.id) > ($3, $4)
                              ORDER BY u.display_name, u.id LIMIT $2"
                        ),
                        &[&unit_id, &fetch, &name, &id],
                    )
                    .await?
            }
        };
        let has_more = rows.len() > limit as usize;
        Ok((
            rows.iter().take(limit as usize).map(profile_from).collect(),
            has_more,
        ))
    }

    /// Active users whose name contains `query` (case-insensitive, any script), by name then id.
    pub async fn search_users(
        &self,
        query: &str,
        limit: u32,
    ) -> Result<Vec<UserProfile>, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("search_users");
        let rows = client
            .query(
                &format!(
                    "SELECT {PROFILE_COLUMNS} FROM users u LEFT JOIN org_units o ON o.id = u.unit_id
                      WHERE sj_search_key(u.display_name) LIKE sj_search_pattern($1)
                        AND strpos(lower(u.display_name), lower($1)) > 0 AND {ACTIVE}
                      ORDER BY u.display_name, u.id LIMIT $2"
                ),
                &[&query, &(limit as i64)],
            )
            .await?;
        Ok(rows.iter().map(profile_from).collect())
    }

    /// Profiles of the users that exist among `user_ids` (retired ones included), in the order asked.
    pub async fn get_users(&self, user_ids: &[String]) -> Result<Vec<UserProfile>, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("get_users");
        let rows = client
            .query(
                &format!(
                    "SELECT {PROFILE_COLUMNS} FROM unnest($1::text[]) WITH ORDINALITY AS w(id, i)
                       JOIN users u ON u.id = w.id LEFT JOIN org_units o ON o.id = u.unit_id
                      ORDER BY w.i"
                ),
                &[&user_ids],
            )
            .await?;
        Ok(rows.iter().map(profile_from).collect())
    }

    /// `(user id, mobile app installed)` of the users that exist among `user_ids`, in the order asked.
    pub async fn mobile_installed(
        &self,
        user_ids: &[String],
    ) -> Result<Vec<(String, bool)>, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("mobile_installed");
        let rows = client
            .query(
                "SELECT u.id, u.mobile_installed FROM unnest($1::text[]) WITH ORDINALITY AS w(id, i)
                   JOIN users u ON u.id = w.id ORDER BY w.i",
                &[&user_ids],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Changes the caller's own profile fields (validated by the caller) and returns the profile.
    pub async fn update_profile(
        &self,
        user_id: &str,
        patch: &ProfilePatch,
    ) -> Result<UserProfile, NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("update_profile");
        active_caller(&**client, user_id).await?;
        // "" clears a date; absent keeps it.
        let date = |d: &Option<String>| -> (bool, Option<String>) {
            match d.as_deref() {
                None => (false, None),
                Some("") => (true, None),
                Some(d) => (true, Some(d.to_owned())),
            }
        };
        let (set_from, from) = date(&patch.absence_from);
        let (set_to, to) = date(&patch.absence_to);
        client
            .execute(
                "UPDATE users SET
                    nickname = coalesce($2, nickname), job = coalesce($3, job), phone = coalesce($4, phone),
                    absence_code = coalesce($5, absence_code), absence_text = coalesce($6, absence_text),
                    absence_from = CASE WHEN $7 THEN $8::text::date ELSE absence_from END,
                    absence_to = CASE WHEN $9 THEN $10::text::date ELSE absence_to END,
                    updated_at = now()
                  WHERE id = $1",
                &[
                    &user_id,
                    &patch.nickname,
                    &patch.job,
                    &patch.phone,
                    &patch.absence_code,
                    &patch.absence_text,
                    &set_from,
                    &from,
                    &set_to,
                    &to,
                ],
            )
            .await?;
        drop(client);
        let mut users = self.get_users(&[user_id.to_owned()]).await?;
        users
            .pop()
            .ok_or_else(|| not_found(format!("user {user_id} does not exist")))
    }
}
