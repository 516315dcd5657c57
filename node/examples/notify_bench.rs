//! Benchmark of the notification path (issue 16), against real PostgreSQL, Redis Streams and the loopback
//! Web Push service of `sendjay-testkit` (which checks every VAPID signature and decrypts every payload):
//!
//! 1. **Cost to a send**: ack p50/p99 of open-loop sends through a node without push configured (no jobs)
//!    and through a node with push configured and a worker running, in the same sitting.
//! 2. **Jobs per second one worker handles**: jobs pile up while no worker runs, then one worker process
//!    starts and drains them; jobs/s = jobs / time until the stream has no lag and nothing pending.
//! 3. **Commit to push at a fixed rate**: open-loop sends at `--rate` messages/s with one worker running; the
//!    latency of each push is the push service's receive time minus the message's `sent_at_ms` (one clock).
//!
//! Each recipient is offline with one Web Push subscription and a room with all the senders (who are online, so
//! only the recipient is pushed): every message is exactly one push. The senders share the rate, each on its own
//! connection, as people do (one connection sending 1 000/s would measure its own queue, not the send path). CPU seconds of the generator process (which also hosts the client-facing nodes), the
//! worker process and the push service are printed beside every figure.
//!
//! ```text
//! cargo build --release -p sendjay-node --bins --examples
//! target/release/examples/notify_bench [--rate 1000] [--seconds 10] [--backlog 5000] [--recipients 200]
//!     [--senders 10] [--concurrency 64]
//! ```

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fred::prelude::*;
use sendjay_client::{ConnectOptions, Connection};
use sendjay_common::jwt::{now_secs, TokenKeys};
use sendjay_common::protocol::{Call, DeviceClass, SendArgs};
use sendjay_node::NodeConfig;
use sendjay_testkit::PushService;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const SECRET: &str = "bench-secret-bench-secret-bench-secret!";

struct Args {
    rate: u64,
    seconds: u64,
    backlog: u64,
    recipients: usize,
    senders: usize,
    concurrency: u64,
}

fn args() -> Args {
    let mut a = Args {
        rate: 1000,
        seconds: 10,
        backlog: 5000,
        recipients: 200,
        senders: 10,
        concurrency: 64,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or("");
        let number = || {
            value
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("{} needs a number, got {value:?}", pair[0]))
        };
        match pair[0].as_str() {
            "--rate" => a.rate = number(),
            "--seconds" => a.seconds = number(),
            "--backlog" => a.backlog = number(),
            "--recipients" => a.recipients = number() as usize,
            "--senders" => a.senders = number() as usize,
            "--concurrency" => a.concurrency = number(),
            other => panic!(
                "unknown option {other}; see the doc comment of node/examples/notify_bench.rs"
            ),
        }
    }
    a
}

