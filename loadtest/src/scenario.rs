//! Scenario files (`loadtest/scenarios/*.toml`): what to run, how much of it, and the thresholds that decide
//! the exit code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::seed::SeedNeeds;

/// The kinds of scenario this generator can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Open N sessions, hold them idle, report the nodes' memory per connection.
    IdleConnections,
    /// Open N sessions as fast as possible; report connect latency and rate.
    ConnectStorm,
    /// Rooms of K members; messages at a fixed rate; delivery latency and exact loss accounting.
    RoomFanout,
    /// Many concurrent manual logins of the same users on different nodes; exactly one session per user
    /// and device class must survive.
    LoginStorm,
    /// Open N sessions, drop them all at once, reconnect all through the router; report reconnect latency.
    ReconnectStorm,
    /// Room traffic while a node is killed mid-run; every acknowledged message must reach every
    /// recipient, live or through `sync` after the reconnect.
    NodeKill,
    /// A day of mixed traffic: Zipf-skewed 1:1 and group rooms, reads, history paging, presence, reconnects.
    EnterpriseDay,
    /// Chat in two-member rooms while files go up and down the nodes' HTTP API: MB/s, node RSS during one
    /// big file, chat p99 during the file burst against before it.
    FilesMixed,
}

/// How a connection picks its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Assign {
    /// `GET /v1/assign` at the router with the minted token (what real clients do).
    Router,
    /// Round robin over `--nodes`.
    RoundRobin,
}

/// A scenario file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name shown in reports.
    pub name: String,
    /// What to run.
    pub kind: Kind,
    /// A sentence for the report.
    #[serde(default)]
    pub description: String,
    /// The data the scenario needs (`sendjay-router admin seed-load`).
    #[serde(default)]
    pub seed: SeedNeeds,
    /// Hard limit of the whole run, seconds: past it the run stops and fails.
    #[serde(default = "d_timeout")]
    pub timeout_secs: u64,
    /// Connections (idle-connections, connect-storm, reconnect-storm); users for login-storm.
    #[serde(default)]
    pub connections: u32,
    /// Connection attempts in flight at once.
    #[serde(default = "d_concurrency")]
    pub connect_concurrency: u32,
    /// Connection attempts started per second (open loop; 0 = as fast as the concurrency allows).
    #[serde(default)]
    pub connect_rate: f64,
    /// Main phase length, seconds: hold time (idle), sending time (fanout).
    #[serde(default = "d_duration")]
    pub duration_secs: f64,
    /// Seconds to wait after connecting before measuring (idle) or sending (fanout).
    #[serde(default = "d_settle")]
    pub settle_secs: f64,
    /// Device class of the sessions (`web` or `mobile`).
    #[serde(default = "d_device")]
    pub device: String,
    /// How connections pick their node.
    #[serde(default = "d_assign")]
    pub assign: Assign,
    /// Rooms for fanout: `groups` or `pairs` of the seed.
    #[serde(default = "d_room_source")]
    pub room_source: String,
    /// Rooms used (0 = all the seed's rooms of that source).
    #[serde(default)]
    pub rooms: u32,
    /// Messages per second over all rooms (open loop).
    #[serde(default = "d_rate")]
    pub rate: f64,
    /// Closed loop: each sender waits for its ack before sending again (no fixed rate).
    #[serde(default)]
    pub closed_loop: bool,
    /// Closed-loop senders (0 = one per room).
    #[serde(default)]
    pub senders: u32,
    /// Body size in bytes (at least the embedded timestamp).
    #[serde(default = "d_body")]
    pub body_bytes: usize,
    /// room-fanout: what each tick does instead of sending a message — `"edit"` (the room's first member edits
    /// one message of theirs, the `edited` push carries the timestamp) or `"react"` (they add a reaction whose emoji
    /// is the tick's number to one of their messages, 20 per message); empty: send messages.
    #[serde(default)]
    pub change: String,
    /// Seconds to wait for outstanding deliveries after the last send.
    #[serde(default = "d_drain")]
    pub drain_secs: f64,
    /// login-storm: simultaneous connections per user and device class.
    #[serde(default = "d_copies")]
    pub copies: u32,
    /// login-storm: device classes to log in with.
    #[serde(default = "d_devices")]
    pub devices: Vec<String>,
    /// node-kill: shell command (`sh -c`) that kills a node; it gets `SENDJAY_KILL_NODE_URL` and, when the
    /// node's process was found, `SENDJAY_KILL_NODE_PID` (default: `kill -9 "$SENDJAY_KILL_NODE_PID"`).
    #[serde(default = "d_kill_command")]
    pub kill_command: String,
    /// node-kill: seconds into the send phase at which the node is killed.
    #[serde(default = "d_kill_at")]
    pub kill_at_secs: f64,
    /// node-kill: which node dies, by its index among the nodes the router assigned (0 = first seen).
    #[serde(default)]
    pub kill_node: usize,
    /// node-kill: optional shell command run after the kill that brings the node back (same variables).
    #[serde(default)]
    pub restart_command: String,
    /// node-kill: how long a cut-off client keeps trying to get back in (router, connect, sync), seconds.
    #[serde(default = "d_reconnect_timeout")]
    pub reconnect_timeout_secs: f64,
    /// enterprise-day: the traffic mix.
    #[serde(default)]
    pub mix: crate::scenarios::enterprise_day::Mix,
    /// files-mixed: the file transfers.
    #[serde(default)]
    pub files: crate::scenarios::files_mixed::FilesMix,
    /// Conditions on the results (`"p99_delivery_ms < 100"`, `"lost == 0"`); any failing one fails the run.
    #[serde(default)]
    pub thresholds: Vec<String>,
}

