//! web-download from a real HTTP server on loopback (started here), with Glance's URL
//! filters: every refused case is listed, including via redirects and odd encodings of the
//! host and port.

use std::net::TcpListener;

use md5::{Digest, Md5};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{image_tasks, import, settle};
use crate::api::create_image;
use crate::api::expect_error;
use crate::api::image_data::pattern;
use crate::support::server::TestServer;

fn start_source() -> u16 {
    crate::support::web_source::start()
}

async fn new_image(server: &TestServer) -> String {
    let image = create_image(
        server,
        &HeaderMap::new(),
        json!({"name": "web", "disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    image["id"].as_str().expect("id").to_string()
}

fn web(uri: &str) -> Value {
    json!({"method": {"name": "web-download", "uri": uri}})
}

/// Import `uri` into a new image: the settled image and its task.
async fn fetch(server: &TestServer, uri: &str) -> (Value, Value) {
    let h = HeaderMap::new();
    let id = new_image(server).await;
    let response = import(server, &h, &id, web(uri)).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED, "{uri}");
    let image = settle(server, &h, &id).await;
    for _ in 0..100 {
        let tasks = image_tasks(server, &h, &id).await;
        if ["success", "failure"].contains(&tasks[0]["status"].as_str().unwrap_or_default()) {
            return (image, tasks[0].clone());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the task of image {id} did not end");
}

#[tokio::test]
async fn web_download_imports_from_an_allowed_url() {
    let port = start_source();
    let server = TestServer::start_with(|s| {
        s.import_filtering.allowed_ports = vec![port];
        s.import_filtering.allowed_hosts = vec!["127.0.0.1".into()];
    })
    .await;
    let (image, task) = fetch(&server, &format!("http://127.0.0.1:{port}/data/300000")).await;
    assert_eq!(image["status"], "active", "{task}");
    assert_eq!(image["size"], 300000);
    assert_eq!(image["checksum"], hex::encode(Md5::digest(pattern(300000))));
    assert_eq!(task["status"], "success");
    // Spellings of the allowed host that are that host, and a redirect that stays inside.
    for uri in [
        format!("http://2130706433:{port}/data/10"),
        format!("http://0x7f.1:{port}/data/10"),
        format!("http://[::ffff:127.0.0.1]:{port}/data/10"),
        format!("http://127.0.0.1:{port}/redirect?to=http://127.0.0.1:{port}/data/10"),
    ] {
        let (image, task) = fetch(&server, &uri).await;
        assert_eq!(image["status"], "active", "{uri}: {task}");
    }
}

#[tokio::test]
async fn web_download_refuses_every_url_outside_the_filters() {
    let port = start_source();
    let outside = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("a")
        .port();
    let h = HeaderMap::new();
    // Host allowed list: only 127.0.0.1, on the source's port.
    let server = TestServer::start_with(|s| {
        s.import_filtering.allowed_ports = vec![port];
        s.import_filtering.allowed_hosts = vec!["127.0.0.1".into()];
    })
    .await;
    let id = new_image(&server).await;
    let refused_at_request = [
        format!("ftp://127.0.0.1:{port}/data/10"),
        "file:///etc/passwd".to_string(),
        format!("gopher://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/data/10"),
        format!("http://127.0.0.2:{port}/data/10"),
        format!("http://[::1]:{port}/data/10"),
        format!("http://127.0.0.1:{outside}/data/10"),
        "http://127.0.0.1/data/10".to_string(),
        "https://127.0.0.1/data/10".to_string(),
        format!("http://127.0.0.1:{port}@localhost:{port}/data/10"),
        "http:///data/10".to_string(),
        "not a url".to_string(),
    ];
    for uri in &refused_at_request {
        let got = expect_error(
            import(&server, &h, &id, web(uri)).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(
            got,
            format!("URI for web-download does not pass filtering: {uri}")
        );
    }
    // Disallowed list: 127.0.0.1 in every spelling.
    let deny = TestServer::start_with(|s| {
        s.import_filtering.allowed_ports = vec![port];
        s.import_filtering.disallowed_hosts = vec!["127.0.0.1".into(), "::1".into()];
    })
    .await;
    let id = new_image(&deny).await;
    for uri in [
        format!("http://127.0.0.1:{port}/data/10"),
        format!("http://2130706433:{port}/data/10"),
        format!("http://0x7f000001:{port}/data/10"),
        format!("http://0x7f.1:{port}/data/10"),
        format!("http://0177.0.0.1:{port}/data/10"),
        format!("http://127.1:{port}/data/10"),
        format!("http://[::ffff:127.0.0.1]:{port}/data/10"),
        format!("http://[::ffff:7f00:1]:{port}/data/10"),
        format!("http://[0:0:0:0:0:0:0:1]:{port}/data/10"),
        format!("http://user:pw@127.0.0.1:{port}/data/10"),
        format!("http://example.com@127.0.0.1:{port}/data/10"),
    ] {
        let response = import(&deny, &h, &id, web(&uri)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri} passed");
    }
    // Port lists: an odd spelling of a port is still that port.
    let ports = TestServer::start_with(|s| {
        s.import_filtering.allowed_ports = vec![];
        s.import_filtering.disallowed_ports = vec![port];
    })
    .await;
    let id = new_image(&ports).await;
    for uri in [
        format!("http://127.0.0.1:{port}/data/10"),
        format!("http://127.0.0.1:0{port}/data/10"),
        format!("http://127.0.0.1:{port}./data/10"),
    ] {
        let response = import(&ports, &h, &id, web(&uri)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri} passed");
    }

    // Accepted at request time but refused by a redirect hop: the task fails, the image is
    // queued again (importable), nothing was stored.
    let redirect = |to: &str| format!("http://127.0.0.1:{port}/redirect?to={to}");
    for (uri, why) in [
        (
            redirect(&format!("http://127.0.0.1:{outside}/data/10")),
            "port",
        ),
        (
            redirect(&format!("http://localhost:{port}/data/10")),
            "host",
        ),
        (
            redirect(&format!("http://2130706434:{port}/data/10")),
            "host",
        ),
        (redirect("file:///etc/passwd"), "scheme"),
        (
            redirect(&redirect(&redirect(&format!(
                "http://localhost:{port}/data/10"
            )))),
            "host",
        ),
    ] {
        let (image, task) = fetch(&server, &uri).await;
        assert_eq!(image["status"], "queued", "{uri}");
        assert_eq!(image["size"], Value::Null);
        assert_eq!(task["status"], "failure", "{uri}");
        let message = task["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("redirect refused") && message.contains(why),
            "{uri}: {message}"
        );
    }
    // Other failures of the fetch: HTTP error, size cap.
    let (image, task) = fetch(&server, &format!("http://127.0.0.1:{port}/missing")).await;
    assert_eq!(image["status"], "queued");
    assert!(
        task["message"]
            .as_str()
            .unwrap_or_default()
            .contains("HTTP 404"),
        "{task}"
    );
    let capped = TestServer::start_with(|s| {
        s.import_filtering.allowed_ports = vec![port];
        s.limits.image_size_cap = 1000;
    })
    .await;
    let (image, task) = fetch(&capped, &format!("http://127.0.0.1:{port}/data/1001")).await;
    assert_eq!(image["status"], "queued");
    assert_eq!(task["status"], "failure");
    assert!(
        task["message"]
            .as_str()
            .unwrap_or_default()
            .contains("image_size_cap"),
        "{task}"
    );
    let files: Vec<_> = std::fs::read_dir(capped.store_dir())
        .map(|d| d.collect())
        .unwrap_or_default();
    assert!(files.is_empty(), "nothing stored: {files:?}");
}
