//! The one Keystone of the run really stopped and restarted (not a proxy cut): cached tokens
//! keep working while it is down, new ones get 503 within the timeout, and all recover when it
//! is back, without restarting glance-api. After the restart Keystone issues short-lived
//! tokens, so the same test shows keystonemiddleware's `X-Service-Token` rule with a token
//! that has really expired: refused alone, accepted beside a valid service token, refused
//! beside a token that lacks the service role.
//!
//! `#[ignore]`d: it stops the Keystone every other Keystone test uses, so scripts/test.sh
//! runs it alone, last (`cargo test --test integration -- --ignored keystone_restart`).

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::support::keystone::{self, api_env, issue, sleep_secs};
use crate::support::process::ApiProcess;

/// Token lifetime of the restarted Keystone, seconds.
const SHORT_LIFETIME: u64 = 8;

fn keystone_script(name: &str, extra_env: &[(&str, &str)]) {
    let dir = std::env::var("GLANCE_TEST_KEYSTONE_DIR").expect(
        "GLANCE_TEST_KEYSTONE_DIR: the state dir of the Keystone tests/keystone/lib.sh started",
    );
    let port = keystone::url()
        .and_then(|u| u.rsplit(':').next().map(str::to_string))
        .expect("Keystone's port");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keystone/");
    let mut command = Command::new(format!("{script}{name}"));
    command.env("KEYSTONE_RUN_DIR", &dir);
    if name == "start.sh" {
        command.arg(&port);
        if let Ok(image_port) = std::env::var("GLANCE_TEST_KEYSTONE_IMAGE_PORT") {
            command.env("IMAGE_PORT", image_port);
        }
    }
    for (key, value) in extra_env {
        command.env(key, value);
    }
    let status = command.status().expect("the Keystone script runs");
    assert!(status.success(), "tests/keystone/{name}: {status}");
}

/// One fresh connection per request: Keystone's restart takes longer than glance-api's
/// keep-alive, and a pooled connection the server has just closed would fail the request.
async fn get(api: &ApiProcess, token: &str, service_token: Option<&str>) -> StatusCode {
    let mut request = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a reqwest client")
        .get(api.url("/v2/images"))
        .header("x-auth-token", token);
    if let Some(service) = service_token {
        request = request.header("x-service-token", service);
    }
    request.send().await.expect("glance-api answers").status()
}

#[tokio::test]
#[ignore = "stops and restarts the shared Keystone: scripts/test.sh runs it alone, last"]
async fn keystone_restart_and_expired_tokens_with_a_service_token() {
    let Some(ks) = keystone::url() else { return };
    let timeout = 2.0;
    let api = ApiProcess::start_in_test_mode(&api_env(&ks, 300, timeout)).await;
    let cached = issue(&ks, "demo", "demo").await;
    let fresh = issue(&ks, "alt_demo", "alt_demo").await;
    assert_eq!(get(&api, &cached, None).await, StatusCode::OK);

    keystone_script("stop.sh", &[]);
    assert_eq!(
        get(&api, &cached, None).await,
        StatusCode::OK,
        "a cached token works while Keystone is stopped"
    );
    let started = Instant::now();
    assert_eq!(
        get(&api, &fresh, None).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "a new token cannot be validated while Keystone is stopped"
    );
    assert!(
        started.elapsed() < Duration::from_secs_f64(timeout + 1.5),
        "503 after {:?}",
        started.elapsed()
    );

    // Same database and keys: tokens issued before stay valid; new ones live SHORT_LIFETIME.
    let lifetime = SHORT_LIFETIME.to_string();
    keystone_script(
        "start.sh",
        &[
            ("KEYSTONE_KEEP_DATA", "1"),
            ("KEYSTONE_TOKEN_EXPIRATION", &lifetime),
        ],
    );
    assert_eq!(
        get(&api, &fresh, None).await,
        StatusCode::OK,
        "recovers when Keystone is back, glance-api not restarted"
    );

    // A user token that expires for real, used only after it has (never cached before).
    let expiring = issue(&ks, "demo", "demo").await;
    sleep_secs(SHORT_LIFETIME as f64 + 2.0).await;
    assert_eq!(
        get(&api, &expiring, None).await,
        StatusCode::UNAUTHORIZED,
        "an expired token alone is refused"
    );
    // The service user (roles service + admin) vouches for it, as Nova does for long jobs.
    let service = issue(&ks, "glance", "service").await;
    assert_eq!(
        get(&api, &expiring, Some(&service)).await,
        StatusCode::OK,
        "an expired user token with a valid service token is let through"
    );
    // A token without the service role is no service token (service_token_roles_required
    // defaults to false in keystonemiddleware, so we set it as production should).
    let strict = {
        let mut env = api_env(&ks, 300, timeout);
        env.push((
            "GLANCE__KEYSTONE_AUTHTOKEN__SERVICE_TOKEN_ROLES_REQUIRED",
            "true".into(),
        ));
        ApiProcess::start_in_test_mode(&env).await
    };
    let not_service = issue(&ks, "demo", "demo").await;
    assert_eq!(
        get(&strict, &expiring, Some(&not_service)).await,
        StatusCode::UNAUTHORIZED,
        "a service token without the service role does not lift the expiry"
    );
    assert_eq!(
        get(&strict, &expiring, Some(&service)).await,
        StatusCode::OK,
        "the strict node takes a real service token"
    );
}
