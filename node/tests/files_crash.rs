//! `kill -9` of a node in the middle of an upload, with nodes as real processes sharing one file store: the cut
//! upload is never served (its row stays `uploading`, so downloads answer `404 not_found`), the sweeper of the
//! surviving node collects the row and the staged bytes after the grace period, and uploads, downloads and chat
//! on the survivor carry on.

mod support;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use fred::prelude::*;
use hyper::StatusCode;
use sendjay_common::jwt::{now_secs, TokenKeys};
use sendjay_common::protocol::{Call, DeviceClass, Reply, SendArgs};
use sendjay_testkit::RedisServer;
use support::assigned::connect_assigned;
use support::http::{self, json};
use support::storage::files_on_disk;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

const SECRET: &str = "files-crash-secret-files-crash-secret!";
/// Seconds an upload may stay unsent before the sweeper collects it.
const GRACE_SECS: u64 = 3;

/// A node process and the address it serves WebSocket and HTTP on.
struct NodeProcess {
    child: Child,
    addr: SocketAddr,
}

async fn spawn_node(database_url: &str, redis_url: &str, files_url: &str, id: &str) -> NodeProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sendjay-node"))
        .args(["--listen", "127.0.0.1:0", "--node-id", id])
        .args(["--database-url", database_url, "--redis-url", redis_url])
        .args(["--jwt-secret", SECRET, "--files-url", files_url])
        .args(["--files-unsent-grace-secs", &GRACE_SECS.to_string()])
        .args(["--files-sweep-interval-secs", "1"])
        .args(["--node-timeout-secs", "2", "--assignment-grace-secs", "0"])
        .args([
            "--heartbeat-interval-secs",
            "1",
            "--heartbeat-timeout-secs",
            "3",
        ])
        .arg("serve")
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
    let addr = line
        .split("listening on ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in the start line {line:?}"));
    NodeProcess { child, addr }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_upload_never_serves_a_half_file_and_the_survivor_carries_on() {
    let database_url = sendjay_testkit::postgres().await.fresh_database().await;
    let redis_server = RedisServer::start().await;
    let (db, connection) = tokio_postgres::connect(&database_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    for user in ["alice", "bob"] {
        db.execute(
            "INSERT INTO users (id, display_name, password_hash, passkey) VALUES ($1, $1, 'x', 'pk')",
            &[&user],
        )
        .await
        .unwrap();
    }
    let room: i64 = db
        .query_one(
            "INSERT INTO rooms (kind, name) VALUES ('group', 'files') RETURNING id",
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
    let store = tempfile::tempdir().unwrap();
    let files_url = format!("file://{}", store.path().display());
    let mut victim = spawn_node(&database_url, &redis_server.url(), &files_url, "victim").await;
    let survivor = spawn_node(&database_url, &redis_server.url(), &files_url, "survivor").await;
    let keys = TokenKeys::new(SECRET.as_bytes(), None).unwrap();
    let token = |user: &str| {
        keys.issue(user, "pk", DeviceClass::Web, now_secs(), 3600)
            .unwrap()
    };

    // A 16 MiB upload to the victim stops after 6 MiB (more than one 5 MiB part): the row is `uploading`, bytes
    // are staged.
    let total: usize = 16 << 20;
    let mut cut = tokio::net::TcpStream::connect(victim.addr).await.unwrap();
    let head = format!(
        "POST /v1/files?room_id={room}&name=big.bin HTTP/1.1\r\nhost: 127.0.0.1\r\n\
         authorization: Bearer {}\r\ncontent-type: application/octet-stream\r\ncontent-length: {total}\r\n\r\n",
        token("alice")
    );
    cut.write_all(head.as_bytes()).await.unwrap();
    cut.write_all(&vec![7u8; 6 << 20]).await.unwrap();
    cut.flush().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let cut_id: String = loop {
        let row = db
            .query_opt("SELECT id FROM files WHERE state = 'uploading'", &[])
            .await
            .unwrap();
        if let Some(row) = row {
            if !files_on_disk(store.path()).is_empty() {
                break row.get(0);
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the upload never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    victim.child.start_kill().unwrap();
    victim.child.wait().await.unwrap();
    drop(cut);

    // The survivor never serves the cut file: it is not there.
    let r = http::send(
        survivor.addr,
        http::get(&format!("/v1/files/{cut_id}"), Some(&token("alice")), &[]),
    )
    .await;
    assert_eq!(
        (r.status(), json(&r)["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );

    // Uploads, downloads and chat on the survivor carry on.
    let body = b"%PDF-1.7\nafter the crash".to_vec();
    let up = json(
        &http::send(
            survivor.addr,
            http::upload(
                &token("alice"),
                room,
                "after.pdf",
                "application/pdf",
                body.clone(),
            ),
        )
        .await,
    );
    let id = up["file_id"]
        .as_str()
        .expect("the upload answers an id")
        .to_owned();
    let r = http::send(
        survivor.addr,
        // The uploader may read an upload not yet sent.
        http::get(&format!("/v1/files/{id}"), Some(&token("alice")), &[]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.body().as_ref(), body.as_slice());
    let redis = Builder::from_config(Config::from_url(&redis_server.url()).unwrap())
        .build()
        .unwrap();
    redis.init().await.unwrap();
    let alice = connect_assigned(&redis, &token("alice"), "alice").await;
    let reply = alice
        .call(Call::Send(SendArgs {
            room_id: room,
            client_msg_id: "after-crash".into(),
            body: "still here".into(),
        }))
        .await
        .unwrap();
    assert!(matches!(reply, Reply::Send { .. }), "{reply:?}");

    // After the grace period the survivor's sweeper removes the cut upload's row and its staged bytes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(GRACE_SECS + 20);
    loop {
        let left: i64 = db
            .query_one("SELECT count(*) FROM files WHERE id = $1", &[&cut_id])
            .await
            .unwrap()
            .get(0);
        let on_disk = files_on_disk(store.path());
        let staged: Vec<_> = on_disk.iter().filter(|p| p.contains(&cut_id)).collect();
        if left == 0 && staged.is_empty() && on_disk.len() <= 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "cut upload not collected: row {left}, files {on_disk:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(survivor);
}