/// CPU seconds (user + system) of a process so far.
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU of the three processes across a phase.
struct Cpu {
    pids: Vec<(&'static str, String)>,
    start: Vec<f64>,
    at: Instant,
}

impl Cpu {
    fn start(pids: Vec<(&'static str, String)>) -> Cpu {
        let start = pids.iter().map(|(_, p)| cpu_secs(p)).collect();
        Cpu {
            pids,
            start,
            at: Instant::now(),
        }
    }

    fn report(&self) -> String {
        let wall = self.at.elapsed().as_secs_f64();
        self.pids
            .iter()
            .zip(&self.start)
            .map(|((name, pid), start)| {
                format!("{name} {:.2} cores", (cpu_secs(pid) - start) / wall)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn spawn_worker(database_url: &str, redis_url: &str, vapid: &str, concurrency: u64) -> Child {
    let bin = std::env::var("SENDJAY_NODE_BIN").unwrap_or_else(|_| {
        format!(
            "{}/../target/release/sendjay-node",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    let mut child = Command::new(&bin)
        .args(["--listen", "127.0.0.1:0", "--node-id", "bench-worker"])
        .args(["--database-url", database_url, "--redis-url", redis_url])
        .args(["--jwt-secret", SECRET, "--vapid-private-key", vapid])
        .args(["--enforce-assignment", "false"])
        .args(["--notify-concurrency", &concurrency.to_string()])
        .arg("serve")
        .env("SENDJAY_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {bin}: {e}; build it with cargo build --release -p sendjay-node")
        });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the worker prints its start line")
        .unwrap();
    child
}

/// Sends `rate` messages/s for `seconds` over the rooms, open loop, spread over the senders' connections;
/// returns ack latencies in ms.
async fn open_loop(
    clients: &[Arc<Connection>],
    rooms: &[i64],
    rate: u64,
    seconds: u64,
    tag: &str,
) -> Vec<f64> {
    let total = rate * seconds;
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let intended = start + Duration::from_micros(i * 1_000_000 / rate);
        tokio::time::sleep_until(intended).await;
        let client = clients[i as usize % clients.len()].clone();
        let room = rooms[i as usize % rooms.len()];
        let id = format!("{tag}-{i}");
        tasks.push(tokio::spawn(async move {
            let reply = client
                .call(Call::Send(SendArgs {
                    room_id: room,
                    client_msg_id: id,
                    body: "notify bench".into(),
                }))
                .await;
            reply
                .ok()
                .map(|_| intended.elapsed().as_secs_f64() * 1000.0)
        }));
        if i % rate == 0 {
            eprintln!("  {tag}: {i}/{total} sent");
        }
    }
    let mut acks = Vec::new();
    for t in tasks {
        if let Ok(Some(ms)) = t.await {
            acks.push(ms);
        }
    }
    acks.sort_by(f64::total_cmp);
    acks
}

async fn stream_idle(redis: &Client) -> bool {
    let groups: Value = redis.xinfo_groups("sj:notify").await.unwrap_or(Value::Null);
    // One group; both numbers must be 0.
    let number_after = |name: &str| -> Option<i64> {
        let Value::Array(groups) = &groups else {
            return None;
        };
        let Value::Array(fields) = groups.first()? else {
            return None;
        };
        let i = fields
            .iter()
            .position(|v| v.as_str().as_deref() == Some(name))?;
        fields.get(i + 1)?.as_i64()
    };
    number_after("lag") == Some(0) && number_after("pending") == Some(0)
}

#[tokio::main]
async fn main() {
    let a = args();
    let push = PushService::start().await;
    let database_url = sendjay_testkit::postgres().await.fresh_database().await;
    let redis_server = sendjay_testkit::RedisServer::start().await;
    let redis_url = redis_server.url();
    let vapid = sendjay_node::notify::web_push::new_vapid_key();
    let redis = Builder::from_config(Config::from_url(&redis_url).unwrap())
        .build()
        .unwrap();
    redis.init().await.unwrap();

    let config = |push_on: bool| {
        let mut c = NodeConfig::with_required(&database_url, &redis_url, SECRET);
        c.enforce_assignment = false;
        c.requests_per_sec = 100_000;
        c.request_burst = 100_000;
        c.notify_worker = false;
        if push_on {
            c.vapid_private_key = Some(vapid.clone());
        }
        c
    };
    let plain = sendjay_node::start(config(false))
        .await
        .expect("node without push");
    let pushing = sendjay_node::start(config(true))
        .await
        .expect("node with push");

    let (db, conn) = tokio_postgres::connect(&database_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    eprintln!(
        "seeding {} senders and {} offline recipients with a subscription each …",
        a.senders, a.recipients
    );
    let senders: Vec<String> = (0..a.senders).map(|i| format!("boss{i:02}")).collect();
    for sender in &senders {
        db.execute(
            "INSERT INTO users (id, display_name, password_hash, passkey) VALUES ($1, $1, 'x', 'pk')",
            &[sender],
        )
        .await
        .unwrap();
    }
    let mut rooms = Vec::new();
    let mut subs = Vec::new();
    for i in 0..a.recipients {
        let user = format!("r{i:04}");
        db.execute(
            "INSERT INTO users (id, display_name, password_hash, passkey) VALUES ($1, $1, 'x', 'pk')",
            &[&user],
        )
        .await
        .unwrap();
        let room: i64 = db
            .query_one(
                "INSERT INTO rooms (kind, name) VALUES ('group', '') RETURNING id",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        db.execute(
            "INSERT INTO room_members (room_id, user_id) SELECT $1, unnest($2::text[] || $3::text)",
            &[&room, &senders, &user],
        )
        .await
        .unwrap();
        let sub = push.subscribe().await;
        db.execute(
            "INSERT INTO push_devices (user_id, device, provider, address, p256dh, auth) VALUES ($1, 'web', 'web_push', $2, $3, $4)",
            &[&user, &sub.endpoint, &sub.p256dh, &sub.auth],
        )
        .await
        .unwrap();
        rooms.push(room);
        subs.push(sub);
    }
    let keys = TokenKeys::new(SECRET.as_bytes(), None).unwrap();
    let tokens: Vec<String> = senders
        .iter()
        .map(|s| {
            keys.issue(s, "pk", DeviceClass::Web, now_secs(), 3600)
                .unwrap()
        })
        .collect();
    let connect = |url: String| {
        let tokens = tokens.clone();
        async move {
            let mut clients = Vec::new();
            for token in tokens {
                clients.push(Arc::new(
                    Connection::connect(&url, &token, ConnectOptions::default())
                        .await
                        .expect("connect"),
                ));
            }
            clients
        }
    };
    let me = std::process::id().to_string();
    let push_pid = push.pid().map(|p| p.to_string()).unwrap_or_default();

    // 1. Cost to a send, worker running for the pushing node.
    let mut worker = spawn_worker(&database_url, &redis_url, &vapid, a.concurrency).await;
    let worker_pid = worker.id().unwrap().to_string();
    let pids = || {
        vec![
            ("generator+client nodes", me.clone()),
            ("worker", worker_pid.clone()),
            ("push service", push_pid.clone()),
        ]
    };
    let rate = a.rate.min(500);
    println!(
        "\n## Cost to a send ({rate} sends/s for {} s each, open loop)\n",
        a.seconds
    );
    println!("| node | acks | ack p50 ms | ack p99 ms | CPU |\n|---|---|---|---|---|");
    for (name, node) in [
        ("no push configured (no jobs)", &plain),
        ("push configured, worker running", &pushing),
    ] {
        let clients = connect(node.ws_url()).await;
        let cpu = Cpu::start(pids());
        let acks = open_loop(
            &clients,
            &rooms,
            rate,
            a.seconds,
            &format!("cost-{}", name.len()),
        )
        .await;
        println!(
            "| {name} | {} | {:.2} | {:.2} | {} |",
            acks.len(),
            percentile(&acks, 0.5),
            percentile(&acks, 0.99),
            cpu.report()
        );
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while !stream_idle(&redis).await && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 2. A backlog drained by one worker.
    worker.start_kill().unwrap();
    worker.wait().await.unwrap();
    let clients = connect(pushing.ws_url()).await;
    // The backlog is appended at the cost phase's rate: its acks are the third row of that table (jobs
    // appended, no worker competing for the CPU).
    let backlog_secs = (a.backlog / rate).max(1);
    eprintln!(
        "appending {} jobs with no worker running …",
        rate * backlog_secs
    );
    let cpu = Cpu::start(vec![
        ("generator+client nodes", me.clone()),
        ("push service", push_pid.clone()),
    ]);
    let acks = open_loop(&clients, &rooms, rate, backlog_secs, "backlog").await;
    println!(
        "| push configured, no worker running ({backlog_secs} s) | {} | {:.2} | {:.2} | {} |",
        acks.len(),
        percentile(&acks, 0.5),
        percentile(&acks, 0.99),
        cpu.report()
    );
    let jobs = rate * backlog_secs;
    let before: usize = {
        let mut n = 0;
        for s in &subs {
            n += push.received(&s.id).await.len();
        }
        n
    };
    let started = Instant::now();
    let mut worker = spawn_worker(&database_url, &redis_url, &vapid, a.concurrency).await;
    let worker_pid = worker.id().unwrap().to_string();
    let cpu = Cpu::start(vec![
        ("generator+client nodes", me.clone()),
        ("worker", worker_pid.clone()),
        ("push service", push_pid.clone()),
    ]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let deadline = Instant::now() + Duration::from_secs(300);
    while !stream_idle(&redis).await {
        assert!(
            Instant::now() < deadline,
            "the worker did not drain the backlog in 5 minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = started.elapsed().as_secs_f64();
    let mut after = 0;
    for s in &subs {
        after += push.received(&s.id).await.len();
    }
    println!(
        "\n## One worker draining a backlog (SENDJAY_NOTIFY_CONCURRENCY={})\n",
        a.concurrency
    );
    println!("| jobs | pushes received | seconds (incl. worker start) | jobs/s | CPU |\n|---|---|---|---|---|");
    println!(
        "| {jobs} | {} | {took:.2} | {:.0} | {} |",
        after - before,
        jobs as f64 / took,
        cpu.report()
    );

    // 3. Commit to push at a fixed rate.
    let mark: HashMap<String, usize> = {
        let mut m = HashMap::new();
        for s in &subs {
            m.insert(s.id.clone(), push.received(&s.id).await.len());
        }
        m
    };
    let cpu = Cpu::start(vec![
        ("generator+client nodes", me.clone()),
        ("worker", worker_pid.clone()),
        ("push service", push_pid.clone()),
    ]);
    let acks = open_loop(&clients, &rooms, a.rate, a.seconds, "rate").await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while !stream_idle(&redis).await && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cpu_text = cpu.report();
    let mut latencies = Vec::new();
    for s in &subs {
        for p in push.received(&s.id).await.iter().skip(mark[&s.id]) {
            let sent = p.payload_json()["sent_at_ms"].as_i64().unwrap_or(0);
            latencies.push(p.at_ms as f64 - sent as f64);
        }
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "\n## Commit to push at {} messages/s for {} s (one worker)\n",
        a.rate, a.seconds
    );
    println!("| acked | pushes | p50 ms | p99 ms | max ms | CPU |\n|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {:.1} | {:.1} | {:.1} | {cpu_text} |",
        acks.len(),
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    worker.start_kill().ok();
}
