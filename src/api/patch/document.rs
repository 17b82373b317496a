//! A PATCH document parsed and validated as a whole, before any change applies: the two
//! dialects' operation objects, JSON pointers, and the read-only and reserved paths.

use serde_json::Value;

use super::{Change, Dialect, Op, MAX_OPERATIONS, RESERVED_NAMESPACE};
use crate::api::schemas;
use crate::error::ApiError;

/// Paths the client can never write (Glance `_readonly_properties`).
const READ_ONLY: &[&str] = &[
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "size",
    "virtual_size",
    "direct_url",
    "self",
    "file",
    "schema",
    "id",
    "os_hash_algo",
    "os_hash_value",
];
const RESERVED: &[&str] = &["location", "deleted", "deleted_at"];

/// Parse and validate a whole document (Glance's deserializer runs before any change applies).
pub fn parse_document(body: &Value, dialect: Dialect) -> Result<Vec<Change>, ApiError> {
    let Value::Array(raw_changes) = body else {
        return Err(ApiError::bad_request(
            "Request body must be a JSON array of operation objects.",
        ));
    };
    if raw_changes.len() > MAX_OPERATIONS {
        return Err(ApiError::too_large(format!(
            "A PATCH document may hold at most {MAX_OPERATIONS} operations; this one has {}.",
            raw_changes.len()
        )));
    }
    raw_changes
        .iter()
        .map(|raw| {
            let Value::Object(raw) = raw else {
                return Err(ApiError::bad_request("Operations must be JSON objects."));
            };
            let (op, pointer) = match dialect {
                Dialect::Draft10 => draft10_op_and_path(raw)?,
                Dialect::Draft4 => draft4_op_and_path(raw)?,
            };
            let path = decode_pointer(pointer)?;
            check_depth(op, &path)?;
            let value = match op {
                Op::Remove => None,
                Op::Add | Op::Replace => Some(raw.get("value").cloned().ok_or_else(|| {
                    let name = if op == Op::Add { "add" } else { "replace" };
                    ApiError::bad_request(format!(
                        "Operation \"{name}\" requires a member named \"value\"."
                    ))
                })?),
            };
            let change = Change { op, path, value };
            validate_change(&change)?;
            Ok(change)
        })
        .collect()
}

const SUPPORTED_OPS: &str = "add, remove, replace";

fn draft10_op_and_path(raw: &serde_json::Map<String, Value>) -> Result<(Op, &Value), ApiError> {
    let op = match raw.get("op") {
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request(format!(
                "Unable to find `op` in JSON Schema change. It must be one of the following: \
                 {SUPPORTED_OPS}."
            )))
        }
        Some(op) => op.as_str().and_then(Op::parse).ok_or_else(|| {
            let shown = op
                .as_str()
                .map_or_else(|| schemas::py_repr(op), str::to_string);
            ApiError::bad_request(format!(
                "Invalid operation: `{shown}`. It must be one of the following: {SUPPORTED_OPS}."
            ))
        })?,
    };
    let path = raw
        .get("path")
        .ok_or_else(|| ApiError::bad_request("Unable to find 'path' in JSON Schema change"))?;
    Ok((op, path))
}

fn draft4_op_and_path(raw: &serde_json::Map<String, Value>) -> Result<(Op, &Value), ApiError> {
    let mut found = None;
    for (name, op) in [
        ("add", Op::Add),
        ("remove", Op::Remove),
        ("replace", Op::Replace),
    ] {
        if let Some(path) = raw.get(name) {
            if found.is_some() {
                return Err(ApiError::bad_request(
                    "Operation objects must contain only one member named \"add\", \"remove\", \
                     or \"replace\".",
                ));
            }
            found = Some((op, path));
        }
    }
    found.ok_or_else(|| {
        ApiError::bad_request(
            "Operation objects must contain exactly one member named \"add\", \"remove\", or \
             \"replace\".",
        )
    })
}

/// Glance's restricted JSON pointer: `/a/b`, `~0`/`~1` escapes, no empty or blank segment.
fn decode_pointer(pointer: &Value) -> Result<Vec<String>, ApiError> {
    let Value::String(pointer) = pointer else {
        return Err(ApiError::bad_request(format!(
            "Pointer `{}` does not start with \"/\".",
            schemas::py_repr(pointer)
        )));
    };
    let bad = |why: &str| ApiError::bad_request(format!("Pointer `{pointer}` {why}"));
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(bad("does not start with \"/\"."));
    };
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.len() > 1
        && segments[..segments.len() - 1]
            .iter()
            .any(|s| s.trim().is_empty())
    {
        return Err(bad("contains adjacent \"/\"."));
    }
    if pointer.len() > 1 && pointer.ends_with('/') {
        return Err(bad("end with \"/\"."));
    }
    let mut chars = pointer.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.peek(), Some('0' | '1')) {
            return Err(bad(
                "contains \"~\" not part of a recognized escape sequence.",
            ));
        }
    }
    Ok(segments
        .iter()
        .map(|s| s.replace("~1", "/").replace("~0", "~").trim().to_string())
        .collect())
}

/// Only `/locations/N|-` may be two deep (for add and remove); everything else is one deep.
fn check_depth(op: Op, path: &[String]) -> Result<(), ApiError> {
    let allowed = match (path.first().map(String::as_str), op) {
        (Some("locations"), Op::Add | Op::Remove) => 2,
        _ => 1,
    };
    if path.len() == allowed {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "Invalid JSON pointer for this resource: '/{}'",
            path.join("/")
        )))
    }
}

/// The 403s for read-only and reserved paths, then the value against the image schema.
fn validate_change(change: &Change) -> Result<(), ApiError> {
    let root = change.root();
    if READ_ONLY.contains(&root) {
        return Err(ApiError::forbidden(format!(
            "Attribute '{root}' is read-only."
        )));
    }
    if RESERVED.contains(&root) || root.starts_with(RESERVED_NAMESPACE) {
        return Err(ApiError::forbidden(format!(
            "Attribute '{root}' is reserved."
        )));
    }
    if root.chars().count() > 255 {
        return Err(ApiError::bad_request(
            "Custom property should not be greater than 255 characters.",
        ));
    }
    let Some(value) = &change.value else {
        return Ok(());
    };
    let partial = match change.path.len() {
        1 => serde_json::json!({ root: value }),
        // `/locations/N`: the value is one element of the array.
        _ => serde_json::json!({ root: [value] }),
    };
    schemas::validate_image(&partial)
}
