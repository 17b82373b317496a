//! The image store seam: `ImageStore` is what handlers and recovery need of a store, with one
//! module per kind (`file`, `s3`); `Stores` holds the configured stores by id, Glance's
//! multi-store (`enabled_backends`, `default_backend`), or the one filesystem store of the
//! single-store configuration.

pub mod digest;
pub mod file;
pub mod ingest;
pub mod inspect;
pub mod s3;
mod s3_raw;
mod upload;

use std::io;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;

use crate::config::{Settings, StoreBackendSettings};
pub use file::FileStore;
pub use s3::S3Store;
pub use upload::{Upload, Written};

/// An image's data on its way out, in bounded chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

#[async_trait]
pub trait ImageStore: Send + Sync {
    /// Glance's store type: `file` or `s3`.
    fn kind(&self) -> &'static str;

    /// The location URL this store records for an image it holds.
    fn url_for(&self, image_id: &str) -> String;

    /// Whether `url` is a location of this store.
    fn serves(&self, url: &str) -> bool;

    /// Where the store keeps data, for log lines (no secrets): a path, or a bucket.
    fn place(&self) -> String;

    /// Start writing an image's data, inspecting its content on the way if `inspect` (see
    /// `inspect`). Dropping the upload before it is placed leaves nothing behind.
    async fn begin_upload(&self, image_id: &str, inspect: bool) -> io::Result<Upload>;

    /// `length` bytes of the data at `url` from `offset`.
    async fn read_range(&self, url: &str, offset: u64, length: u64) -> io::Result<ByteStream>;

    /// The size of the data at `url`.
    async fn size(&self, url: &str) -> io::Result<u64>;

    /// Remove the data at `url`; absent data is not an error.
    async fn delete(&self, url: &str) -> io::Result<()>;

    /// What `GET /v2/info/stores/detail` shows of this store (Glance's names).
    fn properties(&self) -> serde_json::Value;

    /// What interrupted uploads left behind (`.part` files, incomplete multipart uploads);
    /// recovery removes those whose image is no longer `saving`.
    async fn leftovers(&self) -> io::Result<Vec<Leftover>>;

    async fn remove_leftover(&self, leftover: &Leftover) -> io::Result<()>;
}

/// Data an interrupted upload left behind, and the image it was for.
#[derive(Clone, Debug, PartialEq)]
pub struct Leftover {
    pub image_id: String,
    /// The temporary file, or the object key.
    pub name: String,
    /// The multipart upload (S3).
    pub upload_id: String,
}

/// One configured store.
pub struct Entry {
    pub id: String,
    pub store: Arc<dyn ImageStore>,
}

/// The configured stores, the default first.
pub struct Stores {
    entries: Vec<Entry>,
    multi: bool,
}

/// Glance's store id for the single filesystem store.
const SINGLE_STORE_ID: &str = "file";

/// Glance's id for the staging area (`os_glance_staging_store`), used in metrics labels.
pub const STAGING_STORE_ID: &str = "os_glance_staging_store";

impl Stores {
    /// `[stores.NAME]` tables (multi-store), or `store.path` alone.
    pub fn open(settings: &Settings) -> io::Result<Self> {
        if settings.stores.is_empty() {
            let store = FileStore::open(SINGLE_STORE_ID, &settings.store.path)?;
            return Ok(Self::single(Arc::new(store)));
        }
        let mut entries = Vec::new();
        for (id, backend) in &settings.stores {
            let store: Arc<dyn ImageStore> = match backend {
                StoreBackendSettings::File(file) => Arc::new(FileStore::open(id, &file.path)?),
                StoreBackendSettings::S3(s3) => Arc::new(S3Store::open(id, s3)?),
            };
            log::info!("store {id}: {} ({})", store.kind(), describe(backend));
            crate::metrics::register_store(id, store.kind());
            let entry = Entry {
                id: id.clone(),
                store,
            };
            if *id == settings.store.default_backend {
                entries.insert(0, entry);
            } else {
                entries.push(entry);
            }
        }
        Ok(Self {
            entries,
            multi: true,
        })
    }

    /// One store, as the single-store configuration has.
    pub fn single(store: Arc<dyn ImageStore>) -> Self {
        crate::metrics::register_store(SINGLE_STORE_ID, store.kind());
        Self {
            entries: vec![Entry {
                id: SINGLE_STORE_ID.to_string(),
                store,
            }],
            multi: false,
        }
    }

    /// Whether stores are named (`enabled_backends`): then the API shows them.
    pub fn multi(&self) -> bool {
        self.multi
    }

    pub fn default_entry(&self) -> &Entry {
        // `open` and `single` never build an empty list.
        &self.entries[0]
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// The store that holds a location: the one its metadata names, else any that serves
    /// its URL (a location written by Glance, or by the single-store configuration).
    pub fn for_location(
        &self,
        url: &str,
        metadata: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<&Entry> {
        let named = metadata
            .get("store")
            .and_then(|v| v.as_str())
            .and_then(|id| self.get(id))
            .filter(|e| e.store.serves(url));
        named.or_else(|| self.entries.iter().find(|e| e.store.serves(url)))
    }

    /// Every store and where it keeps data, for log lines.
    pub fn describe_all(&self) -> String {
        let places: Vec<String> = self
            .entries
            .iter()
            .map(|e| format!("{}: {} {}", e.id, e.store.kind(), e.store.place()))
            .collect();
        places.join(", ")
    }

    /// The metadata a new location in store `id` gets (Glance's `{"store": id}` in
    /// multi-store).
    pub fn location_metadata(&self, id: &str) -> serde_json::Map<String, serde_json::Value> {
        let mut metadata = serde_json::Map::new();
        if self.multi {
            metadata.insert("store".into(), serde_json::Value::String(id.to_string()));
        }
        metadata
    }
}

/// A store's settings for the log, without its secrets.
fn describe(backend: &StoreBackendSettings) -> String {
    match backend {
        StoreBackendSettings::File(file) => format!("path {}", file.path),
        StoreBackendSettings::S3(s3) => format!(
            "endpoint {}, region {}, bucket {}",
            s3.endpoint, s3.region, s3.bucket
        ),
    }
}

/// A location URL fit for a log line (S3 URLs carry credentials).
pub fn loggable(url: &str) -> String {
    s3::redacted(url)
}
