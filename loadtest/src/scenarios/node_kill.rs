//! node-kill: room traffic at a fixed rate while one node is killed mid-run by a configured command.
//!
//! What it proves is the cluster's promise that no acknowledged message is lost when a node dies: every
//! message a sender got an ack for must reach every other member of its room, either live (a `message` push)
//! or through `sync` once the member's client has found its way back through the router. The clients behave
//! like real ones: a client that loses its socket asks the router again, reconnects, and syncs from the
//! cursors it holds; a send cut off before its ack is retried with the same client id (the server answers a
//! repeat with the stored message, so a retry never doubles a message). At the end every member syncs once
//! more, so `lost` counts only messages that are missing from the system of record, not pushes in flight.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use sendjay_common::protocol::{
    Call, DeviceClass, Message, Push, Reply, RoomCursor, SendArgs, SyncArgs,
};
use tokio::sync::{watch, RwLock};

use super::{body, dials_for, keep_ok, parse_body, secs, seed_rooms, Ledger};
use crate::run::{close_all, connect_all, device, Confirm, Ctx};
use crate::scenario::Assign;
use crate::stats::{error_code, Lat};
use sendjay_client::HeldCursor;
use sendjay_client::{ClientError, ConnectOptions, Connection, SendRetry};

/// What a member's client knows: its cursors and which of this run's messages it has.
#[derive(Default)]
struct Held {
    cursors: HashMap<i64, HeldCursor>,
    /// This run's messages held, and whether each first arrived live.
    seen: HashMap<u64, bool>,
}

/// One user of the run and its current connection.
struct Member {
    user: u32,
    user_id: String,
    client: RwLock<Arc<Connection>>,
    /// Bumped each time a new connection replaces the old one.
    generation: watch::Sender<u64>,
    held: Mutex<Held>,
    /// Index of the node the current connection is on.
    node: AtomicUsize,
    /// Whether the kill cut this member's connection (it then records a recovery latency).
    cut_by_kill: AtomicBool,
}

/// Counts shared by the run's tasks.
#[derive(Default)]
struct Tally {
    delivered_live: AtomicU64,
    recovered_by_sync: AtomicU64,
    send_retries: AtomicU64,
    send_gave_up: AtomicU64,
    reconnected: AtomicU64,
    reconnect_failed: AtomicU64,
    sessions_cut: AtomicU64,
    reconnect_pushes: AtomicU64,
    sync_needed_pushes: AtomicU64,
    sync_then_pushed: AtomicU64,
}

/// Everything the tasks of one run share.
struct Run {
    ctx: Arc<Ctx>,
    device: DeviceClass,
    rooms: Vec<(i64, Vec<u32>)>,
    room_ids: Vec<i64>,
    members: HashMap<u32, Arc<Member>>,
    ledger: Ledger,
    tally: Tally,
    /// Set when the kill command has run: microseconds since the start of the run.
    killed_at_us: AtomicU64,
    /// When the last cut-off member was back (microseconds since the start of the run).
    last_back_us: AtomicU64,
    /// The node being killed (index into the context's nodes).
    victim: AtomicUsize,
    stopping: AtomicBool,
}

