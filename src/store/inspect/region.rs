//! The two ways an inspector keeps bytes: a `Region` (a fixed span at a known offset, caught
//! as the stream passes it) and a `Tail` (the last N bytes of the stream). Both hold at most
//! the length they were created with, whatever the data says, so an inspector's memory is
//! bounded by the regions its format asks for.

/// A span `[offset, offset + len)` of the stream, captured as it streams by.
#[derive(Clone, Debug)]
pub struct Region {
    offset: u64,
    len: usize,
    data: Vec<u8>,
}

impl Region {
    pub fn new(offset: u64, len: usize) -> Self {
        Self {
            offset,
            len,
            data: Vec::new(),
        }
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    pub fn complete(&self) -> bool {
        self.data.len() >= self.len
    }

    /// Bytes held (for the memory bound the tests check).
    pub fn held(&self) -> usize {
        self.data.capacity()
    }

    /// Take what `chunk` (which starts at stream position `pos`) holds of the region.
    /// Bytes are only appended where they continue what is held: a region whose start has
    /// already streamed by stays incomplete rather than holding misplaced bytes.
    /// Returns whether this call completed the region.
    pub fn capture(&mut self, pos: u64, chunk: &[u8]) -> bool {
        if self.complete() {
            return false;
        }
        let want = self.offset.saturating_add(self.data.len() as u64);
        let end = pos.saturating_add(chunk.len() as u64);
        if want < pos || want >= end {
            return false;
        }
        // Both fit in usize: `want - pos` is below `chunk.len()`.
        let from = usize::try_from(want - pos).unwrap_or(chunk.len());
        let take = (self.len - self.data.len()).min(chunk.len() - from);
        // Doubling, capped at the region's length: what is held never exceeds the length, and
        // a region filled a byte at a time is not copied once per byte.
        let needed = self.data.len() + take;
        if needed > self.data.capacity() {
            let target = needed
                .max(self.data.capacity().saturating_mul(2))
                .min(self.len);
            self.data.reserve_exact(target - self.data.len());
        }
        self.data.extend_from_slice(&chunk[from..from + take]);
        self.complete()
    }

    /// Fill from bytes that were already captured elsewhere: `source` holds the stream from
    /// `source_offset`. Used when a structure points back into a region already held.
    pub fn fill_from(&mut self, source_offset: u64, source: &[u8]) {
        self.capture(source_offset, source);
    }
}

/// The last `len` bytes of the stream.
#[derive(Clone, Debug)]
pub struct Tail {
    len: usize,
    data: Vec<u8>,
    finished: bool,
}

impl Tail {
    pub fn new(len: usize) -> Self {
        Self {
            len,
            data: Vec::with_capacity(len),
            finished: false,
        }
    }

    /// Keep the last `len` bytes seen so far; copies at most `len` bytes of the chunk.
    pub fn capture(&mut self, chunk: &[u8]) {
        if chunk.len() >= self.len {
            self.data.clear();
            self.data
                .extend_from_slice(&chunk[chunk.len() - self.len..]);
            return;
        }
        let keep = self.len - chunk.len();
        if self.data.len() > keep {
            self.data.drain(..self.data.len() - keep);
        }
        self.data.extend_from_slice(chunk);
    }

    pub fn finish(&mut self) {
        self.finished = true;
    }

    pub fn held(&self) -> usize {
        self.data.capacity()
    }

    pub fn complete(&self) -> bool {
        self.finished && self.data.len() == self.len
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

/// Little- and big-endian reads that answer 0 past the end of `data` (a short header reads
/// as zeros rather than panicking; the caller checks completeness before trusting values).
pub fn le_u16(data: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(array(data, at))
}
pub fn le_u32(data: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(array(data, at))
}
pub fn le_u64(data: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(array(data, at))
}
pub fn be_u16(data: &[u8], at: usize) -> u16 {
    u16::from_be_bytes(array(data, at))
}
pub fn be_u32(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(array(data, at))
}
pub fn be_u64(data: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(array(data, at))
}

fn array<const N: usize>(data: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(bytes) = at.checked_add(N).and_then(|end| data.get(at..end)) {
        out.copy_from_slice(bytes);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_is_caught_across_unaligned_chunks() {
        let stream: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        let mut region = Region::new(1000, 700);
        let mut pos = 0u64;
        for chunk in stream.chunks(333) {
            region.capture(pos, chunk);
            pos += chunk.len() as u64;
        }
        assert!(region.complete());
        assert_eq!(region.data(), &stream[1000..1700]);
    }

    #[test]
    fn a_region_filled_a_byte_at_a_time_grows_a_few_times_and_never_past_its_length() {
        let len = 65_536;
        let mut region = Region::new(0, len);
        let mut growths = 0;
        let mut capacity = region.held();
        for pos in 0..len as u64 + 10 {
            region.capture(pos, &[pos as u8]);
            assert!(region.held() <= len, "holds {} of {len}", region.held());
            if region.held() != capacity {
                growths += 1;
                capacity = region.held();
            }
        }
        assert!(region.complete());
        // One reallocation per byte (what libFuzzer caught under ASan) would be 65,536.
        assert!(growths <= 20, "{growths} reallocations");
    }

    #[test]
    fn a_region_whose_start_passed_stays_incomplete() {
        let mut region = Region::new(10, 20);
        region.capture(15, &[1; 100]);
        assert!(!region.complete());
        assert!(region.data().is_empty());
    }

    #[test]
    fn a_tail_keeps_the_last_bytes() {
        let mut tail = Tail::new(5);
        tail.capture(b"abc");
        tail.capture(b"defg");
        tail.capture(b"h");
        tail.finish();
        assert!(tail.complete());
        assert_eq!(tail.data(), b"defgh");
        tail.capture(b"0123456789");
        assert_eq!(tail.data(), b"56789");
    }

    #[test]
    fn reads_past_the_end_are_zero() {
        assert_eq!(le_u32(&[1, 0], 0), 0);
        assert_eq!(be_u16(&[1, 2], 0), 0x0102);
        assert_eq!(le_u64(&[], usize::MAX), 0);
    }
}
