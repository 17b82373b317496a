//! Settings: defaults, then a TOML file (`--config PATH` or `GLANCE_CONFIG`), then environment
//! variables `GLANCE__SECTION__KEY` (double underscores). Validated after loading.
//! `config/*.example.toml` mirror the defaults; a test fails when they drift.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod auth;
mod import;
pub use auth::{AuthMode, AuthSettings, KeystoneAuthtokenSettings};
pub use import::{
    ImageConversionSettings, ImportFilteringSettings, ImportSettings, IMAGE_CONVERSION,
    IMPLEMENTED_METHODS,
};
mod stores;
pub use stores::{FileStoreSettings, S3StoreSettings, StoreBackendSettings};

/// The data-access modes. Every mode exists in every build, so configuration can tell a mode
/// that is unknown from one that this build did not compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Mode {
    #[serde(rename = "direct-sqlite")]
    DirectSqlite,
    #[serde(rename = "direct-postgres")]
    DirectPostgres,
    #[serde(rename = "registry-proxy")]
    RegistryProxy,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DirectSqlite => "direct-sqlite",
            Self::DirectPostgres => "direct-postgres",
            Self::RegistryProxy => "registry-proxy",
        }
    }

    /// The Cargo feature that compiles this mode (named after the mode).
    pub fn feature(self) -> &'static str {
        self.as_str()
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid value for {key}: {message}")]
    Env { key: String, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error(
        "data_access.mode = \"{mode}\" is not compiled into this build; rebuild with \
         `cargo build --features {feature}`"
    )]
    ModeNotCompiled { mode: Mode, feature: &'static str },
}

/// Which program the settings are for; each has its own defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Api,
    Registry,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub data_access: DataAccessSettings,
    pub database: DatabaseSettings,
    pub store: StoreSettings,
    /// Glance's `enabled_backends`: one named store per table (`[stores.NAME]`, `kind` =
    /// `file` or `s3`). Empty: `store.path` is the one filesystem store.
    #[serde(default)]
    pub stores: std::collections::BTreeMap<String, StoreBackendSettings>,
    pub auth: AuthSettings,
    /// `auth.mode = "keystone"`: keystonemiddleware's `[keystone_authtoken]` options.
    pub keystone_authtoken: KeystoneAuthtokenSettings,
    pub limits: Limits,
    pub registry: RegistrySettings,
    pub metrics: MetricsSettings,
    pub image_format: ImageFormatSettings,
    /// Interoperable import: methods and the staging folder.
    pub import: ImportSettings,
    /// web-download's URL filters (Glance's `[import_filtering_opts]`).
    pub import_filtering: ImportFilteringSettings,
    /// The `image_conversion` import plugin (`import.plugins`).
    pub image_conversion: ImageConversionSettings,
}

/// Glance's `[image_format]` options (names and defaults of `glance/common/config.py`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ImageFormatSettings {
    /// Refuse uploads whose content does not match their `disk_format` (415).
    pub require_image_format_match: bool,
    /// The `disk_format` values `POST /v2/images` accepts.
    pub disk_formats: Vec<String>,
    /// VMDK create-types an upload may have (Glance checks this only when converting;
    /// we check it on upload too).
    pub vmdk_allowed_types: Vec<String>,
    /// GPT/MBR safety checks (`mbr`) that only warn for images detected as gpt.
    pub gpt_safety_checks_nonfatal: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to listen on.
    pub bind: String,
    /// HTTP worker threads; 0 = one per core.
    pub workers: usize,
    /// Base URL for absolute links (`Location`, versions); empty = taken from the request.
    pub public_endpoint: String,
    /// Largest JSON request body in bytes; larger → 413 without reading it all.
    pub max_request_body: usize,
    /// Connections the kernel may hold for the listener before they are accepted (the
    /// `listen()` backlog; Linux caps it at `net.core.somaxconn`). Thousands of clients
    /// connecting at once overflow a short queue, and each dropped connection waits a second
    /// or more for its retry.
    pub backlog: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataAccessSettings {
    pub mode: Mode,
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Glance's `[database] connection` forms: `sqlite:///relative.db`, `sqlite:////abs.db`,
    /// `postgresql://…`, `postgresql+psycopg2://…`. Empty = `sqlite:///var/glance.db` in
    /// direct-sqlite mode; must stay empty in registry-proxy mode.
    pub url: String,
    pub pool_size: usize,
    /// Seconds to wait for a pooled connection before answering 503.
    pub pool_timeout: f64,
    /// Apply migrations at start (SQLite default). PostgreSQL needs `glance-api db-sync`.
    pub auto_migrate: bool,
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url(&self.url))
            .field("pool_size", &self.pool_size)
            .field("pool_timeout", &self.pool_timeout)
            .field("auto_migrate", &self.auto_migrate)
            .finish()
    }
}

