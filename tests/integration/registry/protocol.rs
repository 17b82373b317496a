//! Glance's v2 registry RPC over raw HTTP (§10.2): list validation, `_error` entries with
//! Glance's class names, datetimes both ways, the token, and the deprecation headers.

use glance_rs::data_access::registry_wire::CONTEXT_HEADER;
use glance_rs::domain::{ImageQuery, Visibility};
use serde_json::{json, Value};

use super::{command, rpc, rpc_results};
use crate::conformance::{admin, new_image, user};
use crate::support::registry::{RegistryProcess, TOKEN};

fn create_kwargs(owner: &str) -> (String, Value) {
    let values = new_image(Some(owner), Visibility::Private);
    let id = values.id.clone();
    (
        id,
        json!({"values": serde_json::to_value(values).expect("serializes")}),
    )
}

/// Python's naive `isoformat()`: `YYYY-MM-DDTHH:MM:SS` plus `.ffffff` only when µs ≠ 0.
fn is_python_isoformat(text: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (main, fraction) = match text.split_once('.') {
        Some((main, fraction)) => (main, Some(fraction)),
        None => (text, None),
    };
    let shape_ok = main.len() == 19
        && main.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 | 16 => b == b':',
            _ => b.is_ascii_digit(),
        });
    shape_ok
        && match fraction {
            None => true,
            Some(f) => f.len() == 6 && digits(f) && f != "000000",
        }
}

fn assert_wire_datetime(value: &Value) {
    assert_eq!(value["_type"], "datetime", "{value}");
    let text = value["_value"].as_str().expect("_value is a string");
    assert!(is_python_isoformat(text), "not a Python isoformat: {text}");
}

#[tokio::test]
async fn malformed_command_lists_are_refused_before_anything_runs() {
    let registry = RegistryProcess::start().await;
    let (id, kwargs) = create_kwargs("p1");
    let create = command("image_create", kwargs);
    let cases = [
        (
            json!({"command": "image_get"}),
            400,
            "Request must be a list of commands",
        ),
        (
            json!("image_get"),
            400,
            "Request must be a list of commands",
        ),
        (json!([create.clone(), 5]), 400, "Bad Command"),
        (json!([create.clone(), [1]]), 400, "Bad Command"),
        (
            json!([create.clone(), {"command": 5, "kwargs": {}}]),
            400,
            "Wrong command structure",
        ),
        (
            json!([create.clone(), {"kwargs": {}}]),
            400,
            "Wrong command structure",
        ),
        (
            json!([create.clone(), {"command": "image_get", "kwargs": [1]}]),
            400,
            "Wrong command structure",
        ),
        (
            json!([create.clone(), {"command": "drop_everything", "kwargs": {}}]),
            404,
            "Command not found",
        ),
    ];
    for (body, status, text) in cases {
        let res = rpc(&registry, &admin(), body.clone()).await;
        assert_eq!(res.status(), status, "{body}");
        let shown = res.text().await.expect("body");
        assert!(shown.contains(text), "{body} → {shown}");
    }
    // The valid first command of each list never ran.
    let results = rpc_results(
        &registry,
        &admin(),
        json!([command("image_get", json!({"image_id": id}))]),
    )
    .await;
    assert_eq!(
        results[0]["_error"]["cls"],
        "glance.common.exception.ImageNotFound"
    );

    let res = reqwest::Client::new()
        .post(registry.url("/rpc"))
        .bearer_auth(TOKEN)
        .header(
            CONTEXT_HEADER,
            serde_json::to_string(&admin()).expect("json"),
        )
        .body("[{not json")
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), 400);
    assert!(res.text().await.expect("body").contains("Malformed JSON"));
}

