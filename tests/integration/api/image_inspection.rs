//! Content inspection on upload over real HTTP (issue 14): images made by `qemu-img` (the
//! published CVE shapes: qcow2 with a data_file or a backing file, VMDK with external
//! extents) and a format mismatch are refused with Glance's 415, leaving no data in the store
//! and the image queued; accepted images get their virtual size from the header. Runs in
//! every `GLANCE_TEST_MODE`.

use std::path::Path;
use std::process::Command;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{create_image, expect_error, expect_json, get};
use crate::support::server::TestServer;

/// Run qemu-img (Debian's qemu-utils, installed by scripts/ensure-deps.sh) in `dir`.
fn qemu_img(dir: &Path, args: &str) {
    let out = Command::new("qemu-img")
        .args(args.split_whitespace())
        .current_dir(dir)
        .output()
        .expect("qemu-img runs (install qemu-utils: scripts/ensure-deps.sh)");
    assert!(
        out.status.success(),
        "qemu-img {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The file `name` that `qemu-img ARGS` made in a fresh folder (beside a raw `base.raw`).
fn made(name: &str, args: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    qemu_img(dir.path(), "create -q -f raw base.raw 1M");
    qemu_img(dir.path(), args);
    std::fs::read(dir.path().join(name)).expect("qemu-img wrote the image")
}

/// Create an image with these formats, upload `data`; the PUT's response and the image id.
async fn put(
    server: &TestServer,
    disk_format: &str,
    container_format: &str,
    data: Vec<u8>,
) -> (reqwest::Response, String) {
    let created = create_image(
        server,
        &HeaderMap::new(),
        json!({"name": "inspected", "disk_format": disk_format, "container_format": container_format}),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_string();
    let response = server
        .client
        .put(server.url(&format!("/v2/images/{id}/file")))
        .header("content-type", "application/octet-stream")
        .header("accept", "application/json")
        .body(data)
        .send()
        .await
        .expect("upload");
    (response, id)
}

async fn show(server: &TestServer, id: &str) -> Value {
    let response = get(server, &HeaderMap::new(), &format!("/v2/images/{id}")).await;
    expect_json(response, StatusCode::OK).await
}

fn store_is_empty(server: &TestServer) -> bool {
    super::image_data::store_files(server).is_empty()
}

/// Upload, expect Glance's 415 with `detail`, and check nothing was kept.
async fn refused(server: &TestServer, disk_format: &str, data: Vec<u8>, detail: &str) {
    let (response, id) = put(server, disk_format, "bare", data).await;
    let message = expect_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert_eq!(
        message,
        format!(
            "The request media type application/octet-stream is not supported by this \
             server.\n<br /><br />\n{detail}"
        )
    );
    let image = show(server, &id).await;
    assert_eq!(image["status"], "queued", "{image}");
    assert_eq!(image["size"], Value::Null);
    assert_eq!(image["virtual_size"], Value::Null);
    assert!(
        store_is_empty(server),
        "refused data left in the store: {:?}",
        super::image_data::store_files(server)
    );
}

#[tokio::test]
async fn qcow2_with_a_data_file_is_refused() {
    let server = TestServer::start().await;
    let data = made(
        "evil.qcow2",
        "create -q -f qcow2 -o data_file=data.bin evil.qcow2 1M",
    );
    refused(&server, "qcow2", data.clone(), "Image failed safety checks").await;
    refused(&server, "raw", data, "Image failed safety checks").await;
    // Counted by reason (the recorder is shared by the tests of this process: at least 2).
    let scrape = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    let line = scrape
        .lines()
        .find(|l| l.starts_with("glance_uploads_refused_total{reason=\"data_file\"}"))
        .unwrap_or_else(|| panic!("no data_file refusals counted in:\n{scrape}"));
    let count: f64 = line
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(count >= 2.0, "{line}");
}

#[tokio::test]
async fn qcow2_with_a_backing_file_is_refused() {
    let server = TestServer::start().await;
    let data = made(
        "child.qcow2",
        "create -q -f qcow2 -b base.raw -F raw child.qcow2",
    );
    refused(&server, "qcow2", data.clone(), "Image failed safety checks").await;
    refused(&server, "raw", data, "Image failed safety checks").await;
}

#[tokio::test]
async fn vmdk_with_external_extents_is_refused() {
    let server = TestServer::start().await;
    // A flat VMDK is a descriptor naming another file.
    let descriptor = made(
        "flat.vmdk",
        "create -q -f vmdk -o subformat=monolithicFlat flat.vmdk 1M",
    );
    refused(&server, "vmdk", descriptor, "Image failed safety checks").await;
    // A sparse VMDK whose embedded descriptor was edited to name a host path.
    let mut sparse = made(
        "sparse.vmdk",
        "create -q -f vmdk -o subformat=monolithicSparse sparse.vmdk 1M",
    );
    let text = String::from_utf8_lossy(&sparse[512..1024]).into_owned();
    let at = text
        .find("\"sparse.vmdk\"")
        .expect("extent line names the file");
    let evil = b"\"/etc/passwd\"";
    sparse[512 + at..512 + at + evil.len()].copy_from_slice(evil);
    refused(&server, "vmdk", sparse, "Image failed safety checks").await;
}

#[tokio::test]
async fn content_that_is_not_its_disk_format_is_refused() {
    let server = TestServer::start().await;
    refused(
        &server,
        "qcow2",
        vec![0x5a; 100_000],
        "Image disk_format qcow2 does not match stream data raw",
    )
    .await;
    let vhdx = made("d.vhdx", "create -q -f vhdx d.vhdx 8M");
    refused(
        &server,
        "vmdk",
        vhdx,
        "Image disk_format vmdk does not match stream data vhdx",
    )
    .await;
}

#[tokio::test]
async fn accepted_images_get_the_virtual_size_of_their_header() {
    let server = TestServer::start().await;
    let qcow2 = made("ok.qcow2", "create -q -f qcow2 ok.qcow2 64M");
    let size = qcow2.len();
    let (response, id) = put(&server, "qcow2", "bare", qcow2.clone()).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let image = show(&server, &id).await;
    assert_eq!(image["status"], "active");
    assert_eq!(image["size"], size);
    assert_eq!(image["virtual_size"], 64 << 20);
    // Declared raw, a clean qcow2 is stored as raw: sized by its bytes.
    let (response, id) = put(&server, "raw", "bare", qcow2.clone()).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(show(&server, &id).await["virtual_size"], size);
    // Only bare images are inspected (as in Glance): no virtual size for the others.
    let (response, id) = put(&server, "vmdk", "ovf", qcow2).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(show(&server, &id).await["virtual_size"], Value::Null);
    // Types Glance cannot inspect pass when nothing else is recognised.
    let (response, id) = put(&server, "ami", "bare", vec![1; 4096]).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(show(&server, &id).await["status"], "active");
}

#[tokio::test]
async fn the_image_format_settings_are_honoured() {
    let server = TestServer::start_with(|s| {
        s.image_format.require_image_format_match = false;
        s.image_format.disk_formats = vec!["raw".into(), "qcow2".into()];
    })
    .await;
    // Without the format match a mismatch is stored, with no virtual size...
    let (response, id) = put(&server, "qcow2", "bare", vec![0x5a; 10_000]).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let image = show(&server, &id).await;
    assert_eq!(
        (image["status"].as_str(), &image["virtual_size"]),
        (Some("active"), &Value::Null)
    );
    // ...but safety checks stay fatal.
    let evil = made(
        "evil.qcow2",
        "create -q -f qcow2 -b base.raw -F raw evil.qcow2",
    );
    let (response, _) = put(&server, "qcow2", "bare", evil).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // disk_formats limits what an image may be created with.
    let response = server
        .client
        .post(server.url("/v2/images"))
        .header("accept", "application/json")
        .json(&json!({"disk_format": "vmdk"}))
        .send()
        .await
        .expect("request");
    assert_eq!(
        expect_error(response, StatusCode::BAD_REQUEST).await,
        "Provided object does not match schema 'image': 'vmdk' is not one of [None, 'raw', \
         'qcow2']"
    );
    // ...and the schemas say so, as Glance builds their enum from it (clients validate with it).
    for (path, pointer) in [
        ("/v2/schemas/image", "/properties/disk_format/enum"),
        (
            "/v2/schemas/images",
            "/properties/images/items/properties/disk_format/enum",
        ),
    ] {
        let schema: Value = server
            .client
            .get(server.url(path))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        assert_eq!(
            schema.pointer(pointer),
            Some(&json!([null, "raw", "qcow2"])),
            "{path}"
        );
    }
}
