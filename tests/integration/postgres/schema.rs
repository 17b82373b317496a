//! The server refuses a database at another schema version; `glance-api db-sync` migrates.

use std::process::Command;

use glance_rs::data_access::postgres::latest_version;
use glance_rs::data_access::{open, DataAccessError, OpenError};

use crate::support::postgres::{empty_database, execute, fresh_database, settings_for};

async fn open_error(url: &str) -> String {
    match open(&settings_for(url)).await {
        Ok(_) => panic!("{url} opened"),
        Err(err) => err.to_string(),
    }
}

fn db_sync(url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_glance-api"))
        .arg("db-sync")
        .env("GLANCE__DATA_ACCESS__MODE", "direct-postgres")
        .env("GLANCE__DATABASE__URL", url)
        .env_remove("GLANCE_CONFIG")
        .output()
        .expect("run glance-api db-sync")
}

#[tokio::test]
async fn unmigrated_database_is_refused_until_db_sync() {
    let (url, _guard) = empty_database().await;
    let message = open_error(&url).await;
    assert!(message.contains("`glance-api db-sync`"), "{message}");

    let out = db_sync(&url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let backend = open(&settings_for(&url))
        .await
        .expect("opens after db-sync");
    backend.health().await.expect("healthy");

    // A second run finds nothing to do and still succeeds.
    let again = db_sync(&url);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let log = String::from_utf8_lossy(&again.stderr);
    assert!(log.contains("already at schema version"), "{log}");
}

#[tokio::test]
async fn newer_schema_is_refused() {
    let (url, _guard) = fresh_database().await;
    let newer = latest_version() + 1;
    execute(
        &url,
        &format!(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
             VALUES ({newer}, 'from_the_future', '2030-01-01T00:00:00Z', '0')"
        ),
    )
    .await;
    let message = open_error(&url).await;
    assert!(message.contains("newer"), "{message}");
    assert!(message.contains(&format!("version {newer}")), "{message}");
}

#[tokio::test]
async fn glance_url_forms_are_accepted() {
    let (url, _guard) = fresh_database().await;
    let rest = url.split_once("://").expect("a URL").1;
    for scheme in ["postgres", "postgresql", "postgresql+psycopg2"] {
        let backend = open(&settings_for(&format!("{scheme}://{rest}")))
            .await
            .unwrap_or_else(|e| panic!("{scheme}: {e}"));
        backend.health().await.expect("healthy");
    }
    let message = open_error(&format!("mysql+pymysql://{rest}")).await;
    assert!(message.contains("postgresql://"), "{message}");
}

#[tokio::test]
async fn passwords_never_appear_in_errors() {
    // Nothing listens on port 1, so connecting fails fast.
    let url = "postgresql://glance:s3cr3t-pw@127.0.0.1:1/glance";
    let err = match open(&settings_for(url)).await {
        Ok(_) => panic!("opened a closed port"),
        Err(err) => err,
    };
    assert!(
        matches!(err, OpenError::Data(DataAccessError::Unavailable(_))),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("s3cr3t-pw"), "{err:?}");
}
