//! File metadata in PostgreSQL (table `files`, migration 0005): who uploaded what for which room, its size,
//! type, checksum, expiry and state; and `file_rooms`, the rooms a file was sent to, whose members may read it.
//! The bytes are never stored here.

use sendjay_common::error_code::ErrorCode;
use sendjay_common::protocol::FileInfo;
use tokio_postgres::{GenericClient, Row};

use crate::error::NodeError;

/// A file's life: written while `uploading`, servable once `uploaded`, `sent` once a message carries it,
/// `expired` after its bytes were swept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// Bytes are being received; never served.
    Uploading,
    /// Stored and checked; only the uploader can read it until it is sent.
    Uploaded,
    /// Carried by at least one message.
    Sent,
    /// The bytes were deleted after the retention period.
    Expired,
}

impl FileState {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            FileState::Uploading => "uploading",
            FileState::Uploaded => "uploaded",
            FileState::Sent => "sent",
            FileState::Expired => "expired",
        }
    }

    fn parse(s: &str) -> FileState {
        match s {
            "uploading" => FileState::Uploading,
            "uploaded" => FileState::Uploaded,
            "sent" => FileState::Sent,
            _ => FileState::Expired,
        }
    }
}

/// One row of `files`.
#[derive(Debug, Clone)]
pub struct FileRow {
    /// The file id.
    pub id: String,
    /// Who uploaded it.
    pub uploader: String,
    /// The room it was uploaded for.
    pub room_id: i64,
    /// The (sanitised) file name.
    pub name: String,
    /// Bytes.
    pub size: i64,
    /// The stored content type.
    pub mime: String,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: Option<String>,
    /// Image width.
    pub width: Option<i32>,
    /// Image height.
    pub height: Option<i32>,
    /// The thumbnail's type, when it has one.
    pub thumbnail_mime: Option<String>,
    /// Where it is in its life.
    pub state: FileState,
    /// Upload time, Unix ms.
    pub created_at_ms: i64,
    /// Expiry, Unix ms.
    pub expires_at_ms: i64,
    /// Whether the expiry has passed (by the database clock), even if the sweeper has not run yet.
    pub past_expiry: bool,
}

/// The columns [`row_to_file`] reads.
const COLUMNS: &str = "id, uploader, room_id, name, size, mime, sha256, width, height, thumbnail_mime, state,
    (extract(epoch FROM created_at) * 1000)::bigint, (extract(epoch FROM expires_at) * 1000)::bigint,
    expires_at <= now()";

fn row_to_file(row: &Row) -> FileRow {
    let state: String = row.get(10);
    FileRow {
        id: row.get(0),
        uploader: row.get(1),
        room_id: row.get(2),
        name: row.get(3),
        size: row.get(4),
        mime: row.get(5),
        sha256: row.get(6),
        width: row.get(7),
        height: row.get(8),
        thumbnail_mime: row.get(9),
        state: FileState::parse(&state),
        created_at_ms: row.get(11),
        expires_at_ms: row.get(12),
        past_expiry: row.get(13),
    }
}

impl FileRow {
    /// Whether downloads must answer 410.
    pub fn is_expired(&self) -> bool {
        self.state == FileState::Expired || self.past_expiry
    }

    /// The FileInfo a message carries.
    pub fn info(&self) -> FileInfo {
        FileInfo {
            file_id: self.id.clone(),
            name: self.name.clone(),
            size: self.size,
            mime: self.mime.clone(),
            width: self.width.map(|w| w as u32),
            height: self.height.map(|h| h as u32),
            expires_at_ms: Some(self.expires_at_ms),
            expired: self.is_expired(),
        }
    }
}

fn client_error(code: ErrorCode, message: impl Into<String>) -> NodeError {
    NodeError::client(code, message)
}

/// Records an upload about to start, if `uploader` is a member of `room_id`; the row is `uploading`.
pub async fn begin_upload(
    db: &impl GenericClient,
    id: &str,
    uploader: &str,
    room_id: i64,
    name: &str,
    mime: &str,
    retention_days: u32,
) -> Result<(), NodeError> {
    let inserted = db
        .execute(
            "INSERT INTO files (id, uploader, room_id, name, mime, state, expires_at)
             SELECT $1, $2, $3, $4, $5, 'uploading', now() + make_interval(days => $6)
              WHERE EXISTS (SELECT 1 FROM room_members m WHERE m.room_id = $3 AND m.user_id = $2)",
            &[
                &id,
                &uploader,
                &room_id,
                &name,
                &mime,
                &(retention_days as i32),
            ],
        )
        .await?;
    if inserted == 0 {
        return Err(client_error(
            ErrorCode::NotMember,
            format!("you are not a member of room {room_id}: upload files only to your rooms"),
        ));
    }
    Ok(())
}

/// What a finished upload stores.
#[derive(Debug, Clone, Default)]
pub struct Finished {
    /// Bytes received.
    pub size: i64,
    /// Their SHA-256.
    pub sha256: String,
    /// The sniffed type.
    pub mime: String,
    /// Image dimensions.
    pub width: Option<i32>,
    /// Image dimensions.
    pub height: Option<i32>,
    /// The thumbnail type.
    pub thumbnail_mime: Option<String>,
}

