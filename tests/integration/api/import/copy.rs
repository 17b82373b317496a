//! Imports into several stores and copy-image, over real HTTP with real stores: `local` (a
//! folder, the default), `other` (a second folder, or the real S3 server when
//! `GLANCE_TEST_STORE` asks for S3) and `broken`, a folder replaced by a plain file once the
//! server runs, so every write to it fails. What `all_stores_must_succeed` decides when one
//! store fails, as Glance's import flow does.

use glance_rs::config::{AuthMode, FileStoreSettings, StoreBackendSettings};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::super::stores::{admin, stored_image, two_stores};
use super::{image_tasks, import, new_raw_image, settle, stage};
use crate::support::s3;
use crate::support::server::TestServer;

/// `local`, `other` and `broken`; `broken`'s folder is a file from now on.
async fn three_stores() -> TestServer {
    let server = TestServer::start_with(|s| {
        s.auth.mode = AuthMode::TrustedAuth;
        two_stores(s);
        s.stores.insert(
            "broken".into(),
            StoreBackendSettings::File(FileStoreSettings {
                path: format!("{}-broken", s.store.path),
            }),
        );
    })
    .await;
    let broken = format!("{}-broken", server.settings.store.path);
    std::fs::remove_dir_all(&broken).expect("remove the broken store's folder");
    std::fs::write(&broken, b"not a folder").expect("a file where the folder was");
    server
}

/// What store `name` holds for image `id` (`broken` cannot be opened any more).
async fn held(server: &TestServer, name: &str, id: &str) -> Option<Vec<u8>> {
    let mut settings = server.settings.clone();
    settings.stores.remove("broken");
    s3::held(&settings, name, id).await
}

fn stores_of(image: &Value) -> &str {
    image["stores"].as_str().unwrap_or_default()
}

