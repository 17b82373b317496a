//! The `image_conversion` import plugin with the real `qemu-img` (Debian's qemu-utils): images
//! made by `qemu-img` are imported and converted (glance-direct and web-download), unsafe
//! input is refused before `qemu-img` reads it, and `qemu-img` runs within its bounds.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use md5::{Digest, Md5};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{image_tasks, import, settle, stage};
use crate::api::create_image;
use crate::api::image_data::{download, pattern};
use crate::support::server::TestServer;
use glance_rs::config::{ImageConversionSettings, Settings};
use glance_rs::import::conversion::{Conversion, ConversionError, Outcome};
use glance_rs::store::inspect::Policy;

/// Raw test data: 2 MiB, part pattern, part zeros (sparse once converted).
fn raw_data() -> Vec<u8> {
    let mut data = pattern(1 << 20);
    data.resize(2 << 20, 0);
    data
}

fn qemu_img(args: &[&str]) {
    let output = Command::new("qemu-img")
        .args(args)
        .output()
        .expect("qemu-img runs (Debian's qemu-utils; scripts/ensure-deps.sh)");
    assert!(
        output.status.success(),
        "qemu-img {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `data` as a file, and converted by qemu-img to `format` (`raw`: as is).
fn image_file(dir: &Path, data: &[u8], format: &str) -> PathBuf {
    let raw = dir.join("source.raw");
    std::fs::write(&raw, data).expect("write raw");
    if format == "raw" {
        return raw;
    }
    let out = dir.join(format!("source.{format}"));
    qemu_img(&[
        "convert",
        "-f",
        "raw",
        "-O",
        format,
        &raw.display().to_string(),
        &out.display().to_string(),
    ]);
    out
}

/// The bytes of `data` (in `format`) as raw, by qemu-img.
fn as_raw(dir: &Path, data: &[u8], format: &str) -> Vec<u8> {
    let (src, dst) = (dir.join("check.in"), dir.join("check.raw"));
    std::fs::write(&src, data).expect("write");
    let (src, dst) = (src.display().to_string(), dst.display().to_string());
    qemu_img(&["convert", "-f", format, "-O", "raw", &src, &dst]);
    std::fs::read(&dst).expect("read raw")
}

async fn converting_server(output_format: &str, port: u16) -> TestServer {
    let output_format = output_format.to_string();
    TestServer::start_with(move |s: &mut Settings| {
        s.import.plugins = vec!["image_conversion".into()];
        s.image_conversion.output_format = output_format;
        s.import_filtering.allowed_ports = vec![port];
    })
    .await
}

async fn new_image(server: &TestServer, disk_format: &str) -> String {
    let body = json!({"name": "conv", "disk_format": disk_format, "container_format": "bare"});
    let image = create_image(server, &HeaderMap::new(), body).await;
    image["id"].as_str().expect("id").to_string()
}

/// Import into `id` and wait: the settled image and its ended task.
async fn import_and_wait(server: &TestServer, id: &str, method: Value) -> (Value, Value) {
    let h = HeaderMap::new();
    let response = import(server, &h, id, json!({ "method": method })).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let image = settle(server, &h, id).await;
    for _ in 0..100 {
        let tasks = image_tasks(server, &h, id).await;
        if ["success", "failure"].contains(&tasks[0]["status"].as_str().unwrap_or_default()) {
            return (image, tasks[0].clone());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the task of image {id} did not end");
}

async fn data_of(server: &TestServer, id: &str) -> (StatusCode, Vec<u8>) {
    let response = download(server, HeaderMap::new(), id).await;
    let status = response.status();
    (status, response.bytes().await.expect("body").to_vec())
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_staged_qcow2_is_imported_as_raw() {
    let dir = tempfile::tempdir().expect("temp dir");
    let raw = raw_data();
    let qcow2 = std::fs::read(image_file(dir.path(), &raw, "qcow2")).expect("qcow2");
    assert!(qcow2.starts_with(b"QFI\xfb") && qcow2.len() < raw.len());
    let server = converting_server("raw", 80).await;
    let id = new_image(&server, "qcow2").await;
    let staged = stage(&server, &HeaderMap::new(), &id, qcow2).await;
    assert_eq!(staged.status(), StatusCode::NO_CONTENT);

    let (image, task) = import_and_wait(&server, &id, json!({"name": "glance-direct"})).await;
    assert_eq!(task["status"], "success", "{task}");
    assert_eq!(image["status"], "active");
    assert_eq!(image["disk_format"], "raw");
    assert_eq!(image["container_format"], "bare");
    assert_eq!(image["size"], raw.len());
    assert_eq!(image["virtual_size"], raw.len());
    assert_eq!(image["checksum"], hex::encode(Md5::digest(&raw)));
    let (status, body) = data_of(&server, &id).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body == raw, "the raw data is the qcow2's content");
    let staging = PathBuf::from(&server.settings.import.staging_path);
    assert_eq!(leftovers(&staging), Vec::<String>::new());
}

#[tokio::test]
async fn a_web_download_is_converted_to_qcow2() {
    let port = crate::support::web_source::start();
    let server = converting_server("qcow2", port).await;
    let id = new_image(&server, "raw").await;
    let len = 1 << 20;
    let uri = format!("http://127.0.0.1:{port}/data/{len}");
    let (image, task) =
        import_and_wait(&server, &id, json!({"name": "web-download", "uri": uri})).await;
    assert_eq!(task["status"], "success", "{task}");
    assert_eq!(image["disk_format"], "qcow2");
    assert_eq!(image["virtual_size"], len);
    let (status, body) = data_of(&server, &id).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with(b"QFI\xfb"), "qcow2 data is stored");
    assert_eq!(image["size"], body.len());
    let dir = tempfile::tempdir().expect("temp dir");
    assert!(as_raw(dir.path(), &body, "qcow2") == pattern(len));
    let staging = PathBuf::from(&server.settings.import.staging_path);
    assert_eq!(leftovers(&staging), Vec::<String>::new());
}

#[tokio::test]
async fn qcow2_content_claimed_raw_fails_the_import_and_requeues() {
    let dir = tempfile::tempdir().expect("temp dir");
    let qcow2 = std::fs::read(image_file(dir.path(), &raw_data(), "qcow2")).expect("qcow2");
    let server = converting_server("qcow2", 80).await;
    // An upload takes qcow2 bytes declared raw (stored as raw); conversion does not.
    let id = new_image(&server, "raw").await;
    let staged = stage(&server, &HeaderMap::new(), &id, qcow2).await;
    assert_eq!(staged.status(), StatusCode::NO_CONTENT);
    let (image, task) = import_and_wait(&server, &id, json!({"name": "glance-direct"})).await;
    assert_eq!(task["status"], "failure");
    assert_eq!(
        task["message"],
        "Image conversion failed: Image format mismatch"
    );
    assert_eq!(image["status"], "queued");
    assert_eq!(image["disk_format"], "raw");
    assert!(image["size"].is_null());
    let staging = PathBuf::from(&server.settings.import.staging_path);
    assert_eq!(leftovers(&staging), Vec::<String>::new());
}

/// A qemu-img that logs each run (`PID VERB`) to `log`, sleeps first on `convert` when
/// `slow`, then runs the real qemu-img.
fn logging_qemu_img(dir: &Path, slow: bool) -> (PathBuf, PathBuf) {
    let (script, log) = (dir.join("qemu-img"), dir.join("runs.log"));
    let pause = if slow { "sleep 30" } else { "true" };
    let text = format!(
        "#!/bin/sh\necho \"$$ $1\" >> '{}'\nif [ \"$1\" = convert ]; then {pause}; fi\n\
         exec qemu-img \"$@\"\n",
        log.display()
    );
    std::fs::write(&script, text).expect("script");
    let mut perms = std::fs::metadata(&script).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).expect("chmod");
    (script, log)
}

fn runs(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split_once(' ').map_or("", |(_, verb)| verb).to_string())
        .collect()
}

async fn convert(
    settings: &ImageConversionSettings,
    source: &Path,
    claimed: &str,
) -> Result<Outcome, ConversionError> {
    let conversion = Conversion {
        settings,
        policy: &Policy::default(),
        cap: 1 << 40,
    };
    let dest = source.with_extension("out");
    let touch = || async { Ok(()) };
    let result = conversion
        .run(source, claimed, &dest, Duration::from_millis(200), touch)
        .await;
    let _ = std::fs::remove_file(dest);
    result
}

#[tokio::test]
async fn unsafe_input_is_refused_before_qemu_img_reads_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let (script, log) = logging_qemu_img(d, false);
    let settings = ImageConversionSettings {
        qemu_img: script.display().to_string(),
        ..ImageConversionSettings::defaults()
    };
    let base = image_file(d, &raw_data(), "raw");
    let (backed, data_file) = (d.join("backed.qcow2"), d.join("external.qcow2"));
    let (base_s, backed_s) = (base.display().to_string(), backed.display().to_string());
    qemu_img(&[
        "create", "-f", "qcow2", "-b", &base_s, "-F", "raw", &backed_s,
    ]);
    let external = format!("data_file={}", d.join("external.raw").display());
    let data_file_s = data_file.display().to_string();
    qemu_img(&["create", "-f", "qcow2", "-o", &external, &data_file_s, "1M"]);
    let qcow2 = image_file(d, &raw_data(), "qcow2");
    let cases: [(&Path, &str, &str); 5] = [
        (&backed, "qcow2", "Image has disallowed configuration"),
        (&data_file, "qcow2", "Image has disallowed configuration"),
        (&qcow2, "raw", "Image format mismatch"),
        (&base, "qcow2", "Image format mismatch"),
        (&qcow2, "vmdk", "Image format mismatch"),
    ];
    for (path, claimed, message) in cases {
        match convert(&settings, path, claimed).await {
            Err(ConversionError::Refused(got)) => assert_eq!(got, message, "{path:?}"),
            other => panic!("{path:?} claimed {claimed}: {other:?}"),
        }
        assert_eq!(runs(&log), Vec::<String>::new(), "qemu-img ran on {path:?}");
    }
    // Safe input: qemu-img info, then convert.
    let outcome = convert(&settings, &qcow2, "qcow2").await.expect("converts");
    assert_eq!(
        outcome,
        Outcome {
            disk_format: "raw".into(),
            converted: true,
            virtual_size: Some(2 << 20),
        }
    );
    assert_eq!(runs(&log), ["info", "convert"]);
}

