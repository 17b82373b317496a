//! Interoperable import, the request side: `PUT /v2/images/{id}/stage` (Glance's
//! `image_data.py` stage) and `POST /v2/images/{id}/import` (`images.py` import_image). The
//! import itself runs in `crate::import`.

use std::rc::Rc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use crate::api::auth::Caller;
use crate::api::common::{ensure_writable, find_image, parse_json_body, read_body};
use crate::api::image_data::{
    check_octet_stream, declared_size, discard_small_body, take_in, touch_while, SavingGuard,
};
use crate::api::in_flight::RequestInFlight;
use crate::api::middleware::no_content;
use crate::api::State;
use crate::data_access::DataAccessError;
use crate::domain::{
    policy, Image, ImageChanges, ImageStatus, NewTask, RequestContext, TaskStatus, API_IMAGE_IMPORT,
};
use crate::error::ApiError;
use crate::import::{filter, Job, Method, LOCK_PROPERTY, STAGE_HOST_PROPERTY};

use super::import_request::{check_image_for, target_stores, ImportRequest};
use crate::store::ingest::Formats;

/// `PUT /v2/images/{id}/stage`: the data into the staging area, queued → uploading.
pub async fn stage(
    req: HttpRequest,
    state: State,
    Caller(ctx): Caller,
    image_id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let image_id = image_id.into_inner();
    let (declared, formats, mut guard) = match start_staging(&req, &state, &ctx, &image_id).await {
        Ok(started) => started,
        Err(err) => {
            discard_small_body(payload).await;
            return Err(err);
        }
    };
    let staging = state.importer.staging();
    let dest = staging.path_for(&image_id);
    if tokio::fs::try_exists(&dest).await.unwrap_or(false) {
        // Not ours: `data_committed` tells the undo to keep it.
        guard.data_committed = true;
        guard.undo().await;
        return Err(ApiError::conflict(format!(
            "The image {image_id} has data on staging"
        )));
    }
    let cap = state.settings.limits.image_size_cap;
    let touch = || touch_while(&state, &ctx, &image_id, ImageStatus::Uploading);
    let ingested = take_in(
        &state, staging, &image_id, payload, declared, cap, &formats, touch,
    )
    .await;
    let ingested = match ingested {
        Ok(ingested) => ingested,
        Err(err) => {
            guard.undo().await;
            return Err(err);
        }
    };
    let mut staged = ImageChanges {
        size: Some(Some(
            i64::try_from(ingested.written.size).unwrap_or(i64::MAX),
        )),
        ..ImageChanges::default()
    };
    let endpoint = state.settings.server.public_endpoint.trim_end_matches('/');
    if !endpoint.is_empty() {
        staged
            .set_properties
            .insert(STAGE_HOST_PROPERTY.into(), Some(endpoint.to_string()));
    }
    match state
        .db
        .image_update(&ctx, &image_id, staged, false, Some(ImageStatus::Uploading))
        .await
    {
        Ok(_) => {
            guard.armed = false;
            Ok(no_content())
        }
        Err(DataAccessError::NotFound(_) | DataAccessError::Conflict(_)) => {
            guard.undo().await;
            Err(ApiError::conflict(format!(
                "Image {image_id} changed while its data was being staged."
            )))
        }
        Err(err) => {
            guard.undo().await;
            Err(err.into())
        }
    }
}

/// Glance's checks before a stage, then queued → uploading.
async fn start_staging(
    req: &HttpRequest,
    state: &State,
    ctx: &RequestContext,
    image_id: &str,
) -> Result<(Option<u64>, Formats, SavingGuard), ApiError> {
    if !state.settings.import.is_available("glance-direct") {
        return Err(ApiError::not_found(
            "'glance-direct' method is not available at this site.",
        ));
    }
    check_octet_stream(req)?;
    let declared = declared_size(req)?;
    ensure_writable(ctx)?;
    let image = find_image(state, ctx, image_id).await?;
    ensure_may_modify(ctx, &image)?;
    if image.status != ImageStatus::Queued {
        return Err(ApiError::conflict(format!(
            "Image status transition from {} to uploading is not allowed",
            image.status
        )));
    }
    let formats = Formats {
        disk: image.disk_format.clone().unwrap_or_default(),
        container: image.container_format.clone().unwrap_or_default(),
    };
    let uploading = ImageChanges {
        status: Some(ImageStatus::Uploading),
        ..ImageChanges::default()
    };
    let work = req
        .conn_data::<Rc<RequestInFlight>>()
        .and_then(|in_flight| in_flight.work_token());
    // Armed once the claim lands; a request dropped during the claim leaves the image
    // `uploading` without size, which recovery puts back to `queued` when it goes stale.
    let mut guard = SavingGuard {
        state: state.clone(),
        ctx: ctx.clone(),
        image_id: image_id.to_string(),
        target: None,
        armed: false,
        data_committed: false,
        staging: true,
        work,
    };
    let claimed = state
        .db
        .image_update(ctx, image_id, uploading, false, Some(ImageStatus::Queued))
        .await;
    match claimed {
        Ok(_) => {
            guard.armed = true;
            Ok((declared, formats, guard))
        }
        Err(DataAccessError::Conflict(_)) => Err(ApiError::conflict(
            "Image status transition from queued to uploading is not allowed",
        )),
        Err(DataAccessError::NotFound(_)) => Err(ApiError::image_not_found(image_id)),
        Err(err) => Err(err.into()),
    }
}

