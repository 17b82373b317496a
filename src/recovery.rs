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
//! - Temporary `.{image_id}.{uuid}.part` files are never served; a node removes those whose
//!   image is not `saving` (the upload that wrote them is over), at start and on every pass.

use std::sync::Arc;
use std::time::Duration;

use crate::data_access::{DataAccess, DataAccessError};
use crate::domain::{
    now, CmpOp, ImageChanges, ImageQuery, ImageStatus, RequestContext, ValueMatch, VisibilityFilter,
};
use crate::store::Store;

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

/// Remove temporary upload files whose image is not `saving` any more; how many.
pub async fn remove_orphan_parts(db: &dyn DataAccess, store: &Store) -> std::io::Result<usize> {
    let ctx = system_context();
    let mut removed = 0;
    let mut entries = tokio::fs::read_dir(store.root()).await?;
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(image_id) = part_file_image(&name) else {
            continue;
        };
        let saving = matches!(
            db.image_get(&ctx, image_id, false).await,
            Ok(image) if image.status == ImageStatus::Saving && !image.deleted
        );
        if !saving {
            match tokio::fs::remove_file(entry.path()).await {
                Ok(()) => removed += 1,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
        }
    }
    Ok(removed)
}

/// `.{image_id}.{uuid}.part` → image_id.
fn part_file_image(name: &str) -> Option<&str> {
    let inner = name.strip_prefix('.')?.strip_suffix(".part")?;
    inner.rsplit_once('.').map(|(id, _)| id)
}

/// One recovery pass: stale uploads first, so their temporary files go in the same pass.
pub async fn recover_once(db: &dyn DataAccess, store: &Store, stale: Duration) {
    match reset_stale_uploads(db, stale).await {
        Ok(0) => {}
        Ok(n) => log::warn!("{n} stale upload(s) reset to queued"),
        Err(err) => log::error!("cannot look for stale uploads: {err}"),
    }
    match remove_orphan_parts(db, store).await {
        Ok(0) => {}
        Ok(n) => log::warn!("{n} orphan temporary upload file(s) removed"),
        Err(err) => log::error!("cannot clean temporary upload files: {err}"),
    }
}

/// Recover at start, then periodically, for the life of the process.
pub fn spawn(db: Arc<dyn DataAccess>, store: Arc<Store>, stale_upload_seconds: u64) {
    let stale = Duration::from_secs(stale_upload_seconds);
    let every = heartbeat_interval(stale_upload_seconds);
    tokio::spawn(async move {
        loop {
            recover_once(db.as_ref(), &store, stale).await;
            tokio::time::sleep(every).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names() {
        assert_eq!(part_file_image(".abc-1.0f3e.part"), Some("abc-1"));
        assert_eq!(part_file_image("abc"), None);
        assert_eq!(part_file_image(".abc.part"), None);
    }
}
