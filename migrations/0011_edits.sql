-- Editing messages (issue 18) and a per-room change counter, so that `sync` returns the messages a client already
-- holds that changed while it was away (edits and revokes), not only the messages it has not seen.
--
-- `rooms.change_seq` counts a room's changes; it is taken under the room row's lock, as `last_seq` is, so the
-- counter's order is the commit order and a client's change cursor never skips a change committed later with a
-- lower number. A changed message carries the counter's value of its latest change in `messages.change_seq`
-- (0: never changed since it was sent). The partial index holds changed messages only: a send adds no entry.
ALTER TABLE rooms ADD COLUMN change_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN change_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN edited_at timestamptz;
CREATE INDEX messages_changes ON messages (room_id, change_seq) WHERE change_seq > 0;

-- Every earlier text of an edited message, for the audit log (docs/operations.md, "Audit log"): the live row holds
-- the newest text only. Rows go with their message (a revoke erases them with the body: revoked means gone).
CREATE TABLE message_edits (
    room_id    bigint NOT NULL,
    seq        bigint NOT NULL,
    edited_at  timestamptz NOT NULL DEFAULT now(),
    edited_by  text NOT NULL,
    old_body   text NOT NULL,
    FOREIGN KEY (room_id, seq) REFERENCES messages (room_id, seq) ON DELETE CASCADE
);
CREATE INDEX message_edits_of_message ON message_edits (room_id, seq, edited_at);
