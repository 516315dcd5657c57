//! The Redis side of a node: the pub/sub bus that fans pushes out across nodes, and the command client.
//!
//! A node subscribes only to the channels it needs — one per room with a local member, one per local user, one
//! per user whose presence a local connection watches — so it receives no traffic for rooms none of its users are in (the socket.io Redis adapter, by contrast,
//! sends every broadcast to every node). Redis is only the fast path: a push lost to a lagging receiver or a
//! Redis reconnect is reported to the affected clients as `sync_needed`, and `sync` fills the gap from
//! PostgreSQL.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fred::clients::SubscriberClient;
use fred::prelude::*;
use fred::types::Message as RedisMessage;
use sendjay_common::bus::UserEvent;
use sendjay_common::close_code::CloseReason;
use sendjay_common::codec;
use sendjay_common::keys::KeySchema;
use sendjay_common::protocol::{Push, ServerFrame};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{Mutex as AsyncMutex, Notify};

use crate::error::NodeError;
use crate::metrics as m;
use crate::registry::Registry;
use crate::stats::NodeStats;

/// Default capacity of the pub/sub receive buffer (fred's own default, 32, drops messages under any burst).
pub const BROADCAST_CAPACITY: usize = 16_384;

/// Redis clients of a node and the channels it is subscribed to.
pub struct Bus {
    commands: Client,
    subscriber: SubscriberClient,
    keys: KeySchema,
    registry: Arc<Registry>,
    stats: Arc<NodeStats>,
    subscribed: AsyncMutex<HashSet<String>>,
    sharded: bool,
    repair: Notify,
}

/// Whether a Redis URL names a Redis Cluster (then the bus uses sharded pub/sub).
pub fn is_cluster_url(url: &str) -> bool {
    url.starts_with("redis-cluster://") || url.starts_with("rediss-cluster://")
}

/// Groups channels by cluster hash slot: a sharded (un)subscribe may only name channels of one slot.
fn by_slot(channels: Vec<String>) -> Vec<Vec<String>> {
    let mut groups: std::collections::BTreeMap<u16, Vec<String>> =
        std::collections::BTreeMap::new();
    for channel in channels {
        groups
            .entry(fred::util::redis_keyslot(channel.as_bytes()))
            .or_default()
            .push(channel);
    }
    groups.into_values().collect()
}

/// Builds fred clients with the node's timeouts and reconnect policy.
pub fn redis_builder(url: &str, receive_buffer: usize) -> Result<Builder, NodeError> {
    let config =
        Config::from_url(url).map_err(|e| NodeError::Config(format!("SENDJAY_REDIS_URL: {e}")))?;
    let mut builder = Builder::from_config(config);
    builder
        .with_performance_config(|p| {
            p.default_command_timeout = Duration::from_secs(3);
            p.broadcast_channel_capacity = receive_buffer;
        })
        .with_connection_config(|c| {
            c.connection_timeout = Duration::from_secs(3);
            c.internal_command_timeout = Duration::from_secs(3);
            c.max_command_attempts = 2;
        })
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2));
    Ok(builder)
}

fn payload(value: Value) -> Option<Bytes> {
    match value {
        Value::Bytes(b) => Some(b),
        Value::String(s) => Some(s.into_inner()),
        _ => None,
    }
}

impl Bus {
    /// Connects both clients; fails when Redis cannot be reached.
    pub async fn connect(
        url: &str,
        keys: KeySchema,
        registry: Arc<Registry>,
        stats: Arc<NodeStats>,
        receive_buffer: usize,
    ) -> Result<Arc<Bus>, NodeError> {
        // Only the subscriber receives pub/sub messages; the command client keeps fred's small default buffers
        // (every buffer is allocated up front, for each of fred's notification channels).
        let commands = redis_builder(url, 32)?.build()?;
        let builder = redis_builder(url, receive_buffer)?;
        let subscriber = builder.build_subscriber_client()?;
        commands.init().await?;
        subscriber.init().await?;
        subscriber.manage_subscriptions();
        Ok(Arc::new(Bus {
            commands,
            subscriber,
            keys,
            registry,
            stats,
            subscribed: AsyncMutex::new(HashSet::new()),
            sharded: is_cluster_url(url),
            repair: Notify::new(),
        }))
    }

    /// The command client (sessions, membership).
    pub fn commands(&self) -> &Client {
        &self.commands
    }

