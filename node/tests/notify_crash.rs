//! `kill -9` of a notification worker with jobs pending (docs/protocol.md §6.16): another worker claims them
//! with `XAUTOCLAIM`, every device gets each message's push exactly once, and nothing is sent again after the
//! jobs are acknowledged. Workers are real `sendjay-node` processes; the clients' node (in-process) runs none.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use fred::prelude::*;
use sendjay_common::protocol::{Call, PushSubscribeArgs};
use sendjay_testkit::{PushService, ScriptedResponse, WebPushSubscription};
use support::cluster;
use support::rules::{ok, say};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Jobs idle this long with a worker are claimed by another.
const CLAIM_IDLE_MS: u64 = 1500;
const RECIPIENTS: [&str; 4] = ["r1", "r2", "r3", "r4"];

/// A worker process: a node whose only job is the notification stream.
async fn spawn_worker(database_url: &str, redis_url: &str, vapid: &str, id: &str) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sendjay-node"))
        .args(["--listen", "127.0.0.1:0", "--node-id", id])
        .args(["--database-url", database_url, "--redis-url", redis_url])
        .args([
            "--jwt-secret",
            support::SECRET,
            "--vapid-private-key",
            vapid,
        ])
        .args(["--notify-claim-idle-ms", &CLAIM_IDLE_MS.to_string()])
        .args(["--default-time-zone", "UTC"])
        .arg("serve")
        .env("SENDJAY_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("sendjay-node starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the worker node prints its start line")
        .unwrap()
        .expect("a line");
    child
}

async fn pending(redis: &Client) -> i64 {
    let summary: Value = redis.xpending("sj:notify", "notify", ()).await.unwrap();
    match summary {
        Value::Array(parts) => parts.first().and_then(Value::as_i64).unwrap_or(0),
        _ => 0,
    }
}

async fn received_seqs(push: &PushService, sub: &WebPushSubscription) -> Vec<(i64, i64)> {
    let mut got: Vec<(i64, i64)> = push
        .received(&sub.id)
        .await
        .iter()
        .map(|p| {
            let json = p.payload_json();
            (
                json["room_id"].as_i64().unwrap(),
                json["seq"].as_i64().unwrap(),
            )
        })
        .collect();
    got.sort();
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_no_job_and_no_push_is_sent_twice() {
    let push = PushService::start().await;
    let vapid = sendjay_node::notify::web_push::new_vapid_key();
    let key = vapid.clone();
    let mut users = vec!["kim"];
    users.extend(RECIPIENTS);
    let mut members = vec!["kim"];
    members.extend(RECIPIENTS);
    // Three rooms with the same members: three messages whose pushes do not collapse into each other.
    let s = cluster()
        .users(&users)
        .room(&members)
        .room(&members)
        .room(&members)
        .configure(move |c| {
            c.vapid_private_key = Some(key.clone());
            c.notify_worker = false;
        })
        .start()
        .await;
    let redis = Builder::from_config(Config::from_url(&s.redis_url).unwrap())
        .build()
        .unwrap();
    redis.init().await.unwrap();

    let mut subs = Vec::new();
    for user in RECIPIENTS {
        let sub = push.subscribe().await;
        let web = s.connect(0, user).await;
        ok(
            &web,
            Call::PushSubscribe(PushSubscribeArgs::WebPush {
                endpoint: sub.endpoint.clone(),
                p256dh: sub.p256dh.clone(),
                auth: sub.auth.clone(),
            }),
        )
        .await;
        web.close().await;
        subs.push(sub);
    }
    // The first push to each of two devices is answered 503 "come back in 60 s": the worker holds that job,
    // which has meanwhile reached the other two devices — those must not get it again from the claimer.
    for sub in &subs[..2] {
        push.script(&sub.id, &[ScriptedResponse::retry_after(503, 60)])
            .await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut victim = spawn_worker(&s.database_url, &s.redis_url, &vapid, "worker-a").await;
    let kim = s.connect(0, "kim").await;
    let mut expected = Vec::new();
    for (i, room) in s.rooms.iter().enumerate() {
        let m = say(&kim, *room, &format!("m{i}"), "hello everyone").await;
        expected.push((*room, m.seq));
    }
    // Wait until the two held devices have had their 503 and their other two pushes, and the other devices
    // all three: the held jobs are pending.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut settled = true;
        for (i, sub) in subs.iter().enumerate() {
            let refused = push
                .attempts(&sub.id)
                .await
                .iter()
                .filter(|a| a.status == 503)
                .count();
            let received = push.received(&sub.id).await.len();
            settled &= if i < 2 {
                refused == 1 && received == 2
            } else {
                received == 3
            };
        }
        if settled {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "worker A never reached the held state"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let held = pending(&redis).await;
    assert!(held >= 1, "jobs held by the worker are pending");

    victim.start_kill().expect("SIGKILL");
    victim.wait().await.unwrap();
    let _rescuer = spawn_worker(&s.database_url, &s.redis_url, &vapid, "worker-b").await;

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut done = true;
        for sub in &subs {
            done &= push.received(&sub.id).await.len() >= 3;
        }
        if done && pending(&redis).await == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the claimed jobs were not finished"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every device has each message exactly once, also after several more claim rounds.
    tokio::time::sleep(Duration::from_millis(CLAIM_IDLE_MS * 3)).await;
    expected.sort();
    for sub in &subs {
        assert_eq!(
            received_seqs(&push, sub).await,
            expected,
            "subscription {}",
            sub.id
        );
    }
    assert_eq!(pending(&redis).await, 0);
}
