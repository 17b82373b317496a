//! `PUT /v2/images/{id}/file` (upload), §5.2 (download: `image_download`).
//!
//! An upload moves the image queued → saving with a compare-and-set, streams the body into the
//! chosen store (`X-Image-Meta-Store` in multi-store, else the default) while hashing it, puts
//! the data in place (rename, or the object completed) and saves the image active with a
//! second compare-and-set (saving → active). Whatever goes wrong in between — a bad size, the
//! size cap, a store error, the client vanishing, the request future being dropped — puts the
//! image back to queued and leaves no data behind.

use std::rc::Rc;
use std::sync::Arc;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

use crate::api::auth::Caller;
use crate::api::common::{ensure_writable, find_image};
use crate::api::in_flight::{RequestInFlight, WorkToken};
use crate::api::middleware::no_content;
use crate::api::State;
use crate::data_access::DataAccessError;
use crate::domain::{
    policy, ImageChanges, ImageStatus, LocationStatus, NewLocation, RequestContext,
};
use crate::error::ApiError;
use crate::metrics;
use crate::recovery;
use crate::store::ingest::{ingest, Formats, IngestError, Ingested, Rules};
use crate::store::inspect::Policy;
use crate::store::{loggable, ImageStore, Written};

/// The store an upload goes to, and the location it will have there.
#[derive(Clone)]
pub(super) struct Target {
    id: String,
    store: Arc<dyn ImageStore>,
    url: String,
}

/// Glance: in multi-store, `X-Image-Meta-Store` (else the default backend) must name an
/// enabled store (400); in single-store the header is ignored.
fn choose_store(req: &HttpRequest, state: &State, image_id: &str) -> Result<Target, ApiError> {
    let stores = &state.stores;
    let entry = match req.headers().get("x-image-meta-store") {
        Some(value) if stores.multi() => {
            let id = String::from_utf8_lossy(value.as_bytes()).trim().to_string();
            stores
                .get(&id)
                .ok_or_else(|| ApiError::bad_request(format!("Store for scheme {id} not found")))?
        }
        _ => stores.default_entry(),
    };
    Ok(Target {
        id: entry.id.clone(),
        store: entry.store.clone(),
        url: entry.store.url_for(image_id),
    })
}

pub async fn upload(
    req: HttpRequest,
    state: State,
    Caller(ctx): Caller,
    image_id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let image_id = image_id.into_inner();
    let target = match choose_store(&req, &state, &image_id) {
        Ok(target) => target,
        Err(err) => {
            discard_small_body(payload).await;
            return Err(err);
        }
    };
    // From here on the image is ours in `saving`; the guard undoes that if we never finish.
    let started = start_saving(&req, &state, &ctx, &image_id, &target).await;
    let (declared, formats, mut guard) = match started {
        Ok(started) => started,
        Err(err) => {
            discard_small_body(payload).await;
            return Err(err);
        }
    };
    let received = receive(
        &state, &ctx, &image_id, &target, payload, declared, &formats,
    )
    .await;
    let (written, virtual_size) = match received {
        Ok(received) => received,
        Err(err) => {
            guard.undo().await;
            return Err(err);
        }
    };
    guard.data_committed = true;

    let size = i64::try_from(written.size).unwrap_or(i64::MAX);
    let active = ImageChanges {
        status: Some(ImageStatus::Active),
        size: Some(Some(size)),
        virtual_size: Some(virtual_size.map(|v| i64::try_from(v).unwrap_or(i64::MAX))),
        checksum: Some(Some(written.md5)),
        os_hash_algo: Some(Some("sha512".to_string())),
        os_hash_value: Some(Some(written.sha512)),
        add_locations: vec![NewLocation {
            url: target.url.clone(),
            metadata: state.stores.location_metadata(&target.id),
            status: LocationStatus::Active,
        }],
        ..ImageChanges::default()
    };
    let saved = state
        .db
        .image_update(&ctx, &image_id, active, false, Some(ImageStatus::Saving))
        .await;
    match saved {
        Ok(_) => {
            guard.armed = false;
            Ok(no_content())
        }
        Err(DataAccessError::NotFound(_) | DataAccessError::Conflict(_)) => {
            guard.armed = false;
            log::warn!("image {image_id} was deleted or changed during its upload; data removed");
            remove_data(&target, &image_id).await;
            Err(ApiError::gone(format!(
                "Image {image_id} could not be found after upload. The image may have been \
                 deleted during the upload, cleaning up the chunks uploaded."
            )))
        }
        Err(err) => {
            guard.undo().await;
            Err(err.into())
        }
    }
}

