//! Image content inspection on the upload path, after Glance's (oslo.utils'
//! `format_inspector` and its use in `glance/location.py`).
//!
//! An `Inspector` is fed the upload's bytes in order as they stream to the store (on the
//! upload's writer thread, beside the digests: no second pass). Every known format watches
//! the stream at once and keeps only the bounded regions it needs (headers, tables,
//! descriptors; see `region`), so memory stays flat whatever an image claims about itself,
//! and once each format has what it needs a chunk costs next to nothing. When the stream
//! ends, `decide` turns what was detected into Glance's verdict for the image's
//! `disk_format`: accept (with the virtual size from the header) or refuse (415).

mod fixed;
mod gpt;
mod iso;
mod luks;
mod qcow2;
mod qed;
pub mod region;
pub mod report;
mod vdi;
mod vhd;
mod vhdx;
mod vmdk;

use fixed::Fixed;

/// The formats Glance can inspect (`format_inspector.ALL_FORMATS`); other disk formats
/// (`ami`, `aki`, `ari`, `ploop`) cannot be checked and pass when nothing else is detected.
pub const INSPECTABLE: [&str; 10] = [
    "raw", "qcow2", "vhd", "vhdx", "vmdk", "vdi", "qed", "iso", "gpt", "luks",
];

/// One format's view of the stream.
pub trait Format: Send {
    fn name(&self) -> &'static str;
    /// Offer the bytes at stream position `pos`. An error means the stream cannot be this
    /// format: it is fed no more (its `matches` still answers from what it holds).
    fn feed(&mut self, pos: u64, chunk: &[u8]) -> Result<(), NotThisFormat>;
    /// The stream has ended.
    fn finish(&mut self) {}
    /// Bytes it holds (bounded by the regions it asks for, whatever the stream says).
    fn held(&self) -> usize;
    /// Everything the format asked for was captured.
    fn complete(&self) -> bool;
    /// Whether feeding more bytes can change anything.
    fn wants_more(&self) -> bool {
        !self.complete()
    }
    fn matches(&self) -> bool;
    /// The disk size the image presents (0 if unknown); `total` is the stream's length.
    fn virtual_size(&self, total: u64) -> u64;
    /// Failed safety checks (none: safe).
    fn safety(&self, policy: &Policy) -> Vec<Violation>;
}

/// Why a format gave up on a stream (kept for debugging; never shown to clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotThisFormat(pub &'static str);

/// A failed safety check: Glance's check name and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub check: &'static str,
    pub reason: String,
}

impl Violation {
    pub fn new(check: &'static str, reason: impl Into<String>) -> Self {
        Self {
            check,
            reason: reason.into(),
        }
    }
}

/// The `image_format` settings that shape verdicts.
#[derive(Debug, Clone)]
pub struct Policy {
    pub require_image_format_match: bool,
    pub vmdk_allowed_types: Vec<String>,
    pub gpt_safety_checks_nonfatal: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            require_image_format_match: true,
            vmdk_allowed_types: vec!["streamOptimized".into(), "monolithicSparse".into()],
            gpt_safety_checks_nonfatal: Vec::new(),
        }
    }
}

impl From<&crate::config::ImageFormatSettings> for Policy {
    fn from(settings: &crate::config::ImageFormatSettings) -> Self {
        Self {
            require_image_format_match: settings.require_image_format_match,
            vmdk_allowed_types: settings.vmdk_allowed_types.clone(),
            gpt_safety_checks_nonfatal: settings.gpt_safety_checks_nonfatal.clone(),
        }
    }
}

struct Slot {
    format: Box<dyn Format>,
    /// Fed no more: it has what it needs, or it gave up.
    done: bool,
}

/// All formats watching one stream.
pub struct Inspector {
    slots: Vec<Slot>,
    position: u64,
    /// Slots still fed; when 0 a chunk only advances the position.
    active: usize,
}

impl Default for Inspector {
    fn default() -> Self {
        Self::new()
    }
}

