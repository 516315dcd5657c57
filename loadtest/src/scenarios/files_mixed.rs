//! files-mixed: chat between the members of two-member rooms while some of them upload and download files over
//! the nodes' HTTP files API (docs/protocol.md §19), to answer issue 13's three questions in one run:
//!
//! * how many MB/s an upload and a download get through a node;
//! * how much a node's memory grows while one big file (1 GiB) goes up and comes back down — it streams, so it
//!   must not grow with the file;
//! * whether chat suffers while files move: delivery p99 during the file burst against the same run's p99
//!   before it (`chat_p99_ratio`), so the machine's background load is the same for both.
//!
//! Phases: `baseline` (chat only), `burst` (chat, plus `uploaders` users each uploading `files_per_uploader`
//! files of `file_bytes`, sending each as a `file` message and the room's other member downloading it), then
//! `big` (chat, plus one upload and download of `big_file_bytes` while every watched node's RSS is sampled).
//! Every phase is bounded in count and time; chat is open loop at `rate` over all the rooms.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, Stream};
use hdrhistogram::Histogram;
use sendjay_client::files::{self, FilesError};
use sendjay_client::Connection;
use sendjay_common::protocol::{Call, MessageKind, Push, Reply, SendArgs, SendRichArgs};
use serde::{Deserialize, Serialize};

use super::{body, connect_users, dials_for, parse_body, secs, seed_rooms, Ledger};
use crate::run::{close_all, Ctx};
use crate::stats::{error_code, Lat};
use crate::sys;

/// Bytes per chunk of a generated upload body (one random block, shared, sent again and again).
const CHUNK: usize = 256 * 1024;
/// 10^6: MB/s as storage and network people count it.
const MB: f64 = 1_000_000.0;

/// The files part of a files-mixed run (the `[files]` table).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesMix {
    /// Seconds of chat alone before the file burst (the baseline of `chat_p99_ratio`).
    pub baseline_secs: f64,
    /// Most seconds the burst lasts; no transfer starts after it (one under way finishes).
    pub burst_secs: f64,
    /// Users uploading at once during the burst (each the first member of one of the first rooms).
    pub uploaders: u32,
    /// Files each uploader uploads (and its room's other member downloads) during the burst.
    pub files_per_uploader: u32,
    /// Size of each burst file, bytes.
    pub file_bytes: u64,
    /// Size of the one big file of the `big` phase, bytes (0 = no big phase). The nodes' limit
    /// (`SENDJAY_FILES_MAX_BYTES`, default 100 MiB) must allow it.
    pub big_file_bytes: u64,
    /// How often the nodes' RSS is read during the big phase, milliseconds.
    pub rss_sample_ms: u64,
}

impl Default for FilesMix {
    fn default() -> Self {
        FilesMix {
            baseline_secs: 20.0,
            burst_secs: 60.0,
            uploaders: 4,
            files_per_uploader: 10,
            file_bytes: 50 * 1024 * 1024,
            big_file_bytes: 0,
            rss_sample_ms: 100,
        }
    }
}

impl FilesMix {
    /// Checks the values before anything connects.
    pub fn validate(&self) -> Result<(), String> {
        let max = sendjay_common::protocol::MAX_FILE_BYTES as u64;
        if !(self.baseline_secs.is_finite() && self.baseline_secs > 0.0) {
            return Err("[files] baseline_secs: expected a number of seconds > 0".into());
        }
        if !(self.burst_secs.is_finite() && self.burst_secs > 0.0) {
            return Err("[files] burst_secs: expected a number of seconds > 0".into());
        }
        if self.uploaders == 0 || self.files_per_uploader == 0 {
            return Err("[files] uploaders and files_per_uploader: expected at least 1".into());
        }
        if self.file_bytes == 0 || self.file_bytes > max {
            return Err(format!("[files] file_bytes: expected 1 … {max}"));
        }
        if self.big_file_bytes > max {
            return Err(format!("[files] big_file_bytes: expected 0 … {max}"));
        }
        if self.rss_sample_ms == 0 {
            return Err("[files] rss_sample_ms: expected at least 1".into());
        }
        Ok(())
    }
}

/// The phase a chat message was sent in, for the per-phase delivery histograms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Stage {
    Baseline = 0,
    Burst = 1,
    Big = 2,
    Other = 3,
}

