//! enterprise-day: a company's working day compressed into a run — every seeded user connected, in its
//! two-member (1:1) rooms and its group rooms, while open-loop streams of operations run side by side: sends,
//! `mark_read`, `history` paging, `presence`, `typing`, `list_rooms` and reconnects.
//!
//! Why a mix: room-fanout and small-rooms measure one operation at a time, on rooms that are all equally busy.
//! Real traffic is skewed (a few rooms carry most messages, so room activity follows a Zipf law by rank) and
//! interleaved: reads, history pages and presence queries compete with sends for the same nodes and the same
//! PostgreSQL, and users come and go. This scenario shows what a send costs in that company, and whether the
//! delivery guarantee survives users who reconnect in the middle of it.
//!
//! Every stream is open loop: operation `i` of a stream is due at `i / rate` seconds after the start and its
//! latency counts from that intended time, so a slow cluster cannot slow the generator down (no coordinated
//! omission). A reconnect's latency runs from the moment the user comes back (after its time away) through
//! the router's `/v1/assign`, the new connection and the first `sync` reply on it. `typing` has no latency
//! kind of its own: only its count and errors are reported.
//!
//! Accounting is exact, as in room-fanout: every acknowledged message is expected once at every other member
//! of its room that was connected at the start. It is delivered either live (a `message` push; only these
//! give delivery latencies) or recovered by `sync` from the client's per-room cursors (docs/protocol.md §9)
//! — after a reconnect, after a `sync_needed` push, or in the final sync every client runs at the end, which
//! makes `lost` exact: what even that sync does not return was lost. A second push of a message to the same
//! user is a duplicate; a sync returning what the user already holds is not (that overlap is normal). A gap in
//! the pushes does not trigger a sync during the run (a real client's rule, docs/protocol.md §9 step 1): the
//! final sync recovers such messages, and `recovered_final_sync` counts them, so lost pushes show there.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use rand::Rng;
use sendjay_common::close_code::CloseReason;
use sendjay_common::protocol::{
    Call, HistoryArgs, MarkReadArgs, Message, Push, Reply, RoomArgs, RoomCursor, SendArgs,
    SyncArgs, UserIdsArgs, MAX_HISTORY_PAGE, MAX_LOOKUP_USERS, MAX_SYNC_PAGE,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, RwLock, RwLockReadGuard};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{body, dials_for, keep_ok, parse_body, secs, Ledger};
use crate::run::{close_all, connect_all, Confirm, Ctx};
use crate::stats::Lat;
use sendjay_client::HeldCursor;
use sendjay_client::{ClientError, ConnectOptions, Connection};

/// The traffic mix of an enterprise-day run (the `[mix]` table): rates per second over the whole run, open
/// loop.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mix {
    /// Messages sent per second, over all rooms.
    pub sends_per_s: f64,
    /// Fraction of the room operations (sends, reads, history, presence, typing) on 1:1 rooms; the rest go to
    /// group rooms.
    pub direct_share: f64,
    /// Skew of room activity: the room of rank k is picked with weight 1 / k^s (0 = all rooms alike).
    pub zipf_exponent: f64,
    /// `mark_read` calls per second, each by a member holding unread messages of a room.
    pub reads_per_s: f64,
    /// History browsing sessions per second: the newest page of a room, then older ones.
    pub history_per_s: f64,
    /// Pages one history session reads at most (paging back with `before_seq`).
    pub history_pages: u32,
    /// Messages per history page (1 … 200).
    pub history_limit: u32,
    /// `presence` queries per second, each for the other members of a room.
    pub presence_per_s: f64,
    /// Most users named in one presence query (1 … 500).
    pub presence_users: u32,
    /// `typing` notifications per second.
    pub typing_per_s: f64,
    /// `list_rooms` calls per second.
    pub list_rooms_per_s: f64,
    /// Reconnects per second: a user closes its socket, stays away, comes back through the router and syncs.
    pub reconnects_per_s: f64,
    /// How long a reconnecting user stays away, milliseconds (what it misses meanwhile comes back by `sync`).
    pub offline_ms: u64,
    /// Messages per `sync` page (1 … 1000).
    pub sync_limit: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            sends_per_s: 50.0,
            direct_share: 0.5,
            zipf_exponent: 1.0,
            reads_per_s: 25.0,
            history_per_s: 5.0,
            history_pages: 3,
            history_limit: 50,
            presence_per_s: 10.0,
            presence_users: 50,
            typing_per_s: 10.0,
            list_rooms_per_s: 2.0,
            reconnects_per_s: 1.0,
            offline_ms: 2000,
            sync_limit: 200,
        }
    }
}

impl Mix {
    /// Checks the values against what the sampler and the protocol accept.
    pub fn validate(&self) -> Result<(), String> {
        for op in Op::ALL {
            let rate = self.rate(op);
            if !(rate.is_finite() && rate >= 0.0) {
                return Err(format!(
                    "[mix] {}: expected a rate ≥ 0, got {rate}",
                    op.rate_key()
                ));
            }
        }
        let ranges = [
            ("history_pages", self.history_pages, 1, u32::MAX),
            ("history_limit", self.history_limit, 1, MAX_HISTORY_PAGE),
            (
                "presence_users",
                self.presence_users,
                1,
                MAX_LOOKUP_USERS as u32,
            ),
            ("sync_limit", self.sync_limit, 1, MAX_SYNC_PAGE),
        ];
        for (name, value, low, high) in ranges {
            if !(low..=high).contains(&value) {
                return Err(format!("[mix] {name} = {value}: expected {low} … {high}"));
            }
        }
        if !(0.0..=1.0).contains(&self.direct_share) {
            return Err(format!(
                "[mix] direct_share = {}: expected 0 … 1",
                self.direct_share
            ));
        }
        if !(self.zipf_exponent.is_finite() && self.zipf_exponent >= 0.0) {
            return Err(format!(
                "[mix] zipf_exponent = {}: expected ≥ 0",
                self.zipf_exponent
            ));
        }
        Ok(())
    }

