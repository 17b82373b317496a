//! Runs the Gherkin specifications in `features/` against a real glance-api over HTTP.
//! Each scenario gets its own server on `127.0.0.1:0` with a fresh database and store.

#[path = "bdd/import_steps.rs"]
mod import_steps;
#[cfg(feature = "direct-postgres")]
#[allow(dead_code)]
#[path = "integration/support/postgres.rs"]
mod postgres;
#[path = "integration/support/s3.rs"]
#[allow(dead_code)]
mod s3;
#[path = "integration/support/server.rs"]
#[allow(dead_code)]
mod server;
#[path = "bdd/store_steps.rs"]
mod store_steps;
#[path = "integration/support/web_source.rs"]
mod web_source;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use cucumber::gherkin::Step;
use cucumber::{given, then, when, World};
use glance_rs::config::AuthMode;
use reqwest::Method;
use serde_json::Value;

use server::TestServer;

#[derive(Default, World)]
struct GlanceWorld {
    server: Option<Arc<TestServer>>,
    /// Identity headers for the next requests: (project, roles); None in noauth.
    identity: Option<(String, String)>,
    /// keystone mode: the `X-Auth-Token` for the next requests.
    token: Option<String>,
    /// Named values (`{id}`, `{other}`), substituted in paths and bodies.
    vars: HashMap<String, String>,
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
    uploaded: Vec<u8>,
}

impl fmt::Debug for GlanceWorld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GlanceWorld")
            .field("status", &self.status)
            .field("vars", &self.vars)
            .finish()
    }
}

impl GlanceWorld {
    fn server(&self) -> &TestServer {
        self.server
            .as_deref()
            .expect("a scenario starts with a server step")
    }

