//! `S3Store` on a real Garage: what the upload writes, reads and deletes, and what an upload
//! that never completes leaves behind (nothing).

use std::time::Duration;

use futures_util::StreamExt;
use glance_rs::store::{ImageStore, S3Store};
use md5::{Digest, Md5};
use sha2::Sha512;

use crate::support::s3::{self, random};

const MIB: usize = 1024 * 1024;

fn store() -> Option<S3Store> {
    let settings = s3::settings()?;
    Some(S3Store::open("s3", &settings).expect("S3 store opens"))
}

async fn read(store: &S3Store, url: &str, offset: u64, length: u64) -> std::io::Result<Vec<u8>> {
    let mut stream = store.read_range(url, offset, length).await?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

async fn upload(store: &S3Store, id: &str, data: &[u8]) -> glance_rs::store::Written {
    let mut upload = store.begin_upload(id, false).await.expect("begin");
    for chunk in data.chunks(64 * 1024 + 17) {
        upload.write(chunk).await.expect("write");
    }
    upload.commit().await.expect("commit")
}

#[tokio::test]
async fn a_multipart_upload_is_digested_read_by_range_and_deleted() {
    let Some(store) = store() else { return };
    let id = uuid::Uuid::new_v4().to_string();
    // 5 MiB parts: three parts, the last one short.
    let data = random(12 * MIB + 4321);
    let written = upload(&store, &id, &data).await;
    assert_eq!(written.size, data.len() as u64);
    assert_eq!(written.md5, hex::encode(Md5::digest(&data)));
    assert_eq!(written.sha512, hex::encode(Sha512::digest(&data)));

    let url = store.url_for(&id);
    assert!(url.starts_with("s3://"), "glance_store's scheme for http");
    assert!(
        url.ends_with(&format!("/images/{id}")),
        "{}",
        glance_rs::store::loggable(&url)
    );
    assert_eq!(store.size(&url).await.expect("head"), data.len() as u64);
    assert_eq!(
        read(&store, &url, 0, data.len() as u64).await.expect("get"),
        data
    );
    // Ranges across a part boundary, at the end, and empty.
    let (from, len) = (5 * MIB as u64 - 10, 20);
    assert_eq!(
        read(&store, &url, from, len).await.expect("range"),
        data[from as usize..(from + len) as usize]
    );
    let tail = data.len() as u64 - 3;
    assert_eq!(
        read(&store, &url, tail, 3).await.expect("tail"),
        data[tail as usize..]
    );
    assert!(read(&store, &url, 7, 0).await.expect("empty").is_empty());

    store.delete(&url).await.expect("delete");
    let gone = store.size(&url).await.expect_err("deleted");
    assert_eq!(gone.kind(), std::io::ErrorKind::NotFound);
    store
        .delete(&url)
        .await
        .expect("deleting again is not an error");
}

#[tokio::test]
async fn a_small_upload_is_one_put() {
    let Some(store) = store() else { return };
    let id = uuid::Uuid::new_v4().to_string();
    let data = random(300_000);
    let written = upload(&store, &id, &data).await;
    assert_eq!(written.size, 300_000);
    let url = store.url_for(&id);
    assert_eq!(read(&store, &url, 0, 300_000).await.expect("get"), data);
    store.delete(&url).await.expect("delete");
}

#[tokio::test]
async fn an_upload_dropped_midway_leaves_no_object_and_no_multipart_upload() {
    let Some(store) = store() else { return };
    let id = uuid::Uuid::new_v4().to_string();
    let mut upload = store.begin_upload(&id, false).await.expect("begin");
    // Two full parts on the wire, a third being gathered.
    for chunk in random(11 * MIB).chunks(256 * 1024) {
        upload.write(chunk).await.expect("write");
    }
    assert!(
        incomplete_uploads(&id).await >= 1,
        "a multipart upload is under way"
    );
    drop(upload);
    let url = store.url_for(&id);
    let mut left = usize::MAX;
    for _ in 0..50 {
        left = incomplete_uploads(&id).await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0, "the multipart upload was aborted");
    let err = store.size(&url).await.expect_err("no object");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

#[tokio::test]
async fn a_finished_but_unplaced_upload_is_not_served() {
    let Some(store) = store() else { return };
    for len in [1000, 6 * MIB] {
        let id = uuid::Uuid::new_v4().to_string();
        let mut upload = store.begin_upload(&id, true).await.expect("begin");
        upload.write(&random(len)).await.expect("write");
        let written = upload.finish().await.expect("finish");
        assert_eq!(written.size, len as u64);
        assert!(written.detection.is_some(), "inspected on the way");
        // Refused (e.g. by inspection): dropped before `place`.
        drop(upload);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let err = store
            .size(&store.url_for(&id))
            .await
            .expect_err("no object");
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{len} bytes");
        assert_eq!(incomplete_uploads(&id).await, 0, "{len} bytes");
    }
}

#[tokio::test]
async fn wrong_credentials_are_an_error_not_a_hang() {
    let Some(mut settings) = s3::settings() else {
        return;
    };
    settings.secret_key = "not-the-secret".into();
    let store = S3Store::open("s3", &settings).expect("opens");
    let id = uuid::Uuid::new_v4().to_string();
    let mut upload = store.begin_upload(&id, false).await.expect("begin");
    upload.write(b"data").await.expect("write");
    let started = std::time::Instant::now();
    let err = upload.commit().await.expect_err("refused by S3");
    assert!(started.elapsed() < Duration::from_secs(20), "{err}");
    assert!(!err.to_string().contains("not-the-secret"), "{err}");
}

/// Multipart uploads under way for `key`, as Garage lists them (ListMultipartUploads).
async fn incomplete_uploads(key: &str) -> usize {
    s3::incomplete_upload_keys()
        .await
        .iter()
        .filter(|k| *k == key)
        .count()
}
