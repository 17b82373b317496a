//! What every fuzz target checks: whatever the bytes and however they are split into chunks,
//! the inspector never panics, holds at most `HELD_BOUND` bytes at any point, reaches a verdict
//! for every disk format, and reaches the same verdict for the same bytes in one chunk as in
//! many (uploads arrive in whatever pieces the network makes).

use glance_rs::store::inspect::{inspect_bytes, Inspector, Policy};

/// The bound the unit tests hold the inspector to (src/store/inspect/tests.rs).
const HELD_BOUND: usize = 1_300_000;

const DISK_FORMATS: [&str; 10] = [
    "raw", "qcow2", "vmdk", "vhdx", "vhd", "vdi", "iso", "qed", "ami", "ploop",
];

/// `data[0]` picks the chunk size; the rest is the stream.
pub fn check(format: &str, data: &[u8]) {
    let Some((&pick, stream)) = data.split_first() else {
        return;
    };
    let chunk = 1 + usize::from(pick) * 263;
    let mut inspector = Inspector::new();
    for piece in stream.chunks(chunk) {
        inspector.feed(piece);
        assert!(
            inspector.held() <= HELD_BOUND,
            "{format}: the inspector holds {} bytes",
            inspector.held()
        );
    }
    let chunked = inspector.finish();
    let whole = inspect_bytes(stream, stream.len().max(1));
    let policy = Policy::default();
    for disk_format in DISK_FORMATS {
        assert_eq!(
            chunked.verdict(disk_format, "bare", &policy),
            whole.verdict(disk_format, "bare", &policy),
            "{format}: chunks of {chunk} change the verdict under disk_format {disk_format}"
        );
    }
    assert_eq!(chunked.format_name(), whole.format_name());
    assert_eq!(chunked.detected_virtual_size(), whole.detected_virtual_size());
}
