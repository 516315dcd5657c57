-- Search across all of a user's rooms (`search_all`, docs/protocol.md §6.11).
--
-- A term found in few messages is looked up in the trigram index of the keys, as in one room. A common term
-- (thousands of matches) would make that index return every match only for the newest few to be shown, so
-- search_all then walks the keys newest first instead and stops at a page: for that it needs each key's time.
-- The time is copied from the message by whoever writes the key (the search indexer, an edit, a revoke), never
-- by the send itself, so the send path keeps its one index write on messages.
ALTER TABLE message_search_keys ADD COLUMN created_at timestamptz;
UPDATE message_search_keys k SET created_at = m.created_at
  FROM messages m WHERE m.room_id = k.room_id AND m.seq = k.seq;
-- Keys of messages that no longer exist (only the load-test cleanup deletes messages) are dropped.
DELETE FROM message_search_keys WHERE created_at IS NULL;
ALTER TABLE message_search_keys ALTER COLUMN created_at SET NOT NULL;
CREATE INDEX message_search_keys_recent ON message_search_keys (created_at, room_id, seq);