/// The p99 of one phase's chat deliveries, ms (`None` when nothing was delivered in it).
fn p99_ms(h: &Histogram<u64>) -> Option<f64> {
    (!h.is_empty()).then(|| h.value_at_quantile(0.99) as f64 / 1000.0)
}

/// The burst's chat p99 against the baseline's (`None` when either is missing).
fn p99_ratio(baseline: &Histogram<u64>, burst: &Histogram<u64>) -> Option<f64> {
    let (b, f) = (p99_ms(baseline)?, p99_ms(burst)?);
    Some(f / b.max(0.001))
}

/// Per phase: the median over the phase's seconds of each second's chat delivery p99, ms. A single stall of
/// the shared machine moves a whole phase's p99 but only one second's.
fn median_second_p99_ms(
    seconds: &std::collections::BTreeMap<(u8, u64), Histogram<u64>>,
    stage: Stage,
) -> Option<f64> {
    let mut p99s: Vec<f64> = seconds
        .iter()
        .filter(|((st, _), h)| *st == stage as u8 && h.len() >= 10)
        .filter_map(|(_, h)| p99_ms(h))
        .collect();
    if p99s.is_empty() {
        return None;
    }
    p99s.sort_by(|a, b| a.total_cmp(b));
    Some(p99s[p99s.len() / 2])
}

/// An upload body of `len` bytes, produced as it is sent: one random block handed out again and again.
fn generated(len: u64, block: Bytes) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    stream::unfold(len, move |left| {
        let block = block.clone();
        async move {
            if left == 0 {
                return None;
            }
            let n = left.min(block.len() as u64);
            Some((Ok(block.slice(..n as usize)), left - n))
        }
    })
}

/// Who moves files: an uploader and the other member of their room.
#[derive(Clone)]
struct FilePair {
    room_id: i64,
    up: Peer,
    down: Peer,
}

#[derive(Clone)]
struct Peer {
    conn: Arc<Connection>,
    node_url: String,
    token: String,
}

/// Totals of the file transfers.
#[derive(Default)]
struct Moved {
    up_bytes: AtomicU64,
    up_micros: AtomicU64,
    down_bytes: AtomicU64,
    down_micros: AtomicU64,
    uploaded: AtomicU64,
    downloaded: AtomicU64,
    errors: AtomicU64,
}

/// One file up, sent into the room, and down again; returns (upload, download) seconds.
async fn transfer(
    ctx: &Ctx,
    pair: &FilePair,
    size: u64,
    name: &str,
    block: Bytes,
    moved: &Moved,
) -> Result<(f64, f64), String> {
    let fail = |what: &str, e: FilesError| {
        moved.errors.fetch_add(1, Ordering::Relaxed);
        ctx.rec.error(&format!("{what}:{}", e.code()));
        format!("{what}: {e}")
    };
    let t0 = tokio::time::Instant::now();
    let up = files::upload(
        &pair.up.node_url,
        &pair.up.token,
        pair.room_id,
        name,
        "application/octet-stream",
        Some(size),
        generated(size, block),
    )
    .await
    .map_err(|e| fail("upload", e))?;
    let up_time = t0.elapsed();
    ctx.rec.record(Lat::Upload, up_time);
    moved.up_bytes.fetch_add(up.size as u64, Ordering::Relaxed);
    moved
        .up_micros
        .fetch_add(up_time.as_micros() as u64, Ordering::Relaxed);
    moved.uploaded.fetch_add(1, Ordering::Relaxed);
    if up.size as u64 != size {
        moved.errors.fetch_add(1, Ordering::Relaxed);
        ctx.rec.error("upload:size_mismatch");
        return Err(format!(
            "uploaded {size} bytes, the node stored {}",
            up.size
        ));
    }
    let send = SendRichArgs {
        room_id: pair.room_id,
        client_msg_id: format!("lt-{}-f-{}", ctx.tag, up.file_id),
        kind: MessageKind::File,
        file: Some(up.file_info()),
        ..Default::default()
    };
    match pair.up.conn.call(Call::SendRich(send)).await {
        Ok(Reply::Send { .. }) => {}
        Ok(other) => {
            moved.errors.fetch_add(1, Ordering::Relaxed);
            ctx.rec.error("file_send:unexpected_reply");
            return Err(format!("send of the file message: unexpected {other:?}"));
        }
        Err(e) => {
            moved.errors.fetch_add(1, Ordering::Relaxed);
            ctx.rec.error(&format!("file_send:{}", error_code(&e)));
            return Err(format!("send of the file message: {e}"));
        }
    }
    let t1 = tokio::time::Instant::now();
    let download = files::download(&pair.down.node_url, &pair.down.token, &up.file_id, None)
        .await
        .map_err(|e| fail("download", e))?;
    let etag = download.etag.clone();
    let got = download.discard().await.map_err(|e| fail("download", e))?;
    let down_time = t1.elapsed();
    ctx.rec.record(Lat::Download, down_time);
    moved.down_bytes.fetch_add(got, Ordering::Relaxed);
    moved
        .down_micros
        .fetch_add(down_time.as_micros() as u64, Ordering::Relaxed);
    let expected_etag = up.sha256.as_ref().map(|s| format!("\"{s}\""));
    if got != size || etag != expected_etag {
        moved.errors.fetch_add(1, Ordering::Relaxed);
        ctx.rec.error("download:mismatch");
        return Err(format!(
            "downloaded {got} of {size} bytes, ETag {etag:?} against the upload's {expected_etag:?}"
        ));
    }
    moved.downloaded.fetch_add(1, Ordering::Relaxed);
    Ok((up_time.as_secs_f64(), down_time.as_secs_f64()))
}

