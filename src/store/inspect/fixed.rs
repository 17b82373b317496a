//! The formats that only need one fixed region at a known offset (qcow2, QED, VHD, VDI, ISO,
//! GPT/MBR, LUKS): each says how to read that region, `Fixed` does the capturing.

use super::region::Region;
use super::{Format, NotThisFormat, Policy, Violation};

/// How one fixed-region format reads its region.
pub trait Header: Send {
    const NAME: &'static str;
    /// Where the region starts and how long it is.
    const OFFSET: u64 = 0;
    const LEN: usize;
    /// Whether `data` (the region; `complete` when all of it is held) is this format.
    fn matches(data: &[u8], complete: bool) -> bool;
    /// The virtual size, called only when the format matched; `total` is the stream length.
    fn virtual_size(data: &[u8], total: u64) -> u64;
    fn safety(data: &[u8]) -> Vec<Violation>;
}

pub struct Fixed<H> {
    region: Region,
    header: std::marker::PhantomData<fn() -> H>,
}

impl<H: Header> Fixed<H> {
    pub fn new() -> Self {
        Self {
            region: Region::new(H::OFFSET, H::LEN),
            header: std::marker::PhantomData,
        }
    }
}

impl<H: Header> Format for Fixed<H> {
    fn name(&self) -> &'static str {
        H::NAME
    }

    fn feed(&mut self, pos: u64, chunk: &[u8]) -> Result<(), NotThisFormat> {
        self.region.capture(pos, chunk);
        Ok(())
    }

    fn held(&self) -> usize {
        self.region.held()
    }

    fn complete(&self) -> bool {
        self.region.complete()
    }

    fn matches(&self) -> bool {
        H::matches(self.region.data(), self.region.complete())
    }

    fn virtual_size(&self, total: u64) -> u64 {
        if self.matches() {
            H::virtual_size(self.region.data(), total)
        } else {
            0
        }
    }

    fn safety(&self, _policy: &Policy) -> Vec<Violation> {
        H::safety(self.region.data())
    }
}
