//! Hostile input against a real glance-api process: thousands of malformed, oversized and
//! badly framed requests. Every one must get the status real Glance 33 gives it (recorded in
//! tests/fixtures/real-glance-33/hostile-answers.tsv) with Glance's error body, or the one the
//! case names with the reason we differ (never a 5xx, a dropped connection or a timeout). The
//! server must keep serving, and afterwards every image that existed before is intact, no
//! partial file is in the store and no image is left `saving`.

mod crash;
pub mod import_crash;
mod inputs;
mod recorded;
mod verdict;
mod wire;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use serde_json::{json, Value};

use crate::support::process::ApiProcess;
use inputs::Targets;
use verdict::Tally;
use wire::{exchange, Case, Outcome};

/// Identity every request carries: a plain member of project `hostile` (trusted-auth).
pub const IDENTITY: [(&str, &str); 4] = [
    ("X-Identity-Status", "Confirmed"),
    ("X-Project-Id", "hostile"),
    ("X-User-Id", "hostile-user"),
    ("X-Roles", "member,reader"),
];

pub async fn start_trusted(extra: &[(&str, String)]) -> ApiProcess {
    let mut env = vec![("GLANCE__AUTH__MODE", "trusted-auth".to_string())];
    env.extend(extra.iter().cloned());
    ApiProcess::start(&env).await
}

/// The same in the mode `GLANCE_TEST_MODE` names (scripts/test.sh runs each).
pub async fn start_trusted_in_test_mode(extra: &[(&str, String)]) -> ApiProcess {
    let mut env = vec![("GLANCE__AUTH__MODE", "trusted-auth".to_string())];
    env.extend(extra.iter().cloned());
    ApiProcess::start_in_test_mode(&env).await
}

/// A glance-api to talk to: one of ours, or a real Glance (`recorded`).
pub trait Http {
    fn client(&self) -> &reqwest::Client;
    fn url(&self, path: &str) -> String;
}

impl Http for ApiProcess {
    fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn url(&self, path: &str) -> String {
        ApiProcess::url(self, path)
    }
}

pub fn with_identity(builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    IDENTITY
        .iter()
        .fold(builder, |b, (name, value)| b.header(*name, *value))
        .timeout(Duration::from_secs(30))
}

/// Start a PUT of `path` that declares 8 MiB, sends 1 MiB and then keeps the connection open.
pub async fn stalled_put(addr: &str, path: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut head = format!(
        "PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\n",
        8 << 20
    );
    for (name, value) in IDENTITY {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("head");
    stream.write_all(&vec![5u8; 1 << 20]).await.expect("body");
    stream
}

pub async fn create(api: &impl Http, body: Value) -> String {
    let response = with_identity(api.client().post(api.url("/v2/images")))
        .json(&body)
        .send()
        .await
        .expect("create request");
    assert_eq!(response.status(), 201, "create {body}");
    let image: Value = response.json().await.expect("image JSON");
    image["id"].as_str().expect("id").to_string()
}

pub async fn upload(api: &impl Http, id: &str, data: Vec<u8>) {
    let response = with_identity(api.client().put(api.url(&format!("/v2/images/{id}/file"))))
        .header("content-type", "application/octet-stream")
        .body(data)
        .send()
        .await
        .expect("upload request");
    assert_eq!(response.status(), 204, "upload of {id}");
}

pub async fn show(api: &impl Http, id: &str) -> Value {
    let response = with_identity(api.client().get(api.url(&format!("/v2/images/{id}"))))
        .send()
        .await
        .expect("show request");
    assert_eq!(response.status(), 200, "show {id}");
    response.json().await.expect("image JSON")
}

pub async fn download(api: &impl Http, id: &str) -> (u16, Vec<u8>) {
    let response = with_identity(api.client().get(api.url(&format!("/v2/images/{id}/file"))))
        .send()
        .await
        .expect("download request");
    let status = response.status().as_u16();
    (
        status,
        response.bytes().await.expect("download body").to_vec(),
    )
}

/// Every image visible to the project, paging through the list.
pub async fn list_all(api: &impl Http) -> Vec<Value> {
    let mut all = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut url = api.url("/v2/images?limit=200");
        if let Some(m) = &marker {
            url.push_str(&format!("&marker={m}"));
        }
        let response = with_identity(api.client().get(url))
            .send()
            .await
            .expect("list request");
        assert_eq!(response.status(), 200, "list");
        let page: Value = response.json().await.expect("list JSON");
        let images = page["images"].as_array().cloned().unwrap_or_default();
        let Some(last) = images.last() else { break };
        marker = last["id"].as_str().map(str::to_string);
        all.extend(images);
        if page.get("next").is_none() {
            break;
        }
    }
    all
}

pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// Seeded images with data, to prove afterwards that nothing was lost.
pub struct Seed {
    pub id: String,
    pub data: Vec<u8>,
}

