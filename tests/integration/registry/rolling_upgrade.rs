//! docs/upgrade.md for real: one PostgreSQL database, a glance-registry on it, node A (real
//! glance-api) in registry-proxy mode and node B in direct-postgres mode on the same database
//! and store. Writes and reads alternate between the nodes; then A is restarted in
//! direct-postgres mode while B keeps serving; then the registry is stopped and both go on.

use std::net::TcpListener;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::postgres::fresh_database;
use crate::support::process::ApiProcess;
use crate::support::registry::{RegistryProcess, TOKEN};
use crate::support::server::{handoff, identity};

const PATCH_V21: &str = "application/openstack-images-v2.1-json-patch";

fn owner() -> HeaderMap {
    identity("project-a", "member,reader")
}

fn consumer() -> HeaderMap {
    identity("project-b", "member,reader")
}

fn admin() -> HeaderMap {
    identity("admin-project", "admin,member,reader")
}

/// The settings both modes share (docs/upgrade.md step 2): the store folder every node
/// mounts, trusted auth.
fn common_env(store: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        ("GLANCE__STORE__PATH", store.display().to_string()),
        ("GLANCE__AUTH__MODE", "trusted-auth".to_string()),
    ]
}

/// A node before the move: no database credentials, the registry's URL and token.
async fn start_proxy_node(
    listener: TcpListener,
    store: &std::path::Path,
    registry: &str,
) -> ApiProcess {
    let mut env = common_env(store);
    env.extend([
        ("GLANCE__DATA_ACCESS__MODE", "registry-proxy".to_string()),
        ("GLANCE__DATABASE__URL", String::new()),
        ("GLANCE__REGISTRY__URL", registry.to_string()),
        ("GLANCE__REGISTRY__TOKEN", TOKEN.to_string()),
    ]);
    ApiProcess::start_on(listener, &env).await
}

/// A node after the move: the registry's database URL, direct-postgres.
async fn start_direct_node(
    listener: TcpListener,
    store: &std::path::Path,
    database: &str,
) -> ApiProcess {
    let mut env = common_env(store);
    env.extend([
        ("GLANCE__DATA_ACCESS__MODE", "direct-postgres".to_string()),
        ("GLANCE__DATABASE__URL", database.to_string()),
    ]);
    ApiProcess::start_on(listener, &env).await
}

/// One request; the status, the `Server-Timing` header and the body.
async fn call(
    node: &ApiProcess,
    method: Method,
    path: &str,
    who: HeaderMap,
    body: Option<(&str, Vec<u8>)>,
) -> (StatusCode, String, Vec<u8>) {
    let mut request = node.client.request(method, node.url(path)).headers(who);
    if let Some((content_type, bytes)) = body {
        request = request.header("content-type", content_type).body(bytes);
    }
    let response = request.send().await.expect("the node answers");
    let status = response.status();
    let timing = response
        .headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = response.bytes().await.expect("body").to_vec();
    (status, timing, bytes)
}

