//! Image members. At most one live row per (image, member) — the partial unique index
//! `ix_image_members_live_pair` makes that hold even against other processes.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::images::mutable_image;
use super::rows::{self, from_sqlite, is_unique_violation, ts_text, MEMBER_COLUMNS};
use crate::data_access::sql::{Dialect, SqlBuilder, SqlParam};
use crate::data_access::{DaResult, DataAccessError};
use crate::domain::{Member, MemberChanges, MemberQuery, NewMember, RequestContext};

fn duplicate(values: &NewMember) -> DataAccessError {
    DataAccessError::Duplicate(format!(
        "Member {} already exists for image {}",
        values.member, values.image_id
    ))
}

fn not_found(member_id: i64) -> DataAccessError {
    DataAccessError::NotFound(format!("No membership found with ID {member_id}"))
}

/// Member rows the caller may see (Glance's `_image_member_find`): admins all, others rows of
/// images their project owns or rows naming their project.
pub fn find(conn: &Connection, ctx: &RequestContext, query: &MemberQuery) -> DaResult<Vec<Member>> {
    find_rows(conn, ctx, query, None)
}

fn find_rows(
    conn: &Connection,
    ctx: &RequestContext,
    query: &MemberQuery,
    member_id: Option<i64>,
) -> DaResult<Vec<Member>> {
    let mut b = SqlBuilder::new(Dialect::Sqlite);
    b.sql("SELECT ")
        .sql(MEMBER_COLUMNS)
        .sql(" FROM image_members JOIN images ON images.id = image_members.image_id WHERE 1 = 1");
    if let Some(id) = member_id {
        b.sql(" AND image_members.id = ")
            .param(SqlParam::BigInt(id));
    }
    if let Some(image_id) = &query.image_id {
        b.sql(" AND image_members.image_id = ")
            .param(SqlParam::Text(image_id.clone()));
    }
    if let Some(member) = &query.member {
        b.sql(" AND image_members.member = ")
            .param(SqlParam::Text(member.clone()));
    }
    if let Some(status) = query.status {
        b.sql(" AND image_members.status = ")
            .param(SqlParam::Text(status.as_str().to_string()));
    }
    if !query.include_deleted {
        b.sql(" AND image_members.deleted = 0");
    }
    if !ctx.is_admin {
        match &ctx.project_id {
            Some(project) => {
                b.sql(" AND (images.owner = ")
                    .param(SqlParam::Text(project.clone()))
                    .sql(" OR image_members.member = ")
                    .param(SqlParam::Text(project.clone()))
                    .sql(")");
            }
            None => {
                b.sql(" AND 1 = 0");
            }
        }
    }
    b.sql(" ORDER BY image_members.id");
    rows::query_all(conn, b.finish(), rows::member_from_row)
}

/// One member row by id, if the caller may see it (deleted rows included).
fn visible_member(conn: &Connection, ctx: &RequestContext, member_id: i64) -> DaResult<Member> {
    let query = MemberQuery {
        include_deleted: true,
        ..MemberQuery::default()
    };
    find_rows(conn, ctx, &query, Some(member_id))?
        .into_iter()
        .next()
        .ok_or_else(|| not_found(member_id))
}

fn member_by_id(conn: &Connection, member_id: i64) -> DaResult<Member> {
    let sql = format!("SELECT {MEMBER_COLUMNS} FROM image_members WHERE image_members.id = ?1");
    let mut stmt = conn.prepare_cached(&sql).map_err(from_sqlite)?;
    let mut rows = stmt.query([member_id]).map_err(from_sqlite)?;
    match rows.next().map_err(from_sqlite)? {
        Some(row) => rows::member_from_row(row),
        None => Err(not_found(member_id)),
    }
}