#[tokio::test]
async fn several_commands_run_in_order_and_a_failure_does_not_stop_the_rest() {
    let registry = RegistryProcess::start().await;
    let (id, kwargs) = create_kwargs("p1");
    let missing = uuid::Uuid::new_v4().to_string();
    let body = json!([
        command("image_create", kwargs),
        command("image_get", json!({"image_id": missing})),
        command("image_tag_create", json!({"image_id": id, "value": "t1"})),
        command(
            "image_tag_delete",
            json!({"image_id": id, "value": "absent"})
        ),
        command(
            "image_update",
            json!({"image_id": id, "values": {"name": "renamed"}, "from_state": "active"})
        ),
        command(
            "image_get",
            json!({"image_id": id, "force_show_deleted": false})
        ),
        command("image_get", json!({"image_id": id, "no_such_argument": 1})),
    ]);
    let results = rpc_results(&registry, &user("p1"), body).await;
    assert_eq!(results.len(), 7);
    assert_eq!(results[0]["id"], id.as_str());
    let not_found = &results[1]["_error"];
    assert_eq!(not_found["cls"], "glance.common.exception.ImageNotFound");
    assert!(
        not_found["val"].as_str().expect("val").contains(&missing),
        "{not_found}"
    );
    let keys: Vec<&String> = not_found.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["cls", "val"]);
    assert_eq!(results[2], Value::Null, "image_tag_create returns None");
    assert_eq!(
        results[3]["_error"]["cls"],
        "glance.common.exception.NotFound"
    );
    assert_eq!(
        results[4]["_error"]["cls"],
        "glance.common.exception.Conflict"
    );
    assert_eq!(results[5]["id"], id.as_str());
    assert_eq!(
        results[5]["tags"],
        json!(["t1"]),
        "the tag added after the failure is there"
    );
    assert_eq!(
        results[5]["name"], "image",
        "the lost compare-and-set changed nothing"
    );
    assert_eq!(results[6]["_error"]["cls"], "builtins.TypeError");
}

#[tokio::test]
async fn datetimes_cross_as_python_isoformat_both_ways() {
    let registry = RegistryProcess::start().await;
    let (id, kwargs) = create_kwargs("p1");
    let results = rpc_results(
        &registry,
        &admin(),
        json!([command("image_create", kwargs)]),
    )
    .await;
    let image = &results[0];
    assert_wire_datetime(&image["created_at"]);
    assert_wire_datetime(&image["updated_at"]);
    assert_eq!(image["deleted_at"], Value::Null);

    // Datetimes in kwargs are decoded: a created_at filter on either side of the image.
    let query = |op: &str, when: &str| {
        let mut query = serde_json::to_value(ImageQuery::default()).expect("query");
        query["filters"]["created_at"] = json!([[op, {"_type": "datetime", "_value": when}]]);
        command("image_get_all", json!({"query": query}))
    };
    let created = image["created_at"]["_value"].as_str().expect("created_at");
    let results = rpc_results(
        &registry,
        &admin(),
        json!([
            query("lt", "2000-01-01T00:00:00"),
            query("gt", "2000-01-01T00:00:00.000001"),
            query("eq", created),
            query("gt", "not a date"),
        ]),
    )
    .await;
    assert_eq!(results[0], json!([]));
    assert_eq!(results[1][0]["id"], id.as_str());
    assert_eq!(
        results[2][0]["id"],
        id.as_str(),
        "the wire value is the stored value"
    );
    assert_eq!(results[3]["_error"]["cls"], "builtins.TypeError");

    let results = rpc_results(
        &registry,
        &admin(),
        json!([
            command("image_destroy", json!({"image_id": id})),
            command(
                "image_get",
                json!({"image_id": id, "force_show_deleted": true})
            ),
        ]),
    )
    .await;
    assert_eq!(results[1]["deleted"], true);
    assert_wire_datetime(&results[1]["deleted_at"]);
}

#[tokio::test]
async fn the_token_is_required_and_never_logged() {
    let registry = RegistryProcess::start().await;
    let body = json!([command("image_get_all", json!({}))]);
    let context = serde_json::to_string(&admin()).expect("json");
    let http = reqwest::Client::new();
    let wrong = "wrong-secret-0123456789";
    for auth in [
        None,
        Some(format!("Bearer {wrong}")),
        Some(TOKEN.to_string()),
        Some(format!("Bearer {TOKEN}x")),
    ] {
        let mut req = http
            .post(registry.url("/rpc"))
            .header(CONTEXT_HEADER, &context)
            .json(&body);
        if let Some(auth) = &auth {
            req = req.header("authorization", auth);
        }
        let res = req.send().await.expect("answers");
        assert_eq!(res.status(), 401, "{auth:?}");
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
    }
    let res = rpc(&registry, &admin(), body).await;
    assert_eq!(res.status(), 200);
    let log = registry.log();
    assert!(log.contains("missing or wrong registry token"), "{log}");
    assert!(
        !log.contains(TOKEN) && !log.contains(wrong),
        "a token leaked into the log:\n{log}"
    );
}

