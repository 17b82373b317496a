//! Image store metrics, labelled by store id and kind (`file`, `s3`).

use std::time::Duration;

use metrics::{counter, gauge, histogram};

use super::{STORE_BYTES, STORE_ERRORS, STORE_OPERATION_DURATION, STORE_PARTS_IN_FLIGHT};

/// One store operation (`put_part`, `get`, `delete`, …): its time, and an error if it failed.
pub fn store_op(store: &str, kind: &'static str, op: &'static str, spent: Duration, ok: bool) {
    let outcome = if ok { "ok" } else { "error" };
    histogram!(STORE_OPERATION_DURATION, "store" => store.to_string(), "kind" => kind, "op" => op, "outcome" => outcome)
        .record(spent.as_secs_f64());
    if !ok {
        store_error(store, kind, op);
    }
}

/// A store error outside a timed operation (a stream cut mid-download).
pub fn store_error(store: &str, kind: &'static str, op: &'static str) {
    counter!(STORE_ERRORS, "store" => store.to_string(), "kind" => kind, "op" => op).increment(1);
}

/// Image bytes written to (`write`) or read from (`read`) a store.
pub fn store_bytes(store: &str, kind: &'static str, direction: &'static str, n: usize) {
    counter!(STORE_BYTES, "store" => store.to_string(), "kind" => kind, "direction" => direction)
        .increment(n as u64);
}

/// Show a store's error counter (and, for S3, its parts gauge) at zero from the start, so a
/// dashboard and an alert see the store before its first failure.
pub fn register_store(store: &str, kind: &'static str) {
    counter!(STORE_ERRORS, "store" => store.to_string(), "kind" => kind, "op" => "any")
        .increment(0);
    if kind == "s3" {
        gauge!(STORE_PARTS_IN_FLIGHT, "store" => store.to_string()).set(0.0);
    }
}

/// Counts one multipart part on the wire in `glance_store_multipart_parts_in_flight` until
/// dropped.
pub struct S3PartInFlight(String);

impl S3PartInFlight {
    pub fn start(store: &str) -> Self {
        gauge!(STORE_PARTS_IN_FLIGHT, "store" => store.to_string()).increment(1.0);
        Self(store.to_string())
    }
}

impl Drop for S3PartInFlight {
    fn drop(&mut self) {
        gauge!(STORE_PARTS_IN_FLIGHT, "store" => std::mem::take(&mut self.0)).decrement(1.0);
    }
}
