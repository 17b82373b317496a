//! The load test's upload baseline: what the upload path must do at least, done bare in
//! memory: MD5 on one thread and SHA-512 on a second, over the same bytes in 256 KiB batches
//! handed over through a bounded queue of 4 (the upload path's batch size, queue depth and
//! thread layout; no network, no file, no inspector), with the service's own digest
//! implementations (src/store/digest.rs). Prints the median MiB/s of 5 runs.
//!
//! `cargo run --release --example hash_baseline -- SIZE_MIB`

use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::time::Instant;

use glance_rs::store::digest::{Md5, Sha512};

const BATCH: usize = 256 * 1024;
const QUEUED: usize = 4;

fn one_run(batch: &Arc<[u8]>, batches: usize) -> Result<(), String> {
    let (to_sha512, for_sha512) = sync_channel::<Arc<[u8]>>(QUEUED);
    let sha512 = std::thread::spawn(move || {
        let mut sha512 = Sha512::new();
        for data in for_sha512 {
            sha512.update(&data[..]);
        }
        sha512.finish_hex()
    });
    let mut md5 = Md5::new();
    for _ in 0..batches {
        md5.update(&batch[..]);
        to_sha512
            .send(Arc::clone(batch))
            .map_err(|_| "the SHA-512 thread stopped".to_string())?;
    }
    drop(to_sha512);
    let sha512 = sha512
        .join()
        .map_err(|_| "the SHA-512 thread failed".to_string())?;
    std::hint::black_box((md5.finish_hex(), sha512));
    Ok(())
}

fn main() -> Result<(), String> {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(64);
    let batch: Arc<[u8]> = (0..BATCH).map(|i| (i % 251) as u8).collect();
    let batches = mib * (1 << 20) / BATCH;
    let mut runs = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        one_run(&batch, batches)?;
        runs.push(mib as f64 / started.elapsed().as_secs_f64());
    }
    runs.sort_by(f64::total_cmp);
    println!("{:.1}", runs[runs.len() / 2]);
    Ok(())
}
