//! The terminal chat client: `sendjay-chat --router URL --user alice`.
//!
//! It logs in through the router (`POST /v1/login`), connects to the node the router assigned, and then:
//!
//! * lists the user's rooms, numbered, with unread counts; `/room N` opens one (and marks it read),
//!   `/rooms` lists again, `/history [N]` shows the last N messages of the open room, `/quit` leaves;
//! * sends every other line as a text message to the open room (a fresh `client_msg_id` per line, kept in an
//!   outbox and resent with the same id after a reconnect until the node acknowledges it);
//! * prints pushes as they arrive (`[room 3 #12] bob: hi`), deduplicated by (room, seq), and runs `sync`
//!   on `sync_needed`, on a gap in a room's seqs and after every (re)connect (docs/protocol.md §9);
//! * follows `reconnect` pushes and lost connections back through the router (`GET /v1/assign`), and stops on
//!   the close codes that forbid reconnecting by itself (evicted, auth failures, …).
//!
//! It also runs without a terminal: commands can be piped into stdin
//! (`printf '/room 1\nhello\n/quit\n' | sendjay-chat --user alice`), or given as flags without reading
//! stdin at all (`--room General --send hello --wait-secs 5`, `--expect TEXT`), which is what the README demo and
//! the smoke test in `scripts/test.sh` use.

use std::collections::{BTreeMap, VecDeque};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use sendjay_common::protocol::{
    Call, HistoryArgs, MarkReadArgs, Message, MessageKind, Push, Reply, RoomSummary, SyncArgs,
};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::time::Instant;

use sendjay_client::reconnect::after_close;
use sendjay_client::router::{self, NodeRef, RouterApiError};
use sendjay_client::{
    Backoff, ClientError, CloseAction, ConnectOptions, Connection, RoomCursors, SendRetry,
    UnsentQueue,
};

/// Retries of a send answered `database_unavailable` before the message is left in the outbox (short: a
/// person is waiting; the outbox resends it after `/sync` or a reconnect).
const CHAT_SEND_RETRY: SendRetry = SendRetry {
    attempts: 4,
    first_wait: Duration::from_millis(500),
    max_wait: Duration::from_secs(2),
};

/// Options of `sendjay-chat`.
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The router's base URL.
    #[arg(long, default_value = "http://127.0.0.1:7300")]
    pub router: String,
    /// The user to log in as (demo users: alice, bob, carol, dave).
    #[arg(long)]
    pub user: String,
    /// The user's password (the demo users' is `sendjay`).
    #[arg(long, default_value = "sendjay")]
    pub password: String,
    /// The device class of this session; a newer login of the same user and class evicts the older one.
    #[arg(long, default_value = "web", value_parser = ["web", "mobile"])]
    pub device: String,
    /// Open this room at start: a room id (as in `[room 3 #12]`) or a room name such as `General`.
    #[arg(long)]
    pub room: Option<String>,
    /// Send this text to the room given with --room, then exit (or wait, see --wait-secs). Repeatable.
    /// With --send, --wait-secs or --expect, stdin is not read.
    #[arg(long, requires = "room")]
    pub send: Vec<String>,
    /// After the commands given as flags, keep printing incoming messages for this many seconds (stdin is not
    /// read, so the client can run in the background).
    #[arg(long)]
    pub wait_secs: Option<u64>,
    /// Exit 0 as soon as a message from another user containing this text arrives; exit 1 if none does
    /// within --wait-secs (default 30).
    #[arg(long)]
    pub expect: Option<String>,
}

/// How many messages `/history` shows by default, and how many are shown when a room is opened.
const HISTORY_DEFAULT: u32 = 20;
const OPEN_ROOM_HISTORY: u32 = 10;
/// `sync` page size (docs/protocol.md §4 advises ≤ 200).
const SYNC_PAGE: u32 = 200;
/// Reconnection attempts before giving up.
const RECONNECT_ATTEMPTS: u32 = 10;
/// How long --expect waits when --wait-secs is not given.
const EXPECT_DEFAULT_WAIT_SECS: u64 = 30;

