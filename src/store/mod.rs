//! Glance's filesystem store: one file per image under `store.path`, named by image id.
//! Uploads are written to a temporary file and renamed into place only when complete, so a
//! reader never sees a partial image. Data is streamed both ways in bounded chunks: an image
//! is never held in memory.

pub mod ingest;
pub mod inspect;

use std::io;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use md5::{Digest, Md5};
use sha2::Sha512;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use inspect::{Detection, Inspector};

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

    /// Start writing an image's data to a hidden temporary file (`.{id}.{uuid}.part`),
    /// inspecting its content on the way if `inspect` (see `inspect`).
    /// Dropping the returned `Upload` before `commit` removes the temporary file.
    pub async fn begin_upload(&self, image_id: &str, inspect: bool) -> io::Result<Upload> {
        let temp = self
            .root
            .join(format!(".{image_id}.{}.part", uuid::Uuid::new_v4()));
        // Created in place, not on the blocking pool: with no await between creating the
        // file and owning it in `Upload`, a dropped request cannot leave it behind.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        let (batches, received) = tokio::sync::mpsc::channel(QUEUED_BATCHES);
        let (finished_tx, finished) = tokio::sync::oneshot::channel();
        tokio::task::spawn_blocking(move || {
            // No one waits for an abandoned upload's answer.
            let inspector = inspect.then(Inspector::new);
            let _ = finished_tx.send(write_and_digest(file, received, inspector));
        });
        Ok(Upload {
            temp,
            pending: BytesMut::with_capacity(WRITE_BATCH),
            batches: Some(batches),
            finished: Some(finished),
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

/// What a finished upload wrote: size, digests (hex) and, if it was inspected, what the
/// inspector saw.
#[derive(Debug)]
pub struct Written {
    pub size: u64,
    pub md5: String,
    pub sha512: String,
    pub detection: Option<Detection>,
}

/// Bytes gathered before they are handed to the upload's writer thread.
const WRITE_BATCH: usize = 256 * 1024;

/// Batches waiting for the writer thread; with `WRITE_BATCH`, what an upload may hold in
/// memory beyond the batch being gathered.
const QUEUED_BATCHES: usize = 4;

enum Batch {
    Data(Bytes),
    /// Everything is sent: fsync and answer the digests.
    Finish,
}

/// An image being written: a temporary file that one blocking thread per upload writes and
/// digests (MD5 and SHA-512), fed batches over a bounded channel, so the async threads only
/// gather bytes and memory stays flat whatever the image size.
pub struct Upload {
    temp: PathBuf,
    pending: BytesMut,
    batches: Option<tokio::sync::mpsc::Sender<Batch>>,
    finished: Option<tokio::sync::oneshot::Receiver<io::Result<Written>>>,
    size: u64,
}

/// The writer thread: append, digest and inspect each batch until `Finish` (fsync, answer
/// the digests) or until the upload is dropped (stop; `Upload::drop` removes the file).
/// SHA-512 runs on a second thread beside it: together the two digests cost more than one
/// core can stream, and each thread still sees the bytes in order. The inspector rides on
/// this thread: it only copies the bounded regions it needs, so it costs little beside MD5.
fn write_and_digest(
    mut file: std::fs::File,
    mut batches: tokio::sync::mpsc::Receiver<Batch>,
    mut inspector: Option<Inspector>,
) -> io::Result<Written> {
    use std::io::Write;
    std::thread::scope(|scope| {
        let (to_sha512, for_sha512) = std::sync::mpsc::sync_channel::<Bytes>(QUEUED_BATCHES);
        let sha512 = scope.spawn(move || {
            let mut sha512 = Sha512::new();
            for data in for_sha512 {
                sha512.update(&data);
            }
            sha512
        });
        let mut md5 = Md5::new();
        let mut size = 0u64;
        let mut finished = false;
        while let Some(batch) = batches.blocking_recv() {
            match batch {
                Batch::Data(data) => {
                    file.write_all(&data)?;
                    md5.update(&data);
                    if let Some(inspector) = &mut inspector {
                        inspector.feed(&data);
                    }
                    size += data.len() as u64;
                    if to_sha512.send(data).is_err() {
                        break;
                    }
                }
                Batch::Finish => {
                    file.sync_all()?;
                    finished = true;
                    break;
                }
            }
        }
        drop(to_sha512);
        let sha512 = sha512
            .join()
            .map_err(|_| io::Error::other("the SHA-512 thread failed"))?;
        if !finished {
            return Err(closed());
        }
        Ok(Written {
            size,
            md5: hex::encode(md5.finalize()),
            sha512: hex::encode(sha512.finalize()),
            detection: inspector.map(Inspector::finish),
        })
    })
}

impl Upload {
    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Append a chunk (it is digested on the writer thread).
    pub async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.pending.extend_from_slice(chunk);
        self.size += chunk.len() as u64;
        if self.pending.len() >= WRITE_BATCH {
            let batch = self.pending.split().freeze();
            self.pending.reserve(WRITE_BATCH);
            self.send(Batch::Data(batch)).await?;
        }
        Ok(())
    }

    /// Hand a batch to the writer thread; if it has stopped, answer why.
    async fn send(&mut self, batch: Batch) -> io::Result<()> {
        let sent = match &self.batches {
            Some(batches) => batches.send(batch).await.is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        self.batches = None;
        Err(self.outcome().await.err().unwrap_or_else(closed))
    }

    /// The writer thread's answer (once).
    async fn outcome(&mut self) -> io::Result<Written> {
        let finished = self.finished.take().ok_or_else(closed)?;
        finished.await.unwrap_or_else(|_| Err(closed()))
    }

    /// Write what is left and fsync: what was written. The data is still the temporary
    /// file: `place` puts it in place; dropping the upload removes it (a refused upload).
    pub async fn finish(&mut self) -> io::Result<Written> {
        if !self.pending.is_empty() {
            let batch = self.pending.split().freeze();
            self.send(Batch::Data(batch)).await?;
        }
        self.send(Batch::Finish).await?;
        self.batches = None;
        self.outcome().await
    }

    /// Rename the finished data to `dest` (atomic on one filesystem).
    pub async fn place(mut self, dest: &Path) -> io::Result<()> {
        tokio::fs::rename(&self.temp, dest).await?;
        // Renamed: nothing left for Drop to remove.
        self.temp = PathBuf::new();
        Ok(())
    }

    /// `finish`, then `place`.
    pub async fn commit(mut self, dest: &Path) -> io::Result<Written> {
        let written = self.finish().await?;
        self.place(dest).await?;
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
        // The writer thread stops at the closed channel; removing the name now is safe even
        // while it still holds the file open.
        self.batches = None;
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
        let mut upload = store.begin_upload("img", false).await.expect("begin");
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
    async fn data_spanning_many_batches_is_written_and_digested_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let data: Vec<u8> = (0..3 * WRITE_BATCH + 12_345)
            .map(|i| (i % 251) as u8)
            .collect();
        let mut upload = store.begin_upload("img", false).await.expect("begin");
        for chunk in data.chunks(10_007) {
            upload.write(chunk).await.expect("write");
        }
        assert_eq!(upload.size(), data.len() as u64);
        let written = upload.commit(&store.path_for("img")).await.expect("commit");
        assert_eq!(written.size, data.len() as u64);
        assert_eq!(written.md5, hex::encode(Md5::digest(&data)));
        assert_eq!(written.sha512, hex::encode(Sha512::digest(&data)));
        assert_eq!(std::fs::read(store.path_for("img")).expect("read"), data);
        assert_eq!(files_in(dir.path()), vec!["img".to_string()]);
    }

    #[tokio::test]
    async fn an_inspected_upload_reports_what_it_saw_and_can_be_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let mut header = vec![0u8; 3 * WRITE_BATCH];
        header[..4].copy_from_slice(b"QFI\xfb");
        header[7] = 3;
        header[24..32].copy_from_slice(&(1u64 << 30).to_be_bytes());
        let mut upload = store.begin_upload("img", true).await.expect("begin");
        for chunk in header.chunks(1000) {
            upload.write(chunk).await.expect("write");
        }
        let written = upload.finish().await.expect("finish");
        let detection = written.detection.expect("inspected");
        assert_eq!(detection.format_name(), Ok("qcow2"));
        assert_eq!(detection.detected_virtual_size(), Some(1 << 30));
        assert_eq!(files_in(dir.path()).len(), 1, "still the temporary file");
        drop(upload);
        assert!(
            files_in(dir.path()).is_empty(),
            "a refused upload leaves nothing"
        );

        let mut upload = store.begin_upload("img", false).await.expect("begin");
        upload.write(&header).await.expect("write");
        assert!(upload
            .commit(&store.path_for("img"))
            .await
            .expect("commit")
            .detection
            .is_none());
    }

    #[tokio::test]
    async fn dropped_upload_leaves_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let mut upload = store.begin_upload("img", false).await.expect("begin");
        upload.write(&[7u8; 100_000]).await.expect("write");
        upload.write(&[8u8; WRITE_BATCH]).await.expect("write");
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
