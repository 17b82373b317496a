//! `auth.mode = "static-tokens"` over real HTTP: identity from `X-Auth-Token`, 401 for
//! missing or unknown tokens, and reloading the tokens file on SIGHUP in the real binary.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::json;

use super::{create_image, expect_error, expect_json, get, ids};
use crate::support::process::ApiProcess;
use crate::support::server::handoff;
use crate::support::server::TestServer;
use glance_rs::config::AuthMode;

const TOKENS: &str = r#"
[[token]]
token = "alice:project-a"
user = "alice"
project = "project-a"
roles = ["member", "reader"]

[[token]]
token = "bob-token"
user = "bob"
project = "project-b"
roles = ["Member", "reader"]

[[token]]
token = "root-token"
user = "root"
project = "ops"
roles = ["admin", "member", "reader"]
"#;

const UNAUTHORIZED: &str = "This server could not verify that you are authorized to access the \
                            document you requested.";

fn token(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-auth-token", value.parse().expect("a valid header value"));
    headers
}

async fn static_tokens_server(dir: &Path) -> TestServer {
    let file = dir.join("tokens.toml");
    std::fs::write(&file, TOKENS).expect("write tokens");
    TestServer::start_with(|s| {
        s.auth.mode = AuthMode::StaticTokens;
        s.auth.tokens_file = file.display().to_string();
    })
    .await
}

