-- sendjay schema v2: the messenger's business rules (issue #3).
-- Directory fields and settings, 1:1 pair uniqueness, member counts, per-member room preferences, rich messages
-- (replies, files, forwards, revokes, system events), per-user hidden messages and substring search.

-- pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The text pg_trgm indexes for substring search, independent of the database's locale.
--
-- pg_trgm only makes trigrams of "word characters", and under the C locale (or any non-UTF-8 LC_CTYPE) no Korean
-- character is one: a trigram index on the raw text cannot find Korean at all. Even under a UTF-8 locale a
-- two-syllable word such as 회의 yields no trigram usable for LIKE '%회의%', so the commonest Korean searches
-- would scan. This key spells every non-ASCII character as 4 base-36 digits of its code point (ASCII is kept,
-- lower-cased), so a substring of the text is a substring of the key, one Korean syllable is already 4 key
-- characters (2 usable trigrams, with 3 of its 4 digits distinguishing the 11 172 syllables), and the index works
-- the same under every locale. Matches are rechecked against the real text, so the key's ambiguity between
-- ASCII letters and digits can never produce a wrong result, only a candidate row.
CREATE FUNCTION sj_search_key(t text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(string_agg(
               CASE WHEN n < 128 THEN chr(n)
                    ELSE substr(d, n / 46656 % 36 + 1, 1) || substr(d, n / 1296 % 36 + 1, 1)
                      || substr(d, n / 36 % 36 + 1, 1) || substr(d, n % 36 + 1, 1)
               END, '' ORDER BY i), '')
      FROM (SELECT ascii(ch) AS n, i, '0123456789abcdefghijklmnopqrstuvwxyz'::text AS d
              FROM regexp_split_to_table(lower(t), '') WITH ORDINALITY AS r(ch, i)
             WHERE ch <> '') s
$$;

-- A LIKE pattern matching keys that contain the key of `q`.
CREATE FUNCTION sj_search_pattern(q text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT '%' || replace(replace(replace(sj_search_key(q), '\', '\\'), '%', '\%'), '_', '\_') || '%'
$$;

-- Directory fields, as an HR system provides them (see `sendjay-router admin import`).
ALTER TABLE users
    ADD COLUMN nickname          text NOT NULL DEFAULT '',
    ADD COLUMN job               text NOT NULL DEFAULT '',
    ADD COLUMN phone             text NOT NULL DEFAULT '',
    ADD COLUMN absence_code      text NOT NULL DEFAULT '',
    ADD COLUMN absence_text      text NOT NULL DEFAULT '',
    ADD COLUMN absence_from      date,
    ADD COLUMN absence_to        date,
    ADD COLUMN sort_order        integer NOT NULL DEFAULT 0,
    -- Set by the mobile app (`set_mobile_installed`): shown as "reachable on mobile" even when not connected.
    ADD COLUMN mobile_installed  boolean NOT NULL DEFAULT false;
CREATE INDEX users_name_search ON users USING gin (sj_search_key(display_name) gin_trgm_ops);
CREATE INDEX users_unit_order ON users (unit_id, display_name, id);

CREATE TABLE user_settings (
    user_id            text PRIMARY KEY REFERENCES users (id),
    notifications_off  boolean NOT NULL DEFAULT false,
    sound_off          boolean NOT NULL DEFAULT false,
    hide_body          boolean NOT NULL DEFAULT false,
    hide_sender        boolean NOT NULL DEFAULT false,
    -- Quiet hours in minutes after local midnight; both set or both null.
    quiet_from         smallint CHECK (quiet_from BETWEEN 0 AND 1439),
    quiet_to           smallint CHECK (quiet_to BETWEEN 0 AND 1439),
    web_standalone     boolean NOT NULL DEFAULT false,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((quiet_from IS NULL) = (quiet_to IS NULL))
);

ALTER TABLE rooms
    ADD COLUMN created_by    text REFERENCES users (id),
    -- Maintained by the triggers below, so the room list and the member limit need no count(*).
    ADD COLUMN member_count  integer NOT NULL DEFAULT 0;
UPDATE rooms r SET member_count = (SELECT count(*) FROM room_members m WHERE m.room_id = r.id);

CREATE FUNCTION room_members_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE rooms r SET member_count = r.member_count + n.c
          FROM (SELECT room_id, count(*) AS c FROM new_rows GROUP BY room_id) n
         WHERE r.id = n.room_id;
    ELSE
        UPDATE rooms r SET member_count = r.member_count - o.c
          FROM (SELECT room_id, count(*) AS c FROM old_rows GROUP BY room_id) o
         WHERE r.id = o.room_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER room_members_count_insert AFTER INSERT ON room_members
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION room_members_count();
CREATE TRIGGER room_members_count_delete AFTER DELETE ON room_members
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION room_members_count();

-- One 1:1 room per pair of users, whichever node opens it first: INSERT … ON CONFLICT on this key decides.
CREATE TABLE direct_pairs (
    low_user   text NOT NULL REFERENCES users (id),
    high_user  text NOT NULL REFERENCES users (id),
    room_id    bigint NOT NULL UNIQUE REFERENCES rooms (id),
    PRIMARY KEY (low_user, high_user),
    CHECK (low_user < high_user)
);
INSERT INTO direct_pairs (low_user, high_user, room_id)
SELECT min(m.user_id), max(m.user_id), m.room_id
  FROM room_members m JOIN rooms r ON r.id = m.room_id AND r.kind = 'direct'
 GROUP BY m.room_id
HAVING count(*) = 2
ON CONFLICT DO NOTHING;

ALTER TABLE room_members
    -- The member's own name for the room; '' = none.
    ADD COLUMN nickname       text NOT NULL DEFAULT '',
    ADD COLUMN notifications  boolean NOT NULL DEFAULT true;
-- Per-message unread counts: members of a room behind a seq, straight from this index.
CREATE INDEX room_members_cursor ON room_members (room_id, last_read_seq);

ALTER TABLE messages
    -- The seq of the quoted message, in the same room.
    ADD COLUMN reply_to    bigint,
    -- FileInfo of image, file and file_link messages (null once revoked).
    ADD COLUMN file        jsonb,
    -- SystemEvent of system messages.
    ADD COLUMN system      jsonb,
    ADD COLUMN forwarded   boolean NOT NULL DEFAULT false,
    ADD COLUMN revoked_at  timestamptz,
    ADD COLUMN has_link    boolean GENERATED ALWAYS AS (kind = 'text' AND body ~* 'https?://[^[:space:]]') STORED,
    ADD CONSTRAINT messages_kind CHECK (kind IN ('text', 'image', 'file', 'file_link', 'system'));
CREATE INDEX messages_sender ON messages (room_id, sender_id, seq);
CREATE INDEX messages_media ON messages (room_id, kind, seq)
    WHERE kind IN ('image', 'file', 'file_link') AND revoked_at IS NULL;
CREATE INDEX messages_links ON messages (room_id, seq) WHERE has_link;
CREATE INDEX messages_search ON messages USING gin (sj_search_key(body) gin_trgm_ops);

-- Messages a user deleted for themselves only.
CREATE TABLE message_hidden (
    user_id    text NOT NULL REFERENCES users (id),
    room_id    bigint NOT NULL,
    seq        bigint NOT NULL,
    hidden_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, room_id, seq),
    FOREIGN KEY (room_id, seq) REFERENCES messages (room_id, seq)
);
