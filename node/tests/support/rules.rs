//! Helpers for the business-rule tests (`rules_*.rs`): calls that must succeed or fail with a given code,
//! pushes matching a predicate, and direct SQL for setup and for checking that refused calls changed nothing.

use std::time::Duration;

use sendjay_client::{ClientError, Connection};
use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::{Call, Message, MessageRef, Push, Reply, SearchArgs, SendArgs};

use super::TestCluster;

/// Calls and returns the reply, panicking with the error otherwise.
pub async fn ok(client: &Connection, call: Call) -> Reply {
    let op = call.op();
    match client.call(call).await {
        Ok(reply) => reply,
        Err(e) => panic!("{op} failed: {e:?}"),
    }
}

/// Calls and asserts the server answers with `code`.
pub async fn refused(client: &Connection, call: Call, code: ErrorCode) {
    let op = call.op();
    match client.call(call).await {
        Err(ClientError::Server { code: got, message }) => {
            assert_eq!(
                got, code,
                "{op}: expected {code:?}, got {got:?} ({message})"
            )
        }
        other => panic!("{op}: expected error {code:?}, got {other:?}"),
    }
}

/// Waits up to 5 s for a push matching `pred`, skipping others.
pub async fn push_where(client: &Connection, what: &str, pred: impl Fn(&Push) -> bool) -> Push {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match client.next_push(left).await {
            Some(push) if pred(&push) => return push,
            Some(_) => continue,
            None => panic!("no push {what} within 5 s"),
        }
    }
}

/// Whether a push matching `pred` arrives within `wait`.
pub async fn no_push_where(
    client: &Connection,
    wait: Duration,
    pred: impl Fn(&Push) -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return true;
        }
        match client.next_push(left).await {
            Some(push) if pred(&push) => return false,
            Some(_) => continue,
            None => return true,
        }
    }
}

/// The seqs a text search in `room` finds for `client`, newest first (the first page).
pub async fn search_seqs(client: &Connection, room: i64, text: &str) -> Vec<i64> {
    match ok(
        client,
        Call::Search(SearchArgs {
            room_id: room,
            query: Some(text.into()),
            ..Default::default()
        }),
    )
    .await
    {
        Reply::Search { messages, .. } => messages.iter().map(|m| m.seq).collect(),
        other => panic!("{other:?}"),
    }
}

/// Sends a text and returns the stored message.
pub async fn say(client: &Connection, room: i64, id: &str, body: &str) -> Message {
    match ok(
        client,
        Call::Send(SendArgs {
            room_id: room,
            client_msg_id: id.into(),
            body: body.into(),
        }),
    )
    .await
    {
        Reply::Send { message, .. } => message,
        other => panic!("unexpected {other:?}"),
    }
}

/// The messages a refusal test needs, sent by `sender` in `room`: seq 1 plain, 2 revoked, 3 deleted by `hider` for
/// themselves, 4 a system message (the pin of 1).
pub async fn messages_to_refuse(sender: &Connection, hider: &Connection, room: i64) {
    for (id, body) in [
        ("f-1", "plain"),
        ("f-2", "revoked"),
        ("f-3", "deleted for one"),
    ] {
        say(sender, room, id, body).await;
    }
    let at = |seq| MessageRef { room_id: room, seq };
    ok(sender, Call::Revoke(at(2))).await;
    ok(hider, Call::DeleteForMe(at(3))).await;
    ok(sender, Call::PinMessage(at(1))).await;
}

impl TestCluster {
    /// Makes a user an admin.
    pub async fn make_admin(&self, user: &str) {
        self.db()
            .execute("UPDATE users SET role = 'admin' WHERE id = $1", &[&user])
            .await
            .expect("make admin");
    }

    /// Retires a user directly in the database (no session closing: for setups).
    pub async fn retire(&self, user: &str) {
        self.db()
            .execute(
                "UPDATE users SET retired_at = now() WHERE id = $1",
                &[&user],
            )
            .await
            .expect("retire");
    }

    /// One integer from a single-value query (of any integer type).
    pub async fn count(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> i64 {
        let sql = format!("SELECT ({sql})::bigint");
        self.db().query_one(&sql, params).await.expect(&sql).get(0)
    }

    /// A fingerprint of everything a refused call must leave alone: rooms (with their options), members, read and cleared cursors,
    /// messages (with edits and change counters), hidden marks, settings, passkeys, retirements, push subscriptions, saved and
    /// pinned messages, earlier texts of edited messages, reactions.
    pub async fn fingerprint(&self) -> String {
        let row = self
            .db()
            .query_one(
                "SELECT md5(coalesce((SELECT string_agg(concat_ws('|', id, kind, name, last_seq, member_count, members_hidden, change_seq), ',' ORDER BY id) FROM rooms), '')
                     || coalesce((SELECT string_agg(concat_ws('|', room_id, user_id, last_read_seq, nickname, notifications, cleared_seq), ',' ORDER BY room_id, user_id) FROM room_members), '')
                     || coalesce((SELECT string_agg(concat_ws('|', room_id, seq, kind, body, revoked_at, file::text, edited_at, change_seq), ',' ORDER BY room_id, seq) FROM messages), '')
                     || coalesce((SELECT string_agg(concat_ws('|', user_id, room_id, seq), ',' ORDER BY user_id, room_id, seq) FROM message_hidden), '')
                     || coalesce((SELECT string_agg(concat_ws('|', user_id, notifications_off, notify_from, time_zone), ',' ORDER BY user_id) FROM user_settings), '')
                     || coalesce((SELECT string_agg(concat_ws('|', id, passkey, retired_at, nickname, mobile_installed), ',' ORDER BY id) FROM users), '')
                     || coalesce((SELECT string_agg(concat_ws('|', low_user, high_user, room_id), ',' ORDER BY room_id) FROM direct_pairs), '')
                     || coalesce((SELECT string_agg(concat_ws('|', user_id, device, provider, address), ',' ORDER BY user_id, device) FROM push_devices), '')
                     || coalesce((SELECT string_agg(concat_ws('|', user_id, room_id, seq), ',' ORDER BY user_id, room_id, seq) FROM saved_messages), '')
                     || coalesce((SELECT string_agg(concat_ws('|', room_id, seq, pinned_by), ',' ORDER BY room_id, seq) FROM pinned_messages), '')
                     || coalesce((SELECT string_agg(concat_ws('|', room_id, seq, edited_by, old_body), ',' ORDER BY room_id, seq, edited_at) FROM message_edits), '')
                     || coalesce((SELECT string_agg(concat_ws('|', room_id, seq, emoji, user_id), ',' ORDER BY room_id, seq, emoji, user_id) FROM message_reactions), ''))",
                &[],
            )
            .await
            .expect("fingerprint");
        row.get(0)
    }
}

/// Prints the nodes' warnings (failed requests name their cause) in the test's output.
pub fn show_node_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_test_writer()
        .try_init();
}
