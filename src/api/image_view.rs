//! The image as Glance 33 renders it (`ResponseSerializer._format_image`): custom properties
//! first, then the base attributes in Glance's order, then links, written by hand in that order
//! (`json::Writer`).

use crate::domain::{format_timestamp, Image};
use crate::json::Scalar::{Boolean, Integer, Text};
use crate::json::Writer;

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

/// An image exactly as Glance renders it, written into a JSON body.
pub(crate) struct ImageView<'a>(pub &'a Image);

impl ImageView<'_> {
    /// The body of one image (`GET`, `PATCH`, `POST /v2/images`).
    pub fn body(&self) -> Writer {
        let mut out = Writer::with_capacity(1024);
        self.write(&mut out);
        out
    }

    pub fn write(&self, out: &mut Writer) {
        let image = self.0;
        out.begin_object();
        for (key, value) in &image.properties {
            if !HIDDEN_PROPERTIES.contains(&key.as_str()) && !BASE_KEYS.contains(&key.as_str()) {
                out.key(key);
                out.scalar(Text(value.as_deref()));
            }
        }
        let created_at = format_timestamp(&image.created_at);
        // Glance's isotime(None) would print "now"; the creation time is the honest fallback.
        let updated_at = format_timestamp(image.updated_at.as_ref().unwrap_or(&image.created_at));
        let base = [
            ("name", Text(image.name.as_deref())),
            ("disk_format", Text(image.disk_format.as_deref())),
            ("container_format", Text(image.container_format.as_deref())),
            ("visibility", Text(Some(image.visibility.as_str()))),
            ("size", Integer(image.size)),
            ("virtual_size", Integer(image.virtual_size)),
            ("status", Text(Some(image.status.as_str()))),
            ("checksum", Text(image.checksum.as_deref())),
            ("protected", Boolean(image.protected)),
            ("min_ram", Integer(Some(image.min_ram.into()))),
            ("min_disk", Integer(Some(image.min_disk.into()))),
            ("owner", Text(image.owner.as_deref())),
            ("os_hidden", Boolean(image.os_hidden)),
            ("os_hash_algo", Text(image.os_hash_algo.as_deref())),
            ("os_hash_value", Text(image.os_hash_value.as_deref())),
            ("id", Text(Some(&image.id))),
            ("created_at", Text(Some(&created_at))),
            ("updated_at", Text(Some(&updated_at))),
        ];
        for (key, value) in base {
            out.known_key(key);
            out.scalar(value);
        }
        out.known_key("tags");
        out.begin_array();
        for tag in &image.tags {
            out.item();
            out.string(tag);
        }
        out.end_array();
        out.known_key("self");
        out.joined(&["/v2/images/", &image.id]);
        out.known_key("file");
        out.joined(&["/v2/images/", &image.id, "/file"]);
        out.known_key("schema");
        out.string("/v2/schemas/image");
        // Multi-store: the stores holding a copy (location metadata `store`), comma-joined.
        let stores: Vec<&str> = image
            .locations
            .iter()
            .filter_map(|l| l.metadata.get("store").and_then(|v| v.as_str()))
            .collect();
        if !stores.is_empty() {
            out.known_key("stores");
            out.string(&stores.join(","));
        }
        out.end_object();
    }
}

/// `GET /v2/images`: `{"images": […], "first": …, "schema": …, "next": …}` in Glance's order.
pub(crate) fn list_body(images: &[Image], first: &str, next: Option<&str>) -> Writer {
    let mut out = Writer::with_capacity(256 + 1024 * images.len());
    out.begin_object();
    out.known_key("images");
    out.begin_array();
    for image in images {
        out.item();
        ImageView(image).write(&mut out);
    }
    out.end_array();
    out.known_key("first");
    out.string(first);
    out.known_key("schema");
    out.string("/v2/schemas/images");
    if let Some(next) = next {
        out.known_key("next");
        out.string(next);
    }
    out.end_object();
    out
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
        let text = ImageView(&image).body().into_string();
        assert_eq!(text, glance);
    }

    #[test]
    fn list_envelope_order() {
        let image = sample();
        let text = list_body(&[image.clone(), image], "/v2/images", None).into_string();
        assert!(text.starts_with("{\"images\": [{\"os_distro\""));
        assert!(text.contains("\"schema\": \"/v2/schemas/image\"}, {\"os_distro\""));
        assert!(text.ends_with("\"first\": \"/v2/images\", \"schema\": \"/v2/schemas/images\"}"));
        let next = list_body(&[], "/v2/images", Some("/v2/images?marker=x")).into_string();
        assert_eq!(
            next,
            "{\"images\": [], \"first\": \"/v2/images\", \"schema\": \"/v2/schemas/images\", \
             \"next\": \"/v2/images?marker=x\"}"
        );
    }
}
