//! What `image_get_all` and `image_member_find` are asked for, already validated by the
//! handler layer (`api::list_params`). Backends turn these into parameterised SQL; nothing
//! here is ever spliced into a statement as text except the fixed column names of the enums.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{MemberStatus, Timestamp, Visibility};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageQuery {
    pub filters: ImageFilters,
    /// Id of the last image of the previous page; unknown or invisible → `NotFound`.
    pub marker: Option<String>,
    pub limit: Option<u32>,
    /// Sort keys in order. Backends append the `created_at` and `id` tie-breakers Glance adds
    /// (with the direction of the last given key) when they are missing.
    pub sort: Vec<(SortKey, SortDir)>,
    pub member_status: MemberStatusFilter,
}

impl Default for ImageQuery {
    fn default() -> Self {
        Self {
            filters: ImageFilters::default(),
            marker: None,
            limit: None,
            sort: vec![(SortKey::CreatedAt, SortDir::Desc)],
            member_status: MemberStatusFilter::Accepted,
        }
    }
}

/// Filters of `image_get_all`, ANDed. Deleted and killed images are never returned.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageFilters {
    /// `None`: Glance's default scope (community images of others dropped).
    pub visibility: Option<VisibilityFilter>,
    /// `Some(false)` lists only non-hidden images (the API default), `Some(true)` only hidden.
    pub os_hidden: Option<bool>,
    pub name: Option<ValueMatch>,
    pub id: Option<ValueMatch>,
    pub status: Option<ValueMatch>,
    pub container_format: Option<ValueMatch>,
    pub disk_format: Option<ValueMatch>,
    #[serde(with = "super::wire_time::comparisons")]
    pub created_at: Vec<(CmpOp, Timestamp)>,
    #[serde(with = "super::wire_time::comparisons")]
    pub updated_at: Vec<(CmpOp, Timestamp)>,
    /// Inclusive bounds on `size`.
    pub size_min: Option<i64>,
    pub size_max: Option<i64>,
    pub protected: Option<bool>,
    /// Plain equality on other columns (owner, checksum, os_hash_value, min_ram, …).
    pub columns: Vec<(ImageColumn, String)>,
    /// Every tag must be present.
    pub tags: Vec<String>,
    /// Equality on live custom properties.
    pub properties: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueMatch {
    Eq(String),
    In(Vec<String>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

impl CmpOp {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "gt" => Self::Gt,
            "gte" => Self::Gte,
            "lt" => Self::Lt,
            "lte" => Self::Lte,
            "eq" => Self::Eq,
            "neq" => Self::Neq,
            _ => return None,
        })
    }

    pub fn sql(self) -> &'static str {
        match self {
            Self::Gt => ">",
            Self::Gte => ">=",
            Self::Lt => "<",
            Self::Lte => "<=",
            Self::Eq => "=",
            Self::Neq => "<>",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisibilityFilter {
    Only(Visibility),
    All,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatusFilter {
    Pending,
    Accepted,
    Rejected,
    All,
}

impl MemberStatusFilter {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => Self::Pending,
            "accepted" => Self::Accepted,
            "rejected" => Self::Rejected,
            "all" => Self::All,
            _ => return None,
        })
    }

    pub fn status(self) -> Option<MemberStatus> {
        match self {
            Self::Pending => Some(MemberStatus::Pending),
            Self::Accepted => Some(MemberStatus::Accepted),
            Self::Rejected => Some(MemberStatus::Rejected),
            Self::All => None,
        }
    }
}

/// Columns a list may be sorted by (Glance's `_available_sort_keys`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    Name,
    Status,
    ContainerFormat,
    DiskFormat,
    Size,
    Id,
    CreatedAt,
    UpdatedAt,
}

impl SortKey {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "name" => Self::Name,
            "status" => Self::Status,
            "container_format" => Self::ContainerFormat,
            "disk_format" => Self::DiskFormat,
            "size" => Self::Size,
            "id" => Self::Id,
            "created_at" => Self::CreatedAt,
            "updated_at" => Self::UpdatedAt,
            _ => return None,
        })
    }

    /// The column name in Glance's `images` table.
    pub fn column(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Status => "status",
            Self::ContainerFormat => "container_format",
            Self::DiskFormat => "disk_format",
            Self::Size => "size",
            Self::Id => "id",
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortDir {
    Asc,
    Desc,
}

impl SortDir {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "asc" => Some(Self::Asc),
            "desc" => Some(Self::Desc),
            _ => None,
        }
    }

    pub fn sql(self) -> &'static str {
        match self {
            Self::Asc => "ASC",
            Self::Desc => "DESC",
        }
    }
}

/// Columns with plain equality filters. Integer columns carry their value as text that the
/// handler layer has already checked parses as an integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageColumn {
    Owner,
    Checksum,
    OsHashAlgo,
    OsHashValue,
    MinRam,
    MinDisk,
    Size,
    VirtualSize,
}

impl ImageColumn {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "owner" => Self::Owner,
            "checksum" => Self::Checksum,
            "os_hash_algo" => Self::OsHashAlgo,
            "os_hash_value" => Self::OsHashValue,
            "min_ram" => Self::MinRam,
            "min_disk" => Self::MinDisk,
            "size" => Self::Size,
            "virtual_size" => Self::VirtualSize,
            _ => return None,
        })
    }

    pub fn column(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Checksum => "checksum",
            Self::OsHashAlgo => "os_hash_algo",
            Self::OsHashValue => "os_hash_value",
            Self::MinRam => "min_ram",
            Self::MinDisk => "min_disk",
            Self::Size => "size",
            Self::VirtualSize => "virtual_size",
        }
    }

    pub fn is_integer(self) -> bool {
        matches!(
            self,
            Self::MinRam | Self::MinDisk | Self::Size | Self::VirtualSize
        )
    }
}

/// `image_member_find`'s arguments. Non-admins only ever see rows where they own the image
/// or are the member.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemberQuery {
    pub image_id: Option<String>,
    pub member: Option<String>,
    pub status: Option<MemberStatus>,
    pub include_deleted: bool,
}
