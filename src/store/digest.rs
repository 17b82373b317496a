//! The two digests Glance records for every image's data: `checksum` (MD5) and
//! `os_hash_value` (SHA-512, Glance's default `hashing_algorithm`), in the fastest
//! implementations at hand. On an upload they cost more CPU than everything else glance-api
//! does with the bytes (docs/performance.md, "Image data on S3"). Per core here (thread CPU
//! time, 256 KiB updates): MD5 from `md-5` with its assembly block function on x86_64 streams
//! about 590 MiB/s against 460 for the portable one; SHA-512 from `ring` (already in the
//! build for TLS) about 540 MiB/s against 480 for `sha2`.

use md5::Digest as _;

/// MD5, as Glance's `checksum`.
pub struct Md5(md5::Md5);

impl Md5 {
    pub fn new() -> Self {
        Md5(md5::Md5::new())
    }

    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest in lower-case hex, as Glance shows it.
    pub fn finish_hex(self) -> String {
        hex::encode(self.0.finalize())
    }
}

impl Default for Md5 {
    fn default() -> Self {
        Self::new()
    }
}

/// SHA-512, as Glance's `os_hash_value` with `os_hash_algo` `sha512`.
pub struct Sha512(ring::digest::Context);

impl Sha512 {
    pub fn new() -> Self {
        Sha512(ring::digest::Context::new(&ring::digest::SHA512))
    }

    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest in lower-case hex, as Glance shows it.
    pub fn finish_hex(self) -> String {
        hex::encode(self.0.finish())
    }
}

impl Default for Sha512 {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known answers (RFC 1321's and FIPS 180-2's "abc"), split across updates.
    #[test]
    fn known_answers() {
        let mut md5 = Md5::new();
        md5.update(b"a");
        md5.update(b"bc");
        assert_eq!(md5.finish_hex(), "900150983cd24fb0d6963f7d28e17f72");
        let mut sha512 = Sha512::new();
        sha512.update(b"ab");
        sha512.update(b"c");
        assert_eq!(
            sha512.finish_hex(),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
    }

    /// The same digests as the portable implementations over a large, unaligned input.
    #[test]
    fn agree_with_portable_implementations() {
        use sha2::Digest as _;
        let data: Vec<u8> = (0..1_000_003u64).map(|i| (i * 7919 % 251) as u8).collect();
        let (mut md5, mut sha512) = (Md5::new(), Sha512::new());
        for piece in data.chunks(65_537) {
            md5.update(piece);
            sha512.update(piece);
        }
        assert_eq!(md5.finish_hex(), hex::encode(md5::Md5::digest(&data)));
        assert_eq!(
            sha512.finish_hex(),
            hex::encode(sha2::Sha512::digest(&data))
        );
    }
}
