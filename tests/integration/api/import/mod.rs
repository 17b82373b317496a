//! Interoperable import over real HTTP: `PUT /stage`, `POST /import`, the tasks it leaves,
//! and Glance's refusals. web-download fetches from a real HTTP server on loopback.

mod conversion;
mod copy;
mod web_download;

use std::time::Duration;

use md5::{Digest, Md5};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::image_data::{database, download, new_image, pattern};
use super::{admin_of, create_image, expect_error, expect_json, get, member_of};
use crate::support::server::TestServer;
use glance_rs::domain::Visibility;

pub async fn stage(
    server: &TestServer,
    headers: &HeaderMap,
    id: &str,
    data: Vec<u8>,
) -> reqwest::Response {
    server
        .client
        .put(server.url(&format!("/v2/images/{id}/stage")))
        .headers(headers.clone())
        .header("content-type", "application/octet-stream")
        .header("accept", "application/json")
        .body(data)
        .send()
        .await
        .expect("stage request")
}

pub async fn import(
    server: &TestServer,
    headers: &HeaderMap,
    id: &str,
    body: Value,
) -> reqwest::Response {
    server
        .client
        .post(server.url(&format!("/v2/images/{id}/import")))
        .headers(headers.clone())
        .header("accept", "application/json")
        .json(&body)
        .send()
        .await
        .expect("import request")
}

pub async fn show(server: &TestServer, headers: &HeaderMap, id: &str) -> Value {
    expect_json(
        get(server, headers, &format!("/v2/images/{id}")).await,
        StatusCode::OK,
    )
    .await
}

