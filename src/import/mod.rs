//! Interoperable import, carried out in the API process (Glance's `api_image_import` flow,
//! `glance/async_/flows/api_image_import.py`): the task moves `pending → processing →
//! success | failure`, the image `uploading | queued → importing → active`, or back to
//! `queued` on failure. The image's `os_glance_import_task` property is the lock: every change
//! the job makes is a compare-and-set on it and on the image status, so a job whose lock was
//! taken over (by an admin after it stalled, or by recovery after its node died) stops
//! without touching the image again.
//!
//! Data goes through `store::ingest` like an upload: digests, size cap, inspection. A dead
//! job leaves its image `importing` with a stale `updated_at`; `recovery` puts it back to
//! `queued` and fails the task.

pub mod conversion;
pub mod filter;
mod placement;
pub mod web_download;

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use crate::config::Settings;
use crate::data_access::{DataAccess, DataAccessError};
use crate::domain::{Image, ImageChanges, ImageStatus, RequestContext, TaskChanges, TaskStatus};
use crate::store::ingest::{ingest, Formats, IngestError, Rules};
use crate::store::inspect::Policy;
use crate::store::{FileStore, Stores};

pub use crate::domain::{IMPORT_LOCK_PROPERTY as LOCK_PROPERTY, STALE_TASK_MESSAGE};
/// Stores being imported to (Glance keeps it, empty, on single-store deployments).
pub const IMPORTING_PROPERTY: &str = "os_glance_importing_to_stores";
/// Stores an import failed for.
pub const FAILED_PROPERTY: &str = "os_glance_failed_import";
/// The node that staged the data (Glance's `worker_self_reference_url`).
pub const STAGE_HOST_PROPERTY: &str = "os_glance_stage_host";

/// How long a finished task is kept before it may be purged (Glance's `task_time_to_live`,
/// 48 hours).
const TASK_TIME_TO_LIVE: chrono::Duration = chrono::Duration::hours(48);

/// How the data arrives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    /// From the staging area (`PUT /stage`).
    GlanceDirect,
    /// Fetched from a URL that passed the filters (every redirect is checked again).
    WebDownload { uri: String },
    /// An active image's data, read from a store that holds it, into more stores.
    CopyImage,
}

impl Method {
    pub fn name(&self) -> &'static str {
        match self {
            Self::GlanceDirect => "glance-direct",
            Self::WebDownload { .. } => "web-download",
            Self::CopyImage => "copy-image",
        }
    }
}

/// One accepted import request.
pub struct Job {
    pub ctx: RequestContext,
    pub image_id: String,
    pub task_id: String,
    pub method: Method,
    /// The stores to import into, in order (ids of enabled stores; the one store in
    /// single-store).
    pub stores: Vec<String>,
    /// Glance's `all_stores_must_succeed`: one failed store fails the import (and undoes the
    /// copies made), else the import goes on and lists it in `os_glance_failed_import`.
    pub all_stores_must_succeed: bool,
}

/// What runs imports: the data access, the image store, the staging area and the settings.
pub struct Importer {
    db: Arc<dyn DataAccess>,
    stores: Arc<Stores>,
    staging: Arc<FileStore>,
    settings: Arc<Settings>,
}

/// Why an import failed: the task's message.
#[derive(Debug)]
struct Failure(String);

impl From<DataAccessError> for Failure {
    fn from(err: DataAccessError) -> Self {
        Self(format!("Error: {err}"))
    }
}

impl Importer {
    pub fn new(
        db: Arc<dyn DataAccess>,
        stores: Arc<Stores>,
        staging: Arc<FileStore>,
        settings: Arc<Settings>,
    ) -> Self {
        Self {
            db,
            stores,
            staging,
            settings,
        }
    }

    /// The staging area (`import.staging_path`).
    pub fn staging(&self) -> &FileStore {
        &self.staging
    }

    /// Run the job in the background; the request that started it has its 202 already.
    pub fn spawn(self: &Arc<Self>, job: Job) {
        let importer = self.clone();
        tokio::spawn(async move { importer.run(job).await });
    }

