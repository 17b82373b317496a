//! The S3 load test's baseline (scripts/load/s3.py): as many bytes to the same S3 server with
//! the same crate and the same part size and parts in flight as the S3 store, and nothing else
//! (no HTTP front, no digests, no inspector, no database). PUTs SIZE_MIB (of DATA_FILE when
//! given: the load test writes fresh random bytes for each step, since Garage skips writing
//! blocks it already holds) as a multipart upload
//! of PART_MIB parts, at most `PARTS_IN_FLIGHT` on the wire, then GETs it back with one ranged
//! GET (as a download does) and deletes it. Prints `put MiB/s get MiB/s`, then the CPU seconds
//! (user + system) this process spent in the PUT and in the GET, then those the process
//! `S3_BASELINE_WATCH_PID` (the S3 server) spent in each, `nan` when unset.
//!
//! The server and credentials come from the tests' variables (tests/s3/lib.sh `s3_up`):
//! GLANCE_TEST_S3_ENDPOINT, _REGION, _BUCKET, _ACCESS_KEY, _SECRET_KEY.
//!
//! `cargo run --release --example s3_baseline -- SIZE_MIB PART_MIB [DATA_FILE]`

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{
    ClientOptions, GetOptions, GetRange, MultipartUpload, ObjectStore, ObjectStoreExt, PutPayload,
};

use glance_rs::store::s3::PARTS_IN_FLIGHT;

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set (tests/s3/lib.sh s3_up sets it)"))
}

fn arg(n: usize, default: u64) -> Result<u64, String> {
    match std::env::args().nth(n) {
        None => Ok(default),
        Some(text) => text.parse().map_err(|_| format!("not a number: {text}")),
    }
}

/// CPU seconds (user + system, all threads) of process `pid` so far, from /proc/PID/stat.
fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // After the command's closing parenthesis: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        // USER_HZ: 100 on every Linux the kernel ABI allows userspace to see.
        (Some(user), Some(system)) => (user + system) / 100.0,
        _ => f64::NAN,
    }
}

/// CPU seconds of this process and of the watched one, now.
fn cpu_now(watch: &Option<String>) -> (f64, f64) {
    let watched = watch.as_deref().map_or(f64::NAN, cpu_seconds);
    (cpu_seconds("self"), watched)
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let size_mib = arg(1, 256)?;
    let part_mib = arg(2, 5)?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let endpoint = var("GLANCE_TEST_S3_ENDPOINT")?;
    let store = AmazonS3Builder::new()
        .with_endpoint(&endpoint)
        .with_region(var("GLANCE_TEST_S3_REGION")?)
        .with_bucket_name(var("GLANCE_TEST_S3_BUCKET")?)
        .with_access_key_id(var("GLANCE_TEST_S3_ACCESS_KEY")?)
        .with_secret_access_key(var("GLANCE_TEST_S3_SECRET_KEY")?)
        .with_virtual_hosted_style_request(false)
        .with_client_options(
            ClientOptions::new()
                .with_allow_http(endpoint.starts_with("http://"))
                .with_timeout(Duration::from_secs(300)),
        )
        .build()
        .map_err(|e| e.to_string())?;
    let part_len = usize::try_from(part_mib << 20).map_err(|e| e.to_string())?;
    // The bytes to send: DATA_FILE's (random bytes like those the service is sent), else a
    // pattern. Garage keeps blocks by content hash and compresses them, so a repeated
    // compressible part, or bytes it still holds, cost it far less than new image data.
    let mut data = match std::env::args().nth(3) {
        Some(path) => Some(std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?),
        None => None,
    };
    let pattern: Bytes = (0..part_len)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<_>>()
        .into();
    let mut next_part = |len: usize| -> Result<Bytes, String> {
        let Some(file) = data.as_mut() else {
            return Ok(pattern.slice(..len));
        };
        let mut buf = vec![0u8; len];
        std::io::Read::read_exact(file, &mut buf)
            .map_err(|e| format!("reading the data file: {e}"))?;
        Ok(buf.into())
    };
    let total = size_mib << 20;
    let path = Path::from(format!("s3-baseline-{}", std::process::id()));

    let watch = std::env::var("S3_BASELINE_WATCH_PID").ok();
    let cpu_start = cpu_now(&watch);
    let started = Instant::now();
    let mut upload = store
        .put_multipart(&path)
        .await
        .map_err(|e| e.to_string())?;
    let mut in_flight: FuturesUnordered<object_store::UploadPart> = FuturesUnordered::new();
    let mut sent = 0u64;
    while sent < total {
        let len = (total - sent).min(part_len as u64) as usize;
        if in_flight.len() >= PARTS_IN_FLIGHT {
            if let Some(done) = in_flight.next().await {
                done.map_err(|e| e.to_string())?;
            }
        }
        in_flight.push(upload.put_part(PutPayload::from(next_part(len)?)));
        sent += len as u64;
    }
    while let Some(done) = in_flight.next().await {
        done.map_err(|e| e.to_string())?;
    }
    upload.complete().await.map_err(|e| e.to_string())?;
    let put = size_mib as f64 / started.elapsed().as_secs_f64();
    let cpu_put = cpu_now(&watch);

    let started = Instant::now();
    let options = GetOptions {
        range: Some(GetRange::Bounded(0..total)),
        ..GetOptions::default()
    };
    let mut stream = store
        .get_opts(&path, options)
        .await
        .map_err(|e| e.to_string())?
        .into_stream();
    let mut got = 0u64;
    while let Some(chunk) = stream.next().await {
        got += chunk.map_err(|e| e.to_string())?.len() as u64;
    }
    let get = size_mib as f64 / started.elapsed().as_secs_f64();
    let cpu_get = cpu_now(&watch);
    store.delete(&path).await.map_err(|e| e.to_string())?;
    if got != total {
        return Err(format!("read {got} bytes of {total}"));
    }
    println!(
        "{put:.1} {get:.1} {:.3} {:.3} {:.3} {:.3}",
        cpu_put.0 - cpu_start.0,
        cpu_get.0 - cpu_put.0,
        cpu_put.1 - cpu_start.1,
        cpu_get.1 - cpu_put.1
    );
    Ok(())
}
