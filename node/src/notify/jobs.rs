//! Notification jobs: what a node appends to the Redis Stream after a commit, and how a worker reads it back.
//!
//! A job names the event, not its recipients: the worker reads members, settings and devices from PostgreSQL
//! when it handles the job, so a send pays for one `XADD` whatever the room's size.

use std::collections::HashMap;

use fred::prelude::*;
use sendjay_common::protocol::DeviceClass;

use crate::error::NodeError;
use crate::metrics as m;

/// One entry of the notification stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// A message was committed: tell members who are not looking.
    Message {
        /// The room.
        room_id: i64,
        /// The message's seq.
        seq: i64,
        /// When the job was appended, Unix milliseconds (for the commit-to-push latency).
        at_ms: i64,
    },
    /// A member's read cursor moved: clear what was pushed to their other devices.
    Read {
        /// The room.
        room_id: i64,
        /// Who read.
        user_id: String,
        /// The device class they read on (its own notifications are cleared by the client).
        device: DeviceClass,
        /// The cursor now.
        last_read_seq: i64,
        /// When the job was appended, Unix milliseconds.
        at_ms: i64,
    },
}

impl Job {
    /// The metrics label of the job's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Message { .. } => "message",
            Job::Read { .. } => "read",
        }
    }

    fn fields(&self) -> Vec<(&'static str, String)> {
        match self {
            Job::Message {
                room_id,
                seq,
                at_ms,
            } => vec![
                ("k", "m".into()),
                ("room", room_id.to_string()),
                ("seq", seq.to_string()),
                ("at", at_ms.to_string()),
            ],
            Job::Read {
                room_id,
                user_id,
                device,
                last_read_seq,
                at_ms,
            } => vec![
                ("k", "r".into()),
                ("room", room_id.to_string()),
                ("user", user_id.clone()),
                ("dev", device.as_str().into()),
                ("seq", last_read_seq.to_string()),
                ("at", at_ms.to_string()),
            ],
        }
    }

    /// Reads a job from a stream entry's fields; `None` for an entry this version does not understand.
    pub fn from_fields(fields: &HashMap<String, String>) -> Option<Job> {
        let number = |name: &str| fields.get(name)?.parse::<i64>().ok();
        let room_id = number("room")?;
        let at_ms = number("at")?;
        match fields.get("k")?.as_str() {
            "m" => Some(Job::Message {
                room_id,
                seq: number("seq")?,
                at_ms,
            }),
            "r" => Some(Job::Read {
                room_id,
                user_id: fields.get("user")?.clone(),
                device: DeviceClass::parse(fields.get("dev")?)?,
                last_read_seq: number("seq")?,
                at_ms,
            }),
            _ => None,
        }
    }
}

/// Appends a job, trimming the stream to about `maxlen` entries (`MAXLEN ~`: Redis trims whole nodes, cheaply).
pub async fn append(redis: &Client, stream: &str, maxlen: u64, job: &Job) -> Result<(), NodeError> {
    let _: String = redis
        .xadd(
            stream,
            false,
            ("MAXLEN", "~", maxlen as i64),
            "*",
            job.fields(),
        )
        .await?;
    metrics::counter!(m::NOTIFY_JOBS, "kind" => job.kind()).increment(1);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(job: Job) -> Option<Job> {
        let fields: HashMap<String, String> = job
            .fields()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        Job::from_fields(&fields)
    }

    #[test]
    fn jobs_round_trip_through_stream_fields() {
        let message = Job::Message {
            room_id: 7,
            seq: 42,
            at_ms: 1_700_000_000_000,
        };
        assert_eq!(round_trip(message.clone()), Some(message));
        let read = Job::Read {
            room_id: 7,
            user_id: "kim".into(),
            device: DeviceClass::Mobile,
            last_read_seq: 42,
            at_ms: 1,
        };
        assert_eq!(round_trip(read.clone()), Some(read));
    }

    #[test]
    fn unknown_or_broken_entries_are_not_jobs() {
        let mut fields = HashMap::new();
        fields.insert("k".to_owned(), "x".to_owned());
        fields.insert("room".to_owned(), "1".to_owned());
        fields.insert("at".to_owned(), "1".to_owned());
        assert_eq!(Job::from_fields(&fields), None);
        fields.insert("k".to_owned(), "m".to_owned());
        assert_eq!(Job::from_fields(&fields), None, "a message job needs a seq");
    }
}
