//! `PATCH /v2/images/{id}`: Glance's two JSON-patch dialects parsed into changes, then applied
//! to an in-memory copy of the image. Any error aborts the whole document; success yields one
//! `ImageChanges` holding only what changed (`images.py` RequestDeserializer.update and
//! ImagesController.update/_do_add/_do_replace/_do_remove, `glance/domain` setters, quotas).
//! Pure logic: no request, no database.

use serde_json::Value;

use crate::api::schemas;
use crate::config::Limits;
use crate::domain::{Image, ImageChanges, ImageStatus, Visibility};
use crate::error::ApiError;

mod document;
pub use document::parse_document;

/// At most this many operations in one document: bounds the work one request can cause.
pub const MAX_OPERATIONS: usize = 1000;

pub const MEDIA_TYPE_V20: &str = "application/openstack-images-v2.0-json-patch";
pub const MEDIA_TYPE_V21: &str = "application/openstack-images-v2.1-json-patch";

/// The two PATCH dialects Glance accepts, chosen by Content-Type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// v2.0: `{"add": "/path", "value": …}` ("draft 4"); add on an existing property is 409.
    Draft4,
    /// v2.1: `{"op": "add", "path": "/path", "value": …}` ("draft 10", RFC 6902 style).
    Draft10,
}

impl Dialect {
    /// The dialect for a Content-Type header value (parameters ignored), if it is one.
    pub fn for_content_type(content_type: &str) -> Option<Self> {
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        if media_type.eq_ignore_ascii_case(MEDIA_TYPE_V20) {
            Some(Self::Draft4)
        } else if media_type.eq_ignore_ascii_case(MEDIA_TYPE_V21) {
            Some(Self::Draft10)
        } else {
            None
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Add,
    Remove,
    Replace,
}

impl Op {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "add" => Some(Self::Add),
            "remove" => Some(Self::Remove),
            "replace" => Some(Self::Replace),
            _ => None,
        }
    }
}

/// One validated operation: the decoded pointer segments and the value (absent for remove).
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub op: Op,
    pub path: Vec<String>,
    pub value: Option<Value>,
}

impl Change {
    fn root(&self) -> &str {
        self.path.first().map_or("", String::as_str)
    }
}

pub const RESERVED_NAMESPACE: &str = "os_glance";

/// Image attributes a PATCH may set; everything else is a custom property.
const WRITABLE_BASE: &[&str] = &[
    "name",
    "visibility",
    "protected",
    "os_hidden",
    "owner",
    "disk_format",
    "container_format",
    "min_ram",
    "min_disk",
    "tags",
];

/// Who is patching: what Glance's policy layer needs to know.
#[derive(Clone, Copy, Debug)]
pub struct Patcher {
    pub is_admin: bool,
    /// Owner or admin (`check_is_image_mutable`).
    pub may_modify: bool,
}

/// The writable part of an image while operations apply. Integers are wide so that an
/// out-of-range value is reported by the save step, as the database layer does in Glance.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    pub name: Option<String>,
    pub visibility: Visibility,
    pub protected: bool,
    pub os_hidden: bool,
    pub owner: Option<String>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub min_ram: i128,
    pub min_disk: i128,
    pub tags: Vec<String>,
    pub properties: crate::domain::Properties,
}

impl Draft {
    pub fn of(image: &Image) -> Self {
        Self {
            name: image.name.clone(),
            visibility: image.visibility,
            protected: image.protected,
            os_hidden: image.os_hidden,
            owner: image.owner.clone(),
            disk_format: image.disk_format.clone(),
            container_format: image.container_format.clone(),
            min_ram: i128::from(image.min_ram),
            min_disk: i128::from(image.min_disk),
            tags: image.tags.clone(),
            properties: image.properties.clone(),
        }
    }
}

/// Apply `changes` to `image` and return what to save, or the first error. An empty result
/// (no operations) means: answer 200 without writing.
pub fn apply(
    image: &Image,
    changes: &[Change],
    dialect: Dialect,
    who: Patcher,
    limits: &Limits,
) -> Result<Option<ImageChanges>, ApiError> {
    if changes.is_empty() {
        return Ok(None);
    }
    let mut draft = Draft::of(image);
    for change in changes {
        apply_one(&mut draft, image.status, change, dialect, who)?;
    }
    check_quotas(&image.properties, &draft, image.tags != draft.tags, limits)?;
    check_storable(&draft)?;
    Ok(Some(diff(image, draft)))
}

