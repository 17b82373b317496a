//! The registry proxy is transparent: one scenario of 100+ requests, run against fresh
//! deployments — a direct-sqlite node, and registry-proxy nodes in front of a real
//! glance-registry (on SQLite and on PostgreSQL) — gets the same statuses, headers and bodies.
//! Only what must differ between runs is normalized (`normalize`).

use std::collections::BTreeMap;

use glance_rs::config::{AuthMode, Settings};
use glance_rs::data_access::Mode;
use serde_json::{json, Value};

use crate::support::registry::RegistryProcess;
use crate::support::server::{identity, TestServer};

const PATCH_V20: &str = "application/openstack-images-v2.0-json-patch";
const PATCH_V21: &str = "application/openstack-images-v2.1-json-patch";

/// Who sends a request (trusted-auth identity headers), or nobody.
#[derive(Clone, Copy)]
enum Who {
    Admin,
    /// The owner of most images.
    A,
    /// The project images are shared with.
    B,
    Anonymous,
}

/// One request of the scenario. `<imgN>` in the path or body stands for the N-th image created
/// in this run.
struct Req {
    method: &'static str,
    path: String,
    who: Who,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Req {
    fn new(method: &'static str, path: impl Into<String>, who: Who) -> Self {
        Self {
            method,
            path: path.into(),
            who,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    fn json(self, body: Value) -> Self {
        self.raw("application/json", body.to_string())
    }

    fn raw(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.headers
            .push(("content-type", content_type.to_string()));
        self.body = body.into();
        self
    }

    fn patch(path: impl Into<String>, media_type: &str, doc: Value) -> Self {
        Self::new("PATCH", path, Who::A).raw(media_type, doc.to_string())
    }
}

/// What one response looked like, after normalization.
#[derive(Debug, PartialEq)]
struct Exchange {
    status: u16,
    headers: BTreeMap<String, Vec<String>>,
    body: String,
}

/// 64 KiB of printable bytes, the same in every run.
fn image_data() -> Vec<u8> {
    (0..65_536u32).map(|i| b'!' + (i * 7 % 90) as u8).collect()
}

fn image(n: usize) -> String {
    format!("/v2/images/<img{n}>")
}

/// The scenario: every route and the errors of each, in the order a client would meet them.
fn scenario() -> Vec<Req> {
    use Who::*;
    let mut s = vec![
        // Versions, schemas, error negotiation on unknown paths.
        Req::new("GET", "/versions", Anonymous),
        Req::new("GET", "/", Anonymous),
        Req::new("GET", "/v2/schemas/image", A),
        Req::new("GET", "/v2/schemas/images", A),
        Req::new("GET", "/v2/schemas/member", A),
        Req::new("GET", "/v2/schemas/members", A),
        Req::new("GET", "/v2/info/import", A),
        Req::new("GET", "/v2/nowhere", A).header("accept", "*/*"),
        Req::new("GET", "/v2/nowhere", A).header("accept", "application/json"),
        Req::new("DELETE", "/v2/images", A),
        Req::new("GET", "/v2/images", Anonymous),
    ];

    // Create: images 0..=5 owned by A, one with a chosen id, errors.
    let creates = [
        json!({"name": "alpha", "disk_format": "raw", "container_format": "bare",
               "tags": ["one", "two"], "os_distro": "debian", "hw_cpu": "4",
               "min_disk": 1, "min_ram": 512}),
        json!({"name": "beta", "disk_format": "qcow2", "container_format": "bare",
               "visibility": "shared", "os_distro": "ubuntu"}),
        json!({"name": "gamma", "visibility": "public", "protected": true,
               "tags": ["one"], "disk_format": "iso", "container_format": "bare"}),
        json!({"name": "delta", "visibility": "community", "custom": "ünïcode ✓"}),
        json!({"name": "epsilon"}),
        json!({"id": "6c8a3f5e-2b1d-4e7f-9a0c-1d2e3f4a5b6c", "name": "zeta"}),
    ];
    for body in creates {
        s.push(Req::new("POST", "/v2/images", A).json(body));
    }
    s.push(Req::new("POST", "/v2/images", B).json(json!({"name": "b-own"})));
    s.push(Req::new("POST", "/v2/images", A).json(json!({"name": "x", "status": "active"})));
    s.push(Req::new("POST", "/v2/images", A).json(json!({"visibility": "everyone"})));
    s.push(Req::new("POST", "/v2/images", A).json(json!({"disk_format": "floppy"})));
    s.push(Req::new("POST", "/v2/images", A).json(json!({"id": "not-a-uuid"})));
    s.push(
        Req::new("POST", "/v2/images", A)
            .json(json!({"id": "6c8a3f5e-2b1d-4e7f-9a0c-1d2e3f4a5b6c"})),
    );
    s.push(Req::new("POST", "/v2/images", A).raw("application/json", "{not json"));
    s.push(Req::new("POST", "/v2/images", A).raw("text/plain", "{}"));
    s.push(Req::new("POST", "/v2/images", A).json(json!({"tags": ["a,b"]})));
    s.push(Req::new("POST", "/v2/images", A).json(json!({"name": "x", "locations": []})));
    s.push(Req::new("POST", "/v2/images", A).json(json!({"visibility": "public"})));

    // Show.
    for n in 0..7 {
        s.push(Req::new("GET", image(n), A));
    }
    s.push(Req::new("GET", image(6), B));
    s.push(Req::new("GET", image(0), B));
    s.push(Req::new("GET", image(2), B));
    s.push(Req::new(
        "GET",
        "/v2/images/00000000-0000-0000-0000-000000000000",
        A,
    ));
    s.push(Req::new("GET", "/v2/images/not-a-uuid", A).header("accept", "*/*"));

    // List: filters, sorts, paging; ties in created_at are avoided (ids differ between runs).
    let lists = [
        "?sort_key=name&sort_dir=asc",
        "?sort=name:desc",
        "?sort_key=name&sort_dir=asc&limit=2",
        "?sort_key=name&sort_dir=asc&limit=2&marker=<img1>",
        "?sort_key=name&sort_dir=asc&limit=2&marker=<img3>",
        "?sort=name:asc&limit=1&marker=<img5>",
        "?name=alpha",
        "?visibility=shared",
        "?visibility=public",
        "?visibility=community",
        "?visibility=all&sort_key=name",
        "?tag=one&sort_key=name",
        "?tag=one&tag=two",
        "?os_distro=ubuntu",
        "?status=queued&sort_key=name&sort_dir=asc",
        "?disk_format=qcow2",
        "?protected=true",
        "?name=in:alpha,beta&sort_key=name",
        "?min_ram=512",
        "?size_max=10",
        "?limit=-1",
        "?limit=abc",
        "?sort_key=nonsense",
        "?sort_dir=sideways",
        "?sort=name:up",
        "?marker=00000000-0000-0000-0000-000000000000",
        "?visibility=bogus",
        "?protected=maybe",
        "?created_at=gt:not-a-date",
        "?size_min=-5",
    ];
    for query in lists {
        s.push(Req::new("GET", format!("/v2/images{query}"), A));
    }
    s.push(Req::new("GET", "/v2/images?sort_key=name", B));
    s.push(Req::new(
        "GET",
        "/v2/images?sort_key=name&member_status=all",
        B,
    ));
    s.push(Req::new("GET", "/v2/images?sort_key=name", Admin));

    // PATCH: both media types, every op, and 403/409/415/400.
    let p0 = image(0);
    s.push(Req::patch(
        &p0,
        PATCH_V21,
        json!([
            {"op": "replace", "path": "/name", "value": "alpha-2"},
            {"op": "add", "path": "/extra", "value": "x"},
            {"op": "remove", "path": "/hw_cpu"},
            {"op": "replace", "path": "/min_ram", "value": 1024},
            {"op": "add", "path": "/tags/-", "value": "three"},
        ]),
    ));
    s.push(Req::patch(
        &p0,
        PATCH_V20,
        json!([
            {"replace": "/os_distro", "value": "fedora"},
            {"add": "/v20", "value": "yes"},
            {"remove": "/extra"},
        ]),
    ));
    s.push(Req::patch(
        &p0,
        PATCH_V21,
        json!([{"op": "test", "path": "/name", "value": "x"}]),
    ));
    s.push(Req::patch(
        &p0,
        PATCH_V21,
        json!([{"op": "remove", "path": "/missing"}]),
    ));
    s.push(Req::patch(
        &p0,
        PATCH_V21,
        json!([{"op": "replace", "path": "/missing", "value": "1"}]),
    ));
    s.push(Req::patch(
        &p0,
        PATCH_V20,
        json!([{"add": "/v20", "value": "again"}]),
    ));
    s.push(Req::patch(
        &p0,
        PATCH_V21,
        json!([{"op": "replace", "path": "/status", "value": "active"}]),
    ));
    s.push(Req::patch(
        &p0,
        PATCH_V21,
        json!([{"op": "remove", "path": "/name"}]),
    ));
    s.push(Req::patch(
        &p0,
        PATCH_V21,
        json!([{"op": "replace", "path": "/visibility", "value": "public"}]),
    ));
    s.push(Req::patch(
        &p0,
        PATCH_V21,
        json!([{"op": "replace", "path": "/locations", "value": []}]),
    ));
    s.push(Req::patch(
        &p0,
        PATCH_V21,
        json!([{"op": "replace", "path": "/min_ram", "value": "lots"}]),
    ));
    s.push(Req::patch(&p0, PATCH_V21, json!({"op": "replace"})));
    s.push(Req::patch(
        &p0,
        PATCH_V21,
        json!([{"op": "explode", "path": "/name"}]),
    ));
    s.push(Req::new("PATCH", &p0, A).raw("application/json", "[]"));
    s.push(Req::new("PATCH", &p0, A).raw(PATCH_V21, "[{"));
    s.push(Req::new("PATCH", &p0, B).raw(PATCH_V21, "[]"));
    s.push(Req::new("PATCH", image(6), A).raw(PATCH_V21, "[]"));
    s.push(Req::new("GET", &p0, A));

    // Upload, download (whole, ranges, 416), data errors.
    let data = image_data();
    let octets = "application/octet-stream";
    s.push(Req::new("PUT", format!("{p0}/file"), A).raw(octets, data.clone()));
    s.push(Req::new("PUT", format!("{p0}/file"), A).raw(octets, data.clone()));
    s.push(Req::new("PUT", format!("{}/file", image(1)), A).raw(octets, data[..1000].to_vec()));
    s.push(Req::new("PUT", format!("{}/file", image(2)), B).raw(octets, "x"));
    s.push(Req::new("PUT", format!("{}/file", image(3)), A).raw("text/plain", "x"));
    s.push(Req::new("GET", format!("{p0}/file"), A));
    s.push(Req::new("GET", format!("{p0}/file"), A).header("range", "bytes=0-99"));
    s.push(Req::new("GET", format!("{p0}/file"), A).header("range", "bytes=-10"));
    s.push(Req::new("GET", format!("{p0}/file"), A).header("range", "bytes=65000-"));
    s.push(Req::new("GET", format!("{p0}/file"), A).header("range", "bytes=70000-80000"));
    s.push(Req::new("GET", format!("{p0}/file"), A).header("range", "lines=1-2"));
    s.push(Req::new("GET", format!("{}/file", image(4)), A));
    s.push(Req::new("GET", &p0, A));
    s.push(Req::new("GET", "/v2/images?status=active&sort_key=name", A));
    s.push(Req::new(
        "GET",
        "/v2/images?size_min=1000&sort_key=size&sort_dir=asc",
        A,
    ));

    // Tags.
    let p1 = image(1);
    s.push(Req::new("PUT", format!("{p1}/tags/fresh"), A));
    s.push(Req::new("PUT", format!("{p1}/tags/fresh"), A));
    s.push(Req::new("PUT", format!("{p1}/tags/%F0%9F%98%80"), A));
    s.push(Req::new("PUT", format!("{p1}/tags/{}", "t".repeat(256)), A));
    s.push(Req::new("DELETE", format!("{p1}/tags/fresh"), A));
    s.push(Req::new("DELETE", format!("{p1}/tags/fresh"), A));
    s.push(Req::new("PUT", format!("{p1}/tags/b-tag"), B));
    s.push(Req::new("GET", &p1, A));

    // Members: A shares image 1 with B; B accepts; errors.
    let m1 = format!("{p1}/members");
    s.push(Req::new("POST", &m1, A).json(json!({"member": "project-b"})));
    s.push(Req::new("POST", &m1, A).json(json!({"member": "project-b"})));
    s.push(Req::new("POST", &m1, A).json(json!({"member": "project-c"})));
    s.push(Req::new("POST", &m1, A).json(json!({"nobody": "here"})));
    s.push(
        Req::new("POST", format!("{}/members", image(0)), A).json(json!({"member": "project-b"})),
    );
    s.push(
        Req::new("POST", format!("{}/members", image(2)), A).json(json!({"member": "project-b"})),
    );
    s.push(Req::new("GET", &m1, A));
    s.push(Req::new("GET", &m1, B));
    s.push(Req::new("GET", format!("{m1}/project-b"), B));
    s.push(Req::new("GET", format!("{m1}/project-z"), A));
    s.push(Req::new("PUT", format!("{m1}/project-b"), A).json(json!({"status": "accepted"})));
    s.push(Req::new("PUT", format!("{m1}/project-b"), B).json(json!({"status": "maybe"})));
    s.push(Req::new("PUT", format!("{m1}/project-b"), B).json(json!({"status": "accepted"})));
    s.push(Req::new("GET", "/v2/images?sort_key=name", B));
    s.push(Req::new("GET", &p1, B));
    s.push(Req::new("DELETE", format!("{m1}/project-c"), B));
    s.push(Req::new("DELETE", format!("{m1}/project-c"), A));
    s.push(Req::new("DELETE", format!("{m1}/project-c"), A));
    s.push(Req::new("GET", &m1, A));

    // Deactivate / reactivate.
    s.push(Req::new("POST", format!("{p0}/actions/deactivate"), B));
    s.push(Req::new("POST", format!("{p0}/actions/deactivate"), A));
    s.push(Req::new("POST", format!("{p0}/actions/deactivate"), Admin));
    s.push(Req::new("GET", format!("{p0}/file"), A));
    s.push(Req::new("GET", format!("{p0}/file"), Admin));
    s.push(Req::new(
        "POST",
        format!("{}/actions/deactivate", image(4)),
        Admin,
    ));
    s.push(Req::new("POST", format!("{p0}/actions/reactivate"), Admin));
    s.push(Req::new("POST", format!("{p0}/actions/reactivate"), Admin));
    s.push(Req::new("GET", &p0, A));

    // Delete.
    s.push(Req::new("DELETE", image(2), A));
    s.push(Req::patch(
        image(2),
        PATCH_V21,
        json!([{"op": "replace", "path": "/protected", "value": false}]),
    ));
    s.push(Req::new("DELETE", image(2), A));
    s.push(Req::new("DELETE", image(1), B));
    s.push(Req::new("DELETE", &p1, A));
    s.push(Req::new("GET", &p1, A));
    s.push(Req::new("GET", &m1, A));
    s.push(Req::new("DELETE", &p1, A));
    s.push(Req::new("DELETE", &p0, A));
    s.push(Req::new("GET", format!("{p0}/file"), A));
    s.push(Req::new("GET", "/v2/images?sort_key=name", A));
    s.push(Req::new("GET", "/v2/images?sort_key=name", Admin).header("accept", "*/*"));
    s
}

/// One run of the scenario against `server`, every response normalized.
async fn run(server: &TestServer, scenario: &[Req]) -> Vec<Exchange> {
    let mut ids: Vec<String> = Vec::new();
    let mut exchanges = Vec::new();
    for req in scenario {
        let path = substitute(&req.path, &ids);
        let body = substitute(&String::from_utf8_lossy(&req.body), &ids);
        let body = if req.body.is_empty() || std::str::from_utf8(&req.body).is_ok() {
            body.into_bytes()
        } else {
            req.body.clone()
        };
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).expect("method");
        let mut builder = server.client.request(method, server.url(&path)).body(body);
        builder = match req.who {
            Who::Admin => builder.headers(identity("admin-project", "admin,member,reader")),
            Who::A => builder.headers(identity("project-a", "member,reader")),
            Who::B => builder.headers(identity("project-b", "member,reader")),
            Who::Anonymous => builder,
        };
        for (name, value) in &req.headers {
            builder = builder.header(*name, value);
        }
        let response = builder.send().await.expect("the node answers");
        let status = response.status().as_u16();
        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in response.headers() {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            headers.entry(name.to_string()).or_default().push(value);
        }
        let bytes = response.bytes().await.expect("body");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if req.method == "POST" && path == "/v2/images" && status == 201 {
            let created: Value = serde_json::from_str(&text).expect("created image");
            ids.push(created["id"].as_str().expect("id").to_string());
        }
        let normalize = |text: &str| normalize(text, &ids, &server.base);
        let headers = headers
            .into_iter()
            .map(|(name, values)| {
                let values = match name.as_str() {
                    "date" | "server-timing" => vec!["<varies>".to_string()],
                    "x-openstack-request-id" => vec!["<request-id>".to_string()],
                    _ => values.iter().map(|v| normalize(v)).collect(),
                };
                (name, values)
            })
            .collect();
        exchanges.push(Exchange {
            status,
            headers,
            body: normalize(&text),
        });
    }
    exchanges
}

/// `<imgN>` → the N-th id created in this run.
fn substitute(text: &str, ids: &[String]) -> String {
    let mut out = text.to_string();
    for (n, id) in ids.iter().enumerate().rev() {
        out = out.replace(&format!("<img{n}>"), id);
    }
    out
}

/// Ids → `<imgN>`, the node's `http://127.0.0.1:PORT` → `<node>`, timestamps → `<time>`,
/// request ids → `<request-id>`.
fn normalize(text: &str, ids: &[String], base: &str) -> String {
    let mut out = text.replace(base, "<node>");
    for (n, id) in ids.iter().enumerate() {
        out = out.replace(id, &format!("<img{n}>"));
    }
    let out = mask_timestamps(&out);
    mask_request_ids(&out)
}

/// `YYYY-MM-DDTHH:MM:SS` (with any fraction and `Z`/offset) → `<time>`.
fn mask_timestamps(text: &str) -> String {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:dd";
    let bytes = text.as_bytes();
    let fits = |at: usize| {
        at + SHAPE.len() <= bytes.len()
            && SHAPE
                .iter()
                .zip(&bytes[at..])
                .all(|(want, got)| match want {
                    b'd' => got.is_ascii_digit(),
                    other => other == got,
                })
    };
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if fits(at) {
            at += SHAPE.len();
            let rest = |at: usize| bytes.get(at).copied().unwrap_or(b' ');
            while matches!(rest(at), b'.' | b'0'..=b'9' | b'Z' | b'+' | b':') {
                at += 1;
            }
            out.extend_from_slice(b"<time>");
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `req-<uuid>` → `<request-id>`.
fn mask_request_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("req-") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 4..];
        if tail.len() >= 36 && uuid_like(&tail[..36]) {
            out.push_str("<request-id>");
            rest = &tail[36..];
        } else {
            out.push_str("req-");
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

fn uuid_like(text: &str) -> bool {
    text.bytes().enumerate().all(|(i, b)| match i {
        8 | 13 | 18 | 23 => b == b'-',
        _ => b.is_ascii_hexdigit(),
    })
}

fn trusted(settings: &mut Settings) {
    settings.auth.mode = AuthMode::TrustedAuth;
}

/// A trusted-auth node in registry-proxy mode in front of `registry`.
async fn proxy_node(registry: &RegistryProcess) -> TestServer {
    let registry_settings = registry.settings(10.0);
    TestServer::start_with(move |settings| {
        trusted(settings);
        settings.data_access.mode = Mode::RegistryProxy;
        settings.database.url.clear();
        settings.registry = registry_settings;
    })
    .await
}

/// Compare two runs exchange by exchange; every difference is listed, with its request.
fn compare(scenario: &[Req], direct: &[Exchange], proxied: &[Exchange], label: &str) {
    let direct_label = if label.ends_with("postgres") {
        "direct-postgres"
    } else {
        "direct-sqlite"
    };
    let mut differences = Vec::new();
    for (n, (req, (a, b))) in scenario.iter().zip(direct.iter().zip(proxied)).enumerate() {
        if a != b {
            differences.push(format!(
                "#{n} {} {}:\n  direct:  {a:?}\n  {label}: {b:?}",
                req.method, req.path
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} responses differ between {direct_label} and {label}:\n{}",
        differences.len(),
        scenario.len(),
        differences.join("\n")
    );
    eprintln!(
        "transparency: {} requests compared, {direct_label} = {label}",
        scenario.len()
    );
}

#[tokio::test]
async fn a_proxy_node_answers_exactly_like_a_direct_node() {
    let scenario = scenario();
    assert!(scenario.len() >= 100, "{} requests", scenario.len());

    let direct = TestServer::start_with(|settings| {
        trusted(settings);
        settings.data_access.mode = Mode::DirectSqlite;
    })
    .await;
    let direct_run = run(&direct, &scenario).await;
    let server_errors: Vec<usize> = (0..direct_run.len())
        .filter(|&n| direct_run[n].status >= 500)
        .collect();
    assert!(
        server_errors.is_empty(),
        "5xx at requests {server_errors:?}"
    );
    // The scenario itself is not vacuous: it saw successes and each kind of error.
    for status in [200, 201, 204, 206, 400, 403, 404, 409, 415, 416] {
        assert!(
            direct_run.iter().any(|e| e.status == status),
            "no {status} in the scenario"
        );
    }

    let registry = RegistryProcess::start().await;
    let proxied = proxy_node(&registry).await;
    let proxied_run = run(&proxied, &scenario).await;
    compare(
        &scenario,
        &direct_run,
        &proxied_run,
        "registry-proxy/sqlite",
    );

    // NULL order in sorts is the database's own (glance-reference §4.3), so the registry on
    // PostgreSQL is compared with a direct node on PostgreSQL.
    #[cfg(feature = "direct-postgres")]
    {
        let url = crate::support::postgres::fresh_url().await;
        let direct = TestServer::start_with(move |settings| {
            trusted(settings);
            settings.data_access.mode = Mode::DirectPostgres;
            settings.database.url = url;
        })
        .await;
        let direct_run = run(&direct, &scenario).await;
        assert!(direct_run.iter().all(|e| e.status < 500));
        let (url, _database) = crate::support::postgres::fresh_database().await;
        let registry = RegistryProcess::start_on_postgres(&url).await;
        let proxied = proxy_node(&registry).await;
        let proxied_run = run(&proxied, &scenario).await;
        compare(
            &scenario,
            &direct_run,
            &proxied_run,
            "registry-proxy/postgres",
        );
        proxied.stop().await;
    }
}
