//! The real S3 server (Garage) that `tests/s3/lib.sh` starts once per CI run (scripts/test.sh):
//! where it is (`GLANCE_TEST_S3_*`), and `GLANCE_TEST_STORE`, which puts the API tests' image
//! data on it.

use futures_util::StreamExt;
use glance_rs::config::{FileStoreSettings, S3StoreSettings, Settings, StoreBackendSettings};
use glance_rs::store::{ImageStore, S3Store};
use object_store::ObjectStore;

/// Garage's S3 settings from `GLANCE_TEST_S3_*`. Without them the test fails (an S3 test that
/// passes without S3 would prove nothing), unless `GLANCE_TEST_S3=skip` says on purpose to
/// leave the S3 tests out: then `None`, and the test says so and returns.
pub fn settings() -> Option<S3StoreSettings> {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let endpoint = var("GLANCE_TEST_S3_ENDPOINT");
    if endpoint.is_empty() {
        if var("GLANCE_TEST_S3") == "skip" {
            eprintln!("skipped on purpose (GLANCE_TEST_S3=skip): no S3 test ran");
            return None;
        }
        panic!(
            "GLANCE_TEST_S3_ENDPOINT is not set: run scripts/test.sh (it starts a real Garage \
             with tests/s3/lib.sh), start one yourself (`source tests/s3/lib.sh; s3_up`), or \
             set GLANCE_TEST_S3=skip to leave these tests out"
        );
    }
    Some(S3StoreSettings {
        endpoint,
        region: var("GLANCE_TEST_S3_REGION"),
        bucket: var("GLANCE_TEST_S3_BUCKET"),
        access_key: var("GLANCE_TEST_S3_ACCESS_KEY"),
        secret_key: var("GLANCE_TEST_S3_SECRET_KEY"),
        // The smallest part S3 allows, so a few MiB already make a multipart upload.
        large_object_size: 5,
        large_object_chunk_size: 5,
        ..S3StoreSettings::default()
    })
}

/// Fresh random bytes (Garage deduplicates blocks: patterns would flatter it).
pub fn random(len: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(len);
    while data.len() < len {
        data.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    data.truncate(len);
    data
}

/// Where the API tests keep image data (`GLANCE_TEST_STORE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestStore {
    /// `store.path` alone, the single-store configuration (the default).
    File,
    /// One S3 store `s3`, the default (`[stores.s3]`).
    S3,
    /// Two stores: `file` (the default) and `s3`.
    FileAndS3,
}

pub fn test_store() -> TestStore {
    match std::env::var("GLANCE_TEST_STORE").as_deref() {
        Err(_) | Ok("" | "file") => TestStore::File,
        Ok("s3") => TestStore::S3,
        Ok("file+s3") => TestStore::FileAndS3,
        Ok(other) => panic!("GLANCE_TEST_STORE={other:?} is not one of file, s3, file+s3"),
    }
}

/// Configure the test server's stores as `GLANCE_TEST_STORE` asks; `store.path` stays the
/// filesystem store's folder.
pub fn apply_test_store(settings: &mut Settings) {
    let s3 = match test_store() {
        TestStore::File => return,
        TestStore::S3 | TestStore::FileAndS3 => match self::settings() {
            Some(s3) => s3,
            None => panic!("GLANCE_TEST_STORE asks for S3 but GLANCE_TEST_S3=skip"),
        },
    };
    let s3 = S3StoreSettings {
        // A bucket of its own per server, so a test sees only its own objects.
        bucket: format!("glance-{}", uuid::Uuid::new_v4().simple()),
        create_bucket_on_put: true,
        ..s3
    };
    with_s3(settings, s3, test_store() == TestStore::S3);
}

/// Two stores, `file` (at `store.path`) and `s3`, the default being `s3` if `s3_default`.
pub fn with_s3(settings: &mut Settings, s3: S3StoreSettings, s3_default: bool) {
    settings.stores.insert(
        "file".into(),
        StoreBackendSettings::File(FileStoreSettings {
            path: settings.store.path.clone(),
        }),
    );
    settings
        .stores
        .insert("s3".into(), StoreBackendSettings::S3(s3));
    settings.store.default_backend = if s3_default { "s3" } else { "file" }.into();
    if s3_default {
        // S3 alone: the API tests see one store, as a deployment with only S3 would.
        settings.stores.remove("file");
    }
}

/// ListMultipartUploads of the test bucket, as Garage answers it (its keys are image ids).
pub async fn incomplete_upload_keys() -> Vec<String> {
    let Some(settings) = settings() else {
        return Vec::new();
    };
    let store = glance_rs::store::S3Store::open("s3", &settings).expect("S3 store opens");
    use glance_rs::store::ImageStore;
    store
        .leftovers()
        .await
        .expect("ListMultipartUploads")
        .into_iter()
        .map(|l| l.image_id)
        .collect()
}

