//! The notification worker: reads jobs in the consumer group, handles several at once, acknowledges each one
//! after its pushes were attempted, and claims jobs that a dead worker left pending.
//!
//! A job that fails on PostgreSQL or Redis is not acknowledged: it stays pending and is claimed again once it
//! has been idle for `SENDJAY_NOTIFY_CLAIM_IDLE_MS`, by this worker or another. Each delivered push is recorded
//! under the job's key at once, so a claimed job does not notify a device twice for the same message; the one
//! window left — killed between a push and its record — shows the same notification again under the same tag,
//! which replaces it on the device.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fred::prelude::*;
use fred::types::Value;
use futures_util::StreamExt;
use sendjay_common::protocol::{DeviceClass, MessageKind, PushPayload, PushProvider};
use tokio::sync::Semaphore;

use super::delivery::{self, Outcome};
use super::jobs::Job;
use super::rules;
use super::GROUP;
use crate::error::NodeError;
use crate::metrics as m;
use crate::store::push::{MessageNotice, PushDevice};
use crate::NodeContext;

/// Longest a read blocks waiting for new jobs.
const BLOCK_MS: u64 = 1000;
/// Pushes of one job in flight at once.
const PUSHES_PER_JOB: usize = 32;
/// How often the stream's lag and pending entries are exported.
const STATS_INTERVAL: Duration = Duration::from_secs(5);

/// A stream entry: its id and fields.
type Entry = (String, HashMap<String, String>);

