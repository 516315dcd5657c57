-- The send path (issue 17): what every send wrote besides the message itself, measured with EXPLAIN (ANALYZE,
-- BUFFERS, WAL) on a 30-send batch and taken off the commit where the rules allow (docs/benchmarks.md, "The
-- send path in PostgreSQL").

-- 1. Search keys, off the commit. The trigram index over every message body was more than half of a send's
--    time in PostgreSQL: a pending-list entry per trigram (1.6 kB of WAL per 100-byte message) and, whenever the
--    list was full, a merge inside some unlucky send (1.1 MB of WAL, 18 ms) while that send held its rooms'
--    locks. The keys now live in their own table, filled by each node's search indexer a moment after the
--    commit (node/src/search_indexer.rs). search_progress says up to which seq a room is indexed; search reads
--    the index up to there and the room's newer messages directly, so a result never misses a message.
--    No foreign keys: a key row is written after its message and removed with it by the only code that
--    deletes messages (the load-test cleanup); the indexer's inserts stay free of row locks on messages.
CREATE TABLE message_search_keys (
    room_id  bigint NOT NULL,
    seq      bigint NOT NULL,
    -- sj_search_key(body) of the message's current body ('' once revoked).
    key      text NOT NULL,
    PRIMARY KEY (room_id, seq)
);
CREATE TABLE search_progress (
    room_id      bigint PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
    -- Every message of the room up to this seq has its key row.
    indexed_seq  bigint NOT NULL
);
INSERT INTO message_search_keys (room_id, seq, key) SELECT room_id, seq, sj_search_key(body) FROM messages;
INSERT INTO search_progress (room_id, indexed_seq) SELECT room_id, max(seq) FROM messages GROUP BY room_id;
CREATE INDEX message_search_keys_trigrams ON message_search_keys USING gin (key gin_trgm_ops)
    WITH (gin_pending_list_limit = 256);
DROP INDEX messages_search;

-- 2. The sender's foreign key on messages. Every send is checked against room_members (whose user_id
--    references users), so the check was a second proof of the same fact, and it locked the sender's users
--    row (FOR KEY SHARE: a tuple write and a WAL record per sender per batch).
ALTER TABLE messages DROP CONSTRAINT messages_sender_id_fkey;

-- 3. Read cursors as HOT updates. The index on (room_id, last_read_seq) made every cursor move (the sender's,
--    with every send, and every mark_read) a non-HOT update that wrote all three indexes of room_members. The
--    counts it served (members behind a seq) read the room's members through the primary key instead; the
--    free space per page lets the new row version stay on its page.
DROP INDEX room_members_cursor;
ALTER TABLE room_members SET (fillfactor = 80);