#[tokio::test]
async fn calls_without_the_callers_context_are_refused() {
    let registry = RegistryProcess::start().await;
    let (id, kwargs) = create_kwargs("p1");
    let body = json!([command("image_create", kwargs)]);
    let http = reqwest::Client::new();
    for context in [
        None,
        Some("{}"),
        Some("admin"),
        Some(r#"{"is_admin": true}"#),
    ] {
        let mut req = http
            .post(registry.url("/rpc"))
            .bearer_auth(TOKEN)
            .json(&body);
        if let Some(context) = context {
            req = req.header(CONTEXT_HEADER, context);
        }
        let res = req.send().await.expect("answers");
        assert_eq!(res.status(), 400, "{context:?}");
        assert!(res.text().await.expect("body").contains("X-Glance-Context"));
    }
    let results = rpc_results(
        &registry,
        &admin(),
        json!([command("image_get", json!({"image_id": id}))]),
    )
    .await;
    assert_eq!(
        results[0]["_error"]["cls"], "glance.common.exception.ImageNotFound",
        "nothing ran"
    );
}

#[tokio::test]
async fn every_response_says_the_registry_is_deprecated() {
    let registry = RegistryProcess::start().await;
    let http = reqwest::Client::new();
    let ok = rpc(
        &registry,
        &admin(),
        json!([command("image_get_all", json!({}))]),
    )
    .await;
    let responses = vec![
        ok,
        http.get(registry.url("/healthcheck"))
            .send()
            .await
            .expect("answers"),
        http.post(registry.url("/rpc"))
            .send()
            .await
            .expect("answers"),
        http.get(registry.url("/v2/images"))
            .send()
            .await
            .expect("answers"),
        rpc(&registry, &admin(), json!({})).await,
    ];
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [200, 200, 401, 404, 400]);
    for res in responses {
        let headers = res.headers();
        assert_eq!(headers["deprecation"], "@1520380800", "{}", res.status());
        let link = headers["link"].to_str().expect("ascii");
        assert!(
            link.contains("upgrade.md>") && link.contains("rel=\"deprecation\""),
            "{link}"
        );
    }
    let log = registry.log();
    assert!(
        log.contains("DEPRECATED") && log.contains("docs/upgrade.md"),
        "{log}"
    );
}

#[tokio::test]
async fn replies_carry_the_database_time_and_metrics_show_each_command() {
    let registry = RegistryProcess::start().await;
    let (_, kwargs) = create_kwargs("p1");
    let res = rpc(
        &registry,
        &admin(),
        json!([command("image_create", kwargs)]),
    )
    .await;
    assert_eq!(res.status(), 200);
    let timing = res.headers()["server-timing"]
        .to_str()
        .expect("ascii")
        .to_string();
    let db = glance_rs::data_access::registry_wire::parse_db_time(&timing);
    assert!(
        db.is_some_and(|d| d > std::time::Duration::ZERO),
        "{timing}"
    );
    let missing = json!({"image_id": uuid::Uuid::new_v4().to_string()});
    rpc_results(&registry, &admin(), json!([command("image_get", missing)])).await;

    let scrape = reqwest::get(registry.url("/metrics"))
        .await
        .expect("answers");
    assert_eq!(scrape.status(), 200);
    let text = scrape.text().await.expect("text");
    for expected in [
        r#"glance_registry_rpc_duration_seconds_count{command="image_create",outcome="ok"} 1"#,
        r#"glance_registry_rpc_duration_seconds_count{command="image_get",outcome="not_found"} 1"#,
        r#"service="glance-registry""#,
        r#"glance_http_requests_total{method="POST",route="/rpc",status="200"} 2"#,
        r#"glance_data_access_duration_seconds_count{mode="direct-sqlite",operation="image_create",outcome="ok"} 1"#,
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
}

#[tokio::test]
async fn binding_beyond_loopback_is_warned_about() {
    let quiet = RegistryProcess::start().await;
    assert!(!quiet.log().contains("beyond loopback"), "{}", quiet.log());
    let exposed = RegistryProcess::start_on("0.0.0.0").await;
    let log = exposed.log();
    assert!(
        log.contains("WARN") && log.contains("beyond loopback"),
        "{log}"
    );
}
