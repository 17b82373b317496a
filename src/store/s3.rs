//! The S3 store (glance_store's `s3` driver): one object per image, key = image id, in one
//! bucket, through `object_store` (SigV4, path-style, the configured region).
//!
//! Uploads stream: batches are gathered into parts of `large_object_chunk_size`, sent as a
//! multipart upload with at most `PARTS_IN_FLIGHT` parts on the wire, so an upload holds at
//! most (`PARTS_IN_FLIGHT` + 1) parts in memory whatever the image size. Data smaller than
//! one part (and than `large_object_size`) goes as one PUT. The object exists only once the
//! upload is complete; an upload dropped before (error, refusal, client gone) aborts its
//! multipart upload, and one cut by a crash is invisible (never served; Garage's
//! `bucket cleanup-incomplete-uploads` reclaims its parts). Downloads are ranged GETs.
//!
//! Location URLs are glance_store's: `s3://ACCESS:SECRET@HOST[:PORT]/BUCKET/IMAGE_ID`
//! (`s3+https://` when the endpoint is https). They carry the credentials, as Glance's do:
//! they are never logged (see `redacted`) and never shown by the API.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{
    ClientOptions, GetOptions, GetRange, MultipartUpload, ObjectStore, ObjectStoreExt, PutPayload,
    RetryConfig,
};

use super::s3_raw::{Incomplete, Raw};
use super::upload::{Sink, Upload};
use super::{ByteStream, ImageStore, Leftover};
use crate::config::S3StoreSettings;
use crate::metrics;

/// Parts of one upload on the wire at once (Glance's `s3_store_thread_pools` is 10; fewer
/// keeps an upload's memory small, and two already keep Garage busy).
pub const PARTS_IN_FLIGHT: usize = 2;

const MIB: u64 = 1024 * 1024;

pub struct S3Store {
    id: String,
    client: Arc<AmazonS3>,
    /// `host[:port][/path]` of the endpoint, as locations carry it.
    host: String,
    /// `s3` (http) or `s3+https`, as glance_store writes them.
    scheme: &'static str,
    bucket: String,
    access_key: String,
    secret_key: String,
    large_object_size: u64,
    chunk_size: usize,
    raw: Raw,
    create_bucket_on_put: bool,
    bucket_ready: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("id", &self.id)
            .field("host", &self.host)
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

/// A location URL glance_store's S3 driver wrote (`parse_uri`).
#[derive(Debug, PartialEq)]
pub struct S3Location<'a> {
    pub https: bool,
    pub host: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
}

impl<'a> S3Location<'a> {
    pub fn parse(url: &'a str) -> Option<Self> {
        let (scheme, rest) = url.split_once("://")?;
        let https = match scheme {
            // glance_store's boto3 driver uses TLS only for `s3+https`.
            "s3" | "s3+http" => false,
            "s3+https" => true,
            _ => return None,
        };
        if rest.contains("://") {
            return None;
        }
        let entire = rest.trim_matches('/');
        // Credentials may hold `/` (AWS secret keys do); the host never holds `@`.
        let path = match entire.rsplit_once('@') {
            Some((_credentials, path)) => path,
            None => entire,
        };
        let (rest, key) = path.rsplit_once('/')?;
        let (host, bucket) = rest.rsplit_once('/')?;
        let host = host.trim_matches('/');
        (!host.is_empty() && !bucket.is_empty() && !key.is_empty()).then_some(Self {
            https,
            host,
            bucket,
            key,
        })
    }
}

/// A location URL with its credentials hidden, for logs.
pub fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, path)) => format!("{scheme}://****@{path}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message.into())
}

