//! PostgreSQL stopped under a running API: requests answer 503 within the pool timeout (never
//! hang, never 500), `/healthcheck` reports the database down, and once PostgreSQL is back the
//! same server answers again with its data intact. Each test owns a throwaway cluster.

use std::time::{Duration, Instant};

use glance_rs::data_access::Mode;
use md5::{Digest, Md5};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

use crate::support::postgres::{settings_for, Cluster};
use crate::support::process::ApiProcess;
use crate::support::server::TestServer;

const POOL_TIMEOUT: f64 = 1.0;
/// The pool timeout plus slack for a loaded machine.
const BOUND: Duration = Duration::from_millis(3500);

/// A new cluster with the Glance schema in its `postgres` database.
async fn migrated_cluster() -> (Cluster, String) {
    let cluster = Cluster::start_new();
    let url = cluster.url("postgres");
    glance_rs::data_access::migrate(&settings_for(&url))
        .await
        .expect("migrate");
    (cluster, url)
}

async fn send(
    client: &Client,
    method: Method,
    url: String,
    body: Option<(&str, Vec<u8>)>,
) -> (StatusCode, String, Duration) {
    let started = Instant::now();
    let mut request = client
        .request(method, url)
        .header("accept", "application/json")
        .timeout(Duration::from_secs(30));
    if let Some((content_type, body)) = body {
        request = request.header("content-type", content_type).body(body);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, text, started.elapsed())
}

/// Create an image with data and a property through the API; its id.
async fn image_with_data(client: &Client, base: &str, data: &[u8]) -> String {
    let body = json!({"name": "survivor", "disk_format": "raw", "container_format": "bare",
                      "kept": "yes"});
    let (status, text, _) = send(
        client,
        Method::POST,
        format!("{base}/v2/images"),
        Some(("application/json", body.to_string().into_bytes())),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let image: Value = serde_json::from_str(&text).expect("image JSON");
    let id = image["id"].as_str().expect("id").to_string();
    let (status, text, _) = send(
        client,
        Method::PUT,
        format!("{base}/v2/images/{id}/file"),
        Some(("application/octet-stream", data.to_vec())),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{text}");
    id
}

/// Stop PostgreSQL under the API at `base`, check the answers, start it again, check recovery.
async fn outage_and_recovery(client: &Client, base: &str, cluster: &Cluster) {
    let data = b"bytes that must survive the outage".repeat(100);
    let id = image_with_data(client, base, &data).await;

    cluster.stop();
    let patch = json!([{"op": "add", "path": "/during", "value": "outage"}]);
    let requests = [
        (Method::GET, format!("/v2/images/{id}"), None),
        (Method::GET, "/v2/images".to_string(), None),
        (Method::GET, format!("/v2/images/{id}/file"), None),
        (Method::GET, format!("/v2/images/{id}/members"), None),
        (
            Method::POST,
            "/v2/images".to_string(),
            Some(("application/json", b"{\"name\": \"new\"}".to_vec())),
        ),
        (
            Method::PATCH,
            format!("/v2/images/{id}"),
            Some((
                "application/openstack-images-v2.1-json-patch",
                patch.to_string().into_bytes(),
            )),
        ),
        (Method::DELETE, format!("/v2/images/{id}"), None),
        // Twice, so a retry on a pool that already failed is covered too.
        (Method::GET, format!("/v2/images/{id}"), None),
    ];
    for (method, path, body) in requests {
        let what = format!("{method} {path}");
        let (status, text, elapsed) = send(client, method, format!("{base}{path}"), body).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{what}: {text}");
        assert!(
            text.contains("temporarily unable to reach its database"),
            "{what}: {text}"
        );
        assert!(elapsed < BOUND, "{what} took {elapsed:?}");
    }
    let (status, text, elapsed) =
        send(client, Method::GET, format!("{base}/healthcheck"), None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert!(text.starts_with("DATABASE DOWN"), "{text}");
    assert!(elapsed < BOUND, "healthcheck took {elapsed:?}");

    cluster.start();
    let (status, text, _) = send(client, Method::GET, format!("{base}/healthcheck"), None).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "OK"));
    let (status, text, _) = send(client, Method::GET, format!("{base}/v2/images/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let image: Value = serde_json::from_str(&text).expect("image JSON");
    assert_eq!(image["status"], "active");
    assert_eq!(image["kept"], "yes");
    assert_eq!(image["checksum"], hex::encode(Md5::digest(&data)));
    assert!(image.get("during").is_none(), "{image}");
    let download = client
        .get(format!("{base}/v2/images/{id}/file"))
        .send()
        .await
        .expect("download");
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.bytes().await.expect("data").as_ref(), &data[..]);
    // Writes work again too.
    let (status, text, _) = send(
        client,
        Method::PATCH,
        format!("{base}/v2/images/{id}"),
        Some((
            "application/openstack-images-v2.1-json-patch",
            patch.to_string().into_bytes(),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_postgres_answers_503_then_the_api_recovers() {
    let (cluster, url) = migrated_cluster().await;
    let server = TestServer::start_with(move |settings| {
        settings.data_access.mode = Mode::DirectPostgres;
        settings.database.url = url;
        settings.database.pool_timeout = POOL_TIMEOUT;
    })
    .await;
    outage_and_recovery(&server.client, &server.base, &cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_binary_survives_a_postgres_outage() {
    let (cluster, url) = migrated_cluster().await;
    let api = ApiProcess::start(&[
        ("GLANCE__DATA_ACCESS__MODE", "direct-postgres".to_string()),
        ("GLANCE__DATABASE__URL", url),
        ("GLANCE__DATABASE__POOL_TIMEOUT", POOL_TIMEOUT.to_string()),
    ])
    .await;
    outage_and_recovery(&api.client, &api.base, &cluster).await;
}
