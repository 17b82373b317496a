//! Version discovery and the envelope every response gets (§12 check 1, parts of 15).

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{expect_json, ids};
use crate::support::server::TestServer;

fn check_versions(body: &Value, base: &str) {
    let versions = body["versions"].as_array().expect("versions");
    assert!(versions.len() >= 10);
    let current: Vec<&Value> = versions
        .iter()
        .filter(|v| v["status"] == "CURRENT")
        .collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], "v2.17");
    for version in versions {
        assert_eq!(version["links"][0]["rel"], "self");
        assert_eq!(version["links"][0]["href"], format!("{base}/v2/"));
    }
}

#[tokio::test]
async fn root_is_300_and_versions_is_200() {
    let server = TestServer::start().await;
    let root = server
        .client
        .get(server.url("/"))
        .send()
        .await
        .expect("request");
    assert_eq!(root.status(), StatusCode::MULTIPLE_CHOICES);
    let body = root.json::<Value>().await.expect("json");
    check_versions(&body, &server.base);

    let listed = server
        .client
        .get(server.url("/versions"))
        .send()
        .await
        .expect("request");
    let body = expect_json(listed, StatusCode::OK).await;
    check_versions(&body, &server.base);

    for path in ["/v1/images", "/foo", "/v2.8/images"] {
        let response = server
            .client
            .get(server.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::MULTIPLE_CHOICES, "{path}");
    }
}

#[tokio::test]
async fn minor_versions_route_to_v2() {
    let server = TestServer::start().await;
    let created = super::create_image(
        &server,
        &Default::default(),
        serde_json::json!({"name": "v"}),
    )
    .await;
    let id = created["id"].as_str().expect("id");
    for prefix in ["/v2", "/v2.1", "/v2.17"] {
        let response = server
            .client
            .get(server.url(&format!("{prefix}/images")))
            .send()
            .await
            .expect("request");
        let body = expect_json(response, StatusCode::OK).await;
        assert_eq!(ids(&body), vec![id.to_string()], "{prefix}");
        let shown = server
            .client
            .get(server.url(&format!("{prefix}/images/{id}")))
            .send()
            .await
            .expect("request");
        assert_eq!(expect_json(shown, StatusCode::OK).await, created);
    }
}

#[tokio::test]
async fn request_id_on_success_and_error() {
    let server = TestServer::start().await;
    // The version documents carry none (as Glance's): `glance33.rs`.
    for path in ["/v2/images", "/v2/images/nope"] {
        let response = server
            .client
            .get(server.url(path))
            .send()
            .await
            .expect("request");
        let id = response
            .headers()
            .get("x-openstack-request-id")
            .expect("request id header");
        let id = id.to_str().expect("ascii");
        assert!(id.starts_with("req-") && id.len() == 40, "{id}");
    }
}

#[tokio::test]
async fn wrong_methods_and_unknown_paths() {
    let server = TestServer::start().await;
    let response = server
        .client
        .delete(server.url("/v2/images"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "GET, POST");
    let response = server
        .client
        .put(server.url("/v2/images/x"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "GET, PATCH, DELETE");
    let response = server
        .client
        .post(server.url("/v2/schemas/image"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "GET");

    let propfind = Method::from_bytes(b"PROPFIND").expect("method");
    let response = server
        .client
        .request(propfind, server.url("/v2/images"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);

    let response = server
        .client
        .get(server.url("/v2/nothing"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
