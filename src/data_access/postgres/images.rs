//! `image_create`, `image_get`, `image_get_all`, `image_update` and `image_destroy`.
//! Changes run in one transaction that first locks the image row, so concurrent updates
//! serialise on it while each upserts only the property rows it names.

use chrono::SubsecRound;
use deadpool_postgres::{GenericClient, Object, Transaction};
use tokio_postgres::types::ToSql;

use super::params::PgParam;
use super::rows::{
    image_from_row, select_image_by_id, IMAGE_CHILDREN, IMAGE_COLUMNS, MEMBERSHIP_HEAD,
    MEMBERSHIP_TAIL, NO_MEMBERSHIP,
};
use super::{children, pg_error};
use crate::data_access::sql::{
    planned_per_call, push_distinct, push_image_list_body, Dialect, SqlBuilder, SqlParam, Statement,
};
use crate::data_access::{DaResult, DataAccessError};
use crate::domain::policy::{is_image_mutable, is_image_visible, membership_project};
use crate::domain::{
    Image, ImageChanges, ImageQuery, ImageStatus, NewImage, RequestContext, Timestamp,
};

/// Statements kept per connection before list shapes stop being cached.
const MAX_CACHED_STATEMENTS: usize = 200;

/// Glance's import lock property, never purged by `purge_props` (its `atomic_props`).
const ATOMIC_PROPERTIES: &[&str] = &["os_glance_import_task"];

/// Now, at the microsecond precision PostgreSQL stores, so returned values equal stored ones.
pub fn now() -> Timestamp {
    crate::domain::now().trunc_subsecs(6)
}

pub fn not_found(image_id: &str) -> DataAccessError {
    DataAccessError::NotFound(format!("No image found with ID {image_id}"))
}

/// The image row and whether the caller is a live member, without any policy check.
async fn fetch<C: GenericClient>(
    client: &C,
    ctx: &RequestContext,
    image_id: &str,
    lock: bool,
) -> DaResult<Option<(Image, bool)>> {
    // Ids are VARCHAR(36); a longer one cannot exist (Glance answers ImageNotFound too).
    if image_id.chars().count() > 36 {
        return Ok(None);
    }
    let project = membership_project(ctx);
    let statement = client
        .prepare_cached(select_image_by_id(lock, project.is_some()))
        .await
        .map_err(pg_error)?;
    let row = match project {
        Some(project) => client.query_opt(&statement, &[&image_id, &project]).await,
        None => client.query_opt(&statement, &[&image_id]).await,
    }
    .map_err(pg_error)?;
    row.as_ref().map(image_from_row).transpose()
}

/// `_image_get`: missing or (unless shown) deleted → `NotFound`, invisible → `Forbidden`.
pub async fn load<C: GenericClient>(
    client: &C,
    ctx: &RequestContext,
    image_id: &str,
    force_show_deleted: bool,
    lock: bool,
) -> DaResult<Image> {
    let Some((image, caller_is_member)) = fetch(client, ctx, image_id, lock).await? else {
        return Err(not_found(image_id));
    };
    if image.deleted && !(force_show_deleted || ctx.is_admin) {
        return Err(not_found(image_id));
    }
    if !is_image_visible(ctx, &image, caller_is_member) {
        return Err(DataAccessError::Forbidden(format!(
            "Forbidding request, image {image_id} not visible"
        )));
    }
    Ok(image)
}

/// A live image the caller may change, its row locked (Glance's `_check_mutate`).
pub async fn load_mutable(
    txn: &Transaction<'_>,
    ctx: &RequestContext,
    image_id: &str,
) -> DaResult<Image> {
    let image = load(txn, ctx, image_id, false, true).await?;
    if image.deleted {
        return Err(not_found(image_id));
    }
    if !is_image_mutable(ctx, &image) {
        return Err(DataAccessError::Forbidden(
            "You do not own this image".into(),
        ));
    }
    Ok(image)
}

/// Locations are hidden from non-admins while the image is deactivated (Glance's
/// `_normalize_locations`).
fn for_caller(ctx: &RequestContext, mut image: Image) -> Image {
    if image.status == ImageStatus::Deactivated && !ctx.is_admin {
        image.locations.clear();
    }
    image
}

pub async fn get<C: GenericClient>(
    client: &C,
    ctx: &RequestContext,
    image_id: &str,
    force_show_deleted: bool,
    lock: bool,
) -> DaResult<Image> {
    let image = load(client, ctx, image_id, force_show_deleted, lock).await?;
    Ok(for_caller(ctx, image))
}