#[tokio::test]
async fn qemu_img_runs_within_its_time_and_memory_bounds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let qcow2 = image_file(dir.path(), &raw_data(), "qcow2");
    // Time: a convert that would take 30 s is stopped after 1 s, and its process is gone.
    let (script, log) = logging_qemu_img(dir.path(), true);
    let slow = ImageConversionSettings {
        qemu_img: script.display().to_string(),
        timeout_seconds: 1,
        ..ImageConversionSettings::defaults()
    };
    let started = std::time::Instant::now();
    match convert(&slow, &qcow2, "qcow2").await {
        Err(ConversionError::Failed(why)) => assert_eq!(
            why,
            "qemu-img convert did not finish within 1 seconds; stopped"
        ),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    let text = std::fs::read_to_string(&log).expect("log");
    let pid = text
        .lines()
        .find_map(|l| l.strip_suffix(" convert"))
        .expect("convert ran");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        state.is_empty() || state.contains(") Z "),
        "qemu-img convert still runs: {state}"
    );
    // Memory: 16 MiB of address space is too little for qemu-img at all.
    let tight = ImageConversionSettings {
        memory_mb: 16,
        ..ImageConversionSettings::defaults()
    };
    match convert(&tight, &qcow2, "qcow2").await {
        Err(ConversionError::Failed(why)) => {
            assert!(why.starts_with("qemu-img info "), "{why}")
        }
        other => panic!("{other:?}"),
    }
    // The default bounds are enough for a real conversion.
    let outcome = convert(&ImageConversionSettings::defaults(), &qcow2, "qcow2").await;
    assert!(outcome.is_ok_and(|o| o.converted));
}

