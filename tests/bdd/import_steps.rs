//! Steps of `features/image_import.feature`: stage, wait for an import, and a real web server
//! on loopback for web-download.

use std::sync::Arc;
use std::time::Duration;

use cucumber::{given, when};
use reqwest::Method;

use super::server::TestServer;
use super::{data_of, GlanceWorld};

/// The loopback file server of `web_source`: its base URL is `{source}`, its port
/// `{source_port}`.
#[given(regex = r"^a web server on loopback$")]
async fn web_source(world: &mut GlanceWorld) {
    let port = super::web_source::start();
    world
        .vars
        .insert("source".into(), format!("http://127.0.0.1:{port}"));
    world.vars.insert("source_port".into(), port.to_string());
}

/// A noauth server whose web-download filters allow only loopback on the web server's port;
/// with `import.plugins = ["image_conversion"]` to the format named.
#[given(
    regex = r"^a glance-api server that may web-download from it( and converts imports to ([a-z0-9]+))?$"
)]
async fn server_for_source(world: &mut GlanceWorld, converts: String, output_format: String) {
    let port: u16 = world
        .vars
        .get("source_port")
        .and_then(|p| p.parse().ok())
        .expect("a web server step first");
    let server = TestServer::start_with(|s| {
        s.import_filtering.allowed_hosts = vec!["127.0.0.1".into()];
        s.import_filtering.allowed_ports = vec![port];
        if !converts.is_empty() {
            s.import.plugins = vec!["image_conversion".into()];
            s.image_conversion.output_format = output_format;
        }
    })
    .await;
    world.vars.insert("base".to_string(), server.base.clone());
    world.server = Some(Arc::new(server));
}

#[when(regex = r"^I stage (\d+) bytes to the image$")]
async fn stage(world: &mut GlanceWorld, size: usize) {
    world.uploaded = data_of(size);
    let data = world.uploaded.clone();
    world
        .send(
            Method::PUT,
            "/v2/images/{id}/stage",
            Some((data, "application/octet-stream")),
            &[],
        )
        .await;
}

/// Poll the image until its import ended (no lock, not uploading or importing) and its task
/// too; the last answer is the image.
#[when(regex = r"^I wait for the import to end$")]
async fn wait_for_import(world: &mut GlanceWorld) {
    for _ in 0..200 {
        world
            .send(Method::GET, "/v2/images/{id}/tasks", None, &[])
            .await;
        let tasks = world.json();
        let ended = tasks["tasks"].as_array().is_some_and(|t| {
            t.iter()
                .all(|t| t["status"] == "success" || t["status"] == "failure")
        });
        world.send(Method::GET, "/v2/images/{id}", None, &[]).await;
        let image = world.json();
        let status = image["status"].as_str().unwrap_or_default().to_string();
        if ended
            && image.get("os_glance_import_task").is_none()
            && !["uploading", "importing"].contains(&status.as_str())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the import did not end: {}", world.json());
}

/// `GET /v2/info/import` answered these methods (comma-separated).
#[cucumber::then(regex = r#"^the import methods are "([^"]*)"$"#)]
fn import_methods(world: &mut GlanceWorld, expected: String) {
    let json = world.json();
    let methods: Vec<&str> = json["import-methods"]["value"]
        .as_array()
        .expect("a list of methods")
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    assert_eq!(methods.join(","), expected);
}

/// A field of the only task of `GET /v2/images/{id}/tasks`.
#[cucumber::then(regex = r#"^the image's task's "([a-z_]+)" (is|contains) "([^"]*)"$"#)]
fn task_field(world: &mut GlanceWorld, field: String, how: String, expected: String) {
    let json = world.json();
    let tasks = json["tasks"].as_array().expect("a list of tasks");
    assert_eq!(tasks.len(), 1, "{json}");
    let actual = tasks[0][field.as_str()].as_str().unwrap_or_default();
    if how == "is" {
        assert_eq!(actual, expected, "{json}");
    } else {
        assert!(actual.contains(&expected), "{json}");
    }
}
