//! Finding messages in a room: a text substring (Korean or any script, through the trigram index over
//! `sj_search_key(body)` in `message_search_keys`, see [`super::search_keys`]), one member's messages, and the room's images, files
//! and links. Filters combine; revoked messages, system messages, messages the caller deleted for themselves
//! and messages of a chat the caller cleared are never returned.

use sendjay_common::protocol::{MediaFilter, Message};
use tokio_postgres::types::ToSql;

use super::{message_columns, not_cleared_for, page_of, require_member, Store, QUOTE_JOIN};
use crate::error::NodeError;

/// What to look for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageQuery {
    /// Case-insensitive substring of the body.
    pub text: Option<String>,
    /// Only this sender.
    pub sender_id: Option<String>,
    /// Only images, files or links.
    pub media: Option<MediaFilter>,
    /// Only below this seq.
    pub before_seq: Option<i64>,
}

impl Store {
    /// Matching messages of a room the caller is in, newest first, and whether older matches exist.
    pub async fn search(
        &self,
        user_id: &str,
        room_id: i64,
        query: &MessageQuery,
        limit: u32,
    ) -> Result<(Vec<Message>, bool), NodeError> {
        let client = self.get().await?;
        let _query = crate::metrics::Timer::db("search");
        require_member(&**client, user_id, room_id).await?;
        let before = query.before_seq.unwrap_or(i64::MAX);
        let fetch = limit as i64 + 1;
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&room_id, &user_id, &before, &fetch];
        let mut filters = String::new();
        if let Some(text) = &query.text {
            params.push(text);
            let n = params.len();
            // The trigram index of the keys narrows; strpos on the real text makes the match exact.
            filters.push_str(&super::search_keys::text_condition(n));
        }
        if let Some(sender) = &query.sender_id {
            params.push(sender);
            filters.push_str(&format!(" AND m.sender_id = ${}", params.len()));
        }
        match query.media {
            Some(MediaFilter::Image) => filters.push_str(" AND m.kind = 'image'"),
            Some(MediaFilter::File) => filters.push_str(" AND m.kind IN ('file', 'file_link')"),
            Some(MediaFilter::Link) => filters.push_str(" AND m.has_link"),
            None => {}
        }
        let sql = format!(
            "SELECT {} FROM messages m {QUOTE_JOIN}
              WHERE m.room_id = $1 AND m.seq < $3 AND m.revoked_at IS NULL AND m.kind <> 'system'
                AND NOT EXISTS (SELECT 1 FROM message_hidden h
                                 WHERE h.user_id = $2 AND h.room_id = m.room_id AND h.seq = m.seq)
                AND {cleared}
                {filters}
              ORDER BY m.seq DESC LIMIT $4",
            message_columns("m.body", Some(2)),
            cleared = not_cleared_for(2)
        );
        let rows = client.query(&sql, &params).await?;
        Ok(page_of(&rows, limit))
    }
}
