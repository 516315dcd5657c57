//! Load-test data: many users, group rooms and two-member rooms under a prefix, created in a few set-based
//! statements (`generate_series`, `UNNEST`) so 20 000 users take about a second, and removed again with
//! `--cleanup`. Idempotent: running it twice leaves one copy; running it with more users or rooms adds the
//! missing ones.
//!
//! Naming, so that a load generator can derive everything from the printed description:
//!
//! * user `n` (1-based) is `<prefix>-<n zero-padded to 6 digits>`, e.g. `lt-000042`; every seeded user has
//!   the passkey [`LOAD_PASSKEY`] (tokens minted with the cluster's JWT secret and that passkey pass the
//!   node's passkey check) and the password [`LOAD_PASSWORD`];
//! * group `g` (0-based) of size `K` is the group room named `<prefix>:g<K>:<g>` with users
//!   `g*K + 1 ..= g*K + K`;
//! * pair `p` (0-based) is the direct room named `<prefix>:p:<p>` with users `2p + 1` and `2p + 2`.

use deadpool_postgres::Pool;
use serde::Serialize;

use crate::accounts;
use crate::error::RouterError;

/// The passkey of every load-test user.
pub const LOAD_PASSKEY: &str = "lt-passkey";
/// The password of every load-test user (for scenarios that log in through the router).
pub const LOAD_PASSWORD: &str = "lt-password";
/// Digits of the zero-padded user number.
pub const USER_DIGITS: usize = 6;

/// What to create.
#[derive(Debug, Clone)]
pub struct LoadSeedSpec {
    /// Prefix of user ids and room names (letters, digits, `_`; 1–16 characters).
    pub prefix: String,
    /// Users `1..=users`.
    pub users: u32,
    /// Members per group room.
    pub group_size: u32,
    /// Number of group rooms.
    pub groups: u32,
    /// Number of two-member rooms.
    pub pairs: u32,
}

/// A range of users `first ..= first + count - 1`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserRange {
    /// The first user number.
    pub first: u32,
    /// How many.
    pub count: u32,
}

/// One seeded group room.
#[derive(Debug, Clone, Serialize)]
pub struct SeededGroup {
    /// The room id.
    pub room_id: i64,
    /// Its members (a range of user numbers).
    pub members: UserRange,
}

/// One seeded two-member room.
#[derive(Debug, Clone, Serialize)]
pub struct SeededPair {
    /// The room id.
    pub room_id: i64,
    /// Its two members' user numbers.
    pub members: [u32; 2],
}

/// The printed description of what exists (not only what was new).
#[derive(Debug, Clone, Serialize)]
pub struct LoadSeedDescription {
    /// The prefix.
    pub prefix: String,
    /// `format!("{prefix}-{n:0width$}")` gives user `n`'s id.
    pub user_id_format: String,
    /// Digits of the user number.
    pub width: usize,
    /// Passkey of every seeded user.
    pub passkey: String,
    /// Password of every seeded user.
    pub password: String,
    /// The users.
    pub users: UserRange,
    /// Group rooms, in index order.
    pub groups: Vec<SeededGroup>,
    /// Two-member rooms, in index order.
    pub pairs: Vec<SeededPair>,
    /// Users inserted by this run.
    pub new_users: u64,
    /// Rooms inserted by this run.
    pub new_rooms: u64,
    /// Memberships inserted by this run.
    pub new_members: u64,
}

/// What `--cleanup` removed.
#[derive(Debug, Clone, Serialize)]
pub struct LoadCleanup {
    /// The prefix.
    pub prefix: String,
    /// Messages deleted.
    pub messages: u64,
    /// Memberships deleted.
    pub members: u64,
    /// Rooms deleted.
    pub rooms: u64,
    /// Users deleted.
    pub users: u64,
}

/// User `n`'s id.
pub fn user_id(prefix: &str, n: u32) -> String {
    format!("{prefix}-{n:0USER_DIGITS$}")
}

fn check_prefix(prefix: &str) -> Result<(), RouterError> {
    let ok = !prefix.is_empty()
        && prefix.len() <= 16
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(RouterError::Config(
            "--prefix must be 1 to 16 letters, digits or `_`".into(),
        ))
    }
}

