//! Putting imported data into the job's stores, one after the other (Glance's serial
//! `_ImportToStore` tasks), and copy-image's source: the image's data read from a store that
//! holds it.
//!
//! With `all_stores_must_succeed` (the default) nothing is recorded until every store holds a
//! copy; one failure removes the copies made and fails the import. Without it, each copy is
//! recorded as it lands (an import's image goes active with its first), a failed store is
//! listed in `os_glance_failed_import`, and the import fails only when no store took the data
//! (copy-image then still succeeds, as Glance's does: the image keeps its copies).

use std::path::Path;

use crate::domain::{Image, ImageChanges, ImageStatus, LocationStatus, NewLocation};
use crate::store::ingest::{Formats, Ingested};
use crate::store::{loggable, Entry};

use super::web_download::Body;
use super::{lost_lock, Failure, Importer, Job, Method, FAILED_PROPERTY, IMPORTING_PROPERTY};
use super::{LOCK_PROPERTY, STAGE_HOST_PROPERTY};

/// Where the data comes from.
pub(super) enum Source<'a> {
    /// A file: staged, downloaded to staging, or converted.
    File(&'a Path),
    /// A download streamed straight into the only store (taken once).
    Stream(std::sync::Mutex<Option<Body>>),
    /// copy-image: the image's own data, from the first store that serves it.
    Copy(&'a Image),
}

/// A copy written to a store, and what was learnt of its data on the way.
struct Placed<'a> {
    entry: &'a Entry,
    url: String,
    data: Data,
}

/// Size, digests and virtual size of a copy (what `Ingested` says, without the inspector).
struct Data {
    size: u64,
    md5: String,
    sha512: String,
    virtual_size: Option<u64>,
}

impl From<Ingested> for Data {
    fn from(ingested: Ingested) -> Self {
        Self {
            size: ingested.written.size,
            md5: ingested.written.md5,
            sha512: ingested.written.sha512,
            virtual_size: ingested.virtual_size,
        }
    }
}

impl Importer {
    /// The data into each of the job's stores; the size of one copy.
    pub(super) async fn place(
        &self,
        job: &Job,
        source: &Source<'_>,
        formats: &Formats,
        image: &Image,
    ) -> Result<u64, Failure> {
        let copy = job.method == Method::CopyImage;
        let mut remaining: Vec<&str> = job.stores.iter().map(String::as_str).collect();
        let mut failed: Vec<String> = Vec::new();
        let mut held: Vec<Placed<'_>> = Vec::new();
        // What the image's status is while we work (an import goes active with its first
        // recorded copy).
        let mut status = if copy {
            ImageStatus::Active
        } else {
            ImageStatus::Importing
        };
        let mut size = None;
        for store_id in &job.stores {
            remaining.retain(|s| s != store_id);
            let outcome = match self.stores.get(store_id) {
                Some(entry) => self.copy_into(job, source, entry, formats, image).await,
                None => Err(Failure(format!("store {store_id} is not enabled any more"))),
            };
            let placed = match outcome {
                Ok(placed) => placed,
                Err(failure) => {
                    log::warn!(
                        "import {} of image {} into store {store_id} failed: {}",
                        job.task_id,
                        job.image_id,
                        failure.0
                    );
                    failed.push(store_id.clone());
                    let mut note = self.locked_changes(job);
                    self.note_stores(&mut note, job, image, &remaining, &failed);
                    let noted = self
                        .db
                        .image_update(&job.ctx, &job.image_id, note, false, Some(status))
                        .await;
                    if job.all_stores_must_succeed || noted.is_err() {
                        self.remove_copies(&held).await;
                        return Err(failure);
                    }
                    continue;
                }
            };
            size = Some(placed.data.size);
            if job.all_stores_must_succeed {
                held.push(placed);
                continue;
            }
            // Recorded now, with the stores still to go.
            let mut record = self.locked_changes(job);
            self.note_stores(&mut record, job, image, &remaining, &failed);
            let before = status;
            if !copy && status != ImageStatus::Active {
                activate(&mut record, &placed.data, formats, image);
                status = ImageStatus::Active;
            }
            record.add_locations = vec![self.location(&placed)];
            if let Err(err) = self
                .db
                .image_update(&job.ctx, &job.image_id, record, false, Some(before))
                .await
            {
                self.remove_copies(std::slice::from_ref(&placed)).await;
                return Err(lost_lock(&job.image_id, err));
            }
        }
        // The end: the lock dropped, and with all_stores_must_succeed every copy recorded.
        let mut end = self.locked_changes(job);
        self.note_stores(&mut end, job, image, &[], &failed);
        end.remove_properties = vec![LOCK_PROPERTY.into()];
        if !copy {
            end.remove_properties.push(STAGE_HOST_PROPERTY.into());
        }
        if let Some(first) = held.first() {
            if !copy {
                activate(&mut end, &first.data, formats, image);
            }
            end.add_locations = held.iter().map(|p| self.location(p)).collect();
        } else if !copy && status != ImageStatus::Active {
            return Err(Failure("None of the uploads finished!".into()));
        }
        let before = if held.is_empty() {
            status
        } else if copy {
            ImageStatus::Active
        } else {
            ImageStatus::Importing
        };
        if let Err(err) = self
            .db
            .image_update(&job.ctx, &job.image_id, end, false, Some(before))
            .await
        {
            self.remove_copies(&held).await;
            return Err(lost_lock(&job.image_id, err));
        }
        Ok(size.unwrap_or(0))
    }

