//! Image tags: live rows in insertion order, deduplicated by the application as in Glance.

use rusqlite::{params, Connection, Transaction};

use super::images::{mutable_image, visible_image};
use super::rows::{self, from_sqlite, ts_text};
use crate::data_access::{DaResult, DataAccessError};
use crate::domain::{RequestContext, Timestamp};

fn live_tags(conn: &Connection, image_id: &str) -> DaResult<Vec<String>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT value FROM image_tags WHERE image_id = ?1 AND deleted = 0 \
             GROUP BY value ORDER BY MIN(id)",
        )
        .map_err(from_sqlite)?;
    let tags = stmt
        .query_map([image_id], |row| row.get(0))
        .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
        .map_err(from_sqlite)?;
    Ok(tags)
}

fn insert(tx: &Transaction<'_>, image_id: &str, value: &str, now: &Timestamp) -> DaResult<()> {
    tx.prepare_cached(
        "INSERT INTO image_tags (image_id, value, created_at, updated_at, deleted) \
         VALUES (?1, ?2, ?3, ?3, 0)",
    )
    .and_then(|mut s| s.execute(params![image_id, value, ts_text(now)]))
    .map_err(from_sqlite)?;
    Ok(())
}

/// Soft-delete the live rows of one tag; returns how many there were.
fn delete(tx: &Transaction<'_>, image_id: &str, value: &str, now: &Timestamp) -> DaResult<usize> {
    tx.prepare_cached(
        "UPDATE image_tags SET deleted = 1, deleted_at = ?3, updated_at = ?3 \
         WHERE image_id = ?1 AND value = ?2 AND deleted = 0",
    )
    .and_then(|mut s| s.execute(params![image_id, value, ts_text(now)]))
    .map_err(from_sqlite)
}

/// Glance's `image_tag_set_all`: insert the missing tags in the given order, soft-delete the
/// ones not given.
pub fn set_all_in(
    tx: &Transaction<'_>,
    image_id: &str,
    tags: &[String],
    now: &Timestamp,
) -> DaResult<()> {
    let existing = live_tags(tx, image_id)?;
    let mut created: Vec<&str> = Vec::new();
    for tag in tags {
        if !created.contains(&tag.as_str()) && !existing.contains(tag) {
            insert(tx, image_id, tag, now)?;
            created.push(tag);
        }
    }
    for tag in &existing {
        if !tags.contains(tag) {
            delete(tx, image_id, tag, now)?;
        }
    }
    Ok(())
}

pub fn get_all(conn: &Connection, ctx: &RequestContext, image_id: &str) -> DaResult<Vec<String>> {
    visible_image(conn, ctx, image_id, false)?;
    live_tags(conn, image_id)
}

pub fn create(
    tx: &Transaction<'_>,
    ctx: &RequestContext,
    image_id: &str,
    value: &str,
) -> DaResult<()> {
    let image = mutable_image(tx, ctx, image_id)?;
    if !image.tags.iter().any(|t| t == value) {
        insert(tx, image_id, value, &rows::now())?;
    }
    Ok(())
}

pub fn delete_one(
    tx: &Transaction<'_>,
    ctx: &RequestContext,
    image_id: &str,
    value: &str,
) -> DaResult<()> {
    mutable_image(tx, ctx, image_id)?;
    if delete(tx, image_id, value, &rows::now())? == 0 {
        return Err(DataAccessError::NotFound(format!(
            "Tag {value} not found for image {image_id}"
        )));
    }
    Ok(())
}

pub fn set_all(
    tx: &Transaction<'_>,
    ctx: &RequestContext,
    image_id: &str,
    tags: &[String],
) -> DaResult<()> {
    mutable_image(tx, ctx, image_id)?;
    set_all_in(tx, image_id, tags, &rows::now())
}