/// `GLANCE_TEST_STORE` as `GLANCE__…` variables, for a glance-api process (its filesystem store
/// is `images` in its working folder).
pub fn test_store_env() -> Vec<(&'static str, String)> {
    let store = test_store();
    if store == TestStore::File {
        return Vec::new();
    }
    let Some(s3) = settings() else {
        panic!("GLANCE_TEST_STORE asks for S3 but GLANCE_TEST_S3=skip");
    };
    let mut env = vec![
        ("GLANCE__STORES__S3__KIND", "s3".to_string()),
        ("GLANCE__STORES__S3__ENDPOINT", s3.endpoint),
        ("GLANCE__STORES__S3__REGION", s3.region),
        ("GLANCE__STORES__S3__BUCKET", s3.bucket),
        ("GLANCE__STORES__S3__ACCESS_KEY", s3.access_key),
        ("GLANCE__STORES__S3__SECRET_KEY", s3.secret_key),
        (
            "GLANCE__STORES__S3__LARGE_OBJECT_SIZE",
            s3.large_object_size.to_string(),
        ),
        (
            "GLANCE__STORES__S3__LARGE_OBJECT_CHUNK_SIZE",
            s3.large_object_chunk_size.to_string(),
        ),
    ];
    if store == TestStore::FileAndS3 {
        env.push(("GLANCE__STORES__FILE__KIND", "file".to_string()));
        env.push(("GLANCE__STORES__FILE__PATH", "images".to_string()));
        env.push(("GLANCE__STORE__DEFAULT_BACKEND", "file".to_string()));
    } else {
        env.push(("GLANCE__STORE__DEFAULT_BACKEND", "s3".to_string()));
    }
    env
}

/// Whether any configured store holds data for image `id` (at the location it would write).
pub async fn data_exists(settings: &Settings, id: &str) -> bool {
    let stores = glance_rs::store::Stores::open(settings).expect("stores open");
    for entry in stores.entries() {
        if entry.store.size(&entry.store.url_for(id)).await.is_ok() {
            return true;
        }
    }
    false
}

/// The default store's S3 settings, if it is an S3 store.
fn default_s3(settings: &Settings) -> Option<&S3StoreSettings> {
    match settings.stores.get(&settings.store.default_backend) {
        Some(StoreBackendSettings::S3(s3)) => Some(s3),
        _ => None,
    }
}

/// What the server's default store holds: the names in its folder (temporary `.part` files
/// included), or on S3 the object keys of its bucket and `.{key}.{upload_id}.part` for each
/// multipart upload under way. Blocking (it runs on a thread of its own), so tests can poll
/// it from sync closures.
pub fn stored_names(settings: &Settings) -> Vec<String> {
    let Some(s3) = default_s3(settings) else {
        let dir = match settings.stores.get(&settings.store.default_backend) {
            Some(StoreBackendSettings::File(file)) => file.path.clone(),
            _ => settings.store.path.clone(),
        };
        return match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .map(|e| {
                    e.expect("dir entry")
                        .file_name()
                        .to_string_lossy()
                        .into_owned()
                })
                .collect(),
            Err(_) => Vec::new(),
        };
    };
    let s3 = s3.clone();
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(s3_names(s3))
            })
            .join()
            .expect("listing thread")
    })
}

/// A plain `object_store` client on the bucket of `s3`, beside the store (as another program
/// would be).
pub fn bare_client(s3: &S3StoreSettings) -> object_store::aws::AmazonS3 {
    // Opening a store installs the process's TLS provider, which the client needs too.
    S3Store::open("s3", s3).expect("S3 store opens");
    object_store::aws::AmazonS3Builder::new()
        .with_endpoint(&s3.endpoint)
        .with_region(&s3.region)
        .with_bucket_name(&s3.bucket)
        .with_access_key_id(&s3.access_key)
        .with_secret_access_key(&s3.secret_key)
        .with_allow_http(true)
        .build()
        .expect("S3 client")
}

async fn s3_names(s3: S3StoreSettings) -> Vec<String> {
    let client = bare_client(&s3);
    let mut names = Vec::new();
    let mut listed = client.list(None);
    while let Some(meta) = listed.next().await {
        match meta {
            Ok(meta) => names.push(meta.location.to_string()),
            // The bucket is created by the first upload.
            Err(err) if err.to_string().contains("NoSuchBucket") => return names,
            Err(err) => panic!("listing the bucket: {err}"),
        }
    }
    let store = S3Store::open("s3", &s3).expect("S3 store opens");
    for upload in store.leftovers().await.expect("ListMultipartUploads") {
        names.push(format!(".{}.{}.part", upload.image_id, upload.upload_id));
    }
    names
}

/// The location URL the default store gives image `id`.
pub fn default_url(settings: &Settings, id: &str) -> String {
    let stores = glance_rs::store::Stores::open(settings).expect("stores open");
    stores.default_entry().store.url_for(id)
}

/// The data the default store holds for image `id`.
pub async fn stored_data(settings: &Settings, id: &str) -> Vec<u8> {
    let stores = glance_rs::store::Stores::open(settings).expect("stores open");
    let store = &stores.default_entry().store;
    let url = store.url_for(id);
    let size = store.size(&url).await.expect("stored data");
    let mut stream = store.read_range(&url, 0, size).await.expect("read");
    let mut data = Vec::new();
    while let Some(chunk) = stream.next().await {
        data.extend_from_slice(&chunk.expect("chunk"));
    }
    data
}

/// What store `store` (by id) of a server with `settings` holds for image `id`; `None`:
/// nothing.
pub async fn held(settings: &Settings, store: &str, id: &str) -> Option<Vec<u8>> {
    let stores = glance_rs::store::Stores::open(settings).expect("stores open");
    let store = &stores.get(store).expect("store configured").store;
    let url = store.url_for(id);
    let size = store.size(&url).await.ok()?;
    let mut stream = store.read_range(&url, 0, size).await.ok()?;
    let mut data = Vec::new();
    while let Some(chunk) = stream.next().await {
        data.extend_from_slice(&chunk.expect("chunk"));
    }
    Some(data)
}
