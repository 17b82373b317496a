//! `/v2/schemas/{image,images,member,members}` and the one validator that checks image
//! bodies and PATCH values against the same image schema clients download.
//!
//! The schema mirrors Glance 33's (`glance/api/v2/images.py` get_base_properties, the shipped
//! `etc/schema-image.json`, `glance/schema.py` raw/minimal). python-glanceclient builds PATCH
//! documents from it, so base properties carry no `is_base` and the typed optional ones carry
//! `"is_base": false`.

use std::sync::LazyLock;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Value};

use crate::api::auth::Caller;
use crate::api::{common, json, State};
use crate::error::ApiError;

mod validator;
#[cfg(test)]
pub use validator::is_uuid;
pub use validator::{as_integer, py_repr, py_repr_str, validate};

/// The id pattern Glance's schemas use; the validator checks it by hand (no regex engine).
pub const UUID_PATTERN: &str =
    "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$";

/// `[image_format] disk_formats` and `container_formats` defaults.
pub const DISK_FORMATS: &[&str] = &[
    "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop",
];
pub const CONTAINER_FORMATS: &[&str] = &[
    "ami",
    "ari",
    "aki",
    "bare",
    "ovf",
    "ova",
    "docker",
    "compressed",
];

fn format_enum(formats: &[&str]) -> Value {
    let mut values = vec![Value::Null];
    values.extend(formats.iter().map(|f| json!(f)));
    Value::Array(values)
}

