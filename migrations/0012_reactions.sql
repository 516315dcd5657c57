-- Reactions (issue 18): one row per member, message and emoji. A message's copy in history carries the counts per
-- emoji and whether the viewer is among them, read through the primary key; who reacted is a query of its own
-- (`reactors`), in the order they reacted. Rows go with their message (a revoke deletes them: revoked means gone)
-- and with their user.
CREATE TABLE message_reactions (
    room_id     bigint NOT NULL,
    seq         bigint NOT NULL,
    emoji       text NOT NULL,
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reacted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, seq, emoji, user_id),
    FOREIGN KEY (room_id, seq) REFERENCES messages (room_id, seq) ON DELETE CASCADE
);
CREATE INDEX message_reactions_in_order ON message_reactions (room_id, seq, emoji, reacted_at);
