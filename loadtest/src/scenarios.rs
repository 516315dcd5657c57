//! The scenarios themselves. Each records into the run's [`crate::stats::Recorder`] and sets its own result
//! metrics (`lost`, `rss_per_conn_kib`, ...) for the thresholds.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use rand::seq::SliceRandom;
use sendjay_common::protocol::{
    Call, EditMessageArgs, Push, ReactionArgs, Reply, SendArgs, MAX_REACTIONS_PER_MESSAGE,
};

use crate::report::NodeReport;
use crate::run::{close_all, connect_all, device, Confirm, Ctx, Dial};
use crate::scenario::Kind;
use crate::stats::{error_code, Lat};
use sendjay_client::{ClientError, Connection};

pub mod enterprise_day;
pub mod files_mixed;
mod node_kill;

/// Runs the context's scenario.
pub async fn run(ctx: Arc<Ctx>) -> Result<(), String> {
    match ctx.scenario.kind {
        Kind::IdleConnections => connections(ctx, true).await,
        Kind::ConnectStorm => connections(ctx, false).await,
        Kind::RoomFanout => room_fanout(ctx).await,
        Kind::LoginStorm => login_storm(ctx).await,
        Kind::ReconnectStorm => reconnect_storm(ctx).await,
        Kind::NodeKill => node_kill::run(ctx).await,
        Kind::EnterpriseDay => enterprise_day::run(ctx).await,
        Kind::FilesMixed => files_mixed::run(ctx).await,
    }
}

pub(crate) fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

/// Users `1..=n` of the seed.
pub(crate) fn first_users(ctx: &Ctx, n: u32) -> Result<Vec<u32>, String> {
    if n == 0 || n > ctx.seed.users.count {
        return Err(format!(
            "the scenario wants {n} connections but the seed has {} users (raise [seed] users)",
            ctx.seed.users.count
        ));
    }
    Ok((ctx.seed.users.first..ctx.seed.users.first + n).collect())
}

pub(crate) async fn dials_for(ctx: &Arc<Ctx>, users: &[u32]) -> Result<Vec<Dial>, String> {
    let dev = device(&ctx.scenario.device)?;
    let nodes = ctx.assign(users, dev).await?;
    users
        .iter()
        .zip(nodes)
        .map(|(&user, node)| {
            Ok(Dial {
                user,
                node,
                token: ctx.token(user, dev)?,
                launch: "manual",
            })
        })
        .collect()
}

pub(crate) fn keep_ok(
    ctx: &Ctx,
    results: Vec<Result<Arc<Connection>, ClientError>>,
    context: &str,
) -> Vec<Option<Arc<Connection>>> {
    results
        .into_iter()
        .map(|r| match r {
            Ok(c) => Some(c),
            Err(e) => {
                ctx.rec.client_error(context, &e);
                None
            }
        })
        .collect()
}

/// Connects every dial (the scenario's concurrency and rate, each session confirmed by a ping) and returns the
/// sessions by user; failures are counted under `connect:<code>`.
pub(crate) async fn connect_users(
    ctx: &Arc<Ctx>,
    dials: Vec<Dial>,
) -> HashMap<u32, Arc<Connection>> {
    let s = &ctx.scenario;
    let users: Vec<u32> = dials.iter().map(|d| d.user).collect();
    ctx.rec.set_phase("connect");
    let results = connect_all(
        ctx,
        dials,
        s.connect_concurrency,
        s.connect_rate,
        Lat::Connect,
        Confirm::Ping,
        None,
    )
    .await;
    users
        .into_iter()
        .zip(keep_ok(ctx, results, "connect"))
        .filter_map(|(u, c)| Some((u, c?)))
        .collect()
}

