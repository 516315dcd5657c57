//! The bytes of uploaded files, in an [`ObjectStore`]: a local directory (the default; every node of one machine
//! shares it) or any S3-compatible bucket. Nodes never coordinate through storage: PostgreSQL says which
//! objects exist and may be served, so a half-written object is never named by a servable row.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig};

use crate::config::NodeConfig;
use crate::error::NodeError;

/// Where the files live and how to reach them.
#[derive(Clone)]
pub struct Blobs {
    /// The store, already scoped to the configured prefix.
    pub store: Arc<dyn ObjectStore>,
    /// The directory of a local store (to clean up the staging files of uploads cut short by a crash).
    local_dir: Option<PathBuf>,
}

/// Checks the syntax of `SENDJAY_FILES_URL`: `file://DIR` or `s3://BUCKET[/PREFIX]`.
pub fn check_url(url: &str) -> Result<(), String> {
    if let Some(dir) = url.strip_prefix("file://") {
        if dir.is_empty() {
            return Err("file:// needs a directory, e.g. file:///var/lib/sendjay/files".into());
        }
        return Ok(());
    }
    if let Some(rest) = url.strip_prefix("s3://") {
        let bucket = rest.split('/').next().unwrap_or("");
        if bucket.is_empty() {
            return Err("s3:// needs a bucket, e.g. s3://sendjay-files/prod".into());
        }
        return Ok(());
    }
    Err(format!(
        "must be file://DIR or s3://BUCKET[/PREFIX], not {url:?}"
    ))
}

/// The object holding a file's bytes.
pub fn file_path(id: &str) -> Path {
    Path::from(format!("files/{id}"))
}

/// The object holding a file's thumbnail.
pub fn thumbnail_path(id: &str) -> Path {
    Path::from(format!("thumbnails/{id}"))
}

impl Blobs {
    /// Opens the configured store (creating a local directory if needed).
    pub fn open(config: &NodeConfig) -> Result<Blobs, NodeError> {
        let bad = |why: String| NodeError::Config(format!("SENDJAY_FILES_URL: {why}"));
        check_url(&config.files_url).map_err(bad)?;
        if let Some(dir) = config.files_url.strip_prefix("file://") {
            std::fs::create_dir_all(dir).map_err(|e| {
                bad(format!(
                    "cannot create {dir}: {e}; create it or point SENDJAY_FILES_URL elsewhere"
                ))
            })?;
            let dir = std::fs::canonicalize(dir)
                .map_err(|e| bad(format!("cannot resolve {dir}: {e}")))?;
            let store = LocalFileSystem::new_with_prefix(&dir)
                .map_err(|e| bad(format!("cannot open {}: {e}", dir.display())))?
                .with_automatic_cleanup(true);
            return Ok(Blobs {
                store: Arc::new(store),
                local_dir: Some(dir),
            });
        }
        let rest = config.files_url.trim_start_matches("s3://");
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // Fail fast when the store is down: an upload gets `storage_unavailable` in seconds, not minutes.
        let retry = RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: 2,
            retry_timeout: Duration::from_secs(10),
        };
        let options = ClientOptions::new()
            .with_connect_timeout(Duration::from_secs(3))
            .with_timeout(Duration::from_secs(120));
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(retry)
            .with_client_options(options);
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            builder = builder.with_region("us-east-1");
        }
        if let Some(endpoint) = &config.files_s3_endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        let s3 = builder.build().map_err(|e| {
            NodeError::Config(format!(
                "SENDJAY_FILES_URL / SENDJAY_FILES_S3_ENDPOINT / AWS_*: {e}"
            ))
        })?;
        let store: Arc<dyn ObjectStore> = if prefix.trim_matches('/').is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(PrefixStore::new(s3, prefix.trim_matches('/')))
        };
        Ok(Blobs {
            store,
            local_dir: None,
        })
    }

    /// Deletes a file's bytes and thumbnail (absent objects are fine), and on a local store the staging files
    /// an upload interrupted by a crash left behind.
    pub async fn delete(&self, id: &str) -> Result<(), NodeError> {
        for path in [file_path(id), thumbnail_path(id)] {
            match self.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => {
                    metrics::counter!(crate::metrics::FILE_STORAGE_ERRORS, "op" => "delete")
                        .increment(1);
                    return Err(e.into());
                }
            }
        }
        if let Some(dir) = &self.local_dir {
            let files = dir.join("files");
            let staged_prefix = format!("{id}#");
            if let Ok(entries) = std::fs::read_dir(&files) {
                for entry in entries.flatten() {
                    if entry
                        .file_name()
                        .to_string_lossy()
                        .starts_with(&staged_prefix)
                    {
                        let _ = std::fs::remove_file(entry.path());
                    }
                }
            }
        }
        Ok(())
    }
}
