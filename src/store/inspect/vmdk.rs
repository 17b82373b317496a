//! VMDK (VMware): a sparse header (`KDMV`) followed by an embedded text descriptor, or a bare
//! text descriptor. Only single-file sparse create-types are safe (`monolithicSparse`,
//! `streamOptimized`, further limited by `image_format.vmdk_allowed_types`), and their
//! extents must not name paths: a descriptor that points at other files would make the
//! compute host read them. A stream-optimized image with its grain directory at the end has
//! a footer that must agree with the header.

use super::region::{le_u32, le_u64, Region, Tail};
use super::{Format, NotThisFormat, Policy, Violation};

const DESCRIPTOR_AT: u64 = 0x200;
const DESCRIPTOR_MAX: usize = (1 << 20) - 1;
/// What a bare text descriptor is read from: the first chunk, as Glance reads it.
const TEXT_DESCRIPTOR_MAX: usize = 64 * 1024;
const GD_AT_END: u64 = u64::MAX;
const MIN_SPARSE_HEADER: usize = 64;
/// Footer marker, footer, end-of-stream marker: 3 sectors.
const FOOTER_LEN: usize = 1536;
const SAFE_TYPES: [&str; 2] = ["monolithicsparse", "streamoptimized"];

pub struct Vmdk {
    /// `None` once the start of the stream turned out to be a text descriptor.
    header: Option<Region>,
    header_read: bool,
    descriptor: Region,
    descriptor_read: bool,
    text: Option<String>,
    create_type: Option<String>,
    footer: Option<Tail>,
}

impl Vmdk {
    pub fn new() -> Self {
        Self {
            header: Some(Region::new(0, 512)),
            header_read: false,
            descriptor: Region::new(0, TEXT_DESCRIPTOR_MAX),
            descriptor_read: false,
            text: None,
            create_type: None,
            footer: None,
        }
    }

    /// Once the header is held (all 512 bytes, or the whole stream if shorter): a sparse
    /// header places the descriptor (and maybe a footer); printable text means the stream is a
    /// descriptor itself. Read at those two points only, never part-way, so the verdict does
    /// not depend on how the stream was cut into chunks.
    fn read_header(&mut self, pos: u64, chunk: &[u8]) -> Result<(), NotThisFormat> {
        let result = self.place_descriptor(pos, chunk);
        if result.is_err() {
            // Given up on: the text descriptor it may have started is dropped too, so nothing
            // more is read, whatever else the stream holds.
            self.descriptor = Region::new(DESCRIPTOR_AT, 0);
        }
        result
    }

    fn place_descriptor(&mut self, pos: u64, chunk: &[u8]) -> Result<(), NotThisFormat> {
        let Some(header) = &self.header else {
            return Ok(());
        };
        let data = header.data();
        if !data.starts_with(b"KDMV") {
            if !data.is_empty() && data.iter().all(|&b| is_text(b)) {
                self.header = None;
                return Ok(());
            }
            return Err(NotThisFormat("no KDMV signature"));
        }
        if data.len() < MIN_SPARSE_HEADER {
            return Err(NotThisFormat("too short for a VMDK header"));
        }
        if !(1..=3).contains(&le_u32(data, 4)) {
            return Err(NotThisFormat("unsupported VMDK version"));
        }
        if le_u64(data, 28).checked_mul(512) != Some(DESCRIPTOR_AT) {
            return Err(NotThisFormat("wrong descriptor location"));
        }
        if le_u64(data, 56) == GD_AT_END {
            // Only for a header it accepts (one it gives up on holds nothing more). The
            // footer is the stream's last bytes, which may already have streamed by (a
            // small image in one chunk): start it from everything seen so far, the header's
            // bytes and the rest of this chunk.
            let mut footer = Tail::new(FOOTER_LEN);
            footer.capture(data);
            let rest = (data.len() as u64)
                .checked_sub(pos)
                .and_then(|skip| usize::try_from(skip).ok())
                .and_then(|skip| chunk.get(skip..));
            if let Some(rest) = rest {
                footer.capture(rest);
            }
            self.footer = Some(footer);
        }
        let length = usize::try_from(le_u64(data, 36).saturating_mul(512))
            .unwrap_or(DESCRIPTOR_MAX)
            .min(DESCRIPTOR_MAX);
        self.descriptor = Region::new(DESCRIPTOR_AT, length);
        self.descriptor.capture(pos, chunk);
        Ok(())
    }

