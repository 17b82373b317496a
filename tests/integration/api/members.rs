//! `/v2/images/{id}/members` over real HTTP, two projects sharing in trusted-auth mode.

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::image_data::{database, download, new_image, pattern, upload};
use crate::support::server::{identity, TestServer};
use glance_rs::domain::Visibility;

fn owner() -> HeaderMap {
    identity("project-a", "member")
}

fn member_b() -> HeaderMap {
    identity("project-b", "member")
}

fn member_c() -> HeaderMap {
    identity("project-c", "member")
}

fn members_url(server: &TestServer, id: &str) -> String {
    server.url(&format!("/v2/images/{id}/members"))
}

async fn add(server: &TestServer, headers: HeaderMap, id: &str, body: Value) -> reqwest::Response {
    server
        .client
        .post(members_url(server, id))
        .headers(headers)
        .json(&body)
        .send()
        .await
        .expect("add member")
}

async fn list(server: &TestServer, headers: HeaderMap, id: &str) -> reqwest::Response {
    server
        .client
        .get(members_url(server, id))
        .headers(headers)
        .send()
        .await
        .expect("list members")
}

async fn show(
    server: &TestServer,
    headers: HeaderMap,
    id: &str,
    member: &str,
) -> reqwest::Response {
    server
        .client
        .get(format!("{}/{member}", members_url(server, id)))
        .headers(headers)
        .send()
        .await
        .expect("show member")
}

async fn set_status(
    server: &TestServer,
    headers: HeaderMap,
    id: &str,
    member: &str,
    body: Value,
) -> reqwest::Response {
    server
        .client
        .put(format!("{}/{member}", members_url(server, id)))
        .headers(headers)
        .json(&body)
        .send()
        .await
        .expect("update member")
}

async fn remove(server: &TestServer, headers: HeaderMap, id: &str, member: &str) -> StatusCode {
    server
        .client
        .delete(format!("{}/{member}", members_url(server, id)))
        .headers(headers)
        .send()
        .await
        .expect("delete member")
        .status()
}

async fn json_of(response: reqwest::Response) -> Value {
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.expect("json body")
}