    fn rate(&self, op: Op) -> f64 {
        match op {
            Op::Send => self.sends_per_s,
            Op::Read => self.reads_per_s,
            Op::History => self.history_per_s,
            Op::Presence => self.presence_per_s,
            Op::Typing => self.typing_per_s,
            Op::ListRooms => self.list_rooms_per_s,
            Op::Reconnect => self.reconnects_per_s,
        }
    }
}

/// Picks ranks `0..n` with weight `1 / (rank + 1)^s`: a few busy rooms and a long quiet tail.
#[derive(Debug, Clone)]
pub(crate) struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// The sampler for `n` ranks (at least one) and exponent `s`.
    pub(crate) fn new(n: usize, s: f64) -> Zipf {
        let mut total = 0.0;
        let mut cdf: Vec<f64> = (1..=n.max(1))
            .map(|k| {
                total += (k as f64).powf(-s);
                total
            })
            .collect();
        for c in &mut cdf {
            *c /= total;
        }
        Zipf { cdf }
    }

    /// The rank for a uniform draw `u` in [0, 1): binary search of the cumulative weights.
    pub(crate) fn rank(&self, u: f64) -> usize {
        self.cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1)
    }

    /// A random rank.
    pub(crate) fn sample(&self, rng: &mut impl Rng) -> usize {
        self.rank(rng.random::<f64>())
    }
}

/// The operation streams of the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Send,
    Read,
    History,
    Presence,
    Typing,
    ListRooms,
    Reconnect,
}

impl Op {
    const ALL: [Op; 7] = [
        Op::Send,
        Op::Read,
        Op::History,
        Op::Presence,
        Op::Typing,
        Op::ListRooms,
        Op::Reconnect,
    ];

    /// The error-code prefix and `done_<name>` metric.
    fn name(self) -> &'static str {
        match self {
            Op::Send => "send",
            Op::Read => "read",
            Op::History => "history",
            Op::Presence => "presence",
            Op::Typing => "typing",
            Op::ListRooms => "list_rooms",
            Op::Reconnect => "reconnect",
        }
    }

    /// Its `[mix]` key, which is also the name of the achieved-rate metric.
    fn rate_key(self) -> &'static str {
        match self {
            Op::Send => "sends_per_s",
            Op::Read => "reads_per_s",
            Op::History => "history_per_s",
            Op::Presence => "presence_per_s",
            Op::Typing => "typing_per_s",
            Op::ListRooms => "list_rooms_per_s",
            Op::Reconnect => "reconnects_per_s",
        }
    }
}

/// What a user holds of one room: its gap-free cursor and its read cursor as far as it knows.
#[derive(Debug, Default, Clone)]
struct Track {
    cursor: HeldCursor,
    read: i64,
}

/// A user's client-side state, shared by its receive task, its syncs and the operations.
#[derive(Debug, Default)]
struct Held {
    rooms: HashMap<i64, Track>,
    /// Messages of this run counted for this user (ledger indices), however they came.
    got: HashSet<u64>,
    /// Those that came as a push: a second push of one is a duplicate.
    pushed: HashSet<u64>,
}

/// One connected user.
struct Peer {
    id: String,
    token: String,
    /// The current connection; a reconnect replaces it and the receive task follows.
    client: watch::Sender<Arc<Connection>>,
    /// Operations hold it shared, a reconnect exclusively: no socket is closed under a request.
    gate: RwLock<()>,
    /// A reconnect is claimed or under way (its close is not a drop).
    moving: AtomicBool,
    /// The current connection counts as open.
    online: AtomicBool,
    held: Mutex<Held>,
    /// Its rooms (indices into `Day::rooms`).
    rooms: Vec<usize>,
}

impl Peer {
    fn current(&self) -> Arc<Connection> {
        self.client.borrow().clone()
    }

    fn held(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cursors(&self) -> Vec<RoomCursor> {
        self.held()
            .rooms
            .iter()
            .map(|(&room_id, t)| RoomCursor {
                room_id,
                seq: t.cursor.seq,
            })
            .collect()
    }
}

/// A room of the run and its members that connected (indices into `Day::peers`).
struct Room {
    id: i64,
    members: Vec<usize>,
}

/// How a message reached a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Push,
    Reconnect,
    SyncNeeded,
    FinalSync,
}