/// The checks before an upload, then queued → saving; the size the client declared.
async fn start_saving(
    req: &HttpRequest,
    state: &State,
    ctx: &RequestContext,
    image_id: &str,
    target: &Target,
) -> Result<(Option<u64>, Formats, SavingGuard), ApiError> {
    check_octet_stream(req)?;
    let declared = declared_size(req)?;
    ensure_writable(ctx)?;
    let image = find_image(state, ctx, image_id).await?;
    if !policy::is_image_mutable(ctx, &image) {
        return Err(ApiError::forbidden(format!(
            "Not allowed to upload image data for image {image_id}"
        )));
    }
    if image.status != ImageStatus::Queued {
        return Err(ApiError::conflict(format!(
            "Image status transition from {} to saving is not allowed",
            image.status
        )));
    }
    let missing: Vec<&str> = [
        ("disk_format", &image.disk_format),
        ("container_format", &image.container_format),
    ]
    .into_iter()
    .filter(|(_, value)| value.as_deref().is_none_or(str::is_empty))
    .map(|(name, _)| name)
    .collect();
    match missing.as_slice() {
        [] => {}
        [one] => {
            return Err(ApiError::bad_request(format!(
                "Property {one} must be set prior to saving data."
            )))
        }
        many => {
            return Err(ApiError::bad_request(format!(
                "Properties {} must be set prior to saving data.",
                many.join(", ")
            )))
        }
    }

    let formats = Formats {
        disk: image.disk_format.clone().unwrap_or_default(),
        container: image.container_format.clone().unwrap_or_default(),
    };
    let work = req
        .conn_data::<Rc<RequestInFlight>>()
        .and_then(|in_flight| in_flight.work_token());
    match claim_saving(state, ctx, image_id, target, work).await {
        Ok(guard) => Ok((declared, formats, guard)),
        Err(DataAccessError::Conflict(_)) => Err(ApiError::conflict(
            "Image status transition from queued to saving is not allowed",
        )),
        Err(DataAccessError::NotFound(_)) => Err(ApiError::image_not_found(image_id)),
        Err(err) => Err(err.into()),
    }
}

/// queued → saving (compare-and-set), as a task of its own that hands back the guard. If
/// actix drops the handler while the database switches the image (it does when the
/// connection breaks), the task still finishes and drops the guard, which undoes `saving`.
async fn claim_saving(
    state: &State,
    ctx: &RequestContext,
    image_id: &str,
    target: &Target,
    work: Option<WorkToken>,
) -> Result<SavingGuard, DataAccessError> {
    let (state, ctx, image_id) = (state.clone(), ctx.clone(), image_id.to_string());
    let target = target.clone();
    let claim = tokio::spawn(async move {
        let saving = ImageChanges {
            status: Some(ImageStatus::Saving),
            ..ImageChanges::default()
        };
        state
            .db
            .image_update(&ctx, &image_id, saving, false, Some(ImageStatus::Queued))
            .await?;
        Ok(SavingGuard {
            state,
            ctx,
            image_id,
            target: Some(target),
            armed: true,
            data_committed: false,
            staging: false,
            work,
        })
    });
    claim
        .await
        .map_err(|err| DataAccessError::Backend(format!("claiming the upload failed: {err}")))?
}

