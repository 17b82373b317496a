//! The hostile inputs, generated as tables × variants: JSON bodies, field values, patch
//! documents and content types (`bodies`); list queries, URLs and headers, and ranges
//! (`queries`); upload framing and oversized bodies (`uploads`).

mod bodies;
mod queries;
mod uploads;

pub use bodies::{content_type_cases, field_cases, json_cases, patch_cases};
pub use queries::{list_cases, range_cases, url_cases};
pub use uploads::{oversize_cases, upload_cases, UPLOAD_CASES};

use super::wire::request;

/// The images the cases aim at.
pub struct Targets {
    /// Queued, patched freely.
    pub victim: String,
    /// Shared, for member requests.
    pub shared: String,
    /// Active with data, for downloads and ranges (never written by a case).
    pub with_data: String,
    /// Queued with formats set: one per upload case, in order.
    pub uploads: Vec<String>,
    /// Identity headers every request carries.
    pub identity: Vec<(&'static str, Vec<u8>)>,
}

impl Targets {
    pub(super) fn call(
        &self,
        method: &str,
        target: &[u8],
        extra: &[(&str, &[u8])],
        body: &[u8],
    ) -> Vec<u8> {
        let mut headers: Vec<(&str, &[u8])> = self
            .identity
            .iter()
            .map(|(n, v)| (*n, v.as_slice()))
            .collect();
        headers.extend_from_slice(extra);
        request(method, target, &headers, body)
    }
}

pub(super) const JSON: &[u8] = b"application/json";
pub(super) const PATCH_V21: &[u8] = b"application/openstack-images-v2.1-json-patch";
pub(super) const PATCH_V20: &[u8] = b"application/openstack-images-v2.0-json-patch";
