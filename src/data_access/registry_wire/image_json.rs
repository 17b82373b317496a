//! Images in their wire form, written by hand: exactly what `serde_json::to_string` writes for
//! `Image` (the domain type's serde form, timestamps as `wire_time` has them), which the test
//! below holds it to. Nearly every registry call answers images, and serde's writer was an
//! eighth of glance-registry's instructions per GET image.

use crate::domain::wire_time::python_isoformat;
use crate::domain::{Image, Timestamp};
use crate::json::Scalar::{Boolean, Integer, Text};
use crate::json::Writer;

/// The optional text members between `visibility` and `min_disk`, in order.
pub(super) const TEXT_KEYS: [&str; 6] = [
    "disk_format",
    "container_format",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "owner",
];

/// Bytes an image's wire form usually takes, to size the buffer once.
const TYPICAL: usize = 1024;

pub fn image(image: &Image) -> String {
    let mut w = Writer::compact(TYPICAL);
    write(&mut w, image);
    w.into_string()
}

pub fn images(images: &[Image]) -> String {
    let mut w = Writer::compact(TYPICAL * images.len().max(1));
    w.begin_array();
    for image in images {
        w.item();
        write(&mut w, image);
    }
    w.end_array();
    w.into_string()
}

fn write(w: &mut Writer, image: &Image) {
    w.begin_object();
    w.known_key("id");
    w.string(&image.id);
    w.known_key("name");
    w.scalar(Text(image.name.as_deref()));
    w.known_key("size");
    w.scalar(Integer(image.size));
    w.known_key("virtual_size");
    w.scalar(Integer(image.virtual_size));
    w.known_key("status");
    w.string(image.status.as_str());
    w.known_key("visibility");
    w.string(image.visibility.as_str());
    let texts = [
        &image.disk_format,
        &image.container_format,
        &image.checksum,
        &image.os_hash_algo,
        &image.os_hash_value,
        &image.owner,
    ];
    for (key, value) in TEXT_KEYS.into_iter().zip(texts) {
        w.known_key(key);
        w.scalar(Text(value.as_deref()));
    }
    w.known_key("min_disk");
    w.scalar(Integer(Some(i64::from(image.min_disk))));
    w.known_key("min_ram");
    w.scalar(Integer(Some(i64::from(image.min_ram))));
    w.known_key("protected");
    w.scalar(Boolean(image.protected));
    w.known_key("os_hidden");
    w.scalar(Boolean(image.os_hidden));
    w.known_key("created_at");
    time(w, Some(&image.created_at));
    w.known_key("updated_at");
    time(w, image.updated_at.as_ref());
    w.known_key("deleted_at");
    time(w, image.deleted_at.as_ref());
    w.known_key("deleted");
    w.scalar(Boolean(image.deleted));
    w.known_key("properties");
    w.begin_object();
    for (name, value) in &image.properties {
        w.key(name);
        w.scalar(Text(value.as_deref()));
    }
    w.end_object();
    w.known_key("tags");
    w.begin_array();
    for tag in &image.tags {
        w.item();
        w.string(tag);
    }
    w.end_array();
    w.known_key("locations");
    w.begin_array();
    for location in &image.locations {
        w.item();
        w.begin_object();
        w.known_key("id");
        w.scalar(Integer(Some(location.id)));
        w.known_key("url");
        w.string(&location.url);
        w.known_key("metadata");
        w.value(&location.metadata);
        w.known_key("status");
        w.string(location.status.as_str());
        w.end_object();
    }
    w.end_array();
    w.end_object();
}

/// `{"_type":"datetime","_value":"<isoformat>"}`, or `null`.
fn time(w: &mut Writer, at: Option<&Timestamp>) {
    let Some(at) = at else {
        w.scalar(Text(None));
        return;
    };
    w.begin_object();
    w.known_key("_type");
    w.string("datetime");
    w.known_key("_value");
    w.string(&python_isoformat(at));
    w.end_object();
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::domain::{ImageStatus, Location, LocationStatus, Visibility};

    fn at(micros: u32) -> Timestamp {
        chrono::DateTime::from_timestamp(1_765_000_000, micros * 1_000)
            .map(|t| t.naive_utc())
            .unwrap_or_default()
    }

    /// An image with every kind of value, and escapes in its name, a property and a tag.
    pub(in crate::data_access::registry_wire) fn sample() -> Image {
        let mut metadata = serde_json::Map::new();
        metadata.insert("store".into(), "s3\"fast\"".into());
        metadata.insert(
            "nested".into(),
            serde_json::json!({"a": [1, 2.5, null, true]}),
        );
        Image {
            id: "0b5e7f5e-8f7a-4f4e-9d6b-3f6f0c1d2e3a".into(),
            name: Some("näme \"quoted\" \\ back\nline\u{1}".into()),
            size: Some(1 << 40),
            virtual_size: None,
            status: ImageStatus::Active,
            visibility: Visibility::Shared,
            disk_format: Some("qcow2".into()),
            container_format: Some("bare".into()),
            checksum: None,
            os_hash_algo: Some("sha512".into()),
            os_hash_value: Some("ab".repeat(64)),
            owner: None,
            min_disk: -1,
            min_ram: i32::MAX,
            protected: true,
            os_hidden: false,
            created_at: at(0),
            updated_at: Some(at(7)),
            deleted_at: None,
            deleted: false,
            properties: [
                ("kernel_id".to_string(), None),
                (
                    "key \"odd\"\t".to_string(),
                    Some("välue\u{1F600}".to_string()),
                ),
            ]
            .into_iter()
            .collect(),
            tags: vec!["a".into(), "tag/with\\slash".into()],
            locations: vec![
                Location {
                    id: 3,
                    url: "s3://key:secret@host/bucket/id".into(),
                    metadata,
                    status: LocationStatus::Active,
                },
                Location {
                    id: i64::MAX,
                    url: "file:///images/id".into(),
                    metadata: serde_json::Map::new(),
                    status: LocationStatus::PendingDelete,
                },
            ],
        }
    }

    #[test]
    fn images_are_written_exactly_as_serde_writes_them() {
        let rich = sample();
        let plain = Image {
            name: None,
            properties: Default::default(),
            tags: vec![],
            locations: vec![],
            updated_at: None,
            deleted_at: Some(at(999_999)),
            deleted: true,
            ..sample()
        };
        for one in [&rich, &plain] {
            assert_eq!(image(one), serde_json::to_string(one).expect("serializes"));
        }
        let list = vec![rich, plain];
        assert_eq!(
            images(&list),
            serde_json::to_string(&list).expect("serializes")
        );
        assert_eq!(images(&[]), "[]");
    }
}