/// Hide the password of a database URL (`postgresql://user:****@host/db`).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            if userinfo.contains(':') {
                format!("{scheme}://{user}:****@{host}")
            } else {
                url.to_string()
            }
        }
        None => url.to_string(),
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// Folder for image data (Glance's filesystem store `filesystem_store_datadir`).
    pub path: String,
    /// An image `saving` for longer than this without its uploader touching it is reset to
    /// `queued` by any node (see `recovery`); uploaders touch it every quarter of this.
    pub stale_upload_seconds: u64,
    /// With `[stores.NAME]` tables: the store uploads go to unless `X-Image-Meta-Store` says
    /// otherwise (Glance's `[glance_store] default_backend`).
    pub default_backend: String,
}

/// Glance's option names and defaults (`glance/common/config.py`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub image_size_cap: u64,
    pub limit_param_default: u32,
    pub api_limit_max: u32,
    pub image_property_quota: i64,
    pub image_tag_quota: i64,
    pub image_member_quota: i64,
    pub image_location_quota: i64,
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RegistrySettings {
    /// Where glance-registry listens (registry-proxy mode).
    pub url: String,
    /// Shared secret between glance-api and glance-registry. Never logged.
    pub token: String,
    /// Seconds before a registry call gives up (→ 503).
    pub timeout: f64,
    /// Keep-alive connections kept per registry host.
    pub pool_size: usize,
}

impl fmt::Debug for RegistrySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrySettings")
            .field("url", &self.url)
            .field("token", &if self.token.is_empty() { "" } else { "****" })
            .field("timeout", &self.timeout)
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Serve `/metrics` on the main listener too.
    pub enabled: bool,
    /// Optional separate listener for `/metrics` (e.g. `127.0.0.1:9293`); empty = none.
    pub bind: String,
}

impl Settings {
    pub fn defaults(service: Service) -> Self {
        Self {
            server: ServerSettings {
                bind: match service {
                    Service::Api => "127.0.0.1:9292",
                    Service::Registry => "127.0.0.1:9191",
                }
                .to_string(),
                workers: 0,
                public_endpoint: String::new(),
                max_request_body: 1024 * 1024,
                backlog: 2048,
            },
            data_access: DataAccessSettings {
                mode: Mode::DirectSqlite,
            },
            database: DatabaseSettings {
                url: String::new(),
                pool_size: 16,
                pool_timeout: 5.0,
                auto_migrate: true,
            },
            store: StoreSettings {
                path: "var/images".to_string(),
                stale_upload_seconds: 3600,
                default_backend: String::new(),
            },
            stores: std::collections::BTreeMap::new(),
            auth: AuthSettings {
                mode: AuthMode::Noauth,
                tokens_file: String::new(),
            },
            keystone_authtoken: KeystoneAuthtokenSettings {
                auth_url: String::new(),
                www_authenticate_uri: String::new(),
                username: String::new(),
                password: String::new(),
                project_name: String::new(),
                user_domain_name: "Default".to_string(),
                project_domain_name: "Default".to_string(),
                token_cache_time: 300,
                timeout: 5.0,
                service_token_roles: vec!["service".to_string()],
                service_token_roles_required: false,
            },
            limits: Limits {
                image_size_cap: 1_099_511_627_776,
                limit_param_default: 25,
                api_limit_max: 1000,
                image_property_quota: 128,
                image_tag_quota: 128,
                image_member_quota: 128,
                image_location_quota: 10,
            },
            registry: RegistrySettings {
                url: "http://127.0.0.1:9191".to_string(),
                token: String::new(),
                timeout: 30.0,
                pool_size: 32,
            },
            metrics: MetricsSettings {
                enabled: true,
                bind: String::new(),
            },
            image_format: ImageFormatSettings {
                require_image_format_match: true,
                disk_formats: [
                    "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso",
                    "ploop",
                ]
                .map(String::from)
                .to_vec(),
                vmdk_allowed_types: vec!["streamOptimized".into(), "monolithicSparse".into()],
                gpt_safety_checks_nonfatal: Vec::new(),
            },
            import: ImportSettings::defaults(),
            import_filtering: ImportFilteringSettings::defaults(),
            image_conversion: ImageConversionSettings::defaults(),
        }
    }

