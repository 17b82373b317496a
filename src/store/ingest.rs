//! Taking image data in from a stream: the one path an upload (`PUT /file`), a stage
//! (`PUT /stage`) and an import (staged file or web-download) share. It enforces the size cap
//! and a declared size, digests and (for bare images) inspects the bytes on the way, keeps
//! the caller's heartbeat going while it waits for data, and puts the data in place only if
//! everything accepted it; on any failure nothing is left behind.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::inspect::{Policy, Refusal, Verdict};
use super::{ImageStore, Written};

/// The image's `disk_format` and `container_format`, which decide how its data is inspected.
#[derive(Clone, Debug)]
pub struct Formats {
    pub disk: String,
    pub container: String,
}

/// What to accept.
pub struct Rules<'a> {
    /// `image_size_cap`.
    pub cap: u64,
    /// The size the sender announced; more or fewer bytes are refused.
    pub declared: Option<u64>,
    pub formats: &'a Formats,
    pub policy: &'a Policy,
}

/// Why data was not taken in.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the image is larger than the size cap")]
    TooLarge,
    #[error("received {received} bytes or more, {declared} were declared")]
    SizeMismatch { declared: u64, received: u64 },
    #[error("reading the data failed: {0}")]
    Read(String),
    #[error("content refused by inspection ({})", .0.reason)]
    Refused(Refusal),
    #[error("image store: {0}")]
    Store(#[from] std::io::Error),
    /// The caller's heartbeat said to stop (the image changed hands meanwhile).
    #[error("{0}")]
    Stopped(String),
}

/// What was taken in: sizes, digests and the virtual size to record.
#[derive(Debug)]
pub struct Ingested {
    pub written: Written,
    pub virtual_size: Option<u64>,
}

/// Stream `data` into `store` as `image_id`'s data. `touch` runs every
/// `heartbeat` while data is awaited (an error stops the ingest); `on_chunk` sees each chunk's
/// length (metrics).
#[allow(clippy::too_many_arguments)]
pub async fn ingest<S, E, T, Fut>(
    store: &dyn ImageStore,
    image_id: &str,
    mut data: S,
    rules: &Rules<'_>,
    heartbeat: Duration,
    mut touch: T,
    mut on_chunk: impl FnMut(usize),
) -> Result<Ingested, IngestError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
    T: FnMut() -> Fut,
    Fut: Future<Output = Result<(), IngestError>>,
{
    if rules.declared.is_some_and(|size| size > rules.cap) {
        return Err(IngestError::TooLarge);
    }
    // Glance inspects only bare images (`glance/location.py`).
    let inspect = rules.formats.container == "bare";
    let mut upload = store.begin_upload(image_id, inspect).await?;
    let mut ticks = tokio::time::interval(heartbeat);
    ticks.tick().await;
    loop {
        let next = tokio::select! {
            next = data.next() => next,
            _ = ticks.tick() => {
                touch().await?;
                continue;
            }
        };
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|err| IngestError::Read(err.to_string()))?;
        let received = upload.size() + chunk.len() as u64;
        if received > rules.cap {
            return Err(IngestError::TooLarge);
        }
        if let Some(declared) = rules.declared.filter(|&size| received > size) {
            return Err(IngestError::SizeMismatch { declared, received });
        }
        upload.write(&chunk).await?;
        on_chunk(chunk.len());
    }
    if let Some(declared) = rules.declared.filter(|&size| size != upload.size()) {
        return Err(IngestError::SizeMismatch {
            declared,
            received: upload.size(),
        });
    }
    let mut written = upload.finish().await?;
    let virtual_size = match written.detection.take() {
        Some(detection) => {
            match detection.verdict(&rules.formats.disk, &rules.formats.container, rules.policy) {
                Verdict::Accept { virtual_size, .. } => virtual_size,
                // Dropping `upload` removes its data.
                Verdict::Refuse(refusal) => return Err(IngestError::Refused(refusal)),
            }
        }
        None => None,
    };
    upload.place().await?;
    Ok(Ingested {
        written,
        virtual_size,
    })
}