/// Runs the worker until the task is aborted (drain, shutdown). Reconnects and retries on its own.
pub async fn run(ctx: Arc<NodeContext>) {
    // Blocking reads need a connection of their own: on the shared client they would stall every command.
    let reader = ctx.bus.commands().clone_new();
    if let Err(e) = reader.init().await {
        tracing::error!(error = %e, "notification worker: could not connect to Redis; no pushes from this node until it restarts");
        return;
    }
    let consumer = ctx.node_id.clone();
    let permits = Arc::new(Semaphore::new(ctx.config.notify_concurrency));
    // Jobs this worker is handling now: kept "fresh" in Redis so no other worker claims them while this one
    // is alive (a job may wait out a long Retry-After), and never started twice here.
    let in_flight: Arc<Mutex<HashSet<String>>> = Arc::default();
    let refresh_every = Duration::from_millis((ctx.config.notify_claim_idle_ms / 3).max(50));
    let refresher = tokio::spawn(keep_fresh(
        ctx.clone(),
        consumer.clone(),
        in_flight.clone(),
        refresh_every,
    ));
    let _stop_refresher = AbortOnDrop(refresher);
    let claim_every = Duration::from_millis((ctx.config.notify_claim_idle_ms / 2).max(100));
    let mut last_claim = Instant::now() - claim_every;
    let mut last_stats = Instant::now() - STATS_INTERVAL;
    let mut group_ready = false;
    tracing::info!(stream = %ctx.notifications.stream, consumer = %consumer, "notification worker started");
    loop {
        if !group_ready {
            match ensure_group(&reader, &ctx.notifications.stream).await {
                Ok(()) => group_ready = true,
                Err(e) => {
                    tracing::warn!(error = %e, "notification worker: could not create the consumer group; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        if last_stats.elapsed() >= STATS_INTERVAL {
            last_stats = Instant::now();
            export_stats(&ctx).await;
        }
        let mut entries = Vec::new();
        let mut claimed_now = false;
        if last_claim.elapsed() >= claim_every {
            last_claim = Instant::now();
            match claim(&reader, &ctx, &consumer).await {
                Ok(mut claimed) => {
                    {
                        let held = in_flight.lock().unwrap_or_else(|p| p.into_inner());
                        claimed.retain(|(id, _)| !held.contains(id));
                    }
                    if !claimed.is_empty() {
                        ::metrics::counter!(m::NOTIFY_CLAIMED).increment(claimed.len() as u64);
                        tracing::info!(
                            jobs = claimed.len(),
                            "claimed notification jobs another worker left pending"
                        );
                    }
                    claimed_now = !claimed.is_empty();
                    entries = claimed;
                }
                Err(e) => tracing::warn!(error = %e, "notification worker: XAUTOCLAIM failed"),
            }
        }
        if entries.is_empty() {
            let room = permits.available_permits().clamp(1, 100) as u64;
            match read_new(&reader, &ctx.notifications.stream, &consumer, room).await {
                Ok(new) => entries = new,
                Err(e) => {
                    if e.to_string().contains("NOGROUP") {
                        group_ready = false;
                    }
                    tracing::warn!(error = %e, "notification worker: XREADGROUP failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            }
        }
        // Every message job of this read is looked up in one statement; a job whose lookup failed here looks
        // its message up again itself.
        let jobs: Vec<(String, Option<Job>)> = entries
            .into_iter()
            .map(|(id, fields)| {
                let job = Job::from_fields(&fields);
                (id, job)
            })
            .collect();
        let mut notices = prefetch_notices(&ctx, &jobs).await;
        for (id, job) in jobs {
            let prefetched = match (&job, notices.as_mut()) {
                (Some(Job::Message { room_id, seq, .. }), Some(found)) => {
                    Some(found.remove(&(*room_id, *seq)))
                }
                _ => None,
            };
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            if !in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.clone())
            {
                continue;
            }
            let ctx = ctx.clone();
            let in_flight = in_flight.clone();
            tokio::spawn(async move {
                handle_entry(&ctx, &id, job, prefetched, claimed_now).await;
                in_flight
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                drop(permit);
            });
        }
    }
}

async fn ensure_group(redis: &Client, stream: &str) -> Result<(), fred::error::Error> {
    // From the stream's start: jobs appended before the first worker ever ran are handled too.
    match redis
        .xgroup_create::<Value, _, _, _>(stream, GROUP, "0", true)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.to_string().contains("BUSYGROUP") => Ok(()),
        Err(e) => Err(e),
    }
}

async fn read_new(
    redis: &Client,
    stream: &str,
    consumer: &str,
    count: u64,
) -> Result<Vec<Entry>, fred::error::Error> {
    let answer: Value = redis
        .xreadgroup(
            GROUP,
            consumer,
            Some(count),
            Some(BLOCK_MS),
            false,
            stream,
            ">",
        )
        .await?;
    // Nil when the block timed out; else [[stream, [[id, [field, value, …]], …]]] (a map in RESP3).
    let streams = match answer {
        Value::Array(streams) => streams,
        Value::Map(map) => map
            .inner()
            .into_iter()
            .map(|(k, v)| Value::Array(vec![Value::from(k), v]))
            .collect(),
        _ => return Ok(Vec::new()),
    };
    let mut entries = Vec::new();
    for one in streams {
        let Value::Array(mut pair) = one else {
            continue;
        };
        if let Some(Value::Array(list)) = pair.pop() {
            entries.extend(list.into_iter().filter_map(entry_from));
        }
    }
    Ok(entries)
}

/// Aborts a task when dropped (the refresher ends with the worker).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Every `every`, resets the idle time of the jobs this worker is handling (`XCLAIM … JUSTID` to itself), so
/// another worker claims them only once this one stops refreshing them — when it died. Its own task, so a worker
/// whose permits are all taken still refreshes.
async fn keep_fresh(
    ctx: Arc<NodeContext>,
    consumer: String,
    in_flight: Arc<Mutex<HashSet<String>>>,
    every: Duration,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let ids: Vec<String> = in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect();
        if ids.is_empty() {
            continue;
        }
        let refreshed: Result<Value, _> = ctx
            .bus
            .commands()
            .xclaim(
                &ctx.notifications.stream,
                GROUP,
                &consumer,
                0,
                ids,
                None,
                None,
                None,
                false,
                true,
            )
            .await;
        if let Err(e) = refreshed {
            tracing::warn!(error = %e, "notification worker: could not refresh its jobs in Redis");
        }
    }
}

/// Takes over jobs pending with any worker for longer than the claim idle time.
async fn claim(redis: &Client, ctx: &NodeContext, consumer: &str) -> Result<Vec<Entry>, NodeError> {
    let answer: Value = redis
        .xautoclaim(
            &ctx.notifications.stream,
            GROUP,
            consumer,
            ctx.config.notify_claim_idle_ms,
            "0-0",
            Some(100),
            false,
        )
        .await?;
    // Redis 7: [next start, [[id, [field, value, …]], …], [deleted ids]].
    let Value::Array(parts) = answer else {
        return Ok(Vec::new());
    };
    let Some(Value::Array(list)) = parts.into_iter().nth(1) else {
        return Ok(Vec::new());
    };
    Ok(list.into_iter().filter_map(entry_from).collect())
}

fn entry_from(value: Value) -> Option<Entry> {
    let Value::Array(mut pair) = value else {
        return None;
    };
    if pair.len() != 2 {
        return None;
    }
    let fields = pair.pop()?;
    let id = pair.pop()?.as_string()?;
    let Value::Array(flat) = fields else {
        return None;
    };
    let mut map = HashMap::new();
    for kv in flat.chunks_exact(2) {
        map.insert(kv[0].as_string()?, kv[1].as_string()?);
    }
    Some((id, map))
}

/// The notices of the message jobs among `jobs`, looked up together; `None` when the lookup failed.
async fn prefetch_notices(
    ctx: &NodeContext,
    jobs: &[(String, Option<Job>)],
) -> Option<HashMap<(i64, i64), MessageNotice>> {
    let wanted: Vec<(i64, i64)> = jobs
        .iter()
        .filter_map(|(_, job)| match job {
            Some(Job::Message { room_id, seq, .. }) => Some((*room_id, *seq)),
            _ => None,
        })
        .collect();
    match ctx.store.message_notices(&wanted).await {
        Ok(found) => Some(found),
        Err(e) => {
            tracing::warn!(error = %e, jobs = wanted.len(), "notification worker: could not look up the messages of a read; each job tries again");
            None
        }
    }
}

/// Handles one entry (`job`: `None` when it is not understood); `prefetched`: the message's notice when it was
/// looked up with the others of its read (`Some(None)`: the message does not exist); `claimed` when it came from
/// another worker's pending entries (it may have pushed some).
async fn handle_entry(
    ctx: &NodeContext,
    id: &str,
    job: Option<Job>,
    prefetched: Option<Option<MessageNotice>>,
    claimed: bool,
) {
    let result = match job {
        Some(job) => handle_job(ctx, id, claimed, &job, prefetched).await,
        None => {
            tracing::warn!(
                id,
                "notification stream entry this node does not understand; acknowledged"
            );
            Ok(false)
        }
    };
    match result {
        Ok(recorded) => {
            let acked: Result<i64, _> = ctx
                .bus
                .commands()
                .xack(&ctx.notifications.stream, GROUP, id)
                .await;
            match acked {
                // Delivery records exist only where a push was delivered: by this worker, or by the worker
                // whose job this was before it was claimed.
                Ok(_) if recorded || claimed => {
                    if let Err(e) = ctx
                        .notifications
                        .attention
                        .forget_done(ctx.bus.commands(), id)
                        .await
                    {
                        tracing::debug!(error = %e, id, "could not delete a job's delivery record; it expires by itself");
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, id, "could not acknowledge a notification job; it will be claimed again")
                }
            }
        }
        Err(e) => {
            ::metrics::counter!(m::NOTIFY_JOB_FAILURES, "fault" => e.fault().as_str()).increment(1);
            tracing::warn!(error = %e, id, "notification job failed; left pending, to be claimed again");
        }
    }
}

async fn handle_job(
    ctx: &NodeContext,
    id: &str,
    claimed: bool,
    job: &Job,
    prefetched: Option<Option<MessageNotice>>,
) -> Result<bool, NodeError> {
    match job {
        Job::Message {
            room_id,
            seq,
            at_ms,
        } => {
            let notice = match prefetched {
                Some(notice) => notice,
                None => ctx.store.message_notice(*room_id, *seq).await?,
            };
            message_job(ctx, id, claimed, notice, *at_ms).await
        }
        Job::Read {
            room_id,
            user_id,
            device,
            last_read_seq,
            ..
        } => read_job(ctx, *room_id, user_id, *device, *last_read_seq)
            .await
            .map(|()| false),
    }
}

/// One push to one device: sent, retried, and its subscription removed when the service says it is gone.
struct Push<'a> {
    user: &'a str,
    device: &'a PushDevice,
    payload: PushPayload,
    urgent: bool,
}

async fn deliver(ctx: &NodeContext, push: Push<'_>) -> Outcome {
    let notifications = &ctx.notifications;
    let collapse = rules::collapse_key(push.payload.room_id());
    let outcome = match push.device.provider {
        PushProvider::WebPush => match &notifications.web_push {
            Some(sender) => {
                let body = serde_json::to_vec(&push.payload).unwrap_or_default();
                delivery::with_retries(|| sender.send(push.device, &body, &collapse, push.urgent))
                    .await
            }
            None => Outcome::Failed("Web Push is not configured on this node".into()),
        },
        PushProvider::Fcm => match &notifications.fcm {
            Some(sender) => {
                delivery::with_retries(|| {
                    sender.send(&push.device.address, &push.payload, &collapse, push.urgent)
                })
                .await
            }
            None => Outcome::Failed("FCM is not configured on this node".into()),
        },
    };
    ::metrics::counter!(m::NOTIFY_PUSHES, "provider" => push.device.provider.as_str(), "result" => outcome.as_str())
        .increment(1);
    match &outcome {
        Outcome::Gone => {
            match ctx
                .store
                .remove_dead_push_device(push.user, push.device.device, &push.device.address)
                .await
            {
                Ok(_) => tracing::info!(
                    user = push.user,
                    device = push.device.device.as_str(),
                    "push subscription gone; removed"
                ),
                Err(e) => tracing::warn!(error = %e, "could not remove a dead push subscription"),
            }
        }
        Outcome::Failed(why) | Outcome::GaveUp(why) => {
            tracing::warn!(user = push.user, device = push.device.device.as_str(), provider = push.device.provider.as_str(), why = %why, "push not delivered")
        }
        Outcome::Delivered => {}
    }
    outcome
}

async fn message_job(
    ctx: &NodeContext,
    id: &str,
    claimed: bool,
    notice: Option<MessageNotice>,
    at_ms: i64,
) -> Result<bool, NodeError> {
    let Some(notice) = notice else {
        return Ok(false);
    };
    let (room_id, seq) = (notice.room_id, notice.seq);
    if notice.revoked || notice.kind == MessageKind::System || notice.recipients.is_empty() {
        return Ok(false);
    }
    let redis = ctx.bus.commands();
    let notifications = &ctx.notifications;
    let now = jiff::Timestamp::now();
    // A claimed job skips the devices its first worker reached.
    let done = if claimed {
        notifications.attention.done(redis, id).await?
    } else {
        Default::default()
    };
    let mut pushes = Vec::new();
    for recipient in &notice.recipients {
        let attention = notifications
            .attention
            .read(redis, &recipient.user_id)
            .await?;
        let mentioned = rules::mentions(&notice, &recipient.user_id);
        let minute = rules::local_minute(now, &recipient.time_zone, &notifications.default_zone);
        match rules::devices_to_push(recipient, mentioned, minute, &attention) {
            Err(skip) => {
                ::metrics::counter!(m::NOTIFY_SKIPPED, "reason" => skip.as_str()).increment(1);
            }
            Ok(devices) => {
                for device in devices {
                    if done.contains(&format!("{}/{}", recipient.user_id, device.device.as_str())) {
                        continue;
                    }
                    pushes.push(Push {
                        user: &recipient.user_id,
                        device,
                        payload: rules::message_payload(&notice, recipient, mentioned),
                        urgent: true,
                    });
                }
            }
        }
    }
    // Boxed: the futures borrow the notice, and a spawned task needs their type spelled out to be `Send`.
    // Each delivered push is recorded at once, not when the whole job is done: a job held by one slow device
    // and then claimed by another worker must not push again to the devices that already have it.
    type Delivery<'a> = Pin<Box<dyn Future<Output = Result<(), NodeError>> + Send + 'a>>;
    let deliveries: Vec<Delivery<'_>> = pushes
        .into_iter()
        .map(|push| -> Delivery<'_> {
            Box::pin(async move {
                let (user, device) = (push.user, push.device.device);
                if deliver(ctx, push).await == Outcome::Delivered {
                    notifications
                        .attention
                        .record_done(redis, id, user, device)
                        .await?;
                    notifications
                        .attention
                        .mark_pushed(redis, user, room_id, device, seq)
                        .await?;
                    let seconds = (crate::clock::now_ms() - at_ms).max(0) as f64 / 1000.0;
                    ::metrics::histogram!(m::NOTIFY_PUSH_SECONDS).record(seconds);
                }
                Ok(())
            })
        })
        .collect();
    let tried = !deliveries.is_empty();
    let results: Vec<Result<(), NodeError>> = futures_util::stream::iter(deliveries)
        .buffer_unordered(PUSHES_PER_JOB)
        .collect()
        .await;
    results.into_iter().collect::<Result<(), NodeError>>()?;
    Ok(tried)
}

async fn read_job(
    ctx: &NodeContext,
    room_id: i64,
    user: &str,
    reader: DeviceClass,
    last_read_seq: i64,
) -> Result<(), NodeError> {
    let notifications = &ctx.notifications;
    let cleared = notifications
        .attention
        .take_cleared(ctx.bus.commands(), user, room_id, reader, last_read_seq)
        .await?;
    if cleared.is_empty() {
        return Ok(());
    }
    let devices = ctx.store.push_devices(user).await?;
    for device in devices.iter().filter(|d| cleared.contains(&d.device)) {
        let push = Push {
            user,
            device,
            payload: PushPayload::Clear {
                room_id,
                last_read_seq,
            },
            urgent: false,
        };
        deliver(ctx, push).await;
    }
    Ok(())
}

/// Exports the stream's lag, pending entries and the age of the oldest pending one.
async fn export_stats(ctx: &NodeContext) {
    let redis = ctx.bus.commands();
    let stream = &ctx.notifications.stream;
    if let Ok(Value::Array(groups)) = redis.xinfo_groups::<Value, _>(stream).await {
        for group in groups {
            let fields = match group {
                Value::Array(flat) => flat,
                Value::Map(map) => map
                    .inner()
                    .into_iter()
                    .flat_map(|(k, v)| [Value::from(k), v])
                    .collect(),
                _ => continue,
            };
            let get = |name: &str| {
                fields
                    .chunks_exact(2)
                    .find(|kv| kv[0].as_str().as_deref() == Some(name))
                    .map(|kv| kv[1].clone())
            };
            if get("name").and_then(|v| v.as_string()).as_deref() != Some(GROUP) {
                continue;
            }
            if let Some(lag) = get("lag").and_then(|v| v.as_i64()) {
                ::metrics::gauge!(m::NOTIFY_STREAM_LAG).set(lag as f64);
            }
            if let Some(pending) = get("pending").and_then(|v| v.as_i64()) {
                ::metrics::gauge!(m::NOTIFY_PENDING).set(pending as f64);
            }
        }
    }
    // XPENDING summary: [count, smallest id, greatest id, consumers]; an id starts with its Unix ms.
    if let Ok(Value::Array(summary)) = redis.xpending::<Value, _, _, _>(stream, GROUP, ()).await {
        let oldest = summary
            .get(1)
            .and_then(|v| v.as_string())
            .and_then(|id| id.split('-').next()?.parse::<i64>().ok());
        let age = oldest.map_or(0.0, |ms| {
            (crate::clock::now_ms() - ms).max(0) as f64 / 1000.0
        });
        ::metrics::gauge!(m::NOTIFY_OLDEST_PENDING_SECONDS).set(age);
    }
}