/// Marks an upload complete (after its bytes are stored): the file becomes servable to its uploader.
pub async fn finish_upload(
    db: &impl GenericClient,
    id: &str,
    done: &Finished,
) -> Result<FileRow, NodeError> {
    let row = db
        .query_opt(
            &format!(
                "UPDATE files SET state = 'uploaded', size = $2, sha256 = $3, mime = $4, width = $5,
                        height = $6, thumbnail_mime = $7
                  WHERE id = $1 AND state = 'uploading' RETURNING {COLUMNS}"
            ),
            &[
                &id,
                &done.size,
                &done.sha256,
                &done.mime,
                &done.width,
                &done.height,
                &done.thumbnail_mime,
            ],
        )
        .await?;
    row.map(|r| row_to_file(&r)).ok_or_else(|| {
        NodeError::Internal(format!(
            "upload {id} vanished while it was being stored (swept too early?)"
        ))
    })
}

/// Forgets an upload that failed (its bytes were aborted or deleted).
pub async fn discard_upload(db: &impl GenericClient, id: &str) -> Result<(), NodeError> {
    db.execute(
        "DELETE FROM files WHERE id = $1 AND state = 'uploading'",
        &[&id],
    )
    .await?;
    Ok(())
}

/// The file and whether `user` may read it: the uploader, or a current member of a room it was sent to.
pub async fn lookup(
    db: &impl GenericClient,
    id: &str,
    user: &str,
) -> Result<Option<(FileRow, bool)>, NodeError> {
    let row = db
        .query_opt(
            &format!(
                "SELECT {COLUMNS}, uploader = $2 OR EXISTS (
                        SELECT 1 FROM file_rooms fr JOIN room_members m ON m.room_id = fr.room_id
                         WHERE fr.file_id = files.id AND m.user_id = $2)
                   FROM files WHERE id = $1"
            ),
            &[&id, &user],
        )
        .await?;
    Ok(row.map(|r| (row_to_file(&r), r.get(14))))
}

/// For a `send` of kind image or file: the file must be an upload of `sender` for `room_id`, stored and alive.
/// Marks it sent, records the room, and returns the authoritative metadata for the message.
pub async fn claim_for_send(
    db: &impl GenericClient,
    id: &str,
    sender: &str,
    room_id: i64,
) -> Result<Option<FileInfo>, NodeError> {
    let row = db
        .query_opt(
            &format!(
                "WITH claimed AS (
                    UPDATE files SET state = 'sent', sent_at = coalesce(sent_at, now())
                     WHERE id = $1 AND uploader = $2 AND room_id = $3 AND state IN ('uploaded', 'sent')
                       AND expires_at > now()
                    RETURNING {COLUMNS}),
                 granted AS (
                    INSERT INTO file_rooms (file_id, room_id) SELECT id, room_id FROM claimed
                    ON CONFLICT DO NOTHING)
                 SELECT * FROM claimed"
            ),
            &[&id, &sender, &room_id],
        )
        .await?;
    Ok(row.map(|r| row_to_file(&r).info()))
}

/// Why [`claim_for_send`] found nothing: a client error naming the problem.
pub async fn explain_unclaimable(
    db: &impl GenericClient,
    id: &str,
    sender: &str,
    room_id: i64,
) -> Result<NodeError, NodeError> {
    let Some((file, _)) = lookup(db, id, sender).await? else {
        return Ok(client_error(
            ErrorCode::NotFound,
            format!("file {id} was never uploaded: upload it with POST /v1/files first"),
        ));
    };
    Ok(if file.is_expired() {
        client_error(
            ErrorCode::FileExpired,
            format!("file {id} has expired and its bytes are deleted; upload it again"),
        )
    } else if file.uploader != sender || file.room_id != room_id {
        client_error(
            ErrorCode::BadArgs,
            format!("file {id} was not uploaded by you for room {room_id}; use file_link or forward to send a file again"),
        )
    } else {
        client_error(
            ErrorCode::BadArgs,
            format!("file {id} is still uploading; send the message once the upload has answered"),
        )
    })
}

/// Refuses to send an expired file again (`file_link`, `forward`). Files unknown to storage (metadata-only
/// messages from before uploads existed) are let through.
pub async fn refuse_expired(db: &impl GenericClient, id: &str) -> Result<(), NodeError> {
    let row = db
        .query_opt(
            "SELECT state = 'expired' OR expires_at <= now() FROM files WHERE id = $1",
            &[&id],
        )
        .await?;
    match row {
        Some(r) if r.get::<_, bool>(0) => Err(client_error(
            ErrorCode::FileExpired,
            format!("file {id} has expired and its bytes are deleted; it cannot be sent again"),
        )),
        _ => Ok(()),
    }
}

/// Lets the members of `room_id` read a file that a `file_link` or `forward` sent there.
pub async fn grant_room(db: &impl GenericClient, id: &str, room_id: i64) -> Result<(), NodeError> {
    db.execute(
        "INSERT INTO file_rooms (file_id, room_id) SELECT id, $2 FROM files WHERE id = $1
         ON CONFLICT DO NOTHING",
        &[&id, &room_id],
    )
    .await?;
    Ok(())
}