pub async fn create(
    client: &mut Object,
    ctx: &RequestContext,
    values: NewImage,
) -> DaResult<Image> {
    let txn = client.transaction().await.map_err(pg_error)?;
    let now = now();
    let owner = values.owner.as_deref().filter(|owner| !owner.is_empty());
    let statement = txn
        .prepare_cached(
            "INSERT INTO images (id, name, status, visibility, disk_format, container_format, \
             owner, min_disk, min_ram, protected, os_hidden, created_at, updated_at, deleted) \
             VALUES ($1, $2, $3, $4::text::image_visibility, $5, $6, $7, $8, $9, $10, $11, \
             $12, $12, FALSE)",
        )
        .await
        .map_err(pg_error)?;
    txn.execute(
        &statement,
        &[
            &values.id,
            &values.name,
            &values.status.as_str(),
            &values.visibility.as_str(),
            &values.disk_format,
            &values.container_format,
            &owner,
            &values.min_disk,
            &values.min_ram,
            &values.protected,
            &values.os_hidden,
            &now,
        ],
    )
    .await
    .map_err(|e| match pg_error(e) {
        DataAccessError::Duplicate(_) => {
            DataAccessError::Duplicate(format!("Image ID {} already exists!", values.id))
        }
        other => other,
    })?;
    upsert_properties(&txn, &values.id, &values.properties, now).await?;
    children::insert_tags(&txn, &values.id, &values.tags, now).await?;
    let image = fetch(&txn, ctx, &values.id, false).await?;
    txn.commit().await.map_err(pg_error)?;
    image
        .map(|(image, _)| image)
        .ok_or_else(|| not_found(&values.id))
}

/// Insert or overwrite properties; a soft-deleted row of the same name (UNIQUE(image_id,
/// name)) is revived.
async fn upsert_properties(
    txn: &Transaction<'_>,
    image_id: &str,
    properties: &crate::domain::Properties,
    now: Timestamp,
) -> DaResult<()> {
    if properties.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = properties.keys().map(String::as_str).collect();
    let values: Vec<Option<&str>> = properties.values().map(Option::as_deref).collect();
    let statement = txn
        .prepare_cached(
            "INSERT INTO image_properties (image_id, name, value, created_at, updated_at, deleted) \
             SELECT $1, u.name, u.value, $4, $4, FALSE FROM unnest($2::text[], $3::text[]) \
             AS u(name, value) \
             ON CONFLICT (image_id, name) DO UPDATE SET value = EXCLUDED.value, \
             deleted = FALSE, deleted_at = NULL, updated_at = EXCLUDED.updated_at",
        )
        .await
        .map_err(pg_error)?;
    txn.execute(&statement, &[&image_id, &names, &values, &now])
        .await
        .map_err(pg_error)?;
    Ok(())
}

/// Soft-delete the named live properties (`keep = false`) or all others (`keep = true`).
async fn delete_properties(
    txn: &Transaction<'_>,
    image_id: &str,
    names: &[&str],
    keep: bool,
    now: Timestamp,
) -> DaResult<()> {
    let sql = if keep {
        "UPDATE image_properties SET deleted = TRUE, deleted_at = $3, updated_at = $3 \
         WHERE image_id = $1 AND NOT deleted AND NOT (name = ANY($2::text[]))"
    } else {
        "UPDATE image_properties SET deleted = TRUE, deleted_at = $3, updated_at = $3 \
         WHERE image_id = $1 AND NOT deleted AND name = ANY($2::text[])"
    };
    let statement = txn.prepare_cached(sql).await.map_err(pg_error)?;
    txn.execute(&statement, &[&image_id, &names, &now])
        .await
        .map_err(pg_error)?;
    Ok(())
}

