//! `sendjay-loadtest run <scenario.toml>`: seeds (through the router's public `admin seed-load` command),
//! mints tokens, picks nodes, runs the scenario with a progress line every second, and writes the summary,
//! `--json` and `--html` reports; the scenario's thresholds set the exit code.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use futures_util::stream::{self, StreamExt};
use sendjay_common::jwt::TokenKeys;
use sendjay_common::protocol::{Call, DeviceClass};
use tokio::sync::Semaphore;

use crate::report::{self, NodeReport, RunReport};
use crate::scenario::{self, Assign, Kind, Scenario};
use crate::seed::{self, SeedDescription};
use crate::stats::{Lat, Recorder, TimePoint};
use crate::sys;
use sendjay_client::{ClientError, ConnectOptions, Connection};

/// Connections per (source address, destination) before the generator moves to the next 127.0.0.x.
pub const PER_SOURCE_LIMIT: usize = 25_000;

/// Options shared by `run` and `smoke`.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// The router's base URL.
    #[arg(
        long,
        env = "SENDJAY_LOADTEST_ROUTER",
        default_value = "http://127.0.0.1:7300"
    )]
    pub router: String,
    /// Node WebSocket URLs, comma-separated (`ws://127.0.0.1:7411/v1/ws,...`): used by `--assign round-robin`
    /// and login-storm; by default nodes are picked by the router.
    #[arg(long, value_delimiter = ',')]
    pub nodes: Vec<String>,
    /// The cluster's JWT secret (`SENDJAY_JWT_SECRET`): tokens are minted locally instead of logging
    /// thousands of users in through argon2.
    #[arg(long, env = "SENDJAY_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: String,
    /// PostgreSQL URL handed to the seed command (`SENDJAY_DATABASE_URL`).
    #[arg(long, env = "SENDJAY_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The router binary whose `admin seed-load` creates the users and rooms.
    #[arg(long, default_value = "target/release/sendjay-router")]
    pub seed_command: String,
    /// Read the seed description from this file (output of `sendjay-router admin seed-load`) instead of
    /// running the seed command.
    #[arg(long)]
    pub seed_file: Option<PathBuf>,
    /// Node process ids to watch (memory, CPU); by default found by their listening ports in /proc.
    #[arg(long, value_delimiter = ',')]
    pub node_pids: Vec<u32>,
    /// Override the scenario's node assignment: `router` or `round-robin` (over --nodes).
    #[arg(long)]
    pub assign: Option<String>,
    /// Allow targets outside 127.0.0.0/8 (only for a cluster you own and may load).
    #[arg(long)]
    pub allow_non_loopback: bool,
}

/// Options of `sendjay-loadtest run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario file (`loadtest/scenarios/*.toml`).
    pub scenario: PathBuf,
    /// Where the cluster is and how to reach it.
    #[command(flatten)]
    pub target: Target,
    /// Override the main phase length (`30s`, `2m`, `500ms`, or seconds).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<f64>,
    /// Override scenario keys: `--set connections=20000 --set seed.users=20000`.
    #[arg(long = "set")]
    pub overrides: Vec<String>,
    /// Write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report here.
    #[arg(long)]
    pub html: Option<PathBuf>,
}

/// Parses `30s`, `2m`, `500ms`, `1h` or plain seconds.
pub fn parse_duration(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (num, mult) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (t, 1.0)
    };
    num.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| *v >= 0.0)
        .map(|v| v * mult)
        .ok_or_else(|| format!("`{text}` is not a duration (e.g. 30s, 2m, 500ms)"))
}

/// A node the run watches.
#[derive(Debug, Clone)]
pub struct NodeWatch {
    /// Its WebSocket URL.
    pub url: String,
    /// Its process, when found.
    pub pid: Option<u32>,
}

/// Everything a scenario run shares.
pub struct Ctx {
    /// The scenario.
    pub scenario: Scenario,
    /// Target options.
    pub target: Target,
    /// Token minting.
    pub keys: TokenKeys,
    /// The seeded data.
    pub seed: SeedDescription,
    /// Measurements.
    pub rec: Arc<Recorder>,
    /// Nodes seen.
    pub nodes: Mutex<Vec<NodeWatch>>,
    /// Scenario-specific results.
    pub metrics: Mutex<BTreeMap<String, f64>>,
    /// Per-node memory results.
    pub node_reports: Mutex<Vec<NodeReport>>,
    /// Remarks for the report.
    pub notes: Mutex<Vec<String>>,
    /// Distinguishes this run's messages from others'.
    pub tag: String,
}

