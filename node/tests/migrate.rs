//! Migrations are safe when several nodes start at the same moment, and keep stored data's meaning.

use sendjay_common::migrate::{self, MIGRATIONS};

/// A new empty database on `pg` (named after `prefix` and this process); returns its URL.
async fn empty_database(pg: &sendjay_testkit::PgServer, prefix: &str) -> String {
    let name = format!("{prefix}_{}", std::process::id());
    let (admin, connection) = tokio_postgres::connect(&pg.url("postgres"), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE template0"))
        .await
        .unwrap();
    pg.url(&name)
}

/// Applies the migrations older than `version`, as a node of that time would have.
async fn apply_before(client: &tokio_postgres::Client, version: i32) {
    client
        .batch_execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        .await
        .unwrap();
    for m in MIGRATIONS.iter().filter(|m| m.version < version) {
        client.batch_execute(m.sql).await.unwrap();
        client
            .execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                &[&m.version, &m.name],
            )
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_apply_each_step_once() {
    let pg = sendjay_testkit::postgres().await;
    let url = empty_database(pg, "sendjay_empty").await;
    let mut runs = Vec::new();
    for _ in 0..4 {
        let url = url.clone();
        runs.push(tokio::spawn(async move {
            let (mut client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            migrate::migrate(&mut client)
                .await
                .map(|applied| applied.len())
        }));
    }
    let mut applied = Vec::new();
    for run in runs {
        applied.push(run.await.unwrap().expect("every concurrent run succeeds"));
    }
    applied.sort();
    assert_eq!(
        applied.iter().sum::<usize>(),
        MIGRATIONS.len(),
        "each migration applied exactly once: {applied:?}"
    );
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    assert!(migrate::is_current(&client).await.unwrap());
    let rows: i64 = client
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows as usize, MIGRATIONS.len());
}

/// Migration 0007 turns stored quiet hours into the notification window they leave (the seed's 알림시간):
/// quiet 22:00–07:00 becomes notifications 07:00–22:00; no quiet hours stays "always".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_hours_become_the_notification_window_they_leave() {
    let pg = sendjay_testkit::postgres().await;
    let url = empty_database(pg, "sendjay_hours").await;
    let (mut client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    // The schema as it was before 0007, with two users' settings written then.
    apply_before(&client, 7).await;
    client
        .batch_execute(
            "INSERT INTO users (id, display_name, password_hash, passkey) VALUES ('kim', 'Kim', 'x', 'p'), ('lee', 'Lee', 'x', 'p');
             INSERT INTO user_settings (user_id, quiet_from, quiet_to) VALUES ('kim', 1320, 420);
             INSERT INTO user_settings (user_id, hide_body) VALUES ('lee', true);",
        )
        .await
        .unwrap();
    let later: Vec<&str> = MIGRATIONS
        .iter()
        .filter(|m| m.version >= 7)
        .map(|m| m.name)
        .collect();
    assert_eq!(migrate::migrate(&mut client).await.unwrap(), later);
    let rows = client
        .query(
            "SELECT user_id, notify_from, notify_to, time_zone FROM user_settings ORDER BY user_id",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(String, Option<i16>, Option<i16>, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        got,
        [
            ("kim".to_owned(), Some(420), Some(1320), String::new()),
            ("lee".to_owned(), None, None, String::new()),
        ]
    );
}

/// Migration 0015 gives every existing search key its message's time (what `search_all` walks by) and drops keys
/// whose message is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_keys_get_their_messages_time() {
    let pg = sendjay_testkit::postgres().await;
    let url = empty_database(pg, "sendjay_keys_time").await;
    let (mut client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    apply_before(&client, 15).await;
    client
        .batch_execute(
            "INSERT INTO users (id, display_name, password_hash, passkey) VALUES ('kim', 'Kim', 'x', 'p');
             INSERT INTO rooms (id, kind, name, last_seq) OVERRIDING SYSTEM VALUE VALUES (1, 'group', 'r', 2);
             INSERT INTO room_members (room_id, user_id) VALUES (1, 'kim');
             INSERT INTO messages (room_id, seq, sender_id, client_msg_id, body, created_at)
               VALUES (1, 1, 'kim', 'a', '회의', '2026-01-02 03:04:05.678901+00'),
                      (1, 2, 'kim', 'b', 'later', '2026-01-03 00:00:00+00');
             INSERT INTO message_search_keys (room_id, seq, key)
               VALUES (1, 1, sj_search_key('회의')), (1, 2, 'later'), (1, 3, 'gone');",
        )
        .await
        .unwrap();
    assert_eq!(
        migrate::migrate(&mut client).await.unwrap()[0],
        "0015_search_all.sql"
    );
    let rows = client
        .query(
            "SELECT k.seq, k.created_at = m.created_at FROM message_search_keys k
               LEFT JOIN messages m USING (room_id, seq) ORDER BY k.seq",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(i64, Option<bool>)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(got, [(1, Some(true)), (2, Some(true))]);
}
