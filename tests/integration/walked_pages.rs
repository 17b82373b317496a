//! Schema versions 8 and 9, on both SQL backends: tag and property rows carry their image's
//! `created_at` (kept by triggers), so a page filtered by a tag or a property is walked along
//! their index in list order (src/data_access/sql/walk.rs). Tags and properties written by
//! plain SQL (real Glance sharing the database) are listed in order, across a marker, and a
//! second live row of one tag on one image (Glance's table has no unique key on it) lists the
//! image once. Schema version 9: the rows also carry their image's visibility and owner, which
//! a member's walk decides on; they follow the image whoever changes it.

use glance_rs::data_access::DataAccess;
use glance_rs::domain::{Image, ImageChanges, ImageQuery, Visibility};

use crate::conformance::{admin, create, new_image, user};

/// Three images, the oldest tagged `blue` by the backend, then `sql` run with `{one}` and
/// `{two}` replaced by the ids of the other two, and `unset` the number of tag and property
/// rows whose copies of `created_at`, `visibility` and `owner` differ from their image's.
async fn check<F, G>(da: &dyn DataAccess, run_sql: F, unset: G)
where
    F: AsyncFn(String),
    G: AsyncFn() -> usize,
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

    // A member's walk decides on the rows' copies of visibility and owner: the backend makes
    // one image private, plain SQL gives another to project `q` as a private image.
    let (q, r) = (user("q"), user("r"));
    let tagged = page(20, None);
    let seen = da.image_get_all(&r, &tagged).await.expect("list");
    assert_eq!(listed(seen), [&ids[2], &ids[1], &ids[0]].map(String::clone));
    let private = ImageChanges {
        visibility: Some(Visibility::Private),
        ..ImageChanges::default()
    };
    (da.image_update(&admin, &ids[1], private, false, None).await).expect("make private");
    run_sql(format!(
        "UPDATE images SET visibility = 'private', owner = 'q' WHERE id = '{}'",
        ids[2]
    ))
    .await;
    assert_eq!(unset().await, 0, "rows whose copies lag their image");
    let seen = da.image_get_all(&r, &tagged).await.expect("list");
    assert_eq!(listed(seen), [ids[0].clone()]);
    let seen = da.image_get_all(&q, &tagged).await.expect("list");
    assert_eq!(listed(seen), [ids[2].clone(), ids[0].clone()]);
    by_property.marker = None;
    by_property.limit = Some(20);
    let seen = da.image_get_all(&r, &by_property).await.expect("list");
    assert_eq!(listed(seen), [ids[0].clone()]);
    let seen = da.image_get_all(&q, &by_property).await.expect("list");
    assert_eq!(listed(seen), [ids[2].clone(), ids[0].clone()]);
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
                 WHERE (t.glance_rs_image_created_at, t.glance_rs_image_visibility, \
                 t.glance_rs_image_owner) IS DISTINCT FROM (i.created_at, i.visibility, i.owner) \
                 UNION ALL SELECT 1 FROM image_properties p JOIN images i ON i.id = p.image_id \
                 WHERE (p.glance_rs_image_created_at, p.glance_rs_image_visibility, \
                 p.glance_rs_image_owner) IS DISTINCT FROM (i.created_at, i.visibility, i.owner)",
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
                     ON i.id = t.image_id WHERE t.glance_rs_image_created_at IS NOT i.created_at \
                     OR t.glance_rs_image_visibility IS NOT i.visibility \
                     OR t.glance_rs_image_owner IS NOT i.owner) \
                     + (SELECT COUNT(*) FROM image_properties p JOIN images i \
                     ON i.id = p.image_id WHERE p.glance_rs_image_created_at IS NOT i.created_at \
                     OR p.glance_rs_image_visibility IS NOT i.visibility \
                     OR p.glance_rs_image_owner IS NOT i.owner)",
                    [],
                    |r| r.get(0),
                )
                .expect("count");
            usize::try_from(unset).unwrap_or(usize::MAX)
        },
    )
    .await;
}

/// A tag written while another transaction changes its image's visibility copies the value
/// that commits: its trigger waits for the image's row lock (`FOR NO KEY UPDATE`) rather than
/// copy the visibility about to be replaced, which would hide the image from members' tag
/// pages for good.
#[cfg(feature = "direct-postgres")]
#[tokio::test]
async fn postgres_a_tag_written_during_a_visibility_change_copies_the_new_one() {
    use crate::support::postgres::{count_rows, fresh_database, settings_for};
    let (url, _guard) = fresh_database().await;
    let backend = glance_rs::data_access::open(&settings_for(&url))
        .await
        .expect("open");
    let id = create(backend.as_ref(), new_image(Some("p"), Visibility::Private))
        .await
        .id;
    let connect = async || {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(connection);
        client
    };
    let changer = connect().await;
    changer
        .batch_execute(&format!(
            "BEGIN; UPDATE images SET visibility = 'public' WHERE id = '{id}'"
        ))
        .await
        .expect("change visibility");
    let tagger = connect().await;
    let insert = format!(
        "INSERT INTO image_tags (image_id, value, created_at, deleted) \
         VALUES ('{id}', 'raced', now(), false)"
    );
    let tagging = tokio::spawn(async move { tagger.batch_execute(&insert).await });
    // Wait until the tag's insert waits for the image's row lock, then commit the change.
    let waiting = "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                   AND query LIKE 'INSERT INTO image_tags%'";
    let mut waited = 0;
    while count_rows(&url, waiting).await == 0 {
        waited += 1;
        assert!(waited < 500, "the tag's insert never waited for the image");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    changer.batch_execute("COMMIT").await.expect("commit");
    (tagging.await.expect("join")).expect("insert tag");
    let copied = count_rows(
        &url,
        &format!(
            "SELECT 1 FROM image_tags WHERE image_id = '{id}' AND value = 'raced' \
             AND glance_rs_image_visibility = 'public'"
        ),
    )
    .await;
    assert_eq!(
        copied, 1,
        "the tag row copied the visibility being replaced"
    );
    let stranger = user("q");
    let mut query = ImageQuery {
        limit: Some(20),
        ..ImageQuery::default()
    };
    query.filters.tags = vec!["raced".into()];
    let seen = backend
        .image_get_all(&stranger, &query)
        .await
        .expect("list");
    assert_eq!(
        seen.len(),
        1,
        "a public image missing from a member's tag page"
    );
}
