-- Keeping messages (issue 18): clear chat for oneself, saved messages, pinned messages.
--
-- Clearing a chat is per member and never deletes anything: the member's cursor `cleared_seq` hides the room's
-- messages up to it from that member only (history, open_room, sync, search). Leaving a room drops the row and
-- with it the cursor, as with the read cursor.
ALTER TABLE room_members ADD COLUMN cleared_seq bigint NOT NULL DEFAULT 0;

-- Messages a user saved for later, from any room. `id` orders the list (most recently saved first) without ties.
-- Rows go with their message or user (the load-test cleanup deletes both).
CREATE TABLE saved_messages (
    id        bigserial UNIQUE,
    user_id   text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room_id   bigint NOT NULL,
    seq       bigint NOT NULL,
    saved_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, room_id, seq),
    FOREIGN KEY (room_id, seq) REFERENCES messages (room_id, seq) ON DELETE CASCADE
);
CREATE INDEX saved_messages_newest ON saved_messages (user_id, id DESC);

-- A room's pinned messages, shared by every member; at most 50 per room (checked under the room row's lock).
CREATE TABLE pinned_messages (
    room_id    bigint NOT NULL,
    seq        bigint NOT NULL,
    pinned_by  text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    pinned_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, seq),
    FOREIGN KEY (room_id, seq) REFERENCES messages (room_id, seq) ON DELETE CASCADE
);
