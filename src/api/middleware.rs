//! Glance's request envelope: version negotiation (`/v2.N/…` → `/v2/…`, anything else → 300),
//! `x-openstack-request-id` on every response, and error bodies re-rendered for `Accept`.

use std::rc::Rc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode, Uri};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse};

use crate::api::in_flight::RequestInFlight;
use crate::api::versions;
use crate::error::{negotiate, ApiError, ErrorFormat};

/// The request id for logs and the `x-openstack-request-id` header.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Version suffixes Glance 33 accepts without multi-store or cache (`/v2.N`).
const ACCEPTED_MINOR: &[&str] = &["0", "1", "2", "3", "4", "5", "6", "7", "9", "15", "17"];

/// Paths served outside the versioned API.
const UNVERSIONED: &[&str] = &["/versions", "/healthcheck", "/metrics"];

enum Route {
    Keep,
    Rewrite(String),
    MultipleChoices,
}

fn route_for(path: &str, accept: Option<&str>) -> Route {
    if UNVERSIONED.contains(&path) {
        return Route::Keep;
    }
    let trimmed = path.trim_start_matches('/');
    let (first, rest) = match trimmed.find('/') {
        Some(i) => (&trimmed[..i], &trimmed[i..]),
        None => (trimmed, ""),
    };
    if first == "v2" {
        return Route::Keep;
    }
    if let Some(minor) = first.strip_prefix("v2.") {
        if ACCEPTED_MINOR.contains(&minor) {
            return Route::Rewrite(format!("/v2{rest}"));
        }
        return Route::MultipleChoices;
    }
    if accept.is_some_and(|a| a.contains("application/vnd.openstack.images-v2")) {
        return Route::Rewrite(format!("/v2{path}"));
    }
    Route::MultipleChoices
}

fn rewrite(req: &mut ServiceRequest, new_path: &str) {
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    if let Ok(uri) = format!("{new_path}{query}").parse::<Uri>() {
        req.match_info_mut().get_mut().update(&uri);
        req.head_mut().uri = uri;
    }
}

pub async fn glance_envelope(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // Glance's pipeline answers OPTIONS before any app (an empty 200 without a request id or
    // a content type), except on `/versions`, which answers every method with the document.
    if req.method() == Method::OPTIONS && req.path() != "/versions" {
        return Ok(req.into_response(HttpResponse::Ok().finish()));
    }
    let request_id = new_request_id();
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = negotiate(accept);
    let route = route_for(req.path(), accept);
    // The version documents come from Glance's versions app, outside the request-id middleware.
    let version_document = matches!(route, Route::MultipleChoices) || req.path() == "/versions";

    // The connection answers for this request if actix-http drops it unanswered.
    let in_flight = req.conn_data::<Rc<RequestInFlight>>().cloned();
    if let Some(in_flight) = &in_flight {
        in_flight.begin(&request_id, format);
    }

    // A path whose escapes are not UTF-8 names nothing: say so (uWSGI in front of Glance
    // drops such a connection; handlers would see replacement characters).
    let answered = if let Err(error) = crate::api::common::ensure_decodable(req.path()) {
        Ok(req.into_response(error.render(format)))
    } else {
        match route {
            Route::MultipleChoices => {
                let response = versions::multiple_choices(req.request());
                Ok(req.into_response(response))
            }
            route => {
                if let Route::Rewrite(new_path) = route {
                    rewrite(&mut req, &new_path);
                }
                next.call(req)
                    .await
                    .map(|res| rerender_error(res.map_into_boxed_body(), format))
            }
        }
    };
    // An error is rendered by actix itself: answered all the same.
    if let Some(in_flight) = in_flight {
        in_flight.end();
    }
    let mut res = answered?;
    if version_document {
        return Ok(res);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(
            header::HeaderName::from_static("x-openstack-request-id"),
            value,
        );
    }
    Ok(res)
}

/// `req-` and a random UUID, as Glance's request ids.
fn new_request_id() -> String {
    let mut buffer = uuid::Uuid::encode_buffer();
    let uuid = uuid::Uuid::new_v4();
    let mut id = String::with_capacity(4 + uuid::fmt::Hyphenated::LENGTH);
    id.push_str("req-");
    id.push_str(uuid.hyphenated().encode_lower(&mut buffer));
    id
}

/// `ApiError::error_response` renders HTML; pick the body the client asked for.
fn rerender_error(res: ServiceResponse<BoxBody>, format: ErrorFormat) -> ServiceResponse<BoxBody> {
    let error = res.response().extensions().get::<ApiError>().cloned();
    match error {
        Some(error) => {
            let no_body = res.request().method() == actix_web::http::Method::HEAD;
            let mut response = if no_body {
                let mut response = HttpResponse::build(error.status).finish();
                crate::error::set_reason(&mut response);
                response
            } else {
                error.render(format)
            };
            response.extensions_mut().insert(error);
            res.into_response(response)
        }
        None => res,
    }
}

/// Map actix's JSON extractor failures to Glance's messages.
pub fn json_error(err: actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError;
    match err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::too_large("Request body is too large.")
        }
        _ => ApiError::bad_request("Malformed JSON in request body."),
    }
}

/// Status for responses that have no body (204s), as Glance sends most of them: webob's
/// default `text/html` content type (upload, tags, actions, image delete).
pub fn no_content() -> HttpResponse {
    HttpResponse::build(StatusCode::NO_CONTENT)
        .content_type("text/html; charset=UTF-8")
        .finish()
}

/// The 204s Glance sends without a content type: member delete and the download of an image
/// that has no data.
pub fn no_content_bare() -> HttpResponse {
    HttpResponse::build(StatusCode::NO_CONTENT).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_prefixes() {
        assert!(matches!(route_for("/v2/images", None), Route::Keep));
        assert!(matches!(route_for("/v2.1/images", None), Route::Rewrite(p) if p == "/v2/images"));
        assert!(
            matches!(route_for("/v2.17/images/x", None), Route::Rewrite(p) if p == "/v2/images/x")
        );
        assert!(matches!(
            route_for("/v2.8/images", None),
            Route::MultipleChoices
        ));
        assert!(matches!(route_for("/", None), Route::MultipleChoices));
        assert!(matches!(
            route_for("/v1/images", None),
            Route::MultipleChoices
        ));
        assert!(matches!(route_for("/versions", None), Route::Keep));
        assert!(matches!(
            route_for("/images", Some("application/vnd.openstack.images-v2.1+json")),
            Route::Rewrite(p) if p == "/v2/images"
        ));
    }
}