pub async fn update(
    client: &mut Object,
    ctx: &RequestContext,
    image_id: &str,
    values: ImageChanges,
    purge_props: bool,
    from_state: Option<ImageStatus>,
) -> DaResult<Image> {
    let txn = client.transaction().await.map_err(pg_error)?;
    let current = load_mutable(&txn, ctx, image_id).await?;
    // The image row is locked: its properties cannot change before this commits.
    crate::data_access::sql::check_expected_properties(&values, &current.properties)?;
    let now = now();
    let conflict = |current: ImageStatus| {
        let next = values.status.map_or("None", ImageStatus::as_str);
        let wanted = from_state.map_or("None", ImageStatus::as_str);
        DataAccessError::Conflict(format!(
            "cannot transition from {current} to {next} in update (wanted from_state={wanted})"
        ))
    };
    if from_state.is_some_and(|from| from != current.status) {
        return Err(conflict(current.status));
    }
    update_columns(&txn, image_id, &values, from_state, now)
        .await?
        .then_some(())
        .ok_or_else(|| conflict(current.status))?;

    upsert_properties(&txn, image_id, &values.set_properties, now).await?;
    if !values.remove_properties.is_empty() {
        let names: Vec<&str> = values
            .remove_properties
            .iter()
            .map(String::as_str)
            .collect();
        delete_properties(&txn, image_id, &names, false, now).await?;
    }
    if purge_props {
        let mut keep: Vec<&str> = values.set_properties.keys().map(String::as_str).collect();
        keep.extend_from_slice(ATOMIC_PROPERTIES);
        delete_properties(&txn, image_id, &keep, true, now).await?;
    }
    if let Some(tags) = &values.tags {
        children::replace_tags(&txn, image_id, tags, now).await?;
    }
    for location in &values.add_locations {
        children::insert_location(&txn, image_id, location, now).await?;
    }
    let updated = fetch(&txn, ctx, image_id, false).await?;
    txn.commit().await.map_err(pg_error)?;
    let (image, _) = updated.ok_or_else(|| not_found(image_id))?;
    Ok(for_caller(ctx, image))
}

/// `UPDATE images SET <the given columns>, updated_at` (guarded by `from_state`).
/// Returns whether the row was updated. Column names are fixed text; values are parameters.
async fn update_columns(
    txn: &Transaction<'_>,
    image_id: &str,
    values: &ImageChanges,
    from_state: Option<ImageStatus>,
    now: Timestamp,
) -> DaResult<bool> {
    let status = values.status.map(ImageStatus::as_str);
    let visibility = values.visibility.map(|v| v.as_str());
    let from = from_state.map(ImageStatus::as_str);
    let mut sql = String::from("UPDATE images SET updated_at = $2");
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&image_id, &now];
    fn push<'a>(
        sql: &mut String,
        params: &mut Vec<&'a (dyn ToSql + Sync)>,
        column: &str,
        cast: &str,
        value: &'a (dyn ToSql + Sync),
    ) {
        params.push(value);
        sql.push_str(&format!(", {column} = ${}{cast}", params.len()));
    }
    macro_rules! set {
        ($column:literal, $cast:literal, $value:expr) => {
            push(&mut sql, &mut params, $column, $cast, $value)
        };
    }
    if let Some(v) = &values.name {
        set!("name", "", v);
    }
    if let Some(v) = &status {
        set!("status", "", v);
    }
    if let Some(v) = &visibility {
        set!("visibility", "::text::image_visibility", v);
    }
    if let Some(v) = &values.size {
        set!("size", "", v);
    }
    if let Some(v) = &values.virtual_size {
        set!("virtual_size", "", v);
    }
    if let Some(v) = &values.disk_format {
        set!("disk_format", "", v);
    }
    if let Some(v) = &values.container_format {
        set!("container_format", "", v);
    }
    if let Some(v) = &values.checksum {
        set!("checksum", "", v);
    }
    if let Some(v) = &values.os_hash_algo {
        set!("os_hash_algo", "", v);
    }
    if let Some(v) = &values.os_hash_value {
        set!("os_hash_value", "", v);
    }
    if let Some(v) = &values.owner {
        set!("owner", "", v);
    }
    if let Some(v) = &values.min_disk {
        set!("min_disk", "", v);
    }
    if let Some(v) = &values.min_ram {
        set!("min_ram", "", v);
    }
    if let Some(v) = &values.protected {
        set!("protected", "", v);
    }
    if let Some(v) = &values.os_hidden {
        set!("os_hidden", "", v);
    }
    sql.push_str(" WHERE id = $1");
    if let Some(from) = &from {
        params.push(from);
        sql.push_str(&format!(" AND status = ${}", params.len()));
    }
    let statement = txn.prepare_cached(&sql).await.map_err(pg_error)?;
    let updated = txn.execute(&statement, &params).await.map_err(pg_error)?;
    Ok(updated == 1)
}

