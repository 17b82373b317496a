//! `/versions`, the 300 for unversioned paths, `/v2/info/import` and `/healthcheck`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use crate::api::{json, State};

/// Glance 33's list, in the order it sends it.
const VERSIONS: &[(&str, &str)] = &[
    ("v2.15", "SUPPORTED"),
    ("v2.9", "SUPPORTED"),
    ("v2.17", "CURRENT"),
    ("v2.7", "SUPPORTED"),
    ("v2.6", "SUPPORTED"),
    ("v2.5", "SUPPORTED"),
    ("v2.4", "SUPPORTED"),
    ("v2.3", "SUPPORTED"),
    ("v2.2", "SUPPORTED"),
    ("v2.1", "SUPPORTED"),
    ("v2.0", "SUPPORTED"),
];

/// `public_endpoint`, else the scheme and host the request came in on.
pub fn base_url(req: &HttpRequest) -> String {
    let configured = req
        .app_data::<State>()
        .map(|s| {
            s.settings
                .server
                .public_endpoint
                .trim_end_matches('/')
                .to_string()
        })
        .unwrap_or_default();
    if !configured.is_empty() {
        return configured;
    }
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

fn body(req: &HttpRequest) -> serde_json::Value {
    let href = format!("{}/v2/", base_url(req));
    let versions: Vec<_> = VERSIONS
        .iter()
        .map(|(id, status)| {
            json!({"id": id, "status": status, "links": [{"rel": "self", "href": href}]})
        })
        .collect();
    json!({ "versions": versions })
}

pub async fn list(req: HttpRequest) -> HttpResponse {
    json::respond(StatusCode::OK, &body(&req))
}

pub fn multiple_choices(req: &HttpRequest) -> HttpResponse {
    json::respond(StatusCode::MULTIPLE_CHOICES, &body(req))
}

/// Behind Glance's context middleware like every /v2 route: identity first (`Caller`: 401).
/// The enabled import methods this build carries out (`import.enabled_methods`).
pub async fn import_info(
    state: State,
    _: crate::api::auth::Caller,
) -> Result<HttpResponse, crate::error::ApiError> {
    Ok(json::respond(
        StatusCode::OK,
        &json!({"import-methods": {
            "description": "Import methods available.",
            "type": "array",
            "value": state.settings.import.available_methods()
        }}),
    ))
}

/// oslo.middleware's healthcheck: `OK` while the database (or registry) answers, else 503.
pub async fn healthcheck(state: State) -> HttpResponse {
    match state.db.health().await {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain; charset=UTF-8")
            .body("OK"),
        Err(err) => {
            log::warn!("healthcheck failed: {err}");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=UTF-8")
                .body(format!("DATABASE DOWN: {}", err.kind()))
        }
    }
}