impl Ctx {
    /// Sets a result metric.
    pub fn metric(&self, name: &str, value: f64) {
        lock(&self.metrics).insert(name.to_owned(), value);
    }

    /// Adds a remark (also printed).
    pub fn note(&self, text: String) {
        eprintln!("note: {text}");
        lock(&self.notes).push(text);
    }

    /// A token for user number `n`.
    pub fn token(&self, n: u32, device: DeviceClass) -> Result<String, String> {
        self.keys
            .issue(
                &self.seed.user_id(n),
                &self.seed.passkey,
                device,
                sendjay_common::jwt::now_secs(),
                12 * 3600,
            )
            .map_err(|e| e.to_string())
    }

    fn assign_mode(&self) -> Result<Assign, String> {
        match self.target.assign.as_deref() {
            None => Ok(self.scenario.assign),
            Some("router") => Ok(Assign::Router),
            Some("round-robin") => Ok(Assign::RoundRobin),
            Some(other) => Err(format!("--assign {other}: expected router or round-robin")),
        }
    }

    /// Registers a node URL (checking it is a permitted target) and returns its index.
    pub fn watch_node(&self, url: &str) -> Result<usize, String> {
        let mut nodes = lock(&self.nodes);
        if let Some(i) = nodes.iter().position(|n| n.url == url) {
            return Ok(i);
        }
        sys::check_target(url, self.target.allow_non_loopback)?;
        let pid = sys::host_port(url)
            .and_then(|(_, port)| sys::pid_listening_on(port, &self.target.node_pids));
        if pid.is_none() {
            eprintln!("note: no local process found listening for {url}: its memory and CPU are not reported");
        }
        nodes.push(NodeWatch {
            url: url.to_owned(),
            pid,
        });
        Ok(nodes.len() - 1)
    }

    /// Picks the node of each user (router `/v1/assign` with a minted token, or round robin).
    pub async fn assign(&self, users: &[u32], device: DeviceClass) -> Result<Vec<usize>, String> {
        match self.assign_mode()? {
            Assign::RoundRobin => {
                if self.target.nodes.is_empty() {
                    return Err("round-robin assignment needs --nodes ws://..,ws://..".into());
                }
                let idx: Vec<usize> = self
                    .target
                    .nodes
                    .iter()
                    .map(|u| self.watch_node(u))
                    .collect::<Result<_, _>>()?;
                Ok((0..users.len()).map(|i| idx[i % idx.len()]).collect())
            }
            Assign::Router => {
                self.rec.set_phase("assign");
                let router = self.target.router.clone();
                let results: Vec<Result<String, String>> = stream::iter(users.iter().copied())
                    .map(|n| {
                        let router = router.clone();
                        let token = self.token(n, device);
                        async move {
                            let token = token?;
                            let mut last = String::new();
                            for attempt in 0..5u64 {
                                match sendjay_client::router::assign(&router, &token).await {
                                    Ok(node) => return Ok(node.url),
                                    Err(e) => last = e.to_string(),
                                }
                                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                            }
                            Err(format!("assignment failed: {last}"))
                        }
                    })
                    .buffered(32)
                    .collect()
                    .await;
                results
                    .into_iter()
                    .map(|r| r.and_then(|url| self.watch_node(&url)))
                    .collect()
            }
        }
    }

    /// The distinct nodes known (from --nodes, and from the router for a sample of users).
    pub async fn all_nodes(
        &self,
        sample: &[u32],
        device: DeviceClass,
    ) -> Result<Vec<usize>, String> {
        for url in &self.target.nodes {
            self.watch_node(url)?;
        }
        if self.assign_mode()? == Assign::Router {
            let take = sample.len().min(64);
            self.assign(&sample[..take], device).await?;
        }
        Ok((0..lock(&self.nodes).len()).collect())
    }

    /// The URL of node `i`.
    pub fn node_url(&self, i: usize) -> String {
        lock(&self.nodes)[i].url.clone()
    }

    /// Samples every watched node's RSS (KiB).
    pub fn node_rss(&self) -> Vec<Option<u64>> {
        lock(&self.nodes)
            .iter()
            .map(|n| n.pid.and_then(sys::rss_kib))
            .collect()
    }
}

