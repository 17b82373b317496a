//! Tags, members and locations. Tag and location changes lock the image row first (as
//! `image_update` does), so a tag added twice at once is stored once and lock order is the same
//! everywhere. Member rows rely on the partial unique index of live rows instead.

use deadpool_postgres::{GenericClient, Object, Transaction};
use tokio_postgres::types::ToSql;

use super::images::{load_mutable, now};
use super::pg_error;
use super::rows::{member_from_row, metadata_to_text, MEMBER_COLUMNS};
use crate::data_access::{DaResult, DataAccessError};
use crate::domain::{
    Location, LocationStatus, Member, MemberChanges, MemberQuery, NewLocation, NewMember,
    RequestContext, Timestamp,
};

/// Insert `tags` in order, skipping repeats within the list.
pub async fn insert_tags(
    txn: &Transaction<'_>,
    image_id: &str,
    tags: &[String],
    now: Timestamp,
) -> DaResult<()> {
    let mut unique: Vec<&str> = Vec::with_capacity(tags.len());
    for tag in tags {
        if !unique.contains(&tag.as_str()) {
            unique.push(tag);
        }
    }
    if unique.is_empty() {
        return Ok(());
    }
    let statement = txn
        .prepare_cached(
            "INSERT INTO image_tags (image_id, value, created_at, updated_at, deleted) \
             SELECT $1, u.value, $3, $3, FALSE FROM unnest($2::text[]) WITH ORDINALITY \
             AS u(value, position) ORDER BY u.position",
        )
        .await
        .map_err(pg_error)?;
    txn.execute(&statement, &[&image_id, &unique, &now])
        .await
        .map_err(pg_error)?;
    Ok(())
}

async fn live_tags(txn: &Transaction<'_>, image_id: &str) -> DaResult<Vec<String>> {
    let statement = txn
        .prepare_cached(
            "SELECT value FROM image_tags WHERE image_id = $1 AND NOT deleted ORDER BY id",
        )
        .await
        .map_err(pg_error)?;
    let rows = txn
        .query(&statement, &[&image_id])
        .await
        .map_err(pg_error)?;
    rows.iter()
        .map(|row| row.try_get("value").map_err(pg_error))
        .collect()
}

/// `image_tag_set_all`: soft-delete live tags not in `tags`, insert the missing ones in order.
pub async fn replace_tags(
    txn: &Transaction<'_>,
    image_id: &str,
    tags: &[String],
    now: Timestamp,
) -> DaResult<()> {
    let statement = txn
        .prepare_cached(
            "UPDATE image_tags SET deleted = TRUE, deleted_at = $3, updated_at = $3 \
             WHERE image_id = $1 AND NOT deleted AND NOT (value = ANY($2::text[]))",
        )
        .await
        .map_err(pg_error)?;
    txn.execute(&statement, &[&image_id, &tags, &now])
        .await
        .map_err(pg_error)?;
    let existing = live_tags(txn, image_id).await?;
    let missing: Vec<String> = tags
        .iter()
        .filter(|tag| !existing.contains(tag))
        .cloned()
        .collect();
    insert_tags(txn, image_id, &missing, now).await
}

pub async fn tag_create(
    client: &mut Object,
    ctx: &RequestContext,
    image_id: &str,
    value: &str,
) -> DaResult<()> {
    let txn = client.transaction().await.map_err(pg_error)?;
    load_mutable(&txn, ctx, image_id).await?;
    if !live_tags(&txn, image_id)
        .await?
        .iter()
        .any(|tag| tag == value)
    {
        insert_tags(&txn, image_id, &[value.to_string()], now()).await?;
    }
    txn.commit().await.map_err(pg_error)
}

pub async fn tag_delete(
    client: &mut Object,
    ctx: &RequestContext,
    image_id: &str,
    value: &str,
) -> DaResult<()> {
    let txn = client.transaction().await.map_err(pg_error)?;
    load_mutable(&txn, ctx, image_id).await?;
    let statement = txn
        .prepare_cached(
            "UPDATE image_tags SET deleted = TRUE, deleted_at = $3, updated_at = $3 \
             WHERE image_id = $1 AND value = $2 AND NOT deleted",
        )
        .await
        .map_err(pg_error)?;
    let deleted = txn
        .execute(&statement, &[&image_id, &value, &now()])
        .await
        .map_err(pg_error)?;
    if deleted == 0 {
        return Err(DataAccessError::NotFound(format!(
            "Tag {value} not found on image {image_id}"
        )));
    }
    txn.commit().await.map_err(pg_error)
}

