//! The names the dashboards and recording rules use, against a real scrape: glance-api (and
//! glance-registry behind it in registry-proxy) after real traffic of every kind the
//! dashboards show, in the mode `GLANCE_TEST_MODE` names (scripts/test.sh runs all four).
//! Every name a dashboard or rule file uses is exported in this mode or is listed below as
//! exported only in another one; every `glance_*` family in the scrape is in `metrics::ALL`.

use std::collections::BTreeSet;
use std::path::Path;

use glance_rs::metrics;

use crate::support::process::ApiProcess;
use crate::support::server::{test_mode, TestMode};

/// Families this mode's scrape cannot hold, and why.
pub(crate) fn not_in_this_scrape(mode: TestMode) -> Vec<(&'static str, &'static str)> {
    let mut absent = vec![
        (
            metrics::KEYSTONE_VALIDATIONS_TOTAL,
            "auth.mode = keystone only",
        ),
        (
            metrics::KEYSTONE_VALIDATION_DURATION,
            "auth.mode = keystone only",
        ),
        (
            metrics::TOKEN_CACHE_LOOKUPS_TOTAL,
            "auth.mode = keystone only",
        ),
    ];
    if matches!(mode, TestMode::DirectSqlite | TestMode::DirectPostgres) {
        absent.push((metrics::REGISTRY_RPC_DURATION, "glance-registry only"));
        absent.push((metrics::REGISTRY_HOP_DURATION, "registry-proxy only"));
    }
    if crate::support::s3::test_store() == crate::support::s3::TestStore::File {
        absent.push((metrics::STORE_PARTS_IN_FLIGHT, "S3 stores only"));
    }
    if mode == TestMode::DirectSqlite {
        let why = "no connection pool on SQLite";
        absent.push((metrics::POOL_CONNECTIONS, why));
        absent.push((metrics::POOL_WAITERS, why));
        absent.push((metrics::POOL_SIZE, why));
    }
    absent
}

/// Create, upload, show, list, download, a 404, an upload refused by content inspection, an
/// import: every kind of request the dashboards chart.
async fn traffic(api: &ApiProcess) {
    let client = &api.client;
    import_one(client, &api.base).await;
    let body =
        serde_json::json!({"name": "liar", "disk_format": "qcow2", "container_format": "bare"});
    let created = client
        .post(api.url("/v2/images"))
        .json(&body)
        .send()
        .await
        .expect("create");
    let image: serde_json::Value = created.json().await.expect("json");
    let refused = client
        .put(api.url(&format!(
            "/v2/images/{}/file",
            image["id"].as_str().expect("id")
        )))
        .header("content-type", "application/octet-stream")
        .body(vec![7u8; 4096])
        .send()
        .await
        .expect("upload");
    assert_eq!(refused.status(), 415, "not qcow2 content");
    for i in 0..5 {
        let body = serde_json::json!({"name": format!("m{i}"), "disk_format": "raw", "container_format": "bare"});
        let created = client
            .post(api.url("/v2/images"))
            .json(&body)
            .send()
            .await
            .expect("create");
        assert_eq!(created.status(), 201);
        let image: serde_json::Value = created.json().await.expect("json");
        let file = api.url(&format!(
            "/v2/images/{}/file",
            image["id"].as_str().expect("id")
        ));
        let put = client
            .put(&file)
            .header("content-type", "application/octet-stream");
        assert_eq!(
            put.body(vec![7u8; 4096])
                .send()
                .await
                .expect("upload")
                .status(),
            204
        );
        let download = client.get(&file).send().await.expect("download");
        assert_eq!(download.bytes().await.expect("data").len(), 4096);
        let listed = client
            .get(api.url("/v2/images?limit=2"))
            .send()
            .await
            .expect("list");
        assert_eq!(listed.status(), 200);
        let missing = client
            .get(api.url("/v2/images/not-there"))
            .send()
            .await
            .expect("404");
        assert_eq!(missing.status(), 404);
    }
}