impl S3Store {
    pub fn open(id: &str, settings: &S3StoreSettings) -> io::Result<Self> {
        let endpoint = settings.endpoint.trim_end_matches('/');
        let (https, host) = if let Some(host) = endpoint.strip_prefix("https://") {
            (true, host)
        } else if let Some(host) = endpoint.strip_prefix("http://") {
            (false, host)
        } else {
            return Err(invalid(format!(
                "stores.{id}.endpoint must start with http:// or https://"
            )));
        };
        if settings.bucket.is_empty() || host.is_empty() {
            return Err(invalid(format!("stores.{id} needs endpoint and bucket")));
        }
        if settings.large_object_chunk_size < 5 {
            // S3's smallest part; glance_store refuses the same.
            return Err(invalid(format!(
                "stores.{id}.large_object_chunk_size must be at least 5 (MiB)"
            )));
        }
        let chunk_size = usize::try_from(settings.large_object_chunk_size.saturating_mul(MIB))
            .map_err(|_| invalid(format!("stores.{id}.large_object_chunk_size is too large")))?;
        // reqwest's rustls needs a process-wide crypto provider: ring (no C toolchain beyond
        // cc). Installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let retry = RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(30),
            ..RetryConfig::default()
        };
        let client = AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_region(&settings.region)
            .with_bucket_name(&settings.bucket)
            .with_access_key_id(&settings.access_key)
            .with_secret_access_key(&settings.secret_key)
            .with_virtual_hosted_style_request(false)
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(!https)
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(300)),
            )
            .with_retry(retry)
            .build()
            .map_err(|err| invalid(format!("stores.{id}: {err}")))?;
        let client = Arc::new(client);
        Ok(Self {
            id: id.to_string(),
            raw: Raw::new(client.clone())?,
            create_bucket_on_put: settings.create_bucket_on_put,
            bucket_ready: std::sync::atomic::AtomicBool::new(false),
            client,
            host: host.to_string(),
            scheme: if https { "s3+https" } else { "s3" },
            bucket: settings.bucket.clone(),
            access_key: settings.access_key.clone(),
            secret_key: settings.secret_key.clone(),
            large_object_size: settings.large_object_size.saturating_mul(MIB),
            chunk_size,
        })
    }

    /// The object key behind one of this store's location URLs.
    fn key_of<'u>(&self, url: &'u str) -> io::Result<&'u str> {
        match S3Location::parse(url) {
            Some(loc) if loc.host == self.host && loc.bucket == self.bucket => Ok(loc.key),
            _ => Err(invalid("not a location of this store")),
        }
    }

    /// Data smaller than this goes as one PUT.
    fn single_put_below(&self) -> usize {
        usize::try_from(self.large_object_size).map_or(self.chunk_size, |l| l.min(self.chunk_size))
    }

    /// `create_bucket_on_put`: create the bucket before the first upload if it is missing.
    async fn ensure_bucket(&self) -> io::Result<()> {
        use std::sync::atomic::Ordering;
        if !self.create_bucket_on_put || self.bucket_ready.load(Ordering::Relaxed) {
            return Ok(());
        }
        let started = Instant::now();
        let result = match self.raw.bucket_exists().await {
            Ok(true) => Ok(()),
            Ok(false) => {
                log::info!("store {}: creating bucket {}", self.id, self.bucket);
                self.raw.create_bucket().await
            }
            Err(err) => Err(err),
        };
        metrics::store_op(
            &self.id,
            "s3",
            "create_bucket",
            started.elapsed(),
            result.is_ok(),
        );
        result?;
        self.bucket_ready.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn observe<T>(
        &self,
        op: &'static str,
        started: Instant,
        result: &Result<T, object_store::Error>,
    ) {
        metrics::store_op(&self.id, "s3", op, started.elapsed(), result.is_ok());
    }
}