pub async fn tag_set_all(
    client: &mut Object,
    ctx: &RequestContext,
    image_id: &str,
    tags: &[String],
) -> DaResult<()> {
    let txn = client.transaction().await.map_err(pg_error)?;
    load_mutable(&txn, ctx, image_id).await?;
    replace_tags(&txn, image_id, tags, now()).await?;
    txn.commit().await.map_err(pg_error)
}

fn duplicate_member(values: &NewMember) -> DataAccessError {
    DataAccessError::Duplicate(format!(
        "Member {} already exists for image {}",
        values.member, values.image_id
    ))
}

/// Add a member (owner or admin only); a live row for the pair → `Duplicate`, else the newest
/// soft-deleted row is revived or a row inserted. The image row lock serialises creates for
/// one image; the partial unique index of live rows backs that up.
pub async fn member_create(
    client: &mut Object,
    ctx: &RequestContext,
    values: NewMember,
) -> DaResult<Member> {
    let txn = client.transaction().await.map_err(pg_error)?;
    load_mutable(&txn, ctx, &values.image_id).await?;
    let newest = txn
        .prepare_cached(
            "SELECT id, deleted FROM image_members WHERE image_id = $1 AND member = $2 \
             ORDER BY deleted, id DESC LIMIT 1",
        )
        .await
        .map_err(pg_error)?;
    let existing = txn
        .query_opt(&newest, &[&values.image_id, &values.member])
        .await
        .map_err(pg_error)?;
    let now = now();
    let status = values.status.as_str();
    let map_duplicate = |err| match pg_error(err) {
        DataAccessError::Duplicate(_) => duplicate_member(&values),
        other => other,
    };
    let row = match existing {
        Some(row) if !row.try_get::<_, bool>("deleted").map_err(pg_error)? => {
            return Err(duplicate_member(&values));
        }
        Some(row) => {
            let id: i32 = row.try_get("id").map_err(pg_error)?;
            let revive = txn
                .prepare_cached(&format!(
                    "UPDATE image_members m SET deleted = FALSE, deleted_at = NULL, \
                     status = $2, can_share = $3, updated_at = $4 WHERE m.id = $1 \
                     RETURNING {MEMBER_COLUMNS}"
                ))
                .await
                .map_err(pg_error)?;
            txn.query_one(&revive, &[&id, &status, &values.can_share, &now])
                .await
                .map_err(map_duplicate)?
        }
        None => {
            let insert = txn
                .prepare_cached(&format!(
                    "INSERT INTO image_members AS m (image_id, member, status, can_share, \
                     created_at, updated_at, deleted) VALUES ($1, $2, $3, $4, $5, $5, FALSE) \
                     RETURNING {MEMBER_COLUMNS}"
                ))
                .await
                .map_err(pg_error)?;
            let params: [&(dyn ToSql + Sync); 5] = [
                &values.image_id,
                &values.member,
                &status,
                &values.can_share,
                &now,
            ];
            txn.query_one(&insert, &params)
                .await
                .map_err(map_duplicate)?
        }
    };
    let member = member_from_row(&row)?;
    txn.commit().await.map_err(pg_error)?;
    Ok(member)
}

fn member_not_found(member_id: i64) -> DataAccessError {
    DataAccessError::NotFound(format!("No membership found with ID {member_id}"))
}

/// Non-admins may touch only rows of images they own or rows naming their project.
const MEMBER_ACCESS: &str = "(CAST($A AS boolean) OR i.owner = $P OR m.member = $P)";

fn member_access(admin: usize, project: usize) -> String {
    MEMBER_ACCESS
        .replace("$A", &format!("${admin}"))
        .replace("$P", &format!("${project}"))
}

