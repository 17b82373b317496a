//! Locations outside every configured store (issue 13, item 3): a Glance database whose
//! filesystem store is at another path than ours, or a location crafted to step out of the
//! store. Neither is served nor deleted: the download is refused (500, and a log line that
//! names the location and the configured stores), and deleting the image leaves the file
//! where it is.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::api::image_at_location;
use crate::support::server::TestServer;

/// An active public image whose one location is `url`.
async fn image_at(server: &TestServer, url: String, size: usize) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    image_at_location(server, &id, url, Default::default(), size, None).await;
    id
}

#[tokio::test]
async fn locations_outside_every_store_are_neither_served_nor_deleted() {
    let server = TestServer::start().await;
    let store = server.store_dir();
    let elsewhere = tempfile::tempdir().expect("another folder");
    let secret = b"not image data: a file outside the store".to_vec();
    let outside = elsewhere.path().join("data");
    std::fs::write(&outside, &secret).expect("write the outside file");
    // A file next to the store, reached by stepping out of it.
    let sibling = store.parent().expect("store parent").join("sibling");
    std::fs::write(&sibling, &secret).expect("write the sibling file");

    let urls = [
        format!("file://{}", outside.display()),
        format!("file://{}/../sibling", store.display()),
    ];
    for url in urls {
        let id = image_at(&server, url.clone(), secret.len()).await;
        let response = server
            .client
            .get(server.url(&format!("/v2/images/{id}/file")))
            .send()
            .await
            .expect("download");
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{url} is refused, not served and not taken for missing data (204)"
        );
        // Glance's 500 page, which shows no detail: the log line names the location and
        // the configured stores for the operator.
        let body = response.text().await.expect("body");
        assert!(body.contains("500 Internal Server Error"), "{body}");
        assert!(
            !body.contains("not image data"),
            "nothing of the file is shown"
        );
        assert!(
            !body.contains("file://"),
            "the location is not shown: {body}"
        );

        let deleted = server
            .client
            .delete(server.url(&format!("/v2/images/{id}")))
            .send()
            .await
            .expect("delete");
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT, "the image goes");
        let gone: Value = server
            .client
            .get(server.url(&format!("/v2/images/{id}")))
            .send()
            .await
            .expect("show")
            .json()
            .await
            .unwrap_or(json!(null));
        assert!(gone.get("id").is_none(), "image {id} deleted: {gone}");
    }
    assert_eq!(std::fs::read(&outside).expect("still there"), secret);
    assert_eq!(std::fs::read(&sibling).expect("still there"), secret);
    let _ = std::fs::remove_file(&sibling);
}