/// Glance's `modify_image` policy: owner or admin (the image is visible: 403).
fn ensure_may_modify(ctx: &RequestContext, image: &Image) -> Result<(), ApiError> {
    if policy::is_image_mutable(ctx, image) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "You are not authorized to complete modify_image action.",
        ))
    }
}

/// Glance's `copy_image` policy: admins only.
fn ensure_may_copy(ctx: &RequestContext) -> Result<(), ApiError> {
    if ctx.is_admin {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "You are not authorized to complete copy_image action.",
        ))
    }
}

/// Undo a stage that did not finish (error, or the request dropped): the image back to
/// `queued` with size cleared, and its staged data removed (Glance's `_unstage`) unless it
/// belongs to an earlier stage (`keep_staged`).
pub(super) async fn undo_staging(
    state: &State,
    ctx: &RequestContext,
    image_id: &str,
    keep_staged: bool,
) {
    let queued = ImageChanges {
        status: Some(ImageStatus::Queued),
        size: Some(None),
        virtual_size: Some(None),
        ..ImageChanges::default()
    };
    let restored = state
        .db
        .image_update(ctx, image_id, queued, false, Some(ImageStatus::Uploading))
        .await;
    if restored.is_ok() && !keep_staged {
        if let Err(err) = state.importer.staging().delete_image(image_id).await {
            log::warn!("cannot remove staged data of image {image_id}: {err}");
        }
    }
}

/// `POST /v2/images/{id}/import` → 202; the import runs in the background as a task.
pub async fn import(
    req: HttpRequest,
    state: State,
    Caller(ctx): Caller,
    image_id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let image_id = image_id.into_inner();
    let body = read_body(&req, payload, state.settings.server.max_request_body).await?;
    let body = parse_json_body(&body)?;
    let request = ImportRequest::parse(&state, &body)?;
    ensure_writable(&ctx)?;
    let image = find_image(&state, &ctx, &image_id).await?;
    check_image_for(&request, &image)?;
    if request.method == "copy-image" {
        ensure_may_copy(&ctx)?;
    } else {
        ensure_may_modify(&ctx, &image)?;
    }
    if request.method == "glance-direct" {
        ensure_staged_here(&state, &image).await?;
    }
    let stolen = match image.property(LOCK_PROPERTY) {
        Some(holder) => Some(take_over_stale_lock(&state, &ctx, &image, holder).await?),
        None => None,
    };
    let Some(stores) = target_stores(&req, &state, &request, &image)? else {
        // copy-image to all stores of an image that is in all of them already: nothing to do.
        log::info!("copy-image of image {image_id}: it is in every store already");
        return Ok(accepted());
    };
    if !request.all_stores_must_succeed && !state.stores.multi() {
        return Err(ApiError::bad_request(format!(
            "All_stores_must_succeed can only be set with enabled_backends {}",
            request.uri.as_deref().unwrap_or("None")
        )));
    }
    let method = match request.method.as_str() {
        "web-download" => {
            let uri = request.uri.clone().unwrap_or_default();
            if let Err(why) = filter::check_text(&uri, &state.settings.import_filtering) {
                log::info!("web-download of image {image_id} refused: {why}");
                return Err(ApiError::bad_request(format!(
                    "URI for web-download does not pass filtering: {}",
                    request.uri.as_deref().unwrap_or("None")
                )));
            }
            Method::WebDownload { uri }
        }
        "copy-image" => Method::CopyImage,
        _ => Method::GlanceDirect,
    };
    let task_id = uuid::Uuid::new_v4().to_string();
    // Take the lock: only if no one holds it (or it is still the stale holder we removed).
    let mut lock = ImageChanges::default();
    lock.expect_properties
        .insert(LOCK_PROPERTY.into(), stolen.flatten());
    lock.set_properties
        .insert(LOCK_PROPERTY.into(), Some(task_id.clone()));
    match state
        .db
        .image_update(&ctx, &image_id, lock, false, Some(image.status))
        .await
    {
        Ok(_) => {}
        Err(DataAccessError::Conflict(_)) => {
            return Err(ApiError::conflict(format!(
                "New operation on image '{image_id}' is not permitted as prior operation is \
                 still in progress"
            )))
        }
        Err(DataAccessError::NotFound(_)) => return Err(ApiError::image_not_found(&image_id)),
        Err(err) => return Err(err.into()),
    }
    let task = NewTask {
        id: task_id.clone(),
        task_type: API_IMAGE_IMPORT.into(),
        owner: ctx.project_id.clone().unwrap_or_default(),
        image_id: Some(image_id.clone()),
        request_id: Some(ctx.request_id.clone()),
        user_id: ctx.user_id.clone(),
        input: serde_json::json!({
            "image_id": image_id,
            "import_req": body,
            "backend": if state.stores.multi() { json!(stores) } else { json!([Value::Null]) },
        }),
    };
    if let Err(err) = state.db.task_create(&ctx, task).await {
        // Release the lock we just took.
        let mut release = ImageChanges::default();
        release
            .expect_properties
            .insert(LOCK_PROPERTY.into(), Some(task_id.clone()));
        release.remove_properties = vec![LOCK_PROPERTY.into()];
        let _ = state
            .db
            .image_update(&ctx, &image_id, release, false, None)
            .await;
        return Err(err.into());
    }
    // Glance runs a copy-image task with an elevated context: it changes another project's
    // image on the admin's behalf.
    let ctx = if method == Method::CopyImage {
        RequestContext {
            is_admin: true,
            ..ctx
        }
    } else {
        ctx
    };
    state.importer.spawn(Job {
        ctx,
        image_id,
        task_id,
        method,
        stores,
        all_stores_must_succeed: request.all_stores_must_succeed,
    });
    Ok(accepted())
}