/// Prints the transfers' progress once a second until `stop`.
fn spawn_files_progress(
    ctx: Arc<Ctx>,
    moved: Arc<Moved>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        let (mut up0, mut down0) = (0u64, 0u64);
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            let up = moved.up_bytes.load(Ordering::Relaxed);
            let down = moved.down_bytes.load(Ordering::Relaxed);
            eprintln!(
                "[{:6.1}s] files: up {} files {:.0} MB (+{:.1} MB/s) down {} files {:.0} MB (+{:.1} MB/s) file-err {}",
                ctx.rec.start.elapsed().as_secs_f64(),
                moved.uploaded.load(Ordering::Relaxed),
                up as f64 / MB,
                (up - up0) as f64 / MB,
                moved.downloaded.load(Ordering::Relaxed),
                down as f64 / MB,
                (down - down0) as f64 / MB,
                moved.errors.load(Ordering::Relaxed),
            );
            (up0, down0) = (up, down);
        }
    })
}

/// CPU of the generator and of every watched node over one phase, cores.
struct PhaseCpu {
    gen: sys::CpuMeter,
    nodes: Vec<sys::CpuMeter>,
}

impl PhaseCpu {
    fn start(ctx: &Ctx) -> PhaseCpu {
        let pids: Vec<Option<u32>> = ctx
            .nodes
            .lock()
            .map(|n| n.iter().map(|w| w.pid).collect())
            .unwrap_or_default();
        PhaseCpu {
            gen: sys::CpuMeter::new(None),
            nodes: pids
                .into_iter()
                .flatten()
                .map(|p| sys::CpuMeter::new(Some(p)))
                .collect(),
        }
    }

    /// Records `gen_cpu_cores_<phase>` and `nodes_cpu_cores_<phase>` (summed over the nodes).
    fn finish(mut self, ctx: &Ctx, phase: &str) {
        ctx.metric(&format!("gen_cpu_cores_{phase}"), self.gen.sample());
        let nodes: f64 = self.nodes.iter_mut().map(|m| m.sample()).sum();
        ctx.metric(&format!("nodes_cpu_cores_{phase}"), nodes);
    }
}