    /// Defaults, then the file (if any), then `GLANCE__…` variables from `env`.
    pub fn load(
        service: Service,
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut merged = toml::Value::try_from(Self::defaults(service))
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            let from_file: toml::Value = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
            merge(&mut merged, from_file);
        }
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("GLANCE__") else {
                continue;
            };
            let Some((section, key)) = rest.split_once("__") else {
                continue;
            };
            if section.eq_ignore_ascii_case("stores") {
                stores::apply_env(&mut merged, &name, key, &value)?;
                continue;
            }
            apply_env(
                &mut merged,
                &name,
                &section.to_lowercase(),
                &key.to_lowercase(),
                &value,
            )?;
        }
        let settings: Settings = merged
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.message().to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Load from the process: `--config PATH` (or `GLANCE_CONFIG`) and the environment.
    pub fn from_process(
        service: Service,
        config_path: Option<PathBuf>,
    ) -> Result<Self, ConfigError> {
        let path = config_path.or_else(|| std::env::var_os("GLANCE_CONFIG").map(PathBuf::from));
        Self::load(service, path.as_deref(), std::env::vars())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.limits.api_limit_max == 0 {
            return Err(ConfigError::Invalid(
                "limits.api_limit_max must be > 0".into(),
            ));
        }
        if self.database.pool_size == 0 {
            return Err(ConfigError::Invalid(
                "database.pool_size must be > 0".into(),
            ));
        }
        if !(self.database.pool_timeout > 0.0 && self.registry.timeout > 0.0) {
            return Err(ConfigError::Invalid(
                "database.pool_timeout and registry.timeout must be > 0".into(),
            ));
        }
        stores::validate(self)?;
        if self.image_format.disk_formats.is_empty() {
            return Err(ConfigError::Invalid(
                "image_format.disk_formats must name at least one format".into(),
            ));
        }
        import::validate(&self.import, &self.image_conversion).map_err(ConfigError::Invalid)?;
        if self.auth.mode == AuthMode::StaticTokens && self.auth.tokens_file.trim().is_empty() {
            return Err(ConfigError::Invalid(
                "auth.mode = \"static-tokens\" needs auth.tokens_file".into(),
            ));
        }
        if self.auth.mode == AuthMode::Keystone {
            let ks = &self.keystone_authtoken;
            if ks.auth_url.trim().is_empty() || ks.username.is_empty() || ks.password.is_empty() {
                return Err(ConfigError::Invalid(
                    "auth.mode = \"keystone\" needs keystone_authtoken.auth_url, username and \
                     password"
                        .into(),
                ));
            }
            if !ks.auth_url.starts_with("http://") {
                return Err(ConfigError::Invalid(
                    "keystone_authtoken.auth_url must be an http:// URL (https is not built in; \
                     see docs/compatibility.md)"
                        .into(),
                ));
            }
            if ks.timeout.is_nan() || ks.timeout <= 0.0 {
                return Err(ConfigError::Invalid(
                    "keystone_authtoken.timeout must be > 0".into(),
                ));
            }
        }
        Ok(())
    }

    /// The database URL with the direct-sqlite default filled in.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            "sqlite:///var/glance.db".to_string()
        } else {
            self.database.url.clone()
        }
    }
}

fn merge(base: &mut toml::Value, overlay: toml::Value) {
    match (base, overlay) {
        (toml::Value::Table(base), toml::Value::Table(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

/// Set `section.key` from an environment string, typed like the default it replaces.
fn apply_env(
    merged: &mut toml::Value,
    name: &str,
    section: &str,
    key: &str,
    raw: &str,
) -> Result<(), ConfigError> {
    let unknown = || ConfigError::Env {
        key: name.to_string(),
        message: format!("unknown setting {section}.{key}"),
    };
    let table = merged
        .get_mut(section)
        .and_then(toml::Value::as_table_mut)
        .ok_or_else(unknown)?;
    let current = table.get(key).ok_or_else(unknown)?;
    let bad = |what: &str| ConfigError::Env {
        key: name.to_string(),
        message: format!("expected {what}, got {raw:?}"),
    };
    let value = match current {
        toml::Value::Integer(_) => {
            toml::Value::Integer(raw.trim().parse().map_err(|_| bad("an integer"))?)
        }
        toml::Value::Float(_) => {
            toml::Value::Float(raw.trim().parse().map_err(|_| bad("a number"))?)
        }
        toml::Value::Boolean(_) => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => toml::Value::Boolean(true),
            "false" | "0" | "no" | "off" => toml::Value::Boolean(false),
            _ => return Err(bad("true or false")),
        },
        // Lists as oslo.config writes them: comma-separated.
        toml::Value::Array(_) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| toml::Value::String(item.to_string()))
                .collect(),
        ),
        _ => toml::Value::String(raw.to_string()),
    };
    table.insert(key.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests;
