//! Plan regressions fail here, not in production: each list case of the scale profile
//! (docs/performance.md, "Scale") is run with `EXPLAIN (ANALYZE)` on 20,000 images, as the
//! statement the backend sends (`image_list_statement`), once as a custom plan and once as the
//! generic plan a cached statement switches to. A page of 20 must be read from indexes in
//! order: no sequential scan of the image, member or tag tables, and no plan node handling (returning,
//! or reading and dropping) more than `MAX_ROWS` rows (a sort of every visible image, or a walk over every row before a deep
//! marker, handles thousands).

use std::collections::BTreeMap;

use glance_rs::data_access::open;
use glance_rs::data_access::postgres::image_list_statement;
use glance_rs::data_access::sql::{planned_per_call, SqlParam};
use glance_rs::domain::{
    CmpOp, ImageQuery, MemberStatusFilter, RequestContext, SortDir, SortKey, ValueMatch,
    Visibility, VisibilityFilter,
};
use serde_json::Value;

use crate::conformance::{admin, user};
use crate::support::postgres::{execute, fresh_database, settings_for};

const IMAGES: usize = 20_000;
/// Deleted images newer than every live one (Glance keeps their rows until `db purge`; a CI
/// cloud makes and drops images all day): the first page must not walk them.
const DELETED: usize = 3_000;
/// 5 % of the images: a page of 20 read in order touches a few hundred rows at most here.
const MAX_ROWS: f64 = 1_000.0;
/// A page filtered by a tag or a property on 2 % of the images, walked along its rows' index
/// (schema version 8): ~20 rows for an admin, ~40 for the member (who sees half the images). A
/// walk along the images probing per image handles 1,000 (admin) or 2,000 (member);
/// reading every image with the tag or property and sorting them, 400.
const MAX_WALKED_ROWS: f64 = 200.0;
/// Images a walked page of 20 may read (schema version 9): the walk decides on the copies of
/// visibility and owner its index holds, so it reads the page's images and a few over (the
/// tag's twin check, a deleted image), not the 40 the member here (who sees half the images)
/// read when each walked row's image had to be read to learn whether it may see it.
const MAX_WALKED_IMAGE_PROBES: f64 = 30.0;

/// 20,000 images one second apart: a quarter each private, shared, public, community, owned by
/// 100 projects; names in another order than creation; tags `t0`…`t9` and property
/// `os_distro` `d0`…`d9` (10 % each); 20 images `saving`, the rest `active`; two member rows on every shared image for other projects
/// (10,000 rows, so a scan of them costs what it would in a cloud), a second tag `r0`…`r49`
/// and property `os_version` `v0`…`v49` (2 % each, as the scale profile's), and project `probe`
/// (owning nothing) a member of 33 shared images; then `DELETED` public images, deleted.
fn seed_sql() -> String {
    format!(
        "INSERT INTO images (id, name, size, status, created_at, updated_at, deleted, \
           disk_format, container_format, owner, min_disk, min_ram, protected, visibility, \
           os_hidden) \
         SELECT format('00000000-0000-4000-8000-%s', lpad(i::text, 12, '0')), \
           'img-' || lpad(((i * 7919) % {IMAGES})::text, 6, '0'), i, \
           CASE WHEN i % 1000 = 7 THEN 'saving' ELSE 'active' END, \
           timestamp '2020-01-01' + i * interval '1 second', \
           timestamp '2020-01-01' + i * interval '1 second', false, 'raw', 'bare', \
           'p' || (i % 100), 0, 0, false, \
           (ARRAY['private', 'shared', 'public', 'community'])[i % 4 + 1]::image_visibility, false \
         FROM generate_series(1, {IMAGES}) AS i; \
         INSERT INTO image_tags (image_id, value, created_at, deleted) \
         SELECT id, 't' || (right(id, 5)::int % 10), created_at, false FROM images \
         UNION ALL SELECT id, 'r' || (right(id, 5)::int % 50), created_at, false FROM images; \
         INSERT INTO image_properties (image_id, name, value, created_at, deleted) \
         SELECT id, 'os_distro', 'd' || (right(id, 5)::int % 10), created_at, false FROM images \
         UNION ALL \
         SELECT id, 'os_version', 'v' || (right(id, 5)::int % 50), created_at, false FROM images; \
         INSERT INTO image_members (image_id, member, can_share, created_at, deleted, status) \
         SELECT id, 'p' || ((right(id, 5)::int + m) % 100), false, created_at, false, 'accepted' \
         FROM images, generate_series(1, 2) AS m WHERE visibility = 'shared'; \
         INSERT INTO image_members (image_id, member, can_share, created_at, deleted, status) \
         SELECT id, 'probe', false, created_at, false, 'accepted' \
         FROM images WHERE right(id, 5)::int % 4 = 1 AND right(id, 5)::int % 600 = 1; \
         INSERT INTO images (id, name, size, status, created_at, updated_at, deleted_at, \
           deleted, disk_format, container_format, owner, min_disk, min_ram, protected, \
           visibility, os_hidden) \
         SELECT format('00000000-0000-4000-9000-%s', lpad(i::text, 12, '0')), 'gone', i, \
           'deleted', timestamp '2021-01-01' + i * interval '1 second', \
           timestamp '2021-01-01' + i * interval '1 second', \
           timestamp '2021-01-01' + i * interval '1 second', true, 'raw', 'bare', 'p1', 0, 0, \
           false, 'public'::image_visibility, false \
         FROM generate_series(1, {DELETED}) AS i; \
         ANALYZE"
    )
}