pub async fn seed(api: &impl Http, sizes: &[usize]) -> Vec<Seed> {
    let mut seeds = Vec::new();
    for (n, &size) in sizes.iter().enumerate() {
        let id = create(
            api,
            json!({"name": format!("seed-{n}"), "disk_format": "raw", "container_format": "bare"}),
        )
        .await;
        let data: Vec<u8> = (0..size).map(|i| (i * 31 + n * 7) as u8).collect();
        upload(api, &id, data.clone()).await;
        seeds.push(Seed { id, data });
    }
    seeds
}

/// Each seeded image is active, its checksum matches and its data downloads unchanged.
pub async fn assert_seeds_intact(api: &impl Http, seeds: &[Seed]) {
    for seed in seeds {
        let image = show(api, &seed.id).await;
        assert_eq!(image["status"], "active", "seed {} status", seed.id);
        assert_eq!(
            image["checksum"],
            md5_hex(&seed.data),
            "seed {} checksum",
            seed.id
        );
        assert_eq!(image["size"], seed.data.len(), "seed {} size", seed.id);
        let (status, body) = download(api, &seed.id).await;
        assert_eq!(status, 200, "seed {} download", seed.id);
        assert_eq!(md5_hex(&body), md5_hex(&seed.data), "seed {} data", seed.id);
    }
}

/// Names in the store folder that are not complete images: hidden temporaries.
pub fn partial_files(store: &Path) -> Vec<String> {
    std::fs::read_dir(store)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with('.') || name.ends_with(".part"))
                .collect()
        })
        .unwrap_or_default()
}

/// Wait (bounded) until no image is `saving` and no partial file is left; fail otherwise.
pub async fn assert_settled(api: &impl Http, store: &Path) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let images = list_all(api).await;
        let saving: Vec<&Value> = images.iter().filter(|i| i["status"] == "saving").collect();
        let partial = partial_files(store);
        if saving.is_empty() && partial.is_empty() {
            return images;
        }
        assert!(
            Instant::now() < deadline,
            "still saving: {saving:?}; partial files: {partial:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every file in the store belongs to an active image whose size it has.
pub fn assert_store_matches(images: &[Value], store: &Path) {
    let by_id: BTreeMap<&str, &Value> = images
        .iter()
        .filter_map(|i| i["id"].as_str().map(|id| (id, i)))
        .collect();
    for entry in std::fs::read_dir(store).expect("store folder").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let image = by_id
            .get(name.as_str())
            .unwrap_or_else(|| panic!("store file {name} belongs to no image"));
        assert_eq!(
            image["status"], "active",
            "store file {name} of a non-active image"
        );
        let length = entry.metadata().expect("metadata").len();
        assert_eq!(image["size"], length, "store file {name} size");
    }
}

/// The seeded images, and the images the cases aim at, on `api`.
pub async fn prepare(api: &impl Http) -> (Vec<Seed>, Targets) {
    let seeds = seed(api, &[1, 1_000, 100_000, 700_000]).await;
    let victim = create(api, json!({"name": "victim"})).await;
    let shared = create(api, json!({"name": "shared", "visibility": "shared"})).await;
    let mut uploads = Vec::new();
    for n in 0..inputs::UPLOAD_CASES {
        let body =
            json!({"name": format!("up-{n}"), "disk_format": "raw", "container_format": "bare"});
        uploads.push(create(api, body).await);
    }
    let targets = Targets {
        victim,
        shared,
        with_data: seeds[2].id.clone(),
        uploads,
        identity: IDENTITY
            .iter()
            .map(|(n, v)| (*n, v.as_bytes().to_vec()))
            .collect(),
    };
    (seeds, targets)
}

