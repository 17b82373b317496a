//! Steps most handlers share: find a visible image, check who may change it, read a body.

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;

use crate::api::State;
use crate::data_access::DataAccessError;
use crate::domain::{policy, Image, RequestContext};
use crate::error::ApiError;

/// The image if the caller may see it; missing, deleted or invisible → 404 (never 403).
pub async fn find_image(
    state: &State,
    ctx: &RequestContext,
    image_id: &str,
) -> Result<Image, ApiError> {
    if image_id.contains('\0') {
        // No image id holds NUL (and PostgreSQL could not even compare one).
        return Err(ApiError::image_not_found(image_id));
    }
    match state.db.image_get(ctx, image_id, false).await {
        // Backends show admins soft-deleted rows (Glance's can_see_deleted); the API never does.
        Ok(image) if image.deleted => Err(ApiError::image_not_found(image_id)),
        Ok(image) => Ok(image),
        Err(DataAccessError::NotFound(_) | DataAccessError::Forbidden(_)) => {
            Err(ApiError::image_not_found(image_id))
        }
        Err(err) => Err(err.into()),
    }
}

/// Anonymous (read-only) contexts may not write: Glance's 403 "Read-only access".
pub fn ensure_writable(ctx: &RequestContext) -> Result<(), ApiError> {
    if ctx.read_only {
        Err(ApiError::forbidden("Read-only access"))
    } else {
        Ok(())
    }
}

/// Owner-or-admin check for an image the caller can already see (so denial is 403).
pub fn ensure_mutable(
    ctx: &RequestContext,
    image: &Image,
    explanation: &str,
) -> Result<(), ApiError> {
    if policy::is_image_mutable(ctx, image) {
        Ok(())
    } else {
        Err(ApiError::forbidden(explanation))
    }
}

/// Read a small request body, refusing it with 413 once it passes `limit` (before reading it
/// all when `Content-Length` already says so).
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let too_large = || ApiError::too_large("Request body is too large.");
    if let Some(length) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if length > limit as u64 {
            return Err(too_large());
        }
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::bad_request("Error reading the request body."))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Glance's JSON body rules: absent → "Body expected in request.", unparsable (including
/// nesting deeper than serde_json's limit) → "Malformed JSON in request body.", a scalar →
/// "Unexpected body type. Expected list/dict.".
pub fn parse_json_body(body: &[u8]) -> Result<serde_json::Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("Body expected in request."));
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::bad_request("Malformed JSON in request body."))?;
    if contains_nul(&value) {
        return Err(nul_refused());
    }
    if value.is_object() || value.is_array() {
        Ok(value)
    } else {
        Err(ApiError::bad_request(
            "Unexpected body type. Expected list/dict.",
        ))
    }
}

/// Glance's `body_reject` routes: a body is not expected.
pub fn reject_body(req: &HttpRequest) -> Result<(), ApiError> {
    let has_length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > 0);
    let chunked = req
        .headers()
        .get(header::TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if has_length || chunked {
        Err(ApiError::bad_request(
            "A body is not expected with this request.",
        ))
    } else {
        Ok(())
    }
}

/// Glance (`no_4byte_params`) refuses characters outside the Basic Multilingual Plane, which
/// MySQL's utf8 could not store; all backends behave the same.
pub fn has_4byte_utf8(text: &str) -> bool {
    text.chars().any(|c| c as u32 > 0xFFFF)
}

/// PostgreSQL text cannot hold NUL (`\u0000`); every backend refuses it the same way.
pub fn contains_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(text) => text.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(contains_nul),
        serde_json::Value::Object(map) => map
            .iter()
            .any(|(key, value)| key.contains('\0') || contains_nul(value)),
        _ => false,
    }
}

pub fn nul_refused() -> ApiError {
    ApiError::bad_request("Invalid value: text may not contain NUL characters (\\u0000).")
}

/// 400 "Error decoding your request…" (webob's words) for a URL part whose percent-escapes are
/// not UTF-8.
pub fn ensure_decodable(text: &str) -> Result<(), ApiError> {
    // Text without escapes is UTF-8 already (a `str`): one memchr instead of a byte-by-byte
    // decoding pass, for most paths.
    if !text.contains('%') {
        return Ok(());
    }
    if percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .is_err()
    {
        return Err(ApiError::bad_request(
            "Error decoding your request. Either the URL or the request body contained \
             characters that could not be decoded by Glance",
        ));
    }
    Ok(())
}