fn apply_one(
    draft: &mut Draft,
    status: ImageStatus,
    change: &Change,
    dialect: Dialect,
    who: Patcher,
) -> Result<(), ApiError> {
    let root = change.root();
    let is_base = WRITABLE_BASE.contains(&root);
    let exists = is_base || draft.properties.contains_key(root);
    if root == "locations" {
        return locations_forbidden(change, who);
    }
    if root == "owner" && change.op != Op::Remove && !who.is_admin {
        return Err(ApiError::forbidden("Owner can't be updated by non admin."));
    }
    check_may_update(root, change.value.as_ref(), who)?;
    match change.op {
        Op::Replace if !exists => Err(ApiError::conflict(format!(
            "Property {root} does not exist."
        ))),
        Op::Add if exists && dialect == Dialect::Draft4 => Err(ApiError::conflict(format!(
            "Property {root} already present."
        ))),
        Op::Add | Op::Replace => {
            let value = change.value.as_ref().unwrap_or(&Value::Null);
            if is_base {
                set_base(draft, status, root, value)
            } else {
                // The schema lets strings through, and null for kernel_id & co: stored as a
                // NULL value and shown as null, as Glance does.
                draft
                    .properties
                    .insert(root.to_string(), value.as_str().map(str::to_string));
                Ok(())
            }
        }
        Op::Remove if is_base => Err(ApiError::forbidden(format!(
            "Property {root} may not be removed."
        ))),
        Op::Remove => match draft.properties.remove(root) {
            Some(_) => Ok(()),
            None => Err(ApiError::conflict(format!(
                "Property {root} does not exist."
            ))),
        },
    }
}

/// With `show_multiple_locations` off (the default) locations cannot be changed at all.
fn locations_forbidden(change: &Change, who: Patcher) -> Result<(), ApiError> {
    let message = match change.op {
        Op::Replace
            if change
                .value
                .as_ref()
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty) =>
        {
            "Cannot set locations to empty list."
        }
        Op::Replace => "It's not allowed to update locations if locations are invisible.",
        Op::Add => "It's not allowed to add locations if locations are invisible.",
        Op::Remove => {
            if !who.may_modify {
                return Err(ApiError::forbidden("You do not own this image"));
            }
            "It's not allowed to remove locations if locations are invisible."
        }
    };
    Err(ApiError::forbidden(message))
}

/// Glance's `update_property`: publicizing needs admin, then the owner-or-admin check.
fn check_may_update(root: &str, value: Option<&Value>, who: Patcher) -> Result<(), ApiError> {
    if root == "visibility" && value.and_then(Value::as_str) == Some("public") && !who.is_admin {
        return Err(ApiError::forbidden(
            "You are not authorized to complete publicize_image action.",
        ));
    }
    if who.may_modify {
        Ok(())
    } else {
        Err(ApiError::forbidden("You do not own this image"))
    }
}

fn set_base(
    draft: &mut Draft,
    status: ImageStatus,
    name: &str,
    value: &Value,
) -> Result<(), ApiError> {
    let text = || value.as_str().map(str::to_string);
    match name {
        "name" => draft.name = text(),
        "owner" => draft.owner = text(),
        "protected" => draft.protected = value.as_bool().unwrap_or(draft.protected),
        "os_hidden" => draft.os_hidden = value.as_bool().unwrap_or(draft.os_hidden),
        "visibility" => {
            if let Some(visibility) = value.as_str().and_then(Visibility::parse) {
                draft.visibility = visibility;
            }
        }
        "disk_format" | "container_format" => {
            if !matches!(status, ImageStatus::Queued | ImageStatus::Importing) {
                return Err(ApiError::forbidden(format!(
                    "Attribute {name} can be only replaced for a queued image."
                )));
            }
            if name == "disk_format" {
                draft.disk_format = text();
            } else {
                draft.container_format = text();
            }
        }
        "min_ram" | "min_disk" => {
            let number = schemas::as_integer(value).unwrap_or_default();
            check_not_negative(name, number)?;
            if name == "min_ram" {
                draft.min_ram = number;
            } else {
                draft.min_disk = number;
            }
        }
        "tags" => draft.tags = unique_tags(value),
        _ => {}
    }
    Ok(())
}

/// Glance's domain setters refuse negative minimums.
pub fn check_not_negative(name: &str, value: i128) -> Result<(), ApiError> {
    if value < 0 {
        Err(ApiError::bad_request(format!(
            "Invalid value '{value}' for parameter '{name}': Cannot be a negative value"
        )))
    } else {
        Ok(())
    }
}

/// Tags are a set: duplicates collapse, first occurrence keeps its place.
pub fn unique_tags(value: &Value) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for tag in value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_string());
        }
    }
    tags
}

