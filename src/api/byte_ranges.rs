//! Byte ranges of image downloads: `Range` and Glance's legacy request `Content-Range`, parsed
//! and checked as webob and Glance do (§5.3).

use actix_web::http::header;
use actix_web::HttpRequest;

use crate::error::ApiError;

/// The byte range asked for (inclusive), from `Range` or Glance's legacy request
/// `Content-Range`; `None` for the whole image.
pub fn requested_range(req: &HttpRequest, size: u64) -> Result<Option<(u64, u64)>, ApiError> {
    let text = |name| {
        req.headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
    };
    let bad_start = |which: &str| {
        ApiError::range_not_satisfiable(format!(
            "Invalid start position in {which} header. Start position MUST be in the inclusive \
             range [0, {}].",
            size.saturating_sub(1)
        ))
    };
    if let Some(range) = text(header::RANGE) {
        if range.contains(',') {
            return Err(ApiError::bad_request(
                "Requests with multiple ranges are not supported in Glance. You may make \
                 multiple single-range requests instead.",
            ));
        }
        let (first, last) = parse_byte_range(&range)
            .ok_or_else(|| ApiError::range_not_satisfiable("Invalid Range header."))?;
        if size == 0 {
            return Err(bad_start("Range"));
        }
        return match (first, last) {
            // `bytes=-0` asks for no byte at all.
            (None, Some(0)) => Err(ApiError::range_not_satisfiable("Invalid Range header.")),
            (None, Some(suffix)) => Ok(Some((size.saturating_sub(suffix), size - 1))),
            (Some(first), _) if first >= size => Err(bad_start("Range")),
            (Some(first), Some(last)) if last < first => {
                Err(ApiError::range_not_satisfiable("Invalid Range header."))
            }
            (Some(first), last) => Ok(Some((first, last.map_or(size - 1, |l| l.min(size - 1))))),
            (None, None) => Err(ApiError::range_not_satisfiable("Invalid Range header.")),
        };
    }
    if let Some(content_range) = text(header::CONTENT_RANGE) {
        let invalid = || ApiError::range_not_satisfiable("Invalid Content-Range header.");
        let (first, last, length) = parse_content_range(&content_range).ok_or_else(invalid)?;
        if length.is_none() && last >= size {
            return Err(ApiError::range_not_satisfiable(format!(
                "Invalid stop position in Content-Range header. The stop position MUST be in \
                 the inclusive range [0, {}].",
                size.saturating_sub(1)
            )));
        }
        if first >= size {
            return Err(bad_start("Content-Range"));
        }
        return Ok(Some((first, last.min(size - 1))));
    }
    Ok(None)
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` → (a, b) with either side optional.
fn parse_byte_range(text: &str) -> Option<(Option<u64>, Option<u64>)> {
    let (unit, spec) = text.split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let number = |s: &str| -> Option<Option<u64>> {
        let s = s.trim();
        if s.is_empty() {
            Some(None)
        } else if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().ok().map(Some)
        } else {
            None
        }
    };
    Some((number(first)?, number(last)?))
}

/// `bytes a-b/len` or `bytes a-b/*` (webob's `ContentRange.parse`): a ≤ b, b < len.
fn parse_content_range(text: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = text.strip_prefix("bytes")?;
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim_start();
    let (span, length) = rest.split_once('/')?;
    let (first, last) = span.split_once('-')?;
    let first: u64 = first.trim().parse().ok()?;
    let last: u64 = last.trim().parse().ok()?;
    let length = match length.trim() {
        "*" => None,
        n => Some(n.parse::<u64>().ok()?),
    };
    if last < first || length.is_some_and(|len| last >= len) {
        return None;
    }
    Some((first, last, length))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_parse_like_webob() {
        assert_eq!(parse_byte_range("bytes=0-4"), Some((Some(0), Some(4))));
        assert_eq!(parse_byte_range("bytes=5-"), Some((Some(5), None)));
        assert_eq!(parse_byte_range("bytes=-3"), Some((None, Some(3))));
        assert_eq!(parse_byte_range("items=0-4"), None);
        assert_eq!(parse_byte_range("bytes=a-4"), None);
        assert_eq!(parse_content_range("bytes 2-5/*"), Some((2, 5, None)));
        assert_eq!(parse_content_range("bytes 2-5/10"), Some((2, 5, Some(10))));
        assert_eq!(parse_content_range("bytes 2-10/10"), None);
        assert_eq!(parse_content_range("bytes 5-2/*"), None);
    }
}
