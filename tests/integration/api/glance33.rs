//! Differences from Glance 33 found by comparing the two side by side (issue 13, item 5), each
//! checked over real HTTP against what real Glance 33.0.0 answered (recorded in the comments).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{admin_of, create_image, expect_json};
use crate::support::server::TestServer;

/// One raw request; the whole answer as text (status line and headers included), since
/// reqwest hides the reason phrase.
async fn raw(server: &TestServer, request: &str) -> String {
    let address = server.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("answered in time")
        .expect("read answer");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn options_is_an_empty_200_and_unknown_methods_405_on_known_paths() {
    let server = TestServer::start().await;
    // Glance: `HTTP/1.1 200 OK`, `Content-Length: 0`, no Content-Type, no request id.
    for path in ["/v2/images", "/", "/v2/images/x/file", "/v2/nothing"] {
        let response = server
            .client
            .request(Method::OPTIONS, server.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(response.headers().get("content-type").is_none(), "{path}");
        assert!(
            response.headers().get("x-openstack-request-id").is_none(),
            "{path}"
        );
        assert_eq!(response.bytes().await.expect("body").len(), 0, "{path}");
    }

    // Glance: 405 with Allow, naming the method, whatever the method.
    let foo = Method::from_bytes(b"FOO").expect("method");
    let response = server
        .client
        .request(foo.clone(), server.url("/v2/images"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("request");
    assert_eq!(response.headers()["allow"], "GET, POST");
    let body = expect_json(response, StatusCode::METHOD_NOT_ALLOWED).await;
    assert_eq!(
        body,
        json!({"message": "The method FOO is not allowed for this resource. <br /><br />\n",
               "code": "405 Method Not Allowed", "title": "Method Not Allowed"})
    );
    let response = server
        .client
        .delete(server.url("/v2/images"))
        .header("accept", "text/plain")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        response.text().await.expect("body"),
        "405 Method Not Allowed\n\nThe method DELETE is not allowed for this resource. \n\n\n"
    );
    // An unknown method on an unknown path: Glance's 501.
    let response = server
        .client
        .request(foo, server.url("/v2/nothing"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("request");
    let body = expect_json(response, StatusCode::NOT_IMPLEMENTED).await;
    assert_eq!(
        body["message"],
        "\nThe request method FOO is not implemented for this server. <br /><br />\n"
    );
}

#[tokio::test]
async fn version_documents_carry_no_request_id() {
    let server = TestServer::start().await;
    let foo = Method::from_bytes(b"FOO").expect("method");
    for (method, path, status) in [
        (Method::GET, "/", StatusCode::MULTIPLE_CHOICES),
        (Method::GET, "/versions", StatusCode::OK),
        (Method::GET, "/v1/images", StatusCode::MULTIPLE_CHOICES),
        // Glance's versions app answers any method on /versions.
        (Method::OPTIONS, "/versions", StatusCode::OK),
        (foo, "/versions", StatusCode::OK),
    ] {
        let response = server
            .client
            .request(method.clone(), server.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), status, "{method} {path}");
        assert!(
            response.headers().get("x-openstack-request-id").is_none(),
            "{method} {path}"
        );
        let body = response.json::<serde_json::Value>().await.expect("json");
        assert!(body["versions"].is_array(), "{method} {path}");
    }
    // Everything else keeps it.
    let response = server
        .client
        .get(server.url("/v2/images"))
        .send()
        .await
        .expect("request");
    assert!(response.headers().get("x-openstack-request-id").is_some());
}

#[tokio::test]
async fn member_delete_and_download_without_data_have_no_content_type() {
    let server = TestServer::trusted().await;
    let owner = admin_of("p1");
    let image = create_image(
        &server,
        &owner,
        json!({"name": "m", "visibility": "shared"}),
    )
    .await;
    let id = image["id"].as_str().expect("id");

    let download = server
        .client
        .get(server.url(&format!("/v2/images/{id}/file")))
        .headers(owner.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(download.status(), StatusCode::NO_CONTENT);
    assert!(download.headers().get("content-type").is_none());

    let added = server
        .client
        .post(server.url(&format!("/v2/images/{id}/members")))
        .headers(owner.clone())
        .json(&json!({"member": "p2"}))
        .send()
        .await
        .expect("request");
    assert_eq!(added.status(), StatusCode::OK);
    let deleted = server
        .client
        .delete(server.url(&format!("/v2/images/{id}/members/p2")))
        .headers(owner.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(deleted.headers().get("content-type").is_none());

    // Glance's other 204s keep webob's default text/html (tag add, here).
    let tagged = server
        .client
        .put(server.url(&format!("/v2/images/{id}/tags/t")))
        .headers(owner)
        .send()
        .await
        .expect("request");
    assert_eq!(tagged.status(), StatusCode::NO_CONTENT);
    assert_eq!(tagged.headers()["content-type"], "text/html; charset=UTF-8");
}

#[tokio::test]
async fn range_not_satisfiable_says_request_range() {
    let server = TestServer::start().await;
    let image = create_image(
        &server,
        &Default::default(),
        json!({"name": "r", "disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    let id = image["id"].as_str().expect("id");
    let uploaded = server
        .client
        .put(server.url(&format!("/v2/images/{id}/file")))
        .header("content-type", "application/octet-stream")
        .body("hello world")
        .send()
        .await
        .expect("request");
    assert_eq!(uploaded.status(), StatusCode::NO_CONTENT);

    // Glance: `HTTP/1.1 416 Request Range Not Satisfiable`, the same words as title and code.
    let answer = raw(
        &server,
        &format!(
            "GET /v2/images/{id}/file HTTP/1.1\r\nHost: x\r\nRange: bytes=100-200\r\n\
             Accept: application/json\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.1 416 Request Range Not Satisfiable\r\n"),
        "{answer}"
    );
    let body = answer.split("\r\n\r\n").nth(1).expect("body");
    let body: serde_json::Value = serde_json::from_str(body).expect("json");
    assert_eq!(body["code"], "416 Request Range Not Satisfiable");
    assert_eq!(body["title"], "Request Range Not Satisfiable");
}
