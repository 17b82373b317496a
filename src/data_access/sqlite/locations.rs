//! Image locations (`image_locations`: `value` is the URL, `meta_data` a JSON object).
//! A location is live while `deleted = 0`; marking it deleted or pending_delete retires it.

use rusqlite::{params, Transaction};

use super::images::mutable_image;
use super::rows::{self, from_sqlite, ts_text};
use crate::data_access::{DaResult, DataAccessError};
use crate::domain::{Location, LocationStatus, NewLocation, RequestContext, Timestamp};

fn metadata_text(metadata: &serde_json::Map<String, serde_json::Value>) -> DaResult<String> {
    serde_json::to_string(metadata)
        .map_err(|e| DataAccessError::Invalid(format!("Invalid location metadata: {e}")))
}

fn not_found(image_id: &str, location_id: i64) -> DataAccessError {
    DataAccessError::NotFound(format!(
        "No location found with ID {location_id} from image {image_id}"
    ))
}

pub fn insert(
    tx: &Transaction<'_>,
    image_id: &str,
    location: &NewLocation,
    now: &Timestamp,
) -> DaResult<Location> {
    let deleted = location.status != LocationStatus::Active;
    let deleted_at = deleted.then(|| ts_text(now));
    let metadata = metadata_text(&location.metadata)?;
    tx.prepare_cached(
        "INSERT INTO image_locations (image_id, value, meta_data, status, created_at, \
         updated_at, deleted, deleted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            image_id,
            location.url,
            metadata,
            location.status.as_str(),
            ts_text(now),
            deleted,
            deleted_at,
        ])
    })
    .map_err(from_sqlite)?;
    Ok(Location {
        id: tx.last_insert_rowid(),
        url: location.url.clone(),
        metadata: location.metadata.clone(),
        status: location.status,
    })
}

pub fn add(
    tx: &Transaction<'_>,
    ctx: &RequestContext,
    image_id: &str,
    location: NewLocation,
) -> DaResult<Location> {
    mutable_image(tx, ctx, image_id)?;
    insert(tx, image_id, &location, &rows::now())
}

/// Glance's `_image_location_update`: a status of deleted or pending_delete retires the row.
pub fn update(
    tx: &Transaction<'_>,
    ctx: &RequestContext,
    image_id: &str,
    location: Location,
) -> DaResult<()> {
    mutable_image(tx, ctx, image_id)?;
    let now = ts_text(&rows::now());
    let deleted = location.status != LocationStatus::Active;
    let deleted_at = deleted.then(|| now.clone());
    let metadata = metadata_text(&location.metadata)?;
    let changed = tx
        .prepare_cached(
            "UPDATE image_locations SET value = ?3, meta_data = ?4, status = ?5, deleted = ?6, \
             updated_at = ?7, deleted_at = ?8 WHERE id = ?1 AND image_id = ?2",
        )
        .and_then(|mut s| {
            s.execute(params![
                location.id,
                image_id,
                location.url,
                metadata,
                location.status.as_str(),
                deleted,
                now,
                deleted_at,
            ])
        })
        .map_err(from_sqlite)?;
    if changed == 0 {
        return Err(not_found(image_id, location.id));
    }
    Ok(())
}

pub fn delete(
    tx: &Transaction<'_>,
    ctx: &RequestContext,
    image_id: &str,
    location_id: i64,
    status: LocationStatus,
) -> DaResult<()> {
    if status == LocationStatus::Active {
        return Err(DataAccessError::Invalid(
            "The status of deleted image location can only be set to 'pending_delete' or \
             'deleted'"
                .to_string(),
        ));
    }
    mutable_image(tx, ctx, image_id)?;
    let now = ts_text(&rows::now());
    let changed = tx
        .prepare_cached(
            "UPDATE image_locations SET deleted = 1, status = ?3, updated_at = ?4, \
             deleted_at = ?4 WHERE id = ?1 AND image_id = ?2",
        )
        .and_then(|mut s| s.execute(params![location_id, image_id, status.as_str(), now]))
        .map_err(from_sqlite)?;
    if changed == 0 {
        return Err(not_found(image_id, location_id));
    }
    Ok(())
}
