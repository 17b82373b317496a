//! Prometheus metrics. Every metric name is a `const` here; `dashboards/` and the recording
//! rules name only these (a test checks that). Histograms use buckets from 100 µs to 10 s:
//! most requests take under 5 ms, where the exporter's default buckets would hide the
//! registry hop entirely.

mod handles;
pub mod process;
mod store;
pub mod timing;

pub use handles::histogram as static_histogram;
pub use store::{register_store, store_bytes, store_error, store_op, S3PartInFlight};

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, SharedString,
    Unit,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

pub type MetricsHandle = metrics_exporter_prometheus::PrometheusHandle;

pub const HTTP_REQUESTS_TOTAL: &str = "glance_http_requests_total";
pub const HTTP_REQUEST_DURATION: &str = "glance_http_request_duration_seconds";
pub const DATA_ACCESS_DURATION: &str = "glance_data_access_duration_seconds";
pub const REGISTRY_RPC_DURATION: &str = "glance_registry_rpc_duration_seconds";
pub const REGISTRY_HOP_DURATION: &str = "glance_registry_hop_duration_seconds";
pub const POOL_CONNECTIONS: &str = "glance_pool_connections";
pub const POOL_WAITERS: &str = "glance_pool_waiters";
pub const POOL_SIZE: &str = "glance_pool_size";
pub const IMAGE_BYTES_UPLOADED: &str = "glance_image_bytes_uploaded_total";
pub const IMAGE_BYTES_DOWNLOADED: &str = "glance_image_bytes_downloaded_total";
pub const UPLOADS_IN_PROGRESS: &str = "glance_uploads_in_progress";
pub const UPLOADS_REFUSED: &str = "glance_uploads_refused_total";
pub const BUILD_INFO: &str = "glance_build_info";
pub const KEYSTONE_VALIDATIONS_TOTAL: &str = "glance_keystone_validations_total";
pub const KEYSTONE_VALIDATION_DURATION: &str = "glance_keystone_validation_duration_seconds";
pub const TOKEN_CACHE_LOOKUPS_TOTAL: &str = "glance_token_cache_lookups_total";
pub const IMPORTS_TOTAL: &str = "glance_imports_total";
pub const IMPORT_DURATION: &str = "glance_import_duration_seconds";
pub const IMAGE_BYTES_IMPORTED: &str = "glance_image_bytes_imported_total";
pub const STORE_OPERATION_DURATION: &str = "glance_store_operation_duration_seconds";
pub const STORE_BYTES: &str = "glance_store_bytes_total";
pub const STORE_PARTS_IN_FLIGHT: &str = "glance_store_multipart_parts_in_flight";
pub const STORE_ERRORS: &str = "glance_store_errors_total";

/// Every metric this crate exports (tests/integration/api/metrics.rs compares it, and the
/// dashboards, with a real scrape).
pub const ALL: &[&str] = &[
    HTTP_REQUESTS_TOTAL,
    HTTP_REQUEST_DURATION,
    DATA_ACCESS_DURATION,
    REGISTRY_RPC_DURATION,
    REGISTRY_HOP_DURATION,
    POOL_CONNECTIONS,
    POOL_WAITERS,
    POOL_SIZE,
    IMAGE_BYTES_UPLOADED,
    IMAGE_BYTES_DOWNLOADED,
    UPLOADS_IN_PROGRESS,
    UPLOADS_REFUSED,
    BUILD_INFO,
    KEYSTONE_VALIDATIONS_TOTAL,
    KEYSTONE_VALIDATION_DURATION,
    TOKEN_CACHE_LOOKUPS_TOTAL,
    IMPORTS_TOTAL,
    IMPORT_DURATION,
    IMAGE_BYTES_IMPORTED,
    STORE_OPERATION_DURATION,
    STORE_BYTES,
    STORE_PARTS_IN_FLIGHT,
    STORE_ERRORS,
    process::RESIDENT_MEMORY,
    process::VIRTUAL_MEMORY,
    process::OPEN_FDS,
    process::MAX_FDS,
    process::START_TIME,
];

/// Histogram buckets in seconds, 100 µs to 10 s.
pub const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The compiled data-access features, for `glance_build_info`.
pub fn compiled_features() -> String {
    let mut features = Vec::new();
    if cfg!(feature = "direct-sqlite") {
        features.push("direct-sqlite");
    }
    if cfg!(feature = "direct-postgres") {
        features.push("direct-postgres");
    }
    if cfg!(feature = "registry-proxy") {
        features.push("registry-proxy");
    }
    if cfg!(feature = "registry-server") {
        features.push("registry-server");
    }
    features.join(",")
}

/// The installed recorder's handle (set once per process by `install`).
static HANDLE: OnceLock<MetricsHandle> = OnceLock::new();

