//! The load test's upload baseline: MD5 and SHA-512 over the same bytes in one pass, in
//! memory, with the chunk size the upload path uses. Prints MiB/s.
//!
//! `cargo run --release --example hash_baseline -- SIZE_MIB`

use std::time::Instant;

use md5::{Digest, Md5};
use sha2::Sha512;

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(64);
    let chunk: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    let chunks = mib * 16;
    let mut runs = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let mut md5 = Md5::new();
        let mut sha = Sha512::new();
        for _ in 0..chunks {
            md5.update(&chunk);
            sha.update(&chunk);
        }
        let digest = (md5.finalize(), sha.finalize());
        std::hint::black_box(digest);
        runs.push(mib as f64 / started.elapsed().as_secs_f64());
    }
    runs.sort_by(f64::total_cmp);
    println!("{:.1}", runs[runs.len() / 2]);
}
