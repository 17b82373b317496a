//! Domain types shared by the handler layer and every data-access backend.
//!
//! Nothing here knows about SQL, HTTP clients or actix: these are the values that cross the
//! `DataAccess` trait (and, serialized, the registry wire).

pub mod policy;
mod query;
pub mod wire_time;

pub use query::{
    CmpOp, ImageColumn, ImageFilters, ImageQuery, MemberQuery, MemberStatusFilter, SortDir,
    SortKey, ValueMatch, VisibilityFilter,
};

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Naive UTC, as Glance stores it.
pub type Timestamp = chrono::NaiveDateTime;

pub fn now() -> Timestamp {
    chrono::Utc::now().naive_utc()
}

/// Glance's `created_at`/`updated_at` rendering: `YYYY-MM-DDTHH:MM:SSZ`, no fraction.
pub fn format_timestamp(ts: &Timestamp) -> String {
    let mut text = iso_seconds(ts);
    text.push('Z');
    text
}

/// `YYYY-MM-DDTHH:MM:SS` (Python's and chrono's extended form outside years 0–9999).
pub(crate) fn iso_seconds(ts: &Timestamp) -> String {
    use chrono::{Datelike, Timelike};
    let year = ts.year();
    if !(0..=9999).contains(&year) {
        return ts.format("%Y-%m-%dT%H:%M:%S").to_string();
    }
    // Digits written by hand: every image in every answer carries two timestamps, and
    // `format!` with padding (or chrono's format string, parsed per call) showed in profiles.
    let mut text = *b"0000-00-00T00:00:00";
    let mut put = |at: usize, width: usize, mut value: u32| {
        for slot in text[at..at + width].iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year.unsigned_abs());
    put(5, 2, ts.month());
    put(8, 2, ts.day());
    put(11, 2, ts.hour());
    put(14, 2, ts.minute());
    put(17, 2, ts.second());
    // Room for the suffixes callers append (`Z`, `.ffffff`).
    let mut out = String::with_capacity(32);
    out.push_str(std::str::from_utf8(&text).unwrap_or_default());
    out
}

/// Who is calling: the request context Glance passes to every DB-API call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestContext {
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub roles: Vec<String>,
    pub is_admin: bool,
    /// Anonymous contexts may read but never write.
    pub read_only: bool,
    pub request_id: String,
    /// What else a Keystone token says (keystone mode; empty otherwise), as Glance's context
    /// carries it: the user's and project's domains, a domain-scoped token's domain, a
    /// system-scoped token, and when the token expires. Forwarded to the registry like the rest.
    #[serde(default, skip_serializing_if = "TokenScope::is_empty")]
    pub token: TokenScope,
}

/// The Keystone token details of a `RequestContext` beyond user, project and roles.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenScope {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_domain_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_domain_name: Option<String>,
    /// A domain-scoped token's domain id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<String>,
    /// A system-scoped token (`"system": {"all": true}`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub system_scope: bool,
    #[serde(skip_serializing_if = "Option::is_none", with = "wire_time::optional")]
    pub expires_at: Option<Timestamp>,
}

