//! The body of `POST /v2/images/{id}/import`, checked as Glance's deserializer and
//! `import_image` check it, and the stores it names (`get_stores_from_request`).

use actix_web::HttpRequest;
use serde_json::Value;

use crate::api::State;
use crate::domain::{Image, ImageStatus, LocationStatus};
use crate::error::ApiError;

/// The stores to import into, as Glance's `get_stores_from_request`: `all_stores`, else the
/// body's `stores`, else `X-Image-Meta-Store`, else the default store; each must be enabled
/// (409). Single-store: the one store. For copy-image, the stores that hold a copy already
/// are dropped from `all_stores` (`None`: nothing is left to do) and refused when named (400).
pub(super) fn target_stores(
    req: &HttpRequest,
    state: &State,
    request: &ImportRequest,
    image: &Image,
) -> Result<Option<Vec<String>>, ApiError> {
    let stores = &state.stores;
    if !stores.multi() {
        if request.method == "copy-image" {
            return Err(ApiError::bad_request(
                "copy-image needs several stores (enabled_backends); this deployment has one",
            ));
        }
        return Ok(Some(vec![stores.default_entry().id.clone()]));
    }
    let header = req.headers().get("x-image-meta-store");
    let mut wanted = if request.all_stores {
        if request.stores.is_some() || header.is_some() {
            return Err(ApiError::bad_request(
                "All_stores parameter can't be used with x-image-meta-store header or stores \
                 parameter",
            ));
        }
        stores.entries().iter().map(|e| e.id.clone()).collect()
    } else if let Some(named) = &request.stores {
        if header.is_some() {
            return Err(ApiError::bad_request(
                "Stores parameter and x-image-meta-store header can't be both specified",
            ));
        }
        named.clone()
    } else if let Some(header) = header {
        vec![String::from_utf8_lossy(header.as_bytes())
            .trim()
            .to_string()]
    } else {
        vec![stores.default_entry().id.clone()]
    };
    if let Some(unknown) = wanted.iter().find(|id| stores.get(id).is_none()) {
        return Err(ApiError::conflict(format!(
            "Unknown scheme '{unknown}' found in URI"
        )));
    }
    // Each store once, in the order asked.
    let mut seen = std::collections::HashSet::new();
    wanted.retain(|id| seen.insert(id.clone()));
    if request.method != "copy-image" {
        return Ok(Some(wanted));
    }
    let holding: Vec<&str> = image
        .locations
        .iter()
        .filter(|l| l.status == LocationStatus::Active)
        .filter_map(|l| l.metadata.get("store").and_then(Value::as_str))
        .collect();
    if request.all_stores {
        wanted.retain(|id| !holding.contains(&id.as_str()));
        return Ok((!wanted.is_empty()).then_some(wanted));
    }
    if let Some(present) = wanted.iter().find(|id| holding.contains(&id.as_str())) {
        return Err(ApiError::bad_request(format!(
            "Image is already present at store '{present}'"
        )));
    }
    Ok(Some(wanted))
}

/// The body of an import request, checked as Glance's deserializer does.
pub(super) struct ImportRequest {
    pub method: String,
    pub uri: Option<String>,
    pub all_stores_must_succeed: bool,
    pub all_stores: bool,
    /// The body's `stores`.
    pub stores: Option<Vec<String>>,
}

impl ImportRequest {
    pub fn parse(state: &State, body: &Value) -> Result<Self, ApiError> {
        let method = body
            .get("method")
            .ok_or_else(|| ApiError::bad_request("Import request requires a 'method' field."))?;
        let name = method
            .get("name")
            .ok_or_else(|| ApiError::bad_request("Import request requires a 'name' field."))?;
        let name = match name {
            Value::String(name) => name.clone(),
            other => other.to_string(),
        };
        if !state.settings.import.is_available(&name) {
            return Err(ApiError::bad_request(format!(
                "Unknown import method name '{name}'."
            )));
        }
        let flag = |key: &str, default: bool| match body.get(key) {
            None => Ok(default),
            Some(Value::Bool(value)) => Ok(*value),
            Some(_) => Err(ApiError::bad_request(format!(
                "'{key}' must be boolean value only"
            ))),
        };
        let all_stores_must_succeed = flag("all_stores_must_succeed", true)?;
        let all_stores = flag("all_stores", false)?;
        let uri = match method.get("uri") {
            Some(Value::String(uri)) => Some(uri.clone()),
            _ => None,
        };
        // Glance iterates whatever `stores` is (a string's characters become store names);
        // anything but a list of names is refused here.
        let stores = match body.get("stores") {
            None => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|item| item.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        ApiError::bad_request("'stores' must be a list of store identifiers")
                    })?,
            ),
            Some(_) => {
                return Err(ApiError::bad_request(
                    "'stores' must be a list of store identifiers",
                ))
            }
        };
        Ok(Self {
            method: name,
            uri,
            all_stores_must_succeed,
            all_stores,
            stores,
        })
    }
}

/// Glance's status and format checks for the method (409s).
pub(super) fn check_image_for(request: &ImportRequest, image: &Image) -> Result<(), ApiError> {
    let method = request.method.as_str();
    if image.status == ImageStatus::Active && method != "copy-image" {
        return Err(ApiError::conflict(
            "Image with status active cannot be target for import",
        ));
    }
    if image.status != ImageStatus::Active && method == "copy-image" {
        return Err(ApiError::conflict(
            "Only images with status active can be targeted for copying",
        ));
    }
    if image.status != ImageStatus::Queued && method == "web-download" {
        return Err(ApiError::conflict(format!(
            "Image needs to be in 'queued' state to use '{method}' method"
        )));
    }
    if image.status != ImageStatus::Uploading && method == "glance-direct" {
        return Err(ApiError::conflict(
            "Image needs to be staged before 'glance-direct' method can be used",
        ));
    }
    if image.container_format.as_deref().is_none_or(str::is_empty) {
        return Err(ApiError::conflict(
            "'container_format' needs to be set before import",
        ));
    }
    if image.disk_format.as_deref().is_none_or(str::is_empty) {
        return Err(ApiError::conflict(
            "'disk_format' needs to be set before import",
        ));
    }
    Ok(())
}
