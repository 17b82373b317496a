//! Row shapes shared by the PostgreSQL statements: the image select (one statement with its
//! properties, tags, locations and the caller's membership aggregated), and row → domain
//! conversions. Column names here are fixed text; values always travel as parameters.

use std::sync::LazyLock;

use tokio_postgres::types::{FromSql, Type};
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
/// `images.children` by triggers, migration V2; computed if a row has none yet).
pub const IMAGE_CHILDREN: &str =
    "COALESCE(images.children, glance_rs_image_children(images.id)) AS children";

/// The membership column (for `policy::membership_project` callers only: PostgreSQL sets up a
/// subplan on every execution of a statement that has one, evaluated or not): append the
/// caller's project placeholder and `MEMBERSHIP_TAIL`.
pub const MEMBERSHIP_HEAD: &str = "(images.visibility = 'shared' AND EXISTS (SELECT 1 \
    FROM image_members m WHERE m.image_id = images.id AND m.member = ";
pub const MEMBERSHIP_TAIL: &str = " AND NOT m.deleted)) AS caller_is_member";
/// The membership column where it cannot matter.
pub const NO_MEMBERSHIP: &str = "FALSE AS caller_is_member";

/// `SELECT` of one image by id (`$1`), optionally locking its row; with `membership`, for
/// caller project `$2`.
pub fn select_image_by_id(lock: bool, membership: bool) -> &'static str {
    fn text(lock: bool, membership: bool) -> String {
        let caller_is_member = if membership {
            format!("{MEMBERSHIP_HEAD}$2{MEMBERSHIP_TAIL}")
        } else {
            NO_MEMBERSHIP.to_string()
        };
        format!(
            "SELECT {IMAGE_COLUMNS}, {IMAGE_CHILDREN}, {caller_is_member} \
             FROM images WHERE images.id = $1{}",
            if lock { " FOR UPDATE OF images" } else { "" }
        )
    }
    static TEXTS: LazyLock<[[String; 2]; 2]> = LazyLock::new(|| {
        [
            [text(false, false), text(false, true)],
            [text(true, false), text(true, true)],
        ]
    });
    &TEXTS[usize::from(lock)][usize::from(membership)]
}

fn bad_row(what: &str, value: &str) -> DataAccessError {
    DataAccessError::Backend(format!("unexpected {what} {value:?} in the database"))
}

/// The image select's columns in order (`IMAGE_COLUMNS`, then the aggregates):
/// `image_from_row` reads them by position, resolved at compile time by `column`.
const IMAGE_ROW: [&str; 22] = [
    "id",
    "name",
    "size",
    "virtual_size",
    "status",
    "visibility",
    "disk_format",
    "container_format",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "owner",
    "min_disk",
    "min_ram",
    "protected",
    "os_hidden",
    "created_at",
    "updated_at",
    "deleted_at",
    "deleted",
    "children",
    "caller_is_member",
];

/// The position of `name` in `IMAGE_ROW` (a compile error if it is not there).
const fn column(name: &str) -> usize {
    let mut i = 0;
    while i < IMAGE_ROW.len() {
        let (a, b) = (IMAGE_ROW[i].as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("not a column of the image select")
}

/// An image row read with `IMAGE_COLUMNS` and `image_aggregates`, and whether the caller is
/// a live member of it.
pub fn image_from_row(row: &Row) -> DaResult<(Image, bool)> {
    macro_rules! get {
        ($name:literal) => {
            row.try_get(const { column($name) }).map_err(decode)?
        };
    }
    let status: &str = get!("status");
    let visibility: &str = get!("visibility");
    let children: Option<JsonText<Children>> = get!("children");
    let children = children.map(|json| json.0).unwrap_or_default();
    let image = Image {
        id: get!("id"),
        name: get!("name"),
        size: get!("size"),
        virtual_size: get!("virtual_size"),
        status: ImageStatus::parse(status).ok_or_else(|| bad_row("image status", status))?,
        visibility: Visibility::parse(visibility)
            .ok_or_else(|| bad_row("visibility", visibility))?,
        disk_format: get!("disk_format"),
        container_format: get!("container_format"),
        checksum: get!("checksum"),
        os_hash_algo: get!("os_hash_algo"),
        os_hash_value: get!("os_hash_value"),
        owner: get!("owner"),
        min_disk: get!("min_disk"),
        min_ram: get!("min_ram"),
        protected: get!("protected"),
        os_hidden: get!("os_hidden"),
        created_at: get!("created_at"),
        updated_at: get!("updated_at"),
        deleted_at: get!("deleted_at"),
        deleted: get!("deleted"),
        properties: children.properties,
        tags: unique_tags(children.tags),
        locations: locations_from_json(children.locations)?,
    };
    let caller_is_member = get!("caller_is_member");
    Ok((image, caller_is_member))
}

/// A `json` or `jsonb` value read as tokio-postgres's `Json` reads it, except that the text
/// is checked as UTF-8 once, whole: read from bytes, serde_json checks every string on its
/// own, which was a fifth of reading an image's children.
struct JsonText<T>(T);

impl<'a, T: serde::Deserialize<'a>> FromSql<'a> for JsonText<T> {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let raw = if *ty == Type::JSONB {
            // Version 1 is the only binary jsonb format there is.
            match raw.split_first() {
                Some((1, rest)) => rest,
                _ => return Err("unsupported JSONB encoding version".into()),
            }
        } else {
            raw
        };
        Ok(Self(serde_json::from_str(std::str::from_utf8(raw)?)?))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::JSON | Type::JSONB)
    }
}

/// `images.children` as `glance_rs_image_children` writes it, read straight into types (no
/// intermediate JSON tree).
#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct Children {
    properties: crate::domain::Properties,
    tags: Vec<String>,
    locations: Vec<LocationJson>,
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct LocationJson {
    id: i64,
    url: String,
    metadata: Option<String>,
    status: String,
}

/// Tags in insertion order; a duplicate left by a race is shown once.
fn unique_tags(tags: Vec<String>) -> Vec<String> {
    let mut unique: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        if !unique.contains(&tag) {
            unique.push(tag);
        }
    }
    unique
}

fn locations_from_json(items: Vec<LocationJson>) -> DaResult<Vec<Location>> {
    items
        .into_iter()
        .map(|item| {
            Ok(Location {
                id: item.id,
                metadata: item
                    .metadata
                    .as_deref()
                    .map(metadata_from_text)
                    .unwrap_or_default(),
                status: LocationStatus::parse(&item.status)
                    .ok_or_else(|| bad_row("location status", &item.status))?,
                url: item.url,
            })
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `image_from_row` reads by position: `IMAGE_ROW` must name the select's columns in order.
    #[test]
    fn image_row_positions_match_the_select_list() {
        let mut names: Vec<&str> = IMAGE_COLUMNS
            .split(", ")
            .map(|item| match item.split_once(" AS ") {
                Some((_, alias)) => alias.trim(),
                None => item.trim().trim_start_matches("images."),
            })
            .collect();
        assert!(IMAGE_CHILDREN.ends_with(" AS children"));
        assert!(MEMBERSHIP_TAIL.ends_with(" AS caller_is_member"));
        assert!(NO_MEMBERSHIP.ends_with(" AS caller_is_member"));
        names.extend(["children", "caller_is_member"]);
        assert_eq!(names, IMAGE_ROW);
        assert_eq!(column("children"), 20);
    }
}
