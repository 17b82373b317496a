//! Recovery of uploads whose node died (kill -9, power loss), safe with several API nodes on
//! one database and one store:
//!
//! - A node streaming an upload touches the image (`updated_at`, compare-and-set on `saving`)
//!   every `store.stale_upload_seconds / 4`, even while the client sends nothing.
//! - Any node, at start and then every `stale_upload_seconds / 4`, puts `saving` images
//!   untouched for longer than `stale_upload_seconds` back to `queued` with size cleared, with
//!   a compare-and-set on `saving`: of two nodes racing, one wins and the other gets Conflict.
//!   A live uploader that lost its image this way fails its own final compare-and-set
//!   (saving → active) and removes its data.
//! - Temporary `.{image_id}.{uuid}.part` files and incomplete S3 multipart uploads (key = image
//!   id) are never served; a node removes those whose image is not `saving` or `importing` (the
//!   upload or import that wrote them is over), at start and on every pass; in the staging
//!   area, those whose image is not `uploading`.
//! - Imports (`crate::import`) touch their image the same way while `importing`. An image left
//!   `importing` untouched is put back to `queued` (size cleared, import lock dropped, staged
//!   data removed), with a compare-and-set on the status and on the lock, and its task is
//!   marked failed with a message: the import can be run again. An image left `uploading`
//!   without size (a stage whose node died) goes back to `queued` the same way; a finished
//!   stage (size set) waits for its import however long it takes.
//! - Staged data whose image is neither `uploading` nor `importing` is removed.

use std::sync::Arc;
use std::time::Duration;

use crate::data_access::{DataAccess, DataAccessError};
use crate::domain::{
    now, CmpOp, ImageChanges, ImageQuery, ImageStatus, RequestContext, TaskChanges, TaskStatus,
    ValueMatch, VisibilityFilter,
};
use crate::store::{FileStore, Stores};

/// How often an uploader touches its image, and how often a node looks for stale uploads.
pub fn heartbeat_interval(stale_upload_seconds: u64) -> Duration {
    Duration::from_millis(stale_upload_seconds.saturating_mul(1000) / 4)
        .max(Duration::from_millis(100))
}

fn system_context() -> RequestContext {
    RequestContext::noauth(format!("req-recovery-{}", uuid::Uuid::new_v4()))
}

