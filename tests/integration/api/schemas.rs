//! `/v2/schemas/*`: what python-glanceclient downloads to validate input and build PATCH
//! documents.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{create_image, expect_json};
use crate::support::server::TestServer;

async fn schema(server: &TestServer, name: &str) -> Value {
    let response = server
        .client
        .get(server.url(&format!("/v2/schemas/{name}")))
        .send()
        .await
        .expect("request");
    assert_eq!(response.headers()["content-type"], "application/json");
    expect_json(response, StatusCode::OK).await
}

#[tokio::test]
async fn image_schema_describes_what_images_look_like() {
    let server = TestServer::start().await;
    let image_schema = schema(&server, "image").await;
    assert_eq!(image_schema["name"], "image");
    assert_eq!(
        image_schema["additionalProperties"],
        json!({"type": "string"})
    );
    assert_eq!(
        image_schema["links"],
        json!([{"rel": "self", "href": "{self}"}, {"rel": "enclosure", "href": "{file}"},
               {"rel": "describedby", "href": "{schema}"}])
    );
    let properties = image_schema["properties"].as_object().expect("properties");

    // Every attribute a rendered image carries is a base property (no is_base flag), and its
    // value fits the declared type.
    let image = create_image(
        &server,
        &Default::default(),
        json!({"name": "s", "os_distro": "x"}),
    )
    .await;
    for (key, value) in image.as_object().expect("object") {
        let Some(declared) = properties.get(key) else {
            assert_eq!(key, "os_distro");
            continue;
        };
        let types: Vec<&str> = match &declared["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            other => panic!("{key}: odd type {other}"),
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "integer",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        assert!(types.contains(&actual), "{key}: {actual} not in {types:?}");
        if key != "os_distro" {
            assert!(
                declared.get("is_base").is_none(),
                "{key} must count as a base property"
            );
        }
    }
    for typed in [
        "kernel_id",
        "ramdisk_id",
        "instance_uuid",
        "architecture",
        "os_distro",
        "os_version",
        "description",
        "cinder_encryption_key_id",
        "cinder_encryption_key_deletion_policy",
    ] {
        assert_eq!(properties[typed]["is_base"], false, "{typed}");
    }
    for read_only in [
        "status",
        "checksum",
        "size",
        "virtual_size",
        "created_at",
        "updated_at",
        "self",
        "file",
        "schema",
        "os_hash_algo",
        "os_hash_value",
        "direct_url",
    ] {
        assert_eq!(properties[read_only]["readOnly"], true, "{read_only}");
    }
    assert_eq!(properties["disk_format"]["enum"][0], Value::Null);
    assert!(properties["disk_format"]["enum"]
        .as_array()
        .expect("enum")
        .contains(&json!("qcow2")));
    assert_eq!(
        properties["container_format"]["type"],
        json!(["null", "string"])
    );
    assert_eq!(
        properties["visibility"]["enum"],
        json!(["community", "public", "private", "shared"])
    );
    assert_eq!(
        properties["id"]["pattern"],
        properties["kernel_id"]["pattern"]
    );
}

#[tokio::test]
async fn collection_and_member_schemas() {
    let server = TestServer::start().await;
    let image_schema = schema(&server, "image").await;
    let images = schema(&server, "images").await;
    assert_eq!(images["name"], "images");
    assert_eq!(
        images["properties"]["images"],
        json!({"type": "array", "items": image_schema})
    );
    for link in ["first", "next", "schema"] {
        assert_eq!(images["properties"][link], json!({"type": "string"}));
    }
    assert_eq!(images["links"][1], json!({"rel": "next", "href": "{next}"}));

    let member = schema(&server, "member").await;
    assert_eq!(member["name"], "member");
    assert_eq!(
        member["properties"]["status"]["enum"],
        json!(["pending", "accepted", "rejected"])
    );
    for key in [
        "member_id",
        "image_id",
        "created_at",
        "updated_at",
        "schema",
    ] {
        assert!(member["properties"].get(key).is_some(), "{key}");
    }
    let members = schema(&server, "members").await;
    assert_eq!(
        members["properties"]["members"],
        json!({"type": "array", "items": member})
    );
    assert_eq!(
        members["links"],
        json!([{"rel": "describedby", "href": "{schema}"}])
    );
}

#[tokio::test]
async fn schemas_take_no_body() {
    let server = TestServer::start().await;
    let response = server
        .client
        .get(server.url("/v2/schemas/image"))
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

/// Like every /v2 route, schemas sit behind Glance's context middleware: in trusted-auth mode a
/// request without `X-Identity-Status: Confirmed` is refused.
#[tokio::test]
async fn schemas_need_an_identity_in_trusted_auth() {
    let server = TestServer::trusted().await;
    for path in [
        "/v2/schemas/image",
        "/v2/schemas/members",
        "/v2/info/import",
    ] {
        let anonymous = server
            .client
            .get(server.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(anonymous.status(), 401, "{path} without identity");
        let known = server
            .client
            .get(server.url(path))
            .headers(crate::support::server::identity("p1", "member"))
            .send()
            .await
            .expect("request");
        assert_eq!(known.status(), 200, "{path} with identity");
    }
}
