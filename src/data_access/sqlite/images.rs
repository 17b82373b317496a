//! Image rows: create, get, list, update (with properties, tags and locations in the same
//! transaction) and destroy. Blocking functions run on the worker threads.

use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::rows::{self, from_sqlite, ts_text};
use super::{locations, tags};
use crate::data_access::sql::{self, Dialect, SqlBuilder, Statement};
use crate::data_access::{DaResult, DataAccessError};
use crate::domain::policy::{is_image_mutable, is_image_visible};
use crate::domain::{
    Image, ImageChanges, ImageQuery, ImageStatus, NewImage, RequestContext, Timestamp,
};

pub fn not_found(image_id: &str) -> DataAccessError {
    DataAccessError::NotFound(format!("No image found with ID {image_id}"))
}

/// Glance's `_normalize_locations`: non-admins see no locations of a deactivated image.
fn hide_locations(ctx: &RequestContext, mut image: Image) -> Image {
    if image.status == ImageStatus::Deactivated && !ctx.is_admin {
        image.locations.clear();
    }
    image
}

/// Glance's `_image_get`: missing → NotFound; deleted → NotFound unless forced or admin;
/// invisible → Forbidden.
pub fn visible_image(
    conn: &Connection,
    ctx: &RequestContext,
    image_id: &str,
    force_show_deleted: bool,
) -> DaResult<Image> {
    if image_id.chars().count() > 36 {
        return Err(not_found(image_id));
    }
    let (image, caller_is_member) =
        rows::fetch_image(conn, ctx, image_id)?.ok_or_else(|| not_found(image_id))?;
    if image.deleted && !(force_show_deleted || ctx.is_admin) {
        return Err(not_found(image_id));
    }
    if !is_image_visible(ctx, &image, caller_is_member) {
        return Err(DataAccessError::Forbidden(format!(
            "Forbidding request, image {image_id} not visible"
        )));
    }
    Ok(hide_locations(ctx, image))
}

/// A live image the caller may change (Glance's `_check_mutate_authorization`).
pub fn mutable_image(conn: &Connection, ctx: &RequestContext, image_id: &str) -> DaResult<Image> {
    let image = visible_image(conn, ctx, image_id, false)?;
    if image.deleted {
        return Err(not_found(image_id));
    }
    if !is_image_mutable(ctx, &image) {
        return Err(DataAccessError::Forbidden(
            "You do not own this image".to_string(),
        ));
    }
    Ok(image)
}

pub fn get(
    conn: &Connection,
    ctx: &RequestContext,
    image_id: &str,
    force_show_deleted: bool,
) -> DaResult<Image> {
    visible_image(conn, ctx, image_id, force_show_deleted)
}

/// The statement `get_all` runs for `query` after `marker` (already fetched and visible).
pub fn list_statement(
    ctx: &RequestContext,
    query: &ImageQuery,
    marker: Option<&Image>,
) -> DaResult<Statement> {
    let mut b = SqlBuilder::new(Dialect::Sqlite);
    // Pick and sort the page's rows first, then aggregate the children of those rows only:
    // SQLite computes every result column before sorting, so the plain form would build the
    // aggregates of every matching image, not just of the page.
    rows::push_image_columns(&mut b, ctx);
    b.sql(" FROM (SELECT images.*");
    sql::push_image_list_body(&mut b, ctx, query, marker)?;
    b.sql(") AS images");
    sql::push_order_by(&mut b, &sql::sort_with_tie_breakers(&query.sort));
    Ok(b.finish())
}

pub fn get_all(
    conn: &Connection,
    ctx: &RequestContext,
    query: &ImageQuery,
) -> DaResult<Vec<Image>> {
    let marker = match &query.marker {
        Some(marker_id) => match visible_image(conn, ctx, marker_id, false) {
            Ok(image) => Some(image),
            Err(DataAccessError::NotFound(_) | DataAccessError::Forbidden(_)) => {
                return Err(not_found(marker_id))
            }
            Err(other) => return Err(other),
        },
        None => None,
    };
    let statement = list_statement(ctx, query, marker.as_ref())?;
    let found = rows::query_all(conn, statement, rows::image_from_row)?;
    Ok(found
        .into_iter()
        .map(|(image, _)| hide_locations(ctx, image))
        .collect())
}