/// Counts of the run besides the recorder's.
#[derive(Default)]
struct Tally {
    done: [AtomicU64; 7],
    /// Operations that found no user free to do them (all busy reconnecting, or nothing unread).
    skipped: [AtomicU64; 7],
    op_errors: AtomicU64,
    live: AtomicU64,
    after_reconnect: AtomicU64,
    after_sync_needed: AtomicU64,
    final_sync: AtomicU64,
    history_pages: AtomicU64,
    sync_needed: AtomicU64,
    drops: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// Rooms tried before an operation gives up finding a free member (counted as skipped).
const PICK_TRIES: usize = 8;
/// Attempts of one reconnect (router, connect, sync) before it counts as failed.
const RECONNECT_ATTEMPTS: u32 = 5;
/// Request timeout of the clients a reconnect opens (as `connect_all`'s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Everything the run's tasks share.
struct Day {
    ctx: Arc<Ctx>,
    mix: Mix,
    peers: Vec<Peer>,
    rooms: Vec<Room>,
    /// Room indices of the 1:1 and the group rooms, in popularity rank order.
    direct: Vec<usize>,
    group: Vec<usize>,
    zipf_direct: Zipf,
    zipf_group: Zipf,
    ledger: Ledger,
    tally: Tally,
}

/// Expected, delivered (first deliveries of acknowledged messages, at most the expected count each), and
/// deliveries of messages whose send was never acknowledged.
struct Count {
    expected: u64,
    delivered: u64,
    unacked: u64,
}

fn unexpected(reply: Reply) -> ClientError {
    ClientError::Unexpected(format!("{reply:?}").chars().take(60).collect())
}

impl Day {
    /// A room: 1:1 with probability `direct_share`, then by Zipf rank within its kind.
    fn pick_room(&self) -> usize {
        let mut rng = rand::rng();
        let direct = !self.direct.is_empty()
            && (self.group.is_empty() || rng.random::<f64>() < self.mix.direct_share);
        if direct {
            self.direct[self.zipf_direct.sample(&mut rng)]
        } else {
            self.group[self.zipf_group.sample(&mut rng)]
        }
    }

    /// The user's gate, when it is connected and not reconnecting.
    fn free(&self, p: usize) -> Option<RwLockReadGuard<'_, ()>> {
        let peer = &self.peers[p];
        if !peer.online.load(Ordering::Relaxed) || peer.moving.load(Ordering::Relaxed) {
            return None;
        }
        peer.gate.try_read().ok()
    }

    /// A room (by [`Day::pick_room`]) and a free member of it for which `fits` holds.
    fn pick(
        &self,
        fits: impl Fn(usize, &Room) -> bool,
    ) -> Option<(&Room, usize, RwLockReadGuard<'_, ()>)> {
        for _ in 0..PICK_TRIES {
            let room = &self.rooms[self.pick_room()];
            let n = room.members.len();
            let start = rand::rng().random_range(0..n);
            for k in 0..n {
                let p = room.members[(start + k) % n];
                if !fits(p, room) {
                    continue;
                }
                if let Some(gate) = self.free(p) {
                    return Some((room, p, gate));
                }
            }
        }
        None
    }

    /// The newest seq user `p` holds unread in room `room_id`, if any.
    fn unread(&self, p: usize, room_id: i64) -> Option<i64> {
        let held = self.peers[p].held();
        let t = held.rooms.get(&room_id)?;
        (t.cursor.seq > t.read).then_some(t.cursor.seq)
    }

    fn fail(&self, context: &str, e: &ClientError) {
        self.ctx.rec.client_error(context, e);
        bump(&self.tally.op_errors);
    }

    /// Runs operation `i` of a stream, due at `at` (`at_us` after the recorder's start).
    async fn op(self: Arc<Self>, op: Op, i: u64, at: Instant, at_us: u64) {
        let result = match op {
            Op::Send => self.send(i, at, at_us).await,
            Op::Read => self.read(at).await,
            Op::History => self.history(at).await,
            Op::Presence => self.presence(at).await,
            Op::Typing => self.typing().await,
            Op::ListRooms => self.list_rooms(at).await,
            Op::Reconnect => self.reconnect_someone().await,
        };
        match result {
            Ok(true) => bump(&self.tally.done[op as usize]),
            Ok(false) => bump(&self.tally.skipped[op as usize]),
            Err(e) => self.fail(op.name(), &e),
        }
    }

    /// Message `i`: a member of a Zipf-picked room sends it; every other member is expected to get it.
    async fn send(&self, i: u64, at: Instant, at_us: u64) -> Result<bool, ClientError> {
        let index = i as usize;
        if index >= self.ledger.sent.len() {
            return Ok(false);
        }
        let Some((room, sender, _gate)) = self.pick(|_, _| true) else {
            return Ok(false);
        };
        let ctx = &self.ctx;
        let receivers = room.members.len() as u32 - 1;
        self.ledger.expected[index].store(receivers, Ordering::Relaxed);
        self.ledger.sent[index].store(true, Ordering::Relaxed);
        bump(&ctx.rec.counters.sent);
        let args = SendArgs {
            room_id: room.id,
            client_msg_id: format!("lt-{}-{i}", ctx.tag),
            body: body(&ctx.tag, i, at_us, ctx.scenario.body_bytes),
        };
        match self.peers[sender].current().call(Call::Send(args)).await? {
            Reply::Send { .. } => {
                ctx.rec.record(Lat::Ack, at.elapsed());
                self.ledger.acked[index].store(true, Ordering::Relaxed);
                bump(&ctx.rec.counters.acked);
                Ok(true)
            }
            other => Err(unexpected(other)),
        }
    }