impl Inspector {
    pub fn new() -> Self {
        let formats: Vec<Box<dyn Format>> = vec![
            Box::new(Fixed::<qcow2::Qcow2>::new()),
            Box::new(Fixed::<vhd::Vhd>::new()),
            Box::new(vhdx::Vhdx::new()),
            Box::new(vmdk::Vmdk::new()),
            Box::new(Fixed::<vdi::Vdi>::new()),
            Box::new(Fixed::<qed::Qed>::new()),
            Box::new(Fixed::<iso::Iso>::new()),
            Box::new(Fixed::<gpt::Gpt>::new()),
            Box::new(Fixed::<luks::Luks>::new()),
        ];
        let active = formats.len();
        Self {
            slots: formats
                .into_iter()
                .map(|format| Slot {
                    format,
                    done: false,
                })
                .collect(),
            position: 0,
            active,
        }
    }

    /// The next bytes of the stream.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.active > 0 {
            for slot in self.slots.iter_mut().filter(|s| !s.done) {
                let gave_up = slot.format.feed(self.position, chunk).is_err();
                if gave_up || !slot.format.wants_more() {
                    slot.done = true;
                    self.active -= 1;
                }
            }
        }
        self.position = self.position.saturating_add(chunk.len() as u64);
    }

    /// Bytes held by all formats.
    pub fn held(&self) -> usize {
        self.slots.iter().map(|s| s.format.held()).sum()
    }

    /// The stream has ended: what was detected.
    pub fn finish(mut self) -> Detection {
        for slot in &mut self.slots {
            slot.format.finish();
        }
        Detection {
            formats: self.slots.into_iter().map(|s| s.format).collect(),
            size: self.position,
        }
    }
}

/// What the inspector saw in a complete stream.
pub struct Detection {
    formats: Vec<Box<dyn Format>>,
    size: u64,
}

impl std::fmt::Debug for Detection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detection")
            .field("matches", &self.matches())
            .field("size", &self.size)
            .finish()
    }
}

/// Glance's answer for an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Store it; `virtual_size` as Glance sets it (`None`: left unset).
    Accept {
        detected: String,
        virtual_size: Option<u64>,
    },
    Refuse(Refusal),
}

/// A refused upload (415).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The detected format (or formats, comma-separated).
    pub detected: String,
    /// A short label for metrics: `format_mismatch`, `multiple_formats`, `incomplete` or the
    /// failed safety check's name.
    pub reason: &'static str,
    /// Glance's message for the client.
    pub detail: String,
    /// What failed, for the log (safety-check reasons are not shown to clients).
    pub log: String,
}

/// Glance's `ImageFormatError`: the content is not (safely parseable as) the claimed format.
struct FormatError {
    reason: &'static str,
    detail: String,
}

