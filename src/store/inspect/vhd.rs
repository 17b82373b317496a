//! VHD (Connectix/Microsoft Virtual PC, qemu's `vpc`): the `conectix` footer copy at the start
//! of dynamic disks, and the current size field in it.

use super::fixed::Header;
use super::region::be_u64;
use super::Violation;

pub struct Vhd;

impl Header for Vhd {
    const NAME: &'static str = "vhd";
    const LEN: usize = 512;

    fn matches(data: &[u8], _complete: bool) -> bool {
        data.starts_with(b"conectix")
    }

    fn virtual_size(data: &[u8], _total: u64) -> u64 {
        if data.len() == Self::LEN {
            be_u64(data, 40)
        } else {
            0
        }
    }

    fn safety(_data: &[u8]) -> Vec<Violation> {
        Vec::new()
    }
}
