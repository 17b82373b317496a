//! `GET /v2/images/{id}/file` (download), §5.3: the first of the image's active locations
//! whose store answers, so a read falls back to another copy when one store fails.

use actix_web::body::SizedStream;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

use crate::api::auth::Caller;
use crate::api::byte_ranges;
use crate::api::common::{find_image, reject_body};
use crate::api::middleware::no_content_bare;
use crate::api::State;
use crate::domain::{ImageStatus, LocationStatus};
use crate::error::ApiError;
use crate::metrics;
use crate::store::{loggable, ByteStream, Entry};

pub async fn download(
    req: HttpRequest,
    state: State,
    Caller(ctx): Caller,
    image_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    reject_body(&req)?;
    let image = find_image(&state, &ctx, &image_id).await?;
    if image.status == ImageStatus::Deactivated && !ctx.is_admin {
        return Err(ApiError::forbidden(
            "The requested image has been deactivated. Image data download is forbidden.",
        ));
    }
    let active: Vec<_> = image
        .locations
        .iter()
        .filter(|l| l.status == LocationStatus::Active)
        .collect();
    let copies: Vec<_> = active
        .iter()
        .filter_map(|l| Some((state.stores.for_location(&l.url, &l.metadata)?, &l.url)))
        .collect();
    if copies.is_empty() && !active.is_empty() {
        // Data we may not read: a location outside every configured store (Glance's own
        // store at another path, or a path that escapes the store) is never served.
        for location in &active {
            log::error!(
                "image {image_id}: location {} is outside every configured store ({}); \
                 not served. Configure a store at the same path or bucket as the service \
                 that wrote it",
                loggable(&location.url),
                state.stores.describe_all()
            );
        }
        return Err(ApiError::internal(
            "image store: the image data is at a location outside every configured store",
        ));
    }
    let recorded_size = image.size.and_then(|s| u64::try_from(s).ok());
    // Missing data everywhere is Glance's 204; a store that fails is worth a 500 if no other
    // copy answers.
    let mut failed = false;
    for (entry, url) in copies {
        let size = match recorded_size {
            Some(size) => size,
            None => match entry.store.size(url).await {
                Ok(size) => size,
                Err(err) => {
                    failed |= note_failure(entry, url, &image_id, &err);
                    continue;
                }
            },
        };
        let range = byte_ranges::requested_range(&req, size)?;
        let (start, length) = range.map_or((0, size), |(start, end)| (start, end - start + 1));
        match entry.store.read_range(url, start, length).await {
            Ok(stream) => {
                let served = Served {
                    size,
                    range,
                    length,
                };
                return Ok(respond(entry, stream, served, image.checksum.as_deref()));
            }
            Err(err) => failed |= note_failure(entry, url, &image_id, &err),
        }
    }
    if failed {
        return Err(ApiError::internal(
            "image store: no location of the image could be read",
        ));
    }
    Ok(no_content_bare())
}

/// Log a location that could not be read; whether it was a failure (not just missing data).
fn note_failure(entry: &Entry, url: &str, image_id: &str, err: &std::io::Error) -> bool {
    let missing = err.kind() == std::io::ErrorKind::NotFound;
    log::warn!(
        "image {image_id}: store {} cannot read {}: {err}{}",
        entry.id,
        loggable(url),
        if missing {
            ""
        } else {
            "; trying another location"
        }
    );
    !missing
}

struct Served {
    size: u64,
    range: Option<(u64, u64)>,
    length: u64,
}

fn respond(entry: &Entry, stream: ByteStream, served: Served, md5: Option<&str>) -> HttpResponse {
    let mut response = HttpResponse::build(if served.range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    });
    response.content_type("application/octet-stream");
    if let Some((start, end)) = served.range {
        let size = served.size;
        response.insert_header((header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}")));
    }
    if let Some(checksum) = md5 {
        response.insert_header(("Content-MD5", checksum));
    }
    let (id, kind) = (entry.id.clone(), entry.store.kind());
    let counted = stream.inspect(move |chunk| {
        if let Ok(bytes) = chunk {
            metrics::bytes_downloaded(bytes.len());
            metrics::store_bytes(&id, kind, "read", bytes.len());
        }
    });
    response.body(SizedStream::new(served.length, counted))
}