pub async fn destroy(client: &mut Object, ctx: &RequestContext, image_id: &str) -> DaResult<Image> {
    let txn = client.transaction().await.map_err(pg_error)?;
    let mut image = load_mutable(&txn, ctx, image_id).await?;
    let now = now();
    for sql in [
        "UPDATE images SET deleted = TRUE, deleted_at = $2, updated_at = $2 WHERE id = $1",
        "UPDATE image_properties SET deleted = TRUE, deleted_at = $2, updated_at = $2 \
         WHERE image_id = $1 AND NOT deleted",
        "UPDATE image_tags SET deleted = TRUE, deleted_at = $2, updated_at = $2 \
         WHERE image_id = $1 AND NOT deleted",
        "UPDATE image_members SET deleted = TRUE, deleted_at = $2, updated_at = $2 \
         WHERE image_id = $1 AND NOT deleted",
        "UPDATE image_locations SET deleted = TRUE, status = 'deleted', deleted_at = $2, \
         updated_at = $2 WHERE image_id = $1 AND NOT deleted",
    ] {
        let statement = txn.prepare_cached(sql).await.map_err(pg_error)?;
        txn.execute(&statement, &[&image_id, &now])
            .await
            .map_err(pg_error)?;
    }
    txn.commit().await.map_err(pg_error)?;
    image.deleted = true;
    image.deleted_at = Some(now);
    image.updated_at = Some(now);
    Ok(image)
}

/// The statement `get_all` runs for `query` with `marker` (the marker image, already fetched
/// and checked visible): public so the plan tests can `EXPLAIN` exactly what is sent.
pub fn list_statement(
    ctx: &RequestContext,
    query: &ImageQuery,
    marker: Option<&Image>,
) -> DaResult<Statement> {
    let mut b = SqlBuilder::new(Dialect::Postgres);
    b.sql("SELECT ");
    push_distinct(&mut b, query);
    b.sql(IMAGE_COLUMNS).sql(", ").sql(IMAGE_CHILDREN).sql(", ");
    match membership_project(ctx) {
        Some(project) => {
            b.sql(MEMBERSHIP_HEAD)
                .param(SqlParam::Text(project.to_string()))
                .sql(MEMBERSHIP_TAIL);
        }
        None => {
            b.sql(NO_MEMBERSHIP);
        }
    }
    push_image_list_body(&mut b, ctx, query, marker)?;
    Ok(b.finish())
}

pub async fn get_all(
    client: &mut Object,
    ctx: &RequestContext,
    query: &ImageQuery,
) -> DaResult<Vec<Image>> {
    let marker = match &query.marker {
        Some(marker_id) => match load(&*client, ctx, marker_id, false, false).await {
            Ok(image) => Some(image),
            Err(DataAccessError::Forbidden(_)) => return Err(not_found(marker_id)),
            Err(err) => return Err(err),
        },
        None => None,
    };
    let statement = list_statement(ctx, query, marker.as_ref())?;
    let params: Vec<PgParam<'_>> = statement.params.iter().map(PgParam).collect();
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
    let rows = if !planned_per_call(query) {
        let prepared = client
            .prepare_cached(&statement.sql)
            .await
            .map_err(pg_error)?;
        let rows = client.query(&prepared, &refs).await.map_err(pg_error)?;
        // List statements vary with the filters clients send (e.g. the length of an `in:`
        // list): past a bound, do not keep new shapes, so the per-connection cache cannot grow
        // forever.
        if client.statement_cache.size() > MAX_CACHED_STATEMENTS {
            client.statement_cache.remove(&statement.sql, &[]);
        }
        rows
    } else {
        // Planned for its values (`planned_per_call`): sessions keep generic plans
        // (`SESSION_DEFAULTS`), so this one statement asks for a custom plan, in a transaction
        // of its own so the setting cannot outlive it (a dropped transaction rolls back).
        let txn = client.transaction().await.map_err(pg_error)?;
        txn.batch_execute("SET LOCAL plan_cache_mode = force_custom_plan")
            .await
            .map_err(pg_error)?;
        let rows = txn
            .query(statement.sql.as_str(), &refs)
            .await
            .map_err(pg_error)?;
        txn.commit().await.map_err(pg_error)?;
        rows
    };
    let mut images = Vec::with_capacity(rows.len());
    for row in &rows {
        let (image, caller_is_member) = image_from_row(row)?;
        // The row-level `get_image` policy check Glance applies after the query.
        if is_image_visible(ctx, &image, caller_is_member) {
            images.push(for_caller(ctx, image));
        }
    }
    Ok(images)
}
