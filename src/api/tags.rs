//! `PUT` / `DELETE /v2/images/{id}/tags/{tag}` (§1.4): adding is idempotent, removing a tag
//! the image does not have is 404. Only the owner (or an admin) changes tags.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::api::auth::Caller;
use crate::api::common::{
    ensure_mutable, ensure_writable, find_image, has_4byte_utf8, nul_refused, reject_body,
};
use crate::api::middleware::no_content;
use crate::api::State;
use crate::data_access::DataAccessError;
use crate::error::ApiError;

/// The image schema's `maxLength` for a tag, in characters.
const TAG_MAX_CHARS: usize = 255;

pub async fn add(
    req: HttpRequest,
    state: State,
    Caller(ctx): Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (image_id, tag) = path.into_inner();
    reject_body(&req)?;
    if tag.chars().count() > TAG_MAX_CHARS {
        return Err(ApiError::bad_request(format!(
            "Provided object does not match schema 'image': '{tag}' is too long"
        )));
    }
    if tag.contains('\0') {
        return Err(nul_refused());
    }
    if has_4byte_utf8(&tag) {
        return Err(ApiError::bad_request(format!(
            "Provided object does not match schema 'image': tag {tag:?} contains 4-byte \
             UTF-8 characters, which are not supported"
        )));
    }
    ensure_writable(&ctx)?;
    let image = find_image(&state, &ctx, &image_id).await?;
    ensure_mutable(&ctx, &image, "You do not own this image")?;
    if image.tags.contains(&tag) {
        return Ok(no_content());
    }
    let quota = state.settings.limits.image_tag_quota;
    let attempted = image.tags.len() as i64 + 1;
    if quota >= 0 && attempted > quota {
        return Err(ApiError::too_large(format!(
            "Image tag limit exceeded for image {image_id}: The limit has been exceeded on the \
             number of allowed image tags. Attempted: {attempted}, Maximum: {quota}:"
        )));
    }
    state
        .db
        .image_tag_create(&ctx, &image_id, &tag)
        .await
        .map_err(|err| match err {
            DataAccessError::NotFound(_) => ApiError::image_not_found(&image_id),
            err => err.into(),
        })?;
    Ok(no_content())
}

pub async fn remove(
    req: HttpRequest,
    state: State,
    Caller(ctx): Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (image_id, tag) = path.into_inner();
    reject_body(&req)?;
    // The same answer on every backend (PostgreSQL refuses NUL in a comparison).
    if tag.contains('\0') {
        return Err(nul_refused());
    }
    ensure_writable(&ctx)?;
    let image = find_image(&state, &ctx, &image_id).await?;
    ensure_mutable(&ctx, &image, "You do not own this image")?;
    match state.db.image_tag_delete(&ctx, &image_id, &tag).await {
        Ok(()) => Ok(no_content()),
        Err(DataAccessError::NotFound(_)) => {
            Err(ApiError::not_found("The resource could not be found."))
        }
        Err(err) => Err(err.into()),
    }
}
