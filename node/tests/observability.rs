//! The observability test: a real Prometheus scrapes a real local cluster under a short generated load, and
//! through Prometheus's HTTP API every dashboard panel query, every dashboard variable and every alert
//! expression must parse and return data, and `/metrics` must expose exactly the metrics listed in
//! `docs/operations.md`.
//!
//! It needs the cluster and Prometheus that `scripts/observability-test.sh` starts (that script is the way to run
//! it), so it is `#[ignore]`d in a plain `cargo test`. Inputs, from the environment:
//! `SENDJAY_OBS_ROUTER_URL`, `SENDJAY_OBS_NODE_URLS` (space-separated), `SENDJAY_OBS_PROMETHEUS_URL`,
//! `SENDJAY_OBS_SCRAPE_SECS`, and `SENDJAY_OBS_USERS` (the demo users besides alice, bob, carol and dave).
//!
//! Alert rules are written `<signal> <comparison> <threshold>`; a healthy cluster fires none, so the test
//! evaluates the signal (the left-hand side) and requires data, as docs/operations.md states.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use sendjay_client::router;
use sendjay_client::{ConnectOptions, Connection};
use sendjay_common::protocol::{Call, HistoryArgs, MarkReadArgs, Reply, SendArgs, SyncArgs};
use serde_json::Value;

/// What Grafana would put for `$__rate_interval` with a short scrape interval.
const RATE_INTERVAL: &str = "1m";
const PASSWORD: &str = "sendjay";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run this test through scripts/observability-test.sh")
    })
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the node crate lives in the workspace")
        .to_path_buf()
}

/// Percent-encodes a query parameter value.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A plain HTTP/1.1 GET; returns the status and the body.
async fn get(url: &str) -> (u16, String) {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("not an http URL: {url}"));
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {authority}: {e}"));
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap_or_else(|e| panic!("HTTP handshake with {authority}: {e}"));
    tokio::spawn(connection);
    let request = hyper::Request::get(path)
        .header("host", authority)
        .body(Empty::<Bytes>::new())
        .expect("a valid request");
    let response = tokio::time::timeout(Duration::from_secs(20), sender.send_request(request))
        .await
        .unwrap_or_else(|_| panic!("GET {url} timed out"))
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap_or_else(|e| panic!("reading {url}: {e}"))
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

struct Prometheus {
    url: String,
}

impl Prometheus {
    /// Runs an instant query; `Err` when Prometheus refuses it (a parse error, for instance).
    async fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let (status, body) =
            get(&format!("{}/api/v1/query?query={}", self.url, encode(expr))).await;
        let json: Value = serde_json::from_str(&body)
            .map_err(|e| format!("HTTP {status}, unreadable answer ({e}): {body}"))?;
        if json["status"] != "success" {
            return Err(format!(
                "{}: {}",
                json["errorType"].as_str().unwrap_or("error"),
                json["error"].as_str().unwrap_or(&body)
            ));
        }
        let data = &json["data"];
        Ok(match data["resultType"].as_str() {
            Some("vector") | Some("matrix") => {
                data["result"].as_array().cloned().unwrap_or_default()
            }
            // A scalar or string always has a value.
            _ => vec![data["result"].clone()],
        })
    }

    async fn api(&self, path: &str) -> Value {
        let (status, body) = get(&format!("{}{path}", self.url)).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }
}

