//! API tests over real HTTP, arranged like the URL tree.

mod access_log;
mod actions;
mod auth;
pub(crate) mod concurrency;
mod foreign_locations;
mod glance33;
mod image_data;
mod image_inspection;
mod images;
mod images_list;
mod images_patch;
mod import;
mod keystone;
mod members;
pub(crate) mod metrics;
mod schemas;
mod stores;
mod tags;
mod versions;

use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::support::server::{identity, TestServer};

pub const PATCH_V21: &str = "application/openstack-images-v2.1-json-patch";
pub const PATCH_V20: &str = "application/openstack-images-v2.0-json-patch";

/// Identity headers of a plain project member.
pub fn member_of(project: &str) -> HeaderMap {
    identity(project, "member,reader")
}

pub fn admin_of(project: &str) -> HeaderMap {
    identity(project, "admin,member,reader")
}

/// The JSON body of a response, asserting its status first.
pub async fn expect_json(response: Response, status: StatusCode) -> Value {
    let got = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(got, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).expect("JSON body")
}

/// Status and the explanation of a Glance error, asked for as JSON.
pub async fn expect_error(response: Response, status: StatusCode) -> String {
    let got = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(got, status, "unexpected status; body: {text}");
    let body: Value = serde_json::from_str(&text).expect("JSON error body");
    let message = body["message"].as_str().expect("message").to_string();
    message.trim_end_matches("<br /><br />\n\n\n").to_string()
}

/// `POST /v2/images` as `headers`; returns the created image.
pub async fn create_image(server: &TestServer, headers: &HeaderMap, body: Value) -> Value {
    let response = server
        .client
        .post(server.url("/v2/images"))
        .headers(headers.clone())
        .json(&body)
        .send()
        .await
        .expect("request");
    expect_json(response, StatusCode::CREATED).await
}

/// `PATCH /v2/images/{id}` with the v2.1 media type, errors asked for as JSON.
pub async fn patch_image(
    server: &TestServer,
    headers: &HeaderMap,
    id: &str,
    doc: Value,
) -> Response {
    server
        .client
        .patch(server.url(&format!("/v2/images/{id}")))
        .headers(headers.clone())
        .header("content-type", PATCH_V21)
        .header("accept", "application/json")
        .body(doc.to_string())
        .send()
        .await
        .expect("request")
}

pub async fn get(server: &TestServer, headers: &HeaderMap, path: &str) -> Response {
    server
        .client
        .get(server.url(path))
        .headers(headers.clone())
        .header("accept", "application/json")
        .send()
        .await
        .expect("request")
}

/// A second handle on the server's own database, for states the API cannot reach alone
/// (active images, members, killed rows).
pub async fn database(
    server: &TestServer,
) -> std::sync::Arc<dyn glance_rs::data_access::DataAccess> {
    glance_rs::data_access::open(&server.settings)
        .await
        .expect("open the server's database")
}

/// Write, straight into the server's database, an active public raw image `id` whose one
/// location is `url` (as another Glance node would have left it).
pub async fn image_at_location(
    server: &TestServer,
    id: &str,
    url: String,
    metadata: serde_json::Map<String, Value>,
    size: usize,
    checksum: Option<String>,
) {
    use glance_rs::domain::{
        ImageChanges, ImageStatus, LocationStatus, NewImage, NewLocation, Visibility,
    };
    let db = database(server).await;
    let image = NewImage {
        id: id.to_string(),
        name: Some("written elsewhere".into()),
        status: ImageStatus::Active,
        visibility: Visibility::Public,
        disk_format: Some("raw".into()),
        container_format: Some("bare".into()),
        owner: Some("alice".into()),
        min_disk: 0,
        min_ram: 0,
        protected: false,
        os_hidden: false,
        properties: Default::default(),
        tags: Vec::new(),
    };
    db.image_create(&admin_context(), image)
        .await
        .expect("image row");
    let changes = ImageChanges {
        size: Some(Some(size as i64)),
        checksum: Some(checksum),
        add_locations: vec![NewLocation {
            url,
            metadata,
            status: LocationStatus::Active,
        }],
        ..ImageChanges::default()
    };
    db.image_update(&admin_context(), id, changes, false, None)
        .await
        .expect("location row");
}

/// An admin context for direct database calls.
pub fn admin_context() -> glance_rs::domain::RequestContext {
    glance_rs::domain::RequestContext::noauth("req-test".into())
}

/// Ids of the images in a list reply, in order.
pub fn ids(list: &Value) -> Vec<String> {
    list["images"]
        .as_array()
        .expect("images array")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_string())
        .collect()
}
