//! Row shapes shared by the PostgreSQL statements: the image select (one statement with its
//! properties, tags, locations and the caller's membership aggregated), and row → domain
//! conversions. Column names here are fixed text; values always travel as parameters.

use std::collections::BTreeMap;

use tokio_postgres::Row;

use crate::data_access::{DaResult, DataAccessError};
use crate::domain::Image;
use crate::domain::{
    ImageStatus, Location, LocationStatus, Member, MemberStatus, Timestamp, Visibility,
};

/// The `images` columns (`visibility` as text, so no enum codec).
pub const IMAGE_COLUMNS: &str = "images.id, images.name, images.size, images.virtual_size, \
    images.status, images.visibility::text AS visibility, images.disk_format, \
    images.container_format, images.checksum, images.os_hash_algo, images.os_hash_value, \
    images.owner, images.min_disk, images.min_ram, images.protected, images.os_hidden, \
    images.created_at, images.updated_at, images.deleted_at, images.deleted";

/// Live properties, tags and locations of each `images` row as one JSON value (kept in
/// `images.children` by triggers, migration V2; computed if a row has none yet), then the
/// start of the caller-membership test: append the caller's project placeholder and
/// `IMAGE_AGGREGATES_TAIL`.
pub const IMAGE_AGGREGATES_HEAD: &str = "\
    COALESCE(images.children, glance_rs_image_children(images.id)) AS children, \
    EXISTS (SELECT 1 FROM image_members m WHERE m.image_id = images.id AND m.member = ";
pub const IMAGE_AGGREGATES_TAIL: &str = " AND NOT m.deleted) AS caller_is_member";

/// `SELECT` of one image by id (`$1`) for caller project `$2`, optionally locking its row.
pub fn select_image_by_id(lock: bool) -> String {
    format!(
        "SELECT {IMAGE_COLUMNS}, {IMAGE_AGGREGATES_HEAD}$2{IMAGE_AGGREGATES_TAIL} \
         FROM images WHERE images.id = $1{}",
        if lock { " FOR UPDATE OF images" } else { "" }
    )
}

fn bad_row(what: &str, value: &str) -> DataAccessError {
    DataAccessError::Backend(format!("unexpected {what} {value:?} in the database"))
}

/// An image row read with `IMAGE_COLUMNS` and `image_aggregates`, and whether the caller is
/// a live member of it.
pub fn image_from_row(row: &Row) -> DaResult<(Image, bool)> {
    let status: String = row.try_get("status").map_err(decode)?;
    let visibility: String = row.try_get("visibility").map_err(decode)?;
    let mut children: serde_json::Value = row.try_get("children").map_err(decode)?;
    let mut take = |name: &str| children.get_mut(name).map(serde_json::Value::take);
    let (properties, tags, locations) = (take("properties"), take("tags"), take("locations"));
    let image = Image {
        id: row.try_get("id").map_err(decode)?,
        name: row.try_get("name").map_err(decode)?,
        size: row.try_get("size").map_err(decode)?,
        virtual_size: row.try_get("virtual_size").map_err(decode)?,
        status: ImageStatus::parse(&status).ok_or_else(|| bad_row("image status", &status))?,
        visibility: Visibility::parse(&visibility)
            .ok_or_else(|| bad_row("visibility", &visibility))?,
        disk_format: row.try_get("disk_format").map_err(decode)?,
        container_format: row.try_get("container_format").map_err(decode)?,
        checksum: row.try_get("checksum").map_err(decode)?,
        os_hash_algo: row.try_get("os_hash_algo").map_err(decode)?,
        os_hash_value: row.try_get("os_hash_value").map_err(decode)?,
        owner: row.try_get("owner").map_err(decode)?,
        min_disk: row.try_get("min_disk").map_err(decode)?,
        min_ram: row.try_get("min_ram").map_err(decode)?,
        protected: row.try_get("protected").map_err(decode)?,
        os_hidden: row.try_get("os_hidden").map_err(decode)?,
        created_at: row.try_get("created_at").map_err(decode)?,
        updated_at: row.try_get("updated_at").map_err(decode)?,
        deleted_at: row.try_get("deleted_at").map_err(decode)?,
        deleted: row.try_get("deleted").map_err(decode)?,
        properties: properties.map(properties_from_json).unwrap_or_default(),
        tags: tags.map(tags_from_json).unwrap_or_default(),
        locations: locations
            .map(locations_from_json)
            .transpose()?
            .unwrap_or_default(),
    };
    let caller_is_member = row.try_get("caller_is_member").map_err(decode)?;
    Ok((image, caller_is_member))
}

fn properties_from_json(value: serde_json::Value) -> BTreeMap<String, String> {
    let serde_json::Value::Object(map) = value else {
        return BTreeMap::new();
    };
    map.into_iter()
        .map(|(name, value)| match value {
            serde_json::Value::String(text) => (name, text),
            other => (name, other.to_string()),
        })
        .collect()
}

/// Tags in insertion order; a duplicate left by a race is shown once.
fn tags_from_json(value: serde_json::Value) -> Vec<String> {
    let serde_json::Value::Array(items) = value else {
        return Vec::new();
    };
    let mut tags: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        if let serde_json::Value::String(tag) = item {
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
    }
    tags
}

fn locations_from_json(value: serde_json::Value) -> DaResult<Vec<Location>> {
    let serde_json::Value::Array(items) = value else {
        return Ok(Vec::new());
    };
    let mut locations = Vec::with_capacity(items.len());
    for item in items {
        let id = item
            .get("id")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or_default();
        let url = item
            .get("url")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        let status_text = item
            .get("status")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        let metadata = item
            .get("metadata")
            .and_then(serde_json::Value::as_str)
            .map(metadata_from_text)
            .unwrap_or_default();
        locations.push(Location {
            id,
            url: url.to_string(),
            metadata,
            status: LocationStatus::parse(status_text)
                .ok_or_else(|| bad_row("location status", status_text))?,
        });
    }
    Ok(locations)
}

/// `meta_data` is a JSON dict stored as text; anything else reads as `{}`.
pub fn metadata_from_text(text: &str) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

pub fn metadata_to_text(metadata: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(metadata.clone()).to_string()
}

/// The member columns in the order `member_from_row` reads them.
pub const MEMBER_COLUMNS: &str =
    "m.id, m.image_id, m.member, m.can_share, m.status, m.created_at, m.updated_at, m.deleted";

pub fn member_from_row(row: &Row) -> DaResult<Member> {
    let id: i32 = row.try_get("id").map_err(decode)?;
    let status: String = row.try_get("status").map_err(decode)?;
    let updated_at: Option<Timestamp> = row.try_get("updated_at").map_err(decode)?;
    Ok(Member {
        id: i64::from(id),
        image_id: row.try_get("image_id").map_err(decode)?,
        member: row.try_get("member").map_err(decode)?,
        can_share: row.try_get("can_share").map_err(decode)?,
        status: MemberStatus::parse(&status).ok_or_else(|| bad_row("member status", &status))?,
        created_at: row.try_get("created_at").map_err(decode)?,
        updated_at,
        deleted: row.try_get("deleted").map_err(decode)?,
    })
}

fn decode(err: tokio_postgres::Error) -> DataAccessError {
    DataAccessError::Backend(format!("cannot read a row: {err}"))
}