/// Add a member; a live row → Duplicate; the latest soft-deleted row for the pair is revived.
pub fn create(tx: &Transaction<'_>, ctx: &RequestContext, values: NewMember) -> DaResult<Member> {
    mutable_image(tx, ctx, &values.image_id)?;
    let now = ts_text(&rows::now());
    let rows_for_pair =
        |deleted: bool| -> DaResult<Option<i64>> {
            tx.prepare_cached(
            "SELECT id FROM image_members WHERE image_id = ?1 AND member = ?2 AND deleted = ?3 \
             ORDER BY id DESC LIMIT 1",
        )
        .and_then(|mut s| {
            s.query_row(params![values.image_id, values.member, deleted], |r| r.get(0))
                .optional()
        })
        .map_err(from_sqlite)
        };
    if rows_for_pair(false)?.is_some() {
        return Err(duplicate(&values));
    }
    let id = match rows_for_pair(true)? {
        Some(id) => {
            tx.prepare_cached(
                "UPDATE image_members SET deleted = 0, deleted_at = NULL, status = ?2, \
                 can_share = ?3, updated_at = ?4 WHERE id = ?1",
            )
            .and_then(|mut s| s.execute(params![id, values.status.as_str(), values.can_share, now]))
            .map_err(|e| {
                if is_unique_violation(&e) {
                    duplicate(&values)
                } else {
                    from_sqlite(e)
                }
            })?;
            id
        }
        None => {
            tx.prepare_cached(
                "INSERT INTO image_members (image_id, member, can_share, status, created_at, \
                 updated_at, deleted) VALUES (?1, ?2, ?3, ?4, ?5, ?5, 0)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    values.image_id,
                    values.member,
                    values.can_share,
                    values.status.as_str(),
                    now
                ])
            })
            .map_err(|e| {
                if is_unique_violation(&e) {
                    duplicate(&values)
                } else {
                    from_sqlite(e)
                }
            })?;
            tx.last_insert_rowid()
        }
    };
    member_by_id(tx, id)
}

/// Change status/can_share (and un-delete, as Glance's `image_member_update` does).
pub fn update(
    tx: &Transaction<'_>,
    ctx: &RequestContext,
    member_id: i64,
    values: MemberChanges,
) -> DaResult<Member> {
    let current = visible_member(tx, ctx, member_id)?;
    let status = values.status.unwrap_or(current.status);
    let can_share = values.can_share.unwrap_or(current.can_share);
    tx.prepare_cached(
        "UPDATE image_members SET status = ?2, can_share = ?3, updated_at = ?4, deleted = 0, \
         deleted_at = NULL WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            member_id,
            status.as_str(),
            can_share,
            ts_text(&rows::now())
        ])
    })
    .map_err(|e| {
        if is_unique_violation(&e) {
            DataAccessError::Duplicate(format!(
                "Member {} already exists for image {}",
                current.member, current.image_id
            ))
        } else {
            from_sqlite(e)
        }
    })?;
    member_by_id(tx, member_id)
}

/// Soft-delete a live member row. Only the image's owner (or an admin) may.
pub fn delete(tx: &Transaction<'_>, ctx: &RequestContext, member_id: i64) -> DaResult<()> {
    let member = visible_member(tx, ctx, member_id)?;
    if member.deleted {
        return Err(not_found(member_id));
    }
    mutable_image(tx, ctx, &member.image_id)?;
    tx.prepare_cached(
        "UPDATE image_members SET deleted = 1, deleted_at = ?2, updated_at = ?2 WHERE id = ?1",
    )
    .and_then(|mut s| s.execute(params![member_id, ts_text(&rows::now())]))
    .map_err(from_sqlite)?;
    Ok(())
}

pub fn count(conn: &Connection, image_id: &str) -> DaResult<i64> {
    if image_id.is_empty() {
        return Err(DataAccessError::Invalid(
            "Image id is required.".to_string(),
        ));
    }
    conn.prepare_cached("SELECT COUNT(*) FROM image_members WHERE image_id = ?1 AND deleted = 0")
        .and_then(|mut s| s.query_row([image_id], |r| r.get(0)))
        .map_err(from_sqlite)
}
