//! What a run measures: HdrHistograms of latencies (microseconds), counters, errors by code, and a
//! once-a-second timeline for the progress line and the report's charts.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use sendjay_client::ClientError;

/// The latencies a run records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lat {
    /// TCP connect + WebSocket upgrade + first reply (the session is confirmed).
    Connect,
    /// `send` request (from its intended time) to its reply.
    Ack,
    /// `send` (from its intended time) to the `message` push at a recipient.
    Delivery,
    /// Reconnect: from the storm's start (reconnect-storm), the close (node-kill) or the client's return
    /// (enterprise-day) to the first reply on the new connection.
    Reconnect,
    /// node-kill: the node's death to the end of the recovering `sync` on the new node.
    Recover,
    /// `history` request to its reply.
    History,
    /// `mark_read` request to its reply.
    Read,
    /// `presence` request to its reply.
    Presence,
    /// `list_rooms` request to its reply.
    ListRooms,
    /// files-mixed: one `POST /v1/files`, first byte sent to the answer.
    Upload,
    /// files-mixed: one `GET /v1/files/{id}`, request to the last byte.
    Download,
}

impl Lat {
    /// Every latency kind.
    pub const ALL: [Lat; 11] = [
        Lat::Connect,
        Lat::Ack,
        Lat::Delivery,
        Lat::Reconnect,
        Lat::Recover,
        Lat::History,
        Lat::Read,
        Lat::Presence,
        Lat::ListRooms,
        Lat::Upload,
        Lat::Download,
    ];

    /// Its name in metric names.
    pub fn name(self) -> &'static str {
        match self {
            Lat::Connect => "connect",
            Lat::Ack => "ack",
            Lat::Delivery => "delivery",
            Lat::Reconnect => "reconnect",
            Lat::Recover => "recover",
            Lat::History => "history",
            Lat::Read => "read",
            Lat::Presence => "presence",
            Lat::ListRooms => "list_rooms",
            Lat::Upload => "upload",
            Lat::Download => "download",
        }
    }
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 1 hour, 3 significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// Counters a scenario bumps.
#[derive(Debug, Default)]
pub struct Counters {
    /// Connections open now.
    pub connections: AtomicU64,
    /// Connections opened (sessions confirmed).
    pub connected: AtomicU64,
    /// Connection attempts that failed.
    pub connect_failed: AtomicU64,
    /// Messages sent.
    pub sent: AtomicU64,
    /// Messages acknowledged.
    pub acked: AtomicU64,
    /// First deliveries of a message to a recipient.
    pub delivered: AtomicU64,
    /// Repeated deliveries of a message to the same recipient.
    pub duplicates: AtomicU64,
    /// Errors of any kind.
    pub errors: AtomicU64,
}

/// One second of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimePoint {
    /// Seconds since the start of the run.
    pub t: f64,
    /// Phase name.
    pub phase: String,
    /// Connections open.
    pub connections: u64,
    /// Sessions confirmed per second.
    pub connects_per_s: f64,
    /// Sends per second.
    pub sent_per_s: f64,
    /// Acks per second.
    pub acked_per_s: f64,
    /// Deliveries per second.
    pub delivered_per_s: f64,
    /// Errors so far.
    pub errors: u64,
    /// Per latency kind recorded in this second: (p50 ms, p99 ms, max ms).
    pub latency_ms: BTreeMap<String, [f64; 3]>,
    /// Generator CPU in cores.
    pub generator_cpu_cores: f64,
    /// Nodes' RSS in KiB, by node URL.
    pub node_rss_kib: BTreeMap<String, u64>,
    /// Nodes' CPU in cores, by node URL.
    pub node_cpu_cores: BTreeMap<String, f64>,
}

/// Everything recorded during a run; shared by all tasks.
pub struct Recorder {
    /// When the run started (latencies embedded in bodies are offsets from this).
    pub start: Instant,
    /// Counters.
    pub counters: Counters,
    totals: Mutex<BTreeMap<Lat, Histogram<u64>>>,
    interval: Mutex<BTreeMap<Lat, Histogram<u64>>>,
    errors: Mutex<BTreeMap<String, u64>>,
    timeline: Mutex<Vec<TimePoint>>,
    phase: Mutex<String>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    /// A fresh recorder starting now.
    pub fn new() -> Recorder {
        Recorder {
            start: Instant::now(),
            counters: Counters::default(),
            totals: Mutex::new(BTreeMap::new()),
            interval: Mutex::new(BTreeMap::new()),
            errors: Mutex::new(BTreeMap::new()),
            timeline: Mutex::new(Vec::new()),
            phase: Mutex::new("setup".into()),
        }
    }