#[async_trait]
impl ImageStore for S3Store {
    fn kind(&self) -> &'static str {
        "s3"
    }

    fn url_for(&self, image_id: &str) -> String {
        format!(
            "{}://{}:{}@{}/{}/{}",
            self.scheme, self.access_key, self.secret_key, self.host, self.bucket, image_id
        )
    }

    fn serves(&self, url: &str) -> bool {
        self.key_of(url).is_ok()
    }

    fn place(&self) -> String {
        format!("{}://{}/{}", self.scheme, self.host, self.bucket)
    }

    async fn begin_upload(&self, image_id: &str, inspect: bool) -> io::Result<Upload> {
        self.ensure_bucket().await?;
        let sink = S3Sink {
            store_id: self.id.clone(),
            client: self.client.clone(),
            path: ObjectPath::from(image_id),
            chunk_size: self.chunk_size,
            single_put_below: self.single_put_below(),
            part: Vec::new(),
            part_len: 0,
            multipart: None,
            in_flight: tokio::task::JoinSet::new(),
            placed: false,
        };
        Ok(Upload::start(Box::new(sink), None, inspect, &self.id, "s3"))
    }

    async fn read_range(&self, url: &str, offset: u64, length: u64) -> io::Result<ByteStream> {
        let path = ObjectPath::from(self.key_of(url)?);
        if length == 0 {
            // A zero-length range is not a valid S3 range: check the object exists.
            self.size(url).await?;
            return Ok(Box::pin(futures_util::stream::empty()));
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(offset..offset.saturating_add(length))),
            ..GetOptions::default()
        };
        let started = Instant::now();
        let result = self.client.get_opts(&path, options).await;
        self.observe("get", started, &result);
        let (id, expected) = (self.id.clone(), length);
        let mut seen = 0u64;
        let stream = result?.into_stream().map(move |chunk| match chunk {
            Ok(bytes) => {
                seen += bytes.len() as u64;
                if seen > expected {
                    return Err(io::Error::other(
                        "the object is longer than the range asked",
                    ));
                }
                Ok(bytes)
            }
            Err(err) => {
                metrics::store_error(&id, "s3", "get");
                Err(io::Error::from(err))
            }
        });
        Ok(Box::pin(stream))
    }

    async fn size(&self, url: &str) -> io::Result<u64> {
        let path = ObjectPath::from(self.key_of(url)?);
        let started = Instant::now();
        let result = self.client.head(&path).await;
        self.observe("head", started, &result);
        Ok(result?.size)
    }

    async fn delete(&self, url: &str) -> io::Result<()> {
        let path = ObjectPath::from(self.key_of(url)?);
        let started = Instant::now();
        let result = self.client.delete(&path).await;
        self.observe("delete", started, &result);
        match result {
            Err(object_store::Error::NotFound { .. }) | Ok(()) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    async fn leftovers(&self) -> io::Result<Vec<Leftover>> {
        let started = Instant::now();
        let listed = self.raw.incomplete_uploads().await;
        metrics::store_op(
            &self.id,
            "s3",
            "list_multipart",
            started.elapsed(),
            listed.is_ok(),
        );
        Ok(listed?
            .into_iter()
            .map(|upload| Leftover {
                image_id: upload.key.clone(),
                name: upload.key,
                upload_id: upload.upload_id,
            })
            .collect())
    }

    async fn remove_leftover(&self, leftover: &Leftover) -> io::Result<()> {
        let upload = Incomplete {
            key: leftover.name.clone(),
            upload_id: leftover.upload_id.clone(),
        };
        let started = Instant::now();
        let result = self.raw.abort(&upload).await;
        metrics::store_op(
            &self.id,
            "s3",
            "abort_multipart",
            started.elapsed(),
            result.is_ok(),
        );
        result
    }

    fn properties(&self) -> serde_json::Value {
        // Glance's names and units (bytes) for an s3 store.
        serde_json::json!({
            "s3_store_large_object_size": self.large_object_size,
            "s3_store_large_object_chunk_size": self.chunk_size,
            "s3_store_thread_pools": PARTS_IN_FLIGHT,
        })
    }
}

/// An upload's way into S3: parts gathered from batches (shared `Bytes`, not copied).
struct S3Sink {
    store_id: String,
    client: Arc<AmazonS3>,
    path: ObjectPath,
    chunk_size: usize,
    single_put_below: usize,
    part: Vec<Bytes>,
    part_len: usize,
    multipart: Option<Box<dyn MultipartUpload>>,
    in_flight: tokio::task::JoinSet<io::Result<()>>,
    placed: bool,
}

impl S3Sink {
    /// Send the gathered part, after waiting for room on the wire.
    async fn send_part(&mut self) -> io::Result<()> {
        while self.in_flight.len() >= PARTS_IN_FLIGHT {
            self.join_one().await?;
        }
        if self.multipart.is_none() {
            let started = Instant::now();
            let created = self.client.put_multipart(&self.path).await;
            metrics::store_op(
                &self.store_id,
                "s3",
                "create_multipart",
                started.elapsed(),
                created.is_ok(),
            );
            self.multipart = Some(created?);
        }
        let payload: PutPayload = std::mem::take(&mut self.part).into_iter().collect();
        let len = std::mem::take(&mut self.part_len);
        let Some(multipart) = self.multipart.as_mut() else {
            return Err(io::Error::other("no multipart upload"));
        };
        let put = multipart.put_part(payload);
        let (store_id, parts) = (
            self.store_id.clone(),
            metrics::S3PartInFlight::start(&self.store_id),
        );
        self.in_flight.spawn(async move {
            let started = Instant::now();
            let result = put.await;
            drop(parts);
            metrics::store_op(
                &store_id,
                "s3",
                "put_part",
                started.elapsed(),
                result.is_ok(),
            );
            result.map_err(|err| {
                log::warn!("store {store_id}: a part of {len} bytes failed: {err}");
                io::Error::from(err)
            })
        });
        Ok(())
    }

    async fn join_one(&mut self) -> io::Result<()> {
        match self.in_flight.join_next().await {
            Some(Ok(result)) => result,
            Some(Err(err)) => Err(io::Error::other(format!("an S3 part upload failed: {err}"))),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl Sink for S3Sink {
    async fn write(&mut self, batch: &Bytes) -> io::Result<()> {
        self.part_len += batch.len();
        self.part.push(batch.clone());
        if self.part_len >= self.chunk_size {
            self.send_part().await?;
        }
        Ok(())
    }

    async fn place(&mut self) -> io::Result<()> {
        if self.multipart.is_none() && self.part_len < self.single_put_below {
            let payload: PutPayload = std::mem::take(&mut self.part).into_iter().collect();
            let started = Instant::now();
            let result = self.client.put(&self.path, payload).await;
            metrics::store_op(
                &self.store_id,
                "s3",
                "put",
                started.elapsed(),
                result.is_ok(),
            );
            result?;
            self.placed = true;
            return Ok(());
        }
        if self.part_len > 0 {
            self.send_part().await?;
        }
        while !self.in_flight.is_empty() {
            self.join_one().await?;
        }
        let Some(multipart) = self.multipart.as_mut() else {
            return Err(io::Error::other("no multipart upload"));
        };
        let started = Instant::now();
        let result = multipart.complete().await;
        metrics::store_op(
            &self.store_id,
            "s3",
            "complete_multipart",
            started.elapsed(),
            result.is_ok(),
        );
        result?;
        self.placed = true;
        Ok(())
    }
}

impl Drop for S3Sink {
    /// An upload that was not placed aborts its multipart upload (its parts in flight are
    /// cancelled by dropping the JoinSet): no object and no parts are left behind.
    fn drop(&mut self) {
        if self.placed {
            return;
        }
        let Some(mut multipart) = self.multipart.take() else {
            return;
        };
        self.in_flight.abort_all();
        let store_id = self.store_id.clone();
        let image = self.path.to_string();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let started = Instant::now();
                    let result = multipart.abort().await;
                    metrics::store_op(&store_id, "s3", "abort_multipart", started.elapsed(), result.is_ok());
                    if let Err(err) = result {
                        log::warn!("store {store_id}: cannot abort the multipart upload of image {image}: {err}");
                    }
                });
            }
            Err(_) => log::warn!(
                "store {store_id}: multipart upload of image {image} left behind (no runtime)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glance_store_locations_parse() {
        let loc = S3Location::parse("s3://AK:SK@127.0.0.1:3900/images/abc").expect("parse");
        assert_eq!(
            loc,
            S3Location {
                https: false,
                host: "127.0.0.1:3900",
                bucket: "images",
                key: "abc"
            }
        );
        let loc = S3Location::parse("s3+https://AK:S/K@s3.example.com/path/b/k").expect("parse");
        assert_eq!(
            (loc.https, loc.host, loc.bucket, loc.key),
            (true, "s3.example.com/path", "b", "k")
        );
        assert!(S3Location::parse("s3+http://h/b/k").is_some_and(|l| !l.https));
        assert_eq!(S3Location::parse("s3://AK:SK@https://h/b/k"), None);
        assert_eq!(S3Location::parse("s3://AK:SK@h/k"), None);
        assert_eq!(S3Location::parse("file:///x/y/z"), None);
        assert_eq!(S3Location::parse("swift://h/b/k"), None);
    }

    #[test]
    fn redaction_hides_credentials() {
        assert_eq!(redacted("s3://AK:S/K@h:1/b/k"), "s3://****@h:1/b/k");
        assert_eq!(redacted("file:///x"), "file:///x");
    }
}