/// One connection to open.
#[derive(Debug, Clone)]
pub struct Dial {
    /// User number.
    pub user: u32,
    /// Node index.
    pub node: usize,
    /// Token.
    pub token: String,
    /// `manual` or `auto`.
    pub launch: &'static str,
}

/// How to confirm a session after the upgrade.
#[derive(Debug, Clone, Copy)]
pub enum Confirm {
    /// A `ping` request.
    Ping,
    /// A `sync` request (what a reconnecting client does first).
    Sync,
}

/// Opens the connections with at most `concurrency` in flight and, when `rate` > 0, starts at that many per
/// second (latency then counts from each one's intended start: no coordinated omission). Each success is
/// recorded under `kind`; each failure is returned for the caller to classify.
pub async fn connect_all(
    ctx: &Arc<Ctx>,
    dials: Vec<Dial>,
    concurrency: u32,
    rate: f64,
    kind: Lat,
    confirm: Confirm,
    storm_start: Option<tokio::time::Instant>,
) -> Vec<Result<Arc<Connection>, ClientError>> {
    // Spread sockets over 127.0.0.x past PER_SOURCE_LIMIT connections to one destination.
    let mut per_dest: BTreeMap<usize, usize> = BTreeMap::new();
    let locals: Vec<Option<std::net::IpAddr>> = dials
        .iter()
        .map(|d| {
            let k = per_dest.entry(d.node).or_default();
            let slot = *k / PER_SOURCE_LIMIT;
            *k += 1;
            (slot > 0)
                .then(|| std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1 + slot as u8)))
        })
        .collect();
    let many = per_dest.values().any(|c| *c > PER_SOURCE_LIMIT);
    let urls: Vec<String> = lock(&ctx.nodes).iter().map(|n| n.url.clone()).collect();
    let sem = Arc::new(Semaphore::new(concurrency.max(1) as usize));
    let start = tokio::time::Instant::now();
    let mut handles = Vec::with_capacity(dials.len());
    for (i, (dial, local)) in dials.into_iter().zip(locals).enumerate() {
        let ctx = ctx.clone();
        let sem = sem.clone();
        let url = urls[dial.node].clone();
        let local = if many {
            local.or(Some(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)))
        } else {
            local
        };
        handles.push(tokio::spawn(async move {
            let intended = if rate > 0.0 {
                let at = start + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(at).await;
                Some(at)
            } else {
                storm_start
            };
            let _permit = sem.acquire_owned().await.ok();
            let began = intended.unwrap_or_else(tokio::time::Instant::now);
            let options = ConnectOptions {
                launch: dial.launch,
                offer_subprotocol: true,
                timeout: Duration::from_secs(15),
            };
            let client = tokio::time::timeout(
                Duration::from_secs(15),
                Connection::connect_from(&url, &dial.token, options, local),
            )
            .await
            .unwrap_or(Err(ClientError::Timeout(Duration::from_secs(15))))?;
            let call = match confirm {
                Confirm::Ping => Call::Ping,
                Confirm::Sync => Call::Sync(Default::default()),
            };
            client.call(call).await?;
            ctx.rec.record(kind, began.elapsed());
            ctx.rec.counters.connected.fetch_add(1, Ordering::Relaxed);
            ctx.rec.counters.connections.fetch_add(1, Ordering::Relaxed);
            Ok(Arc::new(client))
        }));
    }
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        let r = h
            .await
            .unwrap_or_else(|e| Err(ClientError::Unexpected(e.to_string())));
        if r.is_err() {
            ctx.rec
                .counters
                .connect_failed
                .fetch_add(1, Ordering::Relaxed);
        }
        out.push(r);
    }
    out
}

/// Closes clients (a close frame each), `concurrency` at a time.
pub async fn close_all(ctx: &Arc<Ctx>, clients: Vec<Arc<Connection>>) {
    ctx.rec.set_phase("close");
    stream::iter(clients)
        .for_each_concurrent(512, |c| {
            let ctx = ctx.clone();
            async move {
                if !c.is_closed() {
                    c.close().await;
                    let _ = c.closed(Duration::from_secs(3)).await;
                }
                ctx.rec.counters.connections.fetch_sub(1, Ordering::Relaxed);
            }
        })
        .await;
}

