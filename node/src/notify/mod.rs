//! Notifications for people who are not looking: Web Push to browsers and FCM to the Android app.
//!
//! The path of one message: the node that commits it appends one job to a Redis Stream ([`jobs`]) before it
//! answers the send. Notification workers — a role of the node binary, on by default in every node that has
//! a push provider configured — read the stream in one consumer group, so jobs are shared between them. A
//! worker reads the recipients, their settings and devices from PostgreSQL in one query, asks Redis who is
//! connected or in the foreground ([`attention`]), applies the rules ([`rules`]) and sends ([`web_push`],
//! [`fcm`], with retries in [`delivery`]). It acknowledges the job only after every push was attempted; a job
//! whose worker died stays pending and another worker claims it with `XAUTOCLAIM` ([`worker`]).
//!
//! Why a role of the node and not a binary of its own: it needs exactly what a node has (the store, the Redis
//! clients, the metrics endpoint, the configuration), so one binary and one set of settings cover both, and
//! an operator who wants dedicated workers runs nodes that take no client traffic (`SENDJAY_NOTIFY_WORKER`
//! false on the others).

pub mod attention;
pub mod delivery;
pub mod fcm;
pub mod jobs;
pub mod rules;
pub mod web_push;
pub mod worker;

use fred::prelude::Client;
use sendjay_common::keys::KeySchema;
use sendjay_common::protocol::DeviceClass;

use crate::config::NodeConfig;
use crate::error::NodeError;
use jobs::Job;

/// The consumer group every notification worker reads in.
pub const GROUP: &str = "notify";

/// This node's notification settings, providers and Redis scripts.
pub struct Notifications {
    /// The stream's key.
    pub stream: String,
    maxlen: u64,
    /// Web Push, when a VAPID key is configured.
    pub web_push: Option<web_push::WebPushSender>,
    /// FCM, when a service account is configured.
    pub fcm: Option<fcm::FcmSender>,
    /// Foreground flags and push bookkeeping in Redis.
    pub attention: attention::AttentionKeys,
    /// The zone of users without a (known) zone of their own.
    pub default_zone: jiff::tz::TimeZone,
}

impl Notifications {
    /// Builds the providers the configuration names.
    pub fn from_config(config: &NodeConfig, keys: &KeySchema) -> Result<Notifications, NodeError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| NodeError::Internal(format!("HTTP client for push services: {e}")))?;
        let web_push = match &config.vapid_private_key {
            Some(key) => Some(web_push::WebPushSender::new(
                key,
                &config.vapid_subject,
                http.clone(),
            )?),
            None => None,
        };
        let fcm = match &config.fcm_service_account_file {
            Some(file) => Some(fcm::FcmSender::new(
                file,
                &config.fcm_endpoint,
                config.fcm_token_url.as_deref(),
                http,
            )?),
            None => None,
        };
        let default_zone = match &config.default_time_zone {
            Some(zone) => jiff::tz::TimeZone::get(zone)
                .map_err(|e| NodeError::Config(format!("SENDJAY_DEFAULT_TIME_ZONE: {e}")))?,
            None => jiff::tz::TimeZone::system(),
        };
        Ok(Notifications {
            stream: keys.notify_stream(),
            maxlen: config.notify_stream_maxlen,
            web_push,
            fcm,
            attention: attention::AttentionKeys::new(keys.clone()),
            default_zone,
        })
    }

    /// Whether any provider is configured (only then are jobs appended).
    pub fn enabled(&self) -> bool {
        self.web_push.is_some() || self.fcm.is_some()
    }

    /// The VAPID public key for browsers, `""` without Web Push.
    pub fn web_push_key(&self) -> &str {
        self.web_push.as_ref().map_or("", |w| w.public_key())
    }

    async fn append(&self, redis: &Client, job: Job) {
        if !self.enabled() {
            return;
        }
        if let Err(e) = jobs::append(redis, &self.stream, self.maxlen, &job).await {
            // The message is stored and reaches every client by sync; only its push is lost.
            ::metrics::counter!(crate::metrics::NOTIFY_APPEND_FAILURES).increment(1);
            tracing::warn!(error = %e, kind = job.kind(), "could not append a notification job");
        }
    }

    /// A message was committed (also a duplicate send: the first attempt's job may have been lost; the worker
    /// pushes each message to a device once).
    pub async fn message_committed(&self, redis: &Client, room_id: i64, seq: i64) {
        let job = Job::Message {
            room_id,
            seq,
            at_ms: crate::clock::now_ms(),
        };
        self.append(redis, job).await;
    }

    /// A member's read cursor moved.
    pub async fn read_moved(
        &self,
        redis: &Client,
        room_id: i64,
        user_id: &str,
        device: DeviceClass,
        last_read_seq: i64,
    ) {
        let job = Job::Read {
            room_id,
            user_id: user_id.to_owned(),
            device,
            last_read_seq,
            at_ms: crate::clock::now_ms(),
        };
        self.append(redis, job).await;
    }
}