const HELP: &str = "\
commands:
  /rooms          list your rooms (numbered, with unread counts)
  /room N         open room number N of the list (or /room #ID, /room NAME, /room USER for a direct
                  room whose other member has written); marks it read
  /history [N]    show the last N messages of the open room (default 20)
  /sync           fetch whatever was missed
  /help           this text
  /quit           leave (Ctrl-D or Ctrl-C too)
  anything else   is sent as a message to the open room (start it with // to send a leading /)";

/// Runs the chat client.
pub async fn run(args: ChatArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let interactive = args.send.is_empty() && args.wait_secs.is_none() && args.expect.is_none();
    let mut input = Input {
        lines: if interactive {
            Some(open_stdin().await?)
        } else {
            None
        },
        open: interactive,
        queue: VecDeque::new(),
    };
    let result = Chat::new(&args).run(&args, &mut input).await;
    if interactive {
        // tokio reads stdin on a blocking thread that cannot be cancelled: if it is still waiting for a line,
        // shutting the runtime down would hang until the user pressed Enter. Leave at once instead.
        use std::io::Write;
        let _ = std::io::stdout().flush();
        match result {
            Ok(code) => std::process::exit(code.into()),
            Err(e) => {
                eprintln!("sendjay-chat: {e}");
                let _ = std::io::stderr().flush();
                std::process::exit(1);
            }
        }
    }
    Ok(ExitCode::from(result?))
}

/// Exit codes: 0 done, 1 failure (e.g. --expect not met, gave up reconnecting), 3 the server ended the
/// session for good (evicted, user unavailable, already running).
const EXIT_OK: u8 = 0;
const EXIT_FAILED: u8 = 1;
const EXIT_ENDED: u8 = 3;

/// Why the connection loop stopped.
enum Outcome {
    /// Leave with this exit code.
    Exit(u8),
    /// The connection is gone (closed by the server, or a request could not be sent).
    Lost,
    /// The node asked us to move (draining): reconnect through the router after this delay.
    Move(Duration),
}

/// What a line of input did.
enum Step {
    Continue,
    Quit,
    Lost,
}

/// Where commands come from: the flags (queued first), then stdin.
struct Input {
    lines: Option<Lines<BufReader<Stdin>>>,
    /// False once stdin has ended (or when it is not read at all).
    open: bool,
    /// Lines to run before reading more.
    queue: VecDeque<String>,
}

impl Input {
    /// Waits up to `delay` while still taking input (queued for later); false when the user asked to quit.
    async fn pause(&mut self, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return true,
                line = next_line(&mut self.lines), if self.open => match line {
                    Some(line) if is_quit(&line) => return false,
                    Some(line) => self.queue.push_back(line),
                    None => self.open = false,
                },
                _ = tokio::signal::ctrl_c() => return false,
            }
        }
    }
}

fn is_quit(line: &str) -> bool {
    matches!(line.trim(), "/quit" | "/exit" | "/q")
}

/// The token and where it was assigned.
struct Session {
    token: Option<String>,
    node: NodeRef,
}

struct Chat {
    me: String,
    /// Room summaries, most recently active first (as the node orders them).
    rooms: Vec<RoomSummary>,
    /// Room ids in the order of the last printed list, for `/room N`.
    listed: Vec<i64>,
    /// Per room: the gap-free cursor and what is held above it (docs/protocol.md §9).
    cursors: RoomCursors,
    /// The open room.
    current: Option<i64>,
    /// The other member of each direct room, as far as seen in its messages (the protocol has no member list).
    peers: BTreeMap<i64, String>,
    /// Sends without a reply, resent with the same client_msg_id after a reconnect.
    outbox: UnsentQueue,
    expect: Option<String>,
    expect_met: bool,
    /// Whether the room list (and help) was printed after the first successful connect.
    greeted: bool,
    /// Without a terminal (commands from flags), a command that fails ends the run with exit code 1.
    fail_fast: bool,
    failed: bool,
}

impl Chat {
    fn new(args: &ChatArgs) -> Chat {
        Chat {
            me: args.user.clone(),
            rooms: Vec::new(),
            listed: Vec::new(),
            cursors: RoomCursors::new(),
            current: None,
            peers: BTreeMap::new(),
            outbox: UnsentQueue::new(),
            expect: args.expect.clone(),
            expect_met: false,
            greeted: false,
            fail_fast: !args.send.is_empty() || args.wait_secs.is_some() || args.expect.is_some(),
            failed: false,
        }
    }