impl Detection {
    /// The stream's length.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The formats that recognised the stream (never raw).
    pub fn matches(&self) -> Vec<&'static str> {
        self.formats
            .iter()
            .filter(|f| f.matches())
            .map(|f| f.name())
            .collect()
    }

    /// The one format the stream is: raw when nothing matched, ISO for ISO+GPT (bootable
    /// ISOs carry a partition table in front); several others are an error.
    fn chosen(&self) -> Result<Option<&dyn Format>, FormatError> {
        let matched: Vec<&dyn Format> = self
            .formats
            .iter()
            .filter(|f| f.matches())
            .map(|f| f.as_ref())
            .collect();
        let names: Vec<&str> = matched.iter().map(|f| f.name()).collect();
        match matched.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            [_, _] if names.contains(&"iso") && names.contains(&"gpt") => {
                Ok(matched.into_iter().find(|f| f.name() == "iso"))
            }
            _ => Err(FormatError {
                reason: "multiple_formats",
                detail: format!("Multiple formats detected: {}", names.join(",")),
            }),
        }
    }

    /// The detected format's name (`raw` when nothing else matched), or Glance's error.
    pub fn format_name(&self) -> Result<&'static str, String> {
        match self.chosen() {
            Ok(format) => Ok(format.map_or("raw", |f| f.name())),
            Err(err) => Err(err.detail),
        }
    }

    /// The virtual size of the detected format as Glance's inspector reports it.
    pub fn detected_virtual_size(&self) -> Option<u64> {
        match self.chosen() {
            Ok(Some(format)) => Some(format.virtual_size(self.size)),
            Ok(None) => Some(self.size),
            Err(_) => None,
        }
    }

    /// Glance's verdict (`ImageProxy.set_data`) for an image with these formats.
    pub fn verdict(&self, disk_format: &str, container_format: &str, policy: &Policy) -> Verdict {
        // Glance inspects only bare images; others are stored as they come.
        if container_format != "bare" {
            return Verdict::Accept {
                detected: "uninspected".into(),
                virtual_size: None,
            };
        }
        let detected = self.chosen().ok().map_or_else(
            || self.matches().join(","),
            |f| f.map_or("raw", |f| f.name()).to_string(),
        );
        match self.check(disk_format, policy) {
            Ok(virtual_size) => Verdict::Accept {
                detected,
                virtual_size: virtual_size.filter(|&v| v != 0),
            },
            Err(Rejected::Format(err)) if !policy.require_image_format_match => {
                log::warn!(
                    "image format {disk_format} did not match ({}); unable to calculate virtual size",
                    err.detail
                );
                Verdict::Accept {
                    detected,
                    virtual_size: None,
                }
            }
            Err(Rejected::Format(err)) => Verdict::Refuse(Refusal {
                detected,
                reason: err.reason,
                log: err.detail.clone(),
                detail: err.detail,
            }),
            Err(Rejected::Unsafe(failures)) => Verdict::Refuse(Refusal {
                detected,
                reason: failures.first().map_or("safety_check", |v| v.check),
                detail: "Image failed safety checks".into(),
                log: failures
                    .iter()
                    .map(|v| format!("{}: {}", v.check, v.reason))
                    .collect::<Vec<_>>()
                    .join("; "),
            }),
        }
    }

    /// The virtual size to record, or why the upload is refused.
    fn check(&self, disk_format: &str, policy: &Policy) -> Result<Option<u64>, Rejected> {
        let chosen = self.chosen().map_err(Rejected::Format)?;
        let name = chosen.map_or("raw", |f| f.name());
        let virtual_size = if name == disk_format {
            chosen.map_or(self.size, |f| f.virtual_size(self.size))
        } else if name == "raw" && !INSPECTABLE.contains(&disk_format) {
            0
        } else if disk_format == "raw" {
            // Something richer declared as raw: it is stored as raw, sized by its bytes, but
            // must still pass the checks of what it really is.
            self.size
        } else {
            return Err(Rejected::Format(FormatError {
                reason: "format_mismatch",
                detail: format!(
                    "Image disk_format {disk_format} does not match stream data {name}"
                ),
            }));
        };
        let Some(format) = chosen else {
            return Ok(Some(virtual_size));
        };
        if !format.complete() {
            return Err(Rejected::Format(FormatError {
                reason: "incomplete",
                detail: "Incomplete file cannot be safety checked".into(),
            }));
        }
        let mut fatal = format.safety(policy);
        if fatal.is_empty() {
            return Ok(Some(virtual_size));
        }
        if name == "gpt" {
            // Kernels and ramdisks may carry an intentionally invalid MBR.
            let lenient = matches!(disk_format, "aki" | "ari");
            fatal.retain(|v| {
                !(policy
                    .gpt_safety_checks_nonfatal
                    .iter()
                    .any(|n| n == v.check)
                    || (lenient && v.check == "mbr"))
            });
            if fatal.is_empty() {
                log::warn!("non-fatal GPT safety check failures on a {disk_format} image");
                return Ok(Some(virtual_size));
            }
        }
        Err(Rejected::Unsafe(fatal))
    }
}

enum Rejected {
    Format(FormatError),
    Unsafe(Vec<Violation>),
}

/// Stream the file at `path` through the inspector in 64 KiB reads (one pass, as uploads
/// do). Blocking: call it off the async threads.
pub fn inspect_file(path: &std::path::Path) -> std::io::Result<Detection> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut inspector = Inspector::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(inspector.finish());
        }
        inspector.feed(&buf[..n]);
    }
}

/// Inspect a whole byte slice (tests, the CLI).
pub fn inspect_bytes(data: &[u8], chunk: usize) -> Detection {
    let mut inspector = Inspector::new();
    for piece in data.chunks(chunk.max(1)) {
        inspector.feed(piece);
    }
    inspector.finish()
}

#[cfg(test)]
pub(crate) mod tests;
