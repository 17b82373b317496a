//! VHDX (Microsoft Hyper-V): the `vhdxfile` identifier, then a chain of three bounded
//! lookups to the virtual size: the region table at 192 KiB names the metadata region, whose
//! table (at most 2047 entries) names the "virtual disk size" item. Each step captures a
//! fixed-size region, so a hostile table costs at most 64 KiB per step.

use super::region::{le_u16, le_u32, le_u64, Region};
use super::{Format, NotThisFormat, Policy, Violation};

const REGION_TABLE: u64 = 192 * 1024;
const TABLE_SIZE: usize = 64 * 1024;
/// Entry limit for both tables (qemu's and Glance's).
const MAX_ENTRIES: u32 = 2048;
/// `8B7CA206-4790-4B9A-B8FE-575F050F886E`, as stored (mixed-endian GUID).
const METADATA_REGION: [u8; 16] = [
    0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b, 0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e,
];
/// `2FA54224-CD1B-4876-B211-5DBED83BF4B8`: the virtual disk size item.
const VIRTUAL_DISK_SIZE: [u8; 16] = [
    0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd, 0x76, 0x48, 0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8,
];

pub struct Vhdx {
    ident: Region,
    regions: Region,
    metadata: Option<Region>,
    /// Set once the metadata table was read: the metadata region's length is then what was
    /// captured (its table is all we need).
    metadata_done: bool,
    size_item: Option<Region>,
}

impl Vhdx {
    pub fn new() -> Self {
        Self {
            ident: Region::new(0, 32),
            regions: Region::new(REGION_TABLE, TABLE_SIZE),
            metadata: None,
            metadata_done: false,
            size_item: None,
        }
    }

    /// The metadata region named by the region table, if any.
    fn find_metadata(&self) -> Result<Option<Region>, NotThisFormat> {
        let table = self.regions.data();
        if le_u32(table, 0) != u32::from_le_bytes(*b"regi") {
            return Err(NotThisFormat("region signature not found"));
        }
        let count = le_u32(table, 8);
        if count >= MAX_ENTRIES {
            return Err(NotThisFormat("too many region entries"));
        }
        for i in 0..count as usize {
            let at = 16 + i * 32;
            if table.get(at..at + 16) == Some(&METADATA_REGION[..]) {
                return Ok(Some(Region::new(le_u64(table, at + 16), TABLE_SIZE)));
            }
        }
        Ok(None)
    }

    /// The size item named by the metadata table, once enough of the table is held.
    fn find_size_item(&self, metadata: &Region) -> Result<Option<Region>, NotThisFormat> {
        let table = metadata.data();
        if table.len() < 32 {
            return Ok(None);
        }
        if !table.starts_with(b"metadata") {
            return Err(NotThisFormat("invalid metadata signature"));
        }
        let count = u32::from(le_u16(table, 10));
        if count >= MAX_ENTRIES {
            return Err(NotThisFormat("too many metadata entries"));
        }
        if table.len() < 32 + count as usize * 32 {
            return Ok(None);
        }
        for i in 0..count as usize {
            let at = 32 + i * 32;
            if table.get(at..at + 16) == Some(&VIRTUAL_DISK_SIZE[..]) {
                let offset = u64::from(le_u32(table, at + 16));
                let length = (le_u32(table, at + 20) as usize).min(TABLE_SIZE);
                let mut item = Region::new(metadata.offset().saturating_add(offset), length);
                // The item may sit inside the table bytes already held.
                item.fill_from(metadata.offset(), table);
                return Ok(Some(item));
            }
        }
        Ok(None)
    }
}

impl Format for Vhdx {
    fn name(&self) -> &'static str {
        "vhdx"
    }

    fn feed(&mut self, pos: u64, chunk: &[u8]) -> Result<(), NotThisFormat> {
        self.ident.capture(pos, chunk);
        if pos < 8
            && !self
                .ident
                .data()
                .starts_with(&b"vhdxfile"[..self.ident.data().len().min(8)])
        {
            return Err(NotThisFormat("no vhdxfile identifier"));
        }
        self.regions.capture(pos, chunk);
        if let Some(metadata) = &mut self.metadata {
            metadata.capture(pos, chunk);
        }
        if let Some(item) = &mut self.size_item {
            item.capture(pos, chunk);
        }
        if self.regions.complete() && self.metadata.is_none() {
            if let Some(mut metadata) = self.find_metadata()? {
                metadata.capture(pos, chunk);
                self.metadata = Some(metadata);
            }
        }
        if let (Some(metadata), None) = (&self.metadata, &self.size_item) {
            if let Some(mut item) = self.find_size_item(metadata)? {
                item.capture(pos, chunk);
                self.size_item = Some(item);
                self.metadata_done = true;
            }
        }
        Ok(())
    }

    fn held(&self) -> usize {
        self.ident.held()
            + self.regions.held()
            + self.metadata.as_ref().map_or(0, Region::held)
            + self.size_item.as_ref().map_or(0, Region::held)
    }

    fn complete(&self) -> bool {
        self.ident.complete()
            && self.regions.complete()
            && (self.metadata_done || self.metadata.as_ref().is_none_or(Region::complete))
            && self.size_item.as_ref().is_none_or(Region::complete)
    }

    fn matches(&self) -> bool {
        self.ident.data().starts_with(b"vhdxfile")
    }

    fn virtual_size(&self, _total: u64) -> u64 {
        match &self.size_item {
            Some(item) if item.complete() && item.data().len() >= 8 => le_u64(item.data(), 0),
            _ => 0,
        }
    }

    fn safety(&self, _policy: &Policy) -> Vec<Violation> {
        Vec::new()
    }
}

#[cfg(test)]
pub(super) fn image(size: u64, metadata_at: u64) -> Vec<u8> {
    let total = usize::try_from(metadata_at).expect("small") + 128 * 1024;
    let mut d = vec![0u8; total];
    d[..8].copy_from_slice(b"vhdxfile");
    let r = REGION_TABLE as usize;
    d[r..r + 4].copy_from_slice(b"regi");
    d[r + 8..r + 12].copy_from_slice(&1u32.to_le_bytes());
    d[r + 16..r + 32].copy_from_slice(&METADATA_REGION);
    d[r + 32..r + 40].copy_from_slice(&metadata_at.to_le_bytes());
    let m = usize::try_from(metadata_at).expect("small");
    d[m..m + 8].copy_from_slice(b"metadata");
    d[m + 10..m + 12].copy_from_slice(&1u16.to_le_bytes());
    d[m + 32..m + 48].copy_from_slice(&VIRTUAL_DISK_SIZE);
    d[m + 48..m + 52].copy_from_slice(&(64 * 1024u32).to_le_bytes());
    d[m + 52..m + 56].copy_from_slice(&8u32.to_le_bytes());
    d[m + 64 * 1024..m + 64 * 1024 + 8].copy_from_slice(&size.to_le_bytes());
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_is_found_through_both_tables_in_any_chunking() {
        let data = image(5 << 30, 1 << 20);
        for chunk in [512, 4096, 65536, 300_000, data.len()] {
            let mut v = Vhdx::new();
            let mut pos = 0;
            for c in data.chunks(chunk) {
                v.feed(pos, c).expect("feed");
                pos += c.len() as u64;
            }
            assert!(v.matches() && v.complete(), "chunk {chunk}");
            assert_eq!(v.virtual_size(0), 5 << 30, "chunk {chunk}");
        }
    }
}