fn base_properties() -> Value {
    let properties = [
        (
            "id",
            json!({
                "type": "string",
                "description": "An identifier for the image",
                "pattern": UUID_PATTERN,
            }),
        ),
        (
            "name",
            json!({
                "type": ["null", "string"],
                "description": "Descriptive name for the image",
                "maxLength": 255,
            }),
        ),
        (
            "status",
            json!({
                "type": "string",
                "readOnly": true,
                "description": "Status of the image",
                "enum": ["queued", "saving", "active", "killed", "deleted", "uploading",
                         "importing", "pending_delete", "deactivated"],
            }),
        ),
        (
            "visibility",
            json!({
                "type": "string",
                "description": "Scope of image accessibility",
                "enum": ["community", "public", "private", "shared"],
            }),
        ),
        (
            "protected",
            json!({
                "type": "boolean",
                "description": "If true, image will not be deletable.",
            }),
        ),
        (
            "os_hidden",
            json!({
                "type": "boolean",
                "description": "If true, image will not appear in default image list response.",
            }),
        ),
        (
            "checksum",
            json!({
                "type": ["null", "string"],
                "readOnly": true,
                "description": "md5 hash of image contents.",
                "maxLength": 32,
            }),
        ),
        (
            "os_hash_algo",
            json!({
                "type": ["null", "string"],
                "readOnly": true,
                "description": "Algorithm to calculate the os_hash_value",
                "maxLength": 64,
            }),
        ),
        (
            "os_hash_value",
            json!({
                "type": ["null", "string"],
                "readOnly": true,
                "description": "Hexdigest of the image contents using the algorithm specified by \
                                the os_hash_algo",
                "maxLength": 128,
            }),
        ),
        (
            "owner",
            json!({
                "type": ["null", "string"],
                "description": "Owner of the image",
                "maxLength": 255,
            }),
        ),
        (
            "size",
            json!({
                "type": ["null", "integer"],
                "readOnly": true,
                "description": "Size of image file in bytes",
            }),
        ),
        (
            "virtual_size",
            json!({
                "type": ["null", "integer"],
                "readOnly": true,
                "description": "Virtual size of image in bytes",
            }),
        ),
        (
            "container_format",
            json!({
                "type": ["null", "string"],
                "description": "Format of the container",
                "enum": format_enum(CONTAINER_FORMATS),
            }),
        ),
        (
            "disk_format",
            json!({
                "type": ["null", "string"],
                "description": "Format of the disk",
                "enum": format_enum(DISK_FORMATS),
            }),
        ),
        (
            "created_at",
            json!({
                "type": "string",
                "readOnly": true,
                "description": "Date and time of image registration",
            }),
        ),
        (
            "updated_at",
            json!({
                "type": "string",
                "readOnly": true,
                "description": "Date and time of the last image modification",
            }),
        ),
        (
            "tags",
            json!({
                "type": "array",
                "description": "List of strings related to the image",
                "items": {"type": "string", "maxLength": 255},
            }),
        ),
        (
            "direct_url",
            json!({
                "type": "string",
                "readOnly": true,
                "description": "URL to access the image file kept in external store",
            }),
        ),
        (
            "min_ram",
            json!({
                "type": "integer",
                "description": "Amount of ram (in MB) required to boot image.",
            }),
        ),
        (
            "min_disk",
            json!({
                "type": "integer",
                "description": "Amount of disk space (in GB) required to boot image.",
            }),
        ),
        (
            "self",
            json!({"type": "string", "readOnly": true, "description": "An image self url"}),
        ),
        (
            "file",
            json!({"type": "string", "readOnly": true, "description": "An image file url"}),
        ),
        (
            "stores",
            json!({
                "type": "string",
                "readOnly": true,
                "description": "Store in which image data resides.  Only present when the operator \
                                has enabled multiple stores.  May be a comma-separated list of store \
                                identifiers.",
            }),
        ),
        (
            "schema",
            json!({"type": "string", "readOnly": true, "description": "An image schema url"}),
        ),
        (
            "locations",
            json!({
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "url": {"type": "string", "maxLength": 255},
                        "metadata": {"type": "object"},
                        "validation_data": {
                            "description": "Values to be used to populate the corresponding image \
                                            properties. If the image status is not 'queued', values \
                                            must exactly match those already contained in the image \
                                            properties.",
                            "type": "object",
                            "writeOnly": true,
                            "additionalProperties": false,
                            "properties": {
                                "checksum": {"type": "string", "minLength": 32, "maxLength": 32},
                                "os_hash_algo": {"type": "string", "maxLength": 64},
                                "os_hash_value": {"type": "string", "maxLength": 128},
                            },
                            "required": ["os_hash_algo", "os_hash_value"],
                        },
                    },
                    "required": ["url", "metadata"],
                },
                "description": "A set of URLs to access the image file kept in external store",
            }),
        ),
    ];
    Value::Object(
        properties
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// The shipped `etc/schema-image.json` ("common image properties"), stored as strings.
fn typed_custom_properties() -> Value {
    const PROPERTY_KEYS_DOC: &str =
        "https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html";
    json!({
        "kernel_id": {
            "type": ["null", "string"],
            "pattern": UUID_PATTERN,
            "description": "ID of image stored in Glance that should be used as the kernel when \
                            booting an AMI-style image.",
            "is_base": false,
        },
        "ramdisk_id": {
            "type": ["null", "string"],
            "pattern": UUID_PATTERN,
            "description": "ID of image stored in Glance that should be used as the ramdisk when \
                            booting an AMI-style image.",
            "is_base": false,
        },
        "instance_uuid": {
            "type": "string",
            "description": "Metadata which can be used to record which instance this image is \
                            associated with. (Informational only, does not create an instance \
                            snapshot.)",
            "is_base": false,
        },
        "architecture": {
            "description": format!("Operating system architecture as specified in {PROPERTY_KEYS_DOC}"),
            "type": "string",
            "is_base": false,
        },
        "os_distro": {
            "description": format!(
                "Common name of operating system distribution as specified in {PROPERTY_KEYS_DOC}"
            ),
            "type": "string",
            "is_base": false,
        },
        "os_version": {
            "description": "Operating system version as specified by the distributor.",
            "type": "string",
            "is_base": false,
        },
        "description": {
            "description": "A human-readable string describing this image.",
            "type": "string",
            "is_base": false,
        },
        "cinder_encryption_key_id": {
            "description": "Identifier in the OpenStack Key Management Service for the encryption \
                            key for the Block Storage Service to use when mounting a volume \
                            created from this image",
            "type": "string",
            "is_base": false,
        },
        "cinder_encryption_key_deletion_policy": {
            "description": "States the condition under which the Image Service will delete the \
                            object associated with the 'cinder_encryption_key_id' image property.  \
                            If this property is missing, the Image Service will take no action",
            "type": "string",
            "enum": ["on_image_deletion", "do_not_delete"],
            "is_base": false,
        },
    })
}

/// `GET /v2/schemas/image`: Glance's PermissiveSchema `raw()`.
pub static IMAGE_SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    let mut properties = base_properties();
    if let (Some(base), Value::Object(custom)) =
        (properties.as_object_mut(), typed_custom_properties())
    {
        base.extend(custom);
    }
    json!({
        "name": "image",
        "properties": properties,
        "additionalProperties": {"type": "string"},
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    })
});