/// Before answering a refused upload, read a small body to its end, so that whether the
/// connection is kept alive does not depend on how fast the refusal came (a refusal before the
/// body arrived closes the connection). A larger body is left unread: the connection closes.
pub(super) async fn discard_small_body(mut payload: web::Payload) {
    const LIMIT: usize = 1024 * 1024;
    let mut seen = 0;
    while let Some(Ok(chunk)) = payload.next().await {
        seen += chunk.len();
        if seen > LIMIT {
            return;
        }
    }
}

/// Glance accepts only `application/octet-stream` (parameters ignored).
pub(super) fn check_octet_stream(req: &HttpRequest) -> Result<(), ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let essence = content_type
        .as_deref()
        .and_then(|ct| ct.split(';').next())
        .map(|ct| ct.trim().to_ascii_lowercase());
    match essence.as_deref() {
        Some("application/octet-stream") => Ok(()),
        Some(other) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Invalid content type {other}"),
        )),
        None => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Invalid content type None",
        )),
    }
}

/// The size the client says it sends: `x-openstack-image-size`, else `Content-Length`.
pub(super) fn declared_size(req: &HttpRequest) -> Result<Option<u64>, ApiError> {
    if let Some(value) = req.headers().get("x-openstack-image-size") {
        let text = String::from_utf8_lossy(value.as_bytes()).trim().to_string();
        return text.parse::<u64>().map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "Invalid x-openstack-image-size header value {text:?}: an integer is expected."
            ))
        });
    }
    Ok(req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&n| n > 0))
}

/// Stream the body into the store (`store::ingest`: size cap, declared size, digests,
/// inspection of bare images), touching the image while it waits for data.
async fn receive(
    state: &State,
    ctx: &RequestContext,
    image_id: &str,
    target: &Target,
    payload: web::Payload,
    declared: Option<u64>,
    formats: &Formats,
) -> Result<(Written, Option<u64>), ApiError> {
    let _in_progress = metrics::UploadInProgress::start();
    let cap = state.settings.limits.image_size_cap;
    let ingested = take_in(
        state,
        target.store.as_ref(),
        image_id,
        payload,
        declared,
        cap,
        formats,
        || touch_while(state, ctx, image_id, ImageStatus::Saving),
    )
    .await?;
    Ok((ingested.written, ingested.virtual_size))
}

/// `store::ingest` of a request body into `store`, with the inspection policy of the
/// settings; a refusal is logged and counted. Shared by upload and stage.
#[allow(clippy::too_many_arguments)]
pub(super) async fn take_in<T, Fut>(
    state: &State,
    store: &dyn ImageStore,
    image_id: &str,
    payload: web::Payload,
    declared: Option<u64>,
    cap: u64,
    formats: &Formats,
    touch: T,
) -> Result<Ingested, ApiError>
where
    T: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), IngestError>>,
{
    let policy = Policy::from(&state.settings.image_format);
    let rules = Rules {
        cap,
        declared,
        formats,
        policy: &policy,
    };
    let heartbeat = recovery::heartbeat_interval(state.settings.store.stale_upload_seconds);
    match ingest(
        store,
        image_id,
        payload,
        &rules,
        heartbeat,
        touch,
        metrics::bytes_uploaded,
    )
    .await
    {
        Ok(ingested) => Ok(ingested),
        Err(IngestError::Refused(refusal)) => {
            log::warn!(
                "data of image {image_id} refused: disk_format {}, detected format {}, \
                 reason {} ({})",
                formats.disk,
                refusal.detected,
                refusal.reason,
                refusal.log
            );
            metrics::upload_refused(refusal.reason);
            Err(IngestError::Refused(refusal).into())
        }
        Err(err) => Err(err.into()),
    }
}

/// Tell other nodes this upload (or stage) is alive (`updated_at`), while the image is still
/// ours in `status`.
pub(super) async fn touch_while(
    state: &State,
    ctx: &RequestContext,
    image_id: &str,
    status: ImageStatus,
) -> Result<(), IngestError> {
    match state
        .db
        .image_update(ctx, image_id, ImageChanges::default(), false, Some(status))
        .await
    {
        Ok(_) => Ok(()),
        Err(DataAccessError::Conflict(_) | DataAccessError::NotFound(_)) => {
            Err(IngestError::Stopped(format!(
                "Image {image_id} is no longer {status}: its upload was stopped."
            )))
        }
        Err(err) => {
            log::warn!("cannot touch {status} image {image_id}: {err}");
            Ok(())
        }
    }
}

