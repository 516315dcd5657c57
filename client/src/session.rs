//! A session that outlives its connections: log in, connect, follow the user's rooms, and come back by
//! itself — through the router, with `sync` from gap-free cursors and the unsent queue resent with the same
//! `client_msg_id`s — until the server ends it for good.
//!
//! This is the algorithm of docs/protocol.md §9 and §13 in one place, so that every Rust caller (the terminal
//! chat, load scenarios, tests) gets the same delivery guarantee: every message of a followed room is handed to
//! the caller exactly once per (room, seq), whether it came as a push or in a sync page, and nothing the user
//! wrote is lost or written twice across drains, node crashes, 4006 and Redis blips.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sendjay_client::SessionError> {
//! use sendjay_client::{Event, RouterLocator, Session};
//! let locator = RouterLocator::new("http://127.0.0.1:7300", "alice", "sendjay", "web");
//! let mut session = Session::start(locator, Default::default()).await?;
//! let room = session.rooms()[0].room_id;
//! session.write(room, "hello");
//! session.flush().await?;
//! while let Some(event) = session.next_event().await {
//!     if let Event::Message(m) = event {
//!         println!("[room {} #{}] {}: {}", m.room_id, m.seq, m.sender_id, m.body);
//!     }
//! }
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sendjay_common::protocol::{Call, Message, Push, Reply, RoomSummary, SyncArgs};
use thiserror::Error;

use crate::connection::{ClientError, ConnectOptions, Connection, SendRetry};
use crate::cursor::RoomCursors;
use crate::reconnect::{after_close, Backoff, CloseAction, EndReason};
use crate::router::{self, NodeRef, RouterApiError};
use crate::unsent::{worth_retrying, UnsentQueue};

/// `sync` page size (docs/protocol.md §4 advises ≤ 200).
const SYNC_PAGE: u32 = 200;

/// Why a session could not go on.
#[derive(Debug, Error)]
pub enum SessionError {
    /// Logging in or finding a node failed (the router's words).
    #[error("router: {0}")]
    Router(String),
    /// The node refused a request or the connection failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The server ended the session for good.
    #[error("session ended: {}", .0.explain())]
    Ended(EndReason),
    /// No node could be reached for the configured number of attempts.
    #[error("gave up reconnecting after {attempts} attempts (last error: {last}); is the cluster running?")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
}

/// Why a locator could not hand out a token or a node.
#[derive(Debug, Error)]
pub enum LocateError {
    /// The token is no longer valid: log in again.
    #[error("the token was refused")]
    TokenRefused,
    /// Anything else (router down, no live node, wrong password): retry later or give up.
    #[error("{0}")]
    Other(String),
}

/// Where tokens and node assignments come from: the router in production, a test's own key and ring in node
/// tests (which may not depend on the router).
pub trait Locator: Send + Sync {
    /// Logs in: a fresh token and the node to use.
    fn log_in(&self) -> impl Future<Output = Result<(String, NodeRef), LocateError>> + Send;
    /// The node for a token held already.
    fn assign(&self, token: &str) -> impl Future<Output = Result<NodeRef, LocateError>> + Send;
}

/// The router's HTTP API as a [`Locator`]: `POST /v1/login` and `GET /v1/assign`.
#[derive(Debug, Clone)]
pub struct RouterLocator {
    router: String,
    user: String,
    password: String,
    device: String,
}

impl RouterLocator {
    /// Logs `user` in at the router's base URL with a device class (`web` or `mobile`).
    pub fn new(router: &str, user: &str, password: &str, device: &str) -> RouterLocator {
        RouterLocator {
            router: router.to_owned(),
            user: user.to_owned(),
            password: password.to_owned(),
            device: device.to_owned(),
        }
    }
}

impl Locator for RouterLocator {
    async fn log_in(&self) -> Result<(String, NodeRef), LocateError> {
        router::login(&self.router, &self.user, &self.password, &self.device)
            .await
            .map(|login| (login.token, login.node))
            .map_err(|e| LocateError::Other(e.to_string()))
    }

