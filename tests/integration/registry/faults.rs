//! A registry that dies, hangs or is misconfigured: calls fail fast as `Unavailable` (the API
//! answers 503), the same client recovers when the registry comes back, and bad settings are
//! refused at start with a clear message.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use glance_rs::config::{Service, Settings};
use glance_rs::data_access::registry_client::RegistryClient;
use glance_rs::data_access::{DataAccess, DataAccessError, Mode};
use glance_rs::domain::Visibility;

use crate::conformance::{admin, new_image};
use crate::support::registry::{RegistryProcess, TOKEN};
use crate::support::server::{handoff, TestServer};

fn unavailable(result: Result<impl std::fmt::Debug, DataAccessError>) {
    match result {
        Err(DataAccessError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn killed_registry_is_unavailable_within_the_timeout_and_the_client_recovers() {
    let timeout = 2.0;
    let mut registry = RegistryProcess::start().await;
    let da = registry.client(timeout);
    let image = da
        .image_create(&admin(), new_image(Some("p1"), Visibility::Private))
        .await
        .expect("create through the registry");
    da.health().await.expect("healthy");

    registry.kill();
    for _ in 0..3 {
        let started = Instant::now();
        unavailable(da.image_get(&admin(), &image.id, false).await);
        unavailable(da.health().await);
        let elapsed = started.elapsed();
        assert!(
            elapsed < Duration::from_secs_f64(timeout),
            "took {elapsed:?}"
        );
    }

    registry.restart().await;
    let again = da
        .image_get(&admin(), &image.id, false)
        .await
        .expect("the same client recovers");
    assert_eq!(again, image, "the registry's database kept the image");
    da.health().await.expect("healthy again");
}

#[tokio::test]
async fn hung_registry_times_out_as_unavailable() {
    // Accepts connections and never answers (the thread ends with the test process).
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept() {
            held.push(stream);
        }
    });
    let mut settings = Settings::defaults(Service::Api).registry;
    settings.url = format!("http://127.0.0.1:{port}");
    settings.token = TOKEN.into();
    settings.timeout = 1.0;
    settings.pool_size = 1;
    let da = RegistryClient::new(&settings).expect("client");
    let started = Instant::now();
    let id = "00000000-0000-0000-0000-000000000000";
    let ctx = admin();
    // With one slot, the second call waits for the first; each gives up at its own deadline.
    let (first, second, status) = tokio::join!(
        da.image_get(&ctx, id, false),
        async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            da.image_tag_get_all(&ctx, id).await
        },
        async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            da.pool_status()
        },
    );
    let elapsed = started.elapsed();
    unavailable(first);
    unavailable(second);
    let status = status.expect("the registry pool is reported");
    assert_eq!(
        (status.pool, status.size, status.in_use, status.waiting),
        ("registry", 1, 1, 1)
    );
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(3),
        "took {elapsed:?}"
    );
    assert_eq!(
        da.pool_status().map(|s| (s.in_use, s.waiting)),
        Some((0, 0))
    );
}

#[tokio::test]
async fn api_in_registry_proxy_mode_holds_no_database_credentials() {
    let registry = RegistryProcess::start().await;
    let mut settings = Settings::defaults(Service::Api);
    settings.data_access.mode = Mode::RegistryProxy;
    settings.registry = registry.settings(5.0);
    settings.database.url = "postgresql://glance:secret@db/glance".into();
    let err = glance_rs::data_access::open(&settings)
        .await
        .err()
        .expect("refused");
    let message = err.to_string();
    assert!(
        message.contains("database.url") && message.contains("registry-proxy"),
        "{message}"
    );
    assert!(!message.contains("secret"), "{message}");

    settings.database.url.clear();
    settings.registry.token.clear();
    let err = glance_rs::data_access::open(&settings)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("registry.token"), "{err}");

    settings.registry.token = TOKEN.into();
    let da = glance_rs::data_access::open(&settings)
        .await
        .expect("opens");
    assert_eq!(da.mode(), Mode::RegistryProxy);
    da.health().await.expect("healthy through the registry");

    settings.registry.token = "not-the-token".into();
    let da = glance_rs::data_access::open(&settings)
        .await
        .expect("opens");
    match da.health().await {
        Err(DataAccessError::Backend(message)) => {
            assert!(message.contains("registry.token"), "{message}")
        }
        other => panic!("a wrong token must fail loudly, got {other:?}"),
    }
}