    /// The key schema.
    pub fn keys(&self) -> &KeySchema {
        &self.keys
    }

    /// Resolves when the subscriber reconnected or the cluster changed: session records may need repair.
    pub async fn repair_requested(&self) {
        self.repair.notified().await
    }

    /// Whether both clients are connected.
    pub fn connected(&self) -> bool {
        self.commands.is_connected() && self.subscriber.is_connected()
    }

    /// Subscribes to the channels of `rooms` and, when `user` is given, that user's channel; waits until done.
    pub async fn acquire(&self, rooms: &[i64], user: Option<&str>) -> Result<(), NodeError> {
        let mut wanted: Vec<String> = rooms.iter().map(|r| self.keys.room_channel(*r)).collect();
        wanted.extend(user.map(|u| self.keys.user_channel(u)));
        self.subscribe_missing(wanted).await
    }

    /// Subscribes to those of `wanted` not yet subscribed; waits until done.
    async fn subscribe_missing(&self, wanted: Vec<String>) -> Result<(), NodeError> {
        let mut subscribed = self.subscribed.lock().await;
        let new: Vec<String> = wanted
            .into_iter()
            .filter(|c| !subscribed.contains(c))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        self.subscribe(new.clone()).await?;
        subscribed.extend(new);
        Ok(())
    }

    /// Whether this bus speaks sharded pub/sub (a Redis Cluster).
    pub fn sharded(&self) -> bool {
        self.sharded
    }

    /// Subscribes to the presence channels of `users`; waits until done.
    pub async fn acquire_presence(&self, users: &[Arc<str>]) -> Result<(), NodeError> {
        let wanted = users
            .iter()
            .map(|u| self.keys.presence_channel(u))
            .collect();
        self.subscribe_missing(wanted).await
    }

    /// Unsubscribes from the presence channels of `users` that no local connection watches any more.
    pub async fn release_presence(&self, users: &[Arc<str>]) -> Result<(), NodeError> {
        let mut subscribed = self.subscribed.lock().await;
        // Checked under the lock: a watch that arrived meanwhile keeps its channel.
        let gone: Vec<String> = users
            .iter()
            .filter(|u| !self.registry.presence_needed(u))
            .map(|u| self.keys.presence_channel(u))
            .filter(|c| subscribed.contains(c))
            .collect();
        self.leave(&mut subscribed, gone).await
    }

    /// Unsubscribes from the channels of `rooms` (and `user`) that no local user needs any more.
    pub async fn release(&self, rooms: &[i64], user: Option<&str>) -> Result<(), NodeError> {
        let mut subscribed = self.subscribed.lock().await;
        // Checked under the lock: a session that arrived meanwhile keeps its channels.
        let mut gone: Vec<String> = rooms
            .iter()
            .filter(|r| !self.registry.room_needed(**r))
            .map(|r| self.keys.room_channel(*r))
            .filter(|c| subscribed.contains(c))
            .collect();
        if let Some(user) = user.filter(|u| !self.registry.user_needed(u)) {
            let channel = self.keys.user_channel(user);
            if subscribed.contains(&channel) {
                gone.push(channel);
            }
        }
        self.leave(&mut subscribed, gone).await
    }

    /// Unsubscribes from `gone` (channels found unneeded while `subscribed` was held) and forgets them.
    async fn leave(
        &self,
        subscribed: &mut HashSet<String>,
        gone: Vec<String>,
    ) -> Result<(), NodeError> {
        if gone.is_empty() {
            return Ok(());
        }
        self.unsubscribe(gone.clone()).await?;
        for channel in &gone {
            subscribed.remove(channel);
        }
        Ok(())
    }

    async fn subscribe(&self, channels: Vec<String>) -> Result<(), NodeError> {
        let _redis = m::Timer::redis("subscribe");
        if !self.sharded {
            return Ok(self.subscriber.subscribe(channels).await?);
        }
        for group in by_slot(channels) {
            self.subscriber.ssubscribe(group).await?;
        }
        Ok(())
    }

    async fn unsubscribe(&self, channels: Vec<String>) -> Result<(), NodeError> {
        let _redis = m::Timer::redis("unsubscribe");
        if !self.sharded {
            return Ok(self.subscriber.unsubscribe(channels).await?);
        }
        for group in by_slot(channels) {
            self.subscriber.sunsubscribe(group).await?;
        }
        Ok(())
    }

