//! The image resource: `GET/POST /v2/images`, `GET/PATCH/DELETE /v2/images/{id}`
//! (Glance's `images.py` ImagesController with its request deserializer and the
//! authorization/policy/quota/domain proxies it passes through, in that order).

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};

use super::image_view::{list_body, ImageView};
use super::patch::{self, Dialect, Draft, Patcher};
use super::{common, json, list_params, middleware, schemas, versions, State};
use crate::api::auth::Caller;
use crate::config::Limits;
use crate::data_access::{DataAccess, DataAccessError};
use crate::domain::{
    policy, Image, ImageChanges, ImageStatus, NewImage, RequestContext, Visibility,
};
use crate::error::ApiError;

const NOT_OWNER: &str = "You do not own this image";

/// `GET /v2/images`
pub async fn index(
    req: HttpRequest,
    state: State,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    list_params::ensure_utf8_query(req.query_string())?;
    let pairs = list_params::parse_query_string(req.query_string());
    let query = list_params::image_query(&pairs, &state.settings.limits)?;
    let images = match state.db.image_get_all(&ctx, &query).await {
        Ok(images) => images,
        // Only the marker can be missing: Glance answers 400 with the lookup's message.
        Err(DataAccessError::NotFound(_) | DataAccessError::Forbidden(_)) => {
            let marker = query.marker.as_deref().unwrap_or_default();
            return Err(ApiError::bad_request(format!(
                "No image found with ID {marker}"
            )));
        }
        Err(err) => return Err(err.into()),
    };
    let full_page = query
        .limit
        .is_some_and(|limit| !images.is_empty() && images.len() as u64 == u64::from(limit));
    let next_marker = images.last().filter(|_| full_page).map(|i| i.id.as_str());
    let (first, next) = list_params::page_links(&pairs, next_marker);
    let body = list_body(&images, &first, next.as_deref());
    Ok(json::respond_written(StatusCode::OK, body))
}

/// `POST /v2/images`
pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: State,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let body = common::read_body(&req, payload, state.settings.server.max_request_body).await?;
    let body = common::parse_json_body(&body)?;
    let new_image = new_image_from(body, &ctx, &state.settings.limits)?;
    schemas::check_disk_format(
        new_image.disk_format.as_deref(),
        &state.settings.image_format.disk_formats,
    )?;
    let image_id = new_image.id.clone();
    let image = state
        .db
        .image_create(&ctx, new_image)
        .await
        .map_err(|err| match err {
            DataAccessError::Duplicate(_) => {
                ApiError::conflict(format!("Image ID {image_id} already exists!"))
            }
            other => other.into(),
        })?;
    let mut response = json::respond_written(StatusCode::CREATED, ImageView(&image).body());
    let location = format!("{}/v2/images/{}", versions::base_url(&req), image.id);
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    let methods = state.settings.import.available_methods();
    if !methods.is_empty() {
        if let Ok(value) = HeaderValue::from_str(&methods.join(",")) {
            response.headers_mut().insert(
                header::HeaderName::from_static("openstack-image-import-methods"),
                value,
            );
        }
    }
    // Multi-store: the enabled stores (Glance: `enabled_backends`' keys).
    if state.stores.multi() {
        let ids: Vec<&str> = state
            .stores
            .entries()
            .iter()
            .map(|e| e.id.as_str())
            .collect();
        if let Ok(value) = HeaderValue::from_str(&ids.join(",")) {
            response.headers_mut().insert(
                header::HeaderName::from_static("openstack-image-store-ids"),
                value,
            );
        }
    }
    Ok(response)
}

/// `GET /v2/images/{id}`
pub async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    state: State,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    common::reject_body(&req)?;
    let image = common::find_image(&state, &ctx, &path).await?;
    Ok(json::respond_written(
        StatusCode::OK,
        ImageView(&image).body(),
    ))
}

/// `PATCH /v2/images/{id}`
pub async fn update(
    req: HttpRequest,
    payload: web::Payload,
    path: web::Path<String>,
    state: State,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let dialect = Dialect::for_content_type(content_type).ok_or_else(|| {
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        ApiError::unsupported_patch_media_type(media_type)
    })?;
    let body = common::read_body(&req, payload, state.settings.server.max_request_body).await?;
    let body = common::parse_json_body(&body)?;
    let changes = patch::parse_document(&body, dialect)?;
    common::ensure_writable(&ctx)?;

    let image_id = path.into_inner();
    let image = common::find_image(&state, &ctx, &image_id).await?;
    let updated = save_patch(
        state.db.as_ref(),
        &ctx,
        image,
        &changes,
        dialect,
        &state.settings.limits,
        &state.settings.image_format.disk_formats,
    )
    .await?;
    Ok(json::respond_written(
        StatusCode::OK,
        ImageView(&updated).body(),
    ))
}

