-- The corpus of node/tests/bench_search_all.rs, for looking at plans by hand (docs/benchmarks.md, "Cross-room
-- search"): 12 users, 300 rooms, 1 000 000 messages, their search keys, as the benchmark writes them.
-- Run against a scratch database that has every migration applied, e.g.
--   createdb -T template0 -E UTF8 --lc-collate=C --lc-ctype=C sjb
--   for f in migrations/*.sql; do psql -q -v ON_ERROR_STOP=1 -d sjb -f "$f"; done
--   psql -v ON_ERROR_STOP=1 -d sjb -f scripts/search-all-corpus.sql     (about 75 s on 2 cores)
-- then scripts/search-all-explain.sql. Never against a real database: it writes users, rooms and messages.
INSERT INTO users (id, display_name, password_hash, passkey)
  SELECT 'sender' || i, 'sender' || i, 'x', 'p' FROM generate_series(0, 9) i;
INSERT INTO users (id, display_name, password_hash, passkey) VALUES ('everywhere','e','x','p'), ('tenrooms','t','x','p');
INSERT INTO rooms (kind, name) SELECT 'group', 'r' || i FROM generate_series(1, 300) i;
INSERT INTO room_members (room_id, user_id) SELECT r.id, u.id FROM rooms r, users u WHERE u.id LIKE 'sender%' OR u.id = 'everywhere';
INSERT INTO room_members (room_id, user_id) SELECT r.id, 'tenrooms' FROM rooms r ORDER BY r.id LIMIT 10;
SELECT setseed(0.18);
CREATE TABLE vocab AS
  SELECT row_number() OVER () - 1 AS n, w FROM unnest(ARRAY[
    '회의', 'meeting', '확인', 'please', '자료', 'report', '오늘', 'today', '일정', 'schedule', '점심', 'lunch',
    '고객', 'customer', '배포', 'deploy', '검토', 'review', '예산', 'budget', '출장', 'travel', '계약', 'contract'
  ]) AS w
  UNION ALL
  SELECT 24 + i, CASE WHEN i % 2 = 0 THEN 'proj' || i ELSE chr(44032 + (i * 7919) % 11172) || chr(44032 + (i * 104729) % 11172) || i END
    FROM generate_series(0, 19975) AS i;
CREATE INDEX ON vocab (n);
ANALYZE vocab;
INSERT INTO messages (room_id, seq, sender_id, client_msg_id, kind, body, created_at)
  SELECT r.ids[1 + i % 300], 1 + i / 300, 'sender' || (i % 10), 'b' || i, 'text',
         (SELECT string_agg(v.w, ' ') FROM (SELECT floor(power(random(), 3) * 20000)::bigint + 0 * i AS n FROM generate_series(1, 6)) AS g JOIN vocab v ON v.n = g.n),
         now() - interval '365 days' + (i * interval '365 days') / 1000000
    FROM generate_series(0, 999999) AS i, (SELECT array_agg(id ORDER BY id) AS ids FROM rooms) AS r;
UPDATE rooms r SET last_seq = m.top FROM (SELECT room_id, max(seq) AS top FROM messages GROUP BY room_id) m WHERE r.id = m.room_id;
DROP INDEX message_search_keys_trigrams; DROP INDEX message_search_keys_recent;
INSERT INTO message_search_keys (room_id, seq, key, created_at) SELECT room_id, seq, sj_search_key(body), created_at FROM messages;
INSERT INTO search_progress (room_id, indexed_seq) SELECT room_id, max(seq) FROM messages GROUP BY room_id;
CREATE INDEX message_search_keys_trigrams ON message_search_keys USING gin (key gin_trgm_ops) WITH (gin_pending_list_limit = 256);
CREATE INDEX message_search_keys_recent ON message_search_keys (created_at, room_id, seq);
