//! Glance's multi-store API (`glance/api/v2/discovery.py`, `images.py`): `GET /v2/info/stores`,
//! `GET /v2/info/stores/detail` (admins), `DELETE /v2/stores/{store_id}/{image_id}` (admins:
//! drop one copy). Without `[stores]` tables they answer 404, as Glance without
//! `enabled_backends`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use crate::api::auth::Caller;
use crate::api::common::{ensure_writable, find_image, reject_body};
use crate::api::middleware::no_content;
use crate::api::{json as api_json, State};
use crate::data_access::DataAccessError;
use crate::domain::{Image, ImageStatus, LocationStatus, RequestContext};
use crate::error::ApiError;
use crate::store::loggable;

fn ensure_multi(state: &State) -> Result<(), ApiError> {
    if state.stores.multi() {
        Ok(())
    } else {
        Err(ApiError::not_found(
            "Multi backend is not supported at this site.",
        ))
    }
}

/// The stores as `get_stores` lists them: `id`, and `"default": "true"` (a string, as Glance).
fn listed(state: &State) -> Vec<Map<String, Value>> {
    let default = &state.stores.default_entry().id;
    state
        .stores
        .entries()
        .iter()
        .map(|entry| {
            let mut store = Map::new();
            store.insert("id".into(), json!(entry.id));
            if entry.id == *default {
                store.insert("default".into(), json!("true"));
            }
            store
        })
        .collect()
}

/// `GET /v2/info/stores`
pub async fn info(state: State, Caller(_ctx): Caller) -> Result<HttpResponse, ApiError> {
    ensure_multi(&state)?;
    Ok(api_json::respond(
        StatusCode::OK,
        &json!({ "stores": listed(&state) }),
    ))
}

/// `GET /v2/info/stores/detail` (admins: policy `stores_info_detail`).
pub async fn info_detail(state: State, Caller(ctx): Caller) -> Result<HttpResponse, ApiError> {
    ensure_multi(&state)?;
    if !ctx.is_admin {
        return Err(ApiError::forbidden(
            "You are not authorized to complete stores_info_detail action.",
        ));
    }
    let mut stores = listed(&state);
    for (store, entry) in stores.iter_mut().zip(state.stores.entries()) {
        store.insert("type".into(), json!(entry.store.kind()));
        store.insert("properties".into(), entry.store.properties());
        store.insert("weight".into(), json!(0));
    }
    Ok(api_json::respond(
        StatusCode::OK,
        &json!({ "stores": stores }),
    ))
}

/// `DELETE /v2/stores/{store_id}/{image_id}`: drop the copy in one store (admins), never the
/// last one.
pub async fn delete_from_store(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: State,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    reject_body(&req)?;
    ensure_writable(&ctx)?;
    ensure_multi(&state)?;
    let (store_id, image_id) = path.into_inner();
    let Some(entry) = state.stores.get(&store_id) else {
        return Err(ApiError::conflict(format!(
            "The selected store {store_id} is not available on this node."
        )));
    };
    let image = find_image(&state, &ctx, &image_id)
        .await
        .map_err(|_| ApiError::not_found(format!("Failed to find image {image_id}")))?;
    if !ctx.is_admin {
        return Err(ApiError::forbidden(
            "You are not authorized to complete delete_image_location action.",
        ));
    }
    if image.status != ImageStatus::Active {
        return Err(ApiError::conflict(
            "It's not allowed to remove image data from store if image status is not 'active'",
        ));
    }
    let live: Vec<_> = image
        .locations
        .iter()
        .filter(|l| l.status == LocationStatus::Active)
        .collect();
    if live.len() == 1 {
        return Err(ApiError::forbidden(
            "Cannot delete image data from the only store containing it. Consider deleting \
             the image instead.",
        ));
    }
    let Some(location) = live
        .iter()
        .find(|l| l.metadata.get("store").and_then(Value::as_str) == Some(store_id.as_str()))
    else {
        return Err(ApiError::not_found(format!(
            "Image {image_id} is not stored in store {store_id}."
        )));
    };
    state
        .db
        .image_location_delete(&ctx, &image_id, location.id, LocationStatus::Deleted)
        .await
        .map_err(|err| match err {
            DataAccessError::NotFound(_) => ApiError::not_found(format!(
                "Image {image_id} is not stored in store {store_id}."
            )),
            other => other.into(),
        })?;
    if let Err(err) = entry.store.delete(&location.url).await {
        log::warn!(
            "image {image_id}: location dropped but store {store_id} kept its data ({}): {err}",
            loggable(&location.url)
        );
    }
    Ok(no_content())
}

/// Remove the data of every live location of a deleted image (best effort: the image is gone
/// for every client, stale data only costs space).
pub async fn remove_image_data(state: &State, _ctx: &RequestContext, image: &Image) {
    for location in &image.locations {
        let Some(entry) = state.stores.for_location(&location.url, &location.metadata) else {
            log::warn!(
                "image_id={}: data at {} left in place: outside every configured store ({})",
                image.id,
                loggable(&location.url),
                state.stores.describe_all()
            );
            continue;
        };
        if let Err(err) = entry.store.delete(&location.url).await {
            log::warn!(
                "image_id={} could not remove stored data in store {} ({}): {err}",
                image.id,
                entry.id,
                loggable(&location.url)
            );
        }
    }
}