    fn read_descriptor(&mut self) {
        let data = self.descriptor.data();
        let data = data
            .iter()
            .position(|&b| b == 0)
            .map_or(data, |nul| &data[..nul]);
        if !data.is_ascii() {
            return;
        }
        let text = String::from_utf8_lossy(data).to_ascii_lowercase();
        const KEY: &str = "createtype=\"";
        let create_type = match text.find(KEY) {
            None => "formatnotfound".to_string(),
            Some(at) => {
                let start = at + KEY.len();
                match text[start..].find('"') {
                    Some(len) if len < 64 => text[start..start + len].to_string(),
                    Some(_) => "formatnotfound".to_string(),
                    // No closing quote: an unknown type, refused by the checks below.
                    None => text[start..].to_string(),
                }
            }
        };
        self.text = Some(text);
        self.create_type = Some(create_type);
    }

    fn check_descriptor(&self, policy: &Policy) -> Result<(), Violation> {
        let fail = |reason: &str| Err(Violation::new("descriptor", reason));
        let Some(text) = self.text.as_deref().filter(|t| !t.is_empty()) else {
            return fail("No descriptor found");
        };
        let create_type = self.create_type.as_deref().unwrap_or_default();
        if !SAFE_TYPES.contains(&create_type) {
            return fail("Unsupported subformat");
        }
        if !policy
            .vmdk_allowed_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case(create_type))
        {
            return Err(Violation::new(
                "vmdk_allowed_types",
                format!("VMDK create-type {create_type} is not allowed"),
            ));
        }
        let mut extents = 0;
        for line in text.split('\n').map(str::trim) {
            if line.is_empty() || line.starts_with('#') || line.starts_with("ddb") {
                continue;
            }
            let key = line.split('=').next().unwrap_or_default();
            if line.contains('=') && !key.contains(' ') {
                continue;
            }
            if matches!(line.split(' ').next(), Some("rw" | "rdonly" | "noaccess")) {
                if line.contains('/') {
                    return fail("Invalid extent filenames found");
                }
                extents += 1;
                continue;
            }
            return fail("Invalid VMDK descriptor data");
        }
        if extents == 0 {
            return fail("No extents found");
        }
        Ok(())
    }

    fn check_footer(&self, footer: &Tail) -> Result<(), Violation> {
        let fail = |reason: &str| Err(Violation::new("footer", reason));
        let header = self.header.as_ref().map(Region::data).unwrap_or_default();
        let tail = footer.data();
        let copy = tail.get(512..).unwrap_or_default();
        if header.get(..4) != copy.get(..4) {
            return fail("Header and footer signature do not match");
        }
        if le_u32(header, 4) != le_u32(copy, 4) {
            return fail("Header and footer versions do not match");
        }
        if le_u64(header, 28) != le_u64(copy, 28) || le_u64(header, 36) != le_u64(copy, 36) {
            return fail("Footer specifies a different descriptor than header");
        }
        if le_u64(copy, 56) == GD_AT_END {
            return fail("Footer indicates another footer");
        }
        let zeros = |from: usize, to: usize| {
            tail.get(from..to)
                .is_some_and(|s| s.iter().all(|&b| b == 0))
        };
        if le_u32(tail, 8) != 0 || le_u32(tail, 12) != 3 || !zeros(16, 512) {
            return fail("Footer marker is invalid");
        }
        let eos = tail.get(1024..).unwrap_or_default();
        if le_u64(eos, 0) != 0 || le_u32(eos, 8) != 0 || le_u32(eos, 12) != 0 || !zeros(1040, 1536)
        {
            return fail("End-of-stream marker is invalid");
        }
        Ok(())
    }
}

/// Printable ASCII or what Python's `str.isspace` calls whitespace.
fn is_text(b: u8) -> bool {
    matches!(b, 0x20..=0x7e | 0x09..=0x0d | 0x1c..=0x1f)
}