/// idle-connections (`measure_memory`) and connect-storm.
async fn connections(ctx: Arc<Ctx>, measure_memory: bool) -> Result<(), String> {
    let s = &ctx.scenario;
    let users = first_users(&ctx, s.connections)?;
    let dials = dials_for(&ctx, &users).await?;
    let node_count = ctx.nodes.lock().map(|n| n.len()).unwrap_or(0);
    let mut per_node = vec![0u64; node_count];
    let before = ctx.node_rss();
    ctx.rec.set_phase("connect");
    let t0 = tokio::time::Instant::now();
    let results = connect_all(
        &ctx,
        dials.clone(),
        s.connect_concurrency,
        s.connect_rate,
        Lat::Connect,
        Confirm::Ping,
        None,
    )
    .await;
    let connect_secs = t0.elapsed().as_secs_f64();
    for (d, r) in dials.iter().zip(&results) {
        if r.is_ok() {
            per_node[d.node] += 1;
        }
    }
    let clients: Vec<Arc<Connection>> = keep_ok(&ctx, results, "connect")
        .into_iter()
        .flatten()
        .collect();
    let connected = clients.len() as f64;
    ctx.metric("connections", connected);
    ctx.metric("connect_secs", connect_secs);
    ctx.metric("connects_per_s", connected / connect_secs.max(0.001));
    if measure_memory {
        ctx.rec.set_phase("settle");
        tokio::time::sleep(secs(s.settle_secs)).await;
        let after = ctx.node_rss();
        ctx.rec.set_phase("hold");
        tokio::time::sleep(secs(s.duration_secs)).await;
        let end = ctx.node_rss();
        let mut delta_total = 0i64;
        let mut conns_total = 0u64;
        let mut delta_end_total = 0i64;
        for i in 0..node_count {
            let url = ctx.node_url(i);
            let (Some(b), Some(a), Some(e)) = (
                before[i],
                after.get(i).copied().flatten(),
                end.get(i).copied().flatten(),
            ) else {
                ctx.note(format!(
                    "no memory figures for {url}: its process was not found"
                ));
                continue;
            };
            let conns = per_node[i];
            let per = |x: u64| {
                if conns > 0 {
                    (x as f64 - b as f64) / conns as f64
                } else {
                    0.0
                }
            };
            ctx.node_reports
                .lock()
                .map_err(|e| e.to_string())?
                .push(NodeReport {
                    url: url.clone(),
                    pid: ctx.nodes.lock().map_err(|e| e.to_string())?[i].pid,
                    connections: conns,
                    rss_before_kib: b,
                    rss_connected_kib: a,
                    rss_end_kib: e,
                    per_conn_connected_kib: per(a),
                    per_conn_end_kib: per(e),
                });
            ctx.metric(&format!("rss_per_conn_kib_node{i}"), per(e));
            delta_total += a as i64 - b as i64;
            delta_end_total += e as i64 - b as i64;
            conns_total += conns;
        }
        if conns_total > 0 {
            ctx.metric(
                "rss_per_conn_kib_connected",
                delta_total as f64 / conns_total as f64,
            );
            ctx.metric(
                "rss_per_conn_kib",
                delta_end_total as f64 / conns_total as f64,
            );
        }
    }
    // Whoever is still alive answers a ping.
    ctx.rec.set_phase("check");
    let alive = Arc::new(AtomicU64::new(0));
    stream::iter(clients.iter().cloned())
        .for_each_concurrent(512, |c| {
            let alive = alive.clone();
            let ctx = ctx.clone();
            async move {
                if c.is_closed() {
                    ctx.rec.error(&format!(
                        "dropped:{}",
                        c.close_info().map_or(1006, |i| i.code)
                    ));
                    return;
                }
                match c.call(Call::Ping).await {
                    Ok(_) => {
                        alive.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => ctx.rec.client_error("final_ping", &e),
                }
            }
        })
        .await;
    let alive = alive.load(Ordering::Relaxed) as f64;
    ctx.metric("alive_at_end", alive);
    ctx.metric("dropped", connected - alive);
    close_all(&ctx, clients).await;
    Ok(())
}

/// The seed's rooms the scenario uses (`room_source`, `rooms`), each with its members.
pub(crate) fn seed_rooms(ctx: &Ctx) -> Result<Vec<(i64, Vec<u32>)>, String> {
    let s = &ctx.scenario;
    let limit = if s.rooms == 0 { u32::MAX } else { s.rooms };
    let rooms = match s.room_source.as_str() {
        "pairs" => ctx.seed.pairs_of(limit),
        "groups" => ctx.seed.groups_of(s.seed.group_size, limit),
        other => return Err(format!("room_source `{other}`: expected groups or pairs")),
    };
    if rooms.is_empty() {
        return Err("no rooms in the seed for this scenario".into());
    }
    Ok(rooms)
}

/// Per message: its room, sender, intended time and how many recipients it should reach.
pub(crate) struct Ledger {
    pub(crate) expected: Vec<AtomicU32>,
    pub(crate) delivered: Vec<AtomicU32>,
    pub(crate) acked: Vec<AtomicBool>,
    pub(crate) sent: Vec<AtomicBool>,
    /// When each tick was meant to happen (µs since start): reaction pushes carry only their index.
    pub(crate) intended_us: Vec<AtomicU64>,
}

impl Ledger {
    pub(crate) fn new(n: usize) -> Ledger {
        Ledger {
            expected: (0..n).map(|_| AtomicU32::new(0)).collect(),
            delivered: (0..n).map(|_| AtomicU32::new(0)).collect(),
            acked: (0..n).map(|_| AtomicBool::new(false)).collect(),
            sent: (0..n).map(|_| AtomicBool::new(false)).collect(),
            intended_us: (0..n).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// `lt:<tag>:<index>:<intended µs since start>:` then padding.
pub(crate) fn body(tag: &str, index: u64, intended_us: u64, size: usize) -> String {
    let mut b = format!("lt:{tag}:{index}:{intended_us}:");
    while b.len() < size {
        b.push('x');
    }
    b
}

pub(crate) fn parse_body(body: &str, tag: &str) -> Option<(u64, u64)> {
    let rest = body
        .strip_prefix("lt:")?
        .strip_prefix(tag)?
        .strip_prefix(':')?;
    let mut it = rest.splitn(3, ':');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// room-fanout and small-rooms: rooms of K members spread over the nodes, messages at a fixed rate (open
/// loop) or back to back (closed loop), exact accounting of expected, delivered, duplicated and lost pushes.
async fn room_fanout(ctx: Arc<Ctx>) -> Result<(), String> {
    let s = ctx.scenario.clone();
    let rooms = seed_rooms(&ctx)?;
    let mut users: Vec<u32> = rooms.iter().flat_map(|(_, m)| m.iter().copied()).collect();
    users.sort_unstable();
    users.dedup();
    let dials = dials_for(&ctx, &users).await?;
    let clients = connect_users(&ctx, dials).await;
    ctx.metric("connections", clients.len() as f64);
    ctx.metric("rooms", rooms.len() as f64);
    ctx.metric("room_size", users.len() as f64 / rooms.len() as f64);

    let max_messages = if s.closed_loop {
        2_000_000
    } else {
        (s.rate * s.duration_secs).ceil() as usize
    };
    let ledger = Arc::new(Ledger::new(max_messages));
    let echoes = Arc::new(AtomicU64::new(0));
    // Receivers: one task per connection draining its pushes.
    let mut receivers = Vec::new();
    for (&user, client) in &clients {
        let client = client.clone();
        let ledger = ledger.clone();
        let ctx = ctx.clone();
        let echoes = echoes.clone();
        let me = ctx.seed.user_id(user);
        receivers.push(tokio::spawn(async move {
            let mut seen: HashSet<u64> = HashSet::new();
            let mut rx = client.pushes.lock().await;
            while let Some(push) = rx.recv().await {
                // A tick's push: the message (or its edit) carries index and time; a reaction its index.
                let (index, intended_us, from) = match push {
                    Push::Message { message } | Push::Edited { message } => {
                        let Some((index, intended_us)) = parse_body(&message.body, &ctx.tag) else {
                            continue;
                        };
                        (index, intended_us, message.sender_id)
                    }
                    Push::Reaction {
                        emoji,
                        user_id,
                        on: true,
                        ..
                    } => {
                        let Some(index) = emoji.parse::<u64>().ok() else {
                            continue;
                        };
                        let Some(at) = ledger.intended_us.get(index as usize) else {
                            continue;
                        };
                        (index, at.load(Ordering::Relaxed), user_id)
                    }
                    _ => continue,
                };
                let now = ctx.rec.now_us();
                if from == me {
                    echoes.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if !seen.insert(index) {
                    ctx.rec.counters.duplicates.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if let Some(d) = ledger.delivered.get(index as usize) {
                    d.fetch_add(1, Ordering::Relaxed);
                }
                ctx.rec.counters.delivered.fetch_add(1, Ordering::Relaxed);
                ctx.rec.record(
                    Lat::Delivery,
                    Duration::from_micros(now.saturating_sub(intended_us)),
                );
            }
        }));
    }
    ctx.rec.set_phase("settle");
    let changing = match s.change.as_str() {
        "" => false,
        "edit" | "react" => true,
        other => {
            return Err(format!(
                "change = {other:?}: use \"edit\", \"react\" or leave it out"
            ))
        }
    };
    if changing && s.closed_loop {
        return Err(format!(
            "change = {:?} needs an open loop: set `rate` and `closed_loop = false`",
            s.change
        ));
    }
    // Changes need messages to change: the room's first member writes them (one to edit, or one per 20 reactions).
    let per_room = max_messages.div_ceil(rooms.len().max(1));
    let anchors_per_room = if s.change == "react" {
        per_room.div_ceil(MAX_REACTIONS_PER_MESSAGE)
    } else {
        1
    };
    let mut anchors: HashMap<i64, Vec<i64>> = HashMap::new();
    if changing {
        for (room, members) in &rooms {
            let Some(client) = clients.get(&members[0]) else {
                return Err(format!(
                    "room {room}: its first member is not connected; nothing to {}",
                    s.change
                ));
            };
            for a in 0..anchors_per_room {
                let args = SendArgs {
                    room_id: *room,
                    client_msg_id: format!("lt-{}-anchor-{a}", ctx.tag),
                    body: format!("loadtest: {} target {a}", s.change),
                };
                match client.call(Call::Send(args)).await {
                    Ok(Reply::Send { message, .. }) => {
                        anchors.entry(*room).or_default().push(message.seq)
                    }
                    other => {
                        return Err(format!(
                            "room {room}: writing the messages to {} failed: {other:?}",
                            s.change
                        ))
                    }
                }
            }
        }
    }
    let anchors = Arc::new(anchors);
    tokio::time::sleep(secs(s.settle_secs)).await;

    // Who sends message i, and who should receive it.
    let rooms = Arc::new(rooms);
    let clients = Arc::new(clients);
    let pick = {
        let rooms = rooms.clone();
        let clients = clients.clone();
        move |i: u64| -> Option<(i64, u32, u32)> {
            let (room, members) = &rooms[(i % rooms.len() as u64) as usize];
            // Changes come from the member who wrote the messages (only the sender may edit).
            let k = if changing { 1 } else { members.len() as u64 };
            let turn = i / rooms.len() as u64;
            let sender = (0..k)
                .map(|j| members[((turn + j) % k) as usize])
                .find(|m| clients.get(m).is_some_and(|c| !c.is_closed()))?;
            let receivers = members
                .iter()
                .filter(|m| **m != sender && clients.get(m).is_some_and(|c| !c.is_closed()))
                .count() as u32;
            Some((*room, sender, receivers))
        }
    };
    let ctx_rooms = rooms.len();
    let send_one = {
        let ctx = ctx.clone();
        let ledger = ledger.clone();
        let clients = clients.clone();
        move |i: u64, intended: tokio::time::Instant, intended_us: u64| {
            let ctx = ctx.clone();
            let ledger = ledger.clone();
            let clients = clients.clone();
            let pick = pick.clone();
            let anchors = anchors.clone();
            async move {
                let Some((room_id, sender, receivers)) = pick(i) else {
                    ctx.rec.error("send:no_live_sender");
                    return;
                };
                ledger.expected[i as usize].store(receivers, Ordering::Relaxed);
                ledger.intended_us[i as usize].store(intended_us, Ordering::Relaxed);
                ledger.sent[i as usize].store(true, Ordering::Relaxed);
                ctx.rec.counters.sent.fetch_add(1, Ordering::Relaxed);
                let text = body(&ctx.tag, i, intended_us, ctx.scenario.body_bytes);
                let turn = (i / ctx_rooms as u64) as usize;
                let call = match ctx.scenario.change.as_str() {
                    "edit" => Call::EditMessage(EditMessageArgs {
                        room_id,
                        seq: anchors[&room_id][0],
                        body: text,
                    }),
                    "react" => Call::AddReaction(ReactionArgs {
                        room_id,
                        seq: anchors[&room_id][turn / MAX_REACTIONS_PER_MESSAGE],
                        emoji: i.to_string(),
                    }),
                    _ => Call::Send(SendArgs {
                        room_id,
                        client_msg_id: format!("lt-{}-{i}", ctx.tag),
                        body: text,
                    }),
                };
                match clients[&sender].call(call).await {
                    Ok(
                        Reply::Send { .. } | Reply::EditMessage { .. } | Reply::AddReaction { .. },
                    ) => {
                        ctx.rec.record(Lat::Ack, intended.elapsed());
                        ledger.acked[i as usize].store(true, Ordering::Relaxed);
                        ctx.rec.counters.acked.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(other) => ctx.rec.error(
                        &format!("send:unexpected_{other:?}")
                            .chars()
                            .take(40)
                            .collect::<String>(),
                    ),
                    Err(e) => ctx.rec.error(&format!("send:{}", error_code(&e))),
                }
            }
        }
    };
    ctx.rec.set_phase("send");
    let t0 = tokio::time::Instant::now();
    let deadline = t0 + secs(s.duration_secs);
    let mut inflight = Vec::new();
    if s.closed_loop {
        let next = Arc::new(AtomicU64::new(0));
        let senders = if s.senders == 0 {
            rooms.len() as u32
        } else {
            s.senders
        };
        for _ in 0..senders {
            let next = next.clone();
            let send_one = send_one.clone();
            let ctx = ctx.clone();
            inflight.push(tokio::spawn(async move {
                while tokio::time::Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i as usize >= max_messages {
                        break;
                    }
                    send_one(i, tokio::time::Instant::now(), ctx.rec.now_us()).await;
                }
            }));
        }
    } else {
        let base_us = ctx.rec.now_us();
        for i in 0..max_messages as u64 {
            let offset = Duration::from_secs_f64(i as f64 / s.rate);
            let at = t0 + offset;
            tokio::time::sleep_until(at).await;
            inflight.push(tokio::spawn(send_one(
                i,
                at,
                base_us + offset.as_micros() as u64,
            )));
        }
    }
    for h in inflight {
        let _ = h.await;
    }
    let send_secs = t0.elapsed().as_secs_f64();
    // Drain: wait until every acknowledged message reached all its recipients, or the drain time passes.
    ctx.rec.set_phase("drain");
    let drain_end = tokio::time::Instant::now() + secs(s.drain_secs);
    // Over the whole ledger: a skipped send (no live sender) leaves a hole, so `sent` is not an index bound.
    let count = |ledger: &Ledger| {
        let (mut exp, mut got, mut late) = (0u64, 0u64, 0u64);
        for i in 0..max_messages.min(ledger.sent.len()) {
            let d = ledger.delivered[i].load(Ordering::Relaxed) as u64;
            if ledger.acked[i].load(Ordering::Relaxed) {
                let e = ledger.expected[i].load(Ordering::Relaxed) as u64;
                exp += e;
                got += d.min(e);
            } else if ledger.sent[i].load(Ordering::Relaxed) {
                late += d;
            }
        }
        (exp, got, late)
    };
    loop {
        let (exp, got, _) = count(&ledger);
        if got >= exp || tokio::time::Instant::now() >= drain_end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (expected, delivered, delivered_unacked) = count(&ledger);
    let acked = ctx.rec.counters.acked.load(Ordering::Relaxed) as f64;
    ctx.metric("expected", expected as f64);
    ctx.metric("delivered", delivered as f64);
    ctx.metric("lost", (expected - delivered) as f64);
    ctx.metric("delivered_unacked", delivered_unacked as f64);
    ctx.metric("own_echoes", echoes.load(Ordering::Relaxed) as f64);
    ctx.metric("send_secs", send_secs);
    ctx.metric("acked_per_s", acked / send_secs.max(0.001));
    ctx.metric("delivered_per_s", delivered as f64 / send_secs.max(0.001));
    ctx.metric(
        "send_errors",
        ctx.rec.counters.sent.load(Ordering::Relaxed) as f64 - acked,
    );
    if !s.closed_loop {
        ctx.metric("target_rate", s.rate);
    }
    let closed = clients.values().filter(|c| c.is_closed()).count();
    ctx.metric("connections_closed_during_run", closed as f64);
    for r in receivers {
        r.abort();
    }
    let clients: Vec<Arc<Connection>> = clients.values().cloned().collect();
    close_all(&ctx, clients).await;
    Ok(())
}

/// login-storm: every user logs in `copies` times per device class at once, on different nodes, with
/// `launch=manual`; afterwards exactly one session per user and device class must be alive.
async fn login_storm(ctx: Arc<Ctx>) -> Result<(), String> {
    let s = ctx.scenario.clone();
    let users = first_users(&ctx, s.connections)?;
    let devices: Vec<_> = s
        .devices
        .iter()
        .map(|d| device(d))
        .collect::<Result<_, _>>()?;
    let nodes = ctx.all_nodes(&users, devices[0]).await?;
    if nodes.len() < 2 {
        ctx.note(
            "only one node is known: the logins race on one node (pass --nodes to use several)"
                .into(),
        );
    }
    let mut dials = Vec::new();
    let mut keys = Vec::new();
    for &u in &users {
        for (di, &dev) in devices.iter().enumerate() {
            let token = ctx.token(u, dev)?;
            for c in 0..s.copies {
                dials.push(Dial {
                    user: u,
                    node: nodes[(u as usize + c as usize) % nodes.len()],
                    token: token.clone(),
                    launch: "manual",
                });
                keys.push((u, di));
            }
        }
    }
    // Shuffle so the copies of one user race each other rather than arriving in order.
    let mut order: Vec<usize> = (0..dials.len()).collect();
    order.shuffle(&mut rand::rng());
    let dials: Vec<Dial> = order.iter().map(|&i| dials[i].clone()).collect();
    let keys: Vec<(u32, usize)> = order.iter().map(|&i| keys[i]).collect();
    ctx.rec.set_phase("storm");
    let mut results = connect_all(
        &ctx,
        dials.clone(),
        s.connect_concurrency,
        0.0,
        Lat::Connect,
        Confirm::Ping,
        None,
    )
    .await;
    // A node that does not own the user closes with 4006 (wrong_node); a client then asks the router and
    // connects there, so the race moves to the user's own node.
    let wrong: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r, Err(ClientError::Closed(Some(c))) if c.code == 4006))
        .map(|(i, _)| i)
        .collect();
    ctx.metric("redirected_4006", wrong.len() as f64);
    if !wrong.is_empty() {
        ctx.rec.set_phase("redirect");
        let mut again = Vec::new();
        for &i in &wrong {
            let (u, di) = keys[i];
            let node = ctx.assign(&[u], devices[di]).await?[0];
            again.push(Dial {
                node,
                ..dials[i].clone()
            });
        }
        let retried = connect_all(
            &ctx,
            again,
            s.connect_concurrency,
            0.0,
            Lat::Connect,
            Confirm::Ping,
            None,
        )
        .await;
        for (&i, r) in wrong.iter().zip(retried) {
            results[i] = r;
        }
    }
    let mut refused: BTreeMap<String, u64> = BTreeMap::new();
    let mut clients: Vec<((u32, usize), Arc<Connection>)> = Vec::new();
    for (k, r) in keys.into_iter().zip(results) {
        match r {
            Ok(c) => clients.push((k, c)),
            Err(e) => *refused.entry(error_code(&e)).or_default() += 1,
        }
    }
    ctx.rec.set_phase("settle");
    tokio::time::sleep(secs(s.settle_secs.max(1.0))).await;
    ctx.rec.set_phase("count");
    let alive: Vec<((u32, usize), bool)> = stream::iter(clients.iter().cloned())
        .map(|(k, c)| async move {
            if c.is_closed() {
                return (k, false);
            }
            (k, c.call(Call::Ping).await.is_ok())
        })
        .buffer_unordered(512)
        .collect()
        .await;
    let mut per_key: HashMap<(u32, usize), u32> = HashMap::new();
    for &u in &users {
        for di in 0..devices.len() {
            per_key.insert((u, di), 0);
        }
    }
    for (k, ok) in alive {
        if ok {
            *per_key.entry(k).or_default() += 1;
        }
    }
    let mut closes: BTreeMap<String, u64> = BTreeMap::new();
    for (_, c) in &clients {
        if let Some(info) = c.close_info() {
            *closes.entry(format!("close_{}", info.code)).or_default() += 1;
        } else if c.is_closed() {
            *closes.entry("close_1006".into()).or_default() += 1;
        }
    }
    for (code, n) in refused.iter().chain(closes.iter()) {
        for _ in 0..*n {
            // Evictions are the expected outcome; everything else is an error.
            if code == "close_4005" {
                continue;
            }
            ctx.rec.error(&format!("login:{code}"));
        }
    }
    let evicted = refused.get("close_4005").copied().unwrap_or(0)
        + closes.get("close_4005").copied().unwrap_or(0);
    let one = per_key.values().filter(|n| **n == 1).count();
    let zero = per_key.values().filter(|n| **n == 0).count();
    let multi = per_key.values().filter(|n| **n > 1).count();
    ctx.metric(
        "logins",
        (users.len() * devices.len() * s.copies as usize) as f64,
    );
    ctx.metric("nodes_used", nodes.len() as f64);
    ctx.metric("sessions_expected", per_key.len() as f64);
    ctx.metric("sessions_exactly_one", one as f64);
    ctx.metric("sessions_zero", zero as f64);
    ctx.metric("sessions_multiple", multi as f64);
    ctx.metric("evicted_4005", evicted as f64);
    let clients: Vec<Arc<Connection>> = clients.into_iter().map(|(_, c)| c).collect();
    close_all(&ctx, clients).await;
    Ok(())
}

/// reconnect-storm: open N sessions, close them all at once, and reconnect all of them at the same moment
/// through the router (`/v1/assign` with the token held), each confirming with a `sync` as a real client
/// does; reconnect latency counts from the moment of the storm.
async fn reconnect_storm(ctx: Arc<Ctx>) -> Result<(), String> {
    let s = ctx.scenario.clone();
    let users = first_users(&ctx, s.connections)?;
    let dials = dials_for(&ctx, &users).await?;
    ctx.rec.set_phase("connect");
    let results = connect_all(
        &ctx,
        dials.clone(),
        s.connect_concurrency,
        s.connect_rate,
        Lat::Connect,
        Confirm::Ping,
        None,
    )
    .await;
    let mut kept = Vec::new();
    let mut clients = Vec::new();
    for (d, r) in dials.into_iter().zip(keep_ok(&ctx, results, "connect")) {
        if let Some(c) = r {
            kept.push(d);
            clients.push(c);
        }
    }
    ctx.rec.set_phase("settle");
    tokio::time::sleep(secs(s.settle_secs)).await;
    ctx.rec.set_phase("drop");
    close_all(&ctx, clients).await;
    // The storm: everyone asks the router again and reconnects at once.
    ctx.rec.set_phase("reconnect");
    let storm = tokio::time::Instant::now();
    let users: Vec<u32> = kept.iter().map(|d| d.user).collect();
    let nodes = ctx.assign(&users, device(&s.device)?).await?;
    ctx.rec.set_phase("reconnect");
    let dials: Vec<Dial> = kept
        .into_iter()
        .zip(nodes)
        .map(|(d, node)| Dial { node, ..d })
        .collect();
    let results = connect_all(
        &ctx,
        dials,
        s.connect_concurrency,
        0.0,
        Lat::Reconnect,
        Confirm::Sync,
        Some(storm),
    )
    .await;
    let all_back = storm.elapsed().as_secs_f64();
    let clients: Vec<Arc<Connection>> = keep_ok(&ctx, results, "reconnect")
        .into_iter()
        .flatten()
        .collect();
    ctx.metric("reconnected", clients.len() as f64);
    ctx.metric("reconnect_all_secs", all_back);
    ctx.metric(
        "reconnects_per_s",
        clients.len() as f64 / all_back.max(0.001),
    );
    tokio::time::sleep(secs(s.duration_secs)).await;
    let alive = clients.iter().filter(|c| !c.is_closed()).count();
    ctx.metric("alive_at_end", alive as f64);
    ctx.metric("dropped", (clients.len() - alive) as f64);
    close_all(&ctx, clients).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip() {
        let b = body("abcd", 42, 123456, 64);
        assert_eq!(b.len(), 64);
        assert_eq!(parse_body(&b, "abcd"), Some((42, 123456)));
        assert_eq!(parse_body(&b, "other"), None);
        assert_eq!(parse_body("hello", "abcd"), None);
    }
}
