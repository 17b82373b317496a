//! Opening, migrating and URL handling of the SQLite backend, and what only SQLite can show:
//! two processes writing one file.

use super::*;

#[test]
fn urls_name_relative_and_absolute_files() {
    assert_eq!(
        database_path("sqlite:///var/glance.db"),
        Ok(PathBuf::from("var/glance.db"))
    );
    assert_eq!(
        database_path("sqlite:////tmp/g.db"),
        Ok(PathBuf::from("/tmp/g.db"))
    );
    for bad in [
        "postgresql://u:p@h/db",
        "sqlite://",
        "sqlite:///",
        "mysql:///x.db",
    ] {
        let err = database_path(bad).expect_err(bad);
        assert!(matches!(err, DataAccessError::Invalid(_)), "{bad}: {err:?}");
        assert!(!err.to_string().contains(":p@"), "password leaked: {err}");
    }
}

#[test]
fn the_schema_is_at_version_9() {
    assert_eq!(latest_schema_version(), 9);
}

fn settings_for(path: &Path, auto_migrate: bool) -> Settings {
    let mut settings = Settings::defaults(crate::config::Service::Api);
    settings.database.url = format!("sqlite:///{}", path.display());
    settings.database.auto_migrate = auto_migrate;
    settings.database.pool_size = 2;
    settings
}

#[tokio::test]
async fn without_auto_migrate_an_old_schema_names_db_sync() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The parent folders do not exist yet: opening creates them.
    let path = dir.path().join("nested/deeper/glance.db");
    let err = open(&settings_for(&path, false))
        .await
        .err()
        .expect("unmigrated");
    assert!(err.to_string().contains("glance-api db-sync"), "{err}");
    assert!(err.to_string().contains("schema version 0"), "{err}");

    db_sync(&settings_for(&path, false)).await.expect("db-sync");
    let da = open(&settings_for(&path, false)).await.expect("migrated");
    da.health().await.expect("healthy");
    // db-sync is idempotent.
    db_sync(&settings_for(&path, false))
        .await
        .expect("db-sync again");
}

#[tokio::test]
async fn auto_migrate_creates_glance_tables() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("glance.db");
    open(&settings_for(&path, true)).await.expect("open");
    let conn = Connection::open(&path).expect("reopen");
    assert_eq!(applied_version(&conn), Ok(9));
    let revision: String = conn
        .query_row("SELECT version_num FROM alembic_version", [], |r| r.get(0))
        .expect("alembic revision");
    assert_eq!(revision, crate::data_access::glance_schema::GLANCE_HEAD);
    let mut tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'image%'")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("tables");
    tables.sort();
    let expected = [
        "image_locations",
        "image_members",
        "image_properties",
        "image_tags",
        "images",
    ];
    assert_eq!(tables, expected);
    let journal: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal mode");
    assert_eq!(journal, "wal");
}

/// Two backends on one file stand for two processes (glance-api and glance-registry): each has
/// its own writer thread, so only SQLite's locking and the schema keep them consistent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_on_one_file_keep_compare_and_set_and_members_unique() {
    use crate::domain::{
        ImageChanges, MemberStatus, NewImage, NewMember, RequestContext, Visibility,
    };
    use futures_util::future::join_all;

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("glance.db");
    let first = open(&settings_for(&path, true)).await.expect("open");
    let second = open(&settings_for(&path, true)).await.expect("open again");
    let admin = RequestContext::noauth("req".into());
    let values = NewImage {
        id: uuid::Uuid::new_v4().to_string(),
        name: None,
        status: ImageStatus::Queued,
        visibility: Visibility::Shared,
        disk_format: None,
        container_format: None,
        owner: Some("owner".into()),
        min_disk: 0,
        min_ram: 0,
        protected: false,
        os_hidden: false,
        properties: Default::default(),
        tags: Vec::new(),
    };
    let image = first.image_create(&admin, values).await.expect("create");

    let updates = (0..8).map(|i| {
        let da = if i % 2 == 0 { &first } else { &second };
        let changes = ImageChanges {
            status: Some(ImageStatus::Saving),
            ..ImageChanges::default()
        };
        da.image_update(&admin, &image.id, changes, false, Some(ImageStatus::Queued))
    });
    let results = join_all(updates).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .all(|r| matches!(r, Ok(_) | Err(DataAccessError::Conflict(_)))));

    let creates = (0..8).map(|i| {
        let da = if i % 2 == 0 { &first } else { &second };
        let member = NewMember {
            image_id: image.id.clone(),
            member: "p2".into(),
            can_share: false,
            status: MemberStatus::Pending,
        };
        da.image_member_create(&admin, member)
    });
    let results = join_all(creates).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .all(|r| matches!(r, Ok(_) | Err(DataAccessError::Duplicate(_)))));
    assert_eq!(second.image_member_count(&admin, &image.id).await, Ok(1));
}

#[tokio::test]
async fn the_live_member_index_rejects_a_second_live_row() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("glance.db");
    open(&settings_for(&path, true)).await.expect("open");
    let conn = Connection::open(&path).expect("connect");
    conn.execute_batch(
        "INSERT INTO images (id, status, visibility, created_at, deleted) \
         VALUES ('i', 'queued', 'shared', '2026-01-01 00:00:00.000000', 0);
         INSERT INTO image_members (image_id, member, status, created_at, deleted) \
         VALUES ('i', 'p', 'pending', '2026-01-01 00:00:00.000000', 0);",
    )
    .expect("first live row");
    let second = conn.execute(
        "INSERT INTO image_members (image_id, member, status, created_at, deleted) \
         VALUES ('i', 'p', 'pending', '2026-01-01 00:00:01.000000', 0)",
        [],
    );
    assert!(
        second.as_ref().is_err_and(rows::is_unique_violation),
        "{second:?}"
    );
}
