//! `glance-api inspect FILE…`: one JSON line per file with what the upload path would decide
//! for it under each disk_format (bare container, default `image_format` settings). The
//! corpus check (`tests/inspect/`) compares these lines with Glance's own inspector.

use std::path::Path;

use serde_json::{json, Map, Value};

use super::{Policy, Verdict};

/// The disk formats a verdict is reported for.
pub const DISK_FORMATS: [&str; 9] = [
    "raw", "qcow2", "vmdk", "vhd", "vhdx", "vdi", "iso", "ploop", "ami",
];

/// Inspect `path` (`inspect_file`) and report.
pub fn report_file(path: &Path, policy: &Policy) -> std::io::Result<Value> {
    let detection = super::inspect_file(path)?;
    let mut verdicts = Map::new();
    for disk_format in DISK_FORMATS {
        let verdict = match detection.verdict(disk_format, "bare", policy) {
            Verdict::Accept { virtual_size, .. } => {
                json!({"accept": true, "virtual_size": virtual_size})
            }
            Verdict::Refuse(refusal) => {
                json!({"accept": false, "reason": refusal.reason, "detail": refusal.detail})
            }
        };
        verdicts.insert(disk_format.to_string(), verdict);
    }
    Ok(json!({
        "file": path.display().to_string(),
        "format": detection.format_name().ok(),
        "virtual_size": detection.detected_virtual_size(),
        "verdicts": verdicts,
    }))
}
