//! `kill -9` of a node under traffic, with nodes as real processes: its clients come back on the survivors
//! (placed by rendezvous hashing over the live nodes, as the router does), resend what was not acknowledged
//! with the same client ids, and after a sync every acknowledged message is there, once.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fred::prelude::*;
use sendjay_common::jwt::{now_secs, TokenKeys};
use sendjay_common::keys::KeySchema;
use sendjay_common::membership;
use sendjay_common::protocol::{Call, DeviceClass, Reply, RoomCursor, SendArgs, SyncArgs};
use sendjay_common::rendezvous;
use sendjay_testkit::RedisServer;
use support::assigned::connect_assigned;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const SECRET: &str = "crash-test-secret-crash-test-secret!";
const USERS: usize = 9;
const MESSAGES_PER_USER: usize = 40;

struct NodeProcess {
    child: Child,
}

async fn spawn_node(database_url: &str, redis_url: &str, id: &str) -> NodeProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sendjay-node"))
        .args(["--listen", "127.0.0.1:0", "--node-id", id])
        .args([
            "--database-url",
            database_url,
            "--redis-url",
            redis_url,
            "--jwt-secret",
            SECRET,
        ])
        .args([
            "--node-timeout-secs",
            "2",
            "--assignment-grace-secs",
            "0",
            "--heartbeat-interval-secs",
            "1",
        ])
        .args(["--heartbeat-timeout-secs", "3", "serve"])
        .env("SENDJAY_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("sendjay-node starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("node prints its address")
        .unwrap()
        .expect("a line");
    let url = line
        .split('(')
        .nth(1)
        .and_then(|r| r.strip_suffix(')'))
        .expect("url in the start line")
        .to_owned();
    assert!(url.starts_with("ws://127.0.0.1:"), "{line}");
    NodeProcess { child }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_node_under_traffic_loses_no_acknowledged_message() {
    let database_url = sendjay_testkit::postgres().await.fresh_database().await;
    let redis_server = RedisServer::start().await;
    let (db, connection) = tokio_postgres::connect(&database_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let users: Vec<String> = (0..USERS).map(|i| format!("crash{i}")).collect();
    for user in &users {
        db.execute("INSERT INTO users (id, display_name, password_hash, passkey) VALUES ($1, $1, 'x', 'pk')", &[user])
            .await
            .unwrap();
    }
    let room: i64 = db
        .query_one(
            "INSERT INTO rooms (kind, name) VALUES ('group', 'crash') RETURNING id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    db.execute(
        "INSERT INTO room_members (room_id, user_id) SELECT $1, id FROM users",
        &[&room],
    )
    .await
    .unwrap();

    let mut nodes = Vec::new();
    for i in 0..3 {
        nodes.push(spawn_node(&database_url, &redis_server.url(), &format!("proc-{i}")).await);
    }
    let redis = Builder::from_config(Config::from_url(&redis_server.url()).unwrap())
        .build()
        .unwrap();
    redis.init().await.unwrap();
    // Wait until all three announce.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while membership::read_nodes(&redis, &KeySchema::default())
        .await
        .unwrap()
        .0
        .len()
        < 3
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nodes did not announce"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let victim_id = "proc-1";
    assert!(
        users
            .iter()
            .any(|u| rendezvous::pick(["proc-0", "proc-1", "proc-2"], u) == Some(victim_id)),
        "some user must live on the victim"
    );

    let keys = TokenKeys::new(SECRET.as_bytes(), None).unwrap();
    let acked: Arc<Mutex<BTreeMap<String, i64>>> = Arc::default();
    let reconnects = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut senders = Vec::new();
    for user in users.clone() {
        let token = keys
            .issue(&user, "pk", DeviceClass::Web, now_secs(), 3600)
            .unwrap();
        let redis = redis.clone();
        let acked = acked.clone();
        let reconnects = reconnects.clone();
        senders.push(tokio::spawn(async move {
            let mut client = connect_assigned(&redis, &token, &user).await;
            for i in 0..MESSAGES_PER_USER {
                let id = format!("{user}-{i}");
                loop {
                    let call = Call::Send(SendArgs {
                        room_id: room,
                        client_msg_id: id.clone(),
                        body: format!("msg {id}"),
                    });
                    match client.call(call).await {
                        Ok(Reply::Send { message, .. }) => {
                            acked.lock().unwrap().insert(id.clone(), message.seq);
                            break;
                        }
                        Ok(other) => panic!("unexpected reply {other:?}"),
                        // The node died or the session moved: reconnect where the user belongs now and resend the
                        // same client id (it may or may not have been stored).
                        Err(_) => {
                            reconnects.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            client = connect_assigned(&redis, &token, &user).await;
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }));
    }
    // Mid-run, kill -9 one node.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let victim = &mut nodes[1].child;
    victim.start_kill().expect("SIGKILL");
    let _ = victim.wait().await;
    for sender in senders {
        tokio::time::timeout(Duration::from_secs(90), sender)
            .await
            .expect("senders finish")
            .unwrap();
    }
    assert!(
        reconnects.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "some clients had to come back"
    );

    // Every acknowledged message is in a fresh sync, exactly once, at the seq its ack named.
    let acked = acked.lock().unwrap().clone();
    assert_eq!(acked.len(), USERS * MESSAGES_PER_USER);
    let token = keys
        .issue(&users[0], "pk", DeviceClass::Mobile, now_secs(), 3600)
        .unwrap();
    let reader = connect_assigned(&redis, &token, &users[0]).await;
    let mut cursor = 0;
    let mut seen: BTreeMap<String, i64> = BTreeMap::new();
    loop {
        let call = Call::Sync(SyncArgs {
            cursors: vec![RoomCursor {
                room_id: room,
                seq: cursor,
            }],
            limit: Some(200),
            changes: Vec::new(),
        });
        let Reply::Sync {
            messages, has_more, ..
        } = reader.call(call).await.unwrap()
        else {
            panic!()
        };
        for m in &messages {
            assert!(
                seen.insert(m.client_msg_id.clone(), m.seq).is_none(),
                "duplicate {}",
                m.client_msg_id
            );
            cursor = m.seq;
        }
        if !has_more {
            break;
        }
    }
    assert_eq!(
        seen, acked,
        "sync returns every acknowledged message at its acknowledged seq, and nothing else"
    );
    let seqs: HashSet<i64> = seen.values().copied().collect();
    assert_eq!(seqs.len(), acked.len(), "seqs are unique");
    assert_eq!(
        *seqs.iter().max().unwrap() as usize,
        acked.len(),
        "seqs are gap-free"
    );
    drop(nodes);
}
