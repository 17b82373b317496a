//! docs/deployment.md for real: two API nodes started from
//! `config/glance-api.postgres.example.toml`, one PostgreSQL database, one store folder.

use std::net::TcpListener;
use std::path::Path;

use glance_rs::config::{AuthMode, Service, Settings};
use glance_rs::data_access::Mode;
use serde_json::{json, Value};

use crate::support::postgres::fresh_database;
use crate::support::server::identity;

/// The example file, with the host-specific values replaced the way an operator would (env).
fn example_settings(database_url: &str, store: &Path, staging: &Path) -> Settings {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/glance-api.postgres.example.toml");
    let env = [
        ("GLANCE__DATABASE__URL", database_url.to_string()),
        ("GLANCE__STORE__PATH", store.display().to_string()),
        (
            "GLANCE__IMPORT__STAGING_PATH",
            staging.display().to_string(),
        ),
        ("GLANCE__METRICS__BIND", String::new()),
        ("GLANCE__SERVER__PUBLIC_ENDPOINT", String::new()),
        ("GLANCE__SERVER__WORKERS", "2".to_string()),
    ];
    let settings = Settings::load(
        Service::Api,
        Some(&file),
        env.into_iter().map(|(k, v)| (k.to_string(), v)),
    )
    .expect("the example configuration loads");
    assert_eq!(settings.data_access.mode, Mode::DirectPostgres);
    assert_eq!(settings.auth.mode, AuthMode::TrustedAuth);
    settings
}

async fn start_node(settings: &Settings) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let server = glance_rs::server::start(settings.clone(), listener)
        .await
        .expect("node starts");
    tokio::spawn(server);
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_api_nodes_share_one_database_and_store() {
    let (url, _guard) = fresh_database().await;
    let store = tempfile::tempdir().expect("store dir");
    let staging = tempfile::tempdir().expect("staging dir");
    let settings = example_settings(&url, store.path(), staging.path());
    let node_a = start_node(&settings).await;
    let node_b = start_node(&settings).await;
    let client = reqwest::Client::new();
    let who = identity("project-a", "member");

    let created: Value = client
        .post(format!("{node_a}/v2/images"))
        .headers(who.clone())
        .json(&json!({"name": "shared", "disk_format": "raw", "container_format": "bare"}))
        .send()
        .await
        .expect("create on A")
        .json()
        .await
        .expect("image JSON");
    let id = created["id"].as_str().expect("an id").to_string();

    let data = b"bytes stored through node A".to_vec();
    let upload = client
        .put(format!("{node_a}/v2/images/{id}/file"))
        .headers(who.clone())
        .header("content-type", "application/octet-stream")
        .body(data.clone())
        .send()
        .await
        .expect("upload to A");
    assert_eq!(upload.status(), 204);

    let shown: Value = client
        .get(format!("{node_b}/v2/images/{id}"))
        .headers(who.clone())
        .send()
        .await
        .expect("show on B")
        .json()
        .await
        .expect("image JSON");
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["size"], data.len());

    let downloaded = client
        .get(format!("{node_b}/v2/images/{id}/file"))
        .headers(who.clone())
        .send()
        .await
        .expect("download from B");
    assert_eq!(downloaded.status(), 200);
    assert_eq!(downloaded.bytes().await.expect("body").to_vec(), data);

    // Concurrent PATCHes on both nodes, each adding its own property: both stay.
    let patch = |node: String, key: &'static str| {
        let (client, who, id) = (client.clone(), who.clone(), id.clone());
        async move {
            client
                .patch(format!("{node}/v2/images/{id}"))
                .headers(who)
                .header(
                    "content-type",
                    "application/openstack-images-v2.1-json-patch",
                )
                .body(json!([{"op": "add", "path": format!("/{key}"), "value": "x"}]).to_string())
                .send()
                .await
                .expect("patch")
                .status()
        }
    };
    let (a, b) = tokio::join!(
        patch(node_a.clone(), "from_a"),
        patch(node_b.clone(), "from_b")
    );
    assert_eq!((a.as_u16(), b.as_u16()), (200, 200));
    let listed: Value = client
        .get(format!("{node_a}/v2/images"))
        .headers(who.clone())
        .send()
        .await
        .expect("list on A")
        .json()
        .await
        .expect("list JSON");
    let image = &listed["images"][0];
    assert_eq!(image["id"], id.as_str());
    assert_eq!(
        (&image["from_a"], &image["from_b"]),
        (&json!("x"), &json!("x"))
    );

    let files = |dir: &Path| std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(
        files(store.path()),
        1,
        "the upload landed in the shared store"
    );
    let deleted = client
        .delete(format!("{node_b}/v2/images/{id}"))
        .headers(who.clone())
        .send()
        .await
        .expect("delete on B");
    assert_eq!(deleted.status(), 204);
    let gone = client
        .get(format!("{node_a}/v2/images/{id}"))
        .headers(who)
        .send()
        .await
        .expect("show on A");
    assert_eq!(gone.status(), 404);
    let left = std::fs::read_dir(store.path())
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 0, "the data file is removed from the shared store");
}
