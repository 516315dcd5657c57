//! What Redis knows about whether a user is looking, what was pushed to them and not yet cleared, and which
//! devices a notification job has already reached.
//!
//! The user's keys share the hash tag of the sessions hash, so one script reads them together on one shard: the
//! live session records and the foreground flags (each the generation of the session that set it, so a flag left
//! by an ended session never counts); beside them, the newest seq pushed per room and device class, which a read
//! clears. A job's deliveries are kept under the job's own key until it is acknowledged.

use std::collections::HashSet;

use fred::prelude::*;
use fred::types::scripts::Script;
use sendjay_common::keys::{KeySchema, SessionRecord};
use sendjay_common::protocol::DeviceClass;

use super::rules::Attention;
use crate::error::NodeError;

/// How long the per-user notification bookkeeping lives without a change.
const NOTIFIED_TTL_SECS: i64 = 7 * 24 * 3600;

/// KEYS: sessions, foreground. Returns the sessions hash and the foreground hash, both flat.
const READ_ATTENTION: &str = r#"
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
"#;

/// KEYS: notified; ARGV: field, seq, ttl. Raises the field to seq (never lowers it).
const MARK_PUSHED: &str = r#"
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > current then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"#;

/// KEYS: notified; ARGV: room, reader's device class, last read seq. Removes the room's entries that the read
/// covers and returns the other device classes that must be cleared.
const TAKE_CLEARED: &str = r#"
local cleared = {}
for _, device in ipairs({'web', 'mobile'}) do
  local field = ARGV[1] .. '/' .. device
  local seq = tonumber(redis.call('HGET', KEYS[1], field) or '-1')
  if seq >= 0 and seq <= tonumber(ARGV[3]) then
    redis.call('HDEL', KEYS[1], field)
    if device ~= ARGV[2] then
      table.insert(cleared, device)
    end
  end
end
return cleared
"#;

/// The scripts and key names.
pub struct AttentionKeys {
    keys: KeySchema,
    read: Script,
    mark: Script,
    take: Script,
}

fn pairs(flat: &[String]) -> impl Iterator<Item = (&str, &str)> {
    flat.chunks_exact(2).map(|p| (p[0].as_str(), p[1].as_str()))
}

impl AttentionKeys {
    /// The scripts over `keys`.
    pub fn new(keys: KeySchema) -> AttentionKeys {
        AttentionKeys {
            keys,
            read: Script::from_lua(READ_ATTENTION),
            mark: Script::from_lua(MARK_PUSHED),
            take: Script::from_lua(TAKE_CLEARED),
        }
    }

    /// Records whether the session of `device` with `generation` is in the foreground.
    pub async fn set_foreground(
        &self,
        redis: &Client,
        user: &str,
        device: DeviceClass,
        generation: u64,
        foreground: bool,
    ) -> Result<(), NodeError> {
        let key = self.keys.foreground(user);
        if foreground {
            let _: () = redis
                .hset(&key, (device.as_str(), generation.to_string()))
                .await?;
            let _: () = redis.expire(&key, NOTIFIED_TTL_SECS, None).await?;
        } else {
            let _: () = redis.hdel(&key, device.as_str()).await?;
        }
        Ok(())
    }

    /// Reads which device classes of `user` are connected and whether one is in the foreground.
    pub async fn read(&self, redis: &Client, user: &str) -> Result<Attention, NodeError> {
        let keys = vec![self.keys.sessions(user), self.keys.foreground(user)];
        let (sessions, foreground): (Vec<String>, Vec<String>) = self
            .read
            .evalsha_with_reload(redis, keys, Vec::<String>::new())
            .await?;
        let mut state = Attention::default();
        for (device, record) in pairs(&sessions) {
            let (Some(device), Some(record)) =
                (DeviceClass::parse(device), SessionRecord::parse(record))
            else {
                continue;
            };
            state.connected.insert(device);
            let said = pairs(&foreground).any(|(d, generation)| {
                d == device.as_str() && generation == record.generation.to_string()
            });
            state.foreground |= said;
        }
        Ok(state)
    }

    /// Records that job `job` delivered to `user`'s `device` (kept a day at most, deleted at the job's ack).
    pub async fn record_done(
        &self,
        redis: &Client,
        job: &str,
        user: &str,
        device: DeviceClass,
    ) -> Result<(), NodeError> {
        let key = self.keys.notify_done(job);
        let _: () = redis
            .hset(&key, (format!("{user}/{}", device.as_str()), "1"))
            .await?;
        let _: () = redis.expire(&key, 24 * 3600, None).await?;
        Ok(())
    }

    /// The `user/device` pairs job `job` has delivered to.
    pub async fn done(&self, redis: &Client, job: &str) -> Result<HashSet<String>, NodeError> {
        let fields: Vec<String> = redis.hkeys(self.keys.notify_done(job)).await?;
        Ok(fields.into_iter().collect())
    }

    /// Forgets job `job`'s deliveries (it is acknowledged: nobody claims it again).
    pub async fn forget_done(&self, redis: &Client, job: &str) -> Result<(), NodeError> {
        let _: i64 = redis.del(self.keys.notify_done(job)).await?;
        Ok(())
    }

    /// Records that `seq` of `room` was pushed to `device`.
    pub async fn mark_pushed(
        &self,
        redis: &Client,
        user: &str,
        room: i64,
        device: DeviceClass,
        seq: i64,
    ) -> Result<(), NodeError> {
        let _: i64 = self
            .mark
            .evalsha_with_reload(
                redis,
                vec![self.keys.notified(user)],
                vec![
                    format!("{room}/{}", device.as_str()),
                    seq.to_string(),
                    NOTIFIED_TTL_SECS.to_string(),
                ],
            )
            .await?;
        Ok(())
    }

    /// Forgets what a read covers and returns the other device classes whose notification must be cleared.
    pub async fn take_cleared(
        &self,
        redis: &Client,
        user: &str,
        room: i64,
        reader: DeviceClass,
        last_read_seq: i64,
    ) -> Result<HashSet<DeviceClass>, NodeError> {
        let cleared: Vec<String> = self
            .take
            .evalsha_with_reload(
                redis,
                vec![self.keys.notified(user)],
                vec![
                    room.to_string(),
                    reader.as_str().to_owned(),
                    last_read_seq.to_string(),
                ],
            )
            .await?;
        Ok(cleared
            .iter()
            .filter_map(|d| DeviceClass::parse(d))
            .collect())
    }
}
