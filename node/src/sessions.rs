//! User-socket keys in Redis and the one-session-per-device-class rule.
//!
//! Claiming a session is one Lua script on the user's keys (same hash tag, so it runs on one shard): it takes
//! the next generation number and records `<node>/<conn>/<generation>` for the device class. The highest
//! generation wins; the winner publishes a `Close` for older generations, and every new session re-reads the
//! record after registering locally, so two logins racing on two nodes always end with exactly one session.
//! An automatic launch (`launch=auto`, a web messenger embedded in a portal page) never evicts: it is refused
//! while a live session of its class exists.
//!
//! Redis may lose these keys (a restart without persistence, a failover to a replica that had not caught up).
//! Two things keep the rule exact anyway. The generation is never lower than the Redis server's clock in
//! microseconds, so a counter that starts again from nothing still hands out generations above every earlier
//! one (a fencing token that survives the loss of its counter). And the nodes [`Sessions::repair`] their live
//! sessions when they reconnect or find a record missing: the record comes back, the counter is raised to at
//! least its generation, and a session that a newer login superseded meanwhile learns it and leaves.

use fred::prelude::*;
use fred::types::scripts::Script;
use sendjay_common::keys::{KeySchema, SessionRecord};
use sendjay_common::protocol::DeviceClass;

use crate::error::NodeError;

/// Reads the device classes holding a session and publishes them (`web,mobile`, sorted) on the user's presence
/// channel, in one step: two changes of one user publish in the order Redis applied them, so the last push a
/// watcher gets is the state now. ARGV[1] is `PUBLISH` or, on a Redis Cluster, `SPUBLISH` (same hash tag).
const PRESENCE: &str = r#"
local devices = redis.call('HKEYS', KEYS[1])
table.sort(devices)
return redis.call(ARGV[1], KEYS[2], table.concat(devices, ','))
"#;

const CLAIM: &str = r#"
local current = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[5] == 'auto' and current then
  return {0, current}
end
local gen = redis.call('INCR', KEYS[2])
local now = redis.call('TIME')
local floor = now[1] .. string.format('%06d', tonumber(now[2]))
if gen < tonumber(floor) then
  redis.call('SET', KEYS[2], floor)
  gen = tonumber(floor)
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '/' .. ARGV[3] .. '/' .. string.format('%d', gen))
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {gen, current or ''}
"#;

/// Puts a live session's record back unless a newer generation holds its device class: 1 = it was there,
/// 2 = restored (the counter raised to at least its generation), 3 = restored over an older generation's
/// record (that session must be told to leave), 0 = superseded by a newer generation.
const REPAIR: &str = r#"
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current == ARGV[2] then
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  return 1
end
local replaced = 0
if current then
  local held = tonumber(string.match(current, '/([0-9]+)$'))
  if held and held > tonumber(ARGV[3]) then
    return 0
  end
  replaced = 1
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
local counter = tonumber(redis.call('GET', KEYS[2]) or '0')
if counter < tonumber(ARGV[3]) then
  redis.call('SET', KEYS[2], ARGV[3])
end
return 2 + replaced
"#;

const RELEASE: &str = r#"
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
"#;

/// How the client was started, from the `launch` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launch {
    /// The user opened the messenger: evicts an older session of the same class.
    Manual,
    /// Started automatically in the background: never evicts, refused when a session is running.
    Auto,
}

impl Launch {
    /// Parses `manual` (default) or `auto`.
    pub fn parse(text: Option<&str>) -> Launch {
        match text {
            Some("auto") => Launch::Auto,
            _ => Launch::Manual,
        }
    }
}

/// The outcome of a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This session now holds the device class with this generation; `replaced` is the record it evicts.
    Won {
        /// The generation won.
        generation: u64,
        /// The session replaced, if any.
        replaced: Option<SessionRecord>,
    },
    /// An automatic launch found a session running.
    Running(SessionRecord),
}

/// What [`Sessions::repair`] found for one live session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    /// The record was in place (its life was extended).
    Held,
    /// The record was missing and is back.
    Restored,
    /// The record is back over an older generation's record: that older session must be closed.
    RestoredOverOlder,
    /// A newer generation holds the device class: this session must leave.
    Superseded,
}

/// Session records of users in Redis.
pub struct Sessions {
    keys: KeySchema,
    claim: Script,
    repair: Script,
    release: Script,
    presence: Script,
    ttl_secs: u64,
}

impl Sessions {
    /// Session records under `keys` that expire after `ttl_secs` without a refresh.
    pub fn new(keys: KeySchema, ttl_secs: u64) -> Sessions {
        Sessions {
            keys,
            claim: Script::from_lua(CLAIM),
            repair: Script::from_lua(REPAIR),
            release: Script::from_lua(RELEASE),
            presence: Script::from_lua(PRESENCE),
            ttl_secs,
        }
    }