    async fn run(
        &mut self,
        args: &ChatArgs,
        input: &mut Input,
    ) -> Result<u8, Box<dyn std::error::Error>> {
        let login = login(args).await?;
        println!(
            "logged in as {} ({}); the router assigned node {} ({})",
            login.user_id, login.device, login.node.id, login.node.url
        );
        let mut session = Session {
            token: Some(login.token),
            node: login.node,
        };
        let interactive = input.open;

        // Commands to run before reading stdin: the flags, as if typed.
        let queue = &mut input.queue;
        if let Some(room) = &args.room {
            let room = room.trim();
            let selector = if room.parse::<i64>().is_ok() {
                format!("#{room}")
            } else {
                room.to_owned()
            };
            queue.push_back(format!("/room {selector}"));
        }
        for text in &args.send {
            queue.push_back(if text.starts_with('/') {
                format!("/{text}")
            } else {
                text.clone()
            });
        }
        let wait = args
            .wait_secs
            .or_else(|| args.expect.as_ref().map(|_| EXPECT_DEFAULT_WAIT_SECS));
        let mut deadline: Option<Instant> = None;

        let mut client = connect_first(&session).await?;
        loop {
            let outcome = self
                .serve(&client, input, &mut deadline, wait, interactive)
                .await;
            match outcome {
                Outcome::Exit(code) => {
                    client.close().await;
                    return Ok(code);
                }
                Outcome::Move(after) => {
                    println!(
                        "-- the node asks clients to move; reconnecting through the router in {} ms",
                        after.as_millis()
                    );
                    let go_on = input.pause(after).await;
                    client.close().await;
                    if !go_on {
                        return Ok(EXIT_OK);
                    }
                }
                Outcome::Lost => {
                    let closed = client.closed(Duration::from_secs(2)).await.flatten();
                    let reason = closed
                        .as_ref()
                        .map(|c| format!("{} {}", c.code, c.reason))
                        .unwrap_or_else(|| "no close frame".into());
                    match after_close(closed.as_ref()) {
                        CloseAction::End(end) => {
                            println!("-- {} ({reason}); not reconnecting.", end.explain());
                            return Ok(EXIT_ENDED);
                        }
                        CloseAction::LogInAgain => {
                            println!("-- the token was refused ({reason}); logging in again");
                            session.token = None;
                        }
                        CloseAction::Reconnect => match closed {
                            Some(_) => println!("-- connection closed ({reason}); reconnecting"),
                            None => println!("-- connection lost; reconnecting"),
                        },
                    }
                }
            }
            client = match reconnect(args, &mut session, input).await {
                Ok(Some(client)) => client,
                Ok(None) => return Ok(EXIT_OK),
                Err(e) => {
                    println!("-- {e}");
                    return Ok(EXIT_FAILED);
                }
            };
        }
    }

