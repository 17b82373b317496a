//! The image as Glance 33 renders it (`ResponseSerializer._format_image`): custom properties
//! first, then the base attributes in Glance's order, then links. serde_json's map sorts keys,
//! so the order is written by hand here.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::domain::{format_timestamp, Image};

/// Internal properties Glance never shows.
const HIDDEN_PROPERTIES: &[&str] = &["os_glance_stage_host", "os_glance_hash_op_host"];

/// Keys the base attributes use; a legacy custom property of the same name is not shown twice.
const BASE_KEYS: &[&str] = &[
    "name",
    "disk_format",
    "container_format",
    "visibility",
    "size",
    "virtual_size",
    "status",
    "checksum",
    "protected",
    "min_ram",
    "min_disk",
    "owner",
    "os_hidden",
    "os_hash_algo",
    "os_hash_value",
    "id",
    "created_at",
    "updated_at",
    "tags",
    "self",
    "file",
    "schema",
    "locations",
    "direct_url",
    "stores",
];

/// Serializes an image exactly as Glance does (use with `api::json::respond`).
pub(crate) struct ImageView<'a>(pub &'a Image);

impl Serialize for ImageView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let image = self.0;
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in &image.properties {
            if !HIDDEN_PROPERTIES.contains(&key.as_str()) && !BASE_KEYS.contains(&key.as_str()) {
                map.serialize_entry(key, value)?;
            }
        }
        map.serialize_entry("name", &image.name)?;
        map.serialize_entry("disk_format", &image.disk_format)?;
        map.serialize_entry("container_format", &image.container_format)?;
        map.serialize_entry("visibility", image.visibility.as_str())?;
        map.serialize_entry("size", &image.size)?;
        map.serialize_entry("virtual_size", &image.virtual_size)?;
        map.serialize_entry("status", image.status.as_str())?;
        map.serialize_entry("checksum", &image.checksum)?;
        map.serialize_entry("protected", &image.protected)?;
        map.serialize_entry("min_ram", &image.min_ram)?;
        map.serialize_entry("min_disk", &image.min_disk)?;
        map.serialize_entry("owner", &image.owner)?;
        map.serialize_entry("os_hidden", &image.os_hidden)?;
        map.serialize_entry("os_hash_algo", &image.os_hash_algo)?;
        map.serialize_entry("os_hash_value", &image.os_hash_value)?;
        map.serialize_entry("id", &image.id)?;
        map.serialize_entry("created_at", &format_timestamp(&image.created_at))?;
        // Glance's isotime(None) would print "now"; the creation time is the honest fallback.
        let updated_at = image.updated_at.as_ref().unwrap_or(&image.created_at);
        map.serialize_entry("updated_at", &format_timestamp(updated_at))?;
        map.serialize_entry("tags", &image.tags)?;
        map.serialize_entry("self", &ImageLink(&image.id, ""))?;
        map.serialize_entry("file", &ImageLink(&image.id, "/file"))?;
        map.serialize_entry("schema", "/v2/schemas/image")?;
        // Multi-store: the stores holding a copy (location metadata `store`), comma-joined.
        let stores: Vec<&str> = image
            .locations
            .iter()
            .filter_map(|l| l.metadata.get("store").and_then(|v| v.as_str()))
            .collect();
        if !stores.is_empty() {
            map.serialize_entry("stores", &stores.join(","))?;
        }
        map.end()
    }
}

/// `/v2/images/{id}` plus a suffix, written straight into the output (no `String` per link).
struct ImageLink<'a>(&'a str, &'static str);

impl Serialize for ImageLink<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("/v2/images/{}{}", self.0, self.1))
    }
}

/// `GET /v2/images`: `{"images": […], "first": …, "schema": …, "next": …}` in Glance's order.
#[derive(Serialize)]
pub(crate) struct ImageList<'a> {
    pub images: Vec<ImageView<'a>>,
    pub first: String,
    pub schema: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ImageStatus, Visibility};
    use std::collections::BTreeMap;

    fn sample() -> Image {
        let created = chrono::NaiveDate::from_ymd_opt(2026, 11, 27)
            .and_then(|d| d.and_hms_micro_opt(14, 6, 18, 123_456))
            .expect("valid date");
        Image {
            id: "09347783-2591-4fb1-96da-0255acf47d73".into(),
            name: Some("peer-test".into()),
            size: None,
            virtual_size: None,
            status: ImageStatus::Queued,
            visibility: Visibility::Private,
            disk_format: Some("raw".into()),
            container_format: Some("bare".into()),
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            owner: Some("5b1a3a1e9c0d4f8a8a3e4d3c2b1a0f9e".into()),
            min_disk: 1,
            min_ram: 0,
            protected: false,
            os_hidden: false,
            created_at: created,
            updated_at: Some(created),
            deleted_at: None,
            deleted: false,
            properties: BTreeMap::from([
                ("os_distro".to_string(), Some("debian".to_string())),
                (
                    "os_glance_stage_host".to_string(),
                    Some("http://x".to_string()),
                ),
            ]),
            tags: vec![],
            locations: vec![],
        }
    }

    /// Byte for byte what real Glance 33.0.0 answered to the create of section 2 of
    /// tests/fixtures/real-glance-33/session-glance-33.md (same ids, dates and values), except
    /// the order of the extra properties: Glance keeps the request's order ("os_distro",
    /// "custom_prop"), we sort them by name (docs/compatibility.md).
    #[test]
    fn renders_like_glance_33() {
        let session = include_str!("../../tests/fixtures/real-glance-33/session-glance-33.md");
        let create = session
            .split("## 2. Create an image")
            .nth(1)
            .and_then(|section| section.lines().find(|l| l.starts_with('{')))
            .expect("the create answer in the transcript");
        let glance = create.replace(
            "{\"os_distro\": \"debian\", \"custom_prop\": \"hello\", ",
            "{\"custom_prop\": \"hello\", \"os_distro\": \"debian\", ",
        );
        assert_ne!(glance, create, "the transcript's extra properties changed");
        let mut image = sample();
        image
            .properties
            .insert("custom_prop".to_string(), Some("hello".to_string()));
        let text = crate::api::json::to_python_json(&ImageView(&image));
        assert_eq!(text, glance);
    }

    #[test]
    fn list_envelope_order() {
        let image = sample();
        let list = ImageList {
            images: vec![ImageView(&image)],
            first: "/v2/images".into(),
            schema: "/v2/schemas/images",
            next: None,
        };
        let text = crate::api::json::to_python_json(&list);
        assert!(text.starts_with("{\"images\": [{\"os_distro\""));
        assert!(text.ends_with("\"first\": \"/v2/images\", \"schema\": \"/v2/schemas/images\"}"));
    }
}
