//! Glance's multi-store API over real HTTP: `GET /v2/info/stores[/detail]`, uploads to the
//! store `X-Image-Meta-Store` names, the `stores` property, `DELETE /v2/stores/{store}/{image}`
//! and downloads that fall back to another copy. Two stores: `local` (a folder, the default)
//! and `other`, a second folder, or the real S3 server when `GLANCE_TEST_STORE` asks for S3.

use glance_rs::config::{AuthMode, FileStoreSettings, Settings, StoreBackendSettings};
use glance_rs::domain::{LocationStatus, NewLocation};
use glance_rs::store::Stores;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{admin_context, admin_of, create_image, database, expect_error, expect_json, get};
use super::{image_data::upload, member_of};
use crate::support::s3::{self, random, TestStore};
use crate::support::server::TestServer;

/// The second store's kind in this run.
fn other_kind() -> &'static str {
    match s3::test_store() {
        TestStore::File => "file",
        TestStore::S3 | TestStore::FileAndS3 => "s3",
    }
}

/// `local` (default) and `other`, replacing whatever `GLANCE_TEST_STORE` configured.
pub(super) fn two_stores(settings: &mut Settings) {
    let s3 = match settings.stores.values().find_map(|b| match b {
        StoreBackendSettings::S3(s3) => Some(s3.clone()),
        StoreBackendSettings::File(_) => None,
    }) {
        Some(s3) => StoreBackendSettings::S3(s3),
        None => StoreBackendSettings::File(FileStoreSettings {
            path: format!("{}-other", settings.store.path),
        }),
    };
    settings.stores.clear();
    settings.stores.insert(
        "local".into(),
        StoreBackendSettings::File(FileStoreSettings {
            path: settings.store.path.clone(),
        }),
    );
    settings.stores.insert("other".into(), s3);
    settings.store.default_backend = "local".into();
}

async fn multi_server() -> TestServer {
    TestServer::start_with(|s| {
        s.auth.mode = AuthMode::TrustedAuth;
        two_stores(s);
    })
    .await
}

fn alice() -> HeaderMap {
    member_of("alice")
}

pub(super) fn admin() -> HeaderMap {
    admin_of("admin")
}

