-- Uploaded files: the metadata lives here, the bytes in file storage (a shared directory or an S3 bucket, see
-- node/src/files). A row is written before the first byte is stored (state 'uploading') so an upload cut short,
-- even by a node crash, is found and collected by the sweeper; only 'uploaded' and 'sent' files are ever served.
CREATE TABLE files (
    id              text PRIMARY KEY,
    uploader        text NOT NULL REFERENCES users (id),
    -- The room the file was uploaded for; the first `send` must be in this room, by the uploader.
    room_id         bigint NOT NULL REFERENCES rooms (id),
    name            text NOT NULL,
    size            bigint NOT NULL DEFAULT 0,
    mime            text NOT NULL,
    -- Lowercase hex SHA-256 of the bytes; also the ETag.
    sha256          text,
    width           integer,
    height          integer,
    -- Content type of the thumbnail object; null when the file has none.
    thumbnail_mime  text,
    state           text NOT NULL CHECK (state IN ('uploading', 'uploaded', 'sent', 'expired')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    sent_at         timestamptz,
    swept_at        timestamptz
);
-- The sweeper's two queues: sent files past their expiry, and uploads never sent within the grace period.
CREATE INDEX files_expiring ON files (expires_at) WHERE state IN ('uploaded', 'sent');
CREATE INDEX files_unsent ON files (created_at) WHERE state IN ('uploading', 'uploaded');

-- The rooms a file was sent to (send, file_link, forward): their members may download it.
CREATE TABLE file_rooms (
    file_id  text NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    room_id  bigint NOT NULL REFERENCES rooms (id),
    PRIMARY KEY (file_id, room_id)
);