fn accepted() -> HttpResponse {
    HttpResponse::build(StatusCode::ACCEPTED)
        .content_type("text/html; charset=UTF-8")
        .finish()
}

/// Nodes share `import.staging_path` (docs/deployment.md §3), so any node imports what any
/// node staged. Where they do not, or while the stage is still running, the staged data is not
/// here: refuse (409) before anything changes, the image staying `uploading` for an import
/// through the right node, rather than fail the import and lose the stage.
async fn ensure_staged_here(state: &State, image: &Image) -> Result<(), ApiError> {
    let staged = state.importer.staging().path_for(&image.id);
    if tokio::fs::try_exists(&staged).await.unwrap_or(false) {
        return Ok(());
    }
    let host = image
        .property(STAGE_HOST_PROPERTY)
        .map_or(String::new(), |host| format!(" (staged through {host})"));
    log::warn!(
        "glance-direct import of image {} refused: no staged data in {}{host}; \
         is import.staging_path shared by every node?",
        image.id,
        state.importer.staging().root().display()
    );
    Err(ApiError::conflict(format!(
        "Image {} has no staged data on this node{host}: its stage has not finished, or \
         import.staging_path is not shared by the API nodes",
        image.id
    )))
}

/// How long an import lock holds without its task moving (Glance: 60 minutes, doubled while
/// the task is pending).
const LOCK_EXPIRY: chrono::Duration = chrono::Duration::minutes(60);

/// Glance's `_enforce_import_lock`: a lock whose task is missing, or has not moved for the
/// expiry, is taken over (its task failed with "Expired lock preempted"); any other → 409.
/// Returns the holder we removed, as the expected value of the new compare-and-set.
async fn take_over_stale_lock(
    state: &State,
    ctx: &RequestContext,
    image: &Image,
    holder: &str,
) -> Result<Option<String>, ApiError> {
    let admin = RequestContext {
        is_admin: true,
        ..ctx.clone()
    };
    let busy = || ApiError::conflict("Image has active task");
    let task = match state.db.task_get(&admin, holder).await {
        Ok(task) => Some(task),
        Err(DataAccessError::NotFound(_)) => None,
        Err(err) => return Err(err.into()),
    };
    if let Some(task) = &task {
        let age = crate::domain::now() - task.updated_at.unwrap_or(task.created_at);
        let expiry = if task.status == TaskStatus::Pending {
            LOCK_EXPIRY * 2
        } else {
            LOCK_EXPIRY
        };
        if age < expiry {
            log::warn!(
                "image {} has import task {} in status {}; its lock holds {} more seconds",
                image.id,
                task.id,
                task.status,
                (expiry - age).num_seconds()
            );
            return Err(busy());
        }
        if matches!(task.status, TaskStatus::Pending | TaskStatus::Processing) {
            let failed = crate::domain::TaskChanges {
                status: Some(TaskStatus::Failure),
                message: Some("Expired lock preempted".into()),
                ..Default::default()
            };
            let _ = state
                .db
                .task_update(&admin, &task.id, failed, Some(task.status))
                .await;
        }
    }
    log::warn!(
        "image {} has stale import task {holder}; taking its lock over",
        image.id
    );
    Ok(Some(holder.to_string()))
}
