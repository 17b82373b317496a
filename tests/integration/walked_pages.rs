//! Schema version 8, on both SQL backends: tag and property rows carry their image's
//! `created_at` (kept by triggers), so a page filtered by a tag or a property is walked along
//! their index in list order (src/data_access/sql/walk.rs). Tags and properties written by
//! plain SQL (real Glance sharing the database) are listed in order, across a marker, and a
//! second live row of one tag on one image (Glance's table has no unique key on it) lists the
//! image once.

use glance_rs::data_access::DataAccess;
use glance_rs::domain::{Image, ImageQuery, Visibility};

use crate::conformance::{admin, create, new_image};

/// Three images, the oldest tagged `blue` by the backend, then `sql` run with `{one}` and
/// `{two}` replaced by the ids of the other two, and `unset` the number of tag and property
/// rows whose copy of `created_at` differs from their image's.
async fn check<F, G>(da: &dyn DataAccess, run_sql: F, unset: G)
where
    F: AsyncFnOnce(String),
    G: AsyncFnOnce() -> usize,
{
    let mut ids = Vec::new();
    for n in 0..3 {
        let mut values = new_image(Some("p"), Visibility::Public);
        if n == 0 {
            values.tags = vec!["blue".into()];
        }
        ids.push(create(da, values).await.id);
    }
    run_sql(format!(
        "INSERT INTO image_tags (image_id, value, created_at, deleted) VALUES \
         ('{one}', 'blue', '2030-01-01 00:00:00', false), \
         ('{two}', 'blue', '2030-01-01 00:00:00', false), \
         ('{one}', 'blue', '2030-01-01 00:00:00', false), \
         ('{two}', 'blue', '2030-01-01 00:00:00', true); \
         INSERT INTO image_properties (image_id, name, value, created_at, deleted) VALUES \
         ('{zero}', 'os_version', '12', '2030-01-01 00:00:00', false), \
         ('{one}', 'os_version', '12', '2030-01-01 00:00:00', true), \
         ('{two}', 'os_version', '12', '2030-01-01 00:00:00', false)",
        zero = ids[0],
        one = ids[1],
        two = ids[2]
    ))
    .await;
    assert_eq!(
        unset().await,
        0,
        "tag rows without their image's created_at"
    );
    let page = |limit: u32, marker: Option<&str>| {
        let mut query = ImageQuery {
            limit: Some(limit),
            marker: marker.map(str::to_string),
            ..ImageQuery::default()
        };
        query.filters.tags = vec!["blue".into()];
        query
    };
    let listed = |images: Vec<Image>| -> Vec<String> { images.into_iter().map(|i| i.id).collect() };
    let admin = admin();
    let all = da
        .image_get_all(&admin, &page(20, None))
        .await
        .expect("list");
    assert_eq!(listed(all), [&ids[2], &ids[1], &ids[0]].map(String::clone));
    let first = da
        .image_get_all(&admin, &page(2, None))
        .await
        .expect("list");
    assert_eq!(listed(first), [&ids[2], &ids[1]].map(String::clone));
    let rest = da
        .image_get_all(&admin, &page(2, Some(&ids[1])))
        .await
        .expect("list");
    assert_eq!(listed(rest), [ids[0].clone()]);
    let mut by_property = page(1, None);
    by_property.filters.tags.clear();
    (by_property.filters.properties).insert("os_version".into(), "12".into());
    let first = da.image_get_all(&admin, &by_property).await.expect("list");
    assert_eq!(listed(first), [ids[2].clone()]);
    by_property.marker = Some(ids[2].clone());
    let rest = da.image_get_all(&admin, &by_property).await.expect("list");
    assert_eq!(listed(rest), [ids[0].clone()]);
    // A value too long for the property index (PostgreSQL refuses B-tree entries over ~2,700
    // bytes) is stored, and a filter on it walks the images instead.
    let long = "é".repeat(3_000);
    let mut values = new_image(Some("p"), Visibility::Public);
    (values.properties).insert("long".into(), Some(long.clone()));
    let with_long = create(da, values).await.id;
    let mut by_long = page(20, None);
    by_long.filters.tags.clear();
    (by_long.filters.properties).insert("long".into(), long);
    let found = da.image_get_all(&admin, &by_long).await.expect("list");
    assert_eq!(listed(found), [with_long]);
}

#[cfg(feature = "direct-postgres")]
#[tokio::test]
async fn postgres_tag_pages_follow_tags_written_by_plain_sql() {
    use crate::support::postgres::{count_rows, execute, fresh_database, settings_for};
    let (url, _guard) = fresh_database().await;
    let backend = glance_rs::data_access::open(&settings_for(&url))
        .await
        .expect("open");
    check(
        backend.as_ref(),
        async |sql| execute(&url, &sql).await,
        async || {
            count_rows(
                &url,
                "SELECT 1 FROM image_tags t JOIN images i ON i.id = t.image_id \
                 WHERE t.glance_rs_image_created_at IS DISTINCT FROM i.created_at \
                 UNION ALL SELECT 1 FROM image_properties p JOIN images i ON i.id = p.image_id \
                 WHERE p.glance_rs_image_created_at IS DISTINCT FROM i.created_at",
            )
            .await
        },
    )
    .await;
}

#[cfg(feature = "direct-sqlite")]
#[tokio::test]
async fn sqlite_tag_pages_follow_tags_written_by_plain_sql() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("glance.db");
    let mut settings = glance_rs::config::Settings::defaults(glance_rs::config::Service::Api);
    settings.database.url = format!("sqlite:///{}", path.display());
    let da = glance_rs::data_access::sqlite::open(&settings)
        .await
        .expect("open");
    let connect = || rusqlite::Connection::open(&path).expect("connect");
    check(
        da.as_ref(),
        async |sql| connect().execute_batch(&sql).expect("tags by SQL"),
        async || {
            let unset: i64 = connect()
                .query_row(
                    "SELECT (SELECT COUNT(*) FROM image_tags t JOIN images i \
                     ON i.id = t.image_id WHERE t.glance_rs_image_created_at IS NOT i.created_at) \
                     + (SELECT COUNT(*) FROM image_properties p JOIN images i \
                     ON i.id = p.image_id WHERE p.glance_rs_image_created_at IS NOT i.created_at)",
                    [],
                    |r| r.get(0),
                )
                .expect("count");
            usize::try_from(unset).unwrap_or(usize::MAX)
        },
    )
    .await;
}
