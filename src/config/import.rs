//! Interoperable import: `[import]` (Glance's `enabled_import_methods` and `node_staging_uri`)
//! and `[import_filtering]` (Glance's `[import_filtering_opts]`, which web-download obeys).

use serde::{Deserialize, Deserializer, Serialize};

/// The import methods Glance knows; `enabled_methods` may name only these.
pub const KNOWN_METHODS: [&str; 4] = [
    "glance-direct",
    "web-download",
    "copy-image",
    "glance-download",
];

/// The methods this build carries out. Others may be configured (glance-download) but are
/// neither advertised nor accepted (docs/compatibility.md).
pub const IMPLEMENTED_METHODS: [&str; 3] = ["glance-direct", "web-download", "copy-image"];

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ImportSettings {
    /// Glance's `enabled_import_methods`.
    pub enabled_methods: Vec<String>,
    /// Where `PUT /stage` keeps data until its import (Glance's `node_staging_uri`). Nodes
    /// behind one endpoint share it (a shared filesystem), so an import may reach any node.
    pub staging_path: String,
    /// Glance's `[image_import_opts] image_import_plugins`: `image_conversion` or none.
    pub plugins: Vec<String>,
}

impl ImportSettings {
    pub fn defaults() -> Self {
        Self {
            enabled_methods: ["glance-direct", "web-download", "copy-image"]
                .map(String::from)
                .to_vec(),
            staging_path: "var/staging".to_string(),
            plugins: Vec::new(),
        }
    }

    /// `image_conversion` is in `plugins`.
    pub fn converts(&self) -> bool {
        self.plugins.iter().any(|p| p == IMAGE_CONVERSION)
    }

    /// The enabled methods this build carries out, in the configured order: what
    /// `/v2/info/import` and `OpenStack-image-import-methods` advertise.
    pub fn available_methods(&self) -> Vec<&str> {
        self.enabled_methods
            .iter()
            .map(String::as_str)
            .filter(|m| IMPLEMENTED_METHODS.contains(m))
            .collect()
    }

    pub fn is_available(&self, method: &str) -> bool {
        self.available_methods().contains(&method)
    }
}

/// The one import plugin this build has (Glance's most used one).
pub const IMAGE_CONVERSION: &str = "image_conversion";

/// Glance's `[image_conversion]`, and the bounds of the `qemu-img` runs it makes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ImageConversionSettings {
    /// The format imported data is converted to: `raw` (Glance's default), `qcow2` or `vmdk`.
    pub output_format: String,
    /// The `qemu-img` program (Debian's qemu-utils).
    pub qemu_img: String,
    /// Wall-clock and CPU-time limit of one `qemu-img convert`, in seconds; `qemu-img info` has
    /// Glance's 30 CPU seconds.
    pub timeout_seconds: u64,
    /// Address-space limit of every `qemu-img` run, in MiB (Glance's `qemu-img info` limit is
    /// 1 GiB).
    pub memory_mb: u64,
}

/// Glance's `output_format` choices.
pub const OUTPUT_FORMATS: [&str; 3] = ["raw", "qcow2", "vmdk"];

impl ImageConversionSettings {
    pub fn defaults() -> Self {
        Self {
            output_format: "raw".into(),
            qemu_img: "qemu-img".into(),
            timeout_seconds: 600,
            memory_mb: 1024,
        }
    }
}

/// Glance's `[import_filtering_opts]` (names and defaults of
/// `glance/async_/flows/_internal_plugins/__init__.py`). Where an allowed list is set, its
/// disallowed twin is ignored, as in Glance.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ImportFilteringSettings {
    pub allowed_schemes: Vec<String>,
    pub disallowed_schemes: Vec<String>,
    pub allowed_hosts: Vec<String>,
    pub disallowed_hosts: Vec<String>,
    #[serde(deserialize_with = "ports")]
    pub allowed_ports: Vec<u16>,
    #[serde(deserialize_with = "ports")]
    pub disallowed_ports: Vec<u16>,
}

impl ImportFilteringSettings {
    pub fn defaults() -> Self {
        Self {
            allowed_schemes: vec!["http".into(), "https".into()],
            disallowed_schemes: Vec::new(),
            allowed_hosts: Vec::new(),
            disallowed_hosts: Vec::new(),
            allowed_ports: vec![80, 443],
            disallowed_ports: Vec::new(),
        }
    }
}

/// Ports as TOML integers, or as the strings an environment list gives (`"80,8080"`).
fn ports<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u16>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Port {
        Number(u16),
        Text(String),
    }
    Vec::<Port>::deserialize(deserializer)?
        .into_iter()
        .map(|port| match port {
            Port::Number(n) => Ok(n),
            Port::Text(text) => text
                .trim()
                .parse::<u16>()
                .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a port number"))),
        })
        .collect()
}

/// Refuse method and plugin names Glance does not know (a typo would silently disable them),
/// and a conversion that could not run.
pub fn validate(
    import: &ImportSettings,
    conversion: &ImageConversionSettings,
) -> Result<(), String> {
    for plugin in &import.plugins {
        if plugin != IMAGE_CONVERSION {
            return Err(format!(
                "import.plugins: unknown plugin {plugin:?} (this build has {IMAGE_CONVERSION:?})"
            ));
        }
    }
    if !OUTPUT_FORMATS.contains(&conversion.output_format.as_str()) {
        return Err(format!(
            "image_conversion.output_format must be one of {}",
            OUTPUT_FORMATS.join(", ")
        ));
    }
    if conversion.timeout_seconds == 0 || conversion.memory_mb == 0 {
        return Err("image_conversion.timeout_seconds and memory_mb must be > 0".into());
    }
    for method in &import.enabled_methods {
        if !KNOWN_METHODS.contains(&method.as_str()) {
            return Err(format!(
                "import.enabled_methods: unknown method {method:?} (known: {})",
                KNOWN_METHODS.join(", ")
            ));
        }
    }
    if import.staging_path.trim().is_empty() {
        return Err("import.staging_path must name a folder".into());
    }
    Ok(())
}