impl LoadSeedSpec {
    /// Checks that the rooms fit in the users.
    pub fn validate(&self) -> Result<(), RouterError> {
        check_prefix(&self.prefix)?;
        if self.users == 0 || self.users >= 10u32.pow(USER_DIGITS as u32) {
            return Err(RouterError::Config(format!(
                "--users must be between 1 and {}",
                10u32.pow(USER_DIGITS as u32) - 1
            )));
        }
        if self.groups > 0 && self.group_size < 2 {
            return Err(RouterError::Config(
                "--group-size must be at least 2".into(),
            ));
        }
        if u64::from(self.groups) * u64::from(self.group_size) > u64::from(self.users) {
            return Err(RouterError::Config(format!(
                "--groups {} × --group-size {} needs more than --users {}: every user is in at most one group",
                self.groups, self.group_size, self.users
            )));
        }
        if u64::from(self.pairs) * 2 > u64::from(self.users) {
            return Err(RouterError::Config(format!(
                "--pairs {} needs {} users but --users is {}",
                self.pairs,
                u64::from(self.pairs) * 2,
                self.users
            )));
        }
        Ok(())
    }
}

/// Creates what is missing and describes everything.
pub async fn seed_load(
    pool: &Pool,
    spec: &LoadSeedSpec,
) -> Result<LoadSeedDescription, RouterError> {
    spec.validate()?;
    // One argon2 hash shared by every load user: hashing 20 000 passwords would take minutes.
    let hash = accounts::hash_password(LOAD_PASSWORD)?;
    let prefix = spec.prefix.as_str();
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let new_users = tx
        .execute(
            "INSERT INTO users (id, display_name, unit_id, password_hash, passkey)
             SELECT format('%s-%s', $1::text, lpad(i::text, $2::int, '0')), format('Load user %s', i), NULL, $3, $4
               FROM generate_series(1, $5::int) AS i
             ON CONFLICT (id) DO UPDATE SET passkey = EXCLUDED.passkey, retired_at = NULL, updated_at = now()
               WHERE users.passkey <> EXCLUDED.passkey OR users.retired_at IS NOT NULL",
            &[
                &prefix,
                &(USER_DIGITS as i32),
                &hash,
                &LOAD_PASSKEY,
                &(spec.users as i32),
            ],
        )
        .await?;

    // Rooms are found by name; names under the prefix are read once, the missing ones inserted in one go.
    let group_names: Vec<String> = (0..spec.groups)
        .map(|g| format!("{prefix}:g{}:{g}", spec.group_size))
        .collect();
    let pair_names: Vec<String> = (0..spec.pairs).map(|p| format!("{prefix}:p:{p}")).collect();
    let mut existing = std::collections::HashMap::<String, i64>::new();
    for row in tx
        .query(
            "SELECT id, name FROM rooms WHERE left(name, length($1::text) + 1) = $1::text || ':'",
            &[&prefix],
        )
        .await?
    {
        existing.insert(row.get(1), row.get(0));
    }
    let mut new_rooms = 0u64;
    for (kind, names) in [("group", &group_names), ("direct", &pair_names)] {
        let missing: Vec<&str> = names
            .iter()
            .filter(|n| !existing.contains_key(n.as_str()))
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            continue;
        }
        for row in tx
            .query(
                "INSERT INTO rooms (kind, name) SELECT $1::text, n FROM UNNEST($2::text[]) WITH ORDINALITY AS t(n, o)
                 ORDER BY o RETURNING id, name",
                &[&kind, &missing],
            )
            .await?
        {
            existing.insert(row.get(1), row.get(0));
            new_rooms += 1;
        }
    }

    let mut groups = Vec::with_capacity(spec.groups as usize);
    let mut pairs = Vec::with_capacity(spec.pairs as usize);
    let mut member_rooms: Vec<i64> = Vec::new();
    let mut member_users: Vec<String> = Vec::new();
    for (g, name) in group_names.iter().enumerate() {
        let room_id = existing[name];
        let first = g as u32 * spec.group_size + 1;
        for n in first..first + spec.group_size {
            member_rooms.push(room_id);
            member_users.push(user_id(prefix, n));
        }
        groups.push(SeededGroup {
            room_id,
            members: UserRange {
                first,
                count: spec.group_size,
            },
        });
    }
    for (p, name) in pair_names.iter().enumerate() {
        let room_id = existing[name];
        let members = [2 * p as u32 + 1, 2 * p as u32 + 2];
        for n in members {
            member_rooms.push(room_id);
            member_users.push(user_id(prefix, n));
        }
        pairs.push(SeededPair { room_id, members });
    }
    let mut new_members = 0u64;
    for (rooms, users) in member_rooms.chunks(50_000).zip(member_users.chunks(50_000)) {
        new_members += tx
            .execute(
                "INSERT INTO room_members (room_id, user_id)
                 SELECT r, u FROM UNNEST($1::bigint[], $2::text[]) AS t(r, u)
                 ON CONFLICT DO NOTHING",
                &[&rooms, &users],
            )
            .await?;
    }
    tx.commit().await?;
    Ok(LoadSeedDescription {
        prefix: prefix.to_owned(),
        user_id_format: format!("{prefix}-{{n:0{USER_DIGITS}}}"),
        width: USER_DIGITS,
        passkey: LOAD_PASSKEY.to_owned(),
        password: LOAD_PASSWORD.to_owned(),
        users: UserRange {
            first: 1,
            count: spec.users,
        },
        groups,
        pairs,
        new_users,
        new_rooms,
        new_members,
    })
}

