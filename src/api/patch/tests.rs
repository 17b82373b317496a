//! Unit tests of the PATCH logic: the op matrix, pointers, policy and quota rules.

use super::*;
use crate::config::{Service, Settings};
use serde_json::json;
use std::collections::BTreeMap;

pub(super) fn image(status: ImageStatus) -> Image {
    let now = crate::domain::now();
    Image {
        id: "09347783-2591-4fb1-96da-0255acf47d73".into(),
        name: Some("n".into()),
        size: None,
        virtual_size: None,
        status,
        visibility: Visibility::Shared,
        disk_format: None,
        container_format: None,
        checksum: None,
        os_hash_algo: None,
        os_hash_value: None,
        owner: Some("p1".into()),
        min_disk: 0,
        min_ram: 0,
        protected: false,
        os_hidden: false,
        created_at: now,
        updated_at: Some(now),
        deleted_at: None,
        deleted: false,
        properties: BTreeMap::from([("keep".to_string(), Some("1".to_string()))]),
        tags: vec!["t".into()],
        locations: vec![],
    }
}

pub(super) const OWNER: Patcher = Patcher {
    is_admin: false,
    may_modify: true,
};
const OTHER: Patcher = Patcher {
    is_admin: false,
    may_modify: false,
};
const ADMIN: Patcher = Patcher {
    is_admin: true,
    may_modify: true,
};

pub(super) fn limits() -> Limits {
    Settings::defaults(Service::Api).limits
}

fn run(
    doc: Value,
    dialect: Dialect,
    who: Patcher,
    status: ImageStatus,
) -> Result<Option<ImageChanges>, ApiError> {
    let changes = parse_document(&doc, dialect)?;
    apply(&image(status), &changes, dialect, who, &limits())
}

fn v21(doc: Value) -> Result<Option<ImageChanges>, ApiError> {
    run(doc, Dialect::Draft10, OWNER, ImageStatus::Queued)
}

fn fails(result: Result<Option<ImageChanges>, ApiError>) -> (u16, String) {
    let err = result.expect_err("must fail");
    (err.status.as_u16(), err.explanation)
}

#[test]
fn media_types() {
    assert_eq!(
        Dialect::for_content_type(MEDIA_TYPE_V21),
        Some(Dialect::Draft10)
    );
    assert_eq!(
        Dialect::for_content_type("application/openstack-images-v2.0-json-patch; charset=UTF-8"),
        Some(Dialect::Draft4)
    );
    assert_eq!(Dialect::for_content_type("application/json"), None);
    assert_eq!(Dialect::for_content_type(""), None);
}

#[test]
fn only_changes_are_saved() {
    let changes = v21(json!([
        {"op": "add", "path": "/hw_disk_bus", "value": "scsi"},
        {"op": "replace", "path": "/name", "value": "renamed"},
        {"op": "remove", "path": "/keep"},
        {"op": "replace", "path": "/tags", "value": ["a", "a", "b"]},
        {"op": "replace", "path": "/min_ram", "value": 512},
    ]))
    .expect("valid")
    .expect("something to save");
    assert_eq!(changes.name, Some(Some("renamed".into())));
    assert_eq!(
        changes.set_properties,
        BTreeMap::from([("hw_disk_bus".into(), Some("scsi".into()))])
    );
    assert_eq!(changes.remove_properties, vec!["keep".to_string()]);
    assert_eq!(changes.tags, Some(vec!["a".into(), "b".into()]));
    assert_eq!(changes.min_ram, Some(512));
    assert_eq!(changes.visibility, None);
    assert_eq!(changes.owner, None);
}

#[test]
fn empty_document_writes_nothing() {
    assert_eq!(v21(json!([])).expect("valid"), None);
    assert_eq!(
        run(json!([]), Dialect::Draft10, OTHER, ImageStatus::Active).expect("valid"),
        None
    );
}

#[test]
fn op_matrix() {
    assert_eq!(
        fails(v21(
            json!([{"op": "replace", "path": "/missing", "value": "x"}])
        )),
        (409, "Property missing does not exist.".into())
    );
    assert_eq!(
        fails(v21(json!([{"op": "remove", "path": "/missing"}]))),
        (409, "Property missing does not exist.".into())
    );
    assert_eq!(
        fails(v21(json!([{"op": "remove", "path": "/name"}]))),
        (403, "Property name may not be removed.".into())
    );
    // 2.1 add overwrites; 2.0 add on anything present is a conflict.
    let overwrite = v21(json!([{"op": "add", "path": "/keep", "value": "2"}])).expect("valid");
    assert_eq!(
        overwrite
            .expect("saved")
            .set_properties
            .get("keep")
            .cloned()
            .flatten()
            .as_deref(),
        Some("2")
    );
    assert!(v21(json!([{"op": "add", "path": "/name", "value": "m"}])).is_ok());
    let v20 = |doc| run(doc, Dialect::Draft4, OWNER, ImageStatus::Queued);
    assert_eq!(
        fails(v20(json!([{"add": "/keep", "value": "2"}]))),
        (409, "Property keep already present.".into())
    );
    assert_eq!(fails(v20(json!([{"add": "/name", "value": "m"}]))).0, 409);
    assert!(v20(json!([{"add": "/new", "value": "v"}, {"replace": "/name", "value": null}, {"remove": "/keep"}])).is_ok());
}

