//! The Redis key and channel schema, in one place so nodes and routers of any version agree on it.
//!
//! Keys about one user share the hash tag `{u:<user>}` so multi-key scripts on them run on one Redis Cluster
//! shard. Channels need no tags: in sharded pub/sub each channel lives on the shard of its own slot, which
//! spreads rooms over the shards.
//!
//! | key / channel | type | holds |
//! |---|---|---|
//! | `<p>:{u:<user>}:sess` | hash, expiring | device class → `<node>/<conn>/<generation>` of the live session |
//! | `<p>:{u:<user>}:gen` | counter | session generation, the fencing token of duplicate-login decisions |
//! | `<p>:node:<node>` | hash, expiring | a node's announcement: url, version, connections, draining |
//! | `<p>:node:<node>:users` | set | users with a session on that node, for cleanup when it dies |
//! | `<p>:nodes` | set | ids of announced nodes (stale ids are swept by survivors) |
//! | `<p>:sso:state:<state>` | string, 10 min | a started single sign-on: PKCE verifier, nonce, device (router, single use) |
//! | `<p>:sso:handoff:<handoff>` | string, 60 s | a finished single sign-on waiting for `/v1/sso/exchange` (router, single use) |
//! | channel `<p>:room:<room>` | pub/sub | pushes for a room's members (encoded `ServerFrame`s) |
//! | channel `<p>:user:<user>` | pub/sub | [`crate::bus::UserEvent`]s for one user's sessions |

/// Builds keys and channel names under a prefix (default `sj`), so several clusters can share a Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySchema {
    prefix: String,
}

impl Default for KeySchema {
    fn default() -> Self {
        KeySchema::new("sj")
    }
}

impl KeySchema {
    /// A schema under `prefix`.
    pub fn new(prefix: &str) -> KeySchema {
        KeySchema {
            prefix: prefix.to_owned(),
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Hash of a user's live sessions, one field per device class.
    pub fn sessions(&self, user: &str) -> String {
        format!("{}:{{u:{user}}}:sess", self.prefix)
    }

    /// A user's session generation counter.
    pub fn generation(&self, user: &str) -> String {
        format!("{}:{{u:{user}}}:gen", self.prefix)
    }

    /// A node's announcement hash.
    pub fn node(&self, node: &str) -> String {
        format!("{}:node:{node}", self.prefix)
    }

    /// The set of users with a session on a node (for cleanup after the node dies).
    pub fn node_users(&self, node: &str) -> String {
        format!("{}:node:{node}:users", self.prefix)
    }

    /// The set of announced node ids.
    pub fn nodes(&self) -> String {
        format!("{}:nodes", self.prefix)
    }

    /// A started single sign-on, under its OAuth `state` (the router takes it once, with GETDEL).
    pub fn sso_state(&self, state: &str) -> String {
        format!("{}:sso:state:{state}", self.prefix)
    }

    /// A finished single sign-on waiting for the client to exchange its one-time handoff.
    pub fn sso_handoff(&self, handoff: &str) -> String {
        format!("{}:sso:handoff:{handoff}", self.prefix)
    }

    /// The pub/sub channel of a room.
    pub fn room_channel(&self, room: i64) -> String {
        format!("{}:room:{room}", self.prefix)
    }

    /// The pub/sub channel of a user's sessions.
    pub fn user_channel(&self, user: &str) -> String {
        format!("{}:user:{user}", self.prefix)
    }

    /// The channel of a user's presence changes: it shares the sessions hash's hash tag, so one script (one
    /// shard) reads the sessions and publishes the change.
    pub fn presence_channel(&self, user: &str) -> String {
        format!("{}:{{u:{user}}}:presence", self.prefix)
    }

    /// The notification stream (a Redis Stream read by the notification workers' consumer group).
    pub fn notify_stream(&self) -> String {
        format!("{}:notify", self.prefix)
    }

    /// The devices a notification job (stream entry `id`) has delivered to, so a worker that claims the job
    /// after its first worker died skips them; deleted when the job is acknowledged.
    pub fn notify_done(&self, id: &str) -> String {
        format!("{}:notify:done:{id}", self.prefix)
    }

    /// Which device classes of a user are in the foreground: device class → the session generation that said so
    /// (a stale entry of an ended session never matches the live record).
    pub fn foreground(&self, user: &str) -> String {
        format!("{}:{{u:{user}}}:foreground", self.prefix)
    }

    /// What was pushed to a user and not yet cleared: `<room>/<device>` → the newest seq pushed.
    pub fn notified(&self, user: &str) -> String {
        format!("{}:{{u:{user}}}:notified", self.prefix)
    }

    /// The user of a presence channel name, if it is one of ours.
    pub fn parse_presence_channel<'a>(&self, channel: &'a str) -> Option<&'a str> {
        channel
            .strip_prefix(&self.prefix)?
            .strip_prefix(":{u:")?
            .strip_suffix("}:presence")
    }

    /// The room id of a room channel name, if it is one of ours.
    pub fn parse_room_channel(&self, channel: &str) -> Option<i64> {
        channel
            .strip_prefix(&self.prefix)?
            .strip_prefix(":room:")?
            .parse()
            .ok()
    }

    /// The user id of a user channel name, if it is one of ours.
    pub fn parse_user_channel<'a>(&self, channel: &'a str) -> Option<&'a str> {
        channel.strip_prefix(&self.prefix)?.strip_prefix(":user:")
    }
}

/// The value stored per device in a user's sessions hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The node that holds the socket.
    pub node: String,
    /// The connection id on that node.
    pub conn: u64,
    /// The generation that session won.
    pub generation: u64,
}

impl SessionRecord {
    /// Encodes as `<node>/<conn>/<generation>`.
    pub fn encode(&self) -> String {
        format!("{}/{}/{}", self.node, self.conn, self.generation)
    }

    /// Parses `<node>/<conn>/<generation>`.
    pub fn parse(text: &str) -> Option<SessionRecord> {
        let mut parts = text.rsplitn(3, '/');
        let generation = parts.next()?.parse().ok()?;
        let conn = parts.next()?.parse().ok()?;
        let node = parts.next()?.to_owned();
        Some(SessionRecord {
            node,
            conn,
            generation,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_a_hash_tag_per_user_and_channels_parse_back() {
        let k = KeySchema::default();
        assert_eq!(k.sessions("alice"), "sj:{u:alice}:sess");
        assert_eq!(k.generation("alice"), "sj:{u:alice}:gen");
        assert_eq!(k.parse_room_channel(&k.room_channel(42)), Some(42));
        assert_eq!(k.parse_user_channel(&k.user_channel("bob")), Some("bob"));
        assert_eq!(k.presence_channel("bob"), "sj:{u:bob}:presence");
        assert_eq!(
            k.parse_presence_channel(&k.presence_channel("bob")),
            Some("bob")
        );
        assert_eq!(k.parse_presence_channel(&k.sessions("bob")), None);
        assert_eq!(k.parse_room_channel("other:room:1"), None);
        let rec = SessionRecord {
            node: "n-1".into(),
            conn: 9,
            generation: 3,
        };
        assert_eq!(SessionRecord::parse(&rec.encode()), Some(rec));
    }
}