    async fn publish(&self, channel: String, payload: Bytes) -> Result<(), NodeError> {
        let _redis = m::Timer::redis("publish");
        let _: i64 = if self.sharded {
            self.commands
                .spublish(channel, Value::Bytes(payload))
                .await?
        } else {
            self.commands
                .publish(channel, Value::Bytes(payload))
                .await?
        };
        Ok(())
    }

    /// Publishes an encoded push frame to the nodes watching `user`'s presence (an absence change).
    pub async fn publish_presence_frame(&self, user: &str, frame: Bytes) -> Result<(), NodeError> {
        self.publish(self.keys.presence_channel(user), frame).await
    }

    /// Publishes an encoded client frame to a room's members on every node.
    pub async fn publish_room(&self, room: i64, frame: Bytes) -> Result<(), NodeError> {
        let started = Instant::now();
        let result = self.publish(self.keys.room_channel(room), frame).await;
        metrics::histogram!(m::BUS_PUBLISH_SECONDS).record(started.elapsed().as_secs_f64());
        result?;
        metrics::counter!(m::MESSAGES_PUBLISHED).increment(1);
        Ok(())
    }

    /// Publishes an event to every session of `user` on every node.
    pub async fn publish_user(&self, user: &str, event: &UserEvent) -> Result<(), NodeError> {
        let bytes = codec::encode(event).map_err(|e| NodeError::Internal(e.to_string()))?;
        self.publish(self.keys.user_channel(user), bytes.into())
            .await?;
        metrics::counter!(m::MESSAGES_PUBLISHED).increment(1);
        Ok(())
    }

    /// Runs the receive loop until the subscriber closes: delivers pushes and applies user events.
    pub async fn receive(self: Arc<Self>) {
        let mut messages = self.subscriber.message_rx();
        let mut reconnects = self.subscriber.reconnect_rx();
        let mut cluster_changes = self.subscriber.cluster_change_rx();
        loop {
            tokio::select! {
                received = messages.recv() => match received {
                    Ok(message) => {
                        self.dispatch(message).await;
                        metrics::gauge!(m::BUS_BACKLOG).set(messages.len() as f64);
                    }
                    Err(RecvError::Lagged(lost)) => {
                        NodeStats::add(&self.stats.bus_lagged, lost);
                        metrics::counter!(m::DROPPED, "reason" => "bus_lagged").increment(lost);
                        tracing::warn!(lost, "bus receiver lagged; telling every local client to sync");
                        self.tell_everyone_to_sync("bus_lagged");
                    }
                    Err(RecvError::Closed) => break,
                },
                reconnected = reconnects.recv() => match reconnected {
                    Ok(server) => {
                        metrics::counter!(m::REDIS_RECONNECTS).increment(1);
                        tracing::warn!(%server, "bus subscriber reconnected; pushes during the outage are lost, clients will sync");
                        self.tell_everyone_to_sync("bus_reconnected");
                        self.repair.notify_one();
                    }
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break,
                },
                changed = cluster_changes.recv() => match changed {
                    // fred does not move sharded subscriptions when slots move: subscribe again where they
                    // live now, and have clients sync what may have been missed meanwhile.
                    Ok(_) | Err(RecvError::Lagged(_)) => {
                        if let Err(e) = self.subscriber.resubscribe_all().await {
                            tracing::warn!(error = %e, "could not resubscribe after a cluster change");
                        }
                        self.tell_everyone_to_sync("bus_cluster_changed");
                        self.repair.notify_one();
                    }
                    Err(RecvError::Closed) => {}
                },
            }
        }
    }

    fn tell_everyone_to_sync(&self, reason: &str) {
        let frame = ServerFrame::Push {
            push: Push::SyncNeeded {
                reason: reason.to_owned(),
            },
        };
        let Ok(bytes) = codec::encode_server_frame(&frame) else {
            return;
        };
        let bytes = Bytes::from(bytes);
        for user in self.registry.users() {
            self.registry.deliver_user(&user, &bytes);
        }
    }