/// Splits `expr` at its top-level comparison operator: `(signal, "op threshold")`, or `None` without one.
fn split_comparison(expr: &str) -> Option<(String, String)> {
    let bytes = expr.as_bytes();
    let mut depth = 0i32;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if let Some(q) = quote {
            if c == b'\\' {
                i += 1;
            } else if c == q {
                quote = None;
            }
        } else {
            match c {
                b'"' | b'\'' | b'`' => quote = Some(c),
                b'(' | b'{' | b'[' => depth += 1,
                b')' | b'}' | b']' => depth -= 1,
                b'=' | b'!' | b'>' | b'<' if depth == 0 => {
                    let next = bytes.get(i + 1).copied();
                    let is_comparison = match c {
                        b'=' | b'!' => next == Some(b'='),
                        _ => true,
                    };
                    if is_comparison {
                        return Some((expr[..i].trim().to_owned(), expr[i..].trim().to_owned()));
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// What docs/operations.md lists: metrics with the components exporting them, and the whole text.
struct Docs {
    text: String,
    metrics: BTreeMap<String, (String, String)>, // name -> (type, from)
}

fn read_docs() -> Docs {
    let path = repo().join("docs/operations.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut metrics = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | `name` | type | labels | from | meaning |
        if cells.len() < 6 || !cells[1].starts_with('`') {
            continue;
        }
        let name = cells[1].trim_matches('`');
        let is_metric = (name.starts_with("sendjay_") || name.starts_with("process_"))
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if is_metric {
            metrics.insert(name.to_owned(), (cells[2].to_owned(), cells[4].to_owned()));
        }
    }
    assert!(
        metrics.len() > 40,
        "docs/operations.md lists only {} metrics in its tables",
        metrics.len()
    );
    Docs { text, metrics }
}

/// Metric families in a Prometheus text exposition: name -> type.
fn families(exposition: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in exposition.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            if let (Some(name), Some(kind)) = (parts.next(), parts.next()) {
                out.insert(name.to_owned(), kind.to_owned());
            }
        }
    }
    out
}

fn ws_url(http_url: &str) -> String {
    format!("{}/v1/ws", http_url.replacen("http://", "ws://", 1))
}

async fn connect(url: &str, token: &str) -> Connection {
    let client = Connection::connect(url, token, ConnectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e:?}"));
    client.call(Call::Ping).await.expect("the session is live");
    client
}

/// A few dozen messages across both nodes, plus the rarer paths: refused logins and tokens, a malformed frame,
/// an eviction, reassignments.
/// Returns how many messages were sent and how many sessions logged in.
async fn generate_load(router: &str, nodes: &[String], extra_users: u32) -> (usize, usize) {
    let mut users: Vec<String> = ["alice", "bob", "carol", "dave"]
        .iter()
        .map(|u| (*u).to_owned())
        .collect();
    users.extend((1..=extra_users.min(12)).map(|i| format!("user{i:04}")));
    let mut clients = Vec::new();
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for user in &users {
        for device in ["web", "mobile"] {
            let login = router::login(router, user, PASSWORD, device)
                .await
                .unwrap_or_else(|e| panic!("login {user}/{device}: {e:?}"));
            *per_node.entry(login.node.url.clone()).or_default() += 1;
            clients.push((
                user.clone(),
                login.token.clone(),
                connect(&login.node.url, &login.token).await,
            ));
        }
    }
    println!("sessions per node: {per_node:?}");
    assert!(
        per_node.len() >= 2.min(nodes.len()),
        "the load must reach every node; the router assigned {per_node:?}"
    );

    // Messages: every web session sends to every room it has (General holds everyone, so pushes cross nodes).
    let mut sent = 0;
    for (i, (user, _, client)) in clients.iter().enumerate() {
        let Reply::ListRooms { rooms } = client.call(Call::ListRooms).await.expect("list_rooms")
        else {
            panic!("list_rooms answered something else");
        };
        if i % 2 == 1 {
            continue; // mobile sessions only read
        }
        for room in &rooms {
            for n in 0..2 {
                let reply = client
                    .call(Call::Send(SendArgs {
                        room_id: room.room_id,
                        client_msg_id: format!(
                            "obs-{}-{user}-{}-{n}",
                            std::process::id(),
                            room.room_id
                        ),
                        body: format!("observability test message {n} from {user}"),
                    }))
                    .await
                    .expect("send");
                assert!(matches!(reply, Reply::Send { .. }));
                sent += 1;
            }
            client
                .call(Call::MarkRead(MarkReadArgs {
                    room_id: room.room_id,
                    seq: None,
                }))
                .await
                .expect("mark_read");
            client
                .call(Call::History(HistoryArgs {
                    room_id: room.room_id,
                    before_seq: None,
                    limit: Some(20),
                }))
                .await
                .expect("history");
        }
        client
            .call(Call::Sync(SyncArgs::default()))
            .await
            .expect("sync");
    }
    println!("sent {sent} messages");
    assert!(sent >= 24, "only {sent} messages sent");

    // Pushes reach the other sessions (across nodes through Redis).
    let mut pushes = 0;
    for (_, _, client) in &clients {
        while client.next_push(Duration::from_millis(50)).await.is_some() {
            pushes += 1;
        }
    }
    println!("received {pushes} pushes");
    assert!(pushes > sent, "{pushes} pushes for {sent} messages");

    // Rare paths, so their series move at least once.
    let (_, _, first) = &clients[0];
    first
        .send_raw(Bytes::from_static(b"\x01"))
        .await
        .expect("a malformed frame is answered, not fatal");
    let _ = first.call(Call::Ping).await;
    assert!(
        router::login(router, "alice", "wrong password", "web")
            .await
            .is_err(),
        "a wrong password is refused"
    );
    let bad = Connection::connect(&ws_url(&nodes[0]), "not-a-token", ConnectOptions::default())
        .await
        .expect("the upgrade succeeds; the token is refused after it");
    assert!(
        bad.closed(Duration::from_secs(5)).await.is_some(),
        "a bad token is closed"
    );
    for (_, token, _) in clients.iter().take(4) {
        router::assign(router, token).await.expect("assign");
    }
    // A second web login of alice evicts the first one.
    let again = router::login(router, "alice", PASSWORD, "web")
        .await
        .expect("login");
    let newer = connect(&again.node.url, &again.token).await;
    let closed = first.closed(Duration::from_secs(5)).await;
    println!("first alice session closed with {closed:?}");

    newer.close().await;
    for (_, _, client) in &clients {
        client.close().await;
    }
    (sent, clients.len() + 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a local cluster and Prometheus: run scripts/observability-test.sh"]
async fn every_panel_alert_and_documented_metric_has_data() {
    let router = env("SENDJAY_OBS_ROUTER_URL");
    let nodes: Vec<String> = env("SENDJAY_OBS_NODE_URLS")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let prometheus = Prometheus {
        url: env("SENDJAY_OBS_PROMETHEUS_URL"),
    };
    let scrape: u64 = env("SENDJAY_OBS_SCRAPE_SECS").parse().expect("seconds");
    let extra_users: u32 = std::env::var("SENDJAY_OBS_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut failures: Vec<String> = Vec::new();
    let mut checks = 0usize;

    // Endpoints.
    for base in std::iter::once(&router).chain(&nodes) {
        for (path, want) in [("/healthz", "ok"), ("/readyz", "ready")] {
            checks += 1;
            let (status, body) = get(&format!("{base}{path}")).await;
            if status != 200 || body.trim() != want {
                failures.push(format!("{base}{path} answered {status} {body:?}"));
            }
        }
    }

    let (sent, logins) = generate_load(&router, &nodes, extra_users).await;
    // Let Prometheus scrape the end state a few times (and evaluate the rules).
    tokio::time::sleep(Duration::from_secs(scrape * 4 + 2)).await;

    // Every target is up.
    let targets = prometheus.api("/api/v1/targets?state=active").await;
    let active = targets["data"]["activeTargets"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    checks += 1;
    if active.len() != nodes.len() + 1 {
        failures.push(format!(
            "Prometheus has {} active targets, expected {}",
            active.len(),
            nodes.len() + 1
        ));
    }
    for target in &active {
        checks += 1;
        if target["health"] != "up" {
            failures.push(format!(
                "target {} is {}: {}",
                target["scrapeUrl"], target["health"], target["lastError"]
            ));
        }
    }

    // The load moved what it should have: the instrumentation counts real events, not only zeros.
    let at_least = |n: usize| n as f64;
    let moved: Vec<(String, f64)> = vec![
        (
            "sum(sendjay_messages_received_total)".into(),
            at_least(sent),
        ),
        (
            "sum(sendjay_messages_persisted_total)".into(),
            at_least(sent),
        ),
        (
            r#"sum(sendjay_request_duration_seconds_count{op="send"})"#.into(),
            at_least(sent),
        ),
        (
            r#"sum(sendjay_db_query_duration_seconds_count{op="send"})"#.into(),
            at_least(sent),
        ),
        ("sum(sendjay_bus_published_total)".into(), at_least(sent)),
        (
            r#"sum(sendjay_bus_received_total{channel="room"})"#.into(),
            at_least(sent),
        ),
        ("sum(sendjay_frames_delivered_total)".into(), at_least(sent)),
        ("sum(sendjay_pushes_written_total)".into(), at_least(sent)),
        (
            "sum(sendjay_delivery_duration_seconds_count)".into(),
            at_least(sent),
        ),
        (
            "sum(sendjay_bus_publish_duration_seconds_count)".into(),
            at_least(sent),
        ),
        (
            "sum(sendjay_bus_receive_duration_seconds_count)".into(),
            at_least(sent),
        ),
        (
            "sum(sendjay_db_pool_wait_duration_seconds_count)".into(),
            at_least(sent),
        ),
        (
            r#"sum(sendjay_redis_command_duration_seconds_count{command="publish"})"#.into(),
            at_least(sent),
        ),
        (
            r#"sum(sendjay_redis_command_duration_seconds_count{command="session_claim"})"#.into(),
            at_least(logins),
        ),
        (
            r#"sum(sendjay_connections_accepted_total{device="mobile"})"#.into(),
            1.0,
        ),
        ("sum(sendjay_evictions_total)".into(), 1.0),
        (
            r#"sum(sendjay_connections_closed_total{reason="evicted"})"#.into(),
            1.0,
        ),
        (
            r#"sum(sendjay_auth_failures_total{reason="auth_failed"})"#.into(),
            1.0,
        ),
        (r#"sum(sendjay_requests_total{op="invalid"})"#.into(), 1.0),
        (
            r#"sum(sendjay_router_logins_total{result="ok"})"#.into(),
            at_least(logins),
        ),
        (
            r#"sum(sendjay_router_logins_total{result="invalid_credentials"})"#.into(),
            1.0,
        ),
        (
            r#"sum(sendjay_router_assignments_total{route="login"})"#.into(),
            at_least(logins),
        ),
        ("sum(sendjay_router_redirects_total)".into(), 4.0),
        (
            "max(sendjay_router_live_nodes)".into(),
            at_least(nodes.len()),
        ),
        ("min(sendjay_ready)".into(), 1.0),
        ("min(sendjay_redis_connected)".into(), 1.0),
        (
            r#"count(sendjay_build_info{commit!="unknown"})"#.into(),
            at_least(nodes.len() + 1),
        ),
        ("min(sendjay_db_pool_max_connections)".into(), 1.0),
        ("min(process_open_fds)".into(), 1.0),
        ("min(process_resident_memory_bytes)".into(), 1_000_000.0),
        ("min(process_cpu_seconds_total)".into(), 0.01),
        ("min(process_start_time_seconds)".into(), 1_600_000_000.0),
    ];
    for (expr, min) in moved {
        checks += 1;
        let value = match prometheus.query(&expr).await {
            Ok(result) => result
                .first()
                .and_then(|s| s["value"][1].as_str())
                .and_then(|v| v.parse::<f64>().ok()),
            Err(e) => {
                failures.push(format!("`{expr}`: {e}"));
                continue;
            }
        };
        match value {
            Some(v) if v >= min => {}
            other => failures.push(format!(
                "after the load `{expr}` is {other:?}, expected at least {min}"
            )),
        }
    }

    // Dashboards: variables, then every panel query.
    let docs = read_docs();
    let mut dashboards: Vec<PathBuf> = std::fs::read_dir(repo().join("grafana/dashboards"))
        .expect("grafana/dashboards exists")
        .map(|e| e.expect("readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    dashboards.sort();
    assert!(
        dashboards.len() >= 3,
        "expected the overview, node and dependencies dashboards"
    );
    let mut panels_checked = 0;
    for path in &dashboards {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let board: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
            .unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
        let mut vars: Vec<(String, String)> =
            vec![("$__rate_interval".into(), RATE_INTERVAL.into())];
        for var in board["templating"]["list"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            if var["type"] != "query" {
                continue;
            }
            let name = var["name"].as_str().unwrap_or_default().to_owned();
            let definition = var["query"]["query"].as_str().unwrap_or_default();
            // label_values(<selector>, <label>): its values must exist; use the first, as Grafana would.
            let inner = definition
                .strip_prefix("label_values(")
                .and_then(|d| d.strip_suffix(')'))
                .unwrap_or_else(|| panic!("{file}: variable {name} is not a label_values() query"));
            let (selector, label) = inner
                .rsplit_once(',')
                .expect("label_values(selector, label)");
            let label = label.trim();
            checks += 1;
            let values: Vec<String> = match prometheus
                .query(&format!("group by ({label}) ({selector})"))
                .await
            {
                Ok(result) => result
                    .iter()
                    .filter_map(|s| s["metric"][label].as_str().map(str::to_owned))
                    .collect(),
                Err(e) => {
                    failures.push(format!("{file}: variable ${name} `{definition}`: {e}"));
                    Vec::new()
                }
            };
            match values.first() {
                Some(first) => vars.push((format!("${name}"), first.clone())),
                None => failures.push(format!(
                    "{file}: variable ${name} `{definition}` has no values"
                )),
            }
        }
        for panel in board["panels"].as_array().cloned().unwrap_or_default() {
            if panel["type"] == "row" {
                continue;
            }
            let title = panel["title"].as_str().unwrap_or("(untitled)").to_owned();
            checks += 1;
            if !docs.text.contains(&format!("**{title}**")) {
                failures.push(format!(
                    "{file}: panel \"{title}\" is not described in docs/operations.md"
                ));
            }
            let targets = panel["targets"].as_array().cloned().unwrap_or_default();
            if targets.is_empty() {
                failures.push(format!("{file}: panel \"{title}\" has no query"));
            }
            panels_checked += 1;
            for target in targets {
                let mut expr = target["expr"].as_str().unwrap_or_default().to_owned();
                for (var, value) in &vars {
                    expr = expr.replace(var, value);
                }
                checks += 1;
                match prometheus.query(&expr).await {
                    Ok(result) if result.is_empty() => {
                        failures.push(format!("{file}: panel \"{title}\" shows nothing: `{expr}`"))
                    }
                    Ok(_) => {}
                    Err(e) => failures.push(format!("{file}: panel \"{title}\": `{expr}`: {e}")),
                }
            }
        }
    }
    println!(
        "{panels_checked} panels in {} dashboards checked",
        dashboards.len()
    );

    // Alert rules, as Prometheus loaded them.
    let rules = prometheus.api("/api/v1/rules?type=alert").await;
    let mut alerts = BTreeSet::new();
    for group in rules["data"]["groups"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        for rule in group["rules"].as_array().cloned().unwrap_or_default() {
            let name = rule["name"].as_str().unwrap_or_default().to_owned();
            let expr = rule["query"].as_str().unwrap_or_default().to_owned();
            alerts.insert(name.clone());
            checks += 1;
            if rule["health"] == "err" {
                failures.push(format!(
                    "alert {name}: evaluation error {}",
                    rule["lastError"]
                ));
            }
            if !docs.text.contains(&format!("### {name}")) {
                failures.push(format!(
                    "alert {name} has no runbook (### {name}) in docs/operations.md"
                ));
            }
            if let Err(e) = prometheus.query(&expr).await {
                failures.push(format!("alert {name}: `{expr}` does not evaluate: {e}"));
            }
            let Some((signal, threshold)) = split_comparison(&expr) else {
                failures.push(format!(
                    "alert {name}: `{expr}` is not `<signal> <comparison> <threshold>`"
                ));
                continue;
            };
            match prometheus.query(&signal).await {
                Ok(result) if result.is_empty() => failures.push(format!(
                    "alert {name}: its signal `{signal}` (before `{threshold}`) has no data"
                )),
                Ok(_) => {}
                Err(e) => failures.push(format!("alert {name}: `{signal}`: {e}")),
            }
        }
    }
    for required in [
        "SendjayNodeDown",
        "SendjayDeliveryLatencyHigh",
        "SendjayPubSubDrops",
        "SendjayPostgresPoolExhausted",
        "SendjaySlowConsumerSpike",
        "SendjayErrorRateHigh",
    ] {
        checks += 1;
        if !alerts.contains(required) {
            failures.push(format!(
                "alert {required} is not loaded (deploy/prometheus/alerts.yml)"
            ));
        }
    }
    println!("{} alert rules checked", alerts.len());

    // /metrics exposes every documented metric, and every exported metric is documented.
    let router_families = families(&get(&format!("{router}/metrics")).await.1);
    let mut node_families = Vec::new();
    for node in &nodes {
        node_families.push((
            node.clone(),
            families(&get(&format!("{node}/metrics")).await.1),
        ));
    }
    for (name, (kind, from)) in &docs.metrics {
        let mut sources: Vec<(&str, &BTreeMap<String, String>)> = Vec::new();
        if from.contains("node") {
            sources.extend(node_families.iter().map(|(n, f)| (n.as_str(), f)));
        }
        if from.contains("router") {
            sources.push((router.as_str(), &router_families));
        }
        checks += 1;
        if sources.is_empty() {
            failures.push(format!(
                "docs: metric {name} names no component (node, router) in its From column"
            ));
        }
        for (source, fams) in sources {
            checks += 1;
            match fams.get(name) {
                None => failures.push(format!("{source}/metrics does not expose {name}")),
                Some(actual) if actual != kind => failures.push(format!(
                    "{source}/metrics exposes {name} as a {actual}; docs/operations.md says {kind}"
                )),
                Some(_) => {}
            }
        }
        // And Prometheus has stored it.
        let series = if kind == "histogram" {
            format!("{name}_bucket")
        } else {
            name.clone()
        };
        checks += 1;
        match prometheus.query(&format!("count({series})")).await {
            Ok(result) if result.is_empty() => {
                failures.push(format!("Prometheus has no series of {name}"))
            }
            Ok(_) => {}
            Err(e) => failures.push(format!("count({series}): {e}")),
        }
    }
    let exported: BTreeSet<&String> = node_families
        .iter()
        .flat_map(|(_, f)| f.keys())
        .chain(router_families.keys())
        .filter(|n| n.starts_with("sendjay_") || n.starts_with("process_"))
        .collect();
    for name in exported {
        checks += 1;
        if !docs.metrics.contains_key(name) {
            failures.push(format!(
                "{name} is exported but not listed in docs/operations.md"
            ));
        }
    }

    println!("{checks} checks, {} failures", failures.len());
    assert!(
        failures.is_empty(),
        "{} of {checks} observability checks failed:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

#[test]
fn comparisons_split_at_the_top_level_only() {
    assert_eq!(
        split_comparison(r#"up{job="sendjay-node"} == 0"#),
        Some((r#"up{job="sendjay-node"}"#.into(), "== 0".into()))
    );
    assert_eq!(
        split_comparison(r#"sum(rate(x{a!="b",c=~"d|e"}[5m])) / sum(rate(y[5m])) > 0.05"#),
        Some((
            r#"sum(rate(x{a!="b",c=~"d|e"}[5m])) / sum(rate(y[5m]))"#.into(),
            "> 0.05".into()
        ))
    );
    assert_eq!(
        split_comparison("max(sendjay_router_live_nodes) < 1"),
        Some(("max(sendjay_router_live_nodes)".into(), "< 1".into()))
    );
    assert_eq!(split_comparison("sum(rate(x[5m]))"), None);
    assert_eq!(encode("a b{c=\"d\"}"), "a%20b%7Bc%3D%22d%22%7D");
}