    async fn run(&self, job: Job) {
        let started = Instant::now();
        let method = job.method.name();
        let outcome = match self.import(&job).await {
            Ok(bytes) => {
                crate::metrics::import_finished(method, "success", started.elapsed());
                log::info!(
                    "import {} of image {} ({method}): {bytes} bytes",
                    job.task_id,
                    job.image_id
                );
                self.finish_task(&job, TaskStatus::Success, None).await;
                return;
            }
            Err(Failure(message)) => message,
        };
        log::warn!(
            "import {} of image {} ({method}) failed: {outcome}",
            job.task_id,
            job.image_id
        );
        crate::metrics::import_finished(method, "failure", started.elapsed());
        // The task first: a client that sees the image queued again finds the reason.
        self.finish_task(&job, TaskStatus::Failure, Some(outcome))
            .await;
        if job.method == Method::CopyImage {
            self.release(&job, ImageStatus::Active).await;
        } else {
            self.revert(&job).await;
        }
    }

    /// The flow proper; the bytes imported.
    async fn import(&self, job: &Job) -> Result<u64, Failure> {
        let (db, ctx, id) = (&self.db, &job.ctx, job.image_id.as_str());
        let processing = TaskChanges {
            status: Some(TaskStatus::Processing),
            ..TaskChanges::default()
        };
        db.task_update(ctx, &job.task_id, processing, Some(TaskStatus::Pending))
            .await?;
        let image = db.image_get(ctx, id, false).await?;
        let formats = Formats {
            disk: image.disk_format.clone().unwrap_or_default(),
            container: image.container_format.clone().unwrap_or_default(),
        };
        let from = match job.method {
            Method::GlanceDirect => ImageStatus::Uploading,
            Method::WebDownload { .. } => ImageStatus::Queued,
            Method::CopyImage => {
                // The image stays active; only the properties tell a copy is under way.
                let mut copying = self.locked_changes(job);
                self.mark_importing(job, &mut copying, &image);
                db.image_update(ctx, id, copying, false, Some(ImageStatus::Active))
                    .await
                    .map_err(|err| lost_lock(id, err))?;
                let source = placement::Source::Copy(&image);
                return self.place(job, &source, &formats, &image).await;
            }
        };
        let mut importing = self.locked_changes(job);
        importing.status = Some(ImageStatus::Importing);
        self.mark_importing(job, &mut importing, &image);
        db.image_update(ctx, id, importing, false, Some(from))
            .await
            .map_err(|err| lost_lock(id, err))?;
        let staged = self.staging.path_for(id);
        if let Method::WebDownload { uri } = &job.method {
            let body = web_download::open(uri, &self.settings.import_filtering)
                .await
                .map_err(|err| Failure(err.to_string()))?;
            let staging = self.staging.as_ref();
            if self.settings.import.converts() || job.stores.len() > 1 {
                // As Glance: the download is staged, then converted or copied to each store.
                self.take_in(job, staging, body.stream, body.length, &formats)
                    .await?;
            } else {
                let source = placement::Source::Stream(std::sync::Mutex::new(Some(body)));
                return self.place(job, &source, &formats, &image).await;
            }
        }
        let (path, converted) = self.convert(job, &staged, &formats).await?;
        let formats = converted.unwrap_or(formats);
        let placed = self
            .place(job, &placement::Source::File(&path), &formats, &image)
            .await;
        if path != staged {
            remove_converted(&path, id).await;
        }
        let size = placed?;
        self.remove_staged(id).await;
        Ok(size)
    }

    /// `os_glance_importing_to_stores` to the job's stores, which leave
    /// `os_glance_failed_import`.
    fn mark_importing(&self, job: &Job, changes: &mut ImageChanges, image: &Image) {
        let all: Vec<&str> = job.stores.iter().map(String::as_str).collect();
        self.note_stores(changes, job, image, &all, &[]);
    }

    /// Changes guarded by our lock.
    fn locked_changes(&self, job: &Job) -> ImageChanges {
        let mut changes = ImageChanges::default();
        changes
            .expect_properties
            .insert(LOCK_PROPERTY.into(), Some(job.task_id.clone()));
        changes
    }