impl Format for Vmdk {
    fn name(&self) -> &'static str {
        "vmdk"
    }

    fn feed(&mut self, pos: u64, chunk: &[u8]) -> Result<(), NotThisFormat> {
        if let Some(footer) = &mut self.footer {
            footer.capture(chunk);
        }
        if let Some(header) = &mut self.header {
            header.capture(pos, chunk);
        }
        self.descriptor.capture(pos, chunk);
        if !self.header_read && self.header.as_ref().is_some_and(Region::complete) {
            self.header_read = true;
            self.read_header(pos, chunk)?;
        }
        // A descriptor is read once its header placed it and it is held whole.
        if self.header_read && !self.descriptor_read && self.descriptor.complete() {
            self.descriptor_read = true;
            self.read_descriptor();
        }
        Ok(())
    }

    fn finish(&mut self) {
        // A stream shorter than a header is read as it is; a bare text descriptor shorter than
        // the 64 KiB Glance reads it from is read whole at the end.
        if !self.header_read {
            self.header_read = true;
            let _gave_up = self.read_header(0, &[]);
        }
        if self.header.is_none() && !self.descriptor_read {
            self.descriptor_read = true;
            self.read_descriptor();
        }
        if let Some(footer) = &mut self.footer {
            footer.finish();
        }
    }

    fn held(&self) -> usize {
        self.header.as_ref().map_or(0, Region::held)
            + self.descriptor.held()
            + self.footer.as_ref().map_or(0, Tail::held)
    }

    fn complete(&self) -> bool {
        self.header_read
            && (self.descriptor_read || self.descriptor.complete())
            && self.footer.as_ref().is_none_or(Tail::complete)
    }

    fn wants_more(&self) -> bool {
        self.footer.is_some() || !self.complete()
    }

    fn matches(&self) -> bool {
        match &self.header {
            Some(header) => header.data().starts_with(b"KDMV"),
            None => self
                .create_type
                .as_deref()
                .is_some_and(|t| t != "formatnotfound"),
        }
    }

    fn virtual_size(&self, _total: u64) -> u64 {
        let sparse = self.text.as_deref().is_some_and(|t| !t.is_empty())
            && self
                .create_type
                .as_deref()
                .is_some_and(|t| SAFE_TYPES.contains(&t));
        match &self.header {
            Some(header) if sparse => le_u64(header.data(), 12).saturating_mul(512),
            _ => 0,
        }
    }

    fn safety(&self, policy: &Policy) -> Vec<Violation> {
        let mut failed = Vec::new();
        if let Err(violation) = self.check_descriptor(policy) {
            failed.push(violation);
        }
        if let Some(footer) = &self.footer {
            if let Err(violation) = self.check_footer(footer) {
                failed.push(violation);
            }
        }
        failed
    }
}

#[cfg(test)]
pub(super) fn sparse(create_type: &str, extent: &str, sectors: u64) -> Vec<u8> {
    let mut d = vec![0u8; 512 * 4];
    d[..4].copy_from_slice(b"KDMV");
    d[4..8].copy_from_slice(&1u32.to_le_bytes());
    d[12..20].copy_from_slice(&sectors.to_le_bytes());
    d[28..36].copy_from_slice(&1u64.to_le_bytes());
    d[36..44].copy_from_slice(&2u64.to_le_bytes());
    let text = format!(
        "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n\
         createType=\"{create_type}\"\n\n# Extent description\n{extent}\n\n\
         ddb.virtualHWVersion = \"4\"\n"
    );
    d[512..512 + text.len()].copy_from_slice(text.as_bytes());
    d
}

#[cfg(test)]
mod tests {
    use super::super::tests::checks_of;
    use super::*;

    fn fed(bytes: &[u8], chunk: usize) -> Vmdk {
        let mut v = Vmdk::new();
        let mut pos = 0;
        for c in bytes.chunks(chunk) {
            v.feed(pos, c).expect("feed");
            pos += c.len() as u64;
        }
        v.finish();
        v
    }

    #[test]
    fn a_monolithic_sparse_image_passes_with_its_size() {
        for chunk in [100, 512, 4096] {
            let v = fed(
                &sparse("monolithicSparse", "RW 2048 SPARSE \"disk.vmdk\"", 2048),
                chunk,
            );
            assert!(v.matches() && v.complete());
            assert_eq!(v.virtual_size(0), 2048 * 512);
            assert!(
                checks_of(&v).is_empty(),
                "chunk {chunk}: {:?}",
                checks_of(&v)
            );
        }
    }

    #[test]
    fn external_extents_and_unsafe_types_fail() {
        let v = fed(
            &sparse("monolithicSparse", "RW 2048 SPARSE \"/etc/shadow\"", 1),
            4096,
        );
        assert_eq!(checks_of(&v), ["descriptor"]);
        let v = fed(
            &sparse("monolithicFlat", "RW 2048 FLAT \"other.vmdk\" 0", 1),
            4096,
        );
        assert_eq!(checks_of(&v), ["descriptor"]);
        let v = fed(&sparse("monolithicSparse", "", 1), 4096);
        assert_eq!(checks_of(&v), ["descriptor"]);
    }

    #[test]
    fn a_text_descriptor_is_a_vmdk_that_fails() {
        let text = b"# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\nRW 10 FLAT \"x-flat.vmdk\" 0\n";
        let v = fed(text, 4096);
        assert!(v.matches());
        assert_eq!(checks_of(&v), ["descriptor"]);
        assert!(!fed(b"hello, plain text\n", 4096).matches());
    }
}
