//! `PUT`/`GET /v2/images/{id}/file` over real HTTP against a real SQLite file and store folder.
//! Also the small helpers the other data-side API tests share.

use std::sync::Arc;
use std::time::Duration;

use glance_rs::data_access::DataAccess;
use glance_rs::domain::{Image, ImageStatus, NewImage, RequestContext, Visibility};
use md5::{Digest, Md5};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use sha2::Sha512;
use tokio::io::AsyncWriteExt;

use crate::support::server::{identity, TestServer};

/// A second handle on the server's own SQLite file, for arranging and checking rows.
pub async fn database(server: &TestServer) -> Arc<dyn DataAccess> {
    glance_rs::data_access::open(&server.settings)
        .await
        .expect("open the test database")
}

pub fn admin() -> RequestContext {
    RequestContext::noauth("req-test".to_string())
}

/// Insert a queued image (raw/bare unless `formats` is false) owned by `owner`.
pub async fn new_image(
    db: &Arc<dyn DataAccess>,
    owner: Option<&str>,
    visibility: Visibility,
    formats: bool,
) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let values = NewImage {
        id: id.clone(),
        name: Some("test-image".to_string()),
        status: ImageStatus::Queued,
        visibility,
        disk_format: formats.then(|| "raw".to_string()),
        container_format: formats.then(|| "bare".to_string()),
        owner: owner.map(str::to_string),
        min_disk: 0,
        min_ram: 0,
        protected: false,
        os_hidden: false,
        properties: Default::default(),
        tags: Vec::new(),
    };
    db.image_create(&admin(), values)
        .await
        .expect("create image");
    id
}

pub async fn image(db: &Arc<dyn DataAccess>, id: &str) -> Image {
    db.image_get(&admin(), id, false)
        .await
        .expect("image exists")
}

/// Deterministic test data: byte i = i % 251 (as in the real-Glance session).
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

pub async fn upload(
    server: &TestServer,
    headers: HeaderMap,
    id: &str,
    data: Vec<u8>,
) -> reqwest::Response {
    server
        .client
        .put(server.url(&format!("/v2/images/{id}/file")))
        .headers(headers)
        .header("content-type", "application/octet-stream")
        .body(data)
        .send()
        .await
        .expect("upload request")
}

pub async fn download(server: &TestServer, headers: HeaderMap, id: &str) -> reqwest::Response {
    server
        .client
        .get(server.url(&format!("/v2/images/{id}/file")))
        .headers(headers)
        .send()
        .await
        .expect("download request")
}

/// What the default store holds: names in its folder (including hidden temporary files), or
/// on S3 the objects and multipart uploads under way (`support::s3::stored_names`).
pub fn store_files(server: &TestServer) -> Vec<String> {
    crate::support::s3::stored_names(&server.settings)
}

async fn explanation(response: reqwest::Response) -> String {
    response.text().await.expect("error body")
}

#[tokio::test]
async fn upload_stores_data_and_activates_the_image() {
    let server = TestServer::start().await;
    let db = database(&server).await;
    let id = new_image(&db, None, Visibility::Private, true).await;
    let data = pattern(1_048_576);

    let response = upload(&server, HeaderMap::new(), &id, data.clone()).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.bytes().await.expect("body").is_empty());

    let image = image(&db, &id).await;
    assert_eq!(image.status, ImageStatus::Active);
    assert_eq!(image.size, Some(1_048_576));
    assert_eq!(image.virtual_size, Some(1_048_576));
    assert_eq!(
        image.checksum.as_deref(),
        Some("8f293a2f6c19b345152f7a49bb4c643c")
    );
    assert_eq!(image.checksum, Some(hex::encode(Md5::digest(&data))));
    assert_eq!(image.os_hash_algo.as_deref(), Some("sha512"));
    assert_eq!(
        image.os_hash_value,
        Some(hex::encode(Sha512::digest(&data)))
    );
    assert_eq!(image.locations.len(), 1);
    let expected_url = crate::support::s3::default_url(&server.settings, &id);
    assert_eq!(image.locations[0].url, expected_url);
    if crate::support::s3::test_store() == crate::support::s3::TestStore::File {
        let expected_path = server.store_dir().join(&id);
        assert_eq!(expected_url, format!("file://{}", expected_path.display()));
    }
    assert_eq!(
        crate::support::s3::stored_data(&server.settings, &id).await,
        data
    );
    assert_eq!(store_files(&server), vec![id.clone()]);

    let again = upload(&server, HeaderMap::new(), &id, b"abc".to_vec()).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(explanation(again)
        .await
        .contains("Image status transition from active to saving is not allowed"));
}