/// Put `saving` images untouched for longer than `stale` back to `queued`; how many.
pub async fn reset_stale_uploads(
    db: &dyn DataAccess,
    stale: Duration,
) -> Result<usize, DataAccessError> {
    let ctx = system_context();
    let cutoff = now() - chrono::Duration::from_std(stale).unwrap_or(chrono::Duration::MAX);
    let mut query = ImageQuery::default();
    query.filters.visibility = Some(VisibilityFilter::All);
    query.filters.status = Some(ValueMatch::Eq(ImageStatus::Saving.as_str().to_string()));
    query.filters.updated_at = vec![(CmpOp::Lt, cutoff)];
    query.member_status = crate::domain::MemberStatusFilter::All;
    let mut reset = 0;
    for image in db.image_get_all(&ctx, &query).await? {
        let queued = ImageChanges {
            status: Some(ImageStatus::Queued),
            size: Some(None),
            virtual_size: Some(None),
            ..ImageChanges::default()
        };
        match db
            .image_update(&ctx, &image.id, queued, false, Some(ImageStatus::Saving))
            .await
        {
            Ok(_) => {
                log::warn!(
                    "image {} was left saving by a dead upload; back to queued",
                    image.id
                );
                reset += 1;
            }
            // Another node got there first, or the upload finished just now.
            Err(DataAccessError::Conflict(_) | DataAccessError::NotFound(_)) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(reset)
}

/// Remove what interrupted writes left in every store (`.part` files, incomplete S3
/// multipart uploads) whose image is no longer in one of `live` statuses; how many.
pub async fn remove_orphan_parts(
    db: &dyn DataAccess,
    stores: &Stores,
    live: &[ImageStatus],
) -> std::io::Result<usize> {
    let ctx = system_context();
    let mut removed = 0;
    for entry in stores.entries() {
        for leftover in entry.store.leftovers().await? {
            let in_progress = matches!(
                db.image_get(&ctx, &leftover.image_id, false).await,
                Ok(image) if live.contains(&image.status) && !image.deleted
            );
            if !in_progress {
                entry.store.remove_leftover(&leftover).await?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// Remove temporary files and staged data of the staging area whose image is no longer in one
/// of `live` statuses; how many.
pub async fn remove_orphan_staging(
    db: &dyn DataAccess,
    staging: &FileStore,
    live: &[ImageStatus],
) -> std::io::Result<usize> {
    let ctx = system_context();
    let mut removed = 0;
    let mut entries = tokio::fs::read_dir(staging.root()).await?;
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name().to_string_lossy().into_owned();
        let image_id = match crate::store::file::part_file_image(&name) {
            Some(image_id) => image_id,
            None if uuid::Uuid::parse_str(&name).is_ok() => name.as_str(),
            None => continue,
        };
        let in_progress = matches!(
            db.image_get(&ctx, image_id, false).await,
            Ok(image) if live.contains(&image.status) && !image.deleted
        );
        if !in_progress {
            match tokio::fs::remove_file(entry.path()).await {
                Ok(()) => removed += 1,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
        }
    }
    Ok(removed)
}

/// Put images left `importing` (and `uploading` without size) untouched for longer than
/// `stale` back to `queued`, failing their tasks; how many.
pub async fn reset_stale_imports(
    db: &dyn DataAccess,
    staging: &FileStore,
    stale: Duration,
) -> Result<usize, DataAccessError> {
    let ctx = system_context();
    let cutoff = now() - chrono::Duration::from_std(stale).unwrap_or(chrono::Duration::MAX);
    let mut reset = 0;
    for status in [ImageStatus::Importing, ImageStatus::Uploading] {
        let mut query = ImageQuery::default();
        query.filters.visibility = Some(VisibilityFilter::All);
        query.filters.status = Some(ValueMatch::Eq(status.as_str().to_string()));
        query.filters.updated_at = vec![(CmpOp::Lt, cutoff)];
        query.member_status = crate::domain::MemberStatusFilter::All;
        for image in db.image_get_all(&ctx, &query).await? {
            if status == ImageStatus::Uploading && image.size.is_some() {
                continue;
            }
            let lock = image
                .property(crate::domain::IMPORT_LOCK_PROPERTY)
                .map(str::to_string);
            let mut queued = ImageChanges {
                status: Some(ImageStatus::Queued),
                size: Some(None),
                virtual_size: Some(None),
                ..ImageChanges::default()
            };
            queued
                .expect_properties
                .insert(crate::domain::IMPORT_LOCK_PROPERTY.into(), lock.clone());
            if lock.is_some() {
                queued.remove_properties = vec![crate::domain::IMPORT_LOCK_PROPERTY.into()];
            }
            match db
                .image_update(&ctx, &image.id, queued, false, Some(status))
                .await
            {
                Ok(_) => {}
                Err(DataAccessError::Conflict(_) | DataAccessError::NotFound(_)) => continue,
                Err(err) => return Err(err),
            }
            log::warn!(
                "image {} was left {status} by a dead node; back to queued",
                image.id
            );
            reset += 1;
            if let Err(err) = staging.delete_image(&image.id).await {
                log::warn!("cannot remove staged data of image {}: {err}", image.id);
            }
            if let Some(task_id) = lock {
                fail_task(db, &ctx, &task_id).await;
            }
        }
    }
    Ok(reset)
}

async fn fail_task(db: &dyn DataAccess, ctx: &RequestContext, task_id: &str) {
    for from in [TaskStatus::Processing, TaskStatus::Pending] {
        let failed = TaskChanges {
            status: Some(TaskStatus::Failure),
            message: Some(crate::domain::STALE_TASK_MESSAGE.into()),
            expires_at: Some(now() + chrono::Duration::hours(48)),
            ..TaskChanges::default()
        };
        match db.task_update(ctx, task_id, failed, Some(from)).await {
            Ok(_) => return,
            Err(DataAccessError::Conflict(_)) => continue,
            Err(err) => {
                log::warn!("cannot fail stale task {task_id}: {err}");
                return;
            }
        }
    }
}

/// One recovery pass: stale uploads and imports first, so their files go in the same pass.
pub async fn recover_once(
    db: &dyn DataAccess,
    stores: &Stores,
    staging: &FileStore,
    stale: Duration,
) {
    match reset_stale_uploads(db, stale).await {
        Ok(0) => {}
        Ok(n) => log::warn!("{n} stale upload(s) reset to queued"),
        Err(err) => log::error!("cannot look for stale uploads: {err}"),
    }
    match reset_stale_imports(db, staging, stale).await {
        Ok(0) => {}
        Ok(n) => log::warn!("{n} stale import(s) or stage(s) reset to queued"),
        Err(err) => log::error!("cannot look for stale imports: {err}"),
    }
    let live = [ImageStatus::Saving, ImageStatus::Importing];
    match remove_orphan_parts(db, stores, &live).await {
        Ok(0) => {}
        Ok(n) => log::warn!("{n} orphan temporary upload file(s) removed"),
        Err(err) => log::error!("cannot clean temporary upload files: {err}"),
    }
    let staged = [ImageStatus::Uploading, ImageStatus::Importing];
    match remove_orphan_staging(db, staging, &staged).await {
        Ok(0) => {}
        Ok(n) => log::warn!("{n} orphan staging file(s) removed"),
        Err(err) => log::error!("cannot clean the staging area: {err}"),
    }
}

/// Recover at start, then periodically, for the life of the process.
pub fn spawn(
    db: Arc<dyn DataAccess>,
    stores: Arc<Stores>,
    staging: Arc<FileStore>,
    stale_upload_seconds: u64,
) {
    let stale = Duration::from_secs(stale_upload_seconds);
    let every = heartbeat_interval(stale_upload_seconds);
    tokio::spawn(async move {
        loop {
            recover_once(db.as_ref(), &stores, &staging, stale).await;
            tokio::time::sleep(every).await;
        }
    });
}