#[test]
fn an_error_anywhere_aborts_everything() {
    let result = v21(json!([
        {"op": "replace", "path": "/name", "value": "ok"},
        {"op": "replace", "path": "/nope", "value": "x"},
    ]));
    assert_eq!(fails(result).0, 409);
    // A read-only path later in the document wins over an earlier conflict (parse first).
    let result = v21(json!([
        {"op": "replace", "path": "/nope", "value": "x"},
        {"op": "replace", "path": "/status", "value": "active"},
    ]));
    assert_eq!(
        fails(result),
        (403, "Attribute 'status' is read-only.".into())
    );
}

#[test]
fn forbidden_paths_and_values() {
    for path in [
        "/status",
        "/checksum",
        "/id",
        "/size",
        "/self",
        "/os_hash_value",
    ] {
        let result = v21(json!([{"op": "replace", "path": path, "value": "x"}]));
        assert_eq!(fails(result).0, 403, "{path}");
    }
    for path in ["/deleted", "/location", "/os_glance_foo"] {
        let (status, message) = fails(v21(json!([{"op": "add", "path": path, "value": "x"}])));
        assert_eq!(status, 403);
        assert!(message.ends_with("is reserved."), "{message}");
    }
    assert_eq!(
        fails(v21(
            json!([{"op": "replace", "path": "/min_ram", "value": -1}])
        ))
        .0,
        400
    );
    assert_eq!(
        fails(v21(
            json!([{"op": "replace", "path": "/min_ram", "value": 2_147_483_648_i64}])
        ))
        .0,
        400
    );
    assert_eq!(
        fails(v21(json!([{"op": "add", "path": "/x", "value": 5}]))).0,
        400
    );
    assert_eq!(
        fails(v21(
            json!([{"op": "replace", "path": "/visibility", "value": "secret"}])
        ))
        .0,
        400
    );
    assert_eq!(
        fails(v21(
            json!([{"op": "add", "path": "/x", "value": "\u{1F600}"}])
        ))
        .0,
        400
    );
    assert_eq!(
        fails(v21(
            json!([{"op": "replace", "path": "/tags", "value": ["\u{1F600}"]}])
        )),
        (400, "Param values can't contain 4 byte unicode.".into())
    );
}

#[test]
fn who_may_do_what() {
    let public = json!([{"op": "replace", "path": "/visibility", "value": "public"}]);
    assert_eq!(
        fails(run(
            public.clone(),
            Dialect::Draft10,
            OWNER,
            ImageStatus::Queued
        )),
        (
            403,
            "You are not authorized to complete publicize_image action.".into()
        )
    );
    assert!(run(public, Dialect::Draft10, ADMIN, ImageStatus::Queued).is_ok());
    let community = json!([{"op": "replace", "path": "/visibility", "value": "community"}]);
    assert!(run(community, Dialect::Draft10, OWNER, ImageStatus::Queued).is_ok());
    let owner = json!([{"op": "replace", "path": "/owner", "value": "p2"}]);
    assert_eq!(
        fails(run(
            owner.clone(),
            Dialect::Draft10,
            OWNER,
            ImageStatus::Queued
        )),
        (403, "Owner can't be updated by non admin.".into())
    );
    assert!(run(owner, Dialect::Draft10, ADMIN, ImageStatus::Queued).is_ok());
    let rename = json!([{"op": "replace", "path": "/name", "value": "x"}]);
    assert_eq!(
        fails(run(rename, Dialect::Draft10, OTHER, ImageStatus::Queued)),
        (403, "You do not own this image".into())
    );
}

#[test]
fn formats_only_while_queued() {
    let doc = json!([{"op": "replace", "path": "/disk_format", "value": "qcow2"}]);
    assert!(run(doc.clone(), Dialect::Draft10, OWNER, ImageStatus::Queued).is_ok());
    assert!(run(doc.clone(), Dialect::Draft10, OWNER, ImageStatus::Importing).is_ok());
    assert_eq!(
        fails(run(doc, Dialect::Draft10, ADMIN, ImageStatus::Active)),
        (
            403,
            "Attribute disk_format can be only replaced for a queued image.".into()
        )
    );
}

#[test]
fn locations_are_invisible() {
    assert_eq!(
        fails(v21(
            json!([{"op": "replace", "path": "/locations", "value": []}])
        )),
        (403, "Cannot set locations to empty list.".into())
    );
    let add = json!([{"op": "add", "path": "/locations/-", "value": {"url": "file:///x", "metadata": {}}}]);
    assert_eq!(fails(v21(add)).0, 403);
    assert_eq!(
        fails(v21(json!([{"op": "remove", "path": "/locations/0"}]))).0,
        403
    );
}