/// Runs node-kill.
pub(crate) async fn run(ctx: Arc<Ctx>) -> Result<(), String> {
    let s = ctx.scenario.clone();
    if ctx.target.assign.as_deref() == Some("round-robin")
        || (ctx.target.assign.is_none() && s.assign == Assign::RoundRobin)
    {
        return Err(
            "node-kill needs router assignment: clients of the killed node find the survivors \
                    through the router (drop --assign round-robin)"
                .into(),
        );
    }
    let rooms = seed_rooms(&ctx)?;
    let device = device(&s.device)?;
    let mut users: Vec<u32> = rooms.iter().flat_map(|(_, m)| m.iter().copied()).collect();
    users.sort_unstable();
    users.dedup();

    let members = connect_members(&ctx, &users).await?;
    if members.len() < users.len() {
        return Err(format!(
            "only {} of {} members connected; node-kill needs everyone on line before the kill",
            members.len(),
            users.len()
        ));
    }
    let max_messages = (s.rate * s.duration_secs).ceil() as usize;
    let run = Arc::new(Run {
        room_ids: rooms.iter().map(|(r, _)| *r).collect(),
        ctx: ctx.clone(),
        device,
        rooms,
        members,
        ledger: Ledger::new(max_messages),
        tally: Tally::default(),
        killed_at_us: AtomicU64::new(0),
        last_back_us: AtomicU64::new(0),
        victim: AtomicUsize::new(usize::MAX),
        stopping: AtomicBool::new(false),
    });
    ctx.metric("connections", run.members.len() as f64);
    ctx.metric("rooms", run.rooms.len() as f64);

    // Each member's cursors start at what its rooms hold now.
    ctx.rec.set_phase("cursors");
    let synced: Vec<Result<(), String>> = stream::iter(run.members.values().cloned())
        .map(|m| {
            let run = run.clone();
            async move {
                let client = m.client.read().await.clone();
                sync_member(&run, &m, &client, false).await
            }
        })
        .buffer_unordered(256)
        .collect()
        .await;
    if let Some(Err(e)) = synced.into_iter().find(|r| r.is_err()) {
        return Err(format!("the first sync failed: {e}"));
    }

    let supervisors: Vec<_> = run
        .members
        .values()
        .map(|m| tokio::spawn(supervise(run.clone(), m.clone())))
        .collect();
    ctx.rec.set_phase("settle");
    tokio::time::sleep(secs(s.settle_secs)).await;

    ctx.rec.set_phase("send");
    let t0 = tokio::time::Instant::now();
    let killer = tokio::spawn(kill_at(run.clone(), t0 + secs(s.kill_at_secs)));
    let mut sends = Vec::with_capacity(max_messages);
    let base_us = ctx.rec.now_us();
    for i in 0..max_messages as u64 {
        let offset = Duration::from_secs_f64(i as f64 / s.rate);
        let at = t0 + offset;
        tokio::time::sleep_until(at).await;
        sends.push(tokio::spawn(send_one(
            run.clone(),
            i,
            at,
            base_us + offset.as_micros() as u64,
        )));
    }
    let kill_outcome = killer
        .await
        .unwrap_or_else(|e| Err(format!("the kill task failed: {e}")));
    for h in sends {
        let _ = h.await;
    }
    let send_secs = t0.elapsed().as_secs_f64();

    ctx.rec.set_phase("rejoin");
    let all_back = wait_all_back(&run).await;
    ctx.rec.set_phase("final-sync");
    let final_errors = final_sync(&run).await;
    report(&run, send_secs, all_back, final_errors);

    run.stopping.store(true, Ordering::Relaxed);
    let mut clients = Vec::new();
    for m in run.members.values() {
        clients.push(m.client.read().await.clone());
    }
    close_all(&ctx, clients).await;
    for h in supervisors {
        h.abort();
    }
    kill_outcome
}

/// Connects every user through the router and wraps each in a [`Member`].
async fn connect_members(
    ctx: &Arc<Ctx>,
    users: &[u32],
) -> Result<HashMap<u32, Arc<Member>>, String> {
    let dials = dials_for(ctx, users).await?;
    ctx.rec.set_phase("connect");
    let s = &ctx.scenario;
    let nodes: Vec<usize> = dials.iter().map(|d| d.node).collect();
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
    Ok(users
        .iter()
        .zip(nodes)
        .zip(keep_ok(ctx, results, "connect"))
        .filter_map(|((&user, node), client)| {
            let client = client?;
            Some((
                user,
                Arc::new(Member {
                    user,
                    user_id: ctx.seed.user_id(user),
                    client: RwLock::new(client),
                    generation: watch::channel(0).0,
                    held: Mutex::new(Held::default()),
                    node: AtomicUsize::new(node),
                    cut_by_kill: AtomicBool::new(false),
                }),
            ))
        })
        .collect())
}