/// Put an image we hold in `saving` back to `queued` (size cleared). If our data was already
/// put in place (`data_committed`), remove it too, unless the image went active with it
/// (the final save landed but its answer was lost).
async fn undo_saving(
    state: &State,
    ctx: &RequestContext,
    image_id: &str,
    target: &Target,
    data_committed: bool,
) {
    let queued = ImageChanges {
        status: Some(ImageStatus::Queued),
        size: Some(None),
        virtual_size: Some(None),
        ..ImageChanges::default()
    };
    let restored = state
        .db
        .image_update(ctx, image_id, queued, false, Some(ImageStatus::Saving))
        .await;
    if let Err(err) = &restored {
        if !matches!(
            err,
            DataAccessError::Conflict(_) | DataAccessError::NotFound(_)
        ) {
            log::error!("cannot restore image {image_id} to queued: {err}");
        }
    }
    if !data_committed {
        return;
    }
    let keep_data = match restored {
        Ok(_) | Err(DataAccessError::NotFound(_)) => false,
        Err(DataAccessError::Conflict(_)) => {
            // Not saving any more: keep the data only if it is what the image now points at.
            let url = &target.url;
            state
                .db
                .image_get(ctx, image_id, false)
                .await
                .is_ok_and(|image| {
                    image.status != ImageStatus::Queued
                        && image.locations.iter().any(|l| l.url == *url)
                })
        }
        Err(_) => false,
    };
    if !keep_data {
        remove_data(target, image_id).await;
    }
}

async fn remove_data(target: &Target, image_id: &str) {
    if let Err(err) = target.store.delete(&target.url).await {
        log::error!(
            "cannot remove data of image {image_id} ({}): {err}",
            loggable(&target.url)
        );
    }
}

/// Undoes `saving` (an upload) or `uploading` (a stage, `api::import`) when it fails or its
/// future is dropped before it finished (actix drops the handler when the client
/// disconnects). The temporary file itself is removed by `Upload`.
pub(super) struct SavingGuard {
    pub(super) state: State,
    pub(super) ctx: RequestContext,
    pub(super) image_id: String,
    /// Where an upload writes (`None` for a stage).
    pub(super) target: Option<Target>,
    pub(super) armed: bool,
    /// The data file is in place (only the final save was pending).
    pub(super) data_committed: bool,
    /// A stage, not an upload: undone by `api::import::undo_staging`.
    pub(super) staging: bool,
    /// Keeps the connection's answer waiting until the undo is done.
    pub(super) work: Option<WorkToken>,
}

impl SavingGuard {
    /// Undo now and wait for it. The undo runs as its own task, so it still finishes if actix
    /// drops this handler meanwhile (it does when the connection breaks).
    pub(super) async fn undo(mut self) {
        if let Some(undone) = self.spawn_undo() {
            let _ = undone.await;
        }
    }

    fn spawn_undo(&mut self) -> Option<tokio::task::JoinHandle<()>> {
        if !std::mem::take(&mut self.armed) {
            return None;
        }
        let (state, ctx, image_id) = (self.state.clone(), self.ctx.clone(), self.image_id.clone());
        let (data_committed, staging) = (self.data_committed, self.staging);
        let target = self.target.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let work = self.work.take();
                Some(runtime.spawn(async move {
                    match (staging, target) {
                        (false, Some(target)) => {
                            undo_saving(&state, &ctx, &image_id, &target, data_committed).await;
                        }
                        _ => {
                            super::import::undo_staging(&state, &ctx, &image_id, data_committed)
                                .await;
                        }
                    }
                    drop(work);
                }))
            }
            Err(_) => {
                log::error!("upload of image {image_id} abandoned outside a runtime");
                None
            }
        }
    }
}

impl Drop for SavingGuard {
    fn drop(&mut self) {
        self.spawn_undo();
    }
}
