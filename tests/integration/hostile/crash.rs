//! Crash safety: SIGKILL glance-api in the middle of uploads and PATCHes, restart it on the
//! same database and store, and check the recovery rule of docs/operations.md.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{
    assert_seeds_intact, assert_settled, assert_store_matches, create, download, list_all,
    partial_files, seed, show, stalled_put, start_trusted, upload, IDENTITY,
};
use crate::support::process::ApiProcess;

const STALE_SECONDS: u64 = 3;

async fn start_on(dir: &Path) -> ApiProcess {
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
            "GLANCE__STORE__STALE_UPLOAD_SECONDS",
            STALE_SECONDS.to_string(),
        ),
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_uploads_and_patches_recovers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("images");
    let mut first = start_on(dir.path()).await;
    let seeds = seed(&first, &[10, 300_000]).await;
    let mut interrupted = Vec::new();
    for n in 0..4 {
        let body =
            json!({"name": format!("cut-{n}"), "disk_format": "raw", "container_format": "bare"});
        interrupted.push(create(&first, body).await);
    }
    let patched = create(&first, json!({"name": "patched"})).await;

    let addr = first.base.trim_start_matches("http://").to_string();
    let mut streams = Vec::new();
    for id in &interrupted {
        streams.push(stalled_put(&addr, &format!("/v2/images/{id}/file")).await);
    }
    // PATCHes in flight at the moment of the kill, one at a time: each acknowledged one
    // (200) must survive it; the one cut off may or may not have been stored.
    let client = first.client.clone();
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let acked_in_task = acked.clone();
    let patch_url = first.url(&format!("/v2/images/{patched}"));
    let patching = tokio::spawn(async move {
        let mut acknowledged = Vec::new();
        for n in 0u32.. {
            let mut request = client
                .patch(&patch_url)
                .header(
                    "content-type",
                    "application/openstack-images-v2.1-json-patch",
                )
                .body(format!(
                    r#"[{{"op": "add", "path": "/p{n}", "value": "v{n}"}}]"#
                ))
                .timeout(Duration::from_secs(5));
            for (name, value) in IDENTITY {
                request = request.header(name, value);
            }
            match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    // An answer cut off by the kill counts as unacknowledged.
                    let Ok(body) = response.text().await else {
                        return (acknowledged, n);
                    };
                    assert_eq!(status, 200, "PATCH p{n} before the kill: {body}");
                    acknowledged.push(n);
                    acked_in_task.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                Err(_) => return (acknowledged, n),
            }
        }
        unreachable!("the loop ends with the kill")
    });
    // Wait until every upload is saving with its temporary file on disk, and a few PATCHes
    // have been acknowledged (so the kill lands among them, not before the first).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut saving = 0;
        for id in &interrupted {
            if show(&first, id).await["status"] == "saving" {
                saving += 1;
            }
        }
        if saving == interrupted.len()
            && partial_files(&store).len() == interrupted.len()
            && acked.load(std::sync::atomic::Ordering::SeqCst) >= 3
        {
            break;
        }
        assert!(Instant::now() < deadline, "uploads did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    first.kill_hard();
    let (acknowledged, cut_off) = patching.await.expect("PATCH task");
    assert!(
        acknowledged.len() > 1,
        "too few PATCHes before the kill: {acknowledged:?}"
    );
    drop(streams);
    assert_eq!(
        partial_files(&store).len(),
        interrupted.len(),
        "kill -9 ran no cleanup"
    );

    let second = start_on(dir.path()).await;
    // Right after the restart: the database answers, and no partial data is ever served.
    assert!(list_all(&second).await.len() > interrupted.len() + seeds.len());
    for id in &interrupted {
        let image = show(&second, id).await;
        assert!(image["status"] == "saving" || image["status"] == "queued");
        let (status, body) = download(&second, id).await;
        assert_eq!(status, 204, "interrupted upload {id} serves data");
        assert!(body.is_empty());
    }
    let image = show(&second, &patched).await;
    assert_eq!(image["status"], "queued");
    // Every acknowledged PATCH is stored; the one cut off by the kill may be (it may have
    // committed before its answer was lost); none other was ever sent.
    for n in &acknowledged {
        assert_eq!(
            image[format!("p{n}")],
            format!("v{n}"),
            "acknowledged p{n} lost"
        );
    }
    let extra: Vec<&String> = image
        .as_object()
        .expect("image object")
        .keys()
        .filter(|key| key.starts_with('p') && key[1..].parse::<u32>().is_ok())
        .filter(|key| *key != &format!("p{cut_off}"))
        .filter(|key| !acknowledged.iter().any(|n| *key == &format!("p{n}")))
        .collect();
    assert!(extra.is_empty(), "stored but never acknowledged: {extra:?}");

    // After the stale threshold every interrupted image is queued again, with no size, and
    // its temporary file is gone.
    let images = assert_settled(&second, &store).await;
    for id in &interrupted {
        let image = show(&second, id).await;
        assert_eq!(image["status"], "queued", "{id}");
        assert!(image["size"].is_null(), "{id} keeps a size");
    }
    assert_store_matches(&images, &store);
    assert_seeds_intact(&second, &seeds).await;
    // And the images take a new upload.
    upload(&second, &interrupted[0], b"after the crash".to_vec()).await;
    assert_eq!(show(&second, &interrupted[0]).await["status"], "active");
}

/// A live upload that stalls longer than the threshold is not taken away: its node keeps
/// touching the image, so the recovery of another node leaves it alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_stalled_upload_is_not_reset_by_another_node() {
    let dir = tempfile::tempdir().expect("temp dir");
    let uploader = start_on(dir.path()).await;
    let other = start_on(dir.path()).await;
    let body = json!({"name": "slow", "disk_format": "raw", "container_format": "bare"});
    let id = create(&uploader, body).await;
    let addr = uploader.base.trim_start_matches("http://").to_string();
    let stream = stalled_put(&addr, &format!("/v2/images/{id}/file")).await;
    tokio::time::sleep(Duration::from_secs(STALE_SECONDS * 2 + 1)).await;
    assert_eq!(show(&other, &id).await["status"], "saving");
    assert_eq!(partial_files(&dir.path().join("images")).len(), 1);
    drop(stream);
    // The client went away: the uploader itself puts the image back.
    let deadline = Instant::now() + Duration::from_secs(10);
    while show(&other, &id).await["status"] != "queued" {
        assert!(Instant::now() < deadline, "abandoned upload stays saving");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
