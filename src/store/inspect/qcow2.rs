//! qcow2 (QEMU copy-on-write v2/v3): magic, version and virtual size from the first 32 bytes,
//! and the three checks that keep a hypervisor from reading files outside the image: no backing
//! file, no external data file, no incompatible feature we do not know.

use super::fixed::Header;
use super::region::{be_u32, be_u64};
use super::Violation;

const MAGIC: &[u8; 4] = b"QFI\xfb";
/// Offset of the backing file name's offset (0: no backing file).
const BACKING_FILE_OFFSET: usize = 0x08;
/// Offset of the v3 incompatible-features bit field (big-endian u64).
const INCOMPATIBLE_FEATURES: usize = 0x48;
/// Incompatible feature bit 2: the guest data lives in an external file.
const DATA_FILE_BIT: u64 = 1 << 2;
/// Bits 0–3 (dirty, corrupt, external data file, compression type) are known; Glance's
/// inspector treats any higher bit as unknown, and so do we.
const KNOWN_FEATURES: u64 = 0x0f;

pub struct Qcow2;

impl Header for Qcow2 {
    const NAME: &'static str = "qcow2";
    const LEN: usize = 512;

    fn matches(data: &[u8], complete: bool) -> bool {
        complete && data.starts_with(MAGIC)
    }

    fn virtual_size(data: &[u8], _total: u64) -> u64 {
        be_u64(data, 24)
    }

    fn safety(data: &[u8]) -> Vec<Violation> {
        let mut failed = Vec::new();
        if be_u64(data, BACKING_FILE_OFFSET) != 0 {
            failed.push(Violation::new("backing_file", "Image has a backing file"));
        }
        let features = be_u64(data, INCOMPATIBLE_FEATURES);
        // Read whatever the version, as Glance's inspector does: a v2 header has no feature
        // field, so this can refuse a v2 image whose header extension sets the bit (safer).
        if features & DATA_FILE_BIT != 0 {
            failed.push(Violation::new("data_file", "Image has data_file set"));
        }
        match be_u32(data, 4) {
            2 => {}
            3 if features & !KNOWN_FEATURES == 0 => {}
            3 => failed.push(Violation::new(
                "unknown_features",
                "Unknown QCOW2 features found",
            )),
            _ => failed.push(Violation::new(
                "unknown_features",
                "Unsupported qcow2 version",
            )),
        }
        failed
    }
}

#[cfg(test)]
pub(super) fn header(version: u32, size: u64, backing: u64, features: u64) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[..4].copy_from_slice(MAGIC);
    h[4..8].copy_from_slice(&version.to_be_bytes());
    h[8..16].copy_from_slice(&backing.to_be_bytes());
    h[20..24].copy_from_slice(&16u32.to_be_bytes());
    h[24..32].copy_from_slice(&size.to_be_bytes());
    h[0x48..0x50].copy_from_slice(&features.to_be_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::super::fixed::Fixed;
    use super::super::tests::checks_of;
    use super::super::Format;
    use super::*;

    fn fed(bytes: &[u8]) -> Fixed<Qcow2> {
        let mut q = Fixed::new();
        q.feed(0, bytes).expect("feed");
        q
    }

    #[test]
    fn a_clean_v3_header_passes_with_its_size() {
        let q = fed(&header(3, 1 << 30, 0, 0));
        assert!(q.matches());
        assert_eq!(q.virtual_size(0), 1 << 30);
        assert!(checks_of(&q).is_empty());
    }

    #[test]
    fn backing_file_data_file_and_unknown_features_fail() {
        assert_eq!(checks_of(&fed(&header(3, 1, 0x200, 0))), ["backing_file"]);
        assert_eq!(checks_of(&fed(&header(3, 1, 0, 4))), ["data_file"]);
        assert_eq!(
            checks_of(&fed(&header(3, 1, 0, 0x10))),
            ["unknown_features"]
        );
        assert_eq!(checks_of(&fed(&header(1, 1, 0, 0))), ["unknown_features"]);
        // v2 has no feature field: only the data_file bit is read there, as Glance does.
        assert!(checks_of(&fed(&header(2, 1, 0, 0xf0))).is_empty());
        assert_eq!(checks_of(&fed(&header(2, 1, 0, 4))), ["data_file"]);
    }

    #[test]
    fn a_short_header_does_not_match() {
        assert!(!fed(&header(3, 1, 0, 0)[..100]).matches());
    }
}