/// The query the API builds for `GET /v2/images?limit=20` plus `setup`.
fn page(setup: impl FnOnce(&mut ImageQuery)) -> ImageQuery {
    let mut query = ImageQuery {
        limit: Some(20),
        ..ImageQuery::default()
    };
    query.filters.os_hidden = Some(false);
    setup(&mut query);
    query
}

fn cases() -> Vec<(&'static str, ImageQuery)> {
    let deep = "00000000-0000-4000-8000-000000002002"; // public, 90 % deep in the default order
    let mut recovery = ImageQuery::default();
    recovery.filters.visibility = Some(VisibilityFilter::All);
    recovery.filters.status = Some(ValueMatch::Eq("saving".into()));
    recovery.filters.updated_at = vec![(CmpOp::Lt, glance_rs::domain::now())];
    recovery.member_status = MemberStatusFilter::All;
    vec![
        ("list 20", page(|_| {})),
        // Every node's recovery pass (src/recovery.rs), with no limit.
        ("status=saving, untouched (recovery)", recovery),
        (
            "sort=name:asc",
            page(|q| q.sort = vec![(SortKey::Name, SortDir::Asc)]),
        ),
        ("tag filter", page(|q| q.filters.tags = vec!["t2".into()])),
        (
            "tag filter (2 %)",
            page(|q| q.filters.tags = vec!["r6".into()]),
        ),
        (
            "tag filter (2 %) after a deep marker",
            page(|q| {
                q.filters.tags = vec!["r6".into()];
                // public, tagged r6, 90 % deep in the default order
                q.marker = Some("00000000-0000-4000-8000-000000002006".to_string());
            }),
        ),
        (
            "two tags, one on 2 % of images",
            page(|q| q.filters.tags = vec!["r6".into(), "t6".into()]),
        ),
        (
            "property filter",
            page(|q| {
                q.filters.properties =
                    BTreeMap::from([("os_distro".to_string(), "d2".to_string())]);
            }),
        ),
        (
            "property filter (2 %)",
            page(|q| {
                q.filters.properties =
                    BTreeMap::from([("os_version".to_string(), "v6".to_string())]);
            }),
        ),
        (
            "property filter (2 %) after a deep marker",
            page(|q| {
                q.filters.properties =
                    BTreeMap::from([("os_version".to_string(), "v6".to_string())]);
                q.marker = Some("00000000-0000-4000-8000-000000002006".to_string());
            }),
        ),
        (
            "visibility=shared&member_status=all",
            page(|q| {
                q.filters.visibility = Some(VisibilityFilter::Only(Visibility::Shared));
                q.member_status = MemberStatusFilter::All;
            }),
        ),
        (
            "marker 90 % deep",
            page(|q| q.marker = Some(deep.to_string())),
        ),
        (
            "sort=name:asc after a deep marker",
            page(|q| {
                q.sort = vec![(SortKey::Name, SortDir::Asc)];
                q.marker = Some(deep.to_string());
            }),
        ),
    ]
}

