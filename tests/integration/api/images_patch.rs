//! `PATCH /v2/images/{id}` over HTTP: media types, both dialects, the op matrix, read-only
//! paths, who may patch, atomicity and concurrency (§12 checks 4, 5).

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{
    admin_context, admin_of, create_image, database, expect_error, expect_json, get, member_of,
    patch_image, PATCH_V20,
};
use crate::support::server::TestServer;
use glance_rs::domain::{ImageChanges, ImageStatus, MemberStatus, NewMember};

async fn image_with_property(server: &TestServer, who: &HeaderMap) -> String {
    let image = create_image(
        server,
        who,
        json!({"name": "p", "existing": "1", "visibility": "shared"}),
    )
    .await;
    image["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn media_type_must_be_a_json_patch_type() {
    let server = TestServer::start().await;
    let id = image_with_property(&server, &HeaderMap::new()).await;
    for content_type in ["application/json", "text/plain"] {
        let response = server
            .client
            .patch(server.url(&format!("/v2/images/{id}")))
            .header("content-type", content_type)
            .body("[]")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(
            response.headers()["accept-patch"],
            "application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch"
        );
        let body = response.text().await.expect("body");
        assert!(
            body.contains(&format!(
                "The request media type {content_type} is not supported by this server."
            )),
            "{body}"
        );
    }
}

#[tokio::test]
async fn add_replace_remove_like_the_real_session() {
    let server = TestServer::start().await;
    let none = HeaderMap::new();
    let id = image_with_property(&server, &none).await;
    let before = expect_json(
        get(&server, &none, &format!("/v2/images/{id}")).await,
        StatusCode::OK,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let doc = json!([
        {"op": "add", "path": "/hw_disk_bus", "value": "scsi"},
        {"op": "replace", "path": "/name", "value": "renamed"},
        {"op": "remove", "path": "/existing"},
        {"op": "replace", "path": "/tags", "value": ["b", "a", "b"]},
        {"op": "replace", "path": "/min_disk", "value": 3},
    ]);
    let patched = expect_json(patch_image(&server, &none, &id, doc).await, StatusCode::OK).await;
    assert_eq!(patched["hw_disk_bus"], "scsi");
    assert_eq!(patched["name"], "renamed");
    assert!(patched.get("existing").is_none());
    assert_eq!(patched["tags"], json!(["b", "a"]));
    assert_eq!(patched["min_disk"], 3);
    assert_ne!(patched["updated_at"], before["updated_at"]);
    assert_eq!(patched["created_at"], before["created_at"]);
    let shown = expect_json(
        get(&server, &none, &format!("/v2/images/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown, patched);
}

#[tokio::test]
async fn op_matrix_in_both_dialects() {
    let server = TestServer::start().await;
    let none = HeaderMap::new();
    let id = image_with_property(&server, &none).await;
    let v21 = |doc: Value| patch_image(&server, &none, &id, doc);
    assert_eq!(
        expect_error(
            v21(json!([{"op": "replace", "path": "/missing", "value": "x"}])).await,
            StatusCode::CONFLICT
        )
        .await,
        "Property missing does not exist."
    );
    assert_eq!(
        expect_error(
            v21(json!([{"op": "remove", "path": "/missing"}])).await,
            StatusCode::CONFLICT
        )
        .await,
        "Property missing does not exist."
    );
    assert_eq!(
        expect_error(
            v21(json!([{"op": "remove", "path": "/name"}])).await,
            StatusCode::FORBIDDEN
        )
        .await,
        "Property name may not be removed."
    );
    let overwritten = expect_json(
        v21(json!([{"op": "add", "path": "/existing", "value": "2"}])).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(overwritten["existing"], "2");
    assert!(
        v21(json!([{"op": "move", "from": "/a", "path": "/b"}]))
            .await
            .status()
            == StatusCode::BAD_REQUEST
    );

    let v20 = |doc: Value| {
        server
            .client
            .patch(server.url(&format!("/v2/images/{id}")))
            .header("content-type", PATCH_V20)
            .header("accept", "application/json")
            .body(doc.to_string())
            .send()
    };
    assert_eq!(
        expect_error(
            v20(json!([{"add": "/existing", "value": "3"}]))
                .await
                .expect("request"),
            StatusCode::CONFLICT
        )
        .await,
        "Property existing already present."
    );
    expect_error(
        v20(json!([{"add": "/name", "value": "x"}]))
            .await
            .expect("request"),
        StatusCode::CONFLICT,
    )
    .await;
    let added = expect_json(
        v20(json!([{"add": "/fresh", "value": "v"}, {"replace": "/name", "value": null}]))
            .await
            .expect("request"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (added["fresh"].as_str(), added["name"].as_null()),
        (Some("v"), Some(()))
    );
}

#[tokio::test]
async fn read_only_and_reserved_paths() {
    let server = TestServer::start().await;
    let none = HeaderMap::new();
    let id = image_with_property(&server, &none).await;
    for path in [
        "/status",
        "/checksum",
        "/id",
        "/size",
        "/virtual_size",
        "/created_at",
        "/self",
        "/os_hash_algo",
    ] {
        let response = patch_image(
            &server,
            &none,
            &id,
            json!([{"op": "replace", "path": path, "value": "x"}]),
        )
        .await;
        let message = expect_error(response, StatusCode::FORBIDDEN).await;
        assert_eq!(message, format!("Attribute '{}' is read-only.", &path[1..]));
    }
    for path in ["/deleted", "/location", "/os_glance_import_task"] {
        let response = patch_image(
            &server,
            &none,
            &id,
            json!([{"op": "add", "path": path, "value": "x"}]),
        )
        .await;
        assert_eq!(
            expect_error(response, StatusCode::FORBIDDEN).await,
            format!("Attribute '{}' is reserved.", &path[1..])
        );
    }
    let response = patch_image(
        &server,
        &none,
        &id,
        json!([{"op": "replace", "path": "/locations", "value": []}]),
    )
    .await;
    assert_eq!(
        expect_error(response, StatusCode::FORBIDDEN).await,
        "Cannot set locations to empty list."
    );
}

#[tokio::test]
async fn values_are_checked_against_the_schema() {
    let server = TestServer::start().await;
    let none = HeaderMap::new();
    let id = image_with_property(&server, &none).await;
    let bad = [
        json!([{"op": "add", "path": "/custom", "value": 1}]),
        json!([{"op": "add", "path": "/custom", "value": null}]),
        json!([{"op": "replace", "path": "/visibility", "value": "everyone"}]),
        json!([{"op": "replace", "path": "/min_ram", "value": -5}]),
        json!([{"op": "replace", "path": "/min_ram", "value": "5"}]),
        json!([{"op": "replace", "path": "/protected", "value": "true"}]),
        json!([{"op": "replace", "path": "/disk_format", "value": "floppy"}]),
        json!([{"op": "replace", "path": "/name", "value": "n".repeat(256)}]),
        json!([{"op": "replace", "path": "/tags", "value": ["\u{1F600}"]}]),
        json!([{"op": "add", "path": "/custom", "value": "\u{1F600}"}]),
        json!([{"op": "add", "path": "/kernel_id", "value": "not-a-uuid"}]),
        json!([{"op": "add", "path": "/custom"}]),
        json!([{"op": "add", "path": "custom", "value": "x"}]),
        json!([{"op": "add", "path": "/a/b", "value": "x"}]),
        json!({"op": "add", "path": "/a", "value": "x"}),
        json!(["add"]),
    ];
    for doc in bad {
        let response = patch_image(&server, &none, &id, doc.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{doc}");
    }
    // Nothing was applied by any of them.
    let shown = expect_json(
        get(&server, &none, &format!("/v2/images/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert!(shown.get("custom").is_none());
    assert_eq!(shown["min_ram"], 0);
}

#[tokio::test]
async fn one_failing_operation_aborts_the_document() {
    let server = TestServer::start().await;
    let none = HeaderMap::new();
    let id = image_with_property(&server, &none).await;
    let doc = json!([
        {"op": "replace", "path": "/name", "value": "changed"},
        {"op": "add", "path": "/new_one", "value": "x"},
        {"op": "remove", "path": "/not_there"},
    ]);
    expect_error(
        patch_image(&server, &none, &id, doc).await,
        StatusCode::CONFLICT,
    )
    .await;
    let shown = expect_json(
        get(&server, &none, &format!("/v2/images/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["name"], "p");
    assert!(shown.get("new_one").is_none());
}

#[tokio::test]
async fn empty_document_answers_200_without_writing() {
    let server = TestServer::trusted().await;
    let alice = member_of("alice");
    let id = image_with_property(&server, &alice).await;
    let before = expect_json(
        get(&server, &alice, &format!("/v2/images/{id}")).await,
        StatusCode::OK,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let after = expect_json(
        patch_image(&server, &alice, &id, json!([])).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(after, before);
}

#[tokio::test]
async fn who_may_patch() {
    let server = TestServer::trusted().await;
    let alice = member_of("alice");
    let bob = member_of("bob");
    let id = image_with_property(&server, &alice).await;
    let rename = json!([{"op": "replace", "path": "/name", "value": "mine"}]);

    // bob cannot see alice's shared image: 404.
    expect_error(
        patch_image(&server, &bob, &id, rename.clone()).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // Once bob is a member he can see it, but still not change it: 403.
    let db = database(&server).await;
    db.image_member_create(
        &admin_context(),
        NewMember {
            image_id: id.clone(),
            member: "bob".into(),
            can_share: false,
            status: MemberStatus::Pending,
        },
    )
    .await
    .expect("member row");
    assert_eq!(
        expect_error(
            patch_image(&server, &bob, &id, rename.clone()).await,
            StatusCode::FORBIDDEN
        )
        .await,
        "You do not own this image"
    );
    let public = json!([{"op": "replace", "path": "/visibility", "value": "public"}]);
    assert_eq!(
        expect_error(
            patch_image(&server, &alice, &id, public.clone()).await,
            StatusCode::FORBIDDEN
        )
        .await,
        "You are not authorized to complete publicize_image action."
    );
    let owner = json!([{"op": "replace", "path": "/owner", "value": "bob"}]);
    assert_eq!(
        expect_error(
            patch_image(&server, &alice, &id, owner.clone()).await,
            StatusCode::FORBIDDEN
        )
        .await,
        "Owner can't be updated by non admin."
    );
    let community = json!([{"op": "replace", "path": "/visibility", "value": "community"}]);
    expect_json(
        patch_image(&server, &alice, &id, community).await,
        StatusCode::OK,
    )
    .await;

    let admin = admin_of("ops");
    let done = expect_json(
        patch_image(&server, &admin, &id, public).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["visibility"], "public");
    let done = expect_json(
        patch_image(&server, &admin, &id, owner).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["owner"], "bob");
    // Now bob owns it and alice may no longer change it.
    expect_json(
        patch_image(&server, &bob, &id, rename.clone()).await,
        StatusCode::OK,
    )
    .await;
    expect_error(
        patch_image(&server, &alice, &id, rename).await,
        StatusCode::FORBIDDEN,
    )
    .await;
}

#[tokio::test]
async fn formats_are_fixed_once_active() {
    let server = TestServer::start().await;
    let none = HeaderMap::new();
    let image = create_image(
        &server,
        &none,
        json!({"disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    let id = image["id"].as_str().expect("id").to_string();
    let qcow2 = json!([{"op": "replace", "path": "/disk_format", "value": "qcow2"}]);
    let queued = expect_json(
        patch_image(&server, &none, &id, qcow2.clone()).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(queued["disk_format"], "qcow2");

    let db = database(&server).await;
    let active = ImageChanges {
        status: Some(ImageStatus::Active),
        ..ImageChanges::default()
    };
    db.image_update(&admin_context(), &id, active, false, None)
        .await
        .expect("activate");
    let raw = json!([{"op": "replace", "path": "/disk_format", "value": "raw"}]);
    assert_eq!(
        expect_error(
            patch_image(&server, &none, &id, raw).await,
            StatusCode::FORBIDDEN
        )
        .await,
        "Attribute disk_format can be only replaced for a queued image."
    );
    let bare = json!([{"op": "replace", "path": "/container_format", "value": "ovf"}]);
    expect_error(
        patch_image(&server, &none, &id, bare).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    // Other attributes stay patchable.
    let renamed = json!([{"op": "replace", "path": "/name", "value": "still-patchable"}]);
    expect_json(
        patch_image(&server, &none, &id, renamed).await,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn concurrent_patches_of_different_properties_all_survive() {
    let server = TestServer::start().await;
    let none = HeaderMap::new();
    let id = image_with_property(&server, &none).await;
    let mut tasks = Vec::new();
    for n in 0..16 {
        let client = server.client.clone();
        let url = server.url(&format!("/v2/images/{id}"));
        tasks.push(tokio::spawn(async move {
            let doc = json!([{"op": "add", "path": format!("/prop_{n}"), "value": n.to_string()}]);
            client
                .patch(url)
                .header("content-type", super::PATCH_V21)
                .body(doc.to_string())
                .send()
                .await
        }));
    }
    for task in tasks {
        let response = task.await.expect("task").expect("request");
        assert_eq!(response.status(), StatusCode::OK);
    }
    let shown = expect_json(
        get(&server, &none, &format!("/v2/images/{id}")).await,
        StatusCode::OK,
    )
    .await;
    for n in 0..16 {
        assert_eq!(
            shown[format!("prop_{n}")],
            n.to_string(),
            "prop_{n} was lost"
        );
    }
    assert_eq!(shown["existing"], "1");
}

#[tokio::test]
async fn work_per_request_is_bounded_and_quotas_hold() {
    let server = TestServer::start_with(|s| {
        s.limits.image_property_quota = 3;
        s.limits.image_tag_quota = 2;
    })
    .await;
    let none = HeaderMap::new();
    let id = image_with_property(&server, &none).await;
    let many: Vec<Value> = (0..1001)
        .map(|_| json!({"op": "replace", "path": "/name", "value": "x"}))
        .collect();
    expect_error(
        patch_image(&server, &none, &id, Value::Array(many)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;

    let props = json!([
        {"op": "add", "path": "/a", "value": "1"}, {"op": "add", "path": "/b", "value": "2"},
        {"op": "add", "path": "/c", "value": "3"},
    ]);
    let message = expect_error(
        patch_image(&server, &none, &id, props).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert!(message.contains("Attempted: 4, Maximum: 3"), "{message}");
    let tags = json!([{"op": "replace", "path": "/tags", "value": ["a", "b", "c"]}]);
    expect_error(
        patch_image(&server, &none, &id, tags).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    let fits = json!([{"op": "add", "path": "/a", "value": "1"}, {"op": "replace", "path": "/tags", "value": ["a", "b"]}]);
    expect_json(patch_image(&server, &none, &id, fits).await, StatusCode::OK).await;
}

/// What real Glance 33 answered (2026-12-05, `tests/glance/start.sh`): a nullable property of
/// the image schema (`kernel_id`, `ramdisk_id`) created or set to null is kept and shown as
/// `null` (a NULL value in `image_properties`); `remove` drops it; a plain property set to null
/// is refused by the schema (400).
#[tokio::test]
async fn null_for_nullable_properties_is_kept_and_shown_as_null() {
    let server = TestServer::start().await;
    let none = HeaderMap::new();
    let created = create_image(
        &server,
        &none,
        json!({"name": "n", "ramdisk_id": null, "kernel_id": null, "foo": "x"}),
    )
    .await;
    assert_eq!(created["ramdisk_id"], Value::Null);
    assert_eq!(created["kernel_id"], Value::Null);
    assert!(created
        .as_object()
        .is_some_and(|o| o.contains_key("ramdisk_id")));
    let id = created["id"].as_str().expect("id").to_string();
    let shown = |image: &Value| -> Vec<Option<Value>> {
        ["ramdisk_id", "kernel_id", "foo"]
            .iter()
            .map(|k| image.as_object().and_then(|o| o.get(*k).cloned()))
            .collect()
    };
    let read = expect_json(
        get(&server, &none, &format!("/v2/images/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        shown(&read),
        [Some(Value::Null), Some(Value::Null), Some(json!("x"))]
    );

    let uuid = "5a5e7c64-0000-4000-8000-000000000000";
    let steps = [
        (
            json!([{"op": "replace", "path": "/ramdisk_id", "value": uuid},
                   {"op": "replace", "path": "/kernel_id", "value": null}]),
            [Some(json!(uuid)), Some(Value::Null), Some(json!("x"))],
        ),
        (
            json!([{"op": "replace", "path": "/ramdisk_id", "value": null}]),
            [Some(Value::Null), Some(Value::Null), Some(json!("x"))],
        ),
        (
            json!([{"op": "remove", "path": "/ramdisk_id"}]),
            [None, Some(Value::Null), Some(json!("x"))],
        ),
        (
            json!([{"op": "add", "path": "/ramdisk_id", "value": null}]),
            [Some(Value::Null), Some(Value::Null), Some(json!("x"))],
        ),
    ];
    for (doc, expected) in steps {
        let patched = expect_json(
            patch_image(&server, &none, &id, doc.clone()).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(shown(&patched), expected, "{doc}");
        let read = expect_json(
            get(&server, &none, &format!("/v2/images/{id}")).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(shown(&read), expected, "read back after {doc}");
    }
    // The list shows the same; a filter on the empty string does not match a NULL value.
    let listed = expect_json(get(&server, &none, "/v2/images").await, StatusCode::OK).await;
    assert_eq!(
        shown(&listed["images"][0]),
        [Some(Value::Null), Some(Value::Null), Some(json!("x"))]
    );
    let empty = expect_json(
        get(&server, &none, "/v2/images?kernel_id=").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(empty["images"], json!([]));

    let response = server
        .client
        .post(server.url("/v2/images"))
        .json(&json!({"name": "plain", "foo": null}))
        .send()
        .await
        .expect("request");
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "a plain property may not be null"
    );
}