    /// Serves one connection until it ends or the user leaves.
    async fn serve(
        &mut self,
        client: &Connection,
        input: &mut Input,
        deadline: &mut Option<Instant>,
        wait: Option<u64>,
        interactive: bool,
    ) -> Outcome {
        // The first request also confirms that the node accepted the session (docs/protocol.md §3.3).
        // After a reconnect it prints what was missed meanwhile.
        if let Err(e) = self.sync(client, self.greeted).await {
            return self.request_failed(e);
        }
        if !self.greeted {
            self.greeted = true;
            if let Err(e) = self.find_peers(client).await {
                return self.request_failed(e);
            }
            self.print_rooms();
            if interactive {
                println!("{HELP}");
            }
        }
        if let Err(e) = self.flush_outbox(client).await {
            return self.request_failed(e);
        }
        let mut pushes = client.pushes.lock().await;
        loop {
            // Pushes that are already here first, so output keeps the order things happened in.
            while let Ok(push) = pushes.try_recv() {
                if let Some(outcome) = self.on_push(client, push).await {
                    return outcome;
                }
            }
            if self.expect_met {
                return Outcome::Exit(EXIT_OK);
            }
            if self.failed && self.fail_fast {
                return Outcome::Exit(EXIT_FAILED);
            }
            if let Some(line) = input.queue.pop_front() {
                match self.on_line(client, &line).await {
                    Step::Continue => continue,
                    Step::Quit => return Outcome::Exit(EXIT_OK),
                    Step::Lost => return Outcome::Lost,
                }
            }
            if !input.open && deadline.is_none() {
                match wait {
                    Some(secs) => {
                        *deadline = Some(Instant::now() + Duration::from_secs(secs));
                        match &self.expect {
                            Some(text) => println!(
                                "-- waiting up to {secs} s for a message containing {text:?}"
                            ),
                            None => println!("-- waiting {secs} s for messages"),
                        }
                    }
                    None => return Outcome::Exit(EXIT_OK),
                }
            }
            tokio::select! {
                push = pushes.recv() => match push {
                    Some(push) => {
                        if let Some(outcome) = self.on_push(client, push).await {
                            return outcome;
                        }
                    }
                    None => return Outcome::Lost,
                },
                line = next_line(&mut input.lines), if input.open => match line {
                    Some(line) => input.queue.push_back(line),
                    None => input.open = false,
                },
                _ = sleep_until(*deadline), if deadline.is_some() => {
                    return match &self.expect {
                        Some(text) => {
                            println!("-- no message containing {text:?} arrived in time");
                            Outcome::Exit(EXIT_FAILED)
                        }
                        None => Outcome::Exit(EXIT_OK),
                    };
                }
                _ = tokio::signal::ctrl_c() => return Outcome::Exit(EXIT_OK),
            }
        }
    }

    /// Turns a failed request into what the connection loop should do.
    fn request_failed(&mut self, e: ClientError) -> Outcome {
        match e {
            ClientError::Closed(_) => Outcome::Lost,
            ClientError::Timeout(t) => {
                println!("-- the node did not answer within {t:?}; reconnecting");
                Outcome::Lost
            }
            other => {
                println!("-- {other}");
                Outcome::Lost
            }
        }
    }

    async fn on_line(&mut self, client: &Connection, line: &str) -> Step {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.trim().is_empty() {
            return Step::Continue;
        }
        let result = if let Some(text) = line.strip_prefix("//") {
            self.send(client, &format!("/{text}")).await
        } else if let Some(command) = line.strip_prefix('/') {
            let mut parts = command.trim().splitn(2, char::is_whitespace);
            let name = parts.next().unwrap_or("");
            let rest = parts.next().unwrap_or("").trim();
            match name {
                "quit" | "exit" | "q" => return Step::Quit,
                "help" | "h" | "?" => {
                    println!("{HELP}");
                    Ok(())
                }
                "rooms" => self.list_rooms(client).await,
                "room" | "open" => self.open_room(client, rest).await,
                "history" => self.history(client, rest).await,
                "sync" => match self.sync(client, true).await {
                    Ok(()) => self.flush_outbox(client).await,
                    Err(e) => Err(e),
                },
                other => {
                    println!("-- unknown command /{other}\n{HELP}");
                    Ok(())
                }
            }
        } else {
            self.send(client, line).await
        };
        match result {
            Ok(()) => Step::Continue,
            Err(ClientError::Closed(_)) => Step::Lost,
            Err(ClientError::Timeout(t)) => {
                println!("-- the node did not answer within {t:?}; reconnecting");
                Step::Lost
            }
            Err(ClientError::Server { code, message }) => {
                println!("-- the node refused: {} ({message})", code.as_str());
                self.failed = true;
                Step::Continue
            }
            Err(e) => {
                println!("-- {e}");
                self.failed = true;
                Step::Continue
            }
        }
    }