static IMAGES_SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": *IMAGE_SCHEMA},
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    })
});

/// Glance serves the member schemas `minimal()`: no `additionalProperties`, no links.
static MEMBER_SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "name": "member",
        "properties": {
            "created_at": {
                "type": "string",
                "description": "Date and time of image member creation",
            },
            "image_id": {
                "type": "string",
                "description": "An identifier for the image",
                "pattern": UUID_PATTERN,
            },
            "member_id": {
                "type": "string",
                "description": "An identifier for the image member (tenantId)",
            },
            "schema": {"type": "string", "readOnly": true},
            "status": {
                "type": "string",
                "description": "The status of this image member",
                "enum": ["pending", "accepted", "rejected"],
            },
            "updated_at": {
                "type": "string",
                "description": "Date and time of last modification of image member",
            },
        },
    })
});

static MEMBERS_SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "name": "members",
        "properties": {
            "members": {"type": "array", "items": *MEMBER_SCHEMA},
            "schema": {"type": "string"},
        },
        "links": [{"rel": "describedby", "href": "{schema}"}],
    })
});

/// The `Caller` argument of the handlers below: behind Glance's context middleware like every
/// /v2 route, identity comes first (401).
fn serve(req: &HttpRequest, schema: &Value) -> Result<HttpResponse, ApiError> {
    common::reject_body(req)?;
    Ok(json::respond(StatusCode::OK, schema))
}

pub async fn image(_: Caller, req: HttpRequest, state: State) -> Result<HttpResponse, ApiError> {
    let formats = &state.settings.image_format.disk_formats;
    match with_disk_formats(&IMAGE_SCHEMA, formats, &["properties"]) {
        Some(schema) => serve(&req, &schema),
        None => serve(&req, &IMAGE_SCHEMA),
    }
}

pub async fn images(_: Caller, req: HttpRequest, state: State) -> Result<HttpResponse, ApiError> {
    let formats = &state.settings.image_format.disk_formats;
    let at = ["properties", "images", "items", "properties"];
    match with_disk_formats(&IMAGES_SCHEMA, formats, &at) {
        Some(schema) => serve(&req, &schema),
        None => serve(&req, &IMAGES_SCHEMA),
    }
}

/// Glance builds the `disk_format` enum from `image_format.disk_formats`: the schema with the
/// configured list (and null) at `path` → `disk_format`, or `None` when it is the default list.
fn with_disk_formats(schema: &Value, formats: &[String], path: &[&str]) -> Option<Value> {
    if formats
        .iter()
        .map(String::as_str)
        .eq(DISK_FORMATS.iter().copied())
    {
        return None;
    }
    let mut schema = schema.clone();
    let mut node = &mut schema;
    for key in path {
        node = node.get_mut(*key)?;
    }
    let listed: Vec<&str> = formats.iter().map(String::as_str).collect();
    *node.get_mut("disk_format")?.get_mut("enum")? = format_enum(&listed);
    Some(schema)
}

pub async fn member(_: Caller, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve(&req, &MEMBER_SCHEMA)
}

pub async fn members(_: Caller, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve(&req, &MEMBERS_SCHEMA)
}

/// Validate a (partial) image document against the image schema; the error is Glance's 400
/// "Provided object does not match schema 'image': …" with jsonschema's first line.
pub fn validate_image(instance: &Value) -> Result<(), ApiError> {
    validate(&IMAGE_SCHEMA, instance).map_err(|reason| {
        ApiError::bad_request(format!(
            "Provided object does not match schema 'image': {reason}"
        ))
    })
}

/// `image_format.disk_formats` (Glance builds the schema's enum from it): a `disk_format`
/// outside the configured list gets the schema's enum message, listing that list.
pub fn check_disk_format(value: Option<&str>, allowed: &[String]) -> Result<(), ApiError> {
    match value {
        Some(format) if !allowed.iter().any(|a| a == format) => {
            let mut options = vec![Value::Null];
            options.extend(allowed.iter().map(|a| json!(a)));
            Err(ApiError::bad_request(format!(
                "Provided object does not match schema 'image': {} is not one of {}",
                py_repr_str(format),
                py_repr(&Value::Array(options))
            )))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
