-- sendjay schema v1: organisation, users, rooms, members, messages.
-- Applied by `sendjay-node migrate` (and at node start) under a PostgreSQL advisory lock.

CREATE TABLE org_units (
    id          text PRIMARY KEY,
    parent_id   text REFERENCES org_units (id),
    name        text NOT NULL,
    sort_order  integer NOT NULL DEFAULT 0,
    depth       integer NOT NULL DEFAULT 0,
    in_use      boolean NOT NULL DEFAULT true
);
CREATE INDEX org_units_parent ON org_units (parent_id, sort_order);

CREATE TABLE users (
    id             text PRIMARY KEY,
    display_name   text NOT NULL,
    unit_id        text REFERENCES org_units (id),
    password_hash  text NOT NULL,
    passkey        text NOT NULL,
    role           text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    retired_at     timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_unit ON users (unit_id, display_name);

CREATE TABLE rooms (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('direct', 'group')),
    name           text NOT NULL DEFAULT '',
    -- The seq of the newest message: every message takes last_seq + 1 under this row's lock.
    last_seq       bigint NOT NULL DEFAULT 0,
    last_activity  timestamptz NOT NULL DEFAULT now(),
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE room_members (
    room_id        bigint NOT NULL REFERENCES rooms (id),
    user_id        text NOT NULL REFERENCES users (id),
    -- Read cursor: the highest seq this member has read. Unread = rooms.last_seq - last_read_seq.
    last_read_seq  bigint NOT NULL DEFAULT 0,
    joined_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_user ON room_members (user_id, room_id);

CREATE TABLE messages (
    room_id        bigint NOT NULL REFERENCES rooms (id),
    seq            bigint NOT NULL,
    sender_id      text NOT NULL REFERENCES users (id),
    client_msg_id  text NOT NULL,
    kind           text NOT NULL DEFAULT 'text',
    body           text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (room_id, seq),
    -- Resending the same client id returns the stored message instead of writing a second one.
    UNIQUE (room_id, sender_id, client_msg_id)
);