    /// With `import.plugins = ["image_conversion"]`, the staged file converted (a file beside
    /// it, which the caller removes) and its new formats when the conversion changed them;
    /// else the staged file as it is.
    async fn convert(
        &self,
        job: &Job,
        path: &std::path::Path,
        formats: &Formats,
    ) -> Result<(std::path::PathBuf, Option<Formats>), Failure> {
        let id = job.image_id.as_str();
        if !self.settings.import.converts() {
            return Ok((path.to_path_buf(), None));
        }
        let converted_path = self
            .staging
            .root()
            .join(format!(".{id}.{}.part", uuid::Uuid::new_v4()));
        let policy = Policy::from(&self.settings.image_format);
        let conversion = conversion::Conversion {
            settings: &self.settings.image_conversion,
            policy: &policy,
            cap: self.settings.limits.image_size_cap,
        };
        let heartbeat =
            crate::recovery::heartbeat_interval(self.settings.store.stale_upload_seconds);
        let touch = || async { self.touch(job).await.map_err(|err| err.to_string()) };
        let outcome = conversion
            .run(path, &formats.disk, &converted_path, heartbeat, touch)
            .await;
        match outcome {
            Ok(outcome) if outcome.converted => {
                log::info!(
                    "import {}: image {id} converted from {} to {}",
                    job.task_id,
                    formats.disk,
                    outcome.disk_format
                );
                let converted = Formats {
                    disk: outcome.disk_format,
                    container: "bare".into(),
                };
                Ok((converted_path, Some(converted)))
            }
            Ok(_) => {
                remove_converted(&converted_path, id).await;
                Ok((path.to_path_buf(), None))
            }
            Err(err) => {
                remove_converted(&converted_path, id).await;
                Err(Failure(format!("Image conversion failed: {err}")))
            }
        }
    }

    async fn take_in_file(
        &self,
        job: &Job,
        path: &std::path::Path,
        store: &dyn crate::store::ImageStore,
        formats: &Formats,
    ) -> Result<crate::store::ingest::Ingested, Failure> {
        let size = tokio::fs::metadata(path)
            .await
            .map_err(|err| Failure(format!("data of image {} is gone: {err}", job.image_id)))?
            .len();
        let data = Box::pin(
            crate::store::file::read_file_range(path, 0, size)
                .await
                .map_err(|err| Failure(format!("cannot read the data to import: {err}")))?,
        );
        self.take_in(job, store, data, Some(size), formats).await
    }