    async fn dispatch(&self, message: RedisMessage) {
        let _receive = m::Timer::new(m::BUS_RECEIVE_SECONDS);
        let channel: &str = &message.channel;
        if let Some(room) = self.keys.parse_room_channel(channel) {
            let Some(frame) = payload(message.value) else {
                return;
            };
            NodeStats::add(&self.stats.bus_room_received, 1);
            metrics::counter!(m::BUS_RECEIVED, "channel" => "room").increment(1);
            let delivery = self.registry.deliver_room(room, &frame);
            if delivery.queued > 0 {
                m::record_delivery(&frame);
            }
            self.count_delivery(delivery);
        } else if let Some(user) = self.keys.parse_presence_channel(channel) {
            metrics::counter!(m::BUS_RECEIVED, "channel" => "presence").increment(1);
            let Some(devices) = payload(message.value) else {
                return;
            };
            // Two kinds of message share the channel: the sessions script's device list (ASCII text) and a
            // whole encoded push frame (a MessagePack map, first byte ≥ 0x80) such as an absence change.
            if devices.first().is_some_and(|b| *b >= 0x80) {
                let delivery = self.registry.deliver_presence(user, &devices);
                self.count_delivery(delivery);
                return;
            }
            let has = |d: &str| devices.split(|b| *b == b',').any(|x| x == d.as_bytes());
            let frame = ServerFrame::Push {
                push: Push::Presence {
                    user_id: user.to_owned(),
                    web: has("web"),
                    mobile: has("mobile"),
                },
            };
            let Ok(bytes) = codec::encode_server_frame(&frame) else {
                return;
            };
            let delivery = self.registry.deliver_presence(user, &Bytes::from(bytes));
            self.count_delivery(delivery);
        } else if let Some(user) = self.keys.parse_user_channel(channel) {
            NodeStats::add(&self.stats.bus_user_received, 1);
            metrics::counter!(m::BUS_RECEIVED, "channel" => "user").increment(1);
            let user = user.to_owned();
            let event = payload(message.value).and_then(|b| codec::decode::<UserEvent>(&b).ok());
            match event {
                Some(event) => self.apply_user_event(&user, event).await,
                None => {
                    metrics::counter!(m::DROPPED, "reason" => "bad_bus_message").increment(1);
                    tracing::warn!(channel, "undecodable user event on the bus; dropped");
                }
            }
        }
    }

    fn count_delivery(&self, delivery: crate::registry::Delivery) {
        NodeStats::add(&self.stats.delivered, delivery.queued as u64);
        metrics::counter!(m::DELIVERED).increment(delivery.queued as u64);
        if delivery.overflowed > 0 {
            metrics::counter!(m::DROPPED, "reason" => "slow_consumer")
                .increment(delivery.overflowed as u64);
        }
    }

    async fn apply_user_event(&self, user: &str, event: UserEvent) {
        match event {
            UserEvent::Deliver { frame } => {
                let delivery = self.registry.deliver_user(user, &Bytes::from(frame));
                self.count_delivery(delivery);
            }
            UserEvent::Close {
                device,
                keep_generation,
                code,
                reason,
            } => {
                let close = CloseReason::from_code(code).unwrap_or(CloseReason::Internal);
                for conn in self.registry.conns_of(user) {
                    let generation = conn.generation();
                    let device_matches = device.is_none_or(|d| d == conn.device);
                    // A session still claiming (generation 0) checks the outcome itself.
                    let older = match keep_generation {
                        Some(keep) => generation != 0 && generation < keep,
                        None => true,
                    };
                    if device_matches && older {
                        if close == CloseReason::Evicted {
                            crate::session_repair::evict(&conn, &reason);
                        } else {
                            conn.outbox.close(close, reason.clone());
                        }
                    }
                }
            }
            UserEvent::JoinedRoom { room_id } => {
                if self.registry.join_room(user, room_id) {
                    if let Err(e) = self.acquire(&[room_id], None).await {
                        tracing::warn!(error = %e, room_id, "could not subscribe to a joined room; clients will sync");
                    }
                }
            }
            UserEvent::LeftRoom { room_id } => {
                if self.registry.leave_room(user, room_id) {
                    if let Err(e) = self.release(&[room_id], None).await {
                        tracing::warn!(error = %e, room_id, "could not unsubscribe from a left room");
                    }
                }
            }
        }
    }

    /// Closes both Redis clients.
    pub async fn quit(&self) {
        let _ = self.subscriber.quit().await;
        let _ = self.commands.quit().await;
    }
}