    async fn assign(&self, token: &str) -> Result<NodeRef, LocateError> {
        match router::assign(&self.router, token).await {
            Ok(node) => Ok(node),
            Err(RouterApiError::Refused { status: 401, .. }) => Err(LocateError::TokenRefused),
            Err(e) => Err(LocateError::Other(e.to_string())),
        }
    }
}

/// Settings of a [`Session`].
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// How each connection is opened (launch mode, request timeout).
    pub connect: ConnectOptions,
    /// Connection attempts in a row before [`SessionError::GaveUp`].
    pub reconnect_attempts: u32,
    /// The backoff between attempts.
    pub backoff: Backoff,
    /// How a send answered `database_unavailable` is retried (same `client_msg_id`) before it stays pending.
    pub send_retry: SendRetry,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            connect: ConnectOptions::default(),
            reconnect_attempts: 10,
            backoff: Backoff::default(),
            send_retry: SendRetry::default(),
        }
    }
}

/// What a session hands to its caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A message of a followed room, exactly once per (room, seq), in seq order within a room when it came from
    /// `sync` (pushes of two senders on two nodes may pass each other).
    Message(Message),
    /// A message already delivered changed (edited or revoked), from `sync` after a reconnect: replace the copy held
    /// when this one's `change_seq` is higher (the same change may also have come as a push).
    Changed(Message),
    /// Any other push (reads, typing, edits, revokes, settings, …).
    Push(Push),
    /// The session is back, on this node, after a lost connection or a drain; missed messages follow as
    /// [`Event::Message`].
    Reconnected(NodeRef),
    /// A sent message was acknowledged (its `client_msg_id`); `duplicate` when an earlier attempt had written it.
    Acknowledged {
        /// The stored message.
        message: Message,
        /// Whether an earlier attempt had already written it.
        duplicate: bool,
    },
    /// The server ended the session for good; no more events follow.
    Ended(EndReason),
}

/// A logged-in user's session across connections.
pub struct Session<L: Locator> {
    locator: L,
    options: SessionOptions,
    token: String,
    node: NodeRef,
    connection: Arc<Connection>,
    cursors: RoomCursors,
    rooms: Vec<RoomSummary>,
    unsent: UnsentQueue,
    events: VecDeque<Event>,
    ended: Option<EndReason>,
    gave_up: Option<SessionError>,
}

impl<L: Locator> Session<L> {
    /// Logs in, connects, and syncs once (which also confirms that the node accepted the session).
    pub async fn start(locator: L, options: SessionOptions) -> Result<Session<L>, SessionError> {
        let (token, node) = locator
            .log_in()
            .await
            .map_err(|e| SessionError::Router(e.to_string()))?;
        let connection = Connection::connect(&node.url, &token, options.connect.clone()).await?;
        let mut session = Session {
            locator,
            options,
            token,
            node,
            connection: Arc::new(connection),
            cursors: RoomCursors::new(),
            rooms: Vec::new(),
            unsent: UnsentQueue::new(),
            events: VecDeque::new(),
            ended: None,
            gave_up: None,
        };
        if let Err(e) = session.sync().await {
            let closed = session
                .connection
                .closed(Duration::from_secs(2))
                .await
                .flatten();
            if let CloseAction::End(reason) = after_close(closed.as_ref()) {
                return Err(SessionError::Ended(reason));
            }
            return Err(e.into());
        }
        Ok(session)
    }

    /// The current connection, for requests of any op.
    pub fn connection(&self) -> &Arc<Connection> {
        &self.connection
    }

    /// The node the session is on.
    pub fn node(&self) -> &NodeRef {
        &self.node
    }

    /// The room list as of the last `sync`.
    pub fn rooms(&self) -> &[RoomSummary] {
        &self.rooms
    }

    /// The gap-free cursors of the followed rooms.
    pub fn cursors(&self) -> &RoomCursors {
        &self.cursors
    }

    /// The messages written but not acknowledged yet.
    pub fn unsent(&self) -> &UnsentQueue {
        &self.unsent
    }