/// A JSON answer with the expected status.
async fn json_call(
    node: &ApiProcess,
    method: Method,
    path: &str,
    who: HeaderMap,
    body: Option<Value>,
    expected: StatusCode,
) -> Value {
    let body = body.map(|b| ("application/json", b.to_string().into_bytes()));
    let (status, _, bytes) = call(node, method.clone(), path, who, body).await;
    let text = String::from_utf8_lossy(&bytes);
    assert_eq!(status, expected, "{method} {path} on {}: {text}", node.base);
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn show(node: &ApiProcess, id: &str, who: HeaderMap) -> Value {
    json_call(
        node,
        Method::GET,
        &format!("/v2/images/{id}"),
        who,
        None,
        StatusCode::OK,
    )
    .await
}

async fn patch(node: &ApiProcess, id: &str, doc: Value) -> Value {
    let path = format!("/v2/images/{id}");
    let body = Some((PATCH_V21, doc.to_string().into_bytes()));
    let (status, _, bytes) = call(node, Method::PATCH, &path, owner(), body).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    serde_json::from_slice(&bytes).expect("patched image")
}

async fn upload(node: &ApiProcess, id: &str, data: &[u8]) {
    let path = format!("/v2/images/{id}/file");
    let body = Some(("application/octet-stream", data.to_vec()));
    let (status, _, bytes) = call(node, Method::PUT, &path, owner(), body).await;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
}

async fn download(node: &ApiProcess, id: &str, who: HeaderMap) -> Vec<u8> {
    let path = format!("/v2/images/{id}/file");
    let (status, _, bytes) = call(node, Method::GET, &path, who, None).await;
    assert_eq!(status, StatusCode::OK, "download {id} from {}", node.base);
    bytes
}

/// Every image an admin sees, by name: the two nodes must agree on all of it.
async fn all_images(node: &ApiProcess) -> Value {
    let path = "/v2/images?sort_key=name&sort_dir=asc&limit=1000";
    json_call(node, Method::GET, path, admin(), None, StatusCode::OK).await["images"].clone()
}

async fn assert_nodes_agree(a: &ApiProcess, b: &ApiProcess) -> Value {
    let (seen_a, seen_b) = (all_images(a).await, all_images(b).await);
    assert_eq!(seen_a, seen_b, "the nodes disagree");
    seen_a
}

/// The mode a process reports in `glance_build_info`.
async fn build_mode(node: &ApiProcess) -> String {
    let (status, _, bytes) = call(node, Method::GET, "/metrics", HeaderMap::new(), None).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8_lossy(&bytes);
    let line = text
        .lines()
        .find(|l| l.starts_with("glance_build_info{"))
        .unwrap_or_else(|| panic!("no glance_build_info in\n{text}"));
    let mode = line
        .split("mode=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next());
    mode.unwrap_or_else(|| panic!("no mode in {line}"))
        .to_string()
}

/// `glance_http_requests_total{route="/rpc"}` on the registry, summed over statuses.
async fn registry_rpc_count(registry: &RegistryProcess) -> f64 {
    let text = reqwest::get(registry.url("/metrics"))
        .await
        .expect("registry metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|l| l.starts_with("glance_http_requests_total{") && l.contains("route=\"/rpc\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn data(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_proxy_to_direct_postgres_node_by_node() {
    let (database, _guard) = fresh_database().await;
    let mut registry = RegistryProcess::start_on_postgres(&database).await;
    let store = tempfile::tempdir().expect("store folder");
    let listener_a = handoff::bind("127.0.0.1");
    let port_a = handoff::port(&listener_a);
    let node_a = start_proxy_node(listener_a, store.path(), &registry.base).await;
    let node_b = start_direct_node(handoff::bind("127.0.0.1"), store.path(), &database).await;
    assert_eq!(build_mode(&node_a).await, "registry-proxy");
    assert_eq!(build_mode(&node_b).await, "direct-postgres");

    // Create on A (through the registry), read and list on B.
    let body = json!({"name": "web", "disk_format": "raw", "container_format": "bare",
                      "visibility": "shared", "tags": ["base"], "os_distro": "debian"});
    let (status, timing, bytes) = call(
        &node_a,
        Method::POST,
        "/v2/images",
        owner(),
        Some(("application/json", body.to_string().into_bytes())),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(timing.contains("registry;dur="), "A is proxied: {timing}");
    let web: Value = serde_json::from_slice(&bytes).expect("image");
    let web_id = web["id"].as_str().expect("id").to_string();
    assert_eq!(show(&node_b, &web_id, owner()).await, web);
    let (_, timing_b, _) = call(&node_b, Method::GET, "/v2/images", owner(), None).await;
    assert!(!timing_b.contains("registry"), "B is direct: {timing_b}");
    assert_nodes_agree(&node_a, &node_b).await;

    // Patch on B, read on A.
    let patched = patch(
        &node_b,
        &web_id,
        json!([{"op": "replace", "path": "/name", "value": "web-2"},
               {"op": "add", "path": "/hw_cpu", "value": "2"},
               {"op": "remove", "path": "/os_distro"}]),
    )
    .await;
    assert_eq!(show(&node_a, &web_id, owner()).await, patched);

    // Upload on A, download on B (the shared store and the location row).
    let web_data = data(1, 300_000);
    upload(&node_a, &web_id, &web_data).await;
    let active = show(&node_b, &web_id, owner()).await;
    assert_eq!(active["status"], "active");
    assert_eq!(active["size"], web_data.len());
    assert_eq!(download(&node_b, &web_id, owner()).await, web_data);

    // Members: added on A, accepted on B, seen by the consumer on A.
    let members = format!("/v2/images/{web_id}/members");
    let added = json_call(
        &node_a,
        Method::POST,
        &members,
        owner(),
        Some(json!({"member": "project-b"})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(added["status"], "pending");
    let listed = json_call(
        &node_b,
        Method::GET,
        &members,
        owner(),
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["members"], json!([added]));
    let accepted = json_call(
        &node_b,
        Method::PUT,
        &format!("{members}/project-b"),
        consumer(),
        Some(json!({"status": "accepted"})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(accepted["status"], "accepted");
    let consumer_list = json_call(
        &node_a,
        Method::GET,
        "/v2/images",
        consumer(),
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(consumer_list["images"][0]["id"], web_id.as_str());
    assert_eq!(download(&node_a, &web_id, consumer()).await, web_data);

    // Tags: added on B, removed on A.
    let tags = format!("/v2/images/{web_id}/tags");
    let (status, _, _) = call(&node_b, Method::PUT, &format!("{tags}/prod"), owner(), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = call(
        &node_a,
        Method::DELETE,
        &format!("{tags}/base"),
        owner(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        show(&node_a, &web_id, owner()).await["tags"],
        json!(["prod"])
    );
    assert_eq!(
        show(&node_b, &web_id, owner()).await["tags"],
        json!(["prod"])
    );

    // Delete on B → 404 on A, and the file is gone from the shared store.
    let scratch = json_call(
        &node_a,
        Method::POST,
        "/v2/images",
        owner(),
        Some(json!({"name": "scratch", "disk_format": "raw", "container_format": "bare"})),
        StatusCode::CREATED,
    )
    .await;
    let scratch_id = scratch["id"].as_str().expect("id").to_string();
    upload(&node_a, &scratch_id, &data(2, 1000)).await;
    let scratch_file = store.path().join(&scratch_id);
    assert!(
        scratch_file.is_file(),
        "A wrote the data to the shared store"
    );
    let (status, _, _) = call(
        &node_b,
        Method::DELETE,
        &format!("/v2/images/{scratch_id}"),
        owner(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = call(
        &node_a,
        Method::GET,
        &format!("/v2/images/{scratch_id}"),
        owner(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!scratch_file.exists(), "B removed the deleted image's file");
    let before_switch = assert_nodes_agree(&node_a, &node_b).await;

    // Step 3: restart A in direct-postgres mode on the same port; B serves meanwhile.
    drop(node_a);
    let (status, _, _) = call(&node_b, Method::GET, "/healthcheck", HeaderMap::new(), None).await;
    assert_eq!(status, StatusCode::OK);
    let during = json_call(
        &node_b,
        Method::POST,
        "/v2/images",
        owner(),
        Some(json!({"name": "during-switch", "disk_format": "raw", "container_format": "bare"})),
        StatusCode::CREATED,
    )
    .await;
    let during_id = during["id"].as_str().expect("id").to_string();
    let listener_a = handoff::rebind(&format!("127.0.0.1:{port_a}"));
    let node_a = start_direct_node(listener_a, store.path(), &database).await;
    assert_eq!(build_mode(&node_a).await, "direct-postgres");
    let (_, timing, _) = call(&node_a, Method::GET, "/v2/images", owner(), None).await;
    assert!(!timing.contains("registry"), "A is direct now: {timing}");

    // Everything written before the switch is there, the same on both nodes.
    let after_switch = assert_nodes_agree(&node_a, &node_b).await;
    let without_new: Vec<&Value> = after_switch
        .as_array()
        .expect("list")
        .iter()
        .filter(|image| image["id"] != during_id.as_str())
        .collect();
    let before: Vec<&Value> = before_switch.as_array().expect("list").iter().collect();
    assert_eq!(without_new, before);
    assert_eq!(show(&node_a, &during_id, owner()).await, during);
    assert_eq!(download(&node_a, &web_id, consumer()).await, web_data);
    let listed = json_call(
        &node_a,
        Method::GET,
        &members,
        owner(),
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["members"], json!([accepted]));

    // Step 4: no node calls the registry any more; stop it and both nodes go on.
    let rpc_before = registry_rpc_count(&registry).await;
    assert!(rpc_before > 0.0, "A used the registry before the switch");
    assert_nodes_agree(&node_a, &node_b).await;
    show(&node_a, &web_id, owner()).await;
    assert_eq!(registry_rpc_count(&registry).await, rpc_before);
    registry.kill();

    for node in [&node_a, &node_b] {
        let (status, _, body) =
            call(node, Method::GET, "/healthcheck", HeaderMap::new(), None).await;
        assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"OK"[..]));
    }
    let last_data = data(3, 50_000);
    upload(&node_a, &during_id, &last_data).await;
    assert_eq!(download(&node_b, &during_id, owner()).await, last_data);
    let renamed = patch(
        &node_b,
        &during_id,
        json!([{"op": "replace", "path": "/name", "value": "after"}]),
    )
    .await;
    assert_eq!(show(&node_a, &during_id, owner()).await, renamed);
    let (status, _, _) = call(
        &node_a,
        Method::DELETE,
        &format!("/v2/images/{web_id}"),
        owner(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = call(
        &node_b,
        Method::GET,
        &format!("/v2/images/{web_id}"),
        consumer(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let remaining = assert_nodes_agree(&node_a, &node_b).await;
    assert_eq!(remaining, json!([renamed]));
}
