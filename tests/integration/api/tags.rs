//! `PUT`/`DELETE /v2/images/{id}/tags/{tag}` over real HTTP.

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use super::image_data::{database, image, new_image};
use crate::support::server::{identity, TestServer};
use glance_rs::domain::Visibility;

fn tag_url(server: &TestServer, id: &str, tag: &str) -> String {
    let tag = percent_encoding::utf8_percent_encode(tag, percent_encoding::NON_ALPHANUMERIC);
    server.url(&format!("/v2/images/{id}/tags/{tag}"))
}

async fn put_tag(server: &TestServer, headers: HeaderMap, id: &str, tag: &str) -> StatusCode {
    server
        .client
        .put(tag_url(server, id, tag))
        .headers(headers)
        .send()
        .await
        .expect("tag request")
        .status()
}

async fn delete_tag(server: &TestServer, headers: HeaderMap, id: &str, tag: &str) -> StatusCode {
    server
        .client
        .delete(tag_url(server, id, tag))
        .headers(headers)
        .send()
        .await
        .expect("tag request")
        .status()
}

#[tokio::test]
async fn tags_are_idempotent_and_validated() {
    let server = TestServer::start().await;
    let db = database(&server).await;
    let id = new_image(&db, None, Visibility::Private, true).await;
    let none = HeaderMap::new;

    assert_eq!(
        put_tag(&server, none(), &id, "peer-tag").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put_tag(&server, none(), &id, "peer-tag").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put_tag(&server, none(), &id, "two words").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(image(&db, &id).await.tags, vec!["peer-tag", "two words"]);

    let longest = "t".repeat(255);
    assert_eq!(
        put_tag(&server, none(), &id, &longest).await,
        StatusCode::NO_CONTENT
    );
    let too_long = "t".repeat(256);
    assert_eq!(
        put_tag(&server, none(), &id, &too_long).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        put_tag(&server, none(), &id, "smile-😀").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(image(&db, &id).await.tags.len(), 3);

    assert_eq!(
        delete_tag(&server, none(), &id, "peer-tag").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete_tag(&server, none(), &id, "peer-tag").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        image(&db, &id).await.tags,
        vec!["two words".to_string(), longest]
    );

    let with_body = server
        .client
        .put(tag_url(&server, &id, "x"))
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(with_body.status(), StatusCode::BAD_REQUEST);

    let missing = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        put_tag(&server, none(), &missing, "x").await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn tag_quota_is_413() {
    let server = TestServer::start_with(|s| s.limits.image_tag_quota = 2).await;
    let db = database(&server).await;
    let id = new_image(&db, None, Visibility::Private, true).await;
    assert_eq!(
        put_tag(&server, HeaderMap::new(), &id, "a").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put_tag(&server, HeaderMap::new(), &id, "b").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put_tag(&server, HeaderMap::new(), &id, "c").await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // Re-adding an existing tag at the quota is still a no-op.
    assert_eq!(
        put_tag(&server, HeaderMap::new(), &id, "b").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(image(&db, &id).await.tags, vec!["a", "b"]);
}

#[tokio::test]
async fn only_owner_or_admin_changes_tags() {
    let server = TestServer::trusted().await;
    let db = database(&server).await;
    let public = new_image(&db, Some("project-a"), Visibility::Public, true).await;
    let private = new_image(&db, Some("project-a"), Visibility::Private, true).await;
    let owner = || identity("project-a", "member");
    let other = || identity("project-b", "member");

    assert_eq!(
        put_tag(&server, owner(), &public, "mine").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put_tag(&server, other(), &public, "theirs").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        delete_tag(&server, other(), &public, "mine").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        put_tag(&server, other(), &private, "theirs").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        put_tag(
            &server,
            identity("project-x", "admin"),
            &private,
            "admin-tag"
        )
        .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(image(&db, &public).await.tags, vec!["mine"]);
    assert_eq!(image(&db, &private).await.tags, vec!["admin-tag"]);
}
