//! Reports: the summary table printed at the end, the `--json` results and a self-contained `--html` page
//! with inline SVG charts (no script, no network).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::scenario::{Scenario, Verdict};
use crate::stats::{LatencySummary, TimePoint};

/// The machine the generator ran on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPU cores available.
    pub cores: usize,
    /// Open-file limit in force.
    pub nofile_limit: u64,
    /// Size of the ephemeral port range.
    pub ephemeral_ports: u64,
    /// Kernel release.
    pub kernel: String,
}

/// Memory of one node over an idle-connections run.
#[derive(Debug, Clone, Serialize)]
pub struct NodeReport {
    /// Its WebSocket URL.
    pub url: String,
    /// Its process id.
    pub pid: Option<u32>,
    /// Connections it held.
    pub connections: u64,
    /// RSS before connecting, KiB.
    pub rss_before_kib: u64,
    /// RSS once all were connected and settled, KiB.
    pub rss_connected_kib: u64,
    /// RSS at the end of the hold, KiB.
    pub rss_end_kib: u64,
    /// (connected − before) / connections, KiB.
    pub per_conn_connected_kib: f64,
    /// (end − before) / connections, KiB.
    pub per_conn_end_kib: f64,
}

/// Everything a run produced.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The scenario as run (overrides applied).
    pub scenario: Scenario,
    /// Where it came from.
    pub source: String,
    /// The command line.
    pub command: String,
    /// Start, Unix seconds.
    pub started_unix: i64,
    /// Wall time, seconds.
    pub wall_secs: f64,
    /// The generator's machine.
    pub machine: Machine,
    /// Flat results: the names thresholds use.
    pub metrics: BTreeMap<String, f64>,
    /// Latencies by kind.
    pub latency: BTreeMap<String, LatencySummary>,
    /// Errors by code.
    pub errors: BTreeMap<String, u64>,
    /// Node memory.
    pub nodes: Vec<NodeReport>,
    /// Remarks.
    pub notes: Vec<String>,
    /// Why the run failed, if it did.
    pub failure: Option<String>,
    /// Thresholds.
    pub verdicts: Vec<Verdict>,
    /// Whether the run completed and every threshold held.
    pub passed: bool,
    /// Once a second.
    pub timeline: Vec<TimePoint>,
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// The plain-text summary.
pub fn summary(r: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n=== {} ({:?}) — {:.1} s on {} cores ===",
        r.scenario.name, r.scenario.kind, r.wall_secs, r.machine.cores
    );
    if !r.latency.is_empty() {
        let _ = writeln!(
            out,
            "{:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "latency", "count", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "mean ms"
        );
        for (name, s) in &r.latency {
            let _ = writeln!(
                out,
                "{:<10} {:>9} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                name, s.count, s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms, s.mean_ms
            );
        }
    }
    for n in &r.nodes {
        let _ = writeln!(
            out,
            "node {} (pid {}): {} connections, RSS {:.1} → {:.1} → {:.1} MiB, {:.2} KiB/connection (connected), {:.2} KiB/connection (end of hold)",
            n.url,
            n.pid.map_or("?".into(), |p| p.to_string()),
            n.connections,
            n.rss_before_kib as f64 / 1024.0,
            n.rss_connected_kib as f64 / 1024.0,
            n.rss_end_kib as f64 / 1024.0,
            n.per_conn_connected_kib,
            n.per_conn_end_kib
        );
    }
    let _ = writeln!(out, "metrics:");
    for (k, v) in &r.metrics {
        let _ = writeln!(out, "  {k:<32} {}", fmt_num(*v));
    }
    if !r.errors.is_empty() {
        let _ = writeln!(out, "errors by code:");
        for (k, v) in &r.errors {
            let _ = writeln!(out, "  {k:<32} {v}");
        }
    }
    for n in &r.notes {
        let _ = writeln!(out, "note: {n}");
    }
    for v in &r.verdicts {
        let _ = writeln!(
            out,
            "threshold {:<36} {} (value {}){}",
            v.condition,
            if v.passed { "PASS" } else { "FAIL" },
            v.value.map_or("-".into(), fmt_num),
            if v.note.is_empty() {
                String::new()
            } else {
                format!(" — {}", v.note)
            }
        );
    }
    match &r.failure {
        Some(f) => {
            let _ = writeln!(out, "RESULT: ERROR — {f}");
        }
        None => {
            let _ = writeln!(out, "RESULT: {}", if r.passed { "PASS" } else { "FAIL" });
        }
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// A line chart as inline SVG.
fn chart(title: &str, unit: &str, series: &[(String, Vec<(f64, f64)>)]) -> String {
    let (w, h, l, r, t, b) = (860.0, 260.0, 70.0, 20.0, 30.0, 40.0);
    let pts = series.iter().flat_map(|(_, p)| p.iter());
    let (mut x0, mut x1, mut y1) = (f64::MAX, f64::MIN, 0.0f64);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"11\">\
         <text x=\"{l}\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{}</text>",
        esc(title)
    );
    if x0 > x1 {
        svg.push_str(&format!("<text x=\"{l}\" y=\"60\">no data</text></svg>"));
        return svg;
    }
    if x1 - x0 < 1e-9 {
        x1 = x0 + 1.0;
    }
    if y1 <= 0.0 {
        y1 = 1.0;
    }
    let y1 = y1 * 1.05;
    let sx = |x: f64| l + (x - x0) / (x1 - x0) * (w - l - r);
    let sy = |y: f64| h - b - y / y1 * (h - t - b);
    for i in 0..=4 {
        let y = y1 * i as f64 / 4.0;
        let _ = write!(
            svg,
            "<line x1=\"{l}\" x2=\"{0}\" y1=\"{1:.1}\" y2=\"{1:.1}\" stroke=\"#ddd\"/><text x=\"{2}\" y=\"{3:.1}\" text-anchor=\"end\">{4}</text>",
            w - r, sy(y), l - 6.0, sy(y) + 4.0, esc(&format!("{} {unit}", fmt_num((y * 100.0).round() / 100.0)))
        );
    }
    for i in 0..=5 {
        let x = x0 + (x1 - x0) * i as f64 / 5.0;
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{:.0} s</text>",
            sx(x),
            h - b + 16.0,
            x
        );
    }
    let _ = write!(
        svg,
        "<rect x=\"{l}\" y=\"{t}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>",
        w - l - r,
        h - t - b
    );
    for (i, (name, p)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let path: Vec<String> = p
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/>",
            path.join(" ")
        );
        let lx = l + 10.0 + 150.0 * i as f64;
        let _ = write!(
            svg,
            "<rect x=\"{lx}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            h - 14.0, lx + 14.0, h - 5.0, esc(name)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The self-contained HTML report.
pub fn html(r: &RunReport) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>sendjay loadtest: {0}</title><style>\
         body{{font-family:sans-serif;margin:24px;max-width:960px}}table{{border-collapse:collapse;margin:8px 0}}\
         td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}th{{background:#f3f3f3}}td:first-child{{text-align:left}}\
         .pass{{color:#080}}.fail{{color:#c00}}code{{background:#f5f5f5;padding:1px 4px}}</style></head><body>\
         <h1>sendjay loadtest: {0}</h1><p>{1}</p><p>Command: <code>{2}</code></p>\
         <p>Wall time {3:.1} s on {4} cores (kernel {5}); open-file limit {6}.</p>",
        esc(&r.scenario.name),
        esc(&r.scenario.description),
        esc(&r.command),
        r.wall_secs,
        r.machine.cores,
        esc(&r.machine.kernel),
        r.machine.nofile_limit
    );
    let verdict = match &r.failure {
        Some(f) => format!("<p class=\"fail\"><b>ERROR</b>: {}</p>", esc(f)),
        None if r.passed => "<p class=\"pass\"><b>PASS</b></p>".into(),
        None => "<p class=\"fail\"><b>FAIL</b></p>".into(),
    };
    s.push_str(&verdict);
    if !r.verdicts.is_empty() {
        s.push_str(
            "<h2>Thresholds</h2><table><tr><th>condition</th><th>value</th><th>verdict</th></tr>",
        );
        for v in &r.verdicts {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
                esc(&v.condition),
                v.value.map_or("-".into(), fmt_num),
                if v.passed { "pass" } else { "fail" },
                if v.passed {
                    "pass".to_owned()
                } else {
                    format!("fail {}", esc(&v.note))
                }
            );
        }
        s.push_str("</table>");
    }
    if !r.latency.is_empty() {
        s.push_str("<h2>Latency (ms)</h2><table><tr><th>kind</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>mean</th></tr>");
        for (name, l) in &r.latency {
            let _ = write!(
                s,
                "<tr><td>{name}</td><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td></tr>",
                l.count, l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms, l.mean_ms
            );
        }
        s.push_str("</table>");
    }
    if !r.nodes.is_empty() {
        s.push_str("<h2>Node memory</h2><table><tr><th>node</th><th>connections</th><th>RSS before MiB</th><th>connected MiB</th><th>end MiB</th><th>KiB/conn (connected)</th><th>KiB/conn (end)</th></tr>");
        for n in &r.nodes {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.2}</td><td>{:.2}</td></tr>",
                esc(&n.url),
                n.connections,
                n.rss_before_kib as f64 / 1024.0,
                n.rss_connected_kib as f64 / 1024.0,
                n.rss_end_kib as f64 / 1024.0,
                n.per_conn_connected_kib,
                n.per_conn_end_kib
            );
        }
        s.push_str("</table>");
    }
    let tl = &r.timeline;
    let line = |f: &dyn Fn(&TimePoint) -> Option<f64>| -> Vec<(f64, f64)> {
        tl.iter().filter_map(|p| Some((p.t, f(p)?))).collect()
    };
    let mut lat_series = Vec::new();
    let kinds: std::collections::BTreeSet<String> = tl
        .iter()
        .flat_map(|p| p.latency_ms.keys().cloned())
        .collect();
    for k in &kinds {
        for (qi, q) in ["p50", "p99"].iter().enumerate() {
            lat_series.push((
                format!("{k} {q}"),
                line(&|p: &TimePoint| p.latency_ms.get(k).map(|v| v[qi])),
            ));
        }
    }
    s.push_str("<h2>Latency over time</h2>");
    s.push_str(&chart(
        "latency per second (from intended time)",
        "ms",
        &lat_series,
    ));
    s.push_str("<h2>Throughput over time</h2>");
    s.push_str(&chart(
        "per second",
        "/s",
        &[
            (
                "connects/s".into(),
                line(&|p: &TimePoint| Some(p.connects_per_s)),
            ),
            ("sent/s".into(), line(&|p: &TimePoint| Some(p.sent_per_s))),
            ("acked/s".into(), line(&|p: &TimePoint| Some(p.acked_per_s))),
            (
                "delivered/s".into(),
                line(&|p: &TimePoint| Some(p.delivered_per_s)),
            ),
        ],
    ));
    s.push_str(&chart(
        "open connections",
        "",
        &[(
            "connections".into(),
            line(&|p: &TimePoint| Some(p.connections as f64)),
        )],
    ));
    let urls: std::collections::BTreeSet<String> = tl
        .iter()
        .flat_map(|p| p.node_rss_kib.keys().cloned())
        .collect();
    let rss: Vec<(String, Vec<(f64, f64)>)> = urls
        .iter()
        .map(|u| {
            (
                u.trim_start_matches("ws://").to_owned(),
                line(&|p: &TimePoint| p.node_rss_kib.get(u).map(|k| *k as f64 / 1024.0)),
            )
        })
        .collect();
    s.push_str(&chart("node RSS", "MiB", &rss));
    let mut cpu: Vec<(String, Vec<(f64, f64)>)> = urls
        .iter()
        .map(|u| {
            (
                u.trim_start_matches("ws://").to_owned(),
                line(&|p: &TimePoint| p.node_cpu_cores.get(u).map(|c| c * 100.0)),
            )
        })
        .collect();
    cpu.push((
        "generator".into(),
        line(&|p: &TimePoint| Some(p.generator_cpu_cores * 100.0)),
    ));
    s.push_str(&chart("CPU", "%", &cpu));
    s.push_str("<h2>All metrics</h2><table><tr><th>metric</th><th>value</th></tr>");
    for (k, v) in &r.metrics {
        let _ = write!(s, "<tr><td>{}</td><td>{}</td></tr>", esc(k), fmt_num(*v));
    }
    s.push_str("</table>");
    if !r.errors.is_empty() {
        s.push_str("<h2>Errors by code</h2><table><tr><th>code</th><th>count</th></tr>");
        for (k, v) in &r.errors {
            let _ = write!(s, "<tr><td>{}</td><td>{v}</td></tr>", esc(k));
        }
        s.push_str("</table>");
    }
    for n in &r.notes {
        let _ = write!(s, "<p>Note: {}</p>", esc(n));
    }
    s.push_str("</body></html>\n");
    s
}
