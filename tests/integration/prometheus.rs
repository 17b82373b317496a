//! A real Prometheus (Debian's package) scrapes a running glance-api, evaluates our recording
//! rules, and answers for them over its HTTP API; `promtool check metrics` accepts a real scrape.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::process::{free_port, ApiProcess};
use crate::support::server::TestMode;

/// Create an image with this disk_format and answer its id.
async fn create(server: &ApiProcess, name: &str, disk_format: &str) -> String {
    let created: serde_json::Value = server
        .client
        .post(server.url("/v2/images"))
        .json(&serde_json::json!({"name": name, "disk_format": disk_format, "container_format": "bare"}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    created["id"].as_str().expect("id").to_string()
}

/// PUT 4 KiB of `byte` as the image's data.
async fn upload(server: &ApiProcess, id: &str, byte: u8) -> reqwest::Response {
    server
        .client
        .put(server.url(&format!("/v2/images/{id}/file")))
        .header("content-type", "application/octet-stream")
        .body(vec![byte; 4096])
        .send()
        .await
        .expect("upload")
}

/// Drive some traffic of every kind the rules look at, and an upload inspection refuses.
async fn traffic(server: &ApiProcess) {
    let client = &server.client;
    crate::api::metrics::import_one(client, &server.base).await;
    for i in 0..20 {
        let id = create(server, &format!("p{i}"), "raw").await;
        upload(server, &id, 7).await;
        client
            .get(server.url(&format!("/v2/images/{id}")))
            .send()
            .await
            .expect("show");
        let data = client
            .get(server.url(&format!("/v2/images/{id}/file")))
            .send()
            .await
            .expect("download");
        assert_eq!(data.bytes().await.expect("data").len(), 4096);
        client
            .get(server.url("/v2/images?limit=5"))
            .send()
            .await
            .expect("list");
        client
            .get(server.url("/v2/images/not-there"))
            .send()
            .await
            .expect("404");
    }
    // A store that fails: the image's file is replaced by a non-empty folder, so removing its
    // data on delete fails (the delete still answers 204; glance_store_errors_total counts it).
    let id = create(server, "unremovable", "raw").await;
    upload(server, &id, 7).await;
    let file = server.dir.path().join("images").join(&id);
    std::fs::remove_file(&file).expect("the image's file is in store.path");
    std::fs::create_dir_all(file.join("blocker")).expect("a folder in its place");
    let deleted = client
        .delete(server.url(&format!("/v2/images/{id}")))
        .send()
        .await
        .expect("delete");
    assert_eq!(
        deleted.status().as_u16(),
        204,
        "a store failure does not fail the delete"
    );
    // An upload that content inspection refuses: raw bytes under disk_format=qcow2.
    let id = create(server, "liar", "qcow2").await;
    let refused = upload(server, &id, 0).await;
    assert_eq!(
        refused.status().as_u16(),
        415,
        "inspection refuses the upload"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_accepts_a_real_scrape() {
    let server = ApiProcess::start(&[]).await;
    traffic(&server).await;
    let scrape = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    // Every family a direct-sqlite node exports, with samples after the traffic.
    let absent = crate::api::metrics::not_in_this_scrape(TestMode::DirectSqlite);
    let mut families = 0;
    for name in glance_rs::metrics::ALL {
        if absent.iter().any(|(n, _)| n == name) {
            continue;
        }
        families += 1;
        assert!(
            scrape.contains(&format!("# TYPE {name} ")),
            "scrape lacks {name}"
        );
        // Counters and histograms counted the traffic; gauges (uploads in progress: 0 at
        // rest) have a sample.
        let counted = name.ends_with("_total") || name.ends_with("_seconds");
        assert!(
            scrape
                .lines()
                .any(|l| l.starts_with(name) && !(counted && l.ends_with(" 0"))),
            "{name} has no sample (non-zero for a counter or histogram)"
        );
    }
    assert!(families >= 7, "only {families} families checked");
    for name in [
        "glance_http_request_duration_seconds_bucket",
        "glance_data_access_duration_seconds_bucket",
    ] {
        assert!(scrape.contains(name), "scrape lacks {name}");
    }
    assert!(
        scrape.contains("le=\"0.0001\""),
        "histogram buckets start at 100 µs"
    );
    assert!(
        scrape.contains("route=\"/v2/images/{image_id}\""),
        "route label is the matched pattern"
    );
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/ensure-deps.sh)");
    {
        use std::io::Write;
        let stdin = promtool.stdin.as_mut().expect("stdin");
        stdin.write_all(scrape.as_bytes()).expect("write scrape");
    }
    let out = promtool.wait_with_output().expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Prometheus on `dir/prometheus.yml`, ready, and its port. Prometheus binds a port by
/// number, one probed free that a parallel test may take first: then it exits, and it is
/// started again on another port.
async fn start_prometheus(dir: &Path, client: &reqwest::Client) -> (Child, u16) {
    let log_path = dir.join("prometheus.log");
    for _ in 0..5 {
        let port = free_port();
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut prometheus = Command::new("prometheus")
            .current_dir(dir)
            .args([
                "--config.file=prometheus.yml",
                "--storage.tsdb.path=data",
                &format!("--web.listen-address=127.0.0.1:{port}"),
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus is installed (scripts/ensure-deps.sh)");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = prometheus.try_wait() {
                break;
            }
            let ready = client
                .get(format!("http://127.0.0.1:{port}/-/ready"))
                .send()
                .await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return (prometheus, port);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = prometheus.kill();
        let _ = prometheus.wait();
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        assert!(
            log.contains("address already in use"),
            "prometheus did not start:\n{log}"
        );
    }
    panic!("prometheus found its port taken five times")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_records_our_rules_from_a_live_scrape() {
    // A process of its own, so its metrics are only its own.
    let server = ApiProcess::start(&[]).await;
    let dir = tempfile::tempdir().expect("temp dir");
    // The shipped rules, evaluated every second instead of every 15 s so the test is short.
    let rules = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dashboards/prometheus/glance-rules.yml"
    ))
    .expect("rules file")
    .replace("interval: 15s", "interval: 1s");
    std::fs::write(dir.path().join("rules.yml"), rules).expect("write rules");
    let target = server.base.trim_start_matches("http://").to_string();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: [rules.yml]\n\
             scrape_configs:\n  - job_name: glance-api\n    static_configs: [{{targets: ['{target}']}}]\n"
        ),
    )
    .expect("write config");
    let (mut prometheus, port) = start_prometheus(dir.path(), &server.client).await;
    let query = |expr: &str| {
        let client = server.client.clone();
        let url = format!("http://127.0.0.1:{port}/api/v1/query");
        let expr = expr.to_string();
        async move {
            let body: serde_json::Value = client
                .get(url)
                .query(&[("query", expr)])
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            body["data"]["result"]
                .as_array()
                .filter(|r| !r.is_empty())
                .cloned()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut found = (None, None);
    while Instant::now() < deadline && (found.0.is_none() || found.1.is_none()) {
        traffic(&server).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if found.0.is_none() {
            found.0 = query(
                "glance:http_requests:rate1m{route=\"/v2/images/{image_id}\", method=\"GET\"}",
            )
            .await;
        }
        if found.1.is_none() {
            found.1 =
                query("glance:data_access_duration_seconds:p95{operation=\"image_get\"}").await;
        }
    }
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    let rate = found
        .0
        .expect("Prometheus recorded glance:http_requests:rate1m for GET image");
    assert_eq!(rate[0]["metric"]["service"], "glance-api");
    let mode = if cfg!(feature = "direct-sqlite") {
        "direct-sqlite"
    } else {
        "direct-postgres"
    };
    assert_eq!(rate[0]["metric"]["mode"], mode);
    let p95 = found
        .1
        .expect("Prometheus recorded glance:data_access_duration_seconds:p95");
    let seconds: f64 = p95[0]["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("a number");
    assert!(
        seconds > 0.0 && seconds < 1.0,
        "p95 of image_get is {seconds} s"
    );
}
