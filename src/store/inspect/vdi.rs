//! VDI (VirtualBox): the signature at 0x40 and the disk size at 0x170 of the first sector.

use super::fixed::Header;
use super::region::{le_u32, le_u64};
use super::Violation;

pub struct Vdi;

impl Header for Vdi {
    const NAME: &'static str = "vdi";
    const LEN: usize = 512;

    fn matches(data: &[u8], complete: bool) -> bool {
        complete && le_u32(data, 0x40) == 0xbeda_107f
    }

    fn virtual_size(data: &[u8], _total: u64) -> u64 {
        le_u64(data, 0x170)
    }

    fn safety(_data: &[u8]) -> Vec<Violation> {
        Vec::new()
    }
}