/// Quotas (Glance `glance/quota`): more properties than allowed only fails when new ones are
/// added; too many tags fails whenever tags change. Negative quota = unlimited.
pub fn check_quotas(
    original: &crate::domain::Properties,
    draft: &Draft,
    tags_changed: bool,
    limits: &Limits,
) -> Result<(), ApiError> {
    let properties = draft.properties.len() as i64;
    let adds_new = draft.properties.keys().any(|k| !original.contains_key(k));
    if limits.image_property_quota >= 0 && properties > limits.image_property_quota && adds_new {
        return Err(ApiError::too_large(format!(
            "The limit has been exceeded on the number of allowed image properties. Attempted: \
             {properties}, Maximum: {}",
            limits.image_property_quota
        )));
    }
    let tags = draft.tags.len() as i64;
    if tags_changed && limits.image_tag_quota >= 0 && tags > limits.image_tag_quota {
        return Err(ApiError::too_large(format!(
            "The limit has been exceeded on the number of allowed image tags. Attempted: {tags}, \
             Maximum: {}",
            limits.image_tag_quota
        )));
    }
    Ok(())
}

/// What Glance's database layer refuses: integers beyond 2^31-1, 4-byte UTF-8.
pub fn check_storable(draft: &Draft) -> Result<(), ApiError> {
    for (name, value) in [("min_disk", draft.min_disk), ("min_ram", draft.min_ram)] {
        if value > i128::from(i32::MAX) {
            return Err(ApiError::bad_request(format!(
                "'{name}' value out of range, must not exceed {}.",
                i32::MAX
            )));
        }
    }
    let four_byte = crate::api::common::has_4byte_utf8;
    for (field, value) in [("name", &draft.name), ("owner", &draft.owner)] {
        if value.as_deref().is_some_and(four_byte) {
            return Err(ApiError::bad_request(format!(
                "{} can't contain 4 byte unicode characters.",
                python_title(field)
            )));
        }
    }
    for (key, value) in &draft.properties {
        if four_byte(key) {
            return Err(ApiError::bad_request(
                "Property names can't contain 4 byte unicode.",
            ));
        }
        if value.as_deref().is_some_and(four_byte) {
            return Err(ApiError::bad_request(format!(
                "{} can't contain 4 byte unicode characters.",
                python_title(key)
            )));
        }
    }
    if draft.tags.iter().any(|t| four_byte(t)) {
        return Err(ApiError::bad_request(
            "Param values can't contain 4 byte unicode.",
        ));
    }
    Ok(())
}

/// Python's `str.title()`: a letter after a non-letter is upper-cased, others lower-cased.
fn python_title(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_letter = false;
    for c in text.chars() {
        if c.is_alphabetic() {
            if after_letter {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
            after_letter = true;
        } else {
            out.push(c);
            after_letter = false;
        }
    }
    out
}

/// Only what differs from the stored image, so concurrent PATCHes of different properties
/// never undo each other.
fn diff(image: &Image, draft: Draft) -> ImageChanges {
    // check_storable has already bounded both minimums to i32.
    let narrow = |v: i128| i32::try_from(v).unwrap_or(i32::MAX);
    let mut changes = ImageChanges::default();
    if draft.name != image.name {
        changes.name = Some(draft.name);
    }
    if draft.visibility != image.visibility {
        changes.visibility = Some(draft.visibility);
    }
    if draft.protected != image.protected {
        changes.protected = Some(draft.protected);
    }
    if draft.os_hidden != image.os_hidden {
        changes.os_hidden = Some(draft.os_hidden);
    }
    if draft.owner != image.owner {
        changes.owner = Some(draft.owner);
    }
    if draft.disk_format != image.disk_format {
        changes.disk_format = Some(draft.disk_format);
    }
    if draft.container_format != image.container_format {
        changes.container_format = Some(draft.container_format);
    }
    if narrow(draft.min_ram) != image.min_ram {
        changes.min_ram = Some(narrow(draft.min_ram));
    }
    if narrow(draft.min_disk) != image.min_disk {
        changes.min_disk = Some(narrow(draft.min_disk));
    }
    if draft.tags != image.tags {
        changes.tags = Some(draft.tags);
    }
    for (key, value) in &draft.properties {
        if image.properties.get(key) != Some(value) {
            changes.set_properties.insert(key.clone(), value.clone());
        }
    }
    changes.remove_properties = image
        .properties
        .keys()
        .filter(|k| !draft.properties.contains_key(*k))
        .cloned()
        .collect();
    changes
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
