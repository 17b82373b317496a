//! `auth.mode = "keystone"` against the real Keystone of `tests/keystone/` (started once by
//! scripts/test.sh; without it these tests fail, unless GLANCE_TEST_KEYSTONE=skip leaves them out): the glance-api
//! binary in the mode `GLANCE_TEST_MODE` names validates real tokens, decides secure-RBAC
//! access from real roles, refuses bad tokens with 401, makes one Keystone call for a
//! thousand concurrent requests, and rides out a Keystone outage.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::keystone::{self, api_env, issue, metric_sum, revoke, Proxy, ProxyState};
use crate::support::process::ApiProcess;

async fn call(
    api: &ApiProcess,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = api
        .client
        .request(method, api.url(path))
        .header("x-auth-token", token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("glance-api answers")
}

async fn get(api: &ApiProcess, path: &str, token: &str) -> StatusCode {
    call(api, reqwest::Method::GET, path, token, None)
        .await
        .status()
}

async fn metrics(api: &ApiProcess) -> String {
    let response = api
        .client
        .get(api.url("/metrics"))
        .send()
        .await
        .expect("metrics");
    response.text().await.expect("metrics text")
}

fn validations(page: &str) -> f64 {
    metric_sum(page, "glance_keystone_validations_total", "outcome")
}

#[tokio::test]
async fn real_roles_decide_who_may_do_what() {
    let Some(ks) = keystone::url() else { return };
    let api = ApiProcess::start_in_test_mode(&api_env(&ks, 300, 5.0)).await;
    let demo = issue(&ks, "demo", "demo").await;
    let reader = issue(&ks, "reader", "demo").await;
    let alt = issue(&ks, "alt_demo", "alt_demo").await;
    let admin = issue(&ks, "admin", "admin").await;

    let created = call(
        &api,
        reqwest::Method::POST,
        "/v2/images",
        &demo,
        Some(json!({"name": "ks-private", "disk_format": "raw", "container_format": "bare"})),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let timing = created
        .headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(timing.contains("auth;dur="), "first use is timed: {timing}");
    let image: Value = created.json().await.expect("image");
    let id = image["id"].as_str().expect("id").to_string();
    let path = format!("/v2/images/{id}");
    assert!(
        image["owner"].as_str().is_some_and(|o| o.len() == 32),
        "{image}"
    );

    // A warm request is not timed as auth: the cache answered.
    let again = call(&api, reqwest::Method::GET, &path, &demo, None).await;
    let timing = again.headers().get("server-timing").cloned();
    assert_eq!(again.status(), StatusCode::OK);
    assert!(
        !format!("{timing:?}").contains("auth;"),
        "cached: {timing:?}"
    );

    // The reader of the same project reads, never writes.
    assert_eq!(get(&api, &path, &reader).await, StatusCode::OK);
    assert_eq!(get(&api, "/v2/images", &reader).await, StatusCode::OK);
    let denied = call(
        &api,
        reqwest::Method::POST,
        "/v2/images",
        &reader,
        Some(json!({"name": "nope"})),
    )
    .await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    let delete = call(&api, reqwest::Method::DELETE, &path, &reader, None).await;
    assert_eq!(delete.status(), StatusCode::FORBIDDEN);
    let tag = call(
        &api,
        reqwest::Method::PUT,
        &format!("{path}/tags/t"),
        &reader,
        None,
    )
    .await;
    assert_eq!(tag.status(), StatusCode::FORBIDDEN);

    // Another project does not see a private image; the admin does.
    assert_eq!(get(&api, &path, &alt).await, StatusCode::NOT_FOUND);
    assert_eq!(get(&api, &path, &admin).await, StatusCode::OK);

    // The owner deletes it.
    let deleted = call(&api, reqwest::Method::DELETE, &path, &demo, None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    // No token: keystonemiddleware's 401 and where to get one.
    let anonymous = api
        .client
        .get(api.url("/v2/images"))
        .send()
        .await
        .expect("answer");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some(format!("Keystone uri=\"{ks}\"").as_str())
    );
}

#[tokio::test]
async fn garbage_oversized_and_revoked_tokens_are_401_never_5xx() {
    let Some(ks) = keystone::url() else { return };
    let api = ApiProcess::start_in_test_mode(&api_env(&ks, 300, 5.0)).await;
    let revoked = issue(&ks, "demo", "demo").await;
    revoke(&ks, &revoked).await;
    let oversized = "g".repeat(6000);
    let well_formed_garbage = "gAAAAABnot-a-real-token";
    for token in [
        well_formed_garbage,
        revoked.as_str(),
        oversized.as_str(),
        "not a token",
        "%ZZ%00",
        "{\"json\": 1}",
        well_formed_garbage,
    ] {
        let status = get(&api, "/v2/images", token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{:.40}", token);
    }
    // Only the two well-formed ones reached Keystone, once each (the repeat is a negative hit).
    let page = metrics(&api).await;
    assert_eq!(validations(&page), 2.0, "{page}");
    assert_eq!(
        metric_sum(&page, "glance_token_cache_lookups_total", "\"malformed\""),
        4.0
    );
    assert_eq!(
        metric_sum(
            &page,
            "glance_token_cache_lookups_total",
            "\"negative_hit\""
        ),
        1.0
    );

    // X-Service-Token: a valid one (glance's own, with the service role) is accepted beside a
    // valid user token; an invalid one gets 401.
    let demo = issue(&ks, "demo", "demo").await;
    let service = issue(&ks, "glance", "service").await;
    let with_service = api
        .client
        .get(api.url("/v2/images"))
        .header("x-auth-token", &demo)
        .header("x-service-token", &service)
        .send()
        .await
        .expect("answer");
    assert_eq!(with_service.status(), StatusCode::OK);
    let bad_service = api
        .client
        .get(api.url("/v2/images"))
        .header("x-auth-token", &demo)
        .header("x-service-token", well_formed_garbage)
        .send()
        .await
        .expect("answer");
    assert_eq!(bad_service.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn revocation_takes_effect_within_token_cache_time() {
    let Some(ks) = keystone::url() else { return };
    let cache_time = 2;
    let api = ApiProcess::start_in_test_mode(&api_env(&ks, cache_time, 5.0)).await;
    let token = issue(&ks, "demo", "demo").await;
    assert_eq!(get(&api, "/v2/images", &token).await, StatusCode::OK);
    revoke(&ks, &token).await;
    let revoked_at = Instant::now();
    loop {
        let status = get(&api, "/v2/images", &token).await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            revoked_at.elapsed() < Duration::from_secs(cache_time + 3),
            "still accepted {:?} after revocation",
            revoked_at.elapsed()
        );
        keystone::sleep_secs(0.2).await;
    }
}

#[tokio::test]
async fn a_thousand_concurrent_requests_with_one_new_token_make_one_validation() {
    let Some(ks) = keystone::url() else { return };
    let api = ApiProcess::start_in_test_mode(&api_env(&ks, 300, 10.0)).await;
    let token = issue(&ks, "demo", "demo").await;
    let before = validations(&metrics(&api).await);
    assert_eq!(before, 0.0);
    let requests = (0..1000).map(|_| get(&api, "/v2/schemas/image", &token));
    let statuses = futures_util::future::join_all(requests).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{:?}",
        statuses.iter().find(|s| **s != StatusCode::OK)
    );
    let page = metrics(&api).await;
    assert_eq!(validations(&page), 1.0, "{page}");
    let lookups = metric_sum(&page, "glance_token_cache_lookups_total", "result");
    assert_eq!(lookups, 1000.0, "{page}");
}

#[tokio::test]
async fn a_keystone_outage_keeps_cached_tokens_and_recovers() {
    let Some(ks) = keystone::url() else { return };
    let proxy = Proxy::start(&ks).await;
    let timeout = 2.0;
    let api = ApiProcess::start_in_test_mode(&api_env(&proxy.url, 300, timeout)).await;
    let cached = issue(&ks, "demo", "demo").await;
    let fresh = issue(&ks, "alt_demo", "alt_demo").await;
    assert_eq!(get(&api, "/v2/images", &cached).await, StatusCode::OK);

    for outage in [ProxyState::Refuse, ProxyState::Hang] {
        proxy.set(outage);
        assert_eq!(
            get(&api, "/v2/images", &cached).await,
            StatusCode::OK,
            "{outage:?}: a cached token keeps working"
        );
        let started = Instant::now();
        assert_eq!(
            get(&api, "/v2/images", &fresh).await,
            StatusCode::SERVICE_UNAVAILABLE,
            "{outage:?}: a new token cannot be validated"
        );
        assert!(
            started.elapsed() < Duration::from_secs_f64(timeout + 1.5),
            "{outage:?}: 503 after {:?}",
            started.elapsed()
        );
    }

    proxy.set(ProxyState::Forward);
    assert_eq!(
        get(&api, "/v2/images", &fresh).await,
        StatusCode::OK,
        "recovers without a restart"
    );
    let page = metrics(&api).await;
    assert!(
        metric_sum(
            &page,
            "glance_keystone_validations_total",
            "\"unavailable\""
        ) >= 2.0,
        "{page}"
    );
}