pub fn create(tx: &Transaction<'_>, ctx: &RequestContext, values: NewImage) -> DaResult<Image> {
    let exists: Option<i64> = tx
        .prepare_cached("SELECT 1 FROM images WHERE id = ?1")
        .and_then(|mut s| s.query_row([&values.id], |r| r.get(0)).optional())
        .map_err(from_sqlite)?;
    if exists.is_some() {
        return Err(DataAccessError::Duplicate(format!(
            "Image ID {} already exists!",
            values.id
        )));
    }
    let now = rows::now();
    let owner = values.owner.filter(|o| !o.is_empty());
    tx.prepare_cached(
        "INSERT INTO images (id, name, status, visibility, disk_format, container_format, \
         owner, min_disk, min_ram, protected, os_hidden, created_at, updated_at, deleted) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, 0)",
    )
    .and_then(|mut s| {
        s.execute(params![
            values.id,
            values.name,
            values.status.as_str(),
            values.visibility.as_str(),
            values.disk_format,
            values.container_format,
            owner,
            values.min_disk,
            values.min_ram,
            values.protected,
            values.os_hidden,
            ts_text(&now),
        ])
    })
    .map_err(from_sqlite)?;
    set_properties(tx, &values.id, values.properties.iter(), &now)?;
    tags::set_all_in(tx, &values.id, &values.tags, &now)?;
    let (image, _) =
        rows::fetch_image(tx, ctx, &values.id)?.ok_or_else(|| not_found(&values.id))?;
    Ok(image)
}

/// Upsert properties; a soft-deleted row of the same name is revived.
fn set_properties<'a>(
    tx: &Transaction<'_>,
    image_id: &str,
    properties: impl Iterator<Item = (&'a String, &'a Option<String>)>,
    now: &Timestamp,
) -> DaResult<()> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO image_properties (image_id, name, value, created_at, updated_at, deleted) \
             VALUES (?1, ?2, ?3, ?4, ?4, 0) \
             ON CONFLICT (image_id, name) DO UPDATE SET value = excluded.value, deleted = 0, \
             deleted_at = NULL, updated_at = excluded.updated_at",
        )
        .map_err(from_sqlite)?;
    for (name, value) in properties {
        stmt.execute(params![image_id, name, value, ts_text(now)])
            .map_err(from_sqlite)?;
    }
    Ok(())
}

fn delete_property(tx: &Transaction<'_>, image_id: &str, name: &str, now: &str) -> DaResult<()> {
    tx.prepare_cached(
        "UPDATE image_properties SET deleted = 1, deleted_at = ?3, updated_at = ?3 \
         WHERE image_id = ?1 AND name = ?2 AND deleted = 0",
    )
    .and_then(|mut s| s.execute(params![image_id, name, now]))
    .map_err(from_sqlite)?;
    Ok(())
}

/// The `SET` list of an update: fixed column names and their new values.
fn column_changes(values: &ImageChanges) -> Vec<(&'static str, Value)> {
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Text);
    let int = |v: &Option<i64>| v.map_or(Value::Null, Value::Integer);
    let mut set: Vec<(&'static str, Value)> = Vec::new();
    let mut put = |column: &'static str, value: Value| set.push((column, value));
    if let Some(v) = &values.name {
        put("name", text(v));
    }
    if let Some(v) = values.status {
        put("status", Value::Text(v.as_str().to_string()));
    }
    if let Some(v) = values.visibility {
        put("visibility", Value::Text(v.as_str().to_string()));
    }
    if let Some(v) = &values.size {
        put("size", int(v));
    }
    if let Some(v) = &values.virtual_size {
        put("virtual_size", int(v));
    }
    if let Some(v) = &values.disk_format {
        put("disk_format", text(v));
    }
    if let Some(v) = &values.container_format {
        put("container_format", text(v));
    }
    if let Some(v) = &values.checksum {
        put("checksum", text(v));
    }
    if let Some(v) = &values.os_hash_algo {
        put("os_hash_algo", text(v));
    }
    if let Some(v) = &values.os_hash_value {
        put("os_hash_value", text(v));
    }
    if let Some(v) = &values.owner {
        put("owner", text(&v.clone().filter(|o| !o.is_empty())));
    }
    if let Some(v) = values.min_disk {
        put("min_disk", Value::Integer(i64::from(v)));
    }
    if let Some(v) = values.min_ram {
        put("min_ram", Value::Integer(i64::from(v)));
    }
    if let Some(v) = values.protected {
        put("protected", Value::Integer(i64::from(v)));
    }
    if let Some(v) = values.os_hidden {
        put("os_hidden", Value::Integer(i64::from(v)));
    }
    set
}