/// The image's tasks once none is pending or processing: the lock is dropped with the image's
/// last change, just before the task records its end.
async fn ended_tasks(server: &TestServer, id: &str) -> Vec<Value> {
    for _ in 0..200 {
        let tasks = image_tasks(server, &admin(), id).await;
        if tasks
            .iter()
            .all(|t| t["status"] == "success" || t["status"] == "failure")
        {
            return tasks;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the tasks of image {id} did not end");
}

fn task_status(tasks: &[Value]) -> Vec<&str> {
    tasks
        .iter()
        .map(|t| t["status"].as_str().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn copy_image_adds_a_checked_copy_and_refuses_what_glance_refuses() {
    let server = three_stores().await;
    let data = s3::random(200_000);
    let id = stored_image(&server, None, &data).await;
    let copied = import(
        &server,
        &admin(),
        &id,
        json!({"method": {"name": "copy-image"}, "stores": ["other"]}),
    )
    .await;
    assert_eq!(copied.status(), StatusCode::ACCEPTED);
    let image = settle(&server, &admin(), &id).await;
    assert_eq!(image["status"], "active");
    assert_eq!(stores_of(&image), "local,other");
    assert_eq!(image["os_glance_importing_to_stores"], "");
    assert_eq!(image["os_glance_failed_import"], "");
    assert!(
        held(&server, "other", &id).await == Some(data.clone()),
        "store other holds other data"
    );
    assert_eq!(task_status(&ended_tasks(&server, &id).await), ["success"]);

    // The owner (not an admin) may not copy; a store with a copy is not copied to again.
    let owner = super::member_of("alice");
    let refused = import(
        &server,
        &owner,
        &id,
        json!({"method": {"name": "copy-image"}, "stores": ["broken"]}),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let again = import(
        &server,
        &admin(),
        &id,
        json!({"method": {"name": "copy-image"}, "stores": ["local", "broken"]}),
    )
    .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let body = again.text().await.expect("body");
    assert!(
        body.contains("Image is already present at store 'local'"),
        "{body}"
    );
}

#[tokio::test]
async fn a_failed_copy_leaves_the_image_as_it_was_and_names_the_store() {
    let server = three_stores().await;
    let data = s3::random(100_000);
    let id = stored_image(&server, None, &data).await;
    let copied = import(
        &server,
        &admin(),
        &id,
        json!({"method": {"name": "copy-image"}, "stores": ["other", "broken"]}),
    )
    .await;
    assert_eq!(copied.status(), StatusCode::ACCEPTED);
    let image = settle(&server, &admin(), &id).await;
    // all_stores_must_succeed (the default): the copy to `other` is undone.
    assert_eq!(image["status"], "active");
    assert_eq!(stores_of(&image), "local");
    assert_eq!(image["os_glance_failed_import"], "broken");
    assert!(
        held(&server, "other", &id).await.is_none(),
        "store other keeps data"
    );
    let tasks = ended_tasks(&server, &id).await;
    assert_eq!(task_status(&tasks), ["failure"]);
    // The image still serves its data.
    let served = super::super::image_data::download(&server, admin(), &id).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert!(
        served.bytes().await.expect("data").to_vec() == data,
        "other data served"
    );

    // Without all_stores_must_succeed the good store keeps its copy and the task succeeds.
    let partial = import(
        &server,
        &admin(),
        &id,
        json!({"method": {"name": "copy-image"}, "stores": ["other", "broken"],
               "all_stores_must_succeed": false}),
    )
    .await;
    assert_eq!(partial.status(), StatusCode::ACCEPTED);
    let image = settle(&server, &admin(), &id).await;
    assert_eq!(stores_of(&image), "local,other");
    assert_eq!(image["os_glance_failed_import"], "broken");
    assert!(
        held(&server, "other", &id).await == Some(data),
        "store other holds other data"
    );

    // The broken store mended, a copy to it succeeds and it leaves the failed list.
    let broken = format!("{}-broken", server.settings.store.path);
    std::fs::remove_file(&broken).expect("remove the file");
    std::fs::create_dir(&broken).expect("the folder again");
    let mended = import(
        &server,
        &admin(),
        &id,
        json!({"method": {"name": "copy-image"}, "stores": ["broken"]}),
    )
    .await;
    assert_eq!(mended.status(), StatusCode::ACCEPTED);
    let image = settle(&server, &admin(), &id).await;
    assert_eq!(stores_of(&image), "local,other,broken");
    assert_eq!(image["os_glance_failed_import"], "");
}

#[tokio::test]
async fn glance_direct_into_several_stores_keeps_all_or_what_succeeded() {
    let server = three_stores().await;
    let data = s3::random(150_000);

    // All must succeed: one failure puts the image back to queued with no data anywhere.
    let id = new_raw_image(&server, &admin()).await;
    assert_eq!(
        stage(&server, &admin(), &id, data.clone()).await.status(),
        StatusCode::NO_CONTENT
    );
    let all = import(
        &server,
        &admin(),
        &id,
        json!({"method": {"name": "glance-direct"}, "stores": ["local", "broken"]}),
    )
    .await;
    assert_eq!(all.status(), StatusCode::ACCEPTED);
    let image = settle(&server, &admin(), &id).await;
    assert_eq!(image["status"], "queued");
    assert!(image.get("stores").is_none(), "{image}");
    assert_eq!(image["os_glance_failed_import"], "broken");
    assert!(
        held(&server, "local", &id).await.is_none(),
        "store local keeps data"
    );
    assert_eq!(task_status(&ended_tasks(&server, &id).await), ["failure"]);

    // Not all must succeed: active with the stores that took the data.
    let id = new_raw_image(&server, &admin()).await;
    assert_eq!(
        stage(&server, &admin(), &id, data.clone()).await.status(),
        StatusCode::NO_CONTENT
    );
    let some = import(
        &server,
        &admin(),
        &id,
        json!({"method": {"name": "glance-direct"}, "stores": ["broken", "local", "other"],
               "all_stores_must_succeed": false}),
    )
    .await;
    assert_eq!(some.status(), StatusCode::ACCEPTED);
    let image = settle(&server, &admin(), &id).await;
    assert_eq!(image["status"], "active");
    assert_eq!(stores_of(&image), "local,other");
    assert_eq!(image["os_glance_failed_import"], "broken");
    assert_eq!(image["os_glance_importing_to_stores"], "");
    assert!(
        held(&server, "local", &id).await == Some(data.clone()),
        "store local holds other data"
    );
    assert!(
        held(&server, "other", &id).await == Some(data),
        "store other holds other data"
    );
    assert_eq!(task_status(&ended_tasks(&server, &id).await), ["success"]);
}

#[tokio::test]
async fn copy_image_needs_several_stores() {
    let server = TestServer::start().await;
    let data = s3::random(1000);
    let headers = super::admin_of("admin");
    let id = new_raw_image(&server, &headers).await;
    let uploaded = super::super::image_data::upload(&server, headers.clone(), &id, data).await;
    assert_eq!(uploaded.status(), StatusCode::NO_CONTENT);
    let refused = import(
        &server,
        &headers,
        &id,
        json!({"method": {"name": "copy-image"}}),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
}