pub async fn member_update(
    client: &Object,
    ctx: &RequestContext,
    member_id: i64,
    values: MemberChanges,
) -> DaResult<Member> {
    let id = i32::try_from(member_id).map_err(|_| member_not_found(member_id))?;
    let statement = client
        .prepare_cached(&format!(
            "UPDATE image_members m SET status = COALESCE($2, m.status), \
             can_share = COALESCE($3, m.can_share), updated_at = $4, deleted = FALSE, \
             deleted_at = NULL FROM images i WHERE m.id = $1 AND i.id = m.image_id AND {} \
             RETURNING {MEMBER_COLUMNS}",
            member_access(5, 6)
        ))
        .await
        .map_err(pg_error)?;
    let status = values.status.map(|s| s.as_str());
    let row = client
        .query_opt(
            &statement,
            &[
                &id,
                &status,
                &values.can_share,
                &now(),
                &ctx.is_admin,
                &ctx.project_id,
            ],
        )
        .await
        .map_err(pg_error)?;
    member_from_row(&row.ok_or_else(|| member_not_found(member_id))?)
}

/// Soft-delete a live member row: callers who cannot see the row get `NotFound`, those who
/// see it but do not own the image (the member itself) `Forbidden`.
pub async fn member_delete(
    client: &mut Object,
    ctx: &RequestContext,
    member_id: i64,
) -> DaResult<()> {
    let id = i32::try_from(member_id).map_err(|_| member_not_found(member_id))?;
    let txn = client.transaction().await.map_err(pg_error)?;
    let visible = txn
        .prepare_cached(&format!(
            "SELECT m.image_id, m.deleted FROM image_members m JOIN images i \
             ON i.id = m.image_id WHERE m.id = $1 AND {}",
            member_access(2, 3)
        ))
        .await
        .map_err(pg_error)?;
    let row = txn
        .query_opt(&visible, &[&id, &ctx.is_admin, &ctx.project_id])
        .await
        .map_err(pg_error)?
        .ok_or_else(|| member_not_found(member_id))?;
    if row.try_get::<_, bool>("deleted").map_err(pg_error)? {
        return Err(member_not_found(member_id));
    }
    let image_id: String = row.try_get("image_id").map_err(pg_error)?;
    load_mutable(&txn, ctx, &image_id).await?;
    let statement = txn
        .prepare_cached(
            "UPDATE image_members SET deleted = TRUE, deleted_at = $2, updated_at = $2 \
             WHERE id = $1",
        )
        .await
        .map_err(pg_error)?;
    txn.execute(&statement, &[&id, &now()])
        .await
        .map_err(pg_error)?;
    txn.commit().await.map_err(pg_error)
}

pub async fn member_find(
    client: &Object,
    ctx: &RequestContext,
    query: &MemberQuery,
) -> DaResult<Vec<Member>> {
    let statement = client
        .prepare_cached(&format!(
            "SELECT {MEMBER_COLUMNS} FROM image_members m JOIN images i ON i.id = m.image_id \
             WHERE (CAST($1 AS text) IS NULL OR m.image_id = $1) \
             AND (CAST($2 AS text) IS NULL OR m.member = $2) \
             AND (CAST($3 AS text) IS NULL OR m.status = $3) \
             AND (CAST($4 AS boolean) OR NOT m.deleted) AND {} ORDER BY m.id",
            member_access(5, 6)
        ))
        .await
        .map_err(pg_error)?;
    let status = query.status.map(|s| s.as_str());
    let rows = client
        .query(
            &statement,
            &[
                &query.image_id,
                &query.member,
                &status,
                &query.include_deleted,
                &ctx.is_admin,
                &ctx.project_id,
            ],
        )
        .await
        .map_err(pg_error)?;
    rows.iter().map(member_from_row).collect()
}

pub async fn member_count(client: &Object, _ctx: &RequestContext, image_id: &str) -> DaResult<i64> {
    if image_id.is_empty() {
        return Err(DataAccessError::Invalid("Image id is required.".into()));
    }
    let statement = client
        .prepare_cached(
            "SELECT COUNT(*) AS live FROM image_members WHERE image_id = $1 AND NOT deleted",
        )
        .await
        .map_err(pg_error)?;
    let row = client
        .query_one(&statement, &[&image_id])
        .await
        .map_err(pg_error)?;
    row.try_get("live").map_err(pg_error)
}