/// A raw/bare image of alice's, and its data uploaded to `store` (the default if `None`).
pub(super) async fn stored_image(server: &TestServer, store: Option<&str>, data: &[u8]) -> String {
    let image = create_image(
        server,
        &alice(),
        json!({"name": "copies", "disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    let id = image["id"].as_str().expect("id").to_string();
    let mut headers = alice();
    if let Some(store) = store {
        headers.insert("x-image-meta-store", store.parse().expect("header value"));
    }
    let uploaded = upload(server, headers, &id, data.to_vec()).await;
    assert_eq!(uploaded.status(), StatusCode::NO_CONTENT);
    id
}

/// Put a second copy of the image's data in `store`, as copy-image would leave it: the data
/// written by the store itself, a location with `{"store": store}`.
async fn add_copy(server: &TestServer, id: &str, store: &str, data: &[u8]) -> String {
    let stores = Stores::open(&server.settings).expect("stores open");
    let entry = stores.get(store).expect("store configured");
    let mut writing = entry
        .store
        .begin_upload(id, false)
        .await
        .expect("begin upload");
    writing.write(data).await.expect("write");
    writing.commit().await.expect("commit");
    let url = entry.store.url_for(id);
    let db = database(server).await;
    let mut metadata = serde_json::Map::new();
    metadata.insert("store".into(), json!(store));
    db.image_location_add(
        &admin_context(),
        id,
        NewLocation {
            url: url.clone(),
            metadata,
            status: LocationStatus::Active,
        },
    )
    .await
    .expect("add location");
    url
}

/// What store `store` holds for image `id` (`None`: nothing).
async fn held(server: &TestServer, store: &str, id: &str) -> Option<Vec<u8>> {
    s3::held(&server.settings, store, id).await
}

async fn download(server: &TestServer, id: &str) -> reqwest::Response {
    server
        .client
        .get(server.url(&format!("/v2/images/{id}/file")))
        .headers(alice())
        .send()
        .await
        .expect("download")
}

async fn delete_copy(
    server: &TestServer,
    headers: HeaderMap,
    store: &str,
    id: &str,
) -> reqwest::Response {
    server
        .client
        .delete(server.url(&format!("/v2/stores/{store}/{id}")))
        .headers(headers)
        .header("accept", "application/json")
        .send()
        .await
        .expect("delete copy")
}

async fn stores_property(server: &TestServer, id: &str) -> Option<String> {
    let image = expect_json(
        get(server, &alice(), &format!("/v2/images/{id}")).await,
        StatusCode::OK,
    )
    .await;
    image["stores"].as_str().map(str::to_string)
}

#[tokio::test]
async fn stores_are_listed_for_everyone_and_detailed_for_admins() {
    let server = multi_server().await;
    let listed = expect_json(
        get(&server, &alice(), "/v2/info/stores").await,
        StatusCode::OK,
    )
    .await;
    let mut stores = listed["stores"].as_array().expect("stores").clone();
    stores.sort_by_key(|s| s["id"].as_str().unwrap_or_default().to_string());
    assert_eq!(
        Value::Array(stores),
        json!([{"id": "local", "default": "true"}, {"id": "other"}])
    );

    let refused = get(&server, &alice(), "/v2/info/stores/detail").await;
    assert_eq!(
        expect_error(refused, StatusCode::FORBIDDEN).await,
        "You are not authorized to complete stores_info_detail action."
    );
    let detail = expect_json(
        get(&server, &admin(), "/v2/info/stores/detail").await,
        StatusCode::OK,
    )
    .await;
    let detail = detail["stores"].as_array().expect("stores");
    let find = |id: &str| {
        detail
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("{id} in {detail:?}"))
            .clone()
    };
    let local = find("local");
    assert_eq!(local["type"], "file");
    assert_eq!(local["default"], "true");
    assert_eq!(
        local["properties"]["data_dir"],
        json!(server.settings.store.path)
    );
    let other = find("other");
    assert_eq!(other["type"], other_kind());
    let shown = other.to_string();
    if let Some(StoreBackendSettings::S3(s3)) = server.settings.stores.get("other") {
        assert!(
            !shown.contains(&s3.secret_key) && !shown.contains(&s3.access_key),
            "no credentials in {shown}"
        );
    }
}

#[tokio::test]
async fn without_named_stores_the_store_api_is_absent() {
    let server = TestServer::start_with(|s| {
        s.auth.mode = AuthMode::TrustedAuth;
        s.stores.clear();
    })
    .await;
    for path in ["/v2/info/stores", "/v2/info/stores/detail"] {
        let response = get(&server, &admin(), path).await;
        assert_eq!(
            expect_error(response, StatusCode::NOT_FOUND).await,
            "Multi backend is not supported at this site.",
            "{path}"
        );
    }
    // The header is ignored and no `stores` property appears, as in Glance without
    // enabled_backends.
    let id = stored_image(&server, Some("anything"), b"single").await;
    assert_eq!(stores_property(&server, &id).await, None);
}

#[tokio::test]
async fn uploads_go_to_the_store_the_header_names() {
    let server = multi_server().await;
    let data = random(100_000);
    let chosen = stored_image(&server, Some("other"), &data).await;
    assert_eq!(
        stores_property(&server, &chosen).await.as_deref(),
        Some("other")
    );
    assert_eq!(
        held(&server, "other", &chosen).await.as_deref(),
        Some(&data[..])
    );
    assert_eq!(held(&server, "local", &chosen).await, None);
    let served = download(&server, &chosen).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.bytes().await.expect("body").as_ref(), &data[..]);

    let default = stored_image(&server, None, b"to the default").await;
    assert_eq!(
        stores_property(&server, &default).await.as_deref(),
        Some("local")
    );
    assert_eq!(
        held(&server, "local", &default).await.as_deref(),
        Some(&b"to the default"[..])
    );

    // An unknown store: 400, nothing written, the image still queued.
    let image = create_image(
        &server,
        &alice(),
        json!({"disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    let id = image["id"].as_str().expect("id");
    let mut headers = alice();
    headers.insert("x-image-meta-store", "nowhere".parse().expect("value"));
    headers.insert("accept", "application/json".parse().expect("value"));
    let refused = upload(&server, headers, id, b"lost".to_vec()).await;
    assert_eq!(
        expect_error(refused, StatusCode::BAD_REQUEST).await,
        "Store for scheme nowhere not found"
    );
    let image = expect_json(
        get(&server, &alice(), &format!("/v2/images/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(image["status"], "queued");
    assert!(image.get("stores").is_none(), "{image}");
}

#[tokio::test]
async fn an_admin_drops_one_copy_never_the_last() {
    let server = multi_server().await;
    let data = random(70_000);
    let id = stored_image(&server, None, &data).await;
    add_copy(&server, &id, "other", &data).await;
    assert_eq!(
        stores_property(&server, &id).await.as_deref(),
        Some("local,other")
    );

    let refused = delete_copy(&server, alice(), "other", &id).await;
    assert_eq!(
        expect_error(refused, StatusCode::FORBIDDEN).await,
        "You are not authorized to complete delete_image_location action."
    );
    let unknown = delete_copy(&server, admin(), "nowhere", &id).await;
    assert_eq!(
        expect_error(unknown, StatusCode::CONFLICT).await,
        "The selected store nowhere is not available on this node."
    );
    let missing_image = uuid::Uuid::new_v4().to_string();
    let missing = delete_copy(&server, admin(), "other", &missing_image).await;
    assert_eq!(
        expect_error(missing, StatusCode::NOT_FOUND).await,
        format!("Failed to find image {missing_image}")
    );

    let dropped = delete_copy(&server, admin(), "other", &id).await;
    assert_eq!(dropped.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        stores_property(&server, &id).await.as_deref(),
        Some("local")
    );
    assert_eq!(held(&server, "other", &id).await, None, "its data is gone");
    assert_eq!(
        held(&server, "local", &id).await.as_deref(),
        Some(&data[..])
    );

    // One copy left: neither store may drop it (Glance checks this before it looks for the
    // store's copy).
    for store in ["local", "other"] {
        let last = delete_copy(&server, admin(), store, &id).await;
        assert_eq!(
            expect_error(last, StatusCode::FORBIDDEN).await,
            "Cannot delete image data from the only store containing it. Consider deleting \
             the image instead."
        );
    }
    let served = download(&server, &id).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.bytes().await.expect("body").as_ref(), &data[..]);

    // Deactivated: not active, so no copy may go.
    let second = stored_image(&server, None, &data).await;
    add_copy(&server, &second, "other", &data).await;
    let deactivated = server
        .client
        .post(server.url(&format!("/v2/images/{second}/actions/deactivate")))
        .headers(admin())
        .send()
        .await
        .expect("deactivate");
    assert_eq!(deactivated.status(), StatusCode::NO_CONTENT);
    let inactive = delete_copy(&server, admin(), "other", &second).await;
    assert_eq!(
        expect_error(inactive, StatusCode::CONFLICT).await,
        "It's not allowed to remove image data from store if image status is not 'active'"
    );
}

#[tokio::test]
async fn downloads_fall_back_to_another_copy_and_delete_removes_every_copy() {
    let server = multi_server().await;
    let data = random(300_000);
    let id = stored_image(&server, None, &data).await;
    add_copy(&server, &id, "other", &data).await;

    // The first copy's data vanishes behind the server's back: the second one serves, whole
    // and by range.
    let stores = Stores::open(&server.settings).expect("stores open");
    let local = &stores.get("local").expect("local").store;
    local.delete(&local.url_for(&id)).await.expect("remove");
    let served = download(&server, &id).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.bytes().await.expect("body").as_ref(), &data[..]);
    let ranged = server
        .client
        .get(server.url(&format!("/v2/images/{id}/file")))
        .headers(alice())
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .expect("ranged download");
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        ranged.bytes().await.expect("body").as_ref(),
        &data[1000..2000]
    );

    // Deleting the image removes the data of every copy.
    let other = stored_image(&server, Some("other"), &data).await;
    add_copy(&server, &other, "local", &data).await;
    assert!(held(&server, "local", &other).await.is_some());
    let deleted = server
        .client
        .delete(server.url(&format!("/v2/images/{other}")))
        .headers(alice())
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(held(&server, "local", &other).await, None);
    assert_eq!(held(&server, "other", &other).await, None);

    // With no copy left anywhere, Glance's 204 without a body.
    let other_store = &stores.get("other").expect("other").store;
    other_store
        .delete(&other_store.url_for(&id))
        .await
        .expect("remove");
    let gone = download(&server, &id).await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
}