/// Whether `install` has run, i.e. whether metric handles are those of the real recorder.
fn installed() -> bool {
    HANDLE.get().is_some()
}

/// Install the process-wide recorder once (tests start several servers in one process) and
/// return its handle.
pub fn install() -> MetricsHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_string()), BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if let Err(err) = metrics::set_global_recorder(recorder) {
                log::warn!("a metrics recorder was already installed: {err}");
            }
            describe_all();
            spawn_upkeep(handle.clone());
            handle
        })
        .clone()
}

/// How often histogram samples are folded into their buckets between scrapes.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Fold histogram samples into buckets every `UPKEEP_EVERY`, on a thread of its own. The
/// recorder keeps every sample recorded since the last render; only a scrape drained them, so a
/// process nobody scraped (or whose Prometheus was down) grew by every request's samples,
/// about 200 bytes a request (the soak's create+delete check, docs/performance.md "Soak").
fn spawn_upkeep(handle: MetricsHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_EVERY);
            handle.run_upkeep();
        });
    if let Err(err) = spawned {
        log::warn!("no metrics upkeep thread ({err}): histograms are drained only by scrapes");
    }
}

fn describe_all() {
    process::describe();
    describe_counter!(
        HTTP_REQUESTS_TOTAL,
        "HTTP requests answered, by method, matched route and status."
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request, by method, matched route and status."
    );
    describe_histogram!(
        DATA_ACCESS_DURATION,
        Unit::Seconds,
        "Time of one data-access call, by mode, operation and outcome."
    );
    describe_histogram!(
        REGISTRY_RPC_DURATION,
        Unit::Seconds,
        "glance-registry: time to serve one RPC command, by command and outcome."
    );
    describe_histogram!(REGISTRY_HOP_DURATION, Unit::Seconds, "glance-api in registry-proxy mode: time of one registry call minus the registry's own database time, by operation.");
    describe_gauge!(
        POOL_CONNECTIONS,
        "Connections of the database or registry pool, by pool and state (in_use, idle)."
    );
    describe_gauge!(
        POOL_WAITERS,
        "Callers waiting for a pooled connection, by pool."
    );
    describe_gauge!(POOL_SIZE, "Maximum connections of the pool, by pool.");
    describe_counter!(
        IMAGE_BYTES_UPLOADED,
        Unit::Bytes,
        "Image data bytes received by uploads."
    );
    describe_counter!(
        IMAGE_BYTES_DOWNLOADED,
        Unit::Bytes,
        "Image data bytes sent by downloads."
    );
    describe_gauge!(UPLOADS_IN_PROGRESS, "Image uploads being received now.");
    describe_counter!(
        KEYSTONE_VALIDATIONS_TOTAL,
        "keystone auth mode: token validations asked of Keystone, by outcome (valid, invalid, unavailable)."
    );
    describe_histogram!(
        KEYSTONE_VALIDATION_DURATION,
        Unit::Seconds,
        "keystone auth mode: time of one token validation by Keystone (service token included), by outcome."
    );
    describe_counter!(
        TOKEN_CACHE_LOOKUPS_TOTAL,
        "keystone auth mode: token cache lookups, by result (hit, negative_hit, miss, malformed)."
    );
    describe_counter!(
        IMPORTS_TOTAL,
        "Interoperable imports finished, by method (glance-direct, web-download) and outcome \
         (success, failure)."
    );
    describe_histogram!(
        IMPORT_DURATION,
        Unit::Seconds,
        "Time of one import from its task starting to its end, by method and outcome."
    );
    describe_counter!(
        IMAGE_BYTES_IMPORTED,
        Unit::Bytes,
        "Image data bytes imported into the image store (from staging or web-download)."
    );
    describe_counter!(
        UPLOADS_REFUSED,
        "Uploads refused by content inspection (415), by reason: format_mismatch, \
         multiple_formats, incomplete, or the failed safety check (backing_file, data_file, \
         unknown_features, descriptor, footer, vmdk_allowed_types, mbr, version, banned)."
    );
    describe_histogram!(
        STORE_OPERATION_DURATION,
        Unit::Seconds,
        "Time of one image store operation (put, put_part, complete_multipart, \
         abort_multipart, get, head, delete, place, open), by store, kind and outcome."
    );
    describe_counter!(
        STORE_BYTES,
        Unit::Bytes,
        "Image bytes written to or read from a store, by store, kind and direction."
    );
    describe_gauge!(
        STORE_PARTS_IN_FLIGHT,
        "S3 multipart parts being sent now, by store."
    );
    describe_counter!(
        STORE_ERRORS,
        "Failed image store operations, by store, kind and operation."
    );
    describe_gauge!(
        BUILD_INFO,
        "Always 1; labels say the version, the data-access mode and the compiled features."
    );
}

