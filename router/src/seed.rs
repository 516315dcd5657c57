//! Demo data for the local cluster: an organisation, users with a known password, a group room and 1:1 rooms.
//! Idempotent: running it twice leaves one copy.

use deadpool_postgres::Pool;

use crate::accounts;
use crate::error::RouterError;

/// The password of every demo user.
pub const DEMO_PASSWORD: &str = "sendjay";
/// The named demo users (id, display name, unit).
pub const DEMO_USERS: [(&str, &str, &str); 4] = [
    ("alice", "Alice Kim", "eng"),
    ("bob", "Bob Lee", "eng"),
    ("carol", "Carol Park", "sales"),
    ("dave", "Dave Choi", "sales"),
];

/// What seeding created.
#[derive(Debug, Default)]
pub struct Seeded {
    /// Users inserted (existing ones are left alone).
    pub users: u64,
    /// Rooms inserted.
    pub rooms: u64,
}

/// Seeds the demo organisation plus `extra_users` generated users (`user0001`…) in the general room.
pub async fn seed_demo(pool: &Pool, extra_users: u32) -> Result<Seeded, RouterError> {
    // One hash for all demo users: hashing thousands of passwords one by one would take minutes.
    let hash = accounts::hash_password(DEMO_PASSWORD)?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.batch_execute(
        "INSERT INTO org_units (id, parent_id, name, sort_order, depth) VALUES
            ('acme', NULL, 'Acme Corp', 0, 0),
            ('eng', 'acme', 'Engineering', 1, 1),
            ('sales', 'acme', 'Sales', 2, 1)
         ON CONFLICT (id) DO NOTHING",
    )
    .await?;
    let mut seeded = Seeded::default();
    for (id, name, unit) in DEMO_USERS {
        seeded.users += tx
            .execute(
                "INSERT INTO users (id, display_name, unit_id, password_hash, passkey)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
                &[
                    &id,
                    &name,
                    &unit,
                    &hash,
                    &sendjay_common::ids::new_passkey(),
                ],
            )
            .await?;
    }
    seeded.users += tx
        .execute(
            "INSERT INTO users (id, display_name, unit_id, password_hash, passkey)
             SELECT format('user%s', lpad(i::text, 4, '0')), format('User %s', i), 'eng', $1, md5(random()::text)
               FROM generate_series(1, $2::int) AS i
             ON CONFLICT (id) DO NOTHING",
            &[&hash, &(extra_users as i32)],
        )
        .await?;
    let general: Option<i64> = tx
        .query_opt(
            "SELECT id FROM rooms WHERE kind = 'group' AND name = 'General'",
            &[],
        )
        .await?
        .map(|r| r.get(0));
    let general = match general {
        Some(id) => id,
        None => {
            seeded.rooms += 1;
            tx.query_one(
                "INSERT INTO rooms (kind, name) VALUES ('group', 'General') RETURNING id",
                &[],
            )
            .await?
            .get(0)
        }
    };
    tx.execute(
        "INSERT INTO room_members (room_id, user_id)
         SELECT $1, id FROM users WHERE retired_at IS NULL ON CONFLICT DO NOTHING",
        &[&general],
    )
    .await?;
    for (a, b) in [("alice", "bob"), ("alice", "carol")] {
        let exists: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM rooms r
                   JOIN room_members x ON x.room_id = r.id AND x.user_id = $1
                   JOIN room_members y ON y.room_id = r.id AND y.user_id = $2
                  WHERE r.kind = 'direct')",
                &[&a, &b],
            )
            .await?
            .get(0);
        if !exists {
            let room: i64 = tx
                .query_one(
                    "INSERT INTO rooms (kind) VALUES ('direct') RETURNING id",
                    &[],
                )
                .await?
                .get(0);
            tx.execute(
                "INSERT INTO room_members (room_id, user_id) VALUES ($1, $2), ($1, $3)",
                &[&room, &a, &b],
            )
            .await?;
            seeded.rooms += 1;
        }
    }
    tx.commit().await?;
    Ok(seeded)
}