/// A parsed PATCH document from the image as found to the image as stored: the handler's
/// path after the lookup, kept in one function so `patch::proptests` drives the same code on
/// a real database. No operations: the image as it was, nothing written.
pub(crate) async fn save_patch(
    db: &dyn DataAccess,
    ctx: &RequestContext,
    image: Image,
    changes: &[patch::Change],
    dialect: Dialect,
    limits: &Limits,
    disk_formats: &[String],
) -> Result<Image, ApiError> {
    let who = Patcher {
        is_admin: ctx.is_admin,
        may_modify: policy::is_image_mutable(ctx, &image),
    };
    let Some(values) = patch::apply(&image, changes, dialect, who, limits)? else {
        return Ok(image);
    };
    if let Some(disk_format) = &values.disk_format {
        schemas::check_disk_format(disk_format.as_deref(), disk_formats)?;
    }
    db.image_update(ctx, &image.id, values, false, None)
        .await
        .map_err(|err| match err {
            DataAccessError::NotFound(_) => ApiError::image_not_found(&image.id),
            other => other.into(),
        })
}

/// `DELETE /v2/images/{id}`
pub async fn delete(
    req: HttpRequest,
    path: web::Path<String>,
    state: State,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    common::reject_body(&req)?;
    common::ensure_writable(&ctx)?;
    let image_id = path.into_inner();
    let image = common::find_image(&state, &ctx, &image_id).await?;
    common::ensure_mutable(&ctx, &image, NOT_OWNER)?;
    if image.protected {
        return Err(ApiError::forbidden(format!(
            "Image {image_id} is protected and cannot be deleted."
        )));
    }
    let gone = |err: DataAccessError| match err {
        DataAccessError::NotFound(_) => {
            ApiError::not_found(format!("Failed to find image {image_id} to delete"))
        }
        other => other.into(),
    };
    let deleted = ImageChanges {
        status: Some(ImageStatus::Deleted),
        ..ImageChanges::default()
    };
    state
        .db
        .image_update(&ctx, &image_id, deleted, false, None)
        .await
        .map_err(gone)?;
    state
        .db
        .image_destroy(&ctx, &image_id)
        .await
        .map_err(gone)?;
    super::stores::remove_image_data(&state, &ctx, &image).await;
    // Glance removes staged data too (an import in flight then fails on its lock).
    if let Err(err) = state.importer.staging().delete_image(&image_id).await {
        log::warn!("image_id={image_id} could not remove staged data: {err}");
    }
    Ok(middleware::no_content())
}

/// Keys the request deserializer takes as image attributes; the rest are custom properties.
const BASE_KEYS: &[&str] = &[
    "checksum",
    "created_at",
    "container_format",
    "disk_format",
    "id",
    "min_disk",
    "min_ram",
    "name",
    "size",
    "virtual_size",
    "status",
    "tags",
    "owner",
    "updated_at",
    "visibility",
    "protected",
    "os_hidden",
];
/// Refused before schema validation (`_disallowed_properties`).
const DISALLOWED: &[&str] = &["direct_url", "self", "file", "schema", "stores"];
/// `ImageFactory._readonly_properties` (os_hash_* arrive as custom keys in Glance; refused too).
const READ_ONLY: &[&str] = &[
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "size",
    "virtual_size",
];
const RESERVED_CUSTOM: &[&str] = &["location", "deleted", "deleted_at"];
const RESERVED_EXTRA: &[&str] = &["owner", "locations", "deleted", "deleted_at"];

