//! QED (QEMU enhanced disk): recognised so that it can be refused; nothing consumes it and its
//! safety cannot be checked.

use super::fixed::Header;
use super::Violation;

pub struct Qed;

impl Header for Qed {
    const NAME: &'static str = "qed";
    const LEN: usize = 512;

    fn matches(data: &[u8], complete: bool) -> bool {
        complete && data.starts_with(b"QED\0")
    }

    fn virtual_size(_data: &[u8], total: u64) -> u64 {
        total
    }

    fn safety(_data: &[u8]) -> Vec<Violation> {
        vec![Violation::new("banned", "This file format is not allowed")]
    }
}
