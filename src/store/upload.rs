//! An upload in progress, whatever the store: the request's bytes are gathered into batches
//! and handed to one blocking thread per upload that digests them (MD5 and SHA-512, as
//! Glance) and inspects their content, while the store's `Sink` sends them where they go (the
//! filesystem store writes on that same thread; the S3 store sends parts from the async side).
//! Memory stays flat whatever the image size: the queues are bounded.

use std::io;

use super::digest::{Md5, Sha512};
use super::inspect::{Detection, Inspector};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};

/// What a finished upload wrote: size, digests (hex) and, if it was inspected, what the
/// inspector saw.
#[derive(Debug)]
pub struct Written {
    pub size: u64,
    pub md5: String,
    pub sha512: String,
    pub detection: Option<Detection>,
}

/// Bytes gathered before they are handed to the digest thread and the sink.
pub(crate) const WRITE_BATCH: usize = 256 * 1024;

/// Batches waiting for the digest thread; with `WRITE_BATCH`, what an upload may hold in
/// memory beyond the batch being gathered (and the sink's own buffer).
const QUEUED_BATCHES: usize = 4;

enum Batch {
    Data(Bytes),
    /// Everything is sent: sync the file (if any) and answer the digests.
    Finish,
}

/// Where a store puts an upload's bytes. Dropping a sink that was not `place`d removes
/// whatever it wrote (a temporary file, a multipart upload).
#[async_trait]
pub(crate) trait Sink: Send {
    /// A batch, in order (after the digest thread has it).
    async fn write(&mut self, batch: &Bytes) -> io::Result<()>;
    /// Make the finished data the image's: the file is renamed, the object completed.
    async fn place(&mut self) -> io::Result<()>;
}

/// An image being written: see the module's documentation.
pub struct Upload {
    pending: BytesMut,
    batches: Option<tokio::sync::mpsc::Sender<Batch>>,
    finished: Option<tokio::sync::oneshot::Receiver<io::Result<Written>>>,
    size: u64,
    sink: Box<dyn Sink>,
    store_id: String,
    kind: &'static str,
}

impl Upload {
    /// Start the digest thread; it also writes `file` if given (the filesystem store).
    pub(crate) fn start(
        sink: Box<dyn Sink>,
        file: Option<std::fs::File>,
        inspect: bool,
        store_id: &str,
        kind: &'static str,
    ) -> Self {
        let (batches, received) = tokio::sync::mpsc::channel(QUEUED_BATCHES);
        let (finished_tx, finished) = tokio::sync::oneshot::channel();
        tokio::task::spawn_blocking(move || {
            // No one waits for an abandoned upload's answer.
            let inspector = inspect.then(Inspector::new);
            let _ = finished_tx.send(write_and_digest(file, received, inspector));
        });
        Self {
            pending: BytesMut::with_capacity(WRITE_BATCH),
            batches: Some(batches),
            finished: Some(finished),
            size: 0,
            sink,
            store_id: store_id.to_string(),
            kind,
        }
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Append a chunk (it is digested on the digest thread).
    pub async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.pending.extend_from_slice(chunk);
        self.size += chunk.len() as u64;
        if self.pending.len() >= WRITE_BATCH {
            let batch = self.pending.split().freeze();
            self.pending.reserve(WRITE_BATCH);
            self.send(batch).await?;
        }
        Ok(())
    }

    async fn send(&mut self, batch: Bytes) -> io::Result<()> {
        self.hand_to_thread(Batch::Data(batch.clone())).await?;
        self.sink.write(&batch).await?;
        crate::metrics::store_bytes(&self.store_id, self.kind, "write", batch.len());
        Ok(())
    }

    /// Hand a batch to the digest thread; if it has stopped, answer why.
    async fn hand_to_thread(&mut self, batch: Batch) -> io::Result<()> {
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

    /// The digest thread's answer (once).
    async fn outcome(&mut self) -> io::Result<Written> {
        let finished = self.finished.take().ok_or_else(closed)?;
        finished.await.unwrap_or_else(|_| Err(closed()))
    }

    /// Send what is left and wait for the digests: what was written. The data is not the
    /// image's yet: `place` makes it so; dropping the upload removes it (a refused upload).
    pub async fn finish(&mut self) -> io::Result<Written> {
        if !self.pending.is_empty() {
            let batch = self.pending.split().freeze();
            self.send(batch).await?;
        }
        self.hand_to_thread(Batch::Finish).await?;
        self.batches = None;
        self.outcome().await
    }

    /// Make the finished data the image's (rename into place, complete the object).
    pub async fn place(mut self) -> io::Result<()> {
        let started = std::time::Instant::now();
        let placed = self.sink.place().await;
        let ok = placed.is_ok();
        crate::metrics::store_op(&self.store_id, self.kind, "place", started.elapsed(), ok);
        placed
    }

    /// `finish`, then `place`.
    pub async fn commit(mut self) -> io::Result<Written> {
        let written = self.finish().await?;
        self.place().await?;
        Ok(written)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        // The digest thread stops at the closed channel; the sink cleans up after itself.
        self.batches = None;
    }
}

fn closed() -> io::Error {
    io::Error::other("upload already closed")
}

/// The digest thread: append (to `file`, if any), digest and inspect each batch until
/// `Finish` (sync, answer the digests) or until the upload is dropped (stop). SHA-512 runs on
/// a second thread beside it: together the two digests cost more than one core can stream,
/// and each thread still sees the bytes in order. The inspector rides on this thread: it only
/// copies the bounded regions it needs, so it costs little beside MD5.
fn write_and_digest(
    mut file: Option<std::fs::File>,
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
                    if let Some(file) = &mut file {
                        file.write_all(&data)?;
                    }
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
                    if let Some(file) = &file {
                        file.sync_all()?;
                    }
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
            md5: md5.finish_hex(),
            sha512: sha512.finish_hex(),
            detection: inspector.map(Inspector::finish),
        })
    })
}
