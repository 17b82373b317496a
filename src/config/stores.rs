//! `[stores.NAME]` tables (Glance's `enabled_backends` with one section per store) and
//! `store.default_backend`. Environment: `GLANCE__STORES__NAME__KEY` (the name lowercased),
//! e.g. `GLANCE__STORES__S3__ENDPOINT`; a store may be declared by environment alone
//! (`GLANCE__STORES__S3__KIND=s3`).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Settings};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum StoreBackendSettings {
    File(FileStoreSettings),
    S3(S3StoreSettings),
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileStoreSettings {
    /// Folder for image data (`filesystem_store_datadir`).
    pub path: String,
}

/// glance_store's `s3_store_*` options of one store.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct S3StoreSettings {
    /// `http://host:port` or `https://host:port` (`s3_store_host`).
    pub endpoint: String,
    /// Signing region (`s3_store_region_name`); Garage wants its `s3_region`, e.g. `garage`.
    pub region: String,
    pub bucket: String,
    pub access_key: String,
    /// Never logged (the `Debug` form hides it).
    pub secret_key: String,
    /// Create the bucket on the first upload if it does not exist.
    pub create_bucket_on_put: bool,
    /// MiB: data at least this large goes as a multipart upload (default 100, Glance's).
    pub large_object_size: u64,
    /// MiB: the part size of multipart uploads (default 10, Glance's; at least 5).
    pub large_object_chunk_size: u64,
}

impl Default for S3StoreSettings {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            region: "us-east-1".to_string(),
            bucket: String::new(),
            access_key: String::new(),
            secret_key: String::new(),
            create_bucket_on_put: false,
            large_object_size: 100,
            large_object_chunk_size: 10,
        }
    }
}

impl fmt::Debug for S3StoreSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3StoreSettings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("access_key", &self.access_key)
            .field(
                "secret_key",
                &if self.secret_key.is_empty() {
                    ""
                } else {
                    "****"
                },
            )
            .field("create_bucket_on_put", &self.create_bucket_on_put)
            .field("large_object_size", &self.large_object_size)
            .field("large_object_chunk_size", &self.large_object_chunk_size)
            .finish()
    }
}

/// `GLANCE__STORES__NAME__KEY=value` (`rest` is `NAME__KEY`).
pub(super) fn apply_env(
    merged: &mut toml::Value,
    name: &str,
    rest: &str,
    raw: &str,
) -> Result<(), ConfigError> {
    let bad = |message: String| ConfigError::Env {
        key: name.to_string(),
        message,
    };
    let Some((store, key)) = rest.split_once("__") else {
        return Err(bad("expected GLANCE__STORES__NAME__KEY".into()));
    };
    let (store, key) = (store.to_lowercase(), key.to_lowercase());
    let value = match key.as_str() {
        "large_object_size" | "large_object_chunk_size" => toml::Value::Integer(
            raw.trim()
                .parse()
                .map_err(|_| bad(format!("expected an integer, got {raw:?}")))?,
        ),
        "create_bucket_on_put" => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => toml::Value::Boolean(true),
            "false" | "0" | "no" | "off" => toml::Value::Boolean(false),
            _ => return Err(bad(format!("expected true or false, got {raw:?}"))),
        },
        "kind" | "path" | "endpoint" | "region" | "bucket" | "access_key" | "secret_key" => {
            toml::Value::String(raw.to_string())
        }
        _ => return Err(bad(format!("unknown setting stores.{store}.{key}"))),
    };
    let Some(root) = merged.as_table_mut() else {
        return Err(bad("settings are not a table".into()));
    };
    let stores = root
        .entry("stores")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let Some(stores) = stores.as_table_mut() else {
        return Err(bad("stores is not a table".into()));
    };
    let table = stores
        .entry(store.clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let Some(table) = table.as_table_mut() else {
        return Err(bad(format!("stores.{store} is not a table")));
    };
    table.insert(key, value);
    Ok(())
}

pub(super) fn validate(settings: &Settings) -> Result<(), ConfigError> {
    let default = &settings.store.default_backend;
    if settings.stores.is_empty() {
        if !default.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "store.default_backend = \"{default}\" names no [stores.{default}] table"
            )));
        }
        return Ok(());
    }
    if default.is_empty() {
        return Err(ConfigError::Invalid(
            "[stores.NAME] tables need store.default_backend".into(),
        ));
    }
    if !settings.stores.contains_key(default) {
        return Err(ConfigError::Invalid(format!(
            "store.default_backend = \"{default}\" is not one of the [stores] tables"
        )));
    }
    for (name, store) in &settings.stores {
        if name.starts_with("os_glance_") || name.is_empty() || name.contains(',') {
            return Err(ConfigError::Invalid(format!(
                "store name \"{name}\" is reserved or invalid"
            )));
        }
        if let StoreBackendSettings::S3(s3) = store {
            if s3.endpoint.is_empty() || s3.bucket.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "stores.{name} (s3) needs endpoint and bucket"
                )));
            }
            if s3.large_object_chunk_size < 5 {
                return Err(ConfigError::Invalid(format!(
                    "stores.{name}.large_object_chunk_size must be at least 5 (MiB)"
                )));
            }
        }
    }
    Ok(())
}