/// A statement value as an SQL literal for `EXECUTE` (test data only: quotes doubled).
fn literal(param: &SqlParam) -> String {
    let quoted = |text: &str| format!("'{}'", text.replace('\'', "''"));
    match param {
        SqlParam::Text(text) => quoted(text),
        SqlParam::BigInt(value) => value.to_string(),
        SqlParam::Int(value) => value.to_string(),
        SqlParam::Bool(value) => value.to_string(),
        SqlParam::Timestamp(at) => quoted(&at.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
        SqlParam::Visibility(visibility) => quoted(visibility.as_str()),
    }
}

/// A session of its own (the plan cache and `PREPARE q` are per session) and its driver task.
async fn connect(url: &str) -> (tokio_postgres::Client, tokio::task::JoinHandle<()>) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    (client, driver)
}

/// The statement's values as `EXECUTE q`'s argument list (empty without values).
fn execute_args(params: &[SqlParam]) -> String {
    let args: Vec<String> = params.iter().map(literal).collect();
    if args.is_empty() {
        String::new()
    } else {
        format!("({})", args.join(", "))
    }
}

/// `EXPLAIN (ANALYZE, FORMAT JSON)` of the statement as a prepared statement, with the plan
/// cache forced to `mode` (`force_custom_plan` or `force_generic_plan`).
async fn explain(url: &str, sql: &str, params: &[SqlParam], mode: &str) -> Value {
    let (client, driver) = connect(url).await;
    let args = execute_args(params);
    client
        .batch_execute(&format!("SET plan_cache_mode = {mode}; PREPARE q AS {sql}"))
        .await
        .expect("prepare");
    let messages = client
        .simple_query(&format!("EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE q{args}"))
        .await
        .expect("explain");
    drop(client);
    let _ = driver.await;
    let text = messages
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .expect("a plan");
    serde_json::from_str(&text).expect("JSON plan")
}

/// How often PostgreSQL planned a cached statement generically and afresh over `runs`
/// executions with the plan cache left to choose (`plan_cache_mode = auto`, the default): a
/// statement whose generic plan never wins is planned anew on every call.
async fn plan_choices(url: &str, sql: &str, params: &[SqlParam], runs: usize) -> (i64, i64) {
    let (client, driver) = connect(url).await;
    let args = execute_args(params);
    client
        .batch_execute(&format!("PREPARE q AS {sql}"))
        .await
        .expect("prepare");
    for _ in 0..runs {
        client
            .simple_query(&format!("EXECUTE q{args}"))
            .await
            .expect("execute");
    }
    let row = client
        .query_one(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = 'q'",
            &[],
        )
        .await
        .expect("plan counts");
    drop(client);
    let _ = driver.await;
    (row.get(0), row.get(1))
}

/// Every way the plan under `node` breaks the rule (no node handling more than `max_rows`
/// rows), as text.
fn violations(node: &Value, max_rows: f64, found: &mut Vec<String>) {
    let kind = node["Node Type"].as_str().unwrap_or("?");
    let relation = node["Relation Name"].as_str().unwrap_or("");
    if kind == "Seq Scan" && relation.starts_with("image") {
        found.push(format!("Seq Scan on {relation}"));
    }
    // Rows a node returned plus those it read and dropped (a walk past deleted rows or a
    // filter's misses), per loop.
    let rows = (node["Actual Rows"].as_f64().unwrap_or(0.0)
        + node["Rows Removed by Filter"].as_f64().unwrap_or(0.0))
        * node["Actual Loops"].as_f64().unwrap_or(1.0);
    if rows > max_rows {
        let on = node["Index Name"].as_str().unwrap_or(relation);
        found.push(format!("{kind} {on} handled {rows} rows"));
    }
    for child in node["Plans"].as_array().into_iter().flatten() {
        violations(child, max_rows, found);
    }
}

