//! Glance's filesystem store: one file per image under `store.path`, named by image id.
//! Uploads are written to a temporary file and renamed into place only when complete, so a
//! reader never sees a partial image. Data is streamed both ways in bounded chunks: an image
//! is never held in memory.

use std::io;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use md5::{Digest, Md5};
use sha2::Sha512;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Bytes read from disk per chunk when streaming an image out.
const READ_CHUNK: usize = 64 * 1024;

pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Use (and create) `root`. Kept absolute, so location URLs are `file:///…`.
    pub fn open(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = std::path::absolute(root.into())?;
        std::fs::create_dir_all(&root)?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a complete image's data lives.
    pub fn path_for(&self, image_id: &str) -> PathBuf {
        self.root.join(image_id)
    }

    /// The location URL Glance records for an image in this store.
    pub fn url_for(&self, image_id: &str) -> String {
        format!("file://{}", self.path_for(image_id).display())
    }

    /// The file behind a location URL, if it is a `file://` URL inside this store.
    pub fn path_from_url(&self, url: &str) -> Option<PathBuf> {
        let path = PathBuf::from(url.strip_prefix("file://")?);
        (path.parent() == Some(self.root.as_path())).then_some(path)
    }

    /// Remove an image's data; absent data is not an error.
    pub async fn delete(&self, image_id: &str) -> std::io::Result<()> {
        match tokio::fs::remove_file(self.path_for(image_id)).await {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        }
    }

    /// Start writing an image's data to a hidden temporary file (`.{id}.{uuid}.part`).
    /// Dropping the returned `Upload` before `commit` removes the temporary file.
    pub async fn begin_upload(&self, image_id: &str) -> io::Result<Upload> {
        let temp = self
            .root
            .join(format!(".{image_id}.{}.part", uuid::Uuid::new_v4()));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .await?;
        Ok(Upload {
            temp,
            file: Some(file),
            md5: Md5::new(),
            sha512: Sha512::new(),
            size: 0,
        })
    }

    /// Stream `length` bytes of the file at `path` from `offset`, in bounded chunks.
    pub async fn read_range(
        path: &Path,
        offset: u64,
        length: u64,
    ) -> io::Result<impl Stream<Item = io::Result<Bytes>> + 'static> {
        let mut file = tokio::fs::File::open(path).await?;
        file.seek(io::SeekFrom::Start(offset)).await?;
        Ok(futures_util::stream::unfold(
            (file, length),
            |(mut file, remaining)| async move {
                if remaining == 0 {
                    return None;
                }
                let want = usize::try_from(remaining).map_or(READ_CHUNK, |r| r.min(READ_CHUNK));
                let mut buf = BytesMut::with_capacity(want);
                match file.read_buf(&mut buf).await {
                    Ok(0) => Some((
                        Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "image data is shorter than its recorded size",
                        )),
                        (file, 0),
                    )),
                    Ok(n) => {
                        buf.truncate(want.min(n));
                        let left = remaining.saturating_sub(buf.len() as u64);
                        Some((Ok(buf.freeze()), (file, left)))
                    }
                    Err(err) => Some((Err(err), (file, 0))),
                }
            },
        ))
    }
}

/// What a finished upload wrote: size and digests (hex).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub size: u64,
    pub md5: String,
    pub sha512: String,
}

/// An image being written: a temporary file plus running MD5 and SHA-512.
pub struct Upload {
    temp: PathBuf,
    file: Option<tokio::fs::File>,
    md5: Md5,
    sha512: Sha512,
    size: u64,
}

impl Upload {
    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Append a chunk and fold it into the digests.
    pub async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        let file = self.file.as_mut().ok_or_else(closed)?;
        file.write_all(chunk).await?;
        self.md5.update(chunk);
        self.sha512.update(chunk);
        self.size += chunk.len() as u64;
        Ok(())
    }

    /// Flush and fsync, then rename the data to `dest` (atomic on one filesystem).
    pub async fn commit(mut self, dest: &Path) -> io::Result<Written> {
        let mut file = self.file.take().ok_or_else(closed)?;
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&self.temp, dest).await?;
        let written = Written {
            size: self.size,
            md5: hex::encode(self.md5.finalize_reset()),
            sha512: hex::encode(self.sha512.finalize_reset()),
        };
        // Renamed: nothing left for Drop to remove.
        self.temp = PathBuf::new();
        Ok(written)
    }
}

fn closed() -> io::Error {
    io::Error::other("upload file already closed")
}

impl Drop for Upload {
    /// An upload that was not committed (error, client gone, future dropped) leaves no file.
    fn drop(&mut self) {
        if self.temp.as_os_str().is_empty() {
            return;
        }
        self.file = None;
        if let Err(err) = std::fs::remove_file(&self.temp) {
            if err.kind() != io::ErrorKind::NotFound {
                log::warn!(
                    "cannot remove partial upload {}: {err}",
                    self.temp.display()
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read store dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn commit_renames_and_digests() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let mut upload = store.begin_upload("img").await.expect("begin");
        upload.write(b"hello ").await.expect("write");
        upload.write(b"world").await.expect("write");
        let written = upload.commit(&store.path_for("img")).await.expect("commit");
        assert_eq!(written.size, 11);
        assert_eq!(written.md5, "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert!(written
            .sha512
            .starts_with("309ecc489c12d6eb4cc40f50c902f2b4"));
        assert_eq!(files_in(dir.path()), vec!["img".to_string()]);

        let chunks: Vec<_> = Store::read_range(&store.path_for("img"), 6, 3)
            .await
            .expect("open")
            .collect()
            .await;
        let body: Vec<u8> = chunks
            .into_iter()
            .flat_map(|c| c.expect("chunk").to_vec())
            .collect();
        assert_eq!(body, b"wor");
    }

    #[tokio::test]
    async fn dropped_upload_leaves_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let mut upload = store.begin_upload("img").await.expect("begin");
        upload.write(&[7u8; 100_000]).await.expect("write");
        assert_eq!(files_in(dir.path()).len(), 1);
        drop(upload);
        assert!(files_in(dir.path()).is_empty());
    }

    #[test]
    fn only_store_urls_map_to_paths() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let url = store.url_for("abc");
        assert_eq!(store.path_from_url(&url), Some(store.path_for("abc")));
        assert_eq!(store.path_from_url("file:///etc/passwd"), None);
        assert_eq!(store.path_from_url("http://x/abc"), None);
    }

    #[test]
    fn relative_roots_become_absolute_urls() {
        let store = Store::open("target/store-test-relative").expect("store");
        assert!(store.root().is_absolute());
        assert!(store.url_for("abc").starts_with("file:///"));
        let _ = std::fs::remove_dir("target/store-test-relative");
    }
}
