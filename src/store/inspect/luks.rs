//! LUKS (encrypted volume): the `LUKS\xba\xbe` magic, the version (only LUKS1 is accepted,
//! as Glance does) and the payload offset, which the virtual size excludes.

use super::fixed::Header;
use super::region::{be_u16, be_u32};
use super::Violation;

pub struct Luks;

impl Header for Luks {
    const NAME: &'static str = "luks";
    const LEN: usize = 592;

    fn matches(data: &[u8], _complete: bool) -> bool {
        data.starts_with(b"LUKS\xba\xbe")
    }

    fn virtual_size(data: &[u8], total: u64) -> u64 {
        // Glance answers a negative number for a payload past the end; none is safer.
        total.saturating_sub(u64::from(be_u32(data, 104)) * 512)
    }

    fn safety(data: &[u8]) -> Vec<Violation> {
        let version = be_u16(data, 6);
        if version == 1 {
            Vec::new()
        } else {
            vec![Violation::new(
                "version",
                format!("LUKS version {version} is not supported"),
            )]
        }
    }
}