/// The device class named in the scenario.
pub fn device(name: &str) -> Result<DeviceClass, String> {
    DeviceClass::parse(name).ok_or_else(|| format!("device `{name}`: expected web or mobile"))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Prints a progress line every second and records the timeline until `stop` is set.
fn spawn_progress(
    ctx: Arc<Ctx>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<f64> {
    tokio::spawn(async move {
        let mut stop = stop;
        let mut gen = sys::CpuMeter::new(None);
        let mut node_meters: Vec<(String, sys::CpuMeter)> = Vec::new();
        let mut last = [0u64; 4];
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        let mut max_cpu: f64 = 0.0;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => break,
            }
            let c = &ctx.rec.counters;
            let now = [
                c.connected.load(Ordering::Relaxed),
                c.sent.load(Ordering::Relaxed),
                c.acked.load(Ordering::Relaxed),
                c.delivered.load(Ordering::Relaxed),
            ];
            let d: Vec<u64> = now
                .iter()
                .zip(last)
                .map(|(n, l)| n.saturating_sub(l))
                .collect();
            last = now;
            let cpu = gen.sample();
            max_cpu = max_cpu.max(cpu);
            let nodes = lock(&ctx.nodes).clone();
            for n in &nodes {
                if !node_meters.iter().any(|(u, _)| *u == n.url) {
                    if let Some(pid) = n.pid {
                        node_meters.push((n.url.clone(), sys::CpuMeter::new(Some(pid))));
                    }
                }
            }
            let node_cpu: BTreeMap<String, f64> = node_meters
                .iter_mut()
                .map(|(u, m)| (u.clone(), m.sample()))
                .collect();
            let node_rss: BTreeMap<String, u64> = nodes
                .iter()
                .filter_map(|n| Some((n.url.clone(), sys::rss_kib(n.pid?)?)))
                .collect();
            let lat = ctx.rec.take_interval();
            let t = ctx.rec.start.elapsed().as_secs_f64();
            let phase = ctx.rec.phase();
            let conns = c.connections.load(Ordering::Relaxed);
            let errors =
                c.errors.load(Ordering::Relaxed) + c.connect_failed.load(Ordering::Relaxed);
            let mut line = format!(
                "[{t:6.1}s] {} {phase:<9} conns {conns} (+{}/s) sent {} (+{}/s) acked {} deliv {} (+{}/s) err {errors} gen-cpu {:.0}%",
                ctx.scenario.name, d[0], now[1], d[1], now[2], now[3], d[3], cpu * 100.0
            );
            for (name, [p50, p99, _]) in &lat {
                line.push_str(&format!(" {name} p50/p99 {p50:.1}/{p99:.1}ms"));
            }
            for (i, n) in nodes.iter().enumerate() {
                if let Some(rss) = node_rss.get(&n.url) {
                    line.push_str(&format!(
                        " n{i} {:.0}MiB {:.0}%",
                        *rss as f64 / 1024.0,
                        node_cpu.get(&n.url).copied().unwrap_or(0.0) * 100.0
                    ));
                }
            }
            eprintln!("{line}");
            ctx.rec.push_point(TimePoint {
                t,
                phase,
                connections: conns,
                connects_per_s: d[0] as f64,
                sent_per_s: d[1] as f64,
                acked_per_s: d[2] as f64,
                delivered_per_s: d[3] as f64,
                errors,
                latency_ms: lat,
                generator_cpu_cores: cpu,
                node_rss_kib: node_rss,
                node_cpu_cores: node_cpu,
            });
        }
        max_cpu
    })
}