    /// Microseconds since the start.
    pub fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// Records one latency.
    pub fn record(&self, kind: Lat, latency: Duration) {
        let us = (latency.as_micros() as u64).clamp(1, 3_600_000_000);
        lock(&self.totals)
            .entry(kind)
            .or_insert_with(histogram)
            .saturating_record(us);
        lock(&self.interval)
            .entry(kind)
            .or_insert_with(histogram)
            .saturating_record(us);
    }

    /// Counts an error under its code.
    pub fn error(&self, code: &str) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        *lock(&self.errors).entry(code.to_owned()).or_default() += 1;
    }

    /// Counts a client error under a code derived from it.
    pub fn client_error(&self, context: &str, e: &ClientError) {
        self.error(&format!("{context}:{}", error_code(e)));
    }

    /// Sets the phase shown in the progress line.
    pub fn set_phase(&self, phase: &str) {
        *lock(&self.phase) = phase.to_owned();
    }

    /// The current phase.
    pub fn phase(&self) -> String {
        lock(&self.phase).clone()
    }

    /// Errors by code.
    pub fn errors(&self) -> BTreeMap<String, u64> {
        lock(&self.errors).clone()
    }

    /// A copy of the whole-run histogram of a kind, if anything was recorded.
    pub fn histogram(&self, kind: Lat) -> Option<Histogram<u64>> {
        lock(&self.totals).get(&kind).cloned()
    }

    /// Takes the histograms of the last interval and summarises them as (p50, p99, max) in ms.
    pub fn take_interval(&self) -> BTreeMap<String, [f64; 3]> {
        let taken = std::mem::take(&mut *lock(&self.interval));
        taken
            .into_iter()
            .filter(|(_, h)| !h.is_empty())
            .map(|(k, h)| {
                (
                    k.name().to_owned(),
                    [
                        h.value_at_quantile(0.5) as f64 / 1000.0,
                        h.value_at_quantile(0.99) as f64 / 1000.0,
                        h.max() as f64 / 1000.0,
                    ],
                )
            })
            .collect()
    }

    /// Appends a second to the timeline.
    pub fn push_point(&self, point: TimePoint) {
        lock(&self.timeline).push(point);
    }

    /// The timeline.
    pub fn timeline(&self) -> Vec<TimePoint> {
        lock(&self.timeline).clone()
    }
}

/// A short code for a client error: the server's error code, `close_<code>`, `timeout` or `connect`.
pub fn error_code(e: &ClientError) -> String {
    match e {
        ClientError::Server { code, .. } => code.as_str().to_owned(),
        ClientError::Closed(Some(c)) => format!("close_{}", c.code),
        ClientError::Closed(None) => "close_1006".into(),
        ClientError::Timeout(_) => "timeout".into(),
        ClientError::Connect(detail) => {
            if detail.contains("Too many open files") {
                "connect_emfile".into()
            } else if detail.contains("Cannot assign requested address") {
                "connect_eaddrnotavail".into()
            } else if detail.contains("refused") {
                "connect_refused".into()
            } else if detail.contains("503") {
                "connect_http_503".into()
            } else {
                "connect".into()
            }
        }
        ClientError::Unexpected(_) => "unexpected".into(),
    }
}

/// Latency percentiles of one kind, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Maximum.
    pub max_ms: f64,
}

/// Summarises a histogram of microseconds.
pub fn summarize(h: &Histogram<u64>) -> LatencySummary {
    let ms = |us: u64| us as f64 / 1000.0;
    LatencySummary {
        count: h.len(),
        mean_ms: h.mean() / 1000.0,
        p50_ms: ms(h.value_at_quantile(0.5)),
        p90_ms: ms(h.value_at_quantile(0.9)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        p999_ms: ms(h.value_at_quantile(0.999)),
        max_ms: ms(h.max()),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