fn d_timeout() -> u64 {
    900
}
fn d_concurrency() -> u32 {
    256
}
fn d_duration() -> f64 {
    30.0
}
fn d_settle() -> f64 {
    3.0
}
fn d_device() -> String {
    "web".into()
}
fn d_assign() -> Assign {
    Assign::Router
}
fn d_room_source() -> String {
    "groups".into()
}
fn d_rate() -> f64 {
    100.0
}
fn d_body() -> usize {
    64
}
fn d_drain() -> f64 {
    5.0
}
fn d_kill_command() -> String {
    "kill -9 \"$SENDJAY_KILL_NODE_PID\"".into()
}
fn d_kill_at() -> f64 {
    5.0
}
fn d_reconnect_timeout() -> f64 {
    60.0
}
fn d_copies() -> u32 {
    4
}
fn d_devices() -> Vec<String> {
    vec!["web".into()]
}

impl Scenario {
    /// Parses a scenario file's text, applying `key=value` overrides (values in TOML syntax; bare words
    /// are taken as strings; `seed.users=20000` reaches into the `[seed]` table).
    pub fn parse(text: &str, overrides: &[String]) -> Result<Scenario, String> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        for o in overrides {
            let (key, value) = o
                .split_once('=')
                .ok_or_else(|| format!("--set `{o}`: expected key=value"))?;
            let value = value.trim();
            let parsed: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(value.to_owned()));
            let mut target = &mut table;
            let mut parts: Vec<&str> = key.trim().split('.').collect();
            let last = parts.pop().unwrap_or_default();
            for part in parts {
                target = target
                    .entry(part)
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                    .as_table_mut()
                    .ok_or_else(|| format!("--set `{o}`: `{part}` is not a table"))?;
            }
            target.insert(last.to_owned(), parsed);
        }
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| e.to_string())
    }
}

/// One threshold's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// The condition as written.
    pub condition: String,
    /// The measured value, when the metric exists.
    pub value: Option<f64>,
    /// Whether it holds.
    pub passed: bool,
    /// Why it failed to evaluate, if it did.
    pub note: String,
}

/// Evaluates `"<metric> <op> <number>"` against the results.
pub fn evaluate(condition: &str, metrics: &BTreeMap<String, f64>) -> Verdict {
    let fail = |note: String| Verdict {
        condition: condition.to_owned(),
        value: None,
        passed: false,
        note,
    };
    let parts: Vec<&str> = condition.split_whitespace().collect();
    let [name, op, number] = parts[..] else {
        return fail("expected `<metric> <op> <number>`".into());
    };
    let Ok(limit) = number.parse::<f64>() else {
        return fail(format!("`{number}` is not a number"));
    };
    let Some(&value) = metrics.get(name) else {
        return fail(format!(
            "no metric `{name}` in this run; known: {}",
            metrics.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    };
    let passed = match op {
        "<" => value < limit,
        "<=" => value <= limit,
        ">" => value > limit,
        ">=" => value >= limit,
        "==" => value == limit,
        "!=" => value != limit,
        _ => return fail(format!("unknown operator `{op}` (use < <= > >= == !=)")),
    };
    Verdict {
        condition: condition.to_owned(),
        value: Some(value),
        passed,
        note: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_overrides_and_evaluates() {
        let text =
            "name = \"x\"\nkind = \"idle-connections\"\nconnections = 10\n[seed]\nusers = 10\n";
        let s = Scenario::parse(
            text,
            &[
                "connections=20".into(),
                "seed.users=20".into(),
                "device=mobile".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            (s.connections, s.seed.users, s.device.as_str()),
            (20, 20, "mobile")
        );
        assert!(Scenario::parse("name = \"x\"\nkind = \"nope\"", &[]).is_err());
        let m: BTreeMap<String, f64> = [
            ("lost".to_owned(), 0.0),
            ("p99_delivery_ms".to_owned(), 120.0),
        ]
        .into();
        assert!(evaluate("lost == 0", &m).passed);
        assert!(!evaluate("p99_delivery_ms < 100", &m).passed);
        assert!(!evaluate("nothing < 1", &m).passed);
        assert!(!evaluate("lost", &m).passed);
    }

    #[test]
    fn every_scenario_file_parses_and_validates() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
        let mut seen = 0;
        for dir in [root.to_owned(), format!("{root}/smoke")] {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let s = Scenario::parse(&text, &[])
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                if s.kind == Kind::FilesMixed {
                    s.files.validate().unwrap();
                }
                seen += 1;
            }
        }
        assert!(seen >= 18, "only {seen} scenario files found");
    }
}