#[tokio::test]
async fn upload_over_the_size_cap_is_413_and_leaves_the_image_queued() {
    let server = TestServer::start_with(|s| s.limits.image_size_cap = 1000).await;
    let db = database(&server).await;
    let id = new_image(&db, None, Visibility::Private, true).await;

    let response = upload(&server, HeaderMap::new(), &id, pattern(5000)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let image = image(&db, &id).await;
    assert_eq!(image.status, ImageStatus::Queued);
    assert_eq!(image.size, None);
    assert_eq!(image.virtual_size, None);
    assert!(image.locations.is_empty());
    assert!(
        store_files(&server).is_empty(),
        "{:?}",
        store_files(&server)
    );

    // Exactly the cap is fine.
    let response = upload(&server, HeaderMap::new(), &id, pattern(1000)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(self::image(&db, &id).await.size, Some(1000));
}

#[tokio::test]
async fn upload_needs_octet_stream_and_formats() {
    let server = TestServer::start().await;
    let db = database(&server).await;
    let id = new_image(&db, None, Visibility::Private, true).await;
    let url = server.url(&format!("/v2/images/{id}/file"));

    let wrong_type = server
        .client
        .put(&url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let no_type = server
        .client
        .put(&url)
        .body("abc")
        .send()
        .await
        .expect("request");
    assert_eq!(no_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let with_params = server
        .client
        .put(&url)
        .header("content-type", "application/octet-stream; charset=binary")
        .body("abc")
        .send()
        .await
        .expect("request");
    assert_eq!(with_params.status(), StatusCode::NO_CONTENT);

    let bare = new_image(&db, None, Visibility::Private, false).await;
    let response = upload(&server, HeaderMap::new(), &bare, b"abc".to_vec()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(explanation(response)
        .await
        .contains("Properties disk_format, container_format must be set prior to saving data."));
    assert_eq!(image(&db, &bare).await.status, ImageStatus::Queued);

    let missing = server
        .client
        .put(server.url(&format!("/v2/images/{}/file", uuid::Uuid::new_v4())))
        .header("content-type", "application/octet-stream")
        .body("abc")
        .send()
        .await
        .expect("request");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn declared_size_must_match_the_data() {
    let server = TestServer::start().await;
    let db = database(&server).await;
    let id = new_image(&db, None, Visibility::Private, true).await;
    let url = server.url(&format!("/v2/images/{id}/file"));
    let put = |size: &'static str, body: &'static str| {
        server
            .client
            .put(&url)
            .header("content-type", "application/octet-stream")
            .header("x-openstack-image-size", size)
            .body(body)
            .send()
    };

    assert_eq!(
        put("ten", "abc").await.expect("request").status(),
        StatusCode::BAD_REQUEST
    );
    for (size, body) in [("5", "abc"), ("2", "abc")] {
        let response = put(size, body).await.expect("request");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "size {size}");
        let image = image(&db, &id).await;
        assert_eq!(image.status, ImageStatus::Queued);
        assert_eq!(image.size, None);
        assert!(store_files(&server).is_empty());
    }
    assert_eq!(
        put("3", "abc").await.expect("request").status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(image(&db, &id).await.size, Some(3));
}

/// The client declares 1 MB, sends 100 kB and hangs up: the image must go back to queued and
/// the partial file must disappear.
#[tokio::test]
async fn interrupted_upload_restores_queued_and_leaves_no_file() {
    let server = TestServer::start().await;
    let db = database(&server).await;
    let id = new_image(&db, None, Visibility::Private, true).await;
    let address = server.base.trim_start_matches("http://").to_string();

    let mut stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let head = format!(
        "PUT /v2/images/{id}/file HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("send head");
    stream
        .write_all(&pattern(100_000))
        .await
        .expect("send part of the body");
    stream.flush().await.expect("flush");

    // Wait until the server is really mid-upload (saving, with a temporary file; on S3 nothing
    // is visible before the first full part, larger than this body).
    let on_s3 = crate::support::s3::test_store() == crate::support::s3::TestStore::S3;
    let mut saw_saving = false;
    for _ in 0..100 {
        if image(&db, &id).await.status == ImageStatus::Saving
            && (on_s3 || !store_files(&server).is_empty())
        {
            saw_saving = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(saw_saving, "the upload never reached saving");
    drop(stream);

    let mut restored = false;
    for _ in 0..250 {
        let image = image(&db, &id).await;
        if image.status == ImageStatus::Queued && store_files(&server).is_empty() {
            assert_eq!(image.size, None);
            restored = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        restored,
        "image {:?}, store {:?}",
        image(&db, &id).await.status,
        store_files(&server)
    );

    // And the image can still be uploaded afterwards.
    let response = upload(&server, HeaderMap::new(), &id, pattern(10)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn download_whole_and_ranges() {
    let server = TestServer::start().await;
    let db = database(&server).await;
    let id = new_image(&db, None, Visibility::Private, true).await;
    let data = pattern(300_000);
    let size = data.len();
    assert_eq!(
        upload(&server, HeaderMap::new(), &id, data.clone())
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let md5 = hex::encode(Md5::digest(&data));

    let whole = download(&server, HeaderMap::new(), &id).await;
    assert_eq!(whole.status(), StatusCode::OK);
    let headers = whole.headers().clone();
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert_eq!(headers["content-length"], size.to_string().as_str());
    assert_eq!(headers["content-md5"], md5.as_str());
    assert_eq!(whole.bytes().await.expect("body").as_ref(), data.as_slice());

    let ranged = |range: String| {
        server
            .client
            .get(server.url(&format!("/v2/images/{id}/file")))
            .header("range", range)
            .send()
    };
    let cases: Vec<(String, usize, usize)> = vec![
        ("bytes=0-9".into(), 0, 9),
        (format!("bytes=10-{}", size + 100), 10, size - 1),
        (format!("bytes={}-", size - 7), size - 7, size - 1),
        ("bytes=-5".into(), size - 5, size - 1),
        (format!("bytes=-{}", size + 10), 0, size - 1),
    ];
    for (range, start, end) in cases {
        let response = ranged(range.clone()).await.expect("request");
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            response.headers()["content-range"],
            format!("bytes {start}-{end}/{size}").as_str(),
            "{range}"
        );
        assert_eq!(response.headers()["content-md5"], md5.as_str());
        let body = response.bytes().await.expect("body");
        assert_eq!(body.as_ref(), &data[start..=end], "{range}");
    }
    for range in [
        format!("bytes={size}-"),
        "bytes=abc".into(),
        "bytes=5-2".into(),
    ] {
        let response = ranged(range.clone()).await.expect("request");
        assert_eq!(
            response.status(),
            StatusCode::RANGE_NOT_SATISFIABLE,
            "{range}"
        );
    }
    let multi = ranged("bytes=0-1,3-4".into()).await.expect("request");
    assert_eq!(multi.status(), StatusCode::BAD_REQUEST);

    // Glance's legacy request Content-Range.
    let legacy = |value: String| {
        server
            .client
            .get(server.url(&format!("/v2/images/{id}/file")))
            .header("content-range", value)
            .send()
    };
    let response = legacy("bytes 2-5/*".into()).await.expect("request");
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        response.headers()["content-range"],
        format!("bytes 2-5/{size}").as_str()
    );
    assert_eq!(response.bytes().await.expect("body").as_ref(), &data[2..=5]);
    let response = legacy(format!("bytes 0-{size}/*")).await.expect("request");
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    let with_body = server
        .client
        .get(server.url(&format!("/v2/images/{id}/file")))
        .body("x")
        .send()
        .await
        .expect("request");
    assert_eq!(with_body.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn download_without_data_or_image() {
    let server = TestServer::start().await;
    let db = database(&server).await;
    let queued = new_image(&db, None, Visibility::Private, true).await;
    let response = download(&server, HeaderMap::new(), &queued).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.bytes().await.expect("body").is_empty());

    let missing = download(&server, HeaderMap::new(), &uuid::Uuid::new_v4().to_string()).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn data_access_follows_ownership_and_deactivation() {
    let server = TestServer::trusted().await;
    let db = database(&server).await;
    let owner = || identity("project-a", "member,reader");
    let other = || identity("project-b", "member");
    let public = new_image(&db, Some("project-a"), Visibility::Public, true).await;
    let private = new_image(&db, Some("project-a"), Visibility::Private, true).await;

    // Not the owner: 403 where the image is visible, 404 where it is not.
    let response = upload(&server, other(), &public, b"abc".to_vec()).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        upload(&server, other(), &private, b"abc".to_vec())
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(image(&db, &public).await.status, ImageStatus::Queued);

    assert_eq!(
        upload(&server, owner(), &public, pattern(64))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        download(&server, other(), &public).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        download(&server, other(), &private).await.status(),
        StatusCode::NOT_FOUND
    );

    let deactivate = server
        .client
        .post(server.url(&format!("/v2/images/{public}/actions/deactivate")))
        .headers(owner())
        .send()
        .await
        .expect("request");
    assert_eq!(deactivate.status(), StatusCode::NO_CONTENT);
    let denied = download(&server, owner(), &public).await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    assert!(explanation(denied)
        .await
        .contains("The requested image has been deactivated"));
    let as_admin = download(&server, identity("project-x", "admin"), &public).await;
    assert_eq!(as_admin.status(), StatusCode::OK);
    assert_eq!(
        as_admin.bytes().await.expect("body").as_ref(),
        pattern(64).as_slice()
    );
}

#[tokio::test]
async fn chunked_upload_without_a_declared_size() {
    let server = TestServer::start().await;
    let db = database(&server).await;
    let id = new_image(&db, None, Visibility::Private, true).await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..20).map(|i| Ok(vec![i as u8; 10_000])).collect();
    let response = server
        .client
        .put(server.url(&format!("/v2/images/{id}/file")))
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let image = image(&db, &id).await;
    assert_eq!(image.status, ImageStatus::Active);
    assert_eq!(image.size, Some(200_000));
}

/// The image is deleted while its data is still arriving: the final compare-and-set fails,
/// the data is removed and the client gets 410 Gone.
#[tokio::test]
async fn image_deleted_during_upload_is_410_and_data_removed() {
    let server = TestServer::start().await;
    let db = database(&server).await;
    let id = new_image(&db, None, Visibility::Private, true).await;
    let address = server.base.trim_start_matches("http://").to_string();

    let mut stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let head = format!(
        "PUT /v2/images/{id}/file HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: 200000\r\n\
         Accept: text/plain\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("send head");
    stream
        .write_all(&pattern(100_000))
        .await
        .expect("send first half");
    for _ in 0..100 {
        if image(&db, &id).await.status == ImageStatus::Saving {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(image(&db, &id).await.status, ImageStatus::Saving);
    db.image_destroy(&admin(), &id)
        .await
        .expect("delete mid-upload");
    stream
        .write_all(&pattern(100_000))
        .await
        .expect("send second half");

    let mut answer = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer)
        .await
        .expect("read answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 410"), "{answer}");
    assert!(
        answer.contains("could not be found after upload"),
        "{answer}"
    );
    assert!(
        store_files(&server).is_empty(),
        "{:?}",
        store_files(&server)
    );
}
