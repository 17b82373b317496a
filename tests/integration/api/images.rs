//! `POST /v2/images`, `GET` and `DELETE /v2/images/{id}`: defaults, refusals, error bodies,
//! who may see and delete what (§12 checks 2, 3, 14, 15).

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{admin_of, create_image, database, expect_error, expect_json, get, member_of};
use crate::support::server::{identity, TestServer};

const BASE_KEYS: &[&str] = &[
    "name",
    "disk_format",
    "container_format",
    "visibility",
    "size",
    "virtual_size",
    "status",
    "checksum",
    "protected",
    "min_ram",
    "min_disk",
    "owner",
    "os_hidden",
    "os_hash_algo",
    "os_hash_value",
    "id",
    "created_at",
    "updated_at",
    "tags",
    "self",
    "file",
    "schema",
];

fn is_glance_time(text: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ").is_ok()
}

async fn post(server: &TestServer, headers: &HeaderMap, body: &str) -> reqwest::Response {
    server
        .client
        .post(server.url("/v2/images"))
        .headers(headers.clone())
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn create_empty_body_gets_every_default() {
    let server = TestServer::start().await;
    let response = post(&server, &HeaderMap::new(), "{}").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    // Glance 33's default methods, all carried out.
    assert_eq!(
        response.headers()["openstack-image-import-methods"],
        "glance-direct,web-download,copy-image"
    );
    // The enabled stores in multi-store; none in single-store (as Glance: only with
    // enabled_backends).
    let store_ids = response
        .headers()
        .get("openstack-image-store-ids")
        .map(|v| v.to_str().expect("ascii").to_string());
    let expected = match crate::support::s3::test_store() {
        crate::support::s3::TestStore::File => None,
        crate::support::s3::TestStore::S3 => Some("s3".to_string()),
        crate::support::s3::TestStore::FileAndS3 => Some("file,s3".to_string()),
    };
    assert_eq!(store_ids, expected);
    assert_eq!(response.headers()["content-type"], "application/json");
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_string();
    let text = response.text().await.expect("body");
    let image: Value = serde_json::from_str(&text).expect("json");
    let id = image["id"].as_str().expect("id");
    assert_eq!(location, format!("{}/v2/images/{id}", server.base));
    assert_eq!(image["status"], "queued");
    assert_eq!(image["visibility"], "shared");
    assert_eq!(image["protected"], false);
    assert_eq!(image["os_hidden"], false);
    assert_eq!(
        (image["min_ram"].as_i64(), image["min_disk"].as_i64()),
        (Some(0), Some(0))
    );
    for null in [
        "name",
        "disk_format",
        "container_format",
        "size",
        "virtual_size",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "owner",
    ] {
        assert_eq!(
            image[null],
            Value::Null,
            "{null} (noauth owner is null too)"
        );
    }
    assert_eq!(image["tags"], json!([]));
    assert_eq!(image["self"], format!("/v2/images/{id}"));
    assert_eq!(image["file"], format!("/v2/images/{id}/file"));
    assert_eq!(image["schema"], "/v2/schemas/image");
    assert!(is_glance_time(
        image["created_at"].as_str().expect("created_at")
    ));
    assert!(is_glance_time(
        image["updated_at"].as_str().expect("updated_at")
    ));
    // Glance's key order and Python separators.
    let positions: Vec<usize> = BASE_KEYS
        .iter()
        .map(|k| text.find(&format!("\"{k}\": ")).expect("key present"))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "key order: {text}"
    );
    assert_eq!(image.as_object().map(|o| o.len()), Some(BASE_KEYS.len()));
}

