use super::validator::is_type;
use super::*;

#[test]
fn the_disk_format_enum_is_the_configured_list() {
    let default: Vec<String> = DISK_FORMATS.iter().map(|f| f.to_string()).collect();
    assert_eq!(
        with_disk_formats(&IMAGE_SCHEMA, &default, &["properties"]),
        None
    );
    let only = vec!["qcow2".to_string(), "raw".to_string()];
    let image = with_disk_formats(&IMAGE_SCHEMA, &only, &["properties"]).expect("changed");
    assert_eq!(
        image["properties"]["disk_format"]["enum"],
        json!([null, "qcow2", "raw"])
    );
    let at = ["properties", "images", "items", "properties"];
    let images = with_disk_formats(&IMAGES_SCHEMA, &only, &at).expect("changed");
    assert_eq!(
        images["properties"]["images"]["items"]["properties"]["disk_format"]["enum"],
        json!([null, "qcow2", "raw"])
    );
    // Everything else is the static schema.
    let mut back = image.clone();
    back["properties"]["disk_format"]["enum"] =
        IMAGE_SCHEMA["properties"]["disk_format"]["enum"].clone();
    assert_eq!(back, *IMAGE_SCHEMA);
}

#[test]
fn image_schema_shape() {
    let schema = &*IMAGE_SCHEMA;
    assert_eq!(schema["name"], "image");
    assert_eq!(schema["additionalProperties"], json!({"type": "string"}));
    let props = schema["properties"].as_object().expect("properties");
    for base in [
        "id",
        "name",
        "status",
        "visibility",
        "tags",
        "min_ram",
        "locations",
    ] {
        assert!(
            props[base].get("is_base").is_none(),
            "{base} must look like a base prop"
        );
    }
    for custom in [
        "kernel_id",
        "os_distro",
        "description",
        "cinder_encryption_key_deletion_policy",
    ] {
        assert_eq!(props[custom]["is_base"], false);
    }
    assert_eq!(props["disk_format"]["enum"][0], Value::Null);
    assert_eq!(props["status"]["readOnly"], true);
}

#[test]
fn validation_messages_follow_jsonschema() {
    let err = |v: Value| validate(&IMAGE_SCHEMA, &v).expect_err("must fail");
    assert_eq!(
        err(json!({"disk_format": "nope"})),
        "'nope' is not one of [None, 'ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', \
         'qcow2', 'vdi', 'iso', 'ploop']"
    );
    assert_eq!(err(json!({"min_ram": "1"})), "'1' is not of type 'integer'");
    assert_eq!(err(json!({"name": 5})), "5 is not of type 'null', 'string'");
    assert_eq!(err(json!({"foo": 5})), "5 is not of type 'string'");
    assert_eq!(err(json!({"foo": null})), "None is not of type 'string'");
    assert_eq!(
        err(json!({"protected": "yes"})),
        "'yes' is not of type 'boolean'"
    );
    assert!(err(json!({"id": "abc"})).starts_with("'abc' does not match '^([0-9a-fA-F])"));
    assert_eq!(err(json!({"tags": ["a", 1]})), "1 is not of type 'string'");
    assert!(err(json!({"name": "x".repeat(256)})).ends_with("is too long"));
    assert_eq!(
        err(json!({"cinder_encryption_key_deletion_policy": "x"})),
        "'x' is not one of ['on_image_deletion', 'do_not_delete']"
    );
    assert_eq!(
        err(json!({"locations": [{"url": "x"}]})),
        "'metadata' is a required property"
    );
}

/// Each message real Glance 33.0.0 gave for a create body (recorded by
/// tests/fixtures/real-glance-33/record.sh), ours word for word.
#[test]
fn validation_messages_are_real_glance_33s() {
    let recorded = include_str!("../../../tests/fixtures/real-glance-33/schema-messages.tsv");
    let prefix = "Provided object does not match schema 'image': ";
    let mut compared = 0;
    for line in recorded.lines().filter(|l| !l.starts_with('#')) {
        let mut fields = line.splitn(3, '\t');
        let (body, status, message) = (fields.next(), fields.next(), fields.next());
        let body: Value = serde_json::from_str(body.unwrap_or_default()).expect("a body");
        assert_eq!(status, Some("400"), "{line}");
        // Glance refuses some bodies outside the schema (a negative min_disk).
        let Some(expected) = message.and_then(|m| m.strip_prefix(prefix)) else {
            continue;
        };
        let ours = validate(&IMAGE_SCHEMA, &body).expect_err("Glance refused it");
        assert_eq!(ours, expected, "{body}");
        compared += 1;
    }
    assert!(compared >= 12, "only {compared} recorded messages");
}

#[test]
fn validation_accepts_good_documents() {
    let ok = json!({
        "id": "09347783-2591-4fb1-96da-0255acf47D73",
        "name": null, "disk_format": null, "container_format": "bare",
        "visibility": "community", "min_ram": 1.0, "tags": ["a"], "kernel_id": null,
        "os_distro": "debian", "x": "y",
    });
    assert_eq!(validate(&IMAGE_SCHEMA, &ok), Ok(()));
    assert!(!is_type(&json!(true), "integer"));
    assert!(!is_type(&json!(1.5), "integer"));
}

#[test]
fn python_repr() {
    assert_eq!(py_repr_str("it's"), "\"it's\"");
    assert_eq!(py_repr_str("a'b\"c"), "'a\\'b\"c'");
    assert_eq!(py_repr(&json!({"a": [true, null]})), "{'a': [True, None]}");
}

#[test]
fn uuid_check() {
    assert!(is_uuid("09347783-2591-4fb1-96da-0255acf47d73"));
    assert!(!is_uuid("09347783-2591-4fb1-96da-0255acf47d7"));
    assert!(!is_uuid("0934778g-2591-4fb1-96da-0255acf47d73"));
    assert!(!is_uuid("not-a-uuid"));
}