#[tokio::test]
async fn api_answers_503_while_the_registry_is_down() {
    let mut registry = RegistryProcess::start().await;
    let registry_settings = registry.settings(2.0);
    let api = TestServer::start_with(move |s| {
        s.data_access.mode = Mode::RegistryProxy;
        s.database.url.clear();
        s.registry = registry_settings;
    })
    .await;
    let res = api
        .client
        .get(api.url("/healthcheck"))
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), 200);
    // The stale-upload sweep may hold a registry slot for a moment: scrape until it is idle.
    let mut text = String::new();
    for _ in 0..50 {
        let scrape = api.client.get(api.url("/metrics")).send().await;
        text = scrape.expect("answers").text().await.expect("text");
        if text.contains(r#"glance_pool_connections{pool="registry",state="in_use"} 0"#) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for expected in [
        r#"glance_registry_hop_duration_seconds_count{operation="health"}"#,
        r#"glance_pool_size{pool="registry"} 4"#,
        r#"glance_pool_connections{pool="registry",state="in_use"} 0"#,
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
    registry.kill();
    let started = Instant::now();
    let res = api
        .client
        .get(api.url("/healthcheck"))
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), 503);
    for path in [
        "/v2/images",
        "/v2/images/00000000-0000-0000-0000-000000000000",
    ] {
        let res = api.client.get(api.url(path)).send().await.expect("answers");
        assert_eq!(res.status(), 503, "{path} with the registry down");
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    registry.restart().await;
    let res = api
        .client
        .get(api.url("/v2/images"))
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), 200, "the API recovers with the registry");
    let res = api
        .client
        .get(api.url("/healthcheck"))
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), 200);
    api.stop().await;
}

/// Run the binary with `env` and return (success, everything it logged).
fn run_registry(env: &[(&str, String)]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = handoff::bind("127.0.0.1");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_glance-registry"));
    handoff::hand_over(&mut command, &listener)
        .env_remove("GLANCE_CONFIG")
        .env(
            "GLANCE__DATABASE__URL",
            format!("sqlite:///{}", dir.path().join("g.db").display()),
        )
        .env("RUST_LOG", "info");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("runs");
    let mut log = String::from_utf8_lossy(&output.stdout).into_owned();
    log.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), log)
}

#[test]
fn registry_refuses_to_start_without_a_token_or_with_a_proxy_backend() {
    let (ok, log) = run_registry(&[("GLANCE__REGISTRY__TOKEN", String::new())]);
    assert!(!ok && log.contains("registry.token is empty"), "{log}");
    let (ok, log) = run_registry(&[
        ("GLANCE__REGISTRY__TOKEN", TOKEN.into()),
        ("GLANCE__DATA_ACCESS__MODE", "registry-proxy".into()),
    ]);
    assert!(!ok && log.contains("needs a direct backend"), "{log}");
}

/// The glance-api binary in registry-proxy mode: refuses database credentials at start, and
/// warns that the mode is deprecated when it runs.
#[tokio::test]
async fn glance_api_binary_in_registry_proxy_mode() {
    let registry = RegistryProcess::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let log_path = dir.path().join("api.log");
    // Held by the test for both starts, each handed the same socket.
    let listener = handoff::bind("127.0.0.1");
    let port = handoff::port(&listener);
    let spawn = |database_url: &str| {
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_glance-api"));
        handoff::hand_over(&mut command, &listener)
            .current_dir(dir.path())
            .env_remove("GLANCE_CONFIG")
            .env("RUST_LOG", "info")
            .env("GLANCE__DATA_ACCESS__MODE", "registry-proxy")
            .env("GLANCE__DATABASE__URL", database_url)
            .env("GLANCE__REGISTRY__URL", &registry.base)
            .env("GLANCE__REGISTRY__TOKEN", TOKEN)
            .env("GLANCE__STORE__PATH", dir.path().join("images"))
            .stdout(log.try_clone().expect("clone"))
            .stderr(log)
            .spawn()
            .expect("glance-api starts")
    };

    let status = spawn("postgresql://glance:pw@db/glance")
        .wait()
        .expect("exits");
    let log = std::fs::read_to_string(&log_path).expect("log");
    assert!(!status.success(), "{log}");
    assert!(
        log.contains("database.url must be empty in registry-proxy mode"),
        "{log}"
    );

    let mut api = spawn("");
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    crate::support::process::wait_healthy(&client, &base, &mut api).await;
    let _ = api.kill();
    let _ = api.wait();
    let log = std::fs::read_to_string(&log_path).expect("log");
    assert!(
        log.contains("DEPRECATED") && log.contains("docs/upgrade.md"),
        "{log}"
    );
    assert!(
        !log.contains(TOKEN),
        "the token leaked into the log:\n{log}"
    );
}