/// One glance-direct import through to `active` (the import metrics).
pub(crate) async fn import_one(client: &reqwest::Client, base: &str) {
    let body = serde_json::json!({"name": "imp", "disk_format": "raw", "container_format": "bare"});
    let created = client
        .post(format!("{base}/v2/images"))
        .json(&body)
        .send()
        .await
        .expect("create");
    let image: serde_json::Value = created.json().await.expect("json");
    let id = image["id"].as_str().expect("id").to_string();
    let staged = client
        .put(format!("{base}/v2/images/{id}/stage"))
        .header("content-type", "application/octet-stream")
        .body(vec![7u8; 4096])
        .send()
        .await
        .expect("stage");
    assert_eq!(staged.status(), 204);
    let imported = client
        .post(format!("{base}/v2/images/{id}/import"))
        .json(&serde_json::json!({"method": {"name": "glance-direct"}}))
        .send()
        .await
        .expect("import");
    assert_eq!(imported.status(), 202);
    for _ in 0..200 {
        let shown: serde_json::Value = client
            .get(format!("{base}/v2/images/{id}"))
            .send()
            .await
            .expect("show")
            .json()
            .await
            .expect("json");
        if shown["status"] == "active" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("import of {id} did not finish");
}

/// The metric families a `/metrics` answer declares.
async fn families(client: &reqwest::Client, base: &str) -> BTreeSet<String> {
    let scrape = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(scrape.status(), 200);
    let text = scrape.text().await.expect("text");
    text.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_and_rules_name_what_a_real_scrape_exports() {
    let api = ApiProcess::start_in_test_mode(&[]).await;
    traffic(&api).await;
    let mut scraped = families(&api.client, &api.base).await;
    if let Some(registry) = &api.registry_base {
        scraped.extend(families(&api.client, registry).await);
    }
    let absent = not_in_this_scrape(test_mode());
    for family in &scraped {
        if family.starts_with("glance_") {
            assert!(
                metrics::ALL.contains(&family.as_str()),
                "{family} is not in metrics::ALL"
            );
        }
    }
    for name in metrics::ALL {
        let why = absent.iter().find(|(n, _)| n == name).map(|(_, why)| *why);
        match why {
            None => assert!(scraped.contains(*name), "{name} missing from {scraped:?}"),
            Some(why) => assert!(!scraped.contains(*name), "{name} ({why}) is scraped"),
        }
    }

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards");
    let rules =
        std::fs::read_to_string(root.join("prometheus/glance-rules.yml")).expect("rules file");
    let recorded: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- record: "))
        .collect();
    assert!(recorded.len() >= 10, "rules file records too little");
    let mut files = vec![root.join("prometheus/glance-rules.yml")];
    for entry in std::fs::read_dir(&root).expect("dashboards dir").flatten() {
        if entry.path().extension().is_some_and(|e| e == "json") {
            files.push(entry.path());
        }
    }
    assert!(files.len() >= 2, "no dashboard JSON found");
    let mut checked = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        for token in names_in(&text) {
            checked += 1;
            if token.contains(':') {
                assert!(
                    recorded.contains(&token.as_str()),
                    "{}: rule {token} is not recorded",
                    file.display()
                );
                continue;
            }
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| token.strip_suffix(s))
                .filter(|base| scraped.contains(*base) || absent.iter().any(|(n, _)| n == base))
                .unwrap_or(&token);
            let elsewhere = absent.iter().any(|(n, _)| *n == base);
            assert!(
                scraped.contains(base) || elsewhere,
                "{}: metric {token} is neither in this scrape nor exported in another mode",
                file.display()
            );
        }
    }
    assert!(checked > 20, "too few metric names found ({checked})");
}

fn names_in(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(pos) = text[i..].find("glance") {
        let start = i + pos;
        let boundary =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let mut end = start + "glance".len();
        while end < bytes.len()
            && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_' || bytes[end] == b':')
        {
            end += 1;
        }
        let token = &text[start..end];
        if boundary
            && (token.starts_with("glance_") || token.starts_with("glance:"))
            && token.len() > 7
        {
            out.push(token.trim_end_matches(':').to_string());
        }
        i = end;
    }
    out
}