#[tokio::test]
async fn create_keeps_values_and_show_returns_them() {
    let server = TestServer::trusted().await;
    let alice = member_of("alice");
    let body = json!({
        "id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "name": "peer-test",
        "disk_format": "raw", "container_format": "bare", "visibility": "private",
        "min_disk": 1, "min_ram": 64, "protected": false, "tags": ["x", "y", "x"],
        "os_distro": "debian", "custom_prop": "hello",
    });
    let image = create_image(&server, &alice, body).await;
    assert_eq!(image["id"], "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
    assert_eq!(image["owner"], "alice");
    assert_eq!(image["tags"], json!(["x", "y"]));
    assert_eq!(image["os_distro"], "debian");
    assert_eq!(image["custom_prop"], "hello");
    assert_eq!(image["min_ram"], 64);
    let shown = expect_json(
        get(
            &server,
            &alice,
            "/v2/images/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown, image);
    // Custom properties come before the base attributes.
    let text = get(
        &server,
        &alice,
        "/v2/images/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    )
    .await
    .text()
    .await
    .expect("body");
    assert!(
        text.find("\"custom_prop\"") < text.find("\"name\""),
        "{text}"
    );

    let duplicate = post(
        &server,
        &alice,
        &json!({"id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}).to_string(),
    )
    .await;
    assert_eq!(
        expect_error(duplicate, StatusCode::CONFLICT).await,
        "Image ID 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d already exists!"
    );
}

#[tokio::test]
async fn create_refusals() {
    let server = TestServer::trusted().await;
    let alice = member_of("alice");
    let cases: &[(Value, StatusCode, &str)] = &[
        (
            json!({"status": "active"}),
            StatusCode::FORBIDDEN,
            "Attribute 'status' is read-only.",
        ),
        (
            json!({"size": 1}),
            StatusCode::FORBIDDEN,
            "Attribute 'size' is read-only.",
        ),
        (
            json!({"self": "/x"}),
            StatusCode::FORBIDDEN,
            "Attribute 'self' is read-only.",
        ),
        (
            json!({"checksum": "x"}),
            StatusCode::FORBIDDEN,
            "Attribute 'checksum' is read-only.",
        ),
        (
            json!({"locations": []}),
            StatusCode::FORBIDDEN,
            "Attribute 'locations' is reserved.",
        ),
        (
            json!({"os_glance_x": "y"}),
            StatusCode::FORBIDDEN,
            "Attribute 'os_glance_x' is reserved.",
        ),
        (
            json!({"owner": "bob"}),
            StatusCode::FORBIDDEN,
            "You are not permitted to create images owned by 'bob'.",
        ),
        (
            json!({"visibility": "public"}),
            StatusCode::FORBIDDEN,
            "You are not authorized to complete publicize_image action.",
        ),
        (
            json!({"custom": 5}),
            StatusCode::BAD_REQUEST,
            "Provided object does not match schema 'image': 5 is not of type 'string'",
        ),
        (
            json!({"custom": null}),
            StatusCode::BAD_REQUEST,
            "Provided object does not match schema 'image': None is not of type 'string'",
        ),
        (json!({"id": "not-a-uuid"}), StatusCode::BAD_REQUEST, ""),
        (json!({"disk_format": "nope"}), StatusCode::BAD_REQUEST, ""),
        (
            json!({"visibility": "everyone"}),
            StatusCode::BAD_REQUEST,
            "",
        ),
        (
            json!({"name": "n".repeat(256)}),
            StatusCode::BAD_REQUEST,
            "",
        ),
        (
            json!({"tags": ["t".repeat(256)]}),
            StatusCode::BAD_REQUEST,
            "",
        ),
        (json!({"tags": "t"}), StatusCode::BAD_REQUEST, ""),
        (
            json!({"min_ram": -1}),
            StatusCode::BAD_REQUEST,
            "Invalid value '-1' for parameter 'min_ram': Cannot be a negative value",
        ),
        (
            json!({"min_disk": 2_147_483_648_i64}),
            StatusCode::BAD_REQUEST,
            "'min_disk' value out of range, must not exceed 2147483647.",
        ),
        (json!({"protected": "yes"}), StatusCode::BAD_REQUEST, ""),
        (
            json!({"name": "smile \u{1F600}"}),
            StatusCode::BAD_REQUEST,
            "Name can't contain 4 byte unicode characters.",
        ),
        (
            json!({"os_distro": "\u{1F600}"}),
            StatusCode::BAD_REQUEST,
            "Os_Distro can't contain 4 byte unicode characters.",
        ),
        (
            json!({"tags": ["\u{1F600}"]}),
            StatusCode::BAD_REQUEST,
            "Param values can't contain 4 byte unicode.",
        ),
        (
            json!({"k".repeat(256): "v"}),
            StatusCode::BAD_REQUEST,
            "Custom property should not be greater than 255 characters.",
        ),
    ];
    for (body, status, message) in cases {
        let explanation =
            expect_error(post(&server, &alice, &body.to_string()).await, *status).await;
        if !message.is_empty() {
            assert_eq!(&explanation, message, "{body}");
        }
    }
    // Nothing was created along the way.
    let list = expect_json(get(&server, &alice, "/v2/images").await, StatusCode::OK).await;
    assert_eq!(list["images"], json!([]));

    // Admins may publicize and create for others; anyone may go community.
    let admin = admin_of("ops");
    let public = create_image(
        &server,
        &admin,
        json!({"visibility": "public", "owner": "bob"}),
    )
    .await;
    assert_eq!(
        (public["visibility"].as_str(), public["owner"].as_str()),
        (Some("public"), Some("bob"))
    );
    let community = create_image(
        &server,
        &alice,
        json!({"visibility": "community", "owner": "alice"}),
    )
    .await;
    assert_eq!(community["visibility"], "community");
}

#[tokio::test]
async fn bad_bodies_are_400_never_500() {
    let server = TestServer::start().await;
    let none = HeaderMap::new();
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let cases = [
        ("{\"name\": ", "Malformed JSON in request body."),
        ("5", "Unexpected body type. Expected list/dict."),
        ("\"text\"", "Unexpected body type. Expected list/dict."),
        ("", "Body expected in request."),
        (deep.as_str(), "Malformed JSON in request body."),
        (deep_object.as_str(), "Malformed JSON in request body."),
    ];
    for (body, message) in cases {
        let explanation =
            expect_error(post(&server, &none, body).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(explanation, message, "{}", &body[..body.len().min(20)]);
    }
    let invalid_utf8 = server
        .client
        .post(server.url("/v2/images"))
        .header("content-type", "application/json")
        .body(vec![b'{', b'"', 0xff, b'"', b':', b'"', b'x', b'"', b'}'])
        .send()
        .await
        .expect("request");
    assert_eq!(invalid_utf8.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn error_bodies_follow_accept() {
    let server = TestServer::start().await;
    let missing = server.url("/v2/images/00000000-0000-0000-0000-000000000000");

    let html = server
        .client
        .get(&missing)
        .header("accept", "*/*")
        .send()
        .await
        .expect("request");
    assert_eq!(html.status(), StatusCode::NOT_FOUND);
    assert_eq!(html.headers()["content-type"], "text/html; charset=UTF-8");
    assert_eq!(
        html.text().await.expect("body"),
        "<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n  \
         No image found with ID 00000000-0000-0000-0000-000000000000<br /><br />\n\n\n\n </body>\n</html>"
    );

    let json = server
        .client
        .get(&missing)
        .header("accept", "application/json")
        .send()
        .await
        .expect("request");
    assert_eq!(json.headers()["content-type"], "application/json");
    let body: Value = json.json().await.expect("json");
    assert_eq!(
        body,
        json!({"message": "No image found with ID 00000000-0000-0000-0000-000000000000<br /><br />\n\n\n",
               "code": "404 Not Found", "title": "Not Found"})
    );

    // reqwest sends `Accept: */*` unless told otherwise; anything webob cannot match is plain.
    let plain = server
        .client
        .get(&missing)
        .header("accept", "text/plain")
        .send()
        .await
        .expect("request");
    assert!(plain.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/plain"));
    assert!(plain
        .text()
        .await
        .expect("body")
        .starts_with("404 Not Found\n\nNo image found with ID"));
}

#[tokio::test]
async fn show_hides_invisible_images_and_rejects_bodies() {
    let server = TestServer::trusted().await;
    let alice = member_of("alice");
    let private = create_image(&server, &alice, json!({"visibility": "private"})).await;
    let path = format!("/v2/images/{}", private["id"].as_str().expect("id"));

    let as_bob = get(&server, &member_of("bob"), &path).await;
    assert!(expect_error(as_bob, StatusCode::NOT_FOUND)
        .await
        .starts_with("No image found with ID"));
    expect_json(get(&server, &admin_of("ops"), &path).await, StatusCode::OK).await;
    expect_json(get(&server, &alice, &path).await, StatusCode::OK).await;
    let malformed = get(&server, &alice, "/v2/images/not-a-uuid").await;
    assert_eq!(
        expect_error(malformed, StatusCode::NOT_FOUND).await,
        "No image found with ID not-a-uuid"
    );

    let with_body = server
        .client
        .get(server.url(&path))
        .headers(alice.clone())
        .header("accept", "application/json")
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(
        expect_error(with_body, StatusCode::BAD_REQUEST).await,
        "A body is not expected with this request."
    );
}

#[tokio::test]
async fn trusted_auth_needs_confirmed_identity_and_knows_admins() {
    let server = TestServer::trusted().await;
    let anonymous = server
        .client
        .get(server.url("/v2/images"))
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let mut invalid = member_of("alice");
    invalid.insert("x-identity-status", "Invalid".parse().expect("header"));
    let response = server
        .client
        .get(server.url("/v2/images"))
        .headers(invalid)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // Roles are case-insensitive; an admin sees and creates for any project.
    let private = create_image(
        &server,
        &member_of("alice"),
        json!({"visibility": "private"}),
    )
    .await;
    let admin = identity("ops", "Admin");
    let path = format!("/v2/images/{}", private["id"].as_str().expect("id"));
    expect_json(get(&server, &admin, &path).await, StatusCode::OK).await;
}

async fn delete(server: &TestServer, headers: &HeaderMap, id: &str) -> reqwest::Response {
    server
        .client
        .delete(server.url(&format!("/v2/images/{id}")))
        .headers(headers.clone())
        .header("accept", "application/json")
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn delete_rules_and_effects() {
    let server = TestServer::trusted().await;
    let alice = member_of("alice");
    let admin = admin_of("ops");
    // Non-admins cannot publicize; an admin makes a public image for alice.
    let public = create_image(
        &server,
        &admin,
        json!({"visibility": "public", "owner": "alice", "protected": true,
               "disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    let id = public["id"].as_str().expect("id").to_string();
    let uploaded =
        super::image_data::upload(&server, admin.clone(), &id, b"image bytes".to_vec()).await;
    assert_eq!(uploaded.status(), StatusCode::NO_CONTENT);

    let message = expect_error(delete(&server, &admin, &id).await, StatusCode::FORBIDDEN).await;
    assert_eq!(
        message,
        format!("Image {id} is protected and cannot be deleted.")
    );
    // bob can see the public image but does not own it: 403.
    let message = expect_error(
        delete(&server, &member_of("bob"), &id).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(message, "You do not own this image");

    let unprotect = super::patch_image(
        &server,
        &alice,
        &id,
        json!([{"op": "replace", "path": "/protected", "value": false}]),
    )
    .await;
    expect_json(unprotect, StatusCode::OK).await;
    // Stored data goes with the image.
    assert!(crate::support::s3::data_exists(&server.settings, &id).await);

    let response = delete(&server, &alice, &id).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.headers().get("x-openstack-request-id").is_some());
    assert_eq!(response.text().await.expect("body"), "");
    assert!(
        !crate::support::s3::data_exists(&server.settings, &id).await,
        "the image data is removed"
    );

    for who in [&alice, &admin] {
        expect_error(
            get(&server, who, &format!("/v2/images/{id}")).await,
            StatusCode::NOT_FOUND,
        )
        .await;
    }
    expect_error(delete(&server, &alice, &id).await, StatusCode::NOT_FOUND).await;
    let list = expect_json(get(&server, &admin, "/v2/images").await, StatusCode::OK).await;
    assert!(!super::ids(&list).contains(&id));

    // The row is soft-deleted, not gone: status deleted, deleted flag set.
    let db = database(&server).await;
    let row = db
        .image_get(&super::admin_context(), &id, true)
        .await
        .expect("soft-deleted row");
    assert!(row.deleted);
    assert_eq!(row.status.as_str(), "deleted");
    assert!(row.deleted_at.is_some());
}

#[tokio::test]
async fn delete_of_invisible_image_is_404_and_body_is_rejected() {
    let server = TestServer::trusted().await;
    let private = create_image(
        &server,
        &member_of("alice"),
        json!({"visibility": "private"}),
    )
    .await;
    let id = private["id"].as_str().expect("id");
    expect_error(
        delete(&server, &member_of("bob"), id).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let with_body = server
        .client
        .delete(server.url(&format!("/v2/images/{id}")))
        .headers(member_of("alice"))
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(with_body.status(), StatusCode::BAD_REQUEST);
    expect_json(
        get(&server, &member_of("alice"), &format!("/v2/images/{id}")).await,
        StatusCode::OK,
    )
    .await;
}