    /// Claims the device class of `user` for connection `conn` of `node`.
    pub async fn claim(
        &self,
        redis: &Client,
        user: &str,
        device: DeviceClass,
        node: &str,
        conn: u64,
        launch: Launch,
    ) -> Result<Claim, NodeError> {
        let _redis = crate::metrics::Timer::redis("session_claim");
        let mode = match launch {
            Launch::Manual => "manual",
            Launch::Auto => "auto",
        };
        let keys = vec![self.keys.sessions(user), self.keys.generation(user)];
        let args = vec![
            device.as_str().to_owned(),
            node.to_owned(),
            conn.to_string(),
            self.ttl_secs.to_string(),
            mode.to_owned(),
        ];
        let (generation, current): (u64, String) =
            self.claim.evalsha_with_reload(redis, keys, args).await?;
        let current = SessionRecord::parse(&current);
        if generation == 0 {
            return match current {
                Some(record) => Ok(Claim::Running(record)),
                None => Err(NodeError::Internal(
                    "claim script returned no generation".into(),
                )),
            };
        }
        Ok(Claim::Won {
            generation,
            replaced: current,
        })
    }

    /// Tells the nodes watching `user` which device classes are connected now (see [`PRESENCE`]); `sharded`
    /// on a Redis Cluster. Returns how many subscribers Redis reached (0 when nobody watches).
    pub async fn announce_presence(
        &self,
        redis: &Client,
        user: &str,
        sharded: bool,
    ) -> Result<i64, NodeError> {
        let _redis = crate::metrics::Timer::redis("presence_publish");
        let command = if sharded { "SPUBLISH" } else { "PUBLISH" };
        Ok(self
            .presence
            .evalsha_with_reload(
                redis,
                vec![self.keys.sessions(user), self.keys.presence_channel(user)],
                vec![command.to_owned()],
            )
            .await?)
    }

    /// The record currently held for `user` and `device`.
    pub async fn current(
        &self,
        redis: &Client,
        user: &str,
        device: DeviceClass,
    ) -> Result<Option<SessionRecord>, NodeError> {
        let _redis = crate::metrics::Timer::redis("session_current");
        let value: Option<String> = redis
            .hget(self.keys.sessions(user), device.as_str())
            .await?;
        Ok(value.as_deref().and_then(SessionRecord::parse))
    }

    /// Removes the record if it is still this session's.
    pub async fn release(
        &self,
        redis: &Client,
        user: &str,
        device: DeviceClass,
        record: &SessionRecord,
    ) -> Result<bool, NodeError> {
        let _redis = crate::metrics::Timer::redis("session_release");
        let removed: i64 = self
            .release
            .evalsha_with_reload(
                redis,
                vec![self.keys.sessions(user)],
                vec![device.as_str().to_owned(), record.encode()],
            )
            .await?;
        Ok(removed == 1)
    }

    /// Puts `record`, held by a live session of `user`, back in Redis unless a newer generation holds its
    /// device class (see [`REPAIR`]).
    pub async fn repair(
        &self,
        redis: &Client,
        user: &str,
        device: DeviceClass,
        record: &SessionRecord,
    ) -> Result<Repair, NodeError> {
        let _redis = crate::metrics::Timer::redis("session_repair");
        let outcome: i64 = self
            .repair
            .evalsha_with_reload(
                redis,
                vec![self.keys.sessions(user), self.keys.generation(user)],
                vec![
                    device.as_str().to_owned(),
                    record.encode(),
                    record.generation.to_string(),
                    self.ttl_secs.to_string(),
                ],
            )
            .await?;
        Ok(match outcome {
            0 => Repair::Superseded,
            1 => Repair::Held,
            2 => Repair::Restored,
            _ => Repair::RestoredOverOlder,
        })
    }

    /// Extends the life of the records of `users` (called periodically by the node holding them); returns
    /// the users whose record was missing (Redis lost it: the caller repairs them).
    pub async fn refresh(
        &self,
        redis: &Client,
        users: &[std::sync::Arc<str>],
    ) -> Result<Vec<std::sync::Arc<str>>, NodeError> {
        let _redis = crate::metrics::Timer::redis("session_refresh");
        let mut missing = Vec::new();
        for batch in users.chunks(1000) {
            let pipeline = redis.pipeline();
            for user in batch {
                let _: () = pipeline
                    .expire(self.keys.sessions(user), self.ttl_secs as i64, None)
                    .await?;
            }
            let extended: Vec<Value> = pipeline.all().await?;
            for (user, extended) in batch.iter().zip(extended) {
                if extended.as_i64() == Some(0) {
                    missing.push(user.clone());
                }
            }
        }
        Ok(missing)
    }
}
