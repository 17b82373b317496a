//! Races through the API over real HTTP: concurrent uploads, PATCHes and member creations on
//! one image, and DELETE racing an upload. Each scenario takes a started server, so the same
//! checks run here on the default backend (SQLite) and in `postgres::api_concurrency` on
//! PostgreSQL.

use std::time::Duration;

use bytes::Bytes;
use md5::{Digest, Md5};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::image_data::{pattern, store_files};
use super::{create_image, expect_json, get, patch_image};
use crate::support::server::TestServer;

/// Requests racing on one image.
const RACERS: usize = 8;
/// The large upload DELETE races against.
const LARGE: usize = 32 * 1024 * 1024;
const CHUNK: usize = 512 * 1024;

async fn queued_image(server: &TestServer) -> String {
    let body = json!({
        "name": "raced",
        "disk_format": "raw",
        "container_format": "bare",
        "visibility": "shared",
    });
    let image = create_image(server, &HeaderMap::new(), body).await;
    image["id"].as_str().expect("an id").to_string()
}

fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// Waits until `ready` holds, polling for up to 10 s; false if it never did.
async fn eventually(mut ready: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if ready() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ready()
}

/// `PUT /v2/images/{id}/file` with a body of `data`.
async fn put_file(server: &TestServer, id: &str, body: reqwest::Body) -> reqwest::Result<Response> {
    let response = server
        .client
        .put(server.url(&format!("/v2/images/{id}/file")))
        .header("content-type", "application/octet-stream")
        .header("accept", "application/json")
        .body(body)
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await?;
    Ok(Response { status, text })
}

#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub text: String,
}

