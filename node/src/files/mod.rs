//! Files and images: upload, download, thumbnails and expiry, on storage every node shares (protocol §19).
//!
//! The bytes go to an object store ([`blob`]: a local directory or an S3-compatible bucket); PostgreSQL keeps
//! the metadata ([`metadata`]) and decides what may be served: a row is `uploading` until every byte is stored,
//! so neither a cut-off upload nor a node crash ever exposes half a file. The HTTP API ([`http`]) is served on
//! the node's data port under `/v1/files`; `send` of kind image/file must name an upload of the same room by
//! the sender, and `file_link`/`forward` open the file to the rooms it is sent to. A [`sweeper`] on every node
//! deletes expired and never-sent files, sharing the work through `FOR UPDATE SKIP LOCKED`.

pub mod blob;
pub mod chunks;
pub mod content_type;
pub mod http;
pub mod metadata;
pub mod pace;
pub mod range;
pub mod signed_url;
pub mod sweeper;
pub mod thumbnail;

use crate::config::NodeConfig;
use crate::error::NodeError;

use blob::Blobs;
use signed_url::UrlSigner;

/// Everything the file endpoints and the sweeper share.
pub struct FileService {
    /// The bytes.
    pub blobs: Blobs,
    /// Signs `<img>`/`<video>` URLs.
    pub signer: UrlSigner,
    /// Allowed CORS origins; empty means any.
    cors_origins: Vec<String>,
    /// The node-wide pace of file bytes, when one is set.
    pub pace: Option<std::sync::Arc<pace::Pace>>,
}

impl FileService {
    /// Opens storage as configured.
    pub fn open(config: &NodeConfig) -> Result<FileService, NodeError> {
        let cors_origins = config
            .files_cors_origins
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty() && o != "*")
            .collect();
        Ok(FileService {
            blobs: Blobs::open(config)?,
            signer: UrlSigner::new(config.jwt_secret.as_bytes()),
            cors_origins,
            pace: pace::Pace::new(config.files_max_mb_per_sec).map(std::sync::Arc::new),
        })
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if it is allowed.
    pub fn allowed_origin(&self, origin: Option<&str>) -> Option<String> {
        if self.cors_origins.is_empty() {
            return Some("*".into());
        }
        let origin = origin?;
        self.cors_origins
            .iter()
            .any(|o| o == origin)
            .then(|| origin.to_owned())
    }
}

/// For a `send` of kind image or file: checks that `file` names an upload of `sender` for `room_id` that is
/// stored and alive, marks it sent, and returns the stored metadata (the client's size, type and dimensions
/// are replaced by what the server measured). Errors: `not_member`/`not_found` for the room first, then
/// `not_found` (never uploaded), `file_expired`, `bad_args` (another room or uploader, still uploading, not an
/// image for kind image).
pub async fn claim_for_send(
    ctx: &crate::NodeContext,
    sender: &str,
    room_id: i64,
    file: &sendjay_common::protocol::FileInfo,
    kind: sendjay_common::protocol::MessageKind,
) -> Result<sendjay_common::protocol::FileInfo, NodeError> {
    let db = ctx.store.pool().get().await?;
    match metadata::claim_for_send(&**db, &file.file_id, sender, room_id).await? {
        Some(mut stored) => {
            if kind == sendjay_common::protocol::MessageKind::Image
                && !stored.mime.starts_with("image/")
            {
                return Err(NodeError::client(
                    sendjay_common::error_code::ErrorCode::BadArgs,
                    format!(
                        "file {} is {}, not an image: send it with kind file",
                        stored.file_id, stored.mime
                    ),
                ));
            }
            // The name the sender chose for the message wins if it is valid (it was checked like the upload's).
            stored.name = file.name.clone();
            Ok(stored)
        }
        None => {
            crate::store::require_member(&**db, sender, room_id).await?;
            Err(metadata::explain_unclaimable(&**db, &file.file_id, sender, room_id).await?)
        }
    }
}

/// After a `file_link` or `forward` was stored: the target room's members may now read the file.
pub async fn grant_room(
    ctx: &crate::NodeContext,
    file_id: &str,
    room_id: i64,
) -> Result<(), NodeError> {
    let db = ctx.store.pool().get().await?;
    metadata::grant_room(&**db, file_id, room_id).await
}