/// How many times the plan under `node` read a row of the images table (loops of its scans).
fn image_probes(node: &Value) -> f64 {
    let here = if node["Relation Name"].as_str() == Some("images") {
        node["Actual Loops"].as_f64().unwrap_or(1.0)
    } else {
        0.0
    };
    let below: f64 = (node["Plans"].as_array().into_iter().flatten())
        .map(image_probes)
        .sum();
    here + below
}

#[tokio::test]
async fn list_pages_are_read_from_indexes_in_order() {
    let (url, _guard) = fresh_database().await;
    let backend = open(&settings_for(&url)).await.expect("open");
    execute(&url, &seed_sql()).await;
    let callers: [(&str, RequestContext); 2] = [("admin", admin()), ("member", user("probe"))];
    let mut failures = Vec::new();
    for (who, ctx) in &callers {
        for (case, query) in cases() {
            let marker = match &query.marker {
                Some(id) => Some(backend.image_get(ctx, id, false).await.expect("marker")),
                None => None,
            };
            // The page must not be empty, or a plan that reads nothing would pass.
            let listed = backend.image_get_all(ctx, &query).await.expect("list");
            assert!(
                listed.len() >= 10,
                "{who} {case}: only {} images",
                listed.len()
            );
            let statement = image_list_statement(ctx, &query, marker.as_ref()).expect("statement");
            let max_rows = if case.contains("filter (2 %)") {
                MAX_WALKED_ROWS
            } else {
                MAX_ROWS
            };
            // A statement the backend plans on every call never meets its generic plan.
            let modes: &[&str] = if planned_per_call(&query) {
                &["force_custom_plan"]
            } else {
                &["force_custom_plan", "force_generic_plan"]
            };
            for mode in modes {
                let plan = explain(&url, &statement.sql, &statement.params, mode).await;
                let mut found = Vec::new();
                violations(&plan[0]["Plan"], max_rows, &mut found);
                let probes = image_probes(&plan[0]["Plan"]);
                if case.contains("filter (2 %)") && probes > MAX_WALKED_IMAGE_PROBES {
                    found.push(format!("read {probes} images for a page of 20"));
                }
                if !found.is_empty() {
                    failures.push(format!(
                        "{who} {case} ({mode}): {}\n{}",
                        found.join("; "),
                        serde_json::to_string_pretty(&plan).unwrap_or_default()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The first page, the call every client makes, must settle on a cached generic plan instead
/// of being planned on every call: planning cost more than executing it at a million images
/// while `LIMIT` was a parameter (docs/performance.md, "Scale").
#[tokio::test]
async fn the_first_page_keeps_a_generic_plan() {
    let (url, _guard) = fresh_database().await;
    let backend = open(&settings_for(&url)).await.expect("open");
    execute(&url, &seed_sql()).await;
    drop(backend);
    // A member's page is planned for its project each time where PostgreSQL's estimate for
    // that project's memberships makes a custom plan look cheaper; that is its choice to make.
    for (who, ctx) in [
        ("admin", admin()),
        ("project-less caller", RequestContext::default()),
    ] {
        let query = page(|_| {});
        let statement = image_list_statement(&ctx, &query, None).expect("statement");
        let (generic, custom) = plan_choices(&url, &statement.sql, &statement.params, 10).await;
        assert!(
            generic >= 4,
            "{who} list 20: {generic} generic and {custom} custom plans in 10 runs\n{}",
            statement.sql
        );
    }
}