/// Insert one location and return it with its new id.
pub async fn insert_location<C: GenericClient>(
    client: &C,
    image_id: &str,
    location: &NewLocation,
    now: Timestamp,
) -> DaResult<Location> {
    let statement = client
        .prepare_cached(
            "INSERT INTO image_locations (image_id, value, meta_data, status, created_at, \
             updated_at, deleted) VALUES ($1, $2, $3, $4, $5, $5, FALSE) RETURNING id",
        )
        .await
        .map_err(pg_error)?;
    let metadata = metadata_to_text(&location.metadata);
    let row = client
        .query_one(
            &statement,
            &[
                &image_id,
                &location.url,
                &metadata,
                &location.status.as_str(),
                &now,
            ],
        )
        .await
        .map_err(pg_error)?;
    let id: i32 = row.try_get("id").map_err(pg_error)?;
    Ok(Location {
        id: i64::from(id),
        url: location.url.clone(),
        metadata: location.metadata.clone(),
        status: location.status,
    })
}

pub async fn location_add(
    client: &mut Object,
    ctx: &RequestContext,
    image_id: &str,
    location: NewLocation,
) -> DaResult<Location> {
    let txn = client.transaction().await.map_err(pg_error)?;
    load_mutable(&txn, ctx, image_id).await?;
    let added = insert_location(&txn, image_id, &location, now()).await?;
    txn.commit().await.map_err(pg_error)?;
    Ok(added)
}

fn location_not_found(location_id: i64, image_id: &str) -> DataAccessError {
    DataAccessError::NotFound(format!(
        "No location found with ID {location_id} from image {image_id}"
    ))
}

/// Set a location's url, metadata and status; a deleted or pending_delete status also
/// soft-deletes the row (Glance's `image_location_update`).
async fn write_location(
    txn: &Transaction<'_>,
    image_id: &str,
    location: &Location,
) -> DaResult<()> {
    let id = i32::try_from(location.id).map_err(|_| location_not_found(location.id, image_id))?;
    let now = now();
    let deleted = location.status != LocationStatus::Active;
    let deleted_at = deleted.then_some(now);
    let statement = txn
        .prepare_cached(
            "UPDATE image_locations SET value = $3, meta_data = $4, status = $5, deleted = $6, \
             updated_at = $7, deleted_at = $8 WHERE id = $1 AND image_id = $2",
        )
        .await
        .map_err(pg_error)?;
    let metadata = metadata_to_text(&location.metadata);
    let updated = txn
        .execute(
            &statement,
            &[
                &id,
                &image_id,
                &location.url,
                &metadata,
                &location.status.as_str(),
                &deleted,
                &now,
                &deleted_at,
            ],
        )
        .await
        .map_err(pg_error)?;
    if updated == 0 {
        return Err(location_not_found(location.id, image_id));
    }
    Ok(())
}

pub async fn location_update(
    client: &mut Object,
    ctx: &RequestContext,
    image_id: &str,
    location: Location,
) -> DaResult<()> {
    let txn = client.transaction().await.map_err(pg_error)?;
    load_mutable(&txn, ctx, image_id).await?;
    write_location(&txn, image_id, &location).await?;
    txn.commit().await.map_err(pg_error)
}

pub async fn location_delete(
    client: &mut Object,
    ctx: &RequestContext,
    image_id: &str,
    location_id: i64,
    status: LocationStatus,
) -> DaResult<()> {
    if status == LocationStatus::Active {
        return Err(DataAccessError::Invalid(
            "The status of deleted image location can only be set to 'pending_delete' or \
             'deleted'"
                .into(),
        ));
    }
    let txn = client.transaction().await.map_err(pg_error)?;
    load_mutable(&txn, ctx, image_id).await?;
    let id = i32::try_from(location_id).map_err(|_| location_not_found(location_id, image_id))?;
    let now = now();
    let statement = txn
        .prepare_cached(
            "UPDATE image_locations SET deleted = TRUE, status = $3, deleted_at = $4, \
             updated_at = $4 WHERE id = $1 AND image_id = $2 AND NOT deleted",
        )
        .await
        .map_err(pg_error)?;
    let updated = txn
        .execute(&statement, &[&id, &image_id, &status.as_str(), &now])
        .await
        .map_err(pg_error)?;
    if updated == 0 {
        return Err(location_not_found(location_id, image_id));
    }
    txn.commit().await.map_err(pg_error)
}