/// Runs a scenario and writes its reports; returns the report.
pub async fn run_scenario(
    scenario: Scenario,
    target: Target,
    source: String,
) -> Result<RunReport, String> {
    let keys = TokenKeys::new(target.jwt_secret.as_bytes(), None)
        .map_err(|e| format!("--jwt-secret: {e}"))?;
    sys::check_target(&target.router, target.allow_non_loopback)?;
    for n in &target.nodes {
        sys::check_target(n, target.allow_non_loopback)?;
    }
    let needs = scenario.seed.clone();
    eprintln!(
        "sendjay-loadtest: {} — seeding {} users, {} groups of {}, {} pairs (prefix `{}`)",
        scenario.name, needs.users, needs.groups, needs.group_size, needs.pairs, needs.prefix
    );
    let seed = match (&target.seed_file, &target.database_url) {
        (Some(file), _) => seed::read_file(file)?,
        (None, Some(db)) => seed::run_seed_command(&target.seed_command, db, &needs).await?,
        (None, None) => return Err(
            "the scenario needs seeded users: pass --database-url (or SENDJAY_DATABASE_URL) so \
                        `sendjay-router admin seed-load` can create them, or --seed-file FILE"
                .into(),
        ),
    };
    seed.covers(&needs)?;
    // Descriptors: every connection, plus slack for the router calls and files.
    let wanted = u64::from(scenario.connections.max(scenario.seed.users))
        * u64::from(if scenario.kind == Kind::LoginStorm {
            scenario.copies * scenario.devices.len() as u32
        } else {
            1
        })
        + 1024;
    let nofile = sys::raise_nofile(wanted)?;
    let rec = Arc::new(Recorder::new());
    let ctx = Arc::new(Ctx {
        scenario: scenario.clone(),
        target,
        keys,
        seed,
        rec: rec.clone(),
        nodes: Mutex::new(Vec::new()),
        metrics: Mutex::new(BTreeMap::new()),
        node_reports: Mutex::new(Vec::new()),
        notes: Mutex::new(Vec::new()),
        tag: format!("{:08x}", rand::random::<u32>()),
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let progress = spawn_progress(ctx.clone(), stop_rx);
    let limit = Duration::from_secs(scenario.timeout_secs);
    let outcome = tokio::time::timeout(limit, crate::scenarios::run(ctx.clone())).await;
    let _ = stop_tx.send(true);
    let max_cpu = progress.await.unwrap_or(0.0);
    let wall = rec.start.elapsed().as_secs_f64();
    let gen_cpu_avg = sys::cpu_secs(None).unwrap_or(0.0) / wall.max(0.001);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let failure = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => Some(format!(
            "the run exceeded timeout_secs = {} and was stopped",
            scenario.timeout_secs
        )),
    };
    if max_cpu > 0.9 * cores as f64 {
        ctx.note(format!(
            "the generator used up to {:.0}% of {cores} cores (average {:.0}%): it may be the bottleneck; \
             latencies and rates may be understated",
            max_cpu * 100.0,
            gen_cpu_avg * 100.0
        ));
    }
    let mut metrics = lock(&ctx.metrics).clone();
    let mut latency = BTreeMap::new();
    for kind in Lat::ALL {
        if let Some(h) = rec.histogram(kind) {
            let s = crate::stats::summarize(&h);
            let n = kind.name();
            metrics.insert(format!("{n}_count"), s.count as f64);
            metrics.insert(format!("p50_{n}_ms"), s.p50_ms);
            metrics.insert(format!("p90_{n}_ms"), s.p90_ms);
            metrics.insert(format!("p99_{n}_ms"), s.p99_ms);
            metrics.insert(format!("p999_{n}_ms"), s.p999_ms);
            metrics.insert(format!("max_{n}_ms"), s.max_ms);
            latency.insert(n.to_owned(), s);
        }
    }
    let c = &rec.counters;
    for (name, v) in [
        ("connected", &c.connected),
        ("connect_failed", &c.connect_failed),
        ("sent", &c.sent),
        ("acked", &c.acked),
        ("duplicates", &c.duplicates),
        ("errors", &c.errors),
    ] {
        metrics
            .entry(name.to_owned())
            .or_insert(v.load(Ordering::Relaxed) as f64);
    }
    metrics.insert("generator_cpu_max_cores".into(), max_cpu);
    metrics.insert("generator_cpu_avg_cores".into(), gen_cpu_avg);
    let verdicts: Vec<scenario::Verdict> = if failure.is_none() {
        scenario
            .thresholds
            .iter()
            .map(|t| scenario::evaluate(t, &metrics))
            .collect()
    } else {
        Vec::new()
    };
    let passed = failure.is_none() && verdicts.iter().all(|v| v.passed);
    let report = RunReport {
        scenario: scenario.clone(),
        source,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        started_unix: sendjay_common::jwt::now_secs() - wall as i64,
        wall_secs: wall,
        machine: report::Machine {
            cores,
            nofile_limit: nofile,
            ephemeral_ports: sys::ephemeral_ports(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
        },
        metrics,
        latency,
        errors: rec.errors(),
        nodes: lock(&ctx.node_reports).clone(),
        notes: lock(&ctx.notes).clone(),
        failure,
        verdicts,
        passed,
        timeline: rec.timeline(),
    };
    Ok(report)
}

/// `sendjay-loadtest run`: exit code 0 when every threshold holds, 1 when one fails, 2 when the run failed.
pub async fn main(args: RunArgs) -> Result<std::process::ExitCode, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(&args.scenario)
        .map_err(|e| format!("cannot read {}: {e}", args.scenario.display()))?;
    let mut overrides = args.overrides.clone();
    if let Some(d) = args.duration {
        overrides.push(format!("duration_secs={d}"));
    }
    let scenario = Scenario::parse(&text, &overrides)
        .map_err(|e| format!("{}: {e}", args.scenario.display()))?;
    let report = run_scenario(scenario, args.target, args.scenario.display().to_string()).await?;
    finish(&report, args.json.as_deref(), args.html.as_deref())
}

/// Prints the summary, writes the reports and turns the verdict into an exit code.
pub fn finish(
    report: &RunReport,
    json: Option<&std::path::Path>,
    html: Option<&std::path::Path>,
) -> Result<std::process::ExitCode, Box<dyn std::error::Error>> {
    print!("{}", report::summary(report));
    if let Some(path) = json {
        std::fs::write(path, serde_json::to_string_pretty(report)?)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = html {
        std::fs::write(path, report::html(report))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(if report.failure.is_some() {
        std::process::ExitCode::from(2)
    } else if report.passed {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    })
}

/// Options of `sendjay-loadtest smoke`.
#[derive(Debug, Args)]
pub struct SmokeArgs {
    /// Where the cluster is and how to reach it.
    #[command(flatten)]
    pub target: Target,
    /// Write one JSON report per scenario into this directory.
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
}

/// The smoke scenarios, built in (the same files as `loadtest/scenarios/smoke/*.toml`).
pub const SMOKE: [(&str, &str); 9] = [
    (
        "idle-connections",
        include_str!("../scenarios/smoke/idle-connections.toml"),
    ),
    (
        "connect-storm",
        include_str!("../scenarios/smoke/connect-storm.toml"),
    ),
    (
        "room-fanout",
        include_str!("../scenarios/smoke/room-fanout.toml"),
    ),
    (
        "room-edits",
        include_str!("../scenarios/smoke/room-edits.toml"),
    ),
    (
        "room-reactions",
        include_str!("../scenarios/smoke/room-reactions.toml"),
    ),
    (
        "small-rooms",
        include_str!("../scenarios/smoke/small-rooms.toml"),
    ),
    (
        "login-storm",
        include_str!("../scenarios/smoke/login-storm.toml"),
    ),
    (
        "enterprise-day",
        include_str!("../scenarios/smoke/enterprise-day.toml"),
    ),
    (
        "files-mixed",
        include_str!("../scenarios/smoke/files-mixed.toml"),
    ),
];

/// `sendjay-loadtest smoke`: every smoke scenario, small and fast; fails when any fails.
pub async fn smoke(args: SmokeArgs) -> Result<std::process::ExitCode, Box<dyn std::error::Error>> {
    let mut failed = Vec::new();
    // node-kill goes last: it kills one of the cluster's nodes.
    let all = SMOKE
        .iter()
        .chain(RECONNECT_SMOKE.iter())
        .chain(NODE_KILL_SMOKE.iter());
    for (name, text) in all {
        let scenario = Scenario::parse(text, &[]).map_err(|e| format!("smoke {name}: {e}"))?;
        let source = format!("built-in smoke/{name}.toml");
        let report = match run_scenario(scenario, args.target.clone(), source).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("smoke {name}: {e}");
                failed.push(name.to_string());
                continue;
            }
        };
        let json = args
            .out_dir
            .as_ref()
            .map(|d| d.join(format!("{name}.json")));
        let code = finish(&report, json.as_deref(), None)?;
        if code != std::process::ExitCode::SUCCESS {
            failed.push(name.to_string());
        }
    }
    if failed.is_empty() {
        println!("smoke: all scenarios passed");
        Ok(std::process::ExitCode::SUCCESS)
    } else {
        println!("smoke: FAILED: {}", failed.join(", "));
        Ok(std::process::ExitCode::FAILURE)
    }
}

/// The reconnect-storm smoke scenario.
pub const RECONNECT_SMOKE: [(&str, &str); 1] = [(
    "reconnect-storm",
    include_str!("../scenarios/smoke/reconnect-storm.toml"),
)];

/// The node-kill smoke scenario (last: it kills node 1 of the cluster).
pub const NODE_KILL_SMOKE: [(&str, &str); 1] = [(
    "node-kill",
    include_str!("../scenarios/smoke/node-kill.toml"),
)];