    /// A member with unread messages in a Zipf-picked room marks them read.
    async fn read(&self, at: Instant) -> Result<bool, ClientError> {
        let Some((room, p, _gate)) = self.pick(|p, room| self.unread(p, room.id).is_some()) else {
            return Ok(false);
        };
        let Some(seq) = self.unread(p, room.id) else {
            return Ok(false);
        };
        let args = MarkReadArgs {
            room_id: room.id,
            seq: Some(seq),
        };
        match self.peers[p].current().call(Call::MarkRead(args)).await? {
            Reply::MarkRead { last_read_seq, .. } => {
                self.ctx.rec.record(Lat::Read, at.elapsed());
                if let Some(t) = self.peers[p].held().rooms.get_mut(&room.id) {
                    t.read = t.read.max(last_read_seq);
                }
                Ok(true)
            }
            other => Err(unexpected(other)),
        }
    }

    /// A member scrolls back through a room: the newest page, then older ones while there are more.
    async fn history(&self, at: Instant) -> Result<bool, ClientError> {
        let Some((room, p, _gate)) = self.pick(|_, _| true) else {
            return Ok(false);
        };
        let client = self.peers[p].current();
        let mut before_seq = None;
        let mut asked = at;
        for _ in 0..self.mix.history_pages {
            let args = HistoryArgs {
                room_id: room.id,
                before_seq,
                limit: Some(self.mix.history_limit),
            };
            let reply = client.call(Call::History(args)).await?;
            let Reply::History {
                messages, has_more, ..
            } = reply
            else {
                return Err(unexpected(reply));
            };
            self.ctx.rec.record(Lat::History, asked.elapsed());
            bump(&self.tally.history_pages);
            match messages.iter().map(|m| m.seq).min() {
                Some(oldest) if has_more => before_seq = Some(oldest),
                _ => break,
            }
            asked = Instant::now();
        }
        Ok(true)
    }

    /// A member asks who of the room's other members is online.
    async fn presence(&self, at: Instant) -> Result<bool, ClientError> {
        let Some((room, p, _gate)) = self.pick(|_, _| true) else {
            return Ok(false);
        };
        let user_ids = room
            .members
            .iter()
            .filter(|&&m| m != p)
            .take(self.mix.presence_users as usize)
            .map(|&m| self.peers[m].id.clone())
            .collect();
        match self.peers[p]
            .current()
            .call(Call::Presence(UserIdsArgs { user_ids }))
            .await?
        {
            Reply::Presence { .. } => {
                self.ctx.rec.record(Lat::Presence, at.elapsed());
                Ok(true)
            }
            other => Err(unexpected(other)),
        }
    }

    /// A member types in a room (every member's sessions get a push; nothing is stored).
    async fn typing(&self) -> Result<bool, ClientError> {
        let Some((room, p, _gate)) = self.pick(|_, _| true) else {
            return Ok(false);
        };
        let call = Call::Typing(RoomArgs { room_id: room.id });
        match self.peers[p].current().call(call).await? {
            Reply::Typing { .. } => Ok(true),
            other => Err(unexpected(other)),
        }
    }

    /// A random user reloads its room list, which must name all of its rooms.
    async fn list_rooms(&self, at: Instant) -> Result<bool, ClientError> {
        let found = (0..PICK_TRIES).find_map(|_| {
            let p = rand::rng().random_range(0..self.peers.len());
            self.free(p).map(|gate| (p, gate))
        });
        let Some((p, _gate)) = found else {
            return Ok(false);
        };
        let peer = &self.peers[p];
        match peer.current().call(Call::ListRooms).await? {
            Reply::ListRooms { rooms } => {
                self.ctx.rec.record(Lat::ListRooms, at.elapsed());
                let listed: HashSet<i64> = rooms.iter().map(|r| r.room_id).collect();
                if let Some(&r) = peer
                    .rooms
                    .iter()
                    .find(|&&r| !listed.contains(&self.rooms[r].id))
                {
                    let room_id = self.rooms[r].id;
                    return Err(ClientError::Unexpected(format!(
                        "room {room_id} not listed"
                    )));
                }
                Ok(true)
            }
            other => Err(unexpected(other)),
        }
    }

    /// A member of a Zipf-picked room (busy rooms are where a reconnect misses most) goes away and comes back.
    async fn reconnect_someone(self: &Arc<Self>) -> Result<bool, ClientError> {
        let Some((_, p, gate)) = self.pick(|_, _| true) else {
            return Ok(false);
        };
        drop(gate);
        if !self.claim(p) {
            return Ok(false);
        }
        let offline = Duration::from_millis(self.mix.offline_ms);
        self.reconnect(p, offline).await.map(|()| true)
    }

    /// Marks user `p` as moving; false when a reconnect of it is already under way.
    fn claim(&self, p: usize) -> bool {
        !self.peers[p].moving.swap(true, Ordering::Relaxed)
    }

    /// Reconnects a claimed user: waits for its requests in flight, closes its socket, stays away `offline`,
    /// then comes back through the router and syncs (failed attempts are retried with backoff and counted).
    async fn reconnect(&self, p: usize, offline: Duration) -> Result<(), ClientError> {
        let peer = &self.peers[p];
        let result = async {
            let _gate = peer.gate.write().await;
            self.go_offline(p).await;
            tokio::time::sleep(offline).await;
            self.come_back_retrying(p, Some(Instant::now()), Via::Reconnect)
                .await
        }
        .await;
        peer.moving.store(false, Ordering::Relaxed);
        result
    }