/// Follows one member: reads its pushes, and when its connection ends (or the node asks it to move)
/// reconnects through the router and syncs what it missed.
async fn supervise(run: Arc<Run>, member: Arc<Member>) {
    loop {
        let client = member.client.read().await.clone();
        pump(&run, &member, &client).await;
        if run.stopping.load(Ordering::Relaxed) {
            return;
        }
        let lost_at = tokio::time::Instant::now();
        let victim = run.victim.load(Ordering::Relaxed);
        if member.node.load(Ordering::Relaxed) == victim
            && run.killed_at_us.load(Ordering::Relaxed) > 0
            && !member.cut_by_kill.swap(true, Ordering::Relaxed)
        {
            run.tally.sessions_cut.fetch_add(1, Ordering::Relaxed);
        }
        match reconnect(&run, &member).await {
            Ok(()) => {
                run.tally.reconnected.fetch_add(1, Ordering::Relaxed);
                let killed = run.killed_at_us.load(Ordering::Relaxed);
                if member.cut_by_kill.load(Ordering::Relaxed) && killed > 0 {
                    let now = run.ctx.rec.now_us();
                    run.last_back_us.fetch_max(now, Ordering::Relaxed);
                    run.ctx.rec.record(
                        Lat::Recover,
                        Duration::from_micros(now.saturating_sub(killed)),
                    );
                } else {
                    run.ctx.rec.record(Lat::Reconnect, lost_at.elapsed());
                }
            }
            Err(e) => {
                run.tally.reconnect_failed.fetch_add(1, Ordering::Relaxed);
                run.ctx.rec.error(&format!("reconnect:{e}"));
                return;
            }
        }
    }
}

/// Reads one connection's pushes until it ends.
async fn pump(run: &Arc<Run>, member: &Member, client: &Arc<Connection>) {
    let mut rx = client.pushes.lock().await;
    while let Some(push) = rx.recv().await {
        match push {
            Push::Message { message } => accept(run, member, &message, true),
            Push::SyncNeeded { .. } => {
                run.tally.sync_needed_pushes.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = sync_member(run, member, client, true).await {
                    run.ctx.rec.error(&format!("sync_needed:{e}"));
                }
            }
            Push::Reconnect { after_ms, .. } => {
                // The node is draining or rebalancing: move after the delay it asks for.
                run.tally.reconnect_pushes.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(after_ms)).await;
                client.close().await;
            }
            _ => {}
        }
    }
}

/// Books a message a member received, live or through sync.
fn accept(run: &Run, member: &Member, message: &Message, live: bool) {
    let mut held = member.held.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(cursor) = held.cursors.get_mut(&message.room_id) {
        cursor.hold(message.seq);
    }
    let Some((index, intended_us)) = parse_body(&message.body, &run.ctx.tag) else {
        return;
    };
    if message.sender_id == member.user_id {
        return;
    }
    if let Some(&first_live) = held.seen.get(&index) {
        // Pushed twice is a duplicate. A push of what a sync already returned is not: the new connection's
        // pushes start while the reconnecting client is still syncing (a client keys messages by room and seq).
        if live && first_live {
            run.ctx
                .rec
                .counters
                .duplicates
                .fetch_add(1, Ordering::Relaxed);
        } else if live {
            run.tally.sync_then_pushed.fetch_add(1, Ordering::Relaxed);
        }
        return;
    }
    held.seen.insert(index, live);
    drop(held);
    if let Some(d) = run.ledger.delivered.get(index as usize) {
        d.fetch_add(1, Ordering::Relaxed);
    }
    run.ctx
        .rec
        .counters
        .delivered
        .fetch_add(1, Ordering::Relaxed);
    if live {
        run.tally.delivered_live.fetch_add(1, Ordering::Relaxed);
        let now = run.ctx.rec.now_us();
        run.ctx.rec.record(
            Lat::Delivery,
            Duration::from_micros(now.saturating_sub(intended_us)),
        );
    } else {
        run.tally.recovered_by_sync.fetch_add(1, Ordering::Relaxed);
    }
}