    /// Handles a push; returns an outcome when the connection should end.
    async fn on_push(&mut self, client: &Connection, push: Push) -> Option<Outcome> {
        match push {
            Push::Message { message } => {
                let room = message.room_id;
                let new = self.store(&message);
                if new {
                    self.print_message(&message);
                    self.note_summary(&message);
                }
                if self.has_gap(room) {
                    if let Err(e) = self.sync(client, true).await {
                        return Some(self.request_failed(e));
                    }
                }
                if new && self.current == Some(room) && message.sender_id != self.me {
                    if let Err(e) = self.mark_read(client, room, false).await {
                        return Some(self.request_failed(e));
                    }
                }
            }
            Push::Read { .. } => {}
            Push::Evicted { reason } => {
                println!("-- evicted: {reason}");
            }
            Push::Reconnect { after_ms, reason } => {
                println!("-- {reason}");
                return Some(Outcome::Move(Duration::from_millis(after_ms)));
            }
            Push::SyncNeeded { reason } => {
                println!("-- the node may have missed messages ({reason}); syncing");
                if let Err(e) = self.sync(client, true).await {
                    return Some(self.request_failed(e));
                }
            }
            // Revoked, hidden, typing, room prefs, settings: not shown by this client.
            _ => {}
        }
        None
    }

    /// Records a message; true when it was not held before.
    fn store(&mut self, m: &Message) -> bool {
        self.cursors.hold(m.room_id, m.seq)
    }

    /// Whether messages above the room's cursor are held, i.e. some below them are missing.
    fn has_gap(&self, room: i64) -> bool {
        self.cursors.gap_in(room)
    }

    /// Runs `sync` until it has no more pages; prints what was missed when `print` is set.
    async fn sync(&mut self, client: &Connection, print: bool) -> Result<(), ClientError> {
        loop {
            let cursors = self.cursors.to_sync();
            let reply = client
                .call(Call::Sync(SyncArgs {
                    cursors,
                    limit: Some(SYNC_PAGE),
                    changes: Vec::new(),
                }))
                .await?;
            let Reply::Sync {
                messages,
                rooms,
                has_more,
                ..
            } = reply
            else {
                return Err(ClientError::Unexpected(format!("{reply:?}")));
            };
            let before = self.cursors.clone();
            for m in &messages {
                if self.store(m) && print {
                    self.print_message(m);
                }
            }
            // Rooms new to this client start at their newest message; rooms no longer listed were left.
            self.cursors.follow(&rooms);
            self.cursors.keep_only(&rooms);
            self.rooms = rooms;
            self.learn_peers_from_summaries();
            if !has_more || self.cursors == before {
                return Ok(());
            }
        }
    }

    async fn flush_outbox(&mut self, client: &Connection) -> Result<(), ClientError> {
        while let Some(args) = self.outbox.next_pending().cloned() {
            let reply = client.send_retrying(args.clone(), &CHAT_SEND_RETRY).await?;
            self.outbox.acknowledged(&args.client_msg_id);
            if let Reply::Send { message, .. } = reply {
                if self.store(&message) {
                    self.print_message(&message);
                }
            }
        }
        Ok(())
    }