impl TokenScope {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl RequestContext {
    /// Glance's noauth context: an admin without user or project.
    pub fn noauth(request_id: String) -> Self {
        Self {
            is_admin: true,
            request_id,
            ..Self::default()
        }
    }
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

// After `string_enum!`, which it uses.
mod task;
pub use task::{
    task_visible, NewTask, Task, TaskChanges, TaskQuery, TaskSortKey, TaskStatus, API_IMAGE_IMPORT,
    IMPORT_LOCK_PROPERTY, STALE_TASK_MESSAGE,
};

string_enum!(
    /// Glance's image status machine (`glance/domain/__init__.py`).
    ImageStatus {
        Queued => "queued",
        Saving => "saving",
        Active => "active",
        Killed => "killed",
        Deleted => "deleted",
        PendingDelete => "pending_delete",
        Deactivated => "deactivated",
        Uploading => "uploading",
        Importing => "importing",
    }
);

impl Image {
    /// A property's value; `None` when it is absent or NULL.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name).and_then(|v| v.as_deref())
    }
}

impl ImageStatus {
    /// Whether Glance's domain model allows moving from `self` to `to`.
    pub fn can_transition_to(self, to: ImageStatus) -> bool {
        use ImageStatus::*;
        matches!(
            (self, to),
            (Queued, Saving | Uploading | Importing | Active | Deleted)
                | (Saving, Active | Killed | Deleted | Queued)
                | (Uploading, Importing | Queued | Deleted)
                | (Importing, Active | Deleted | Queued)
                | (Active, PendingDelete | Deleted | Deactivated)
                | (Killed, Deleted)
                | (PendingDelete, Deleted | Active)
                | (Deactivated, Active | Deleted)
        )
    }
}

string_enum!(
    Visibility {
        Private => "private",
        Public => "public",
        Shared => "shared",
        Community => "community",
    }
);

string_enum!(
    MemberStatus {
        Pending => "pending",
        Accepted => "accepted",
        Rejected => "rejected",
    }
);

string_enum!(
    LocationStatus {
        Active => "active",
        PendingDelete => "pending_delete",
        Deleted => "deleted",
    }
);

/// Custom properties by name; `None` is a NULL value (JSON `null`).
pub type Properties = BTreeMap<String, Option<String>>;

/// One row of `images` with its live properties, tags and locations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub id: String,
    pub name: Option<String>,
    pub size: Option<i64>,
    pub virtual_size: Option<i64>,
    pub status: ImageStatus,
    pub visibility: Visibility,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    pub owner: Option<String>,
    pub min_disk: i32,
    pub min_ram: i32,
    pub protected: bool,
    pub os_hidden: bool,
    #[serde(with = "wire_time::required")]
    pub created_at: Timestamp,
    #[serde(with = "wire_time::optional")]
    pub updated_at: Option<Timestamp>,
    #[serde(with = "wire_time::optional")]
    pub deleted_at: Option<Timestamp>,
    pub deleted: bool,
    /// Live custom properties (soft-deleted rows are not returned); `None` is a stored NULL,
    /// which Glance shows as `null` (the schema's nullable properties: `kernel_id`, ...).
    pub properties: Properties,
    /// Live tags in insertion order, without duplicates.
    pub tags: Vec<String>,
    /// Live locations (status active or pending_delete), in insertion order.
    pub locations: Vec<Location>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub id: i64,
    pub url: String,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub status: LocationStatus,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewLocation {
    pub url: String,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub status: LocationStatus,
}

/// The values of `image_create`. The handler layer fills in every default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewImage {
    pub id: String,
    pub name: Option<String>,
    pub status: ImageStatus,
    pub visibility: Visibility,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub owner: Option<String>,
    pub min_disk: i32,
    pub min_ram: i32,
    pub protected: bool,
    pub os_hidden: bool,
    pub properties: Properties,
    pub tags: Vec<String>,
}

/// The values of `image_update`: only the fields that are `Some` change.
/// `Some(None)` sets a nullable column to NULL.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageChanges {
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub name: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ImageStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub size: Option<Option<i64>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub virtual_size: Option<Option<i64>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub disk_format: Option<Option<String>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub container_format: Option<Option<String>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub checksum: Option<Option<String>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub os_hash_algo: Option<Option<String>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub os_hash_value: Option<Option<String>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub owner: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_disk: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_ram: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protected: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_hidden: Option<bool>,
    /// Properties to insert or overwrite (a soft-deleted row of the same name is revived).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub set_properties: Properties,
    /// Properties to soft-delete. Applied in the same transaction as everything else, so
    /// concurrent PATCHes that touch different properties never lose each other's work.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remove_properties: Vec<String>,
    /// Replace the whole tag set (`image_tag_set_all`) in the same transaction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Locations to add in the same transaction (the upload's final save).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub add_locations: Vec<NewLocation>,
    /// Compare-and-set on properties (Glance's `image_set_property_atomic` /
    /// `image_delete_property_atomic`, the import lock): the update happens only if each named
    /// property is live with that value (`Some`) or absent (`None`); otherwise `Conflict`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub expect_properties: BTreeMap<String, Option<String>>,
}

/// `null` is `Some(None)`, a value is `Some(Some(v))`, absence (serde default) is `None`.
fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub id: i64,
    pub image_id: String,
    pub member: String,
    pub can_share: bool,
    pub status: MemberStatus,
    #[serde(with = "wire_time::required")]
    pub created_at: Timestamp,
    #[serde(with = "wire_time::optional")]
    pub updated_at: Option<Timestamp>,
    pub deleted: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewMember {
    pub image_id: String,
    pub member: String,
    pub can_share: bool,
    pub status: MemberStatus,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemberChanges {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<MemberStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_share: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::format_timestamp;

    fn at(year: i32, month: u32, day: u32, h: u32, m: u32, s: u32) -> super::Timestamp {
        chrono::NaiveDate::from_ymd_opt(year, month, day)
            .and_then(|d| d.and_hms_micro_opt(h, m, s, 999_999))
            .expect("valid date")
    }

    #[test]
    fn timestamps_render_as_glance_isotime() {
        assert_eq!(
            format_timestamp(&at(2026, 11, 27, 14, 6, 8)),
            "2026-11-27T14:06:08Z"
        );
        assert_eq!(
            format_timestamp(&at(999, 1, 2, 3, 4, 5)),
            "0999-01-02T03:04:05Z"
        );
        assert_eq!(
            format_timestamp(&at(12345, 12, 31, 23, 59, 59)),
            "+12345-12-31T23:59:59Z"
        );
    }
}