/// Runs files-mixed.
pub(crate) async fn run(ctx: Arc<Ctx>) -> Result<(), String> {
    let s = ctx.scenario.clone();
    let mix = s.files.clone();
    mix.validate()?;
    if s.room_source != "pairs" {
        return Err("files-mixed chats in two-member rooms: set room_source = \"pairs\"".into());
    }
    if !(s.rate.is_finite() && s.rate > 0.0) {
        return Err("files-mixed: rate (chat messages per second) must be > 0".into());
    }
    let rooms = seed_rooms(&ctx)?;
    if rooms.len() < mix.uploaders as usize {
        return Err(format!(
            "[files] uploaders = {} but only {} rooms: raise [seed] pairs or lower uploaders",
            mix.uploaders,
            rooms.len()
        ));
    }
    let mut users: Vec<u32> = rooms.iter().flat_map(|(_, m)| m.iter().copied()).collect();
    users.sort_unstable();
    users.dedup();
    let dials = dials_for(&ctx, &users).await?;
    let by_user: HashMap<u32, (usize, String)> = dials
        .iter()
        .map(|d| (d.user, (d.node, d.token.clone())))
        .collect();
    let clients = connect_users(&ctx, dials).await;
    ctx.metric("connections", clients.len() as f64);
    ctx.metric("rooms", rooms.len() as f64);
    let peer = |user: u32| -> Result<Peer, String> {
        let (node, token) = by_user[&user].clone();
        Ok(Peer {
            conn: clients
                .get(&user)
                .cloned()
                .ok_or_else(|| format!("user {user} of a file room did not connect"))?,
            node_url: ctx.node_url(node),
            token,
        })
    };
    let pairs: Vec<FilePair> = rooms[..mix.uploaders as usize]
        .iter()
        .map(|(room_id, m)| {
            Ok(FilePair {
                room_id: *room_id,
                up: peer(m[0])?,
                down: peer(m[1])?,
            })
        })
        .collect::<Result<_, String>>()?;

    // Chat: every message is tagged with its phase; receivers record delivery per phase.
    let max_messages = ((s.rate * s.timeout_secs as f64).ceil() as usize).min(2_000_000);
    let ledger = Arc::new(Ledger::new(max_messages));
    let stages: Arc<Vec<AtomicU8>> = Arc::new(
        (0..max_messages)
            .map(|_| AtomicU8::new(Stage::Other as u8))
            .collect(),
    );
    let phase_hist: Arc<Mutex<[Histogram<u64>; 4]>> =
        Arc::new(Mutex::new(std::array::from_fn(|_| {
            Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
        })));
    type Seconds = std::collections::BTreeMap<(u8, u64), Histogram<u64>>;
    let seconds: Arc<Mutex<Seconds>> = Arc::new(Mutex::new(Seconds::new()));
    let mut receivers = Vec::new();
    for (&user, client) in &clients {
        let client = client.clone();
        let ledger = ledger.clone();
        let stages = stages.clone();
        let phase_hist = phase_hist.clone();
        let seconds = seconds.clone();
        let ctx = ctx.clone();
        let me = ctx.seed.user_id(user);
        receivers.push(tokio::spawn(async move {
            let mut rx = client.pushes.lock().await;
            let mut seen = std::collections::HashSet::new();
            while let Some(push) = rx.recv().await {
                let Push::Message { message } = push else {
                    continue;
                };
                let Some((index, intended_us)) = parse_body(&message.body, &ctx.tag) else {
                    continue;
                };
                let now = ctx.rec.now_us();
                if message.sender_id == me || !seen.insert(index) {
                    continue;
                }
                if let Some(d) = ledger.delivered.get(index as usize) {
                    d.fetch_add(1, Ordering::Relaxed);
                }
                ctx.rec.counters.delivered.fetch_add(1, Ordering::Relaxed);
                let latency = Duration::from_micros(now.saturating_sub(intended_us));
                ctx.rec.record(Lat::Delivery, latency);
                let stage = stages
                    .get(index as usize)
                    .map_or(Stage::Other as usize, |a| {
                        a.load(Ordering::Relaxed) as usize
                    });
                let us = (latency.as_micros() as u64).max(1);
                if let Ok(mut h) = phase_hist.lock() {
                    h[stage].saturating_record(us);
                }
                if let Ok(mut sec) = seconds.lock() {
                    sec.entry((stage as u8, intended_us / 1_000_000))
                        .or_insert_with(|| {
                            Histogram::new_with_bounds(1, 3_600_000_000, 3)
                                .expect("valid histogram bounds")
                        })
                        .saturating_record(us);
                }
            }
        }));
    }
    ctx.rec.set_phase("settle");
    tokio::time::sleep(secs(s.settle_secs)).await;

    let stage_now = Arc::new(AtomicU8::new(Stage::Baseline as u8));
    let stop_chat = Arc::new(AtomicBool::new(false));
    let chat = {
        let ctx = ctx.clone();
        let ledger = ledger.clone();
        let stages = stages.clone();
        let stage_now = stage_now.clone();
        let stop_chat = stop_chat.clone();
        let clients = Arc::new(clients.clone());
        let rooms = Arc::new(rooms.clone());
        tokio::spawn(async move {
            let t0 = tokio::time::Instant::now();
            let base_us = ctx.rec.now_us();
            let mut inflight = Vec::new();
            for i in 0..max_messages as u64 {
                if stop_chat.load(Ordering::Relaxed) {
                    break;
                }
                let offset = Duration::from_secs_f64(i as f64 / ctx.scenario.rate);
                let at = t0 + offset;
                tokio::time::sleep_until(at).await;
                let (room_id, members) = &rooms[(i % rooms.len() as u64) as usize];
                let turn = (i / rooms.len() as u64) as usize;
                let sender = members[turn % 2];
                let receiver = members[(turn + 1) % 2];
                let (Some(from), Some(to)) = (clients.get(&sender), clients.get(&receiver)) else {
                    continue;
                };
                if from.is_closed() {
                    ctx.rec.error("send:closed");
                    continue;
                }
                let expected = u32::from(!to.is_closed());
                ledger.expected[i as usize].store(expected, Ordering::Relaxed);
                ledger.sent[i as usize].store(true, Ordering::Relaxed);
                stages[i as usize].store(stage_now.load(Ordering::Relaxed), Ordering::Relaxed);
                ctx.rec.counters.sent.fetch_add(1, Ordering::Relaxed);
                let args = SendArgs {
                    room_id: *room_id,
                    client_msg_id: format!("lt-{}-{i}", ctx.tag),
                    body: body(
                        &ctx.tag,
                        i,
                        base_us + offset.as_micros() as u64,
                        ctx.scenario.body_bytes,
                    ),
                };
                let from = from.clone();
                let ctx = ctx.clone();
                let ledger = ledger.clone();
                inflight.push(tokio::spawn(async move {
                    match from.call(Call::Send(args)).await {
                        Ok(Reply::Send { .. }) => {
                            ctx.rec.record(Lat::Ack, at.elapsed());
                            ledger.acked[i as usize].store(true, Ordering::Relaxed);
                            ctx.rec.counters.acked.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => ctx.rec.error("send:unexpected_reply"),
                        Err(e) => ctx.rec.error(&format!("send:{}", error_code(&e))),
                    }
                }));
                if inflight.len() >= 4096 {
                    inflight.retain(|h| !h.is_finished());
                }
            }
            for h in inflight {
                let _ = h.await;
            }
        })
    };

    // Baseline: chat alone.
    ctx.rec.set_phase("baseline");
    let cpu = PhaseCpu::start(&ctx);
    tokio::time::sleep(secs(mix.baseline_secs)).await;
    cpu.finish(&ctx, "baseline");

    // Burst: chat while the uploaders move their files.
    let moved = Arc::new(Moved::default());
    let progress_stop = Arc::new(AtomicBool::new(false));
    let progress = spawn_files_progress(ctx.clone(), moved.clone(), progress_stop.clone());
    let block = Bytes::from(
        (0..CHUNK)
            .map(|_| rand::random::<u8>())
            .collect::<Vec<u8>>(),
    );
    stage_now.store(Stage::Burst as u8, Ordering::Relaxed);
    ctx.rec.set_phase("burst");
    let cpu = PhaseCpu::start(&ctx);
    let burst_start = tokio::time::Instant::now();
    let burst_end = burst_start + secs(mix.burst_secs);
    let mut movers = Vec::new();
    for (p, pair) in pairs.iter().enumerate() {
        let (ctx, pair, moved, block) = (ctx.clone(), pair.clone(), moved.clone(), block.clone());
        let (count, size) = (mix.files_per_uploader, mix.file_bytes);
        movers.push(tokio::spawn(async move {
            for f in 0..count {
                if tokio::time::Instant::now() >= burst_end {
                    ctx.note(format!(
                        "uploader {p} stopped after {f} of {count} files: burst_secs ran out"
                    ));
                    break;
                }
                let name = format!("lt-{}-{p}-{f}.bin", ctx.tag);
                if let Err(e) = transfer(&ctx, &pair, size, &name, block.clone(), &moved).await {
                    eprintln!("files-mixed: uploader {p}, file {f}: {e}");
                }
            }
        }));
    }
    for m in movers {
        let _ = m.await;
    }
    let burst_secs = burst_start.elapsed().as_secs_f64();
    cpu.finish(&ctx, "burst");
    let m = &moved;
    let per_stream = |bytes: &AtomicU64, micros: &AtomicU64| {
        bytes.load(Ordering::Relaxed) as f64
            / MB
            / (micros.load(Ordering::Relaxed) as f64 / 1e6).max(1e-6)
    };
    ctx.metric("burst_secs", burst_secs);
    ctx.metric("files_uploaded", m.uploaded.load(Ordering::Relaxed) as f64);
    ctx.metric(
        "files_downloaded",
        m.downloaded.load(Ordering::Relaxed) as f64,
    );
    ctx.metric("upload_mb_per_s", per_stream(&m.up_bytes, &m.up_micros));
    ctx.metric(
        "download_mb_per_s",
        per_stream(&m.down_bytes, &m.down_micros),
    );
    ctx.metric(
        "files_mb_per_s_aggregate",
        (m.up_bytes.load(Ordering::Relaxed) + m.down_bytes.load(Ordering::Relaxed)) as f64
            / MB
            / burst_secs.max(1e-6),
    );

    // Big: one file of big_file_bytes up and down while the nodes' RSS is sampled.
    if mix.big_file_bytes > 0 {
        stage_now.store(Stage::Big as u8, Ordering::Relaxed);
        ctx.rec.set_phase("big");
        let pids: Vec<(usize, u32)> = ctx
            .nodes
            .lock()
            .map(|n| {
                n.iter()
                    .enumerate()
                    .filter_map(|(i, w)| Some((i, w.pid?)))
                    .collect()
            })
            .unwrap_or_default();
        if pids.is_empty() {
            ctx.note("no node process found: the big file's RSS growth is not measured".into());
        }
        let before: Vec<(usize, u32, u64, u64)> = pids
            .iter()
            .filter_map(|&(i, pid)| Some((i, pid, sys::rss_kib(pid)?, sys::hwm_kib(pid)?)))
            .collect();
        let sampling = Arc::new(AtomicBool::new(true));
        let sampler = {
            let sampling = sampling.clone();
            let pids = pids.clone();
            let every = Duration::from_millis(mix.rss_sample_ms);
            tokio::spawn(async move {
                let mut peak: HashMap<u32, u64> = HashMap::new();
                while sampling.load(Ordering::Relaxed) {
                    for &(_, pid) in &pids {
                        if let Some(rss) = sys::rss_kib(pid) {
                            let p = peak.entry(pid).or_default();
                            *p = (*p).max(rss);
                        }
                    }
                    tokio::time::sleep(every).await;
                }
                peak
            })
        };
        let cpu = PhaseCpu::start(&ctx);
        let big = Moved::default();
        let name = format!("lt-{}-big.bin", ctx.tag);
        let result = transfer(
            &ctx,
            &pairs[0],
            mix.big_file_bytes,
            &name,
            block.clone(),
            &big,
        )
        .await;
        cpu.finish(&ctx, "big");
        sampling.store(false, Ordering::Relaxed);
        let peak = sampler.await.unwrap_or_default();
        match result {
            Ok((up, down)) => {
                let size = mix.big_file_bytes as f64 / MB;
                ctx.metric("big_upload_secs", up);
                ctx.metric("big_download_secs", down);
                ctx.metric("big_upload_mb_per_s", size / up.max(1e-6));
                ctx.metric("big_download_mb_per_s", size / down.max(1e-6));
            }
            Err(e) => ctx.note(format!("the big file did not make the round trip: {e}")),
        }
        ctx.metric("big_file_errors", big.errors.load(Ordering::Relaxed) as f64);
        m.errors
            .fetch_add(big.errors.load(Ordering::Relaxed), Ordering::Relaxed);
        let mut growth_max = 0.0f64;
        for (i, pid, rss0, hwm0) in before {
            let sampled = peak.get(&pid).copied().unwrap_or(rss0);
            let hwm1 = sys::hwm_kib(pid).unwrap_or(hwm0);
            // VmHWM is the peak since the process started: it only says something when it rose.
            let peak_kib = if hwm1 > hwm0 {
                sampled.max(hwm1)
            } else {
                sampled
            };
            let growth = (peak_kib as f64 - rss0 as f64) / 1024.0;
            ctx.metric(&format!("node{i}_rss_before_mib"), rss0 as f64 / 1024.0);
            ctx.metric(&format!("node{i}_rss_peak_mib"), peak_kib as f64 / 1024.0);
            ctx.metric(&format!("node{i}_hwm_before_mib"), hwm0 as f64 / 1024.0);
            ctx.metric(&format!("node{i}_hwm_after_mib"), hwm1 as f64 / 1024.0);
            ctx.metric(&format!("node{i}_rss_growth_mib"), growth);
            growth_max = growth_max.max(growth);
        }
        ctx.metric("node_rss_growth_mib", growth_max);
    }
    progress_stop.store(true, Ordering::Relaxed);
    let _ = progress.await;
    ctx.metric("file_errors", m.errors.load(Ordering::Relaxed) as f64);

    // Stop the chat, drain, account.
    stage_now.store(Stage::Other as u8, Ordering::Relaxed);
    stop_chat.store(true, Ordering::Relaxed);
    let _ = chat.await;
    ctx.rec.set_phase("drain");
    let drain_end = tokio::time::Instant::now() + secs(s.drain_secs);
    let count = |ledger: &Ledger| {
        let (mut exp, mut got) = (0u64, 0u64);
        for i in 0..max_messages {
            if ledger.acked[i].load(Ordering::Relaxed) {
                let e = ledger.expected[i].load(Ordering::Relaxed) as u64;
                exp += e;
                got += (ledger.delivered[i].load(Ordering::Relaxed) as u64).min(e);
            }
        }
        (exp, got)
    };
    loop {
        let (exp, got) = count(&ledger);
        if got >= exp || tokio::time::Instant::now() >= drain_end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (expected, delivered) = count(&ledger);
    ctx.metric("expected", expected as f64);
    ctx.metric("delivered", delivered as f64);
    ctx.metric("lost", (expected - delivered) as f64);
    let acked = ctx.rec.counters.acked.load(Ordering::Relaxed) as f64;
    ctx.metric(
        "send_errors",
        ctx.rec.counters.sent.load(Ordering::Relaxed) as f64 - acked,
    );
    {
        let h = phase_hist.lock().map_err(|e| e.to_string())?;
        for (stage, name) in [
            (Stage::Baseline, "baseline"),
            (Stage::Burst, "burst"),
            (Stage::Big, "big"),
        ] {
            let hist = &h[stage as usize];
            if let Some(p) = p99_ms(hist) {
                ctx.metric(&format!("p99_chat_{name}_ms"), p);
                ctx.metric(&format!("chat_{name}_count"), hist.len() as f64);
            }
        }
        if let Some(r) = p99_ratio(&h[Stage::Baseline as usize], &h[Stage::Burst as usize]) {
            ctx.metric("chat_p99_ratio", r);
        }
        if let Some(r) = p99_ratio(&h[Stage::Baseline as usize], &h[Stage::Big as usize]) {
            ctx.metric("chat_p99_ratio_big", r);
        }
        let sec = seconds.lock().map_err(|e| e.to_string())?;
        let typical = |stage: Stage, name: &str| {
            let v = median_second_p99_ms(&sec, stage);
            if let Some(v) = v {
                ctx.metric(&format!("p99_chat_{name}_ms_median_second"), v);
            }
            v
        };
        let base = typical(Stage::Baseline, "baseline");
        let burst = typical(Stage::Burst, "burst");
        let big = typical(Stage::Big, "big");
        if let (Some(b), Some(f)) = (base, burst) {
            ctx.metric("chat_p99_ratio_median_second", f / b.max(0.001));
        }
        if let (Some(b), Some(f)) = (base, big) {
            ctx.metric("chat_p99_ratio_big_median_second", f / b.max(0.001));
        }
    }
    for r in receivers {
        r.abort();
    }
    close_all(&ctx, clients.into_values().collect()).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn generated_bodies_have_the_asked_length() {
        let block = Bytes::from(vec![7u8; 1000]);
        let chunks: Vec<_> = generated(2500, block).collect().await;
        let sizes: Vec<usize> = chunks.iter().map(|c| c.as_ref().unwrap().len()).collect();
        assert_eq!(sizes, vec![1000, 1000, 500]);
        assert_eq!(generated(0, Bytes::from_static(b"x")).count().await, 0);
    }

    #[test]
    fn ratio_compares_the_two_phases() {
        let mut base = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        let mut burst = base.clone();
        assert_eq!(p99_ratio(&base, &burst), None);
        for _ in 0..100 {
            base.record(10_000).unwrap();
            burst.record(15_000).unwrap();
        }
        let r = p99_ratio(&base, &burst).unwrap();
        assert!((r - 1.5).abs() < 0.01, "{r}");
        assert!(FilesMix::default().validate().is_ok());
        let bad = FilesMix {
            uploaders: 0,
            ..FilesMix::default()
        };
        assert!(bad.validate().is_err());
    }
}