#[tokio::test]
async fn only_shared_images_have_members() {
    let server = TestServer::trusted().await;
    let db = database(&server).await;
    let private = new_image(&db, Some("project-a"), Visibility::Private, true).await;

    let response = add(&server, owner(), &private, json!({"member": "project-b"})).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response
        .text()
        .await
        .expect("body")
        .contains("Only shared images have members."));
    assert_eq!(
        list(&server, owner(), &private).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        show(&server, owner(), &private, "project-b").await.status(),
        StatusCode::NOT_FOUND
    );
    // Someone who cannot see the image gets 404 everywhere.
    assert_eq!(
        list(&server, member_b(), &private).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn two_projects_share_an_image() {
    let server = TestServer::trusted().await;
    let db = database(&server).await;
    let id = new_image(&db, Some("project-a"), Visibility::Shared, true).await;
    assert_eq!(
        upload(&server, owner(), &id, pattern(1000)).await.status(),
        StatusCode::NO_CONTENT
    );
    // Not yet a member: the shared image is invisible to B.
    assert_eq!(
        download(&server, member_b(), &id).await.status(),
        StatusCode::NOT_FOUND
    );

    let response = add(&server, owner(), &id, json!({"member": "project-b"})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let created = json_of(response).await;
    let keys: Vec<&str> = created
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted_keys = keys.clone();
    sorted_keys.sort_unstable();
    assert_eq!(
        sorted_keys,
        vec![
            "created_at",
            "image_id",
            "member_id",
            "schema",
            "status",
            "updated_at"
        ]
    );
    assert_eq!(created["member_id"], "project-b");
    assert_eq!(created["image_id"], id.as_str());
    assert_eq!(created["status"], "pending");
    assert_eq!(created["schema"], "/v2/schemas/member");
    let created_at = created["created_at"].as_str().expect("created_at");
    assert!(
        created_at.ends_with('Z') && created_at.len() == 20,
        "{created_at}"
    );

    let duplicate = add(&server, owner(), &id, json!({"member": "project-b"})).await;
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);
    for bad in [
        json!({}),
        json!({"member": ""}),
        json!({"member": 7}),
        json!({"nope": "x"}),
    ] {
        let response = add(&server, owner(), &id, bad.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let no_body = server
        .client
        .post(members_url(&server, &id))
        .headers(owner())
        .send()
        .await
        .expect("request");
    assert_eq!(no_body.status(), StatusCode::BAD_REQUEST);

    // A pending member already sees (and can download) the image; others cannot.
    let got = download(&server, member_b(), &id).await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(
        got.bytes().await.expect("data").as_ref(),
        pattern(1000).as_slice()
    );
    assert_eq!(
        download(&server, member_c(), &id).await.status(),
        StatusCode::NOT_FOUND
    );

    // A member may not add members.
    let response = add(&server, member_b(), &id, json!({"member": "project-d"})).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    assert_eq!(
        add(&server, owner(), &id, json!({"member": "project-c"}))
            .await
            .status(),
        StatusCode::OK
    );
    let all = json_of(list(&server, owner(), &id).await).await;
    assert_eq!(all["schema"], "/v2/schemas/members");
    let mut ids: Vec<&str> = all["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["member_id"].as_str().expect("member_id"))
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, vec!["project-b", "project-c"]);
    let own = json_of(list(&server, member_b(), &id).await).await;
    assert_eq!(own["members"].as_array().expect("members").len(), 1);
    assert_eq!(own["members"][0]["member_id"], "project-b");
    assert_eq!(
        show(&server, member_b(), &id, "project-c").await.status(),
        StatusCode::NOT_FOUND
    );
    let shown = json_of(show(&server, member_b(), &id, "project-b").await).await;
    assert_eq!(shown["status"], "pending");

    // Status: the owner may not decide, the member may; only the three statuses.
    let by_owner = set_status(
        &server,
        owner(),
        &id,
        "project-b",
        json!({"status": "accepted"}),
    )
    .await;
    assert_eq!(by_owner.status(), StatusCode::FORBIDDEN);
    let bad = set_status(
        &server,
        member_b(),
        &id,
        "project-b",
        json!({"status": "maybe"}),
    )
    .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let missing = set_status(&server, member_b(), &id, "project-b", json!({})).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let other_row = set_status(
        &server,
        member_b(),
        &id,
        "project-c",
        json!({"status": "accepted"}),
    )
    .await;
    assert_eq!(other_row.status(), StatusCode::NOT_FOUND);
    let accepted = set_status(
        &server,
        member_b(),
        &id,
        "project-b",
        json!({"status": "accepted"}),
    )
    .await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let accepted = json_of(accepted).await;
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["member_id"], "project-b");
    let shown = json_of(show(&server, owner(), &id, "project-b").await).await;
    assert_eq!(shown["status"], "accepted");
    let admin = identity("project-x", "admin");
    let by_admin = set_status(
        &server,
        admin.clone(),
        &id,
        "project-c",
        json!({"status": "rejected"}),
    )
    .await;
    assert_eq!(by_admin.status(), StatusCode::OK);

    // Removal: a member cannot remove itself; the owner can, once.
    assert_eq!(
        remove(&server, member_b(), &id, "project-b").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        remove(&server, owner(), &id, "project-b").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        remove(&server, owner(), &id, "project-b").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        download(&server, member_b(), &id).await.status(),
        StatusCode::NOT_FOUND
    );
    let after = json_of(list(&server, owner(), &id).await).await;
    assert_eq!(after["members"].as_array().expect("members").len(), 1);

    // A removed member can be added again (the soft-deleted row is revived).
    let again = add(&server, owner(), &id, json!({"member": "project-b"})).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(json_of(again).await["status"], "pending");
}

#[tokio::test]
async fn member_quota_is_413() {
    let server = TestServer::start_with(|s| s.limits.image_member_quota = 1).await;
    let db = database(&server).await;
    let id = new_image(&db, None, Visibility::Shared, true).await;
    let none = HeaderMap::new;
    assert_eq!(
        add(&server, none(), &id, json!({"member": "p1"}))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        add(&server, none(), &id, json!({"member": "p2"}))
            .await
            .status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let all = json_of(list(&server, none(), &id).await).await;
    assert_eq!(all["members"].as_array().expect("members").len(), 1);
}