/// Glance's create path for a request body, in its order: deserializer (read-only links,
/// schema, custom keys), then authorization (owner), policy (publicize), quota, domain
/// (read-only/reserved, negative minimums) and database (ranges, 4-byte UTF-8).
fn new_image_from(
    body: Value,
    ctx: &RequestContext,
    limits: &Limits,
) -> Result<NewImage, ApiError> {
    let Value::Object(mut body) = body else {
        return Err(ApiError::bad_request(format!(
            "Provided object does not match schema 'image': {} is not of type 'object'",
            schemas::py_repr(&body)
        )));
    };
    if let Some(key) = DISALLOWED.iter().find(|k| body.contains_key(**k)) {
        return Err(ApiError::forbidden(format!(
            "Attribute '{key}' is read-only."
        )));
    }
    schemas::validate_image(&Value::Object(body.clone()))?;
    let mut base = Map::new();
    for key in BASE_KEYS {
        if let Some(value) = body.remove(*key) {
            base.insert((*key).to_string(), value);
        }
    }
    let custom = body;
    for key in custom.keys() {
        if key.chars().count() > 255 {
            return Err(ApiError::bad_request(
                "Custom property should not be greater than 255 characters.",
            ));
        }
        if RESERVED_CUSTOM.contains(&key.as_str()) || key.starts_with(patch::RESERVED_NAMESPACE) {
            return Err(ApiError::forbidden(format!(
                "Attribute '{key}' is reserved."
            )));
        }
    }
    common::ensure_writable(ctx)?;

    let owner = match base.get("owner") {
        Some(value) => value.as_str().map(str::to_string),
        None => ctx.project_id.clone(),
    };
    if !ctx.is_admin && (owner.is_none() || owner != ctx.project_id) {
        return Err(ApiError::forbidden(format!(
            "You are not permitted to create images owned by '{}'.",
            owner.as_deref().unwrap_or("None")
        )));
    }
    let visibility = match base.get("visibility").and_then(Value::as_str) {
        Some(text) => Visibility::parse(text).unwrap_or(Visibility::Shared),
        None => Visibility::Shared,
    };
    if visibility == Visibility::Public && !ctx.is_admin {
        return Err(ApiError::forbidden(
            "You are not authorized to complete publicize_image action.",
        ));
    }
    let raw_tags = base
        .get("tags")
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    let tag_count = raw_tags.as_array().map_or(0, Vec::len) as i64;
    if limits.image_tag_quota >= 0 && tag_count > limits.image_tag_quota {
        return Err(ApiError::too_large(format!(
            "The limit has been exceeded on the number of allowed image tags. Attempted: \
             {tag_count}, Maximum: {}",
            limits.image_tag_quota
        )));
    }
    let property_count = custom.len() as i64;
    if limits.image_property_quota >= 0 && property_count > limits.image_property_quota {
        return Err(ApiError::too_large(format!(
            "The limit has been exceeded on the number of allowed image properties. Attempted: \
             {property_count}, Maximum: {}",
            limits.image_property_quota
        )));
    }
    let present = |key: &&&str| base.contains_key(**key) || custom.contains_key(**key);
    if let Some(key) = READ_ONLY.iter().find(present) {
        return Err(ApiError::forbidden(format!(
            "Attribute '{key}' is read-only."
        )));
    }
    if let Some(key) = RESERVED_EXTRA.iter().find(|k| custom.contains_key(**k)) {
        return Err(ApiError::forbidden(format!(
            "Attribute '{key}' is reserved."
        )));
    }

    let text = |key: &str| base.get(key).and_then(Value::as_str).map(str::to_string);
    let flag = |key: &str| base.get(key).and_then(Value::as_bool).unwrap_or(false);
    let number = |key: &str| base.get(key).and_then(schemas::as_integer).unwrap_or(0);
    let draft = Draft {
        name: text("name"),
        visibility,
        protected: flag("protected"),
        os_hidden: flag("os_hidden"),
        owner,
        disk_format: text("disk_format"),
        container_format: text("container_format"),
        min_ram: number("min_ram"),
        min_disk: number("min_disk"),
        tags: patch::unique_tags(&raw_tags),
        // Values are strings (schema-checked), or null where the schema allows it (kernel_id
        // & co): a NULL value, shown as null, as Glance does (see `patch::apply_one`).
        properties: custom
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string)))
            .collect(),
    };
    patch::check_not_negative("min_disk", draft.min_disk)?;
    patch::check_not_negative("min_ram", draft.min_ram)?;
    patch::check_storable(&draft)?;

    let narrow = |v: i128| i32::try_from(v).unwrap_or(i32::MAX);
    Ok(NewImage {
        id: text("id").unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        name: draft.name,
        status: ImageStatus::Queued,
        visibility: draft.visibility,
        disk_format: draft.disk_format,
        container_format: draft.container_format,
        owner: draft.owner,
        min_disk: narrow(draft.min_disk),
        min_ram: narrow(draft.min_ram),
        protected: draft.protected,
        os_hidden: draft.os_hidden,
        properties: draft.properties,
        tags: draft.tags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Service, Settings};
    use serde_json::json;

    fn limits() -> Limits {
        Settings::defaults(Service::Api).limits
    }

    fn user(project: &str) -> RequestContext {
        RequestContext {
            project_id: Some(project.into()),
            roles: vec!["member".into()],
            ..RequestContext::default()
        }
    }

    fn refused(body: Value, ctx: &RequestContext) -> (u16, String) {
        let err = new_image_from(body, ctx, &limits()).expect_err("must be refused");
        (err.status.as_u16(), err.explanation)
    }

    #[test]
    fn defaults_for_an_empty_body() {
        let image = new_image_from(json!({}), &user("p1"), &limits()).expect("valid");
        assert_eq!(image.status, ImageStatus::Queued);
        assert_eq!(image.visibility, Visibility::Shared);
        assert_eq!(image.owner.as_deref(), Some("p1"));
        assert!(schemas::is_uuid(&image.id));
        assert_eq!(
            (
                image.min_disk,
                image.min_ram,
                image.protected,
                image.os_hidden
            ),
            (0, 0, false, false)
        );
        assert!(image.tags.is_empty() && image.properties.is_empty());
        let noauth = new_image_from(json!({}), &RequestContext::noauth("r".into()), &limits())
            .expect("valid");
        assert_eq!(noauth.owner, None);
    }

    #[test]
    fn body_values_are_kept() {
        let body = json!({
            "id": "09347783-2591-4fb1-96da-0255acf47d73", "name": "n", "disk_format": "raw",
            "container_format": "bare", "visibility": "community", "min_disk": 1, "min_ram": 2,
            "protected": true, "os_hidden": true, "tags": ["a", "b", "a"], "os_distro": "debian",
        });
        let image = new_image_from(body, &user("p1"), &limits()).expect("valid");
        assert_eq!(image.id, "09347783-2591-4fb1-96da-0255acf47d73");
        assert_eq!(image.tags, vec!["a", "b"]);
        assert_eq!(image.visibility, Visibility::Community);
        assert_eq!(
            image.properties.get("os_distro").cloned(),
            Some(Some("debian".to_string()))
        );
        assert_eq!((image.min_disk, image.min_ram), (1, 2));
    }

    #[test]
    fn refusals_follow_glance() {
        let p1 = user("p1");
        assert_eq!(
            refused(json!({"self": "x"}), &p1),
            (403, "Attribute 'self' is read-only.".into())
        );
        assert_eq!(
            refused(json!({"status": "active"}), &p1),
            (403, "Attribute 'status' is read-only.".into())
        );
        assert_eq!(refused(json!({"size": 5}), &p1).0, 403);
        assert_eq!(refused(json!({"os_hash_value": "x"}), &p1).0, 403);
        assert_eq!(
            refused(json!({"locations": []}), &p1),
            (403, "Attribute 'locations' is reserved.".into())
        );
        assert_eq!(
            refused(json!({"os_glance_x": "y"}), &p1),
            (403, "Attribute 'os_glance_x' is reserved.".into())
        );
        assert_eq!(refused(json!({"deleted": "y"}), &p1).0, 403);
        assert_eq!(refused(json!({"x": 1}), &p1).0, 400);
        assert_eq!(refused(json!({"id": "nope"}), &p1).0, 400);
        assert_eq!(refused(json!([]), &p1).0, 400);
        assert_eq!(refused(json!({"k".repeat(256): "v"}), &p1).0, 400);
        assert_eq!(
            refused(json!({"min_ram": -1}), &p1),
            (
                400,
                "Invalid value '-1' for parameter 'min_ram': Cannot be a negative value".into()
            )
        );
        assert_eq!(
            refused(json!({"min_disk": 2_147_483_648_i64}), &p1),
            (
                400,
                "'min_disk' value out of range, must not exceed 2147483647.".into()
            )
        );
        assert_eq!(
            refused(json!({"name": "\u{1F600}"}), &p1),
            (400, "Name can't contain 4 byte unicode characters.".into())
        );
        assert_eq!(
            refused(json!({"owner": "p2"}), &p1),
            (
                403,
                "You are not permitted to create images owned by 'p2'.".into()
            )
        );
        assert_eq!(
            refused(json!({"visibility": "public"}), &p1),
            (
                403,
                "You are not authorized to complete publicize_image action.".into()
            )
        );
        let anonymous = RequestContext {
            read_only: true,
            ..RequestContext::default()
        };
        assert_eq!(
            refused(json!({}), &anonymous),
            (403, "Read-only access".into())
        );
    }

    #[test]
    fn quotas() {
        let mut limits = limits();
        limits.image_property_quota = 1;
        limits.image_tag_quota = 1;
        let err =
            new_image_from(json!({"a": "1", "b": "2"}), &user("p"), &limits).expect_err("quota");
        assert_eq!(err.status.as_u16(), 413);
        let err =
            new_image_from(json!({"tags": ["a", "b"]}), &user("p"), &limits).expect_err("quota");
        assert_eq!(err.status.as_u16(), 413);
        limits.image_property_quota = -1;
        assert!(new_image_from(json!({"a": "1", "b": "2"}), &user("p"), &limits).is_ok());
    }
}
