//! ISO 9660 and UDF: after the 32 KiB system area, the first volume descriptor carries the
//! standard identifier (`CD001`, `NSR02`, `NSR03`); a primary descriptor (type 1) gives the
//! volume size in logical blocks.

use super::fixed::Header;
use super::region::{le_u16, le_u32};
use super::Violation;

pub struct Iso;

impl Header for Iso {
    const NAME: &'static str = "iso";
    const OFFSET: u64 = 32 * 1024;
    const LEN: usize = 2048;

    fn matches(data: &[u8], complete: bool) -> bool {
        complete && matches!(data.get(1..6), Some(b"CD001" | b"NSR02" | b"NSR03"))
    }

    fn virtual_size(data: &[u8], _total: u64) -> u64 {
        if data.first() != Some(&1) {
            return 0;
        }
        u64::from(le_u32(data, 80)) * u64::from(le_u16(data, 128))
    }

    fn safety(_data: &[u8]) -> Vec<Violation> {
        Vec::new()
    }
}
