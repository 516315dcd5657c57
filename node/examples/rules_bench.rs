//! Benchmark of the two read paths of issue #3: opening a large room (the newest 50 messages with their
//! per-message unread counts, after marking it read) and a user's room list with unread counts.
//!
//! Seeds a private PostgreSQL (from `sendjay-testkit`, or `SENDJAY_BENCH_DATABASE_URL` — an empty database you
//! own) with 5 000 users, a room of all of them holding 100 000 messages with scattered read cursors, and one
//! user in 300 rooms; prints `EXPLAIN (ANALYZE, BUFFERS)` of every statement, the latency of each operation at
//! the database (the store's own calls) and end to end through a node over a WebSocket.
//!
//! ```text
//! cargo run --release -p sendjay-node --example rules_bench
//! ```

use std::time::{Duration, Instant};

use sendjay_client::{ConnectOptions, Connection};
use sendjay_common::jwt::{now_secs, TokenKeys};
use sendjay_common::protocol::{Call, DeviceClass, OpenRoomArgs, Reply};
use sendjay_node::store::{messages, reads, rooms, Store};
use sendjay_node::NodeConfig;

const SECRET: &str = "bench-secret-bench-secret-bench-secret!";
const MEMBERS: i64 = 5_000;
const MESSAGES: i64 = 100_000;
const ROOMS_OF_ME: i64 = 300;
const ROUNDS: usize = 200;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "| {name} | {:.2} | {:.2} | {:.2} | {:.2} |",
        percentile(&samples, 0.5),
        percentile(&samples, 0.95),
        percentile(&samples, 0.99),
        samples.last().unwrap().as_secs_f64() * 1000.0
    );
}

async fn explain(
    db: &tokio_postgres::Client,
    title: &str,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) {
    // Warm the plan and the cache once, then show the measured run.
    db.query(sql.trim_start(), params).await.expect(title);
    let rows = db
        .query(&format!("EXPLAIN (ANALYZE, BUFFERS) {sql}"), params)
        .await
        .expect(title);
    println!("\n#### {title}\n\n```");
    for row in rows {
        println!("{}", row.get::<_, String>(0));
    }
    println!("```");
}