    /// One copy of the data into `entry`'s store (for copy-image, checked against the image's
    /// checksums).
    async fn copy_into<'e>(
        &self,
        job: &Job,
        source: &Source<'_>,
        entry: &'e Entry,
        formats: &Formats,
        image: &Image,
    ) -> Result<Placed<'e>, Failure> {
        let store = entry.store.as_ref();
        let ingested = match source {
            Source::File(path) => self.take_in_file(job, path, store, formats).await?,
            Source::Stream(body) => {
                let body = body
                    .lock()
                    .ok()
                    .and_then(|mut body| body.take())
                    .ok_or_else(|| Failure("the download was already used".into()))?;
                self.take_in(job, store, body.stream, body.length, formats)
                    .await?
            }
            Source::Copy(image) => {
                let (data, size) = self.open_copy(image).await?;
                self.take_in(job, store, data, Some(size), formats).await?
            }
        };
        let placed = Placed {
            entry,
            url: store.url_for(&job.image_id),
            data: ingested.into(),
        };
        if let Source::Copy(_) = source {
            if let Err(failure) = same_data(image, &placed.data) {
                self.remove_copies(std::slice::from_ref(&placed)).await;
                return Err(failure);
            }
        }
        Ok(placed)
    }

    /// The image's data from the first of its active locations whose store serves it (the
    /// download's order and fallback).
    async fn open_copy(&self, image: &Image) -> Result<(crate::store::ByteStream, u64), Failure> {
        let mut why = String::from("the image has no location in an enabled store");
        for location in image
            .locations
            .iter()
            .filter(|l| l.status == LocationStatus::Active)
        {
            let Some(entry) = self.stores.for_location(&location.url, &location.metadata) else {
                continue;
            };
            let size = match image.size.and_then(|s| u64::try_from(s).ok()) {
                Some(size) => Ok(size),
                None => entry.store.size(&location.url).await,
            };
            let opened = match size {
                Ok(size) => entry
                    .store
                    .read_range(&location.url, 0, size)
                    .await
                    .map(|data| (data, size)),
                Err(err) => Err(err),
            };
            match opened {
                Ok(opened) => return Ok(opened),
                Err(err) => {
                    log::warn!(
                        "copy-image of image {}: store {} cannot read {}: {err}",
                        image.id,
                        entry.id,
                        loggable(&location.url)
                    );
                    why = format!("no store could read the image's data (last: {err})");
                }
            }
        }
        Err(Failure(why))
    }

    fn location(&self, placed: &Placed<'_>) -> NewLocation {
        NewLocation {
            url: placed.url.clone(),
            metadata: self.stores.location_metadata(&placed.entry.id),
            status: LocationStatus::Active,
        }
    }

    /// `os_glance_importing_to_stores` (the stores still to go) and `os_glance_failed_import`
    /// (this job's failed stores, beside earlier imports' failures for stores this job does
    /// not import to). Glance keeps both, empty, in single-store.
    pub(super) fn note_stores(
        &self,
        changes: &mut ImageChanges,
        job: &Job,
        image: &Image,
        remaining: &[&str],
        failed: &[String],
    ) {
        let (importing, failures) = if self.stores.multi() {
            let mut failures: Vec<&str> = image
                .property(FAILED_PROPERTY)
                .unwrap_or_default()
                .split(',')
                .filter(|s| !s.is_empty() && !job.stores.iter().any(|j| j == s))
                .collect();
            failures.extend(failed.iter().map(String::as_str));
            (remaining.join(","), failures.join(","))
        } else {
            (String::new(), String::new())
        };
        changes
            .set_properties
            .insert(IMPORTING_PROPERTY.into(), Some(importing));
        changes
            .set_properties
            .insert(FAILED_PROPERTY.into(), Some(failures));
    }

    async fn remove_copies(&self, copies: &[Placed<'_>]) {
        for placed in copies {
            if let Err(err) = placed.entry.store.delete(&placed.url).await {
                log::warn!(
                    "cannot remove an unrecorded copy in store {} ({}): {err}",
                    placed.entry.id,
                    loggable(&placed.url)
                );
            }
        }
    }
}

/// The image's size, digests and virtual size from its first copy, and `active`; its formats
/// too if the conversion plugin changed them.
fn activate(changes: &mut ImageChanges, data: &Data, formats: &Formats, image: &Image) {
    if image.disk_format.as_deref() != Some(formats.disk.as_str()) {
        changes.disk_format = Some(Some(formats.disk.clone()));
    }
    if image.container_format.as_deref() != Some(formats.container.as_str()) {
        changes.container_format = Some(Some(formats.container.clone()));
    }
    changes.status = Some(ImageStatus::Active);
    changes.size = Some(Some(i64::try_from(data.size).unwrap_or(i64::MAX)));
    changes.virtual_size = Some(
        data.virtual_size
            .map(|v| i64::try_from(v).unwrap_or(i64::MAX)),
    );
    changes.checksum = Some(Some(data.md5.clone()));
    changes.os_hash_algo = Some(Some("sha512".into()));
    changes.os_hash_value = Some(Some(data.sha512.clone()));
}

/// A copy must be the image's data: the digests the image records, where it records them.
fn same_data(image: &Image, written: &Data) -> Result<(), Failure> {
    let md5_differs = image.checksum.as_deref().is_some_and(|c| c != written.md5);
    let sha_differs = image.os_hash_algo.as_deref() == Some("sha512")
        && image
            .os_hash_value
            .as_deref()
            .is_some_and(|h| h != written.sha512);
    let size_differs = image
        .size
        .is_some_and(|s| u64::try_from(s).ok() != Some(written.size));
    if md5_differs || sha_differs || size_differs {
        return Err(Failure(format!(
            "the data read for image {} does not match its recorded size or checksums",
            image.id
        )));
    }
    Ok(())
}