    /// The unsent queue, to retry or discard failed messages.
    pub fn unsent_mut(&mut self) -> &mut UnsentQueue {
        &mut self.unsent
    }

    /// Sends a request on the current connection.
    pub async fn call(&self, call: Call) -> Result<Reply, ClientError> {
        self.connection.call(call).await
    }

    /// Writes a text message into the unsent queue (it gets its `client_msg_id` now) and returns that id;
    /// [`Session::flush`] sends it.
    pub fn write(&mut self, room_id: i64, body: impl Into<String>) -> String {
        self.unsent.write(room_id, body).client_msg_id
    }

    /// Sends the pending messages in the order they were written. An acknowledgement becomes
    /// [`Event::Acknowledged`]; a refusal for good marks the message failed; a failure that may not have been
    /// final (a lost connection, `database_unavailable`) stops here and leaves it pending for the next flush,
    /// with the same `client_msg_id`.
    pub async fn flush(&mut self) -> Result<(), ClientError> {
        while let Some(args) = self.unsent.next_pending().cloned() {
            let retry = self.options.send_retry;
            match self.connection.send_retrying(args.clone(), &retry).await {
                Ok(Reply::Send { message, duplicate }) => {
                    self.unsent.acknowledged(&args.client_msg_id);
                    if self.cursors.hold(message.room_id, message.seq) {
                        self.events.push_back(Event::Message(message.clone()));
                    }
                    self.events
                        .push_back(Event::Acknowledged { message, duplicate });
                }
                Ok(other) => return Err(ClientError::Unexpected(format!("{other:?}"))),
                Err(e) if worth_retrying(&e) => return Err(e),
                Err(ClientError::Server { code, .. }) => {
                    self.unsent.failed(&args.client_msg_id, code)
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The next event, reconnecting as often as needed; `None` once the session has ended (after
    /// [`Event::Ended`]) or reconnecting gave up.
    pub async fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
            if self.ended.is_some() || self.gave_up.is_some() {
                return None;
            }
            let push = self.connection.next_push(Duration::from_secs(3600)).await;
            match push {
                Some(push) => self.on_push(push).await,
                None if !self.connection.is_closed() => continue,
                None => self.recover(None).await,
            }
        }
    }

    /// Why reconnecting was given up, once [`Session::next_event`] returned `None` without [`Event::Ended`].
    pub fn gave_up(&self) -> Option<&SessionError> {
        self.gave_up.as_ref()
    }

    /// Ends the session politely (the node frees it at once).
    pub async fn close(&self) {
        self.connection.close().await;
    }

    async fn on_push(&mut self, push: Push) {
        match push {
            Push::Message { message } => {
                let (room, seq) = (message.room_id, message.seq);
                if self.cursors.hold(room, seq) {
                    self.events.push_back(Event::Message(message));
                }
                if self.cursors.has_gap() {
                    self.sync_or_recover().await;
                }
            }
            Push::SyncNeeded { .. } => self.sync_or_recover().await,
            Push::Reconnect { after_ms, .. } => {
                tokio::time::sleep(Duration::from_millis(after_ms)).await;
                self.connection.close().await;
                self.recover(Some(self.node.clone())).await;
            }
            // The 4005 close follows; next_event ends the session then.
            Push::Evicted { .. } => {}
            other => self.events.push_back(Event::Push(other)),
        }
    }

    async fn sync_or_recover(&mut self) {
        if self.sync().await.is_err() {
            self.recover(None).await;
        }
    }

    /// Runs `sync` until nothing more is waiting (docs/protocol.md §9 step 3).
    async fn sync(&mut self) -> Result<(), ClientError> {
        loop {
            let reply = self
                .connection
                .call(Call::Sync(SyncArgs {
                    cursors: self.cursors.to_sync(),
                    limit: Some(SYNC_PAGE),
                    changes: self.cursors.to_changes(),
                }))
                .await?;
            let Reply::Sync {
                messages,
                rooms,
                has_more,
                updates,
            } = reply
            else {
                return Err(ClientError::Unexpected(format!("{reply:?}")));
            };
            let mut last = std::collections::BTreeMap::new();
            for message in messages {
                last.insert(message.room_id, message.seq);
                if self.cursors.hold(message.room_id, message.seq) {
                    self.events.push_back(Event::Message(message));
                }
            }
            for (&room, &seq) in &last {
                self.cursors.synced_to(room, seq);
            }
            let progressed = !last.is_empty() || !updates.is_empty();
            for message in updates {
                self.cursors.changed_to(message.room_id, message.change_seq);
                self.events.push_back(Event::Changed(message));
            }
            // Rooms new to the session start at their newest message; rooms no longer listed were left.
            self.cursors.follow(&rooms);
            self.cursors.keep_only(&rooms);
            self.rooms = rooms;
            if !has_more {
                return Ok(());
            }
            if !progressed {
                return Err(ClientError::Unexpected(
                    "sync said has_more but returned nothing".into(),
                ));
            }
        }
    }

    /// Comes back after a lost connection or a drain; an end or a give-up is kept for [`Session::next_event`].
    async fn recover(&mut self, moved_from: Option<NodeRef>) {
        match self.reconnect(moved_from).await {
            Ok(()) | Err(SessionError::Ended(_)) => {}
            Err(e) => self.gave_up = Some(e),
        }
    }

    /// The connection ended (or a drain asked us to move): decide by the close code, then find a node through
    /// the locator, connect, sync and resend, with backoff. `moved_from` is the node a drain asked us to leave.
    async fn reconnect(&mut self, moved_from: Option<NodeRef>) -> Result<(), SessionError> {
        if moved_from.is_none() {
            self.judge_close().await?;
        }
        let mut backoff = self.options.backoff.clone();
        backoff.reset();
        let mut last = String::new();
        for attempt in 0..self.options.reconnect_attempts {
            if attempt > 0 {
                tokio::time::sleep(backoff.next_delay()).await;
            }
            let node = if self.token.is_empty() {
                match self.locator.log_in().await {
                    Ok((token, node)) => {
                        self.token = token;
                        node
                    }
                    Err(e) => {
                        last = e.to_string();
                        continue;
                    }
                }
            } else {
                match self.locator.assign(&self.token).await {
                    Ok(node) => node,
                    Err(LocateError::TokenRefused) => {
                        self.token.clear();
                        last = "the token was refused".into();
                        continue;
                    }
                    Err(LocateError::Other(e)) => {
                        last = e;
                        continue;
                    }
                }
            };
            let connection =
                match Connection::connect(&node.url, &self.token, self.options.connect.clone())
                    .await
                {
                    Ok(connection) => Arc::new(connection),
                    Err(e) => {
                        last = format!("node {} at {}: {e}", node.id, node.url);
                        continue;
                    }
                };
            self.connection = connection;
            self.node = node.clone();
            match self.sync().await {
                Ok(()) => {}
                Err(e) => {
                    self.judge_close().await?;
                    last = e.to_string();
                    continue;
                }
            }
            self.events.push_back(Event::Reconnected(node));
            if let Err(e) = self.flush().await {
                last = e.to_string();
                continue;
            }
            return Ok(());
        }
        Err(SessionError::GaveUp {
            attempts: self.options.reconnect_attempts,
            last,
        })
    }

    /// Reads how the current connection ended: an end is final, a refused token means logging in again.
    async fn judge_close(&mut self) -> Result<(), SessionError> {
        let closed = self
            .connection
            .closed(Duration::from_secs(2))
            .await
            .flatten();
        match after_close(closed.as_ref()) {
            CloseAction::End(reason) => Err(self.end(reason)),
            CloseAction::LogInAgain => {
                self.token.clear();
                Ok(())
            }
            CloseAction::Reconnect => Ok(()),
        }
    }

    fn end(&mut self, reason: EndReason) -> SessionError {
        self.ended = Some(reason);
        self.events.push_back(Event::Ended(reason));
        SessionError::Ended(reason)
    }
}