/// Set `glance_build_info` for this process.
pub fn record_build_info(service: &'static str, mode: &str) {
    gauge!(
        BUILD_INFO,
        "version" => env!("CARGO_PKG_VERSION"),
        "service" => service,
        "mode" => mode.to_string(),
        "features" => compiled_features()
    )
    .set(1.0);
}

/// A resource's full route pattern (`/v2/images/{image_id}`), set as resource data where the
/// routes are declared; `record_request` falls back to asking the router.
pub struct RoutePattern(pub &'static str);

/// The `method` label of the usual methods, as a static string.
fn known_method(method: &actix_web::http::Method) -> Option<&'static str> {
    const KNOWN: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    KNOWN
        .iter()
        .find(|known| **known == method.as_str())
        .copied()
}

/// Middleware: request count and latency by method, matched route pattern (never the raw
/// path) and status, plus the `Server-Timing` header of this request.
pub async fn record_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = known_method(req.method());
    let (res, spent) = timing::measure(next.call(req)).await;
    let mut res = res?;
    let elapsed = started.elapsed();
    let status = res.status().as_u16();
    // Declared routes carry a static pattern (`Ok`); other matches ask the router (`Err`).
    let route: Result<&'static str, String> = match res.request().app_data::<RoutePattern>() {
        Some(pattern) => Ok(pattern.0),
        None => match res.request().match_pattern() {
            Some(pattern) => Err(pattern),
            None => Ok("unmatched"),
        },
    };
    match (method, route) {
        (Some(method), Ok(route)) => {
            let handles = handles::request(method, route, status);
            handles.count.increment(1);
            handles.duration.record(elapsed.as_secs_f64());
        }
        (method, route) => {
            let method: SharedString = match method {
                Some(known) => SharedString::const_str(known),
                None => SharedString::from(res.request().method().to_string()),
            };
            let route: SharedString = match route {
                Ok(pattern) => SharedString::const_str(pattern),
                Err(pattern) => pattern.into(),
            };
            let status = handles::status_label(status);
            counter!(HTTP_REQUESTS_TOTAL, "method" => method.clone(), "route" => route.clone(), "status" => status.clone())
                .increment(1);
            histogram!(HTTP_REQUEST_DURATION, "method" => method, "route" => route, "status" => status)
                .record(elapsed.as_secs_f64());
        }
    }
    if let Ok(value) = HeaderValue::from_str(&spent.server_timing(elapsed)) {
        res.headers_mut()
            .insert(HeaderName::from_static("server-timing"), value);
    }
    Ok(res)
}

/// Counts an upload in `glance_uploads_in_progress` until dropped.
pub struct UploadInProgress(());

impl UploadInProgress {
    pub fn start() -> Self {
        gauge!(UPLOADS_IN_PROGRESS).increment(1.0);
        Self(())
    }
}

impl Drop for UploadInProgress {
    fn drop(&mut self) {
        gauge!(UPLOADS_IN_PROGRESS).decrement(1.0);
    }
}

pub fn bytes_uploaded(n: usize) {
    counter!(IMAGE_BYTES_UPLOADED).increment(n as u64);
}

/// An upload refused by content inspection; `reason` is one of a small fixed set.
pub fn upload_refused(reason: &'static str) {
    counter!(UPLOADS_REFUSED, "reason" => reason).increment(1);
}

/// Bytes an import took into the image store (from staging or a web-download).
pub fn bytes_imported(n: usize) {
    counter!(IMAGE_BYTES_IMPORTED).increment(n as u64);
}

/// An import ended: `method` glance-direct or web-download, `outcome` success or failure.
pub fn import_finished(method: &'static str, outcome: &'static str, took: std::time::Duration) {
    counter!(IMPORTS_TOTAL, "method" => method, "outcome" => outcome).increment(1);
    histogram!(IMPORT_DURATION, "method" => method, "outcome" => outcome)
        .record(took.as_secs_f64());
}

pub fn bytes_downloaded(n: usize) {
    counter!(IMAGE_BYTES_DOWNLOADED).increment(n as u64);
}

/// Occupancy of a backend's connection pool (database connections or registry calls).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// "database" or "registry".
    pub pool: &'static str,
    pub size: usize,
    pub in_use: usize,
    pub idle: usize,
    pub waiting: usize,
}

/// Set the pool gauges from a backend's current occupancy.
pub fn record_pool(status: &PoolStatus) {
    let pool = status.pool;
    gauge!(POOL_CONNECTIONS, "pool" => pool, "state" => "in_use").set(status.in_use as f64);
    gauge!(POOL_CONNECTIONS, "pool" => pool, "state" => "idle").set(status.idle as f64);
    gauge!(POOL_WAITERS, "pool" => pool).set(status.waiting as f64);
    gauge!(POOL_SIZE, "pool" => pool).set(status.size as f64);
}