/// Syncs a member's rooms from its cursors, page after page. With `from_cursors` false it only reads the
/// rooms' current seqs to set the cursors (the start of the run).
async fn sync_member(
    run: &Run,
    member: &Member,
    client: &Connection,
    from_cursors: bool,
) -> Result<(), String> {
    if !from_cursors {
        let reply = client
            .call(Call::Sync(SyncArgs::default()))
            .await
            .map_err(|e| error_code(&e))?;
        let Reply::Sync { rooms, .. } = reply else {
            return Err("unexpected_reply".into());
        };
        let mut held = member.held.lock().unwrap_or_else(|p| p.into_inner());
        for room in rooms {
            if run.room_ids.contains(&room.room_id) {
                held.cursors
                    .insert(room.room_id, HeldCursor::at(room.last_seq));
            }
        }
        return Ok(());
    }
    loop {
        let cursors: Vec<RoomCursor> = {
            let held = member.held.lock().unwrap_or_else(|p| p.into_inner());
            held.cursors
                .iter()
                .map(|(&room_id, c)| RoomCursor {
                    room_id,
                    seq: c.seq,
                })
                .collect()
        };
        let reply = client
            .call(Call::Sync(SyncArgs {
                cursors,
                limit: Some(sendjay_common::protocol::MAX_SYNC_PAGE),
                changes: Vec::new(),
            }))
            .await
            .map_err(|e| error_code(&e))?;
        let Reply::Sync {
            messages, has_more, ..
        } = reply
        else {
            return Err("unexpected_reply".into());
        };
        let mut last: HashMap<i64, i64> = HashMap::new();
        for m in &messages {
            accept(run, member, m, false);
            let e = last.entry(m.room_id).or_insert(m.seq);
            *e = (*e).max(m.seq);
        }
        {
            let mut held = member.held.lock().unwrap_or_else(|p| p.into_inner());
            for (room, seq) in last {
                if let Some(c) = held.cursors.get_mut(&room) {
                    c.synced_to(seq);
                }
            }
        }
        if !has_more {
            return Ok(());
        }
        if messages.is_empty() {
            return Err("sync_no_progress".into());
        }
    }
}