#[tokio::test]
async fn missing_and_unknown_tokens_are_401() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = static_tokens_server(dir.path()).await;
    for headers in [
        HeaderMap::new(),
        token("nobody"),
        token("ALICE:PROJECT-A"),
        token("alice:project-b"),
        // trusted-auth headers mean nothing in this mode
        crate::support::server::identity("project-a", "admin"),
    ] {
        let response = get(&server, &headers, "/v2/images").await;
        let message = expect_error(response, StatusCode::UNAUTHORIZED).await;
        assert!(message.starts_with(UNAUTHORIZED), "{message}");
    }
    // Writes are refused before any body is looked at.
    let response = server
        .client
        .post(server.url("/v2/images"))
        .headers(token("nobody"))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Version discovery and the health check stay open, as in Glance's paste pipeline.
    let versions = server
        .client
        .get(server.url("/versions"))
        .send()
        .await
        .expect("versions");
    assert_eq!(versions.status(), StatusCode::OK);
    let health = server
        .client
        .get(server.url("/healthcheck"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn tokens_choose_user_project_and_roles() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = static_tokens_server(dir.path()).await;
    let alice = token("alice:project-a");
    let image = create_image(&server, &alice, json!({"name": "alice-img"})).await;
    assert_eq!(image["owner"], "project-a");
    let id = image["id"].as_str().expect("id").to_string();

    // python-glanceclient percent-encodes the token: `:` → `%3A`.
    let encoded = token("alice%3Aproject-a");
    let shown = expect_json(
        get(&server, &encoded, &format!("/v2/images/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["id"], id.as_str());

    // Another project's member does not see a private image; an admin does.
    let bob = token("bob-token");
    let response = get(&server, &bob, &format!("/v2/images/{id}")).await;
    expect_error(response, StatusCode::NOT_FOUND).await;
    let listed = expect_json(get(&server, &bob, "/v2/images").await, StatusCode::OK).await;
    assert!(ids(&listed).is_empty(), "{listed}");
    let root = token("root-token");
    let listed = expect_json(get(&server, &root, "/v2/images").await, StatusCode::OK).await;
    assert_eq!(ids(&listed), std::slice::from_ref(&id));

    // Only an admin may publish.
    let response = server
        .client
        .post(server.url("/v2/images"))
        .headers(bob.clone())
        .header("accept", "application/json")
        .json(&json!({"name": "pub", "visibility": "public"}))
        .send()
        .await
        .expect("request");
    expect_error(response, StatusCode::FORBIDDEN).await;
    let public = create_image(
        &server,
        &root,
        json!({"name": "pub", "visibility": "public"}),
    )
    .await;
    assert_eq!(public["owner"], "ops");
}

fn write_tokens(path: &Path, entries: &[(&str, &str)]) {
    let text: String = entries
        .iter()
        .map(|(token, project)| {
            format!(
                "[[token]]\ntoken = \"{token}\"\nuser = \"user-{project}\"\nproject = \"{project}\"\nroles = [\"member\"]\n"
            )
        })
        .collect();
    // Write then rename, so the server never reads a half-written file.
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text).expect("write tokens");
    std::fs::rename(&partial, path).expect("replace tokens");
}

fn hangup(pid: u32) {
    let status = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -HUP {pid}");
}

async fn status_with(api: &ApiProcess, value: &str) -> StatusCode {
    api.client
        .get(api.url("/v2/images"))
        .header("x-auth-token", value)
        .send()
        .await
        .expect("request")
        .status()
}

/// Poll until `value` gets `want` (a reload is asynchronous to the signal).
async fn wait_for_status(api: &ApiProcess, value: &str, want: StatusCode) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = status_with(api, value).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "token {value:?} still gets {got}, want {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn sighup_reloads_the_tokens_file_and_a_bad_file_keeps_the_last_good_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("tokens.toml");
    write_tokens(&file, &[("first-token", "project-a")]);
    let api = ApiProcess::start(&[
        ("GLANCE__AUTH__MODE", "static-tokens".to_string()),
        ("GLANCE__AUTH__TOKENS_FILE", file.display().to_string()),
    ])
    .await;
    assert_eq!(status_with(&api, "first-token").await, StatusCode::OK);
    assert_eq!(
        status_with(&api, "second-token").await,
        StatusCode::UNAUTHORIZED
    );

    // A new file replaces the table: the new token works, the removed one stops working.
    write_tokens(&file, &[("second-token", "project-b")]);
    hangup(api.pid());
    wait_for_status(&api, "second-token", StatusCode::OK).await;
    assert_eq!(
        status_with(&api, "first-token").await,
        StatusCode::UNAUTHORIZED
    );

    // A bad file is refused; the server keeps serving the last good table.
    std::fs::write(&file, "[[token]]\ntoken = \"third-token\"\n").expect("write bad file");
    hangup(api.pid());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(status_with(&api, "second-token").await, StatusCode::OK);
    assert_eq!(
        status_with(&api, "third-token").await,
        StatusCode::UNAUTHORIZED
    );

    // A missing file too; and the process is still alive to take the next good one.
    std::fs::remove_file(&file).expect("remove");
    hangup(api.pid());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(status_with(&api, "second-token").await, StatusCode::OK);
    write_tokens(&file, &[("fourth-token", "project-d")]);
    hangup(api.pid());
    wait_for_status(&api, "fourth-token", StatusCode::OK).await;
    assert_eq!(
        status_with(&api, "second-token").await,
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn a_bad_tokens_file_stops_the_start_without_showing_tokens() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("tokens.toml");
    std::fs::write(
        &file,
        "[[token]]\ntoken = \"leak-me-not\"\nproject = \"p\"\n",
    )
    .expect("write");
    let listener = handoff::bind("127.0.0.1");
    let output = handoff::hand_over(
        &mut Command::new(env!("CARGO_BIN_EXE_glance-api")),
        &listener,
    )
    .current_dir(dir.path())
    .env("RUST_LOG", "info")
    .env(
        "GLANCE__DATABASE__URL",
        format!("sqlite:///{}", dir.path().join("glance.db").display()),
    )
    .env("GLANCE__STORE__PATH", dir.path().join("images"))
    .env("GLANCE__AUTH__MODE", "static-tokens")
    .env("GLANCE__AUTH__TOKENS_FILE", &file)
    .stdin(Stdio::null())
    .output()
    .expect("glance-api runs");
    assert!(!output.status.success(), "started with a bad tokens file");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("token #1: user is missing"), "{stderr}");
    assert!(
        !stderr.contains("leak-me-not"),
        "token in the log: {stderr}"
    );
}
