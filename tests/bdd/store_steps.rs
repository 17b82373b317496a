//! Steps of `features/multiple_stores.feature`: a server with two named stores (a folder, or
//! the real S3 server of `tests/s3/lib.sh`), uploads to a chosen store, and what each store
//! holds.

use std::sync::Arc;

use cucumber::{given, then, when};
use glance_rs::config::{
    AuthMode, FileStoreSettings, S3StoreSettings, Settings, StoreBackendSettings,
};
use glance_rs::store::Stores;
use reqwest::Method;

use super::server::TestServer;
use super::{data_of, GlanceWorld};

/// A store of `kind` named `name`: a folder next to `store.path`, or a bucket of its own on
/// the S3 server.
fn backend(settings: &Settings, kind: &str, name: &str) -> StoreBackendSettings {
    if kind == "file" {
        return StoreBackendSettings::File(FileStoreSettings {
            path: format!("{}-{name}", settings.store.path),
        });
    }
    let Some(s3) = super::s3::settings() else {
        panic!("an @s3 scenario ran without S3 (the runner leaves them out)")
    };
    StoreBackendSettings::S3(S3StoreSettings {
        bucket: format!("glance-{}", uuid::Uuid::new_v4().simple()),
        create_bucket_on_put: true,
        ..s3
    })
}

#[given(
    regex = r#"^a glance-api server in trusted-auth mode with a default (file|s3) store "([a-z0-9_]+)" and an? (file|s3) store "([a-z0-9_]+)"$"#
)]
async fn server_with_stores(
    world: &mut GlanceWorld,
    default_kind: String,
    default_name: String,
    other_kind: String,
    other_name: String,
) {
    let server = TestServer::start_with(|s| {
        s.auth.mode = AuthMode::TrustedAuth;
        s.stores.clear();
        let default = backend(s, &default_kind, &default_name);
        let other = backend(s, &other_kind, &other_name);
        s.stores.insert(default_name.clone(), default);
        s.stores.insert(other_name, other);
        s.store.default_backend = default_name;
    })
    .await;
    world.vars.insert("base".to_string(), server.base.clone());
    world.server = Some(Arc::new(server));
}

#[when(regex = r#"^I upload (\d+) bytes to the image in store "([a-z0-9_]+)"$"#)]
async fn upload_to_store(world: &mut GlanceWorld, size: usize, store: String) {
    world.uploaded = data_of(size);
    let data = world.uploaded.clone();
    world
        .send(
            Method::PUT,
            "/v2/images/{id}/file",
            Some((data, "application/octet-stream")),
            &[("x-image-meta-store", store.as_str())],
        )
        .await;
}

fn stores(world: &GlanceWorld) -> Stores {
    Stores::open(&world.server().settings).expect("the server's stores open")
}

/// What store `name` holds for the image `{id}`, if anything.
async fn held(world: &GlanceWorld, name: &str) -> Option<Vec<u8>> {
    super::s3::held(&world.server().settings, name, &world.expand("{id}")).await
}

#[when(regex = r#"^the image's data in store "([a-z0-9_]+)" is lost$"#)]
async fn lose_data(world: &mut GlanceWorld, name: String) {
    let stores = stores(world);
    let store = &stores.get(&name).expect("a configured store").store;
    store
        .delete(&store.url_for(&world.expand("{id}")))
        .await
        .expect("delete the data");
}

#[then(regex = r#"^store "([a-z0-9_]+)" holds the uploaded data$"#)]
async fn store_holds(world: &mut GlanceWorld, name: String) {
    let held = held(world, &name).await.expect("the store holds data");
    assert!(held == world.uploaded, "store {name} holds other data");
}

#[then(regex = r#"^store "([a-z0-9_]+)" holds nothing for the image$"#)]
async fn store_holds_nothing(world: &mut GlanceWorld, name: String) {
    assert!(held(world, &name).await.is_none(), "store {name} has data");
}

/// `GET /v2/info/stores[/detail]` lists these stores: `id`, `id (default)`, or with the type
/// in detail: `id: type`.
#[then(regex = r#"^the stores listed are "([^"]*)"$"#)]
fn stores_listed(world: &mut GlanceWorld, expected: String) {
    let json = world.json();
    let mut listed: Vec<String> = json["stores"]
        .as_array()
        .expect("a stores array")
        .iter()
        .map(|store| {
            let mut text = super::value_text(&store["id"]);
            if let Some(kind) = store.get("type") {
                text = format!("{text}: {}", super::value_text(kind));
            }
            if store["default"] == "true" {
                text.push_str(" (default)");
            }
            text
        })
        .collect();
    listed.sort();
    let mut expected = super::names(&expected);
    expected.sort();
    assert_eq!(listed, expected);
}