#[tokio::main]
async fn main() {
    let database_url = match std::env::var("SENDJAY_BENCH_DATABASE_URL") {
        Ok(url) => url,
        Err(_) => sendjay_testkit::postgres().await.fresh_database().await,
    };
    let redis = sendjay_testkit::RedisServer::start().await;
    let store = Store::connect(&database_url, 4).expect("pool");
    store.migrate().await.expect("migrate");
    let (db, conn) = tokio_postgres::connect(&database_url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);

    let started = Instant::now();
    eprintln!("seeding {MEMBERS} users, {MESSAGES} messages, {ROOMS_OF_ME} rooms …");
    db.batch_execute(&format!(
        "INSERT INTO users (id, display_name, password_hash, passkey)
         SELECT format('b%s', lpad(i::text, 5, '0')), format('사용자 %s', i), 'x', 'pk'
           FROM generate_series(1, {MEMBERS}) i;
         -- The big room: everyone.
         INSERT INTO rooms (kind, name) VALUES ('group', '전사 공지');
         INSERT INTO room_members (room_id, user_id) SELECT 1, id FROM users;
         -- 100 000 messages from random members, Korean and English.
         INSERT INTO messages (room_id, seq, sender_id, client_msg_id, body, created_at)
         SELECT 1, i, format('b%s', lpad((1 + (i * 7919) % {MEMBERS})::text, 5, '0')), 'c' || i,
                CASE i % 3 WHEN 0 THEN '오늘 회의는 ' || i || '시에 시작합니다'
                           WHEN 1 THEN 'deploy #' || i || ' finished, see https://ci.example.com/' || i
                           ELSE '점심 메뉴 추천 받습니다 ' || i END,
                now() - make_interval(secs => {MESSAGES} - i)
           FROM generate_series(1, {MESSAGES}) i;
         UPDATE rooms SET last_seq = {MESSAGES}, last_activity = now() WHERE id = 1;
         -- Read cursors: 40 % caught up, 40 % within the last 60 messages (one distinct cursor each, all inside
         -- the window on screen), 20 % anywhere.
         UPDATE room_members SET last_read_seq = CASE
             WHEN abs(hashtext(user_id)) % 10 IN (0, 1, 2, 3) THEN {MESSAGES}
             WHEN abs(hashtext(user_id)) % 10 IN (4, 5, 6, 7, 8) THEN {MESSAGES} - abs(hashtext(user_id || 'x')) % 60
             ELSE abs(hashtext(user_id || 'y')) % {MESSAGES} END
          WHERE room_id = 1;
         -- b00001 is in 299 more rooms of 10 members with 100 messages each.
         INSERT INTO rooms (kind, name, last_seq, last_activity)
         SELECT 'group', 'room ' || g, 100, now() - make_interval(mins => g) FROM generate_series(1, {} ) g;
         INSERT INTO room_members (room_id, user_id, last_read_seq)
         SELECT r.id, format('b%s', lpad((1 + ((r.id * 10 + k) % {MEMBERS}))::text, 5, '0')), 100 - k * 3
           FROM rooms r, generate_series(0, 9) k WHERE r.id > 1
         ON CONFLICT DO NOTHING;
         INSERT INTO room_members (room_id, user_id, last_read_seq)
         SELECT id, 'b00001', 90 FROM rooms WHERE id > 1 ON CONFLICT DO NOTHING;
         INSERT INTO messages (room_id, seq, sender_id, client_msg_id, body)
         SELECT r.id, s, 'b00001', 'c' || s, 'message ' || s || ' of room ' || r.id
           FROM rooms r, generate_series(1, 100) s WHERE r.id > 1;
         ANALYZE;",
        ROOMS_OF_ME - 1
    ))
    .await
    .expect("seed");
    let rooms_of_me: i64 = db
        .query_one(
            "SELECT count(*) FROM room_members WHERE user_id = 'b00001'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let members: i32 = db
        .query_one("SELECT member_count FROM rooms WHERE id = 1", &[])
        .await
        .unwrap()
        .get(0);
    let distinct: i64 = db
        .query_one(
            "SELECT count(DISTINCT last_read_seq) FROM room_members WHERE room_id = 1 AND last_read_seq >= $1",
            &[&(MESSAGES - 60)],
        )
        .await
        .unwrap()
        .get(0);
    eprintln!("seeded in {:.1} s", started.elapsed().as_secs_f64());
    println!("## Data\n");
    println!("- room 1: {members} members, {MESSAGES} messages; {distinct} distinct read cursors in the last 60 seqs");
    println!("- user b00001: member of {rooms_of_me} rooms");

    // The statements, as the store runs them.
    let me = "b00001";
    println!("\n## EXPLAIN (ANALYZE, BUFFERS)\n\nOpening room 1 (`open_room`, limit 50) runs four statements, prepared once per connection and sent together (one round trip):");
    let none: Option<i64> = None;
    explain(
        &db,
        "open_room 1/4: mark everything read",
        reads::MARK_READ_SQL,
        &[&1i64, &me, &none],
    )
    .await;
    explain(
        &db,
        "open_room 2/4: the newest 50 messages",
        &messages::page_sql(),
        &[&1i64, &i64::MAX, &51i64, &me],
    )
    .await;
    explain(
        &db,
        "open_room 3/4: unread counts of the 50 messages, one query",
        &reads::unread_counts_sql_for_newest(),
        &[&1i64, &50i64],
    )
    .await;
    let summary = format!(
        "{} ",
        rooms::list_rooms_sql().replace(
            "ORDER BY r.last_activity DESC, r.id DESC",
            "AND r.id = $2 ORDER BY r.last_activity DESC, r.id DESC"
        )
    );
    explain(
        &db,
        "open_room 4/4: the room's summary",
        &summary,
        &[&me, &1i64],
    )
    .await;
    println!("\nThe room list (`list_rooms`) is one statement:");
    explain(
        &db,
        "list_rooms of a member of 300 rooms",
        &rooms::list_rooms_sql(),
        &[&me],
    )
    .await;

    // At the database: the store's own calls (a pooled connection, all statements of the operation).
    println!("\n## Latency at the database (store calls, {ROUNDS} rounds, ms)\n");
    println!("| operation | p50 | p95 | p99 | max |\n|---|---|---|---|---|");
    let mut open = Vec::new();
    let mut list = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let opened = store.open_room(me, 1, 50).await.expect("open_room");
        open.push(t.elapsed());
        assert_eq!(opened.counts.len(), 50);
        let t = Instant::now();
        let rooms = store.list_rooms(me).await.expect("list_rooms");
        list.push(t.elapsed());
        assert_eq!(rooms.len() as i64, rooms_of_me);
    }
    report(
        "open_room (mark read + 50 messages + 50 unread counts + summary)",
        open,
    );
    report(
        "list_rooms (300 rooms with unread counts and last message)",
        list,
    );

    // End to end: a node in this process, a client over a WebSocket on loopback.
    let mut config = NodeConfig::with_required(&database_url, &redis.url(), SECRET);
    config.db_pool_size = 4;
    let node = sendjay_node::start(config).await.expect("node");
    let keys = TokenKeys::new(SECRET.as_bytes(), None).unwrap();
    let token = keys
        .issue(me, "pk", DeviceClass::Web, now_secs(), 3600)
        .unwrap();
    let client = Connection::connect(&node.ws_url(), &token, ConnectOptions::default())
        .await
        .expect("client");
    client.call(Call::Ping).await.expect("session");
    let mut open = Vec::new();
    let mut list = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let reply = client
            .call(Call::OpenRoom(OpenRoomArgs {
                room_id: 1,
                limit: Some(50),
            }))
            .await
            .expect("open_room");
        open.push(t.elapsed());
        assert!(
            matches!(reply, Reply::OpenRoom { ref unread_counts, .. } if unread_counts.len() == 50)
        );
        let t = Instant::now();
        let reply = client.call(Call::ListRooms).await.expect("list_rooms");
        list.push(t.elapsed());
        assert!(
            matches!(reply, Reply::ListRooms { ref rooms } if rooms.len() as i64 == rooms_of_me)
        );
    }
    println!("\n## Latency end to end through a node (WebSocket request to decoded reply, {ROUNDS} rounds, ms)\n");
    println!("| operation | p50 | p95 | p99 | max |\n|---|---|---|---|---|");
    report("open_room", open);
    report("list_rooms", list);
    client.close().await;
    node.drain().await;
}