    async fn take_in<S, E>(
        &self,
        job: &Job,
        store: &dyn crate::store::ImageStore,
        data: S,
        declared: Option<u64>,
        formats: &Formats,
    ) -> Result<crate::store::ingest::Ingested, Failure>
    where
        S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let policy = Policy::from(&self.settings.image_format);
        let rules = Rules {
            cap: self.settings.limits.image_size_cap,
            declared,
            formats,
            policy: &policy,
        };
        let heartbeat =
            crate::recovery::heartbeat_interval(self.settings.store.stale_upload_seconds);
        let id = job.image_id.as_str();
        // Bytes count as imported once, into the store (not when a download is staged first
        // for the conversion plugin).
        let into_store = !std::ptr::addr_eq(store, Arc::as_ptr(&self.staging));
        let result = ingest(
            store,
            id,
            data,
            &rules,
            heartbeat,
            || self.touch(job),
            |n| {
                if into_store {
                    crate::metrics::bytes_imported(n);
                }
            },
        )
        .await;
        result.map_err(|err| match err {
            IngestError::Refused(refusal) => {
                crate::metrics::upload_refused(refusal.reason);
                Failure(format!("Image format rejected: {}", refusal.detail))
            }
            IngestError::TooLarge => Failure(format!(
                "The image is larger than image_size_cap ({} bytes)",
                self.settings.limits.image_size_cap
            )),
            other => Failure(other.to_string()),
        })
    }

    /// The heartbeat: the image (still importing, still ours) and the task get `updated_at`.
    async fn touch(&self, job: &Job) -> Result<(), IngestError> {
        let touched = self
            .db
            .image_update(
                &job.ctx,
                &job.image_id,
                self.locked_changes(job),
                false,
                // The lock is the guard: copy-image keeps the image active, and an import to
                // several stores may make it active before the last one.
                None,
            )
            .await;
        match touched {
            Ok(_) => {}
            Err(DataAccessError::Conflict(_) | DataAccessError::NotFound(_)) => {
                return Err(IngestError::Stopped(format!(
                    "image {} is no longer locked by import task {}",
                    job.image_id, job.task_id
                )))
            }
            Err(err) => log::warn!("cannot touch importing image {}: {err}", job.image_id),
        }
        let task = self
            .db
            .task_update(
                &job.ctx,
                &job.task_id,
                TaskChanges::default(),
                Some(TaskStatus::Processing),
            )
            .await;
        if let Err(DataAccessError::Conflict(_) | DataAccessError::NotFound(_)) = task {
            return Err(IngestError::Stopped(format!(
                "task {} is no longer processing",
                job.task_id
            )));
        }
        Ok(())
    }

    /// After a failure: the image back to `queued` (size cleared, lock dropped) if it is still
    /// ours, and then its staged data removed (a retry stages again), as Glance's flow reverts.
    async fn revert(&self, job: &Job) {
        let id = job.image_id.as_str();
        for from in [
            ImageStatus::Importing,
            ImageStatus::Uploading,
            ImageStatus::Queued,
        ] {
            let mut queued = self.locked_changes(job);
            queued.status = Some(ImageStatus::Queued);
            queued.size = Some(None);
            queued.virtual_size = Some(None);
            queued.remove_properties = vec![LOCK_PROPERTY.into(), STAGE_HOST_PROPERTY.into()];
            match self
                .db
                .image_update(&job.ctx, id, queued, false, Some(from))
                .await
            {
                Ok(_) => {
                    self.remove_staged(id).await;
                    return;
                }
                // Another status, or not our lock any more: try the next, then leave it.
                Err(DataAccessError::Conflict(_)) => continue,
                Err(err) => {
                    log::warn!("cannot put image {id} back to queued: {err}");
                    return;
                }
            }
        }
    }

    /// After a failed copy-image: the lock dropped, the image left as it is (active).
    async fn release(&self, job: &Job, status: ImageStatus) {
        let mut release = self.locked_changes(job);
        release.remove_properties = vec![LOCK_PROPERTY.into()];
        release
            .set_properties
            .insert(IMPORTING_PROPERTY.into(), Some(String::new()));
        if let Err(err) = self
            .db
            .image_update(&job.ctx, &job.image_id, release, false, Some(status))
            .await
        {
            log::warn!(
                "cannot release the import lock of image {}: {err}",
                job.image_id
            );
        }
    }

    async fn remove_staged(&self, image_id: &str) {
        if let Err(err) = self.staging.delete_image(image_id).await {
            log::warn!("cannot remove staged data of image {image_id}: {err}");
        }
    }

    async fn finish_task(&self, job: &Job, status: TaskStatus, message: Option<String>) {
        let changes = TaskChanges {
            status: Some(status),
            result: (status == TaskStatus::Success).then(|| json!({"image_id": job.image_id})),
            message: Some(message.unwrap_or_default()),
            expires_at: Some(crate::domain::now() + TASK_TIME_TO_LIVE),
        };
        // A failure may come before the task left `pending`.
        let from = (status == TaskStatus::Success).then_some(TaskStatus::Processing);
        if let Err(err) = self
            .db
            .task_update(&job.ctx, &job.task_id, changes, from)
            .await
        {
            log::warn!("cannot record the end of task {}: {err}", job.task_id);
        }
    }
}

/// Remove the file a conversion wrote.
async fn remove_converted(path: &std::path::Path, image_id: &str) {
    if let Err(err) = tokio::fs::remove_file(path).await {
        if err.kind() != std::io::ErrorKind::NotFound {
            log::warn!("cannot remove converted data of image {image_id}: {err}");
        }
    }
}

/// A compare-and-set lost during the import: someone else has the image now.
fn lost_lock(image_id: &str, err: DataAccessError) -> Failure {
    match err {
        DataAccessError::Conflict(_) => Failure(format!(
            "Image {image_id} changed during the import (its status or import lock); aborted"
        )),
        DataAccessError::NotFound(_) => Failure(format!(
            "Image {image_id} was deleted during the import; aborted"
        )),
        other => other.into(),
    }
}