/// 8 uploads of different bytes to one queued image: one 204, seven 409; the store holds
/// exactly the winner's file (no temporary file left) and the image describes and serves it.
pub async fn concurrent_uploads_have_one_winner(server: &TestServer) {
    let id = queued_image(server).await;
    let bodies: Vec<Vec<u8>> = (0..RACERS)
        .map(|n| {
            let mut data = pattern(200_000 + n * 1000);
            data[0] = n as u8;
            data
        })
        .collect();
    let mut tasks = Vec::new();
    for data in &bodies {
        let (client, url) = (server.client.clone(), server.url(""));
        let (id, data) = (id.clone(), data.clone());
        tasks.push(tokio::spawn(async move {
            let response = client
                .put(format!("{url}/v2/images/{id}/file"))
                .header("content-type", "application/octet-stream")
                .header("accept", "application/json")
                .body(data)
                .send()
                .await
                .expect("upload request");
            let status = response.status();
            (status, response.text().await.expect("body"))
        }));
    }
    let mut winners = Vec::new();
    for (n, task) in tasks.into_iter().enumerate() {
        let (status, text) = task.await.expect("joined");
        match status {
            StatusCode::NO_CONTENT => winners.push(n),
            StatusCode::CONFLICT => assert!(text.contains("is not allowed"), "{text}"),
            other => panic!("upload {n}: {other} {text}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let winner = &bodies[winners[0]];

    assert_eq!(store_files(server), vec![id.clone()]);
    let shown = expect_json(
        get(server, &HeaderMap::new(), &format!("/v2/images/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["checksum"], md5_hex(winner));
    assert_eq!(shown["size"], winner.len());
    let download = server
        .client
        .get(server.url(&format!("/v2/images/{id}/file")))
        .send()
        .await
        .expect("download");
    assert_eq!(download.status(), StatusCode::OK);
    let bytes = download.bytes().await.expect("data");
    assert!(bytes.as_ref() == winner.as_slice(), "the winner's bytes");
}

/// 16 PATCHes, each adding a different property: all 200, none lost.
pub async fn concurrent_patches_lose_nothing(server: &TestServer) {
    let id = queued_image(server).await;
    let mut tasks = Vec::new();
    for n in 0..16 {
        let client = server.client.clone();
        let url = server.url(&format!("/v2/images/{id}"));
        tasks.push(tokio::spawn(async move {
            let doc =
                json!([{"op": "add", "path": format!("/race_{n}"), "value": format!("v{n}")}]);
            let response = client
                .patch(url)
                .header("content-type", super::PATCH_V21)
                .header("accept", "application/json")
                .body(doc.to_string())
                .send()
                .await
                .expect("patch request");
            (response.status(), response.text().await.expect("body"))
        }));
    }
    for task in tasks {
        let (status, text) = task.await.expect("joined");
        assert_eq!(status, StatusCode::OK, "{text}");
    }
    let shown = expect_json(
        get(server, &HeaderMap::new(), &format!("/v2/images/{id}")).await,
        StatusCode::OK,
    )
    .await;
    for n in 0..16 {
        assert_eq!(shown[format!("race_{n}")], format!("v{n}"), "race_{n} lost");
    }
    // And a PATCH after the race still sees all of them.
    let doc = json!([{"op": "replace", "path": "/race_0", "value": "again"}]);
    let after = expect_json(
        patch_image(server, &HeaderMap::new(), &id, doc).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(after["race_0"], "again");
    assert_eq!(after["race_15"], "v15");
}

/// 8 creations of the same membership: one 200, seven 409, one live row.
pub async fn concurrent_member_creates_have_one_winner(server: &TestServer) {
    let id = queued_image(server).await;
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let client = server.client.clone();
        let url = server.url(&format!("/v2/images/{id}/members"));
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .header("accept", "application/json")
                .json(&json!({"member": "project-b"}))
                .send()
                .await
                .expect("member request");
            (response.status(), response.text().await.expect("body"))
        }));
    }
    let mut created = 0;
    for task in tasks {
        let (status, text) = task.await.expect("joined");
        match status {
            StatusCode::OK => created += 1,
            StatusCode::CONFLICT => {
                assert!(text.contains("is duplicated for image"), "{text}")
            }
            other => panic!("{other}: {text}"),
        }
    }
    assert_eq!(created, 1);
    let members = expect_json(
        get(
            server,
            &HeaderMap::new(),
            &format!("/v2/images/{id}/members"),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let listed: Vec<&Value> = members["members"]
        .as_array()
        .expect("members")
        .iter()
        .collect();
    assert_eq!(listed.len(), 1, "{members}");
    assert_eq!(listed[0]["member_id"], "project-b");
}

/// When DELETE comes relative to the upload.
#[derive(Clone, Copy, Debug)]
pub enum DeleteTiming {
    /// Before the upload starts.
    Before,
    /// While the upload streams: half the data sent, the rest held back until DELETE answered.
    During,
    /// Once the upload answered.
    After,
    /// Unsynchronised, this long after the (slowly streamed) upload was sent.
    RacingAfter(Duration),
}

/// A 32 MiB body streamed in chunks; after `hold_at` bytes it waits for `gate`, and between
/// chunks it pauses `pause`.
fn slow_body(
    gate: Option<(usize, tokio::sync::oneshot::Receiver<()>)>,
    pause: Duration,
) -> reqwest::Body {
    let data = Bytes::from(pattern(LARGE));
    let stream = futures_util::stream::unfold((0usize, gate), move |(sent, mut gate)| {
        let data = data.clone();
        async move {
            if sent >= data.len() {
                return None;
            }
            if let Some((hold_at, _)) = &gate {
                if sent >= *hold_at {
                    if let Some((_, open)) = gate.take() {
                        let _ = open.await;
                    }
                }
            }
            tokio::time::sleep(pause).await;
            let end = (sent + CHUNK).min(data.len());
            Some((Ok::<_, std::io::Error>(data.slice(sent..end)), (end, gate)))
        }
    });
    reqwest::Body::wrap_stream(stream)
}

/// `DELETE /v2/images/{id}` on a connection of its own, asserting 204. (Under load a pooled
/// keep-alive connection was now and then reset or answered 408 by actix as it timed out,
/// which is the transport, not the race under test.)
async fn delete_image(server: &TestServer, id: &str) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("an HTTP client");
    let response = client
        .delete(server.url(&format!("/v2/images/{id}")))
        .header("accept", "application/json")
        .send()
        .await
        .expect("delete request");
    let status = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(status, StatusCode::NO_CONTENT, "DELETE: {text}");
}

/// DELETE racing a large upload: the image ends deleted, the upload gets an answer that fits
/// when it came (404 before, 410 during, 204 after; unsynchronised, what the image's status
/// just before the DELETE allows), and the store folder ends empty.
pub async fn delete_racing_an_upload(server: &TestServer, timing: DeleteTiming) {
    let id = queued_image(server).await;
    match timing {
        DeleteTiming::Before => {
            delete_image(server, &id).await;
            let answer = put_file(server, &id, slow_body(None, Duration::ZERO)).await;
            // The server may answer before reading the body and close the connection.
            if let Ok(answer) = &answer {
                assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.text);
            }
        }
        DeleteTiming::During => {
            let (open, gate) = tokio::sync::oneshot::channel();
            let body = slow_body(Some((LARGE / 2, gate)), Duration::from_millis(2));
            let uploading = {
                let (client, url) = (server.client.clone(), server.url(""));
                let id = id.clone();
                tokio::spawn(async move {
                    client
                        .put(format!("{url}/v2/images/{id}/file"))
                        .header("content-type", "application/octet-stream")
                        .header("accept", "application/json")
                        .body(body)
                        .send()
                        .await
                })
            };
            let part = format!(".{id}.");
            let started = eventually(|| store_files(server).iter().any(|f| f.starts_with(&part)));
            assert!(
                started.await,
                "no temporary file: {:?}",
                store_files(server)
            );
            let shown = get(server, &HeaderMap::new(), &format!("/v2/images/{id}")).await;
            let shown = expect_json(shown, StatusCode::OK).await;
            assert_eq!(shown["status"], "saving");
            delete_image(server, &id).await;
            let _ = open.send(());
            let response = uploading.await.expect("joined").expect("upload answered");
            let status = response.status();
            let text = response.text().await.expect("body");
            assert_eq!(status, StatusCode::GONE, "{text}");
            assert!(text.contains("could not be found after upload"), "{text}");
        }
        DeleteTiming::After => {
            let data = pattern(LARGE);
            let answer = put_file(server, &id, data.into())
                .await
                .expect("upload answered");
            assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
            assert_eq!(store_files(server), vec![id.clone()]);
            delete_image(server, &id).await;
        }
        DeleteTiming::RacingAfter(delay) => {
            let uploading = {
                let (client, url) = (server.client.clone(), server.url(""));
                let id = id.clone();
                let body = slow_body(None, Duration::from_millis(5));
                tokio::spawn(async move {
                    client
                        .put(format!("{url}/v2/images/{id}/file"))
                        .header("content-type", "application/octet-stream")
                        .body(body)
                        .send()
                        .await
                })
            };
            tokio::time::sleep(delay).await;
            // Where the upload stood just before the DELETE decides what it may answer.
            let shown = get(server, &HeaderMap::new(), &format!("/v2/images/{id}")).await;
            let stood = expect_json(shown, StatusCode::OK).await["status"].clone();
            delete_image(server, &id).await;
            let answer = uploading.await.expect("joined");
            let answered = answer.as_ref().map(|response| response.status());
            let allowed: &[StatusCode] = match stood.as_str() {
                // Already stored: the upload had answered 204 or was about to.
                Some("active") => &[StatusCode::NO_CONTENT],
                // Streaming: it stores before the DELETE (204) or finds the image gone (410).
                Some("saving") => &[StatusCode::NO_CONTENT, StatusCode::GONE],
                // Not yet saving: it starts saving before the DELETE (then as above), finds
                // no image (404) or a deleted one it cannot move to saving (409), or is
                // refused before its body is read (a transport error, below).
                Some("queued") => &[
                    StatusCode::NO_CONTENT,
                    StatusCode::GONE,
                    StatusCode::NOT_FOUND,
                    StatusCode::CONFLICT,
                ],
                other => panic!("{timing:?}: image {other:?} before DELETE"),
            };
            match answered {
                Ok(status) => assert!(
                    allowed.contains(&status),
                    "{timing:?}: upload answered {status} with the image {stood} before DELETE"
                ),
                Err(err) => {
                    assert!(!err.is_timeout(), "{err}");
                    assert_eq!(stood, "queued", "{timing:?}: upload cut off: {err}");
                }
            }
        }
    }
    let gone = get(server, &HeaderMap::new(), &format!("/v2/images/{id}")).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND, "{timing:?}");
    // A refused or abandoned upload cleans up after its answer: give it a moment.
    let empty = eventually(|| store_files(server).is_empty()).await;
    assert!(empty, "{timing:?}: store left {:?}", store_files(server));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_to_one_image_have_one_winner() {
    concurrent_uploads_have_one_winner(&TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_adding_properties_lose_none() {
    concurrent_patches_lose_nothing(&TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_member_creates_have_one_winner_and_one_row() {
    concurrent_member_creates_have_one_winner(&TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_racing_an_upload_leaves_no_image_and_no_data() {
    let server = TestServer::start().await;
    for timing in timings() {
        delete_racing_an_upload(&server, timing).await;
    }
}

/// Every timing the DELETE-vs-upload race is checked with.
pub fn timings() -> Vec<DeleteTiming> {
    let mut timings = vec![
        DeleteTiming::Before,
        DeleteTiming::During,
        DeleteTiming::After,
    ];
    timings.extend(
        [0, 30, 150, 600]
            .into_iter()
            .map(|ms| DeleteTiming::RacingAfter(Duration::from_millis(ms))),
    );
    timings
}