    /// [`Day::come_back`] with up to `RECONNECT_ATTEMPTS` attempts and backoff; every failed attempt but the
    /// last is counted here, the last is returned.
    async fn come_back_retrying(
        &self,
        p: usize,
        since: Option<Instant>,
        via: Via,
    ) -> Result<(), ClientError> {
        let mut attempt = 0;
        loop {
            match self.come_back(p, since, via).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt + 1 < RECONNECT_ATTEMPTS => {
                    self.fail("reconnect", &e);
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Closes user `p`'s connection (if open) and waits until the node has let it go.
    async fn go_offline(&self, p: usize) {
        let peer = &self.peers[p];
        let client = peer.current();
        if !client.is_closed() {
            client.close().await;
            let _ = client.closed(Duration::from_secs(3)).await;
        }
        if peer.online.swap(false, Ordering::Relaxed) {
            self.ctx
                .rec
                .counters
                .connections
                .fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Asks the router for user `p`'s node, connects there, and syncs from the user's cursors. Reconnect
    /// latency, when `since` is given, runs from it to the first reply on the new connection.
    async fn come_back(
        &self,
        p: usize,
        since: Option<Instant>,
        via: Via,
    ) -> Result<(), ClientError> {
        let peer = &self.peers[p];
        self.go_offline(p).await;
        let node = sendjay_client::router::assign(&self.ctx.target.router, &peer.token)
            .await
            .map_err(|e| ClientError::Connect(format!("assign: {e}")))?;
        self.ctx
            .watch_node(&node.url)
            .map_err(ClientError::Connect)?;
        let options = ConnectOptions {
            launch: "manual",
            offer_subprotocol: true,
            timeout: REQUEST_TIMEOUT,
        };
        let client = tokio::time::timeout(
            REQUEST_TIMEOUT,
            Connection::connect(&node.url, &peer.token, options),
        )
        .await
        .unwrap_or(Err(ClientError::Timeout(REQUEST_TIMEOUT)))?;
        peer.client.send_replace(Arc::new(client));
        peer.online.store(true, Ordering::Relaxed);
        let counters = &self.ctx.rec.counters;
        bump(&counters.connections);
        bump(&counters.connected);
        self.sync(p, via, since).await
    }

    /// Syncs user `p` from its cursors until nothing more is waiting; what it did not hold yet counts as
    /// recovered by `via`.
    async fn sync(&self, p: usize, via: Via, since: Option<Instant>) -> Result<(), ClientError> {
        let peer = &self.peers[p];
        let client = peer.current();
        let mut since = since;
        loop {
            let args = SyncArgs {
                cursors: peer.cursors(),
                limit: Some(self.mix.sync_limit),
                changes: Vec::new(),
            };
            let reply = client.call(Call::Sync(args)).await?;
            if let Some(t) = since.take() {
                self.ctx.rec.record(Lat::Reconnect, t.elapsed());
            }
            let Reply::Sync {
                messages, has_more, ..
            } = reply
            else {
                return Err(unexpected(reply));
            };
            for m in &messages {
                self.take(p, m, via);
            }
            if !has_more || messages.is_empty() {
                return Ok(());
            }
        }
    }

    /// A message reached user `p`: advances its cursor and counts the first delivery of a message of this run.
    fn take(&self, p: usize, m: &Message, via: Via) {
        let peer = &self.peers[p];
        let mine = m.sender_id == peer.id;
        let index = {
            let mut held = peer.held();
            if let Some(t) = held.rooms.get_mut(&m.room_id) {
                t.cursor.hold(m.seq);
                if mine {
                    // A send moves the sender's own read cursor (docs/protocol.md §6.4).
                    t.read = t.read.max(m.seq);
                }
            }
            let Some((index, intended_us)) = parse_body(&m.body, &self.ctx.tag) else {
                return;
            };
            if mine {
                return;
            }
            if via == Via::Push && !held.pushed.insert(index) {
                bump(&self.ctx.rec.counters.duplicates);
                return;
            }
            if !held.got.insert(index) {
                return;
            }
            (index, intended_us)
        };
        self.delivered(index, via);
    }

    fn delivered(&self, (index, intended_us): (u64, u64), via: Via) {
        let rec = &self.ctx.rec;
        if let Some(d) = self.ledger.delivered.get(index as usize) {
            d.fetch_add(1, Ordering::Relaxed);
        }
        bump(&rec.counters.delivered);
        let t = &self.tally;
        match via {
            Via::Push => {
                bump(&t.live);
                let now = rec.now_us();
                rec.record(
                    Lat::Delivery,
                    Duration::from_micros(now.saturating_sub(intended_us)),
                );
            }
            Via::Reconnect => bump(&t.after_reconnect),
            Via::SyncNeeded => bump(&t.after_sync_needed),
            Via::FinalSync => bump(&t.final_sync),
        }
    }

    /// Drains user `p`'s pushes, following its connection across reconnects.
    async fn receive(self: Arc<Self>, p: usize) {
        let mut current = self.peers[p].client.subscribe();
        loop {
            let client = current.borrow_and_update().clone();
            {
                let mut rx = client.pushes.lock().await;
                while let Some(push) = rx.recv().await {
                    self.on_push(p, push);
                }
            }
            let replaced = current.has_changed().unwrap_or(false);
            if !replaced && !self.peers[p].moving.load(Ordering::Relaxed) {
                self.dropped(p, &client);
            }
            if current.changed().await.is_err() {
                return;
            }
        }
    }

    fn on_push(self: &Arc<Self>, p: usize, push: Push) {
        match push {
            Push::Message { message } => self.take(p, &message, Via::Push),
            Push::SyncNeeded { .. } => {
                bump(&self.tally.sync_needed);
                let day = self.clone();
                tokio::spawn(async move {
                    // A reconnect under way syncs anyway.
                    let Some(_gate) = day.free(p) else { return };
                    if let Err(e) = day.sync(p, Via::SyncNeeded, None).await {
                        day.fail("sync", &e);
                    }
                });
            }
            // A draining node: stay until `after_ms`, then move (docs/protocol.md §12).
            Push::Reconnect { after_ms, .. } if self.claim(p) => {
                self.spawn_reconnect(p, Duration::from_millis(after_ms));
            }
            Push::Evicted { .. } => self.ctx.rec.error("evicted"),
            _ => {}
        }
    }

    /// The node closed user `p`'s connection on its own: an error, and the user comes back when allowed.
    fn dropped(self: &Arc<Self>, p: usize, client: &Connection) {
        let code = client.close_info().map_or(1006, |c| c.code);
        self.ctx.rec.error(&format!("dropped:{code}"));
        bump(&self.tally.drops);
        bump(&self.tally.op_errors);
        let may = CloseReason::from_code(code).is_none_or(|r| r.may_reconnect());
        if may && self.claim(p) {
            self.spawn_reconnect(p, Duration::ZERO);
        }
    }

    /// Reconnects claimed user `p` at once (no time away) after `wait`.
    fn spawn_reconnect(self: &Arc<Self>, p: usize, wait: Duration) {
        let day = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            if let Err(e) = day.reconnect(p, Duration::ZERO).await {
                day.fail("reconnect", &e);
            }
        });
    }

    /// The ledger so far (every slot: a skipped send leaves a hole, so the count of sends is no bound).
    fn count(&self) -> Count {
        let l = &self.ledger;
        let mut c = Count {
            expected: 0,
            delivered: 0,
            unacked: 0,
        };
        for i in 0..l.sent.len() {
            let d = u64::from(l.delivered[i].load(Ordering::Relaxed));
            if l.acked[i].load(Ordering::Relaxed) {
                let e = u64::from(l.expected[i].load(Ordering::Relaxed));
                c.expected += e;
                c.delivered += d.min(e);
            } else if l.sent[i].load(Ordering::Relaxed) {
                c.unacked += d;
            }
        }
        c
    }
}

/// Runs enterprise-day.
pub(crate) async fn run(ctx: Arc<Ctx>) -> Result<(), String> {
    ctx.scenario.mix.validate()?;
    let day = setup(&ctx).await?;
    let receivers: Vec<_> = (0..day.peers.len())
        .map(|p| tokio::spawn(day.clone().receive(p)))
        .collect();
    ctx.rec.set_phase("settle");
    tokio::time::sleep(secs(ctx.scenario.settle_secs)).await;
    ctx.rec.set_phase("day");
    run_day(&day).await;
    ctx.rec.set_phase("drain");
    drain(&day).await;
    ctx.rec.set_phase("final-sync");
    final_sync(&day).await;
    report(&day);
    for r in receivers {
        r.abort();
    }
    let open: Vec<Arc<Connection>> = day
        .peers
        .iter()
        .filter(|p| p.online.load(Ordering::Relaxed))
        .map(Peer::current)
        .collect();
    close_all(&ctx, open).await;
    Ok(())
}

/// The seed's pairs and groups as (room id, is 1:1, member numbers).
fn seed_rooms(ctx: &Ctx) -> Vec<(i64, bool, Vec<u32>)> {
    let pairs = ctx
        .seed
        .pairs_of(u32::MAX)
        .into_iter()
        .map(|(id, m)| (id, true, m));
    let group_size = ctx.scenario.seed.group_size;
    let groups = ctx
        .seed
        .groups_of(group_size, u32::MAX)
        .into_iter()
        .map(|(id, m)| (id, false, m));
    pairs.chain(groups).collect()
}

/// Connects every member of the seed's rooms, learns each one's cursors with a first `sync` (what a client
/// does after connecting), and builds the shared state.
async fn setup(ctx: &Arc<Ctx>) -> Result<Arc<Day>, String> {
    let s = &ctx.scenario;
    let seeded = seed_rooms(ctx);
    let mut users: Vec<u32> = seeded
        .iter()
        .flat_map(|(_, _, m)| m.iter().copied())
        .collect();
    users.sort_unstable();
    users.dedup();
    if users.is_empty() {
        return Err("the seed has no rooms: set [seed] pairs and/or groups with group_size".into());
    }
    let dials = dials_for(ctx, &users).await?;
    let tokens: Vec<String> = dials.iter().map(|d| d.token.clone()).collect();
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
    let mut rooms_of_user: HashMap<u32, Vec<i64>> = HashMap::new();
    for (id, _, members) in &seeded {
        for &u in members {
            rooms_of_user.entry(u).or_default().push(*id);
        }
    }
    ctx.rec.set_phase("init");
    let connected: Vec<(u32, String, Arc<Connection>)> = users
        .iter()
        .zip(tokens)
        .zip(keep_ok(ctx, results, "connect"))
        .filter_map(|((&u, token), c)| Some((u, token, c?)))
        .collect();
    let first_syncs: Vec<Option<HashMap<i64, Track>>> = stream::iter(connected.iter())
        .map(|(u, _, c)| first_sync(ctx, c, &rooms_of_user[u]))
        .buffered(s.connect_concurrency.max(1) as usize)
        .collect()
        .await;
    let mut peers = Vec::new();
    let mut peer_of: HashMap<u32, usize> = HashMap::new();
    for ((u, token, client), tracks) in connected.into_iter().zip(first_syncs) {
        let Some(tracks) = tracks else { continue };
        peer_of.insert(u, peers.len());
        peers.push(Peer {
            id: ctx.seed.user_id(u),
            token,
            client: watch::Sender::new(client),
            gate: RwLock::new(()),
            moving: AtomicBool::new(false),
            online: AtomicBool::new(true),
            held: Mutex::new(Held {
                rooms: tracks,
                ..Held::default()
            }),
            rooms: Vec::new(),
        });
    }
    build_day(ctx, seeded, peers, &peer_of)
}

/// A new session's first `sync` (no cursors: only the room summaries); gives the starting cursors of the
/// user's rooms, or None (an error is counted) when it fails or a room is missing.
async fn first_sync(
    ctx: &Ctx,
    client: &Connection,
    room_ids: &[i64],
) -> Option<HashMap<i64, Track>> {
    let summaries = match client.call(Call::Sync(SyncArgs::default())).await {
        Ok(Reply::Sync { rooms, .. }) => rooms,
        Ok(other) => {
            ctx.rec.client_error("init", &unexpected(other));
            return None;
        }
        Err(e) => {
            ctx.rec.client_error("init", &e);
            return None;
        }
    };
    let mut tracks = HashMap::new();
    for &room_id in room_ids {
        let Some(r) = summaries.iter().find(|r| r.room_id == room_id) else {
            ctx.rec.error("init:room_missing");
            return None;
        };
        tracks.insert(
            room_id,
            Track {
                cursor: HeldCursor::at(r.last_seq),
                read: r.last_read_seq,
            },
        );
    }
    Some(tracks)
}

/// Rooms with at least two connected members, ranked in seed order within their kind.
fn build_day(
    ctx: &Arc<Ctx>,
    seeded: Vec<(i64, bool, Vec<u32>)>,
    mut peers: Vec<Peer>,
    peer_of: &HashMap<u32, usize>,
) -> Result<Arc<Day>, String> {
    let mut rooms = Vec::new();
    let (mut direct, mut group) = (Vec::new(), Vec::new());
    for (id, is_direct, members) in seeded {
        let members: Vec<usize> = members
            .iter()
            .filter_map(|u| peer_of.get(u).copied())
            .collect();
        if members.len() < 2 {
            continue;
        }
        for &p in &members {
            peers[p].rooms.push(rooms.len());
        }
        if is_direct { &mut direct } else { &mut group }.push(rooms.len());
        rooms.push(Room { id, members });
    }
    if rooms.is_empty() {
        return Err("no room has two connected members".into());
    }
    ctx.metric("connections", peers.len() as f64);
    ctx.metric("rooms_direct", direct.len() as f64);
    ctx.metric("rooms_group", group.len() as f64);
    let mix = ctx.scenario.mix.clone();
    let max_messages = (mix.sends_per_s * ctx.scenario.duration_secs).ceil() as usize;
    Ok(Arc::new(Day {
        ctx: ctx.clone(),
        zipf_direct: Zipf::new(direct.len(), mix.zipf_exponent),
        zipf_group: Zipf::new(group.len(), mix.zipf_exponent),
        mix,
        peers,
        rooms,
        direct,
        group,
        ledger: Ledger::new(max_messages),
        tally: Tally::default(),
    }))
}

/// Every stream of the mix at its rate for `duration_secs`, side by side; returns when the last operation
/// has finished.
async fn run_day(day: &Arc<Day>) {
    let t0 = Instant::now();
    let base_us = day.ctx.rec.now_us();
    let duration = secs(day.ctx.scenario.duration_secs);
    let streams = Op::ALL.map(|op| open_loop(day.clone(), op, t0, base_us, duration));
    futures_util::future::join_all(streams).await;
}

/// One stream: operation `i` due at `t0 + i / rate`, started then whatever the others are doing.
async fn open_loop(day: Arc<Day>, op: Op, t0: Instant, base_us: u64, duration: Duration) {
    let rate = day.mix.rate(op);
    if rate <= 0.0 {
        return;
    }
    let n = (rate * duration.as_secs_f64()).ceil() as u64;
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let offset = Duration::from_secs_f64(i as f64 / rate);
        let at = t0 + offset;
        tokio::time::sleep_until(at).await;
        let at_us = base_us + offset.as_micros() as u64;
        tasks.spawn(day.clone().op(op, i, at, at_us));
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

/// Waits until every acknowledged message reached every recipient, or `drain_secs` pass.
async fn drain(day: &Day) {
    let end = Instant::now() + secs(day.ctx.scenario.drain_secs);
    loop {
        let c = day.count();
        if c.delivered >= c.expected || Instant::now() >= end {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every user syncs from its cursors once more (reconnecting first if its connection is gone): whatever an
/// acknowledged message's recipient still lacks after this is lost.
async fn final_sync(day: &Arc<Day>) {
    let settle_end = Instant::now() + Duration::from_secs(30);
    while day.peers.iter().any(|p| p.moving.load(Ordering::Relaxed)) && Instant::now() < settle_end
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let concurrency = day.ctx.scenario.connect_concurrency.max(1) as usize;
    stream::iter(0..day.peers.len())
        .for_each_concurrent(concurrency, |p| async move {
            let peer = &day.peers[p];
            let _gate = peer.gate.write().await;
            let result = if peer.current().is_closed() {
                day.come_back_retrying(p, None, Via::FinalSync).await
            } else {
                day.sync(p, Via::FinalSync, None).await
            };
            if let Err(e) = result {
                day.fail("final_sync", &e);
            }
        })
        .await;
}

/// The result metrics.
fn report(day: &Day) {
    let ctx = &day.ctx;
    let t = &day.tally;
    let c = day.count();
    let acked = get(&ctx.rec.counters.acked);
    let recovered = get(&t.after_reconnect) + get(&t.after_sync_needed) + get(&t.final_sync);
    for (name, value) in [
        ("expected", c.expected),
        ("delivered", c.delivered),
        ("lost", c.expected - c.delivered),
        ("delivered_unacked", c.unacked),
        ("delivered_live", get(&t.live)),
        ("recovered_by_sync", recovered),
        ("recovered_after_reconnect", get(&t.after_reconnect)),
        ("recovered_after_sync_needed", get(&t.after_sync_needed)),
        ("recovered_final_sync", get(&t.final_sync)),
        ("send_errors", get(&ctx.rec.counters.sent) - acked),
        ("op_errors", get(&t.op_errors)),
        ("ops_skipped", t.skipped.iter().map(get).sum()),
        ("history_pages", get(&t.history_pages)),
        ("sync_needed_pushes", get(&t.sync_needed)),
        ("dropped", get(&t.drops)),
    ] {
        ctx.metric(name, value as f64);
    }
    let secs = ctx.scenario.duration_secs.max(0.001);
    for op in Op::ALL {
        let done = get(&t.done[op as usize]);
        ctx.metric(&format!("done_{}", op.name()), done as f64);
        let skipped = get(&t.skipped[op as usize]);
        ctx.metric(&format!("skipped_{}", op.name()), skipped as f64);
        ctx.metric(op.rate_key(), done as f64 / secs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    #[test]
    fn zipf_follows_its_weights() {
        let z = Zipf::new(4, 1.0);
        // Weights 1, 1/2, 1/3, 1/4 of a total of 25/12.
        let expect = [12.0 / 25.0, 6.0 / 25.0, 4.0 / 25.0, 3.0 / 25.0];
        let mut counts = [0u32; 4];
        let n = 100_000;
        for i in 0..n {
            counts[z.rank((i as f64 + 0.5) / n as f64)] += 1;
        }
        for (c, e) in counts.iter().zip(expect) {
            assert!((*c as f64 / n as f64 - e).abs() < 1e-3, "{counts:?}");
        }
        assert_eq!(z.rank(0.0), 0);
        assert_eq!(z.rank(0.999_999_9), 3);
        assert_eq!(z.rank(1.0), 3);
    }

    #[test]
    fn zipf_edge_cases() {
        assert_eq!(Zipf::new(1, 1.0).rank(0.7), 0);
        assert_eq!(Zipf::new(0, 1.0).rank(0.7), 0);
        // Exponent 0: every rank alike.
        let uniform = Zipf::new(10, 0.0);
        assert_eq!(uniform.rank(0.05), 0);
        assert_eq!(uniform.rank(0.55), 5);
        assert_eq!(uniform.rank(0.95), 9);
        // Random draws stay in range and favour the first rank.
        let z = Zipf::new(100, 1.2);
        let mut rng = rand::rng();
        let draws: Vec<usize> = (0..10_000).map(|_| z.sample(&mut rng)).collect();
        assert!(draws.iter().all(|&r| r < 100));
        let first = draws.iter().filter(|&&r| r == 0).count();
        let last = draws.iter().filter(|&&r| r == 99).count();
        assert!(first > 10 * last.max(1), "first {first}, last {last}");
    }

    #[test]
    fn shipped_scenario_files_are_valid() {
        for text in [
            include_str!("../../scenarios/enterprise-day.toml"),
            include_str!("../../scenarios/smoke/enterprise-day.toml"),
        ] {
            let s = Scenario::parse(text, &[]).unwrap();
            assert_eq!(s.kind, crate::scenario::Kind::EnterpriseDay);
            s.mix.validate().unwrap();
            assert!(s.seed.pairs > 0 && s.seed.groups > 0);
            assert!(s.thresholds.iter().any(|t| t == "lost == 0"));
        }
    }

    #[test]
    fn mix_parses_with_defaults_and_refuses_unknown_keys() {
        let base = "name = \"e\"\nkind = \"enterprise-day\"\n";
        let s = Scenario::parse(base, &[]).unwrap();
        assert_eq!(s.mix.sends_per_s, Mix::default().sends_per_s);
        s.mix.validate().unwrap();
        let text = format!("{base}[mix]\nsends_per_s = 7\nzipf_exponent = 0.5\n");
        let s = Scenario::parse(&text, &["mix.reconnects_per_s=3".into()]).unwrap();
        assert_eq!(
            (
                s.mix.sends_per_s,
                s.mix.zipf_exponent,
                s.mix.reconnects_per_s
            ),
            (7.0, 0.5, 3.0)
        );
        assert_eq!(s.mix.history_pages, Mix::default().history_pages);
        assert!(Scenario::parse(&format!("{base}[mix]\nsend_rate = 1\n"), &[]).is_err());
        for bad in [
            "direct_share = 1.5",
            "history_limit = 0",
            "sync_limit = 5000",
            "reads_per_s = -1",
        ] {
            let s = Scenario::parse(&format!("{base}[mix]\n{bad}\n"), &[]).unwrap();
            assert!(s.mix.validate().is_err(), "{bad}");
        }
    }
}