/// Poll the image until its status is no longer one of `passing` (20 s at most).
pub async fn settle(server: &TestServer, headers: &HeaderMap, id: &str) -> Value {
    for _ in 0..200 {
        let image = show(server, headers, id).await;
        let status = image["status"].as_str().unwrap_or_default().to_string();
        let locked = image.get("os_glance_import_task").is_some();
        if !locked && ["active", "queued"].contains(&status.as_str()) {
            return image;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "image {id} did not settle: {}",
        show(server, headers, id).await
    );
}

pub async fn image_tasks(server: &TestServer, headers: &HeaderMap, id: &str) -> Vec<Value> {
    let body = expect_json(
        get(server, headers, &format!("/v2/images/{id}/tasks")).await,
        StatusCode::OK,
    )
    .await;
    body["tasks"].as_array().cloned().unwrap_or_default()
}

async fn new_raw_image(server: &TestServer, headers: &HeaderMap) -> String {
    let image = create_image(
        server,
        headers,
        json!({"name": "imp", "disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    image["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn info_and_create_header_advertise_what_works() {
    let server = TestServer::start().await;
    let info = expect_json(
        get(&server, &HeaderMap::new(), "/v2/info/import").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        info,
        json!({"import-methods": {"description": "Import methods available.", "type": "array",
            "value": ["glance-direct", "web-download", "copy-image"]}})
    );
    let response = server
        .client
        .post(server.url("/v2/images"))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .expect("create");
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.headers()["openstack-image-import-methods"],
        "glance-direct,web-download,copy-image"
    );

    // Configured but not carried out (glance-download): neither advertised nor accepted.
    let narrowed =
        TestServer::start_with(|s| s.import.enabled_methods = vec!["glance-download".into()]).await;
    let info = expect_json(
        get(&narrowed, &HeaderMap::new(), "/v2/info/import").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(info["import-methods"]["value"], json!([]));
    let response = narrowed
        .client
        .post(narrowed.url("/v2/images"))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .expect("create");
    assert!(response
        .headers()
        .get("openstack-image-import-methods")
        .is_none());
    let id = new_raw_image(&narrowed, &HeaderMap::new()).await;
    let message = expect_error(
        stage(&narrowed, &HeaderMap::new(), &id, vec![1]).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(
        message,
        "'glance-direct' method is not available at this site."
    );
}

#[tokio::test]
async fn glance_direct_stages_then_imports_to_active() {
    let server = TestServer::trusted().await;
    let owner = member_of("p1");
    let id = new_raw_image(&server, &owner).await;
    let data = pattern(3 * 1024 * 1024 + 17);

    let response = stage(&server, &owner, &id, data.clone()).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let staged = show(&server, &owner, &id).await;
    assert_eq!(staged["status"], "uploading");
    assert_eq!(staged["size"], json!(data.len()));
    assert_eq!(staged["checksum"], Value::Null);
    assert!(
        staged.get("os_glance_stage_host").is_none(),
        "hidden: {staged}"
    );

    let response = import(
        &server,
        &owner,
        &id,
        json!({"method": {"name": "glance-direct"}}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let image = settle(&server, &owner, &id).await;
    assert_eq!(image["status"], "active", "{image}");
    assert_eq!(image["checksum"], hex::encode(Md5::digest(&data)));
    assert_eq!(image["os_hash_algo"], "sha512");
    assert_eq!(image["size"], json!(data.len()));
    assert_eq!(image["virtual_size"], json!(data.len()));
    assert_eq!(image["os_glance_importing_to_stores"], "");
    assert_eq!(image["os_glance_failed_import"], "");
    let body = download(&server, owner.clone(), &id)
        .await
        .bytes()
        .await
        .expect("data");
    assert_eq!(body.as_ref(), data.as_slice());
    let staging = std::path::PathBuf::from(&server.settings.import.staging_path);
    assert!(
        !staging.join(&id).exists(),
        "staged data removed after the import"
    );

    let mut tasks = image_tasks(&server, &owner, &id).await;
    for _ in 0..100 {
        if tasks[0]["status"] == "success" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        tasks = image_tasks(&server, &owner, &id).await;
    }
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let task = &tasks[0];
    assert_eq!(task["type"], "api_image_import");
    assert_eq!(task["status"], "success");
    assert_eq!(task["owner"], "p1");
    assert_eq!(task["image_id"], id.as_str());
    assert_eq!(task["result"], json!({"image_id": id}));
    assert_eq!(
        task["input"]["import_req"],
        json!({"method": {"name": "glance-direct"}})
    );
    assert!(task["expires_at"].is_string());

    // The tasks API is admin-only, as Glance's default policy.
    let task_id = task["id"].as_str().expect("task id");
    let refused = get(&server, &owner, &format!("/v2/tasks/{task_id}")).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let admin = admin_of("admins");
    let shown = expect_json(
        get(&server, &admin, &format!("/v2/tasks/{task_id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["status"], "success");
    assert_eq!(shown["self"], format!("/v2/tasks/{task_id}"));
    assert_eq!(shown["schema"], "/v2/schemas/task");
    assert_eq!(shown["message"], "");
    let listed = expect_json(
        get(&server, &admin, "/v2/tasks?status=success").await,
        StatusCode::OK,
    )
    .await;
    let ids: Vec<&str> = listed["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(ids, [task_id]);
    assert!(
        listed["tasks"][0].get("input").is_none(),
        "a list shows stubs"
    );
    assert_eq!(listed["first"], "/v2/tasks?status=success");
    let missing = get(
        &server,
        &admin,
        &format!("/v2/tasks/{}", uuid::Uuid::new_v4()),
    )
    .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let bad = get(&server, &admin, "/v2/tasks?status=bogus").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    // Another project sees no such image.
    let other = get(&server, &member_of("p2"), &format!("/v2/images/{id}/tasks")).await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn refusals_carry_glances_codes_and_messages() {
    let server = TestServer::trusted().await;
    let owner = member_of("p1");
    let id = new_raw_image(&server, &owner).await;
    let direct = json!({"method": {"name": "glance-direct"}});

    let mut cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({}),
            StatusCode::BAD_REQUEST,
            "Import request requires a 'method' field.",
        ),
        (
            json!({"method": {}}),
            StatusCode::BAD_REQUEST,
            "Import request requires a 'name' field.",
        ),
        (
            json!({"method": {"name": "glance-download"}}),
            StatusCode::BAD_REQUEST,
            "Unknown import method name 'glance-download'.",
        ),
        (
            json!({"method": {"name": "copy-image"}}),
            StatusCode::CONFLICT,
            "Only images with status active can be targeted for copying",
        ),
        (
            json!({"method": {"name": "bogus"}}),
            StatusCode::BAD_REQUEST,
            "Unknown import method name 'bogus'.",
        ),
        (
            json!({"method": {"name": "glance-direct"}, "all_stores": "yes"}),
            StatusCode::BAD_REQUEST,
            "'all_stores' must be boolean value only",
        ),
        (
            json!({"method": {"name": "glance-direct"}, "all_stores_must_succeed": 1}),
            StatusCode::BAD_REQUEST,
            "'all_stores_must_succeed' must be boolean value only",
        ),
        (
            direct.clone(),
            StatusCode::CONFLICT,
            "Image needs to be staged before 'glance-direct' method can be used",
        ),
        (
            json!({"method": {"name": "web-download", "uri": "ftp://example.com/x"}}),
            StatusCode::BAD_REQUEST,
            "URI for web-download does not pass filtering: ftp://example.com/x",
        ),
        (
            json!({"method": {"name": "web-download"}}),
            StatusCode::BAD_REQUEST,
            "URI for web-download does not pass filtering: None",
        ),
    ];
    // Single-store only (with several stores it is Glance's choice to make).
    if crate::support::s3::test_store() == crate::support::s3::TestStore::File {
        cases.push((
            json!({"method": {"name": "web-download", "uri": "http://example.com/x"}, "all_stores_must_succeed": false}),
            StatusCode::BAD_REQUEST,
            "All_stores_must_succeed can only be set with enabled_backends http://example.com/x",
        ));
    }
    for (body, status, message) in cases {
        let got = expect_error(import(&server, &owner, &id, body.clone()).await, status).await;
        assert_eq!(got, message, "{body}");
    }
    // Not JSON at all.
    let response = server
        .client
        .post(server.url(&format!("/v2/images/{id}/import")))
        .headers(owner.clone())
        .body("nope")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // Another project: not found; a reader of a shared image: forbidden.
    let missing = import(&server, &member_of("p2"), &id, direct.clone()).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let missing = stage(&server, &member_of("p2"), &id, vec![1, 2]).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // Stage: media type, then staging twice.
    let response = server
        .client
        .put(server.url(&format!("/v2/images/{id}/stage")))
        .headers(owner.clone())
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        stage(&server, &owner, &id, pattern(1000)).await.status(),
        StatusCode::NO_CONTENT
    );
    let again = expect_error(
        stage(&server, &owner, &id, pattern(10)).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(
        again,
        "Image status transition from uploading to uploading is not allowed"
    );
    let web = json!({"method": {"name": "web-download", "uri": "http://example.com/x"}});
    let got = expect_error(
        import(&server, &owner, &id, web).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(
        got,
        "Image needs to be in 'queued' state to use 'web-download' method"
    );

    // The lock: a second import while the first holds it.
    let db = database(&server).await;
    let mut lock = glance_rs::domain::ImageChanges::default();
    let holder = uuid::Uuid::new_v4().to_string();
    lock.set_properties
        .insert("os_glance_import_task".into(), Some(holder.clone()));
    db.image_update(&super::image_data::admin(), &id, lock, false, None)
        .await
        .expect("lock");
    // A holder with no task is stale (Glance: culled task): taken over, import accepted.
    assert_eq!(
        import(&server, &owner, &id, direct.clone()).await.status(),
        StatusCode::ACCEPTED
    );
    let image = settle(&server, &owner, &id).await;
    assert_eq!(image["status"], "active");
    let got = expect_error(
        import(&server, &owner, &id, direct.clone()).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(got, "Image with status active cannot be target for import");

    // Formats missing.
    let bare = create_image(&server, &owner, json!({"name": "no-formats"})).await;
    let bare_id = bare["id"].as_str().expect("id");
    let web = json!({"method": {"name": "web-download", "uri": "http://example.com/x"}});
    let got = expect_error(
        import(&server, &owner, bare_id, web).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(got, "'container_format' needs to be set before import");
}

#[tokio::test]
async fn a_live_lock_refuses_a_second_import() {
    let server = TestServer::start().await;
    let db = database(&server).await;
    let id = new_image(&db, None, Visibility::Private, true).await;
    let h = HeaderMap::new();
    assert_eq!(
        stage(&server, &h, &id, pattern(100)).await.status(),
        StatusCode::NO_CONTENT
    );
    // A fresh task holds the lock.
    let task_id = uuid::Uuid::new_v4().to_string();
    let ctx = super::image_data::admin();
    db.task_create(
        &ctx,
        glance_rs::domain::NewTask {
            id: task_id.clone(),
            task_type: "api_image_import".into(),
            owner: String::new(),
            image_id: Some(id.clone()),
            request_id: None,
            user_id: None,
            input: json!({}),
        },
    )
    .await
    .expect("task");
    let mut lock = glance_rs::domain::ImageChanges::default();
    lock.set_properties
        .insert("os_glance_import_task".into(), Some(task_id.clone()));
    db.image_update(&ctx, &id, lock, false, None)
        .await
        .expect("lock");
    let got = expect_error(
        import(
            &server,
            &h,
            &id,
            json!({"method": {"name": "glance-direct"}}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(got, "Image has active task");
}

#[tokio::test]
async fn staged_content_is_inspected_like_an_upload() {
    let server = TestServer::start().await;
    let h = HeaderMap::new();
    let image = create_image(
        &server,
        &h,
        json!({"name": "q", "disk_format": "qcow2", "container_format": "bare"}),
    )
    .await;
    let id = image["id"].as_str().expect("id");
    let response = stage(&server, &h, id, pattern(70_000)).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let image = show(&server, &h, id).await;
    assert_eq!(image["status"], "queued");
    assert_eq!(image["size"], Value::Null);
    let staging = std::path::PathBuf::from(&server.settings.import.staging_path);
    let left: Vec<_> = std::fs::read_dir(&staging).expect("staging").collect();
    assert!(left.is_empty(), "nothing staged: {left:?}");

    // The size cap holds too.
    let capped = TestServer::start_with(|s| s.limits.image_size_cap = 1000).await;
    let id = new_raw_image(&capped, &h).await;
    let response = stage(&capped, &h, &id, pattern(1001)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(show(&capped, &h, &id).await["status"], "queued");
}

#[tokio::test]
async fn deleting_a_staged_image_removes_its_staged_data() {
    let server = TestServer::start().await;
    let h = HeaderMap::new();
    let id = new_raw_image(&server, &h).await;
    assert_eq!(
        stage(&server, &h, &id, pattern(5000)).await.status(),
        StatusCode::NO_CONTENT
    );
    let staged = std::path::PathBuf::from(&server.settings.import.staging_path).join(&id);
    assert!(staged.exists());
    let response = server
        .client
        .delete(server.url(&format!("/v2/images/{id}")))
        .send()
        .await
        .expect("delete");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(!staged.exists());
}
