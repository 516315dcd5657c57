//! A stored object as a stream of large chunks, for downloads.
//!
//! `object_store`'s `GetResult::into_stream` reads a local file in 8 KiB pieces, each one a `spawn_blocking`
//! round trip and then an 8 KiB HTTP frame: a 1 GiB download was 131 072 of each, which kept a node core busy
//! at ~270 MB/s and pushed chat latency up on a small machine (docs/benchmarks.md, files-mixed). A local file
//! is read here in [`CHUNK_BYTES`] pieces instead (the memory held per download stays a few chunks); remote
//! stores' streams pass through unchanged.

use std::io::{Read, Seek, SeekFrom};

use bytes::Bytes;
use futures_util::stream::{self, BoxStream, StreamExt};
use object_store::{GetResult, GetResultPayload};

/// Bytes read from a local file per chunk.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// The object's bytes (its `range`) as a stream of chunks of at most [`CHUNK_BYTES`] for a local file.
pub fn chunks(got: GetResult) -> BoxStream<'static, Result<Bytes, object_store::Error>> {
    let range = got.range.clone();
    match got.payload {
        GetResultPayload::File(file, path) => {
            let read_error = move |e: std::io::Error| object_store::Error::Generic {
                store: "LocalFileSystem",
                source: format!("cannot read {}: {e}", path.display()).into(),
            };
            let start = range.start;
            let state = (Some(file), start, range.end - range.start, true);
            stream::unfold(state, move |(file, at, left, first)| {
                let read_error = read_error.clone();
                async move {
                    let mut file = file?;
                    if left == 0 {
                        return None;
                    }
                    let result = tokio::task::spawn_blocking(move || {
                        if first {
                            file.seek(SeekFrom::Start(at))?;
                        }
                        let want = left.min(CHUNK_BYTES as u64);
                        let mut buf = Vec::with_capacity(want as usize);
                        (&mut file).take(want).read_to_end(&mut buf)?;
                        Ok::<_, std::io::Error>((file, buf))
                    })
                    .await
                    .unwrap_or_else(|e| Err(std::io::Error::other(e)));
                    match result {
                        Ok((_, buf)) if buf.is_empty() => Some((
                            Err(read_error(std::io::Error::from(
                                std::io::ErrorKind::UnexpectedEof,
                            ))),
                            (None, at, 0, false),
                        )),
                        Ok((file, buf)) => {
                            let n = buf.len() as u64;
                            Some((Ok(Bytes::from(buf)), (Some(file), at + n, left - n, false)))
                        }
                        Err(e) => Some((Err(read_error(e)), (None, at, 0, false))),
                    }
                }
            })
            .boxed()
        }
        GetResultPayload::Stream(s) => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::local::LocalFileSystem;
    use object_store::path::Path;
    use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};

    async fn collect(
        s: BoxStream<'static, Result<Bytes, object_store::Error>>,
    ) -> (usize, Vec<u8>) {
        let parts: Vec<Bytes> = s.map(|r| r.unwrap()).collect().await;
        (parts.len(), parts.concat())
    }

    #[tokio::test]
    async fn local_files_come_in_large_chunks_and_ranges_hold() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        let data: Vec<u8> = (0..(CHUNK_BYTES * 4 + 1000) as u32)
            .map(|i| (i % 251) as u8)
            .collect();
        let path = Path::from("files/x");
        store.put(&path, data.clone().into()).await.unwrap();

        let (n, got) = collect(chunks(store.get(&path).await.unwrap())).await;
        assert_eq!(got, data);
        // object_store's own stream would be 129 chunks of 8 KiB here.
        assert_eq!(n, 5, "a 1 MiB file in 256 KiB chunks");

        let options = GetOptions {
            range: Some(GetRange::Bounded(1000..(CHUNK_BYTES as u64 + 2000))),
            ..Default::default()
        };
        let (n, got) = collect(chunks(store.get_opts(&path, options).await.unwrap())).await;
        assert_eq!(got, &data[1000..CHUNK_BYTES + 2000]);
        assert_eq!(n, 2);
    }
}