    fn expand(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (name, value) in &self.vars {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<(Vec<u8>, &str)>,
        extra: &[(&str, &str)],
    ) {
        let url = self.server().url(&self.expand(path));
        let mut request = self
            .server()
            .client
            .request(method, url)
            .header("accept", "application/json");
        if let Some((project, roles)) = &self.identity {
            request = request.headers(server::identity(project, roles));
        }
        if let Some(token) = &self.token {
            request = request.header("x-auth-token", token);
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        if let Some((bytes, content_type)) = body {
            request = request.header("content-type", content_type).body(bytes);
        }
        let response = request.send().await.expect("the server answers");
        self.status = response.status().as_u16();
        self.headers = response.headers().clone();
        self.body = response.bytes().await.expect("a body").to_vec();
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

fn data_of(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i % 251) as u8).collect()
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[given(regex = r"^a glance-api server in (noauth|trusted-auth) mode$")]
async fn start_server(world: &mut GlanceWorld, mode: String) {
    let server = if mode == "noauth" {
        TestServer::start().await
    } else {
        TestServer::start_with(|s| s.auth.mode = AuthMode::TrustedAuth).await
    };
    world.vars.insert("base".to_string(), server.base.clone());
    world.server = Some(Arc::new(server));
}

/// The real Keystone of tests/keystone/ (scripts/test.sh starts it). Scenarios tagged
/// `@keystone` are left out only when `GLANCE_TEST_KEYSTONE=skip` says so; without a
/// Keystone and without that, the run fails.
fn keystone_url() -> Option<String> {
    std::env::var("GLANCE_TEST_KEYSTONE_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

#[given(regex = r"^a glance-api server in keystone mode$")]
async fn start_keystone_server(world: &mut GlanceWorld) {
    let url = keystone_url().expect("GLANCE_TEST_KEYSTONE_URL");
    let auth_url = format!("{url}/v3");
    let server = TestServer::start_with(|s| {
        s.auth.mode = AuthMode::Keystone;
        let ks = &mut s.keystone_authtoken;
        ks.auth_url = auth_url;
        ks.username = "glance".into();
        ks.password = "glance".into();
        ks.project_name = "service".into();
    })
    .await;
    world.vars.insert("base".to_string(), server.base.clone());
    world.vars.insert("keystone".to_string(), url);
    world.server = Some(Arc::new(server));
}

#[given(regex = r#"^I am Keystone user "([a-z_]+)" in project "([a-z_]+)"$"#)]
async fn keystone_user(world: &mut GlanceWorld, user: String, project: String) {
    let url = world.vars.get("keystone").cloned().expect("keystone mode");
    let body = serde_json::json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": "Default"}, "password": user}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}},
    }});
    let response = reqwest::Client::new()
        .post(format!("{url}/v3/auth/tokens?nocatalog"))
        .json(&body)
        .send()
        .await
        .expect("Keystone answers");
    assert_eq!(response.status().as_u16(), 201, "token for {user}");
    let token = response
        .headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .expect("X-Subject-Token")
        .to_string();
    world.token = Some(token);
}

#[given(regex = r#"^I send the token "([^"]*)"$"#)]
fn raw_token(world: &mut GlanceWorld, token: String) {
    world.token = Some(token);
}

#[then(regex = r"^the response asks for a Keystone token$")]
fn asks_for_keystone_token(world: &mut GlanceWorld) {
    let expected = world.expand("Keystone uri=\"{keystone}\"");
    let actual = world
        .headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok());
    assert_eq!(actual, Some(expected.as_str()));
}

#[given(regex = r#"^I am an? (member|admin) of project "([^"]+)"$"#)]
fn act_as(world: &mut GlanceWorld, role: String, project: String) {
    let roles = if role == "admin" {
        "admin,member,reader"
    } else {
        "member,reader"
    };
    world.identity = Some((project, roles.to_string()));
}

#[when(regex = r"^I create an image with:$")]
async fn create_image(world: &mut GlanceWorld, step: &Step) {
    let body = world.expand(step.docstring.as_deref().unwrap_or("{}"));
    world
        .send(
            Method::POST,
            "/v2/images",
            Some((body.into_bytes(), "application/json")),
            &[],
        )
        .await;
    assert_eq!(
        world.status,
        201,
        "create failed: {}",
        String::from_utf8_lossy(&world.body)
    );
    let id = value_text(&world.json()["id"]);
    world.vars.insert("id".to_string(), id);
}

#[when(regex = r#"^I remember the image id as "([a-z_]+)"$"#)]
fn remember_id(world: &mut GlanceWorld, name: String) {
    let id = world.vars.get("id").cloned().expect("an image was created");
    world.vars.insert(name, id);
}

/// `PUT /v2/images/{id}/file` with `data`.
async fn put_file(world: &mut GlanceWorld, data: Vec<u8>) {
    world
        .send(
            Method::PUT,
            "/v2/images/{id}/file",
            Some((data, "application/octet-stream")),
            &[],
        )
        .await;
}

#[when(regex = r"^I upload (\d+) bytes to the image$")]
async fn upload(world: &mut GlanceWorld, size: usize) {
    world.uploaded = data_of(size);
    let data = world.uploaded.clone();
    put_file(world, data).await;
}

/// Upload the file `name` that `qemu-img ARGS` writes in a fresh folder (next to a raw
/// `base.raw` for backing files); qemu-utils comes from scripts/ensure-deps.sh.
#[when(regex = r#"^I upload "([^"]+)" made by "qemu-img ([^"]+)"$"#)]
async fn upload_qemu_image(world: &mut GlanceWorld, name: String, args: String) {
    let dir = tempfile::tempdir().expect("temp dir");
    for args in ["create -q -f raw base.raw 1M", args.as_str()] {
        let out = std::process::Command::new("qemu-img")
            .args(args.split_whitespace())
            .current_dir(dir.path())
            .output()
            .expect("qemu-img runs (scripts/ensure-deps.sh installs qemu-utils)");
        assert!(out.status.success(), "qemu-img {args}: {out:?}");
    }
    let data = std::fs::read(dir.path().join(&name)).expect("qemu-img wrote the image");
    put_file(world, data).await;
}

#[then(regex = r#"^the response body contains "([^"]+)"$"#)]
fn body_contains(world: &mut GlanceWorld, text: String) {
    let body = String::from_utf8_lossy(&world.body);
    assert!(body.contains(&text), "body: {body}");
}

#[when(regex = r#"^I send (GET|DELETE|POST|PUT) "([^"]+)"$"#)]
async fn send_plain(world: &mut GlanceWorld, method: String, path: String) {
    let method = Method::from_bytes(method.as_bytes()).expect("a method");
    world.send(method, &path, None, &[]).await;
}

#[when(regex = r#"^I send GET "([^"]+)" with header "([^"]+)" = "([^"]+)"$"#)]
async fn send_with_header(world: &mut GlanceWorld, path: String, name: String, value: String) {
    world
        .send(Method::GET, &path, None, &[(name.as_str(), value.as_str())])
        .await;
}

#[when(regex = r#"^I send (PATCH|POST|PUT) "([^"]+)" with:$"#)]
async fn send_body(world: &mut GlanceWorld, method: String, path: String, step: &Step) {
    let method = Method::from_bytes(method.as_bytes()).expect("a method");
    let content_type = if method == Method::PATCH {
        "application/openstack-images-v2.1-json-patch"
    } else {
        "application/json"
    };
    let body = world.expand(step.docstring.as_deref().unwrap_or(""));
    world
        .send(method, &path, Some((body.into_bytes(), content_type)), &[])
        .await;
}

#[then(regex = r"^the response status is (\d+)$")]
fn status_is(world: &mut GlanceWorld, status: u16) {
    assert_eq!(
        world.status,
        status,
        "body: {}",
        String::from_utf8_lossy(&world.body)
    );
}

#[then(regex = r#"^the response header "([^"]+)" is "([^"]*)"$"#)]
fn header_is(world: &mut GlanceWorld, name: String, value: String) {
    let actual = world
        .headers
        .get(&name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("<absent>");
    assert_eq!(actual, world.expand(&value), "header {name}");
}

/// A string field equal to the text, or a number or boolean written as it: never a null, an
/// absent key or a string that only looks like the number ("10" is not 10).
#[then(regex = r#"^the image's "([a-z_]+)" is (")?([^"]*)"?$"#)]
fn field_is(world: &mut GlanceWorld, field: String, quoted: String, value: String) {
    let json = world.json();
    let actual = json.get(field.as_str());
    let matches = match (actual, quoted.is_empty()) {
        (Some(Value::String(text)), false) => *text == world.expand(&value),
        (Some(Value::Null), true) => value == "null",
        (Some(number @ (Value::Number(_) | Value::Bool(_))), true) => {
            serde_json::from_str::<Value>(&value).is_ok_and(|wanted| wanted == *number)
        }
        _ => false,
    };
    let wanted = if quoted.is_empty() {
        value
    } else {
        format!("the string {:?}", world.expand(&value))
    };
    assert!(
        matches,
        "field {field}: wanted {wanted}, got {}",
        actual.map_or("no such key".to_string(), Value::to_string)
    );
}

#[then(regex = r#"^the image has no "([a-z_]+)"$"#)]
fn field_absent(world: &mut GlanceWorld, field: String) {
    let json = world.json();
    assert!(json.get(field.as_str()).is_none(), "{field} is {json}");
}

#[then(regex = r#"^the image's tags are "([^"]*)"$"#)]
fn tags_are(world: &mut GlanceWorld, tags: String) {
    let mut actual: Vec<String> = world.json()["tags"]
        .as_array()
        .expect("a tags array")
        .iter()
        .map(value_text)
        .collect();
    actual.sort();
    let mut expected: Vec<String> = names(&tags);
    expected.sort();
    assert_eq!(actual, expected);
}

fn names(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect()
}

#[then(regex = r#"^the images listed are "([^"]*)"$"#)]
fn listed_names(world: &mut GlanceWorld, expected: String) {
    let json = world.json();
    let listed: Vec<String> = json["images"]
        .as_array()
        .expect("an images array")
        .iter()
        .map(|image| value_text(&image["name"]))
        .collect();
    assert_eq!(listed, names(&expected));
}

#[then(regex = r#"^the next link is "([^"]+)" followed by the last image listed$"#)]
fn next_link(world: &mut GlanceWorld, prefix: String) {
    let json = world.json();
    let last = json["images"]
        .as_array()
        .and_then(|images| images.last())
        .map(|image| value_text(&image["id"]))
        .expect("a non-empty page");
    assert_eq!(value_text(&json["next"]), format!("{prefix}&marker={last}"));
}

#[then(regex = r"^there is no next link$")]
fn no_next_link(world: &mut GlanceWorld) {
    let json = world.json();
    assert!(json.get("next").is_none(), "{json}");
}

#[when(regex = r"^I follow the next link$")]
async fn follow_next(world: &mut GlanceWorld) {
    let next = value_text(&world.json()["next"]);
    assert!(next.starts_with("/v2/images?"), "next link {next}");
    world.send(Method::GET, &next, None, &[]).await;
}

#[then(regex = r"^the body is the uploaded data( from byte \d+ to \d+)?$")]
fn body_is_upload(world: &mut GlanceWorld, range: String) {
    let expected = if range.is_empty() {
        world.uploaded.clone()
    } else {
        let numbers: Vec<usize> = range
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        world.uploaded[numbers[0]..=numbers[1]].to_vec()
    };
    assert!(
        world.body == expected,
        "downloaded {} bytes, expected {}",
        world.body.len(),
        expected.len()
    );
}

#[then(regex = r"^the body is empty$")]
fn body_is_empty(world: &mut GlanceWorld) {
    assert!(
        world.body.is_empty(),
        "body: {}",
        String::from_utf8_lossy(&world.body)
    );
}

/// Whether scenarios tagged `tag` run: with their service (`present`), or left out only when
/// `GLANCE_TEST_<VAR>=skip` says so on purpose; without either, the run fails.
fn service_runs(tag: &str, present: bool, var: &str, how: &str) -> bool {
    if present {
        return true;
    }
    if std::env::var(var).as_deref() != Ok("skip") {
        eprintln!("{how}, or set {var}=skip to leave the @{tag} scenarios out");
        std::process::exit(1);
    }
    eprintln!("scenarios tagged @{tag} left out on purpose ({var}=skip)");
    false
}

#[tokio::main]
async fn main() {
    let keystone = service_runs(
        "keystone",
        keystone_url().is_some(),
        "GLANCE_TEST_KEYSTONE",
        "GLANCE_TEST_KEYSTONE_URL is not set: run scripts/test.sh (it starts a real Keystone)",
    );
    let s3 = service_runs(
        "s3",
        std::env::var("GLANCE_TEST_S3_ENDPOINT").is_ok_and(|e| !e.is_empty()),
        "GLANCE_TEST_S3",
        "GLANCE_TEST_S3_ENDPOINT is not set: run scripts/test.sh (it starts a real Garage), or \
         `source tests/s3/lib.sh; s3_up` first",
    );
    GlanceWorld::cucumber()
        .max_concurrent_scenarios(4)
        .fail_on_skipped()
        // A scenario's server stops with it: its database pool must not outlive it (33
        // scenarios of pools would exhaust a shared PostgreSQL's connections).
        .after(|_, _, _, _, world| {
            Box::pin(async move {
                if let Some(server) = world.and_then(|w| w.server.take()) {
                    server.stop().await;
                }
            })
        })
        .filter_run_and_exit(
            concat!(env!("CARGO_MANIFEST_DIR"), "/features"),
            move |feature, _, scenario| {
                let tagged =
                    |tag: &str| feature.tags.iter().chain(&scenario.tags).any(|t| t == tag);
                (keystone || !tagged("keystone")) && (s3 || !tagged("s3"))
            },
        )
        .await;
}
