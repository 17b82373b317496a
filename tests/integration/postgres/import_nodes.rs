//! Interoperable import across API nodes (docs/deployment.md §3): three real glance-api
//! processes on one PostgreSQL database and one store folder. A and B share
//! `import.staging_path`, so an import that reaches B imports what A staged. C has a staging
//! folder of its own (a misconfigured node): it refuses the import with a 409 before changing
//! anything, and the stage survives for an import through a node that shares it.

use std::path::Path;

use serde_json::json;

use crate::hostile::import_crash::{import, raw_image, tasks, wait_for};
use crate::hostile::{create, download, show, with_identity};
use crate::support::process::ApiProcess;
use crate::support::server::handoff;

async fn node(database_url: &str, store: &Path, staging: &Path) -> ApiProcess {
    let listener = handoff::bind("127.0.0.1");
    let port = handoff::port(&listener);
    ApiProcess::start_on(
        listener,
        &[
            ("GLANCE__AUTH__MODE", "trusted-auth".into()),
            ("GLANCE__DATA_ACCESS__MODE", "direct-postgres".into()),
            ("GLANCE__DATABASE__URL", database_url.into()),
            ("GLANCE__STORE__PATH", store.display().to_string()),
            (
                "GLANCE__IMPORT__STAGING_PATH",
                staging.display().to_string(),
            ),
            (
                "GLANCE__SERVER__PUBLIC_ENDPOINT",
                format!("http://127.0.0.1:{port}"),
            ),
        ],
    )
    .await
}

async fn stage(api: &ApiProcess, id: &str, data: &[u8]) {
    let response = with_identity(api.client.put(api.url(&format!("/v2/images/{id}/stage"))))
        .header("content-type", "application/octet-stream")
        .body(data.to_vec())
        .send()
        .await
        .expect("stage");
    assert_eq!(response.status(), 204, "stage of {id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_reaching_a_node_that_did_not_stage_succeeds() {
    let (url, _guard) = crate::support::postgres::fresh_database().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, shared, own) = (
        dir.path().join("images"),
        dir.path().join("staging"),
        dir.path().join("staging-of-c"),
    );
    let a = node(&url, &store, &shared).await;
    let b = node(&url, &store, &shared).await;
    let c = node(&url, &store, &own).await;
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();

    // Staged through A, imported through B.
    let id = create(&a, raw_image("two-nodes")).await;
    stage(&a, &id, &data).await;
    let staged = show(&b, &id).await;
    assert_eq!(staged["status"], "uploading");
    assert_eq!(import(&b, &id, json!({"name": "glance-direct"})).await, 202);
    wait_for("the import through B did not finish", async || {
        show(&a, &id).await["status"] == "active"
    })
    .await;
    let (status, body) = download(&a, &id).await;
    assert_eq!(status, 200);
    assert!(body == data, "A serves what A staged and B imported");
    let task = &tasks(&a, &id).await[0];
    assert_eq!(task["status"], "success", "{task}");
    assert!(!shared.join(&id).exists(), "the staged data is removed");

    // C does not see the shared staging folder: 409, nothing changed, the stage kept.
    let other = create(&a, raw_image("misconfigured")).await;
    stage(&a, &other, &data).await;
    let refused = with_identity(c.client.post(c.url(&format!("/v2/images/{other}/import"))))
        .json(&json!({"method": {"name": "glance-direct"}}))
        .send()
        .await
        .expect("import through C");
    assert_eq!(refused.status(), 409);
    let text = refused.text().await.expect("body");
    assert!(
        text.contains("no staged data on this node")
            && text.contains(&format!("staged through {}", a.base)),
        "{text}"
    );
    let image = show(&c, &other).await;
    assert_eq!(image["status"], "uploading", "{image}");
    assert_eq!(image["size"], data.len(), "{image}");
    assert!(image.get("os_glance_import_task").is_none(), "{image}");
    assert!(tasks(&c, &other).await.is_empty());
    assert!(shared.join(&other).exists(), "the stage is kept");
    // …and imports through B.
    assert_eq!(
        import(&b, &other, json!({"name": "glance-direct"})).await,
        202
    );
    wait_for("the import through B did not finish", async || {
        show(&c, &other).await["status"] == "active"
    })
    .await;
    let (status, body) = download(&c, &other).await;
    assert_eq!((status, body.len()), (200, data.len()));
}