/// Removes everything a prefix created: messages in its rooms or by its users, memberships, rooms, users.
/// (Deleting its users' messages from other rooms leaves gaps in those rooms' seqs: run it on load-test
/// databases only.)
pub async fn cleanup_load(pool: &Pool, prefix: &str) -> Result<LoadCleanup, RouterError> {
    check_prefix(prefix)?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute(
        "CREATE TEMP TABLE lt_rooms ON COMMIT DROP AS
           SELECT id FROM rooms WHERE left(name, length($1::text) + 1) = $1::text || ':'",
        &[&prefix],
    )
    .await?;
    let users = "left(user_id, length($1::text) + 1) = $1::text || '-'";
    // Search keys have no foreign key (migration 0014): they go with their messages here.
    let messages: i64 = tx
        .query_one(
            "WITH gone AS (
                 DELETE FROM messages WHERE room_id IN (SELECT id FROM lt_rooms)
                     OR left(sender_id, length($1::text) + 1) = $1::text || '-'
                 RETURNING room_id, seq),
             keys AS (DELETE FROM message_search_keys k USING gone g WHERE k.room_id = g.room_id AND k.seq = g.seq)
             SELECT count(*) FROM gone",
            &[&prefix],
        )
        .await?
        .get(0);
    let messages = messages as u64;
    let members = tx
        .execute(
            &format!(
                "DELETE FROM room_members WHERE room_id IN (SELECT id FROM lt_rooms) OR {users}"
            ),
            &[&prefix],
        )
        .await?;
    let rooms = tx
        .execute(
            "DELETE FROM rooms WHERE id IN (SELECT id FROM lt_rooms)",
            &[],
        )
        .await?;
    tx.execute(
        &format!("DELETE FROM refresh_tokens WHERE {users}"),
        &[&prefix],
    )
    .await?;
    let deleted_users = tx
        .execute(
            "DELETE FROM users WHERE left(id, length($1::text) + 1) = $1::text || '-'",
            &[&prefix],
        )
        .await?;
    tx.commit().await?;
    Ok(LoadCleanup {
        prefix: prefix.to_owned(),
        messages,
        members,
        rooms,
        users: deleted_users,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(users: u32, group_size: u32, groups: u32, pairs: u32) -> LoadSeedSpec {
        LoadSeedSpec {
            prefix: "lt".into(),
            users,
            group_size,
            groups,
            pairs,
        }
    }

    #[test]
    fn ids_and_limits() {
        assert_eq!(user_id("lt", 42), "lt-000042");
        assert!(spec(100, 10, 10, 50).validate().is_ok());
        assert!(spec(100, 10, 11, 0).validate().is_err());
        assert!(spec(100, 0, 0, 51).validate().is_err());
        assert!(spec(0, 0, 0, 0).validate().is_err());
        let mut bad = spec(10, 0, 0, 0);
        bad.prefix = "a-b".into();
        assert!(bad.validate().is_err());
    }
}