#[test]
fn document_shape_errors() {
    let bad = |doc: Value, dialect| {
        let err = parse_document(&doc, dialect).expect_err("must fail");
        (err.status.as_u16(), err.explanation)
    };
    let d10 = Dialect::Draft10;
    assert_eq!(
        bad(json!({}), d10),
        (
            400,
            "Request body must be a JSON array of operation objects.".into()
        )
    );
    assert_eq!(
        bad(json!([1]), d10),
        (400, "Operations must be JSON objects.".into())
    );
    assert!(bad(json!([{"path": "/a"}]), d10)
        .1
        .starts_with("Unable to find `op` in JSON Schema change."));
    assert_eq!(
        bad(json!([{"op": "move", "path": "/a"}]), d10).1,
        "Invalid operation: `move`. It must be one of the following: add, remove, replace."
    );
    assert_eq!(
        bad(json!([{"op": "add"}]), d10).1,
        "Unable to find 'path' in JSON Schema change"
    );
    assert_eq!(
        bad(json!([{"op": "add", "path": "/a"}]), d10).1,
        "Operation \"add\" requires a member named \"value\"."
    );
    assert_eq!(
        bad(json!([{"op": "remove", "path": "a"}]), d10).1,
        "Pointer `a` does not start with \"/\"."
    );
    assert_eq!(
        bad(json!([{"op": "remove", "path": "/a//b"}]), d10).1,
        "Pointer `/a//b` contains adjacent \"/\"."
    );
    assert_eq!(
        bad(json!([{"op": "remove", "path": "/a/"}]), d10).1,
        "Pointer `/a/` end with \"/\"."
    );
    assert!(bad(json!([{"op": "remove", "path": "/a~2"}]), d10)
        .1
        .contains("recognized escape sequence"));
    assert_eq!(
        bad(json!([{"op": "remove", "path": "/a/b"}]), d10).1,
        "Invalid JSON pointer for this resource: '/a/b'"
    );
    assert_eq!(
        bad(
            json!([{"op": "replace", "path": "/locations/0", "value": {}}]),
            d10
        )
        .0,
        400
    );
    let d4 = Dialect::Draft4;
    assert!(
        bad(json!([{"add": "/a", "remove": "/a", "value": "x"}]), d4)
            .1
            .contains("only one member")
    );
    assert!(bad(json!([{"op": "add", "path": "/a"}]), d4)
        .1
        .contains("exactly one member"));
    let many: Vec<Value> = (0..=MAX_OPERATIONS)
        .map(|_| json!({"op": "remove", "path": "/a"}))
        .collect();
    assert_eq!(bad(Value::Array(many), d10).0, 413);
}

#[test]
fn pointers_decode() {
    let changes = parse_document(&json!([{"op": "add", "path": "/a~1b~0c", "value": "x"}, {"op": "add", "path": "/ spaced ", "value": "y"}]), Dialect::Draft10)
        .expect("valid");
    assert_eq!(changes[0].path, vec!["a/b~c".to_string()]);
    assert_eq!(changes[1].path, vec!["spaced".to_string()]);
}

#[test]
fn quotas() {
    let mut limits = limits();
    limits.image_property_quota = 1;
    limits.image_tag_quota = 1;
    let img = image(ImageStatus::Queued);
    let add = parse_document(
        &json!([{"op": "add", "path": "/new", "value": "v"}]),
        Dialect::Draft10,
    )
    .expect("valid");
    assert_eq!(
        apply(&img, &add, Dialect::Draft10, OWNER, &limits)
            .expect_err("quota")
            .status
            .as_u16(),
        413
    );
    let tags = parse_document(
        &json!([{"op": "replace", "path": "/tags", "value": ["a", "b"]}]),
        Dialect::Draft10,
    )
    .expect("valid");
    assert_eq!(
        apply(&img, &tags, Dialect::Draft10, OWNER, &limits)
            .expect_err("quota")
            .status
            .as_u16(),
        413
    );
    let same_count = parse_document(
        &json!([{"op": "replace", "path": "/keep", "value": "2"}]),
        Dialect::Draft10,
    )
    .expect("valid");
    assert!(apply(&img, &same_count, Dialect::Draft10, OWNER, &limits).is_ok());
}

#[test]
fn null_for_typed_properties_stores_null_as_glance() {
    let mut img = image(ImageStatus::Queued);
    img.properties.insert(
        "ramdisk_id".into(),
        Some("09347783-2591-4fb1-96da-0255acf47d73".into()),
    );
    let doc = json!([
        {"op": "add", "path": "/kernel_id", "value": null},
        {"op": "replace", "path": "/ramdisk_id", "value": null},
    ]);
    let changes = parse_document(&doc, Dialect::Draft10).expect("valid");
    let saved = apply(&img, &changes, Dialect::Draft10, OWNER, &limits())
        .expect("valid")
        .expect("something to save");
    assert_eq!(
        saved.set_properties,
        BTreeMap::from([("kernel_id".into(), None), ("ramdisk_id".into(), None)])
    );
    assert!(saved.remove_properties.is_empty());
    assert_eq!(
        fails(v21(json!([{"op": "add", "path": "/plain", "value": null}]))).0,
        400
    );
}

#[test]
fn titles() {
    assert_eq!(python_title("os_distro"), "Os_Distro");
    assert_eq!(python_title("name"), "Name");
}