    async fn send(&mut self, client: &Connection, text: &str) -> Result<(), ClientError> {
        let Some(room_id) = self.current else {
            println!("-- no room is open: /rooms lists them, /room N opens one");
            self.failed = true;
            return Ok(());
        };
        // Kept until acknowledged: after a reconnect it is resent with the same id (docs/protocol.md §9).
        let args = self.outbox.write(room_id, text);
        let client_msg_id = args.client_msg_id.clone();
        // `database_unavailable` may hide a stored message: retried with the same id, it is stored once.
        let reply = client.send_retrying(args, &CHAT_SEND_RETRY).await;
        let reply = match reply {
            Err(ClientError::Server { code, message }) if !code.retryable() => {
                self.outbox.discard(&client_msg_id);
                println!("-- message not sent: {} ({message})", code.as_str());
                self.failed = true;
                return Ok(());
            }
            Err(ClientError::Server { code, message }) => {
                println!(
                    "-- message not sent yet: {} ({message}); it is resent with /sync or after a reconnect",
                    code.as_str()
                );
                return Ok(());
            }
            other => other?,
        };
        self.outbox.acknowledged(&client_msg_id);
        match reply {
            Reply::Send { message, .. } => {
                if self.store(&message) {
                    self.print_message(&message);
                    self.note_summary(&message);
                }
                Ok(())
            }
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    async fn list_rooms(&mut self, client: &Connection) -> Result<(), ClientError> {
        match client.call(Call::ListRooms).await? {
            Reply::ListRooms { rooms } => {
                self.cursors.follow(&rooms);
                self.rooms = rooms;
                self.learn_peers_from_summaries();
                self.print_rooms();
                Ok(())
            }
            other => Err(ClientError::Unexpected(format!("{other:?}"))),
        }
    }

    async fn open_room(&mut self, client: &Connection, selector: &str) -> Result<(), ClientError> {
        if selector.is_empty() {
            println!("-- which room? /room N (N from /rooms), /room #ID or /room NAME");
            return Ok(());
        }
        let Some(room_id) = self.resolve_room(selector) else {
            println!("-- no room {selector:?}; /rooms lists them");
            self.failed = true;
            return Ok(());
        };
        self.current = Some(room_id);
        let title = self
            .rooms
            .iter()
            .find(|r| r.room_id == room_id)
            .map(|r| self.room_title(r))
            .unwrap_or_else(|| format!("room {room_id}"));
        println!("-- opened [room {room_id}] {title}; type to send, /history for older messages");
        self.print_history(client, room_id, OPEN_ROOM_HISTORY)
            .await?;
        self.mark_read(client, room_id, true).await
    }

    /// `N` is a number of the last list, `#ID` a room id, anything else a room name or the other member of a
    /// direct room.
    fn resolve_room(&self, selector: &str) -> Option<i64> {
        if let Some(id) = selector.strip_prefix('#') {
            let id: i64 = id.trim().parse().ok()?;
            return self.rooms.iter().any(|r| r.room_id == id).then_some(id);
        }
        if let Ok(n) = selector.parse::<usize>() {
            let listed = if self.listed.is_empty() {
                self.rooms.iter().map(|r| r.room_id).collect()
            } else {
                self.listed.clone()
            };
            return n.checked_sub(1).and_then(|i| listed.get(i).copied());
        }
        self.rooms
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(selector))
            .map(|r| r.room_id)
            .or_else(|| {
                self.peers
                    .iter()
                    .find(|(_, peer)| peer.as_str() == selector)
                    .map(|(&room, _)| room)
            })
    }

    async fn history(&mut self, client: &Connection, rest: &str) -> Result<(), ClientError> {
        let Some(room_id) = self.current else {
            println!("-- no room is open: /room N first");
            return Ok(());
        };
        let limit = match rest {
            "" => HISTORY_DEFAULT,
            n => match n.parse::<u32>() {
                Ok(n @ 1..=200) => n,
                _ => {
                    println!("-- /history N takes a number from 1 to 200");
                    return Ok(());
                }
            },
        };
        self.print_history(client, room_id, limit).await
    }

    async fn print_history(
        &mut self,
        client: &Connection,
        room_id: i64,
        limit: u32,
    ) -> Result<(), ClientError> {
        let reply = client
            .call(Call::History(HistoryArgs {
                room_id,
                before_seq: None,
                limit: Some(limit),
            }))
            .await?;
        let Reply::History {
            messages, has_more, ..
        } = reply
        else {
            return Err(ClientError::Unexpected(format!("{reply:?}")));
        };
        if messages.is_empty() {
            println!("-- (no messages yet)");
        } else if has_more {
            println!("-- (older messages exist)");
        }
        for m in messages.iter().rev() {
            self.print_message(m);
        }
        Ok(())
    }

    async fn mark_read(
        &mut self,
        client: &Connection,
        room_id: i64,
        say: bool,
    ) -> Result<(), ClientError> {
        if let Reply::MarkRead {
            last_read_seq,
            unread,
            ..
        } = client
            .call(Call::MarkRead(MarkReadArgs { room_id, seq: None }))
            .await?
        {
            if let Some(r) = self.rooms.iter_mut().find(|r| r.room_id == room_id) {
                r.last_read_seq = last_read_seq;
                r.unread = unread;
            }
            if say {
                println!("-- marked read up to #{last_read_seq}");
            }
        }
        Ok(())
    }

    /// Keeps the room list's counters current as messages arrive.
    fn note_summary(&mut self, m: &Message) {
        let me = self.me.clone();
        let open = self.current == Some(m.room_id);
        if let Some(r) = self.rooms.iter_mut().find(|r| r.room_id == m.room_id) {
            if m.seq > r.last_seq {
                r.last_seq = m.seq;
                r.last_activity_ms = m.created_at_ms;
                r.last_message = Some(m.clone());
                if m.sender_id == me || open {
                    r.last_read_seq = m.seq;
                }
                r.unread = (r.last_seq - r.last_read_seq).max(0);
            }
        }
    }

    fn room_title(&self, r: &RoomSummary) -> String {
        if !r.name.is_empty() {
            return format!("{} ({})", r.name, r.kind);
        }
        match self.peers.get(&r.room_id) {
            Some(peer) => format!("{} with {peer}", r.kind),
            None if r.kind == "direct" => {
                "direct (the other member has not written yet)".to_owned()
            }
            None => r.kind.clone(),
        }
    }

    /// Remembers the other member of a direct room from a message of theirs.
    fn learn_peer(&mut self, m: &Message) {
        if m.sender_id == self.me || m.kind != MessageKind::Text {
            return;
        }
        let direct = self
            .rooms
            .iter()
            .any(|r| r.room_id == m.room_id && r.kind == "direct");
        if direct {
            self.peers.insert(m.room_id, m.sender_id.clone());
        }
    }

    fn learn_peers_from_summaries(&mut self) {
        let last: Vec<Message> = self
            .rooms
            .iter()
            .filter_map(|r| r.last_message.clone())
            .collect();
        for m in &last {
            self.learn_peer(m);
        }
    }

    /// Looks through the recent history of direct rooms whose other member is not known yet (a few rooms only).
    async fn find_peers(&mut self, client: &Connection) -> Result<(), ClientError> {
        let unknown: Vec<i64> = self
            .rooms
            .iter()
            .filter(|r| {
                r.kind == "direct" && r.last_seq > 0 && !self.peers.contains_key(&r.room_id)
            })
            .map(|r| r.room_id)
            .take(20)
            .collect();
        for room_id in unknown {
            if let Reply::History { messages, .. } = client
                .call(Call::History(HistoryArgs {
                    room_id,
                    before_seq: None,
                    limit: Some(50),
                }))
                .await?
            {
                for m in &messages {
                    self.learn_peer(m);
                }
            }
        }
        Ok(())
    }

    fn print_rooms(&mut self) {
        let mut rooms = self.rooms.clone();
        rooms.sort_by(|a, b| {
            b.last_activity_ms
                .cmp(&a.last_activity_ms)
                .then(b.room_id.cmp(&a.room_id))
        });
        self.listed = rooms.iter().map(|r| r.room_id).collect();
        if rooms.is_empty() {
            println!("-- you are in no rooms yet");
            return;
        }
        println!("rooms of {} (open one with /room N):", self.me);
        for (i, r) in rooms.iter().enumerate() {
            let last = r
                .last_message
                .as_ref()
                .map(|m| format!(" — {}: {}", m.sender_id, preview(&m.body)))
                .unwrap_or_default();
            let open = if self.current == Some(r.room_id) {
                " (open)"
            } else {
                ""
            };
            println!(
                "  {:>2}. [room {}] {}{open}: {} unread{last}",
                i + 1,
                r.room_id,
                self.room_title(r),
                r.unread
            );
        }
    }

    fn print_message(&mut self, m: &Message) {
        self.learn_peer(m);
        match m.kind {
            MessageKind::Text => println!(
                "[room {} #{}] {}: {}",
                m.room_id, m.seq, m.sender_id, m.body
            ),
            MessageKind::System => println!("[room {} #{}] * {}", m.room_id, m.seq, m.body),
            kind => println!(
                "[room {} #{}] {}: [{}] {}",
                m.room_id,
                m.seq,
                m.sender_id,
                kind.as_str(),
                m.body
            ),
        }
        if let Some(text) = &self.expect {
            if m.sender_id != self.me && m.body.contains(text.as_str()) {
                self.expect_met = true;
            }
        }
    }
}

fn preview(body: &str) -> String {
    let line = body.lines().next().unwrap_or("");
    let mut out: String = line.chars().take(40).collect();
    if out.len() < body.len() {
        out.push('…');
    }
    out
}

/// Standard input as async lines.
///
/// The workspace's tokio is built without its `io-std` feature (so no `tokio::io::stdin()`); reading
/// `/dev/stdin` through `tokio::fs::File` is equivalent (tokio reads both on its blocking pool), and works for a
/// terminal, a pipe and a redirected file alike.
type Stdin = tokio::fs::File;

async fn open_stdin() -> Result<Lines<BufReader<Stdin>>, String> {
    tokio::fs::File::open("/dev/stdin")
        .await
        .map(|file| BufReader::new(file).lines())
        .map_err(|e| {
            format!(
                "cannot read standard input (/dev/stdin: {e}); give the commands as flags instead: \
                 --room ROOM --send TEXT [--wait-secs N]"
            )
        })
}

async fn next_line(stdin: &mut Option<Lines<BufReader<Stdin>>>) -> Option<String> {
    match stdin {
        Some(lines) => lines.next_line().await.ok().flatten(),
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn login(args: &ChatArgs) -> Result<router::Login, String> {
    router::login(&args.router, &args.user, &args.password, &args.device)
        .await
        .map_err(|e| explain_login(&args.router, e))
}

fn explain_login(router: &str, e: RouterApiError) -> String {
    match e {
        RouterApiError::Refused { status: 401, .. } => {
            "login refused: wrong user or password (the demo users are alice, bob, carol and dave, password `sendjay`)"
                .to_owned()
        }
        RouterApiError::Refused { status: 503, body } => format!(
            "the router at {router} knows no live node ({body}); start the nodes (bash deploy/local/cluster.sh) and retry"
        ),
        RouterApiError::Unreachable { detail, .. } => format!(
            "cannot reach the router at {router}: {detail}; start the cluster with `bash deploy/local/cluster.sh` or pass --router URL"
        ),
        other => other.to_string(),
    }
}

async fn connect_first(session: &Session) -> Result<Connection, String> {
    let token = session.token.as_deref().unwrap_or_default();
    Connection::connect(&session.node.url, token, ConnectOptions::default())
        .await
        .inspect(|_| println!("connected to node {} ({})", session.node.id, session.node.url))
        .map_err(|e| {
            format!(
                "cannot connect to node {} at {}: {e}; is the node running? (bash deploy/local/cluster.sh starts one)",
                session.node.id, session.node.url
            )
        })
}

/// Finds a node through the router (logging in again when the token is refused) and connects to it,
/// with exponential backoff and full jitter (docs/protocol.md §13.1).
/// Returns None when the user quit while waiting.
async fn reconnect(
    args: &ChatArgs,
    session: &mut Session,
    input: &mut Input,
) -> Result<Option<Connection>, String> {
    let mut last_error = String::new();
    let mut backoff = Backoff::default();
    for attempt in 0..RECONNECT_ATTEMPTS {
        if attempt > 0 && !input.pause(backoff.next_delay()).await {
            return Ok(None);
        }
        let node = match &session.token {
            Some(token) => match router::assign(&args.router, token).await {
                Ok(node) => node,
                Err(RouterApiError::Refused { status: 401, .. }) => {
                    session.token = None;
                    last_error = "the router refused the token".into();
                    continue;
                }
                Err(e) => {
                    last_error = e.to_string();
                    println!("-- {last_error}");
                    continue;
                }
            },
            None => match login(args).await {
                Ok(login) => {
                    session.token = Some(login.token);
                    login.node
                }
                Err(e) => {
                    last_error = e;
                    println!("-- {last_error}");
                    continue;
                }
            },
        };
        let token = session.token.clone().unwrap_or_default();
        match Connection::connect(&node.url, &token, ConnectOptions::default()).await {
            Ok(client) => {
                println!("reconnected to node {} ({})", node.id, node.url);
                session.node = node;
                return Ok(Some(client));
            }
            Err(e) => {
                last_error = format!("node {} at {}: {e}", node.id, node.url);
                println!("-- {last_error}");
            }
        }
    }
    Err(format!(
        "gave up reconnecting after {RECONNECT_ATTEMPTS} attempts (last error: {last_error}); is the cluster still running?"
    ))
}