/// Asks the router for the member's node, connects and syncs, retrying with backoff until the scenario's
/// `reconnect_timeout_secs`. Returns the last error's code when it gives up.
async fn reconnect(run: &Arc<Run>, member: &Member) -> Result<(), String> {
    let ctx = &run.ctx;
    let deadline = tokio::time::Instant::now() + secs(ctx.scenario.reconnect_timeout_secs);
    let mut backoff = Duration::from_millis(100);
    let mut last = String::from("timeout");
    while tokio::time::Instant::now() < deadline {
        if run.stopping.load(Ordering::Relaxed) {
            return Err("stopping".into());
        }
        match reconnect_once(run, member).await {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
        let jitter = Duration::from_millis(rand::random::<u64>() % 100);
        tokio::time::sleep(backoff + jitter).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
    Err(last)
}

async fn reconnect_once(run: &Arc<Run>, member: &Member) -> Result<(), String> {
    let ctx = &run.ctx;
    let token = ctx.token(member.user, run.device)?;
    let node = sendjay_client::router::assign(&ctx.target.router, &token)
        .await
        .map_err(|_| "router_assign".to_owned())?;
    let index = ctx.watch_node(&node.url)?;
    let options = ConnectOptions {
        launch: "manual",
        offer_subprotocol: true,
        timeout: Duration::from_secs(15),
    };
    let client = tokio::time::timeout(
        Duration::from_secs(15),
        Connection::connect(&node.url, &token, options),
    )
    .await
    .unwrap_or(Err(ClientError::Timeout(Duration::from_secs(15))))
    .map_err(|e| error_code(&e))?;
    let client = Arc::new(client);
    sync_member(run, member, &client, true).await?;
    member.node.store(index, Ordering::Relaxed);
    *member.client.write().await = client;
    member.generation.send_modify(|g| *g += 1);
    Ok(())
}

/// Sends message `i` from its room's next sender; a send cut off by a lost connection waits for the
/// member's new connection and is retried with the same client id.
async fn send_one(run: Arc<Run>, i: u64, intended: tokio::time::Instant, intended_us: u64) {
    let ctx = &run.ctx;
    let (room_id, members) = &run.rooms[(i % run.rooms.len() as u64) as usize];
    let turn = i / run.rooms.len() as u64;
    let sender_user = members[(turn % members.len() as u64) as usize];
    let Some(sender) = run.members.get(&sender_user) else {
        ctx.rec.error("send:sender_not_connected");
        return;
    };
    run.ledger.expected[i as usize].store(members.len() as u32 - 1, Ordering::Relaxed);
    run.ledger.sent[i as usize].store(true, Ordering::Relaxed);
    ctx.rec.counters.sent.fetch_add(1, Ordering::Relaxed);
    let args = SendArgs {
        room_id: *room_id,
        client_msg_id: format!("lt-{}-{i}", ctx.tag),
        body: body(&ctx.tag, i, intended_us, ctx.scenario.body_bytes),
    };
    let deadline = tokio::time::Instant::now() + secs(ctx.scenario.reconnect_timeout_secs);
    loop {
        let mut generation = sender.generation.subscribe();
        let client = sender.client.read().await.clone();
        // A `database_unavailable` answer may hide a stored message: retried with the same id.
        match client
            .send_retrying(args.clone(), &SendRetry::default())
            .await
        {
            Ok(Reply::Send { .. }) => {
                ctx.rec.record(Lat::Ack, intended.elapsed());
                run.ledger.acked[i as usize].store(true, Ordering::Relaxed);
                ctx.rec.counters.acked.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(_) => {
                ctx.rec.error("send:unexpected_reply");
                return;
            }
            Err(e @ (ClientError::Closed(_) | ClientError::Timeout(_))) => {
                // Cut off: wait for the member's next connection, then resend with the same client id.
                run.tally.send_retries.fetch_add(1, Ordering::Relaxed);
                let waited = tokio::time::timeout_at(deadline, generation.changed()).await;
                if !matches!(waited, Ok(Ok(()))) {
                    run.tally.send_gave_up.fetch_add(1, Ordering::Relaxed);
                    ctx.rec
                        .error(&format!("send:gave_up_after_{}", error_code(&e)));
                    return;
                }
            }
            Err(e) => {
                ctx.rec.error(&format!("send:{}", error_code(&e)));
                return;
            }
        }
    }
}

/// At `at`, runs the kill command against the chosen node (and the restart command after it, if any).
async fn kill_at(run: Arc<Run>, at: tokio::time::Instant) -> Result<(), String> {
    tokio::time::sleep_until(at).await;
    let ctx = &run.ctx;
    let s = &ctx.scenario;
    let (url, pid, known) = {
        let nodes = ctx.nodes.lock().map_err(|e| e.to_string())?;
        let Some(node) = nodes.get(s.kill_node) else {
            return Err(format!(
                "kill_node = {} but the router assigned users to only {} node(s); pick 0..{}",
                s.kill_node,
                nodes.len(),
                nodes.len().saturating_sub(1)
            ));
        };
        (node.url.clone(), node.pid, nodes.len())
    };
    if known < 2 {
        ctx.note(
            "only one node carries users: killing it leaves no survivor to reconnect to".into(),
        );
    }
    let on_victim = run
        .members
        .values()
        .filter(|m| m.node.load(Ordering::Relaxed) == s.kill_node)
        .count();
    ctx.metric("sessions_on_killed_node", on_victim as f64);
    run.victim.store(s.kill_node, Ordering::Relaxed);
    ctx.rec.set_phase("kill");
    eprintln!(
        "sendjay-loadtest: killing {url} (PID {}) with: {}",
        pid.map_or("unknown".into(), |p| p.to_string()),
        s.kill_command
    );
    run.killed_at_us
        .store(ctx.rec.now_us().max(1), Ordering::Relaxed);
    ctx.metric("killed_at_secs", ctx.rec.start.elapsed().as_secs_f64());
    shell(&s.kill_command, &url, pid, "kill_command").await?;
    ctx.rec.set_phase("send");
    if !s.restart_command.is_empty() {
        shell(&s.restart_command, &url, pid, "restart_command").await?;
    }
    Ok(())
}

/// Runs a scenario command with `sh -c`, giving it the killed node's URL and PID.
async fn shell(command: &str, url: &str, pid: Option<u32>, setting: &str) -> Result<(), String> {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c").arg(command).env("SENDJAY_KILL_NODE_URL", url);
    if let Some(pid) = pid {
        cmd.env("SENDJAY_KILL_NODE_PID", pid.to_string());
    }
    let out = cmd
        .output()
        .await
        .map_err(|e| format!("{setting} could not start (sh -c): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{setting} `{command}` failed ({}): {}; check the command (SENDJAY_KILL_NODE_PID is set only \
             when the node's process was found on this machine)",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// Waits until every member holds an open connection (or the reconnect timeout passes); returns seconds
/// from the kill until the last member it cut off was back (0 when none came back).
async fn wait_all_back(run: &Arc<Run>) -> f64 {
    let deadline =
        tokio::time::Instant::now() + secs(run.ctx.scenario.reconnect_timeout_secs + 1.0);
    loop {
        let mut down = 0;
        for m in run.members.values() {
            if m.client.read().await.is_closed() {
                down += 1;
            }
        }
        let failed = run.tally.reconnect_failed.load(Ordering::Relaxed);
        if down as u64 <= failed || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let killed = run.killed_at_us.load(Ordering::Relaxed);
    if killed == 0 {
        return 0.0;
    }
    let last_back = run.last_back_us.load(Ordering::Relaxed);
    last_back.saturating_sub(killed) as f64 / 1e6
}

/// Every member syncs once more from its cursors; returns how many of those syncs failed.
async fn final_sync(run: &Arc<Run>) -> u64 {
    let results: Vec<Result<(), String>> = stream::iter(run.members.values().cloned())
        .map(|m| {
            let run = run.clone();
            async move {
                let client = m.client.read().await.clone();
                sync_member(&run, &m, &client, true).await
            }
        })
        .buffer_unordered(256)
        .collect()
        .await;
    let mut failed = 0;
    for r in results {
        if let Err(e) = r {
            run.ctx.rec.error(&format!("final_sync:{e}"));
            failed += 1;
        }
    }
    failed
}

/// Sets the run's result metrics.
fn report(run: &Run, send_secs: f64, all_back_secs: f64, final_sync_failed: u64) {
    let ctx = &run.ctx;
    let ledger = &run.ledger;
    let total = ledger.sent.len();
    let (mut expected, mut delivered, mut unacked_delivered) = (0u64, 0u64, 0u64);
    for i in 0..total {
        let d = ledger.delivered[i].load(Ordering::Relaxed) as u64;
        if ledger.acked[i].load(Ordering::Relaxed) {
            let e = ledger.expected[i].load(Ordering::Relaxed) as u64;
            expected += e;
            delivered += d.min(e);
        } else if ledger.sent[i].load(Ordering::Relaxed) {
            unacked_delivered += d;
        }
    }
    let t = &run.tally;
    let acked = ctx.rec.counters.acked.load(Ordering::Relaxed) as f64;
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
    ctx.metric("expected", expected as f64);
    ctx.metric("delivered", delivered as f64);
    ctx.metric("lost", (expected - delivered) as f64);
    ctx.metric("delivered_live", get(&t.delivered_live));
    ctx.metric("recovered_by_sync", get(&t.recovered_by_sync));
    ctx.metric("delivered_unacked", unacked_delivered as f64);
    ctx.metric("send_retries", get(&t.send_retries));
    ctx.metric("send_gave_up", get(&t.send_gave_up));
    ctx.metric(
        "send_errors",
        ctx.rec.counters.sent.load(Ordering::Relaxed) as f64 - acked,
    );
    ctx.metric("sessions_cut", get(&t.sessions_cut));
    ctx.metric("reconnected", get(&t.reconnected));
    ctx.metric("reconnect_failed", get(&t.reconnect_failed));
    ctx.metric("reconnect_pushes", get(&t.reconnect_pushes));
    ctx.metric("sync_needed_pushes", get(&t.sync_needed_pushes));
    ctx.metric("synced_then_pushed", get(&t.sync_then_pushed));
    ctx.metric("final_sync_failed", final_sync_failed as f64);
    ctx.metric("all_back_after_kill_secs", all_back_secs);
    ctx.metric("send_secs", send_secs);
    ctx.metric("acked_per_s", acked / send_secs.max(0.001));
    ctx.metric("target_rate", ctx.scenario.rate);
}
