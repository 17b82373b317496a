//! `POST /v2/images/{id}/actions/{deactivate,reactivate}` over real HTTP.

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use super::image_data::{database, image, new_image, pattern, upload};
use crate::support::server::{identity, TestServer};
use glance_rs::domain::{ImageStatus, Visibility};

async fn action(
    server: &TestServer,
    headers: HeaderMap,
    id: &str,
    verb: &str,
) -> reqwest::Response {
    server
        .client
        .post(server.url(&format!("/v2/images/{id}/actions/{verb}")))
        .headers(headers)
        .header("accept", "text/plain")
        .send()
        .await
        .expect("action request")
}

#[tokio::test]
async fn deactivate_and_reactivate_round_trip() {
    let server = TestServer::start().await;
    let db = database(&server).await;
    let id = new_image(&db, None, Visibility::Private, true).await;

    let early = action(&server, HeaderMap::new(), &id, "deactivate").await;
    assert_eq!(early.status(), StatusCode::FORBIDDEN);
    assert!(early
        .text()
        .await
        .expect("body")
        .contains("Not allowed to deactivate image in status 'queued'"));
    let early = action(&server, HeaderMap::new(), &id, "reactivate").await;
    assert_eq!(early.status(), StatusCode::FORBIDDEN);
    assert!(early
        .text()
        .await
        .expect("body")
        .contains("Not allowed to reactivate image in status 'queued'"));

    assert_eq!(
        upload(&server, HeaderMap::new(), &id, pattern(10))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    // Reactivating an active image and deactivating a deactivated one are no-ops.
    for (verb, expected) in [
        ("reactivate", ImageStatus::Active),
        ("deactivate", ImageStatus::Deactivated),
        ("deactivate", ImageStatus::Deactivated),
        ("reactivate", ImageStatus::Active),
    ] {
        let response = action(&server, HeaderMap::new(), &id, verb).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{verb}");
        assert!(response.bytes().await.expect("body").is_empty());
        assert_eq!(image(&db, &id).await.status, expected, "{verb}");
    }

    assert_eq!(
        action(&server, HeaderMap::new(), &id, "deactivate")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let upload_again = upload(&server, HeaderMap::new(), &id, pattern(3)).await;
    assert_eq!(upload_again.status(), StatusCode::CONFLICT);

    let with_body = server
        .client
        .post(server.url(&format!("/v2/images/{id}/actions/reactivate")))
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(with_body.status(), StatusCode::BAD_REQUEST);
    assert_eq!(image(&db, &id).await.status, ImageStatus::Deactivated);

    let missing = action(
        &server,
        HeaderMap::new(),
        &uuid::Uuid::new_v4().to_string(),
        "deactivate",
    )
    .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_owner_or_admin_may_act() {
    let server = TestServer::trusted().await;
    let db = database(&server).await;
    let public = new_image(&db, Some("project-a"), Visibility::Public, true).await;
    let private = new_image(&db, Some("project-a"), Visibility::Private, true).await;
    for id in [&public, &private] {
        let response = upload(&server, identity("project-a", "member"), id, pattern(5)).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }

    let other = || identity("project-b", "member");
    assert_eq!(
        action(&server, other(), &public, "deactivate")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        action(&server, other(), &private, "deactivate")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(image(&db, &public).await.status, ImageStatus::Active);

    let admin = identity("project-x", "admin");
    assert_eq!(
        action(&server, admin.clone(), &private, "deactivate")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        action(
            &server,
            identity("project-a", "member"),
            &private,
            "reactivate"
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(image(&db, &private).await.status, ImageStatus::Active);

    let anonymous = server
        .client
        .post(server.url(&format!("/v2/images/{public}/actions/deactivate")))
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}