pub fn update(
    tx: &Transaction<'_>,
    ctx: &RequestContext,
    image_id: &str,
    values: ImageChanges,
    purge_props: bool,
    from_state: Option<ImageStatus>,
) -> DaResult<Image> {
    let current = mutable_image(tx, ctx, image_id)?;
    // The writer's IMMEDIATE transaction holds every other writer off: checked here, the
    // properties cannot change before this update commits.
    sql::check_expected_properties(&values, &current.properties)?;
    let now = rows::now();
    let now_text = ts_text(&now);

    let mut sql = String::from("UPDATE images SET updated_at = ?1");
    let mut args: Vec<Value> = vec![Value::Text(now_text.clone()), Value::Text(image_id.into())];
    for (column, value) in column_changes(&values) {
        args.push(value);
        sql.push_str(&format!(", {column} = ?{}", args.len()));
    }
    sql.push_str(" WHERE id = ?2 AND deleted = 0");
    if let Some(from) = from_state {
        args.push(Value::Text(from.as_str().to_string()));
        sql.push_str(&format!(" AND status = ?{}", args.len()));
    }
    let updated = tx
        .prepare_cached(&sql)
        .and_then(|mut s| s.execute(rusqlite::params_from_iter(args)))
        .map_err(from_sqlite)?;
    if updated == 0 {
        let wanted = values.status.map_or("None", ImageStatus::as_str);
        let from = from_state.map_or("None", ImageStatus::as_str);
        return Err(DataAccessError::Conflict(format!(
            "cannot transition from {} to {wanted} in update (wanted from_state={from})",
            current.status
        )));
    }

    if purge_props {
        for name in current.properties.keys() {
            if !values.set_properties.contains_key(name) {
                delete_property(tx, image_id, name, &now_text)?;
            }
        }
    }
    set_properties(tx, image_id, values.set_properties.iter(), &now)?;
    for name in &values.remove_properties {
        delete_property(tx, image_id, name, &now_text)?;
    }
    if let Some(new_tags) = &values.tags {
        tags::set_all_in(tx, image_id, new_tags, &now)?;
    }
    for location in &values.add_locations {
        locations::insert(tx, image_id, location, &now)?;
    }
    let (image, _) = rows::fetch_image(tx, ctx, image_id)?.ok_or_else(|| not_found(image_id))?;
    Ok(hide_locations(ctx, image))
}

/// Soft-delete the image and every child row with one timestamp. The status is left as the
/// caller set it (`deleted`, or `pending_delete` for a delayed delete).
pub fn destroy(tx: &Transaction<'_>, ctx: &RequestContext, image_id: &str) -> DaResult<Image> {
    let image = mutable_image(tx, ctx, image_id)?;
    let now = ts_text(&rows::now());
    let statements = [
        "UPDATE images SET deleted = 1, deleted_at = ?2, updated_at = ?2 WHERE id = ?1",
        "UPDATE image_properties SET deleted = 1, deleted_at = ?2, updated_at = ?2 \
         WHERE image_id = ?1 AND deleted = 0",
        "UPDATE image_tags SET deleted = 1, deleted_at = ?2, updated_at = ?2 \
         WHERE image_id = ?1 AND deleted = 0",
        "UPDATE image_members SET deleted = 1, deleted_at = ?2, updated_at = ?2 \
         WHERE image_id = ?1 AND deleted = 0",
        "UPDATE image_locations SET deleted = 1, status = 'deleted', deleted_at = ?2, \
         updated_at = ?2 WHERE image_id = ?1 AND deleted = 0",
    ];
    for statement in statements {
        tx.prepare_cached(statement)
            .and_then(|mut s| s.execute(params![image_id, now]))
            .map_err(from_sqlite)?;
    }
    Ok(image)
}
