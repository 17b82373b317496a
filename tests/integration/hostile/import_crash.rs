//! Imports survive their node: SIGKILL glance-api in the middle of a web-download import and
//! of a stage, restart it on the same database, store and staging area, and check that no
//! partial image is ever served, that the image comes back `queued` (importable again) and
//! that the task is failed with a message (docs/operations.md). Imports across two nodes:
//! tests/integration/postgres/import_nodes.rs.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{create, download, partial_files, show, stalled_put, start_trusted, with_identity};
use crate::support::process::ApiProcess;

const STALE_SECONDS: u64 = 3;

async fn start_on(dir: &Path, source_port: u16) -> ApiProcess {
    start_trusted(&[
        (
            "GLANCE__DATABASE__URL",
            format!("sqlite:///{}", dir.join("glance.db").display()),
        ),
        (
            "GLANCE__STORE__PATH",
            dir.join("images").display().to_string(),
        ),
        (
            "GLANCE__IMPORT__STAGING_PATH",
            dir.join("staging").display().to_string(),
        ),
        (
            "GLANCE__STORE__STALE_UPLOAD_SECONDS",
            STALE_SECONDS.to_string(),
        ),
        (
            "GLANCE__IMPORT_FILTERING__ALLOWED_PORTS",
            source_port.to_string(),
        ),
    ])
    .await
}

/// A source that announces 8 MiB, sends 1 MiB and then keeps every connection open.
async fn stalling_source() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let serving = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut head = [0u8; 4096];
            let _ = stream.read(&mut head).await;
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                 Content-Length: {}\r\n\r\n",
                8 << 20
            );
            let _ = stream.write_all(reply.as_bytes()).await;
            let _ = stream.write_all(&vec![9u8; 1 << 20]).await;
            held.push(stream);
        }
    });
    (port, serving)
}

pub async fn import(api: &ApiProcess, id: &str, method: Value) -> u16 {
    with_identity(api.client.post(api.url(&format!("/v2/images/{id}/import"))))
        .json(&json!({ "method": method }))
        .send()
        .await
        .expect("import request")
        .status()
        .as_u16()
}

pub async fn tasks(api: &ApiProcess, id: &str) -> Vec<Value> {
    let response = with_identity(api.client.get(api.url(&format!("/v2/images/{id}/tasks"))))
        .send()
        .await
        .expect("tasks request");
    let body: Value = response.json().await.expect("tasks JSON");
    body["tasks"].as_array().cloned().unwrap_or_default()
}

pub async fn wait_for(what: &str, mut ready: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready().await {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn raw_image(name: &str) -> Value {
    json!({"name": name, "disk_format": "raw", "container_format": "bare"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_an_import_and_a_stage_leaves_them_importable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, staging) = (dir.path().join("images"), dir.path().join("staging"));
    let (port, _source) = stalling_source().await;
    let mut first = start_on(dir.path(), port).await;

    let fetched = create(&first, raw_image("fetched")).await;
    let uri = format!("http://127.0.0.1:{port}/disk.raw");
    assert_eq!(
        import(
            &first,
            &fetched,
            json!({"name": "web-download", "uri": uri})
        )
        .await,
        202
    );
    let staged = create(&first, raw_image("staged")).await;
    let addr = first.base.trim_start_matches("http://").to_string();
    let stream = stalled_put(&addr, &format!("/v2/images/{staged}/stage")).await;
    wait_for("the import and the stage did not start", async || {
        show(&first, &fetched).await["status"] == "importing"
            && show(&first, &staged).await["status"] == "uploading"
            && partial_files(&store).len() == 1
            && partial_files(&staging).len() == 1
    })
    .await;

    first.kill_hard();
    drop(stream);
    let second = start_on(dir.path(), port).await;
    // Right after the restart: nothing is served for either image.
    for id in [&fetched, &staged] {
        let (status, body) = download(&second, id).await;
        assert_eq!(status, 204, "{id} serves data after the kill");
        assert!(body.is_empty());
    }
    // After the stale threshold: both queued, no size, no lock, no partial files; the
    // import's task failed with a message.
    wait_for(
        "the interrupted import and stage were not reset",
        async || {
            show(&second, &fetched).await["status"] == "queued"
                && show(&second, &staged).await["status"] == "queued"
                && partial_files(&store).is_empty()
                && partial_files(&staging).is_empty()
        },
    )
    .await;
    for id in [&fetched, &staged] {
        let image = show(&second, id).await;
        assert!(image["size"].is_null(), "{image}");
        assert!(image.get("os_glance_import_task").is_none(), "{image}");
    }
    let task = &tasks(&second, &fetched).await[0];
    assert_eq!(task["status"], "failure", "{task}");
    assert_eq!(task["message"], glance_rs::domain::STALE_TASK_MESSAGE);

    // Both are importable again, on the restarted node.
    let id = &staged;
    let response = with_identity(
        second
            .client
            .put(second.url(&format!("/v2/images/{id}/stage"))),
    )
    .header("content-type", "application/octet-stream")
    .body(vec![3u8; 100_000])
    .send()
    .await
    .expect("stage");
    assert_eq!(response.status(), 204);
    assert_eq!(
        import(&second, &staged, json!({"name": "glance-direct"})).await,
        202
    );
    wait_for("the re-import did not finish", async || {
        show(&second, &staged).await["status"] == "active"
    })
    .await;
    let (status, body) = download(&second, &staged).await;
    assert_eq!((status, body.len()), (200, 100_000));
    let again = import(
        &second,
        &fetched,
        json!({"name": "web-download", "uri": uri}),
    )
    .await;
    assert_eq!(again, 202, "the web-download can be retried");
}
