//! The server refuses a database at another schema version; `glance-api db-sync` migrates.

use std::process::Command;

use glance_rs::data_access::postgres::latest_version;
use glance_rs::data_access::{open, DataAccessError, OpenError};

use crate::support::postgres::{empty_database, execute, fresh_database, settings_for};
use crate::support::server::handoff;

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

#[tokio::test]
async fn the_server_binary_refuses_an_unmigrated_database() {
    let (url, _guard) = empty_database().await;
    let listener = handoff::bind("127.0.0.1");
    let mut command = Command::new(env!("CARGO_BIN_EXE_glance-api"));
    let out = handoff::hand_over(&mut command, &listener)
        .env("GLANCE__DATA_ACCESS__MODE", "direct-postgres")
        .env("GLANCE__DATABASE__URL", &url)
        .env_remove("GLANCE_CONFIG")
        .output()
        .expect("run glance-api");
    assert!(!out.status.success(), "it must not serve");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("`glance-api db-sync`"), "{log}");
}

#[tokio::test]
async fn db_sync_failures_do_not_print_the_password() {
    let out = db_sync("postgresql+psycopg2://glance:s3cr3t-pw@127.0.0.1:1/glance");
    assert!(!out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("glance:****@127.0.0.1:1"), "{log}");
    assert!(!log.contains("s3cr3t-pw"), "{log}");
}

/// Schema version 2 keeps each image's properties, tags and locations in `images.children`
/// with triggers: a child row written by plain SQL (another tool, an older node) shows in the
/// next one-row read, and a row without `children` is computed on the fly.
#[tokio::test]
async fn image_children_follow_every_child_write() {
    use crate::conformance::{admin, new_image};
    use glance_rs::domain::Visibility;

    let (url, _guard) = fresh_database().await;
    let backend = open(&settings_for(&url)).await.expect("open");
    let admin = admin();
    let mut values = new_image(Some("p"), Visibility::Public);
    values.tags = vec!["kept".into()];
    values
        .properties
        .insert("os_distro".into(), Some("debian".into()));
    let image = backend.image_create(&admin, values).await.expect("create");
    let id = image.id.clone();

    execute(
        &url,
        &format!(
            "INSERT INTO image_tags (image_id, value, created_at, deleted) \
             VALUES ('{id}', 'by-sql', now(), false); \
             UPDATE image_properties SET deleted = true, deleted_at = now() \
             WHERE image_id = '{id}' AND name = 'os_distro'; \
             INSERT INTO image_properties (image_id, name, value, created_at, deleted) \
             VALUES ('{id}', 'arch', 'x86_64', now(), false), \
                    ('{id}', 'kernel_id', NULL, now(), false)"
        ),
    )
    .await;
    let read = backend.image_get(&admin, &id, false).await.expect("get");
    assert_eq!(read.tags, vec!["kept".to_string(), "by-sql".to_string()]);
    assert_eq!(
        read.properties.into_iter().collect::<Vec<_>>(),
        vec![
            ("arch".to_string(), Some("x86_64".to_string())),
            // Glance writes NULL for `"kernel_id": null`; the children column keeps it null.
            ("kernel_id".to_string(), None),
        ]
    );

    execute(
        &url,
        &format!("UPDATE images SET children = NULL WHERE id = '{id}'"),
    )
    .await;
    let recomputed = backend.image_get(&admin, &id, false).await.expect("get");
    assert_eq!(
        recomputed.tags,
        vec!["kept".to_string(), "by-sql".to_string()]
    );
    assert!(recomputed.properties.contains_key("arch"));
}

/// Schema version 3: an image row written without child rows, by us or by plain SQL, starts
/// with empty `children`, so reading it never aggregates the child tables again.
#[tokio::test]
async fn an_image_without_child_rows_has_empty_children_from_the_start() {
    use crate::conformance::{admin, new_image};
    use glance_rs::domain::Visibility;

    let (url, _guard) = fresh_database().await;
    let backend = open(&settings_for(&url)).await.expect("open");
    let admin = admin();
    let ours = backend
        .image_create(&admin, new_image(Some("p"), Visibility::Public))
        .await
        .expect("create");
    let theirs = "00000000-0000-4000-8000-00000000c0de";
    execute(
        &url,
        &format!(
            "INSERT INTO images (id, status, visibility, created_at, deleted, min_disk, min_ram, \
             protected, os_hidden) VALUES ('{theirs}', 'queued', 'public', now(), false, 0, 0, \
             false, false)"
        ),
    )
    .await;
    for id in [ours.id.as_str(), theirs] {
        let empty = crate::support::postgres::count_rows(
            &url,
            &format!(
                "SELECT 1 FROM images WHERE id = '{id}' AND children::jsonb = \
                 '{{\"properties\": {{}}, \"tags\": [], \"locations\": []}}'::jsonb"
            ),
        )
        .await;
        assert_eq!(empty, 1, "{id} has empty children");
        let image = backend.image_get(&admin, id, false).await.expect("get");
        assert!(image.tags.is_empty() && image.properties.is_empty() && image.locations.is_empty());
    }
}
