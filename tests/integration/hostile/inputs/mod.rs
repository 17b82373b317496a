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

/// A label's view of raw input: lossy UTF-8, cut to `max` bytes with the full length named
/// (so labels stay unique: the recorded answers are keyed by them).
pub(super) fn shown(bytes: &[u8], max: usize) -> String {
    if bytes.len() <= max {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let head = String::from_utf8_lossy(&bytes[..max]);
    format!("{head}…({} bytes)", bytes.len())
}

/// Whether JSON text holds a `\\uD800`-`\\uDFFF` escape that is not half of a pair.
pub(super) fn lone_surrogate(json: &[u8]) -> bool {
    let text = String::from_utf8_lossy(json);
    let units: Vec<Option<u16>> = text
        .split("\\u")
        .skip(1)
        .map(|rest| rest.get(..4).and_then(|h| u16::from_str_radix(h, 16).ok()))
        .collect();
    let high = |u: &Option<u16>| u.is_some_and(|u| (0xD800..0xDC00).contains(&u));
    let low = |u: &Option<u16>| u.is_some_and(|u| (0xDC00..0xE000).contains(&u));
    let mut i = 0;
    while i < units.len() {
        if high(&units[i]) && units.get(i + 1).is_some_and(low) {
            i += 2;
            continue;
        }
        if high(&units[i]) || low(&units[i]) {
            return true;
        }
        i += 1;
    }
    false
}

/// Why we answer otherwise than Glance 33 for whole families of input (docs/compatibility.md,
/// "Hostile input"). Glance's answers: tests/fixtures/real-glance-33/hostile-answers.tsv.
pub(super) mod why {
    pub const SURROGATE: &str = "a JSON string with an unpaired UTF-16 surrogate escape is not \
        Unicode: the whole body is 400 before any other check; Glance parses it and then fails \
        writing it (500) or on an earlier check (403, 404, 409)";
    pub const NUL: &str = "NUL in a string is 400 everywhere (PostgreSQL text cannot hold it); \
        Glance on SQLite stores it (201, 200)";
    pub const DEEP: &str = "JSON nested past 128 levels is malformed (400); Glance's json \
        module recurses into RecursionError (500)";
    pub const LIST_BODY: &str = "a JSON list where an image is expected is 400; Glance's create \
        deserializer fails on it (500)";
    pub const CAP: &str = "JSON bodies are capped (server.max_request_body, 1 MiB): 413 before \
        reading them whole; Glance reads any size, then 400 (schema), or 500 when cut short";
    pub const MEMBER: &str = "a member id is a string of at most 255 characters (the column's \
        width): 400; Glance on SQLite stores numbers and longer ids (200, 409 for true == 1) \
        and fails on big integers, lists and objects (500)";
    pub const KEY_LENGTH: &str = "property names are at most 255 characters (the column's \
        width): 400; Glance on SQLite stores longer ones";
    pub const PATH_TYPE: &str = "a patch operation whose path or op is not a string is 400; \
        Glance 500s";
    pub const MAX_OPS: &str = "a PATCH holds at most 1000 operations: 413 before applying any; \
        Glance 400s the 2.0 dialect and takes over 10 s on 2.1";
    pub const RAW_BYTES: &str = "refused by the HTTP layer (400, no body): a space, a raw \
        non-ASCII or control byte in the request line or a header, a malformed request line; \
        uWSGI drops some of these and passes others on to Glance";
    pub const HEAD_LIMITS: &str = "actix-http's limits decide: a request line over 64 KiB is \
        400, a head of 300 KB or more than 64 headers 431 (no body), a 70 KB header is read \
        (200); uWSGI drops the big ones (buffer-size 64 KiB) and passes 100 headers on";
    pub const NO_IDENTITY: &str = "a raw request with no identity headers: trusted-auth \
        refuses it (401); the recording's stand-in for keystonemiddleware made it an admin \
        (tests/glance/start.sh), and for a bare-LF request line uWSGI never answered";
    pub const UNDECODABLE_PATH: &str = "a path whose escapes are not UTF-8 is 400 \"Error \
        decoding your request\" (Glance's answer for such a query string); uWSGI and Glance \
        drop the connection";
    pub const LITERAL_PATH: &str = "a path is not normalised or decoded before routing: `..`, \
        an escaped slash and a lone or malformed `%` stay in their segment; Glance's routes \
        decode and resolve them first (another route, or none: 404, 300)";
    pub const FOUR_BYTE_TAG: &str = "a tag with 4-byte UTF-8 is 400 (Glance's reference \
        rule, and MySQL's utf8 columns cannot hold it); Glance 33 on SQLite stores it";
    pub const INT_FILTER: &str = "min_disk, min_ram and size filters must be integers of the \
        column's range: 400; Glance on SQLite compares the text with the column and lists \
        nothing (200)";
    pub const BIG_BOUND: &str = "a size_min/size_max beyond 64 bits is compared as a number \
        (200); Glance's SQLite binding overflows (500)";
    pub const EMPTY_CHANGES_SINCE: &str = "an empty changes-since is no filter (200); Glance \
        fails to parse it (500)";
    pub const MANY_FILTERS: &str = "tag and property filters are capped (400 past the cap); \
        Glance joins a table per filter, which SQLite refuses past 64 (500) and which takes \
        minutes past 1000";
    pub const NON_ASCII_TYPE: &str = "a Content-Type that is not ASCII cannot be read: 415; \
        Glance reads its media type before the bad parameter";
    pub const QUEUED_RANGE: &str = "an image without data answers 204 whatever the Range; \
        Glance checks the header first (400, 416) or drops the connection";
    pub const BAD_RANGE: &str = "a Range that is not a valid byte range for the data is 416; \
        Glance serves some of them whole or in part (206) and drops the connection on others";
    pub const BIG_RANGE: &str = "KNOWN GAP, not a choice: a range end or suffix length past \
        2^64 is 416 here; Glance clamps it to the data (206)";
    pub const SHORT_BODY: &str = "image data that ends before its declared length or its last \
        chunk, or whose chunking is corrupt, is 400 with the image back to queued; Glance 500s";
    pub const SLOW_PATCH: &str = "Glance on SQLite takes over 10 s for ~1000 operations (the \
        exchange's bound); we answer as for a short document (200, or 413 past the property \
        quota)";
}

pub(super) const JSON: &[u8] = b"application/json";
pub(super) const PATCH_V21: &[u8] = b"application/openstack-images-v2.1-json-patch";
pub(super) const PATCH_V20: &[u8] = b"application/openstack-images-v2.0-json-patch";
