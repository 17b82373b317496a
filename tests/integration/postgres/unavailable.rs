//! PostgreSQL down or the pool exhausted → `Unavailable` within the pool timeout, never a
//! hang; and the same backend recovers once PostgreSQL is back.

use std::time::{Duration, Instant};

use glance_rs::data_access::{open, DataAccess, DataAccessError};
use glance_rs::domain::{ImageChanges, NewImage, RequestContext, Visibility};

use crate::support::postgres::{execute, fresh_database, settings_for, Cluster};

const POOL_TIMEOUT: f64 = 1.0;
/// Slack for a loaded machine on top of the pool timeout.
const BOUND: Duration = Duration::from_millis(2500);

fn admin() -> RequestContext {
    RequestContext::noauth("req-test".into())
}

fn new_image(id: &str) -> NewImage {
    NewImage {
        id: id.to_string(),
        name: Some("survivor".into()),
        status: glance_rs::domain::ImageStatus::Queued,
        visibility: Visibility::Shared,
        disk_format: None,
        container_format: None,
        owner: Some("p1".into()),
        min_disk: 0,
        min_ram: 0,
        protected: false,
        os_hidden: false,
        properties: Default::default(),
        tags: vec![],
    }
}

async fn open_with_timeout(url: &str) -> std::sync::Arc<dyn DataAccess> {
    let mut settings = settings_for(url);
    settings.database.pool_timeout = POOL_TIMEOUT;
    open(&settings).await.expect("open the backend")
}

#[tokio::test]
async fn stopped_postgres_is_unavailable_then_recovers() {
    let cluster = Cluster::start_new();
    let url = cluster.url("postgres");
    glance_rs::data_access::migrate(&settings_for(&url))
        .await
        .expect("migrate");
    let backend = open_with_timeout(&url).await;
    let id = "6b2f5c6e-0a3c-4c0e-9c8e-1d2f3a4b5c6d";
    backend
        .image_create(&admin(), new_image(id))
        .await
        .expect("create");

    cluster.stop();
    for attempt in 0..3 {
        let started = Instant::now();
        let result = backend.image_get(&admin(), id, false).await;
        let elapsed = started.elapsed();
        assert!(
            matches!(result, Err(DataAccessError::Unavailable(_))),
            "attempt {attempt}: {result:?}"
        );
        assert!(elapsed < BOUND, "attempt {attempt} took {elapsed:?}");
    }
    let health = backend.health().await;
    assert!(
        matches!(health, Err(DataAccessError::Unavailable(_))),
        "{health:?}"
    );

    cluster.start();
    let image = backend
        .image_get(&admin(), id, false)
        .await
        .expect("the same backend works again");
    assert_eq!(image.name.as_deref(), Some("survivor"));
    backend.health().await.expect("healthy again");
}

#[tokio::test]
async fn exhausted_pool_is_unavailable_within_the_timeout() {
    let (url, _guard) = fresh_database().await;
    let mut settings = settings_for(&url);
    settings.database.pool_timeout = POOL_TIMEOUT;
    settings.database.pool_size = 1; // raised to the minimum of 8
                                     // Pools are per worker thread (the total split across them); this test runs on one
                                     // thread, so one worker's share is the whole pool of 8.
    settings.server.workers = 1;
    let backend = open(&settings).await.expect("open");
    let id = "0d7c1f3e-5b6a-4f2e-8a1b-2c3d4e5f6a7b";
    backend
        .image_create(&admin(), new_image(id))
        .await
        .expect("create");

    // Hold the image row locked from outside, so every update waits holding its connection.
    let (locker, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    locker
        .batch_execute(&format!(
            "BEGIN; SELECT id FROM images WHERE id = '{id}' FOR UPDATE"
        ))
        .await
        .expect("lock the row");
    let mut waiting = Vec::new();
    for n in 0..8 {
        let backend = backend.clone();
        waiting.push(tokio::spawn(async move {
            let changes = ImageChanges {
                min_ram: Some(n),
                ..ImageChanges::default()
            };
            backend
                .image_update(&admin(), id, changes, false, None)
                .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    let result = backend.image_get(&admin(), id, false).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(DataAccessError::Unavailable(_))),
        "{result:?}"
    );
    assert!(
        elapsed >= Duration::from_secs_f64(POOL_TIMEOUT * 0.9),
        "{elapsed:?}"
    );
    assert!(elapsed < BOUND, "{elapsed:?}");

    locker.batch_execute("COMMIT").await.expect("unlock");
    for update in waiting {
        update
            .await
            .expect("joined")
            .expect("the waiting update went through");
    }
    backend
        .image_get(&admin(), id, false)
        .await
        .expect("pool free again");
    drop(locker);
    execute(&url, "SELECT 1").await;
}

/// Send `signal` to the server processes serving database `postgres` for other sessions.
async fn signal_backends(admin_url: &str, signal: &str) -> Vec<i32> {
    let (client, connection) = tokio_postgres::connect(admin_url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let rows = client
        .query(
            "SELECT pid FROM pg_stat_activity WHERE datname = 'postgres' \
             AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
            &[],
        )
        .await
        .expect("list backends");
    let pids: Vec<i32> = rows.iter().map(|row| row.get("pid")).collect();
    for pid in &pids {
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {pid}");
    }
    pids
}

#[tokio::test]
async fn frozen_postgres_is_unavailable_within_the_call_bound() {
    let cluster = Cluster::start_new();
    let url = cluster.url("postgres");
    glance_rs::data_access::migrate(&settings_for(&url))
        .await
        .expect("migrate");
    let mut settings = settings_for(&url);
    settings.database.pool_timeout = 0.5;
    let backend = open(&settings).await.expect("open");
    backend.health().await.expect("a pooled connection exists");

    // The server keeps its sockets (the kernel still ACKs) but answers nothing.
    let frozen = signal_backends(&url, "STOP").await;
    assert!(!frozen.is_empty(), "the backend's connection is listed");
    let started = Instant::now();
    let result = backend.image_get(&admin(), "any-id", false).await;
    let elapsed = started.elapsed();
    signal_backends(&url, "CONT").await;
    assert!(
        matches!(result, Err(DataAccessError::Unavailable(_))),
        "{result:?}"
    );
    // 6 × pool_timeout bounds a call.
    assert!(elapsed >= Duration::from_millis(2900), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(3000) + BOUND, "{elapsed:?}");
    backend.health().await.expect("answers again once resumed");
}