/// Every hostile input, in the order they are sent (later cases see earlier cases' effects).
pub fn all_cases(targets: &Targets) -> Vec<Case> {
    let mut cases = inputs::json_cases(targets);
    cases.extend(inputs::field_cases(targets));
    cases.extend(inputs::patch_cases(targets));
    cases.extend(inputs::content_type_cases(targets));
    cases.extend(inputs::list_cases(targets));
    cases.extend(inputs::url_cases(targets));
    cases.extend(inputs::range_cases(targets));
    cases.extend(inputs::upload_cases(targets));
    cases.extend(inputs::oversize_cases(targets));
    cases
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_inputs_get_glance_answers_and_lose_nothing() {
    // The default stale-upload threshold (an hour): nothing may rely on recovery to leave
    // `saving` within this test.
    let api =
        start_trusted_in_test_mode(&[("GLANCE__LIMITS__IMAGE_SIZE_CAP", "4194304".into())]).await;
    let store = api.dir.path().join("images");
    let (seeds, targets) = prepare(&api).await;
    let uploads = targets.uploads.clone();
    let cases = all_cases(&targets);

    let addr = api.base.trim_start_matches("http://").to_string();
    let mut tally = Tally::default();
    let mut answers = Vec::new();
    let glance_answers = recorded::glance_answers();
    let started = Instant::now();
    let mut slowest = (Duration::ZERO, String::new());
    for case in &cases {
        let begun = Instant::now();
        let outcome = exchange(&addr, case).await;
        if begun.elapsed() > slowest.0 {
            slowest = (begun.elapsed(), case.label.clone());
        }
        let glance = recorded::glance_answer(&glance_answers, case);
        tally.record(
            case,
            recorded::expected(case, &glance_answers),
            glance,
            &outcome,
        );
        answers.push(recorded::line(case, &outcome));
    }
    recorded::write_if_asked(&answers);
    println!(
        "hostile: {} inputs in {:.1}s: 2xx/3xx={} 4xx={} 5xx={} dropped={} timeouts={} \
         client-hung-up={}; by status {:?}; slowest {:.2}s ({})",
        tally.tried,
        started.elapsed().as_secs_f64(),
        tally.success,
        tally.client_error,
        tally.server_error,
        tally.dropped,
        tally.timeouts,
        tally.hung_up,
        tally.by_status,
        slowest.0.as_secs_f64(),
        slowest.1,
    );
    for failure in &tally.failures {
        println!("  FAILED {failure}");
    }
    assert!(tally.tried > 1_000, "too few inputs");
    assert!(
        tally.failures.is_empty(),
        "{} inputs got another status than expected, a 5xx, an error body not in Glance's \
         shape, no answer or no answer in time",
        tally.failures.len()
    );

    // The server still serves, nothing was lost, nothing is half-done.
    let images = assert_settled(&api, &store).await;
    assert_seeds_intact(&api, &seeds).await;
    assert_store_matches(&images, &store);
    // A short body with a bogus Content-Length never makes an image active.
    for id in &uploads[..2] {
        assert_eq!(
            show(&api, id).await["status"],
            "queued",
            "short upload {id}"
        );
    }
    for id in &uploads {
        let image = show(&api, id).await;
        if image["status"] == "active" {
            let (status, body) = download(&api, id).await;
            assert_eq!(status, 200);
            assert_eq!(image["size"], body.len(), "upload {id} size");
            assert_eq!(image["checksum"], md5_hex(&body), "upload {id} checksum");
        } else {
            assert_eq!(image["status"], "queued", "upload {id}");
            assert!(image["size"].is_null(), "failed upload {id} keeps a size");
        }
    }
}

/// actix-http drops a connection whose chunked body it cannot decode; the API answers the
/// 400 itself, in Glance's shape, and the image is back to `queued` with no partial file by
/// the time the client reads that answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_chunked_upload_gets_a_glance_400_and_the_image_is_queued_at_once() {
    let api = start_trusted_in_test_mode(&[]).await;
    let store = api.dir.path().join("images");
    let addr = api.base.trim_start_matches("http://").to_string();
    let id = create(
        &api,
        json!({"name": "chunky", "disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    let bodies: [&[u8]; 5] = [
        b"5\r\nhello\r\nzz\r\nabc\r\n0\r\n\r\n",
        b"2\r\nhello\r\n0\r\n\r\n",
        b"ffffffffffffffffffff\r\nhello\r\n",
        b"-5\r\nhello\r\n0\r\n\r\n",
        b"5\nhello\n0\n\n",
    ];
    for round in 0..4 {
        for body in bodies {
            let mut headers: Vec<(&str, &[u8])> =
                IDENTITY.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
            headers.push(("Content-Type", b"application/octet-stream"));
            headers.push(("Transfer-Encoding", b"chunked"));
            let request = wire::request(
                "PUT",
                format!("/v2/images/{id}/file").as_bytes(),
                &headers,
                body,
            );
            let outcome = exchange(&addr, &Case::new("corrupt chunking", request)).await;
            let Outcome::Answered(code, text) = outcome else {
                panic!("round {round}: no answer to {body:?}: {outcome:?}");
            };
            assert_eq!(code, 400, "round {round}: {body:?} → {text}");
            let error: Value = serde_json::from_str(&text).expect("Glance's JSON error body");
            assert_eq!(error["code"], "400 Bad Request", "{error}");
            assert!(
                error["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("chunked transfer encoding is malformed")),
                "{error}"
            );
            // No waiting: the answer comes after the image is back to queued.
            assert_eq!(
                show(&api, &id).await["status"],
                "queued",
                "round {round}: {body:?}"
            );
            assert!(
                partial_files(&store).is_empty(),
                "{:?}",
                partial_files(&store)
            );
        }
    }
    // The connection-level answer did not get in the way of a good upload afterwards.
    upload(&api, &id, b"finally".to_vec()).await;
    assert_eq!(show(&api, &id).await["status"], "active");
}