/// With the plugin, a web-download is staged first: its bytes still count once as imported
/// (what went into the store: the converted data).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converted_web_download_bytes_count_once() {
    let port = crate::support::web_source::start();
    let api = crate::support::process::ApiProcess::start(&[
        ("GLANCE__IMPORT__PLUGINS", "image_conversion".into()),
        ("GLANCE__IMAGE_CONVERSION__OUTPUT_FORMAT", "qcow2".into()),
        ("GLANCE__IMPORT_FILTERING__ALLOWED_PORTS", port.to_string()),
    ])
    .await;
    let created: Value = api
        .client
        .post(api.url("/v2/images"))
        .json(&json!({"name": "c", "disk_format": "raw", "container_format": "bare"}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let id = created["id"].as_str().expect("id");
    let uri = format!("http://127.0.0.1:{port}/data/{}", 1 << 20);
    let response = api
        .client
        .post(api.url(&format!("/v2/images/{id}/import")))
        .json(&json!({"method": {"name": "web-download", "uri": uri}}))
        .send()
        .await
        .expect("import");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let mut image = Value::Null;
    for _ in 0..200 {
        image = api
            .client
            .get(api.url(&format!("/v2/images/{id}")))
            .send()
            .await
            .expect("show")
            .json()
            .await
            .expect("json");
        if image["status"] == "active" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(image["disk_format"], "qcow2", "{image}");
    let scrape = api
        .client
        .get(api.url("/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    let counted = scrape
        .lines()
        .find_map(|l| l.strip_prefix("glance_image_bytes_imported_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .expect("glance_image_bytes_imported_total in the scrape");
    assert_eq!(Some(counted as u64), image["size"].as_u64(), "{scrape}");
}
