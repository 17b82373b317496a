//! Conversions between SQLite values and domain values, the one image SELECT (row plus
//! aggregated properties, tags, locations and the caller's membership), and error mapping.

use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, Row};

use crate::data_access::sql::{Dialect, SqlBuilder, SqlParam, Statement};
use crate::data_access::{DaResult, DataAccessError};
use crate::domain::{
    self, Image, ImageStatus, Location, LocationStatus, Member, MemberStatus, RequestContext,
    Timestamp, Visibility,
};

const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.6f";

/// Now, truncated to what the database keeps (microseconds), so a returned value equals a
/// re-read one.
pub fn now() -> Timestamp {
    let now = domain::now();
    let micros = now.and_utc().timestamp_micros();
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.naive_utc())
        .unwrap_or(now)
}

pub fn ts_text(ts: &Timestamp) -> String {
    ts.format(TIMESTAMP_FORMAT).to_string()
}

pub fn parse_ts(text: &str) -> DaResult<Timestamp> {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").map_err(|e| {
        DataAccessError::Backend(format!("bad timestamp {text:?} in the database: {e}"))
    })
}

fn parse_opt_ts(text: Option<String>) -> DaResult<Option<Timestamp>> {
    text.as_deref().map(parse_ts).transpose()
}

pub fn to_value(param: SqlParam) -> Value {
    match param {
        SqlParam::Text(text) => Value::Text(text),
        SqlParam::BigInt(n) => Value::Integer(n),
        SqlParam::Int(n) => Value::Integer(i64::from(n)),
        SqlParam::Bool(b) => Value::Integer(i64::from(b)),
        SqlParam::Timestamp(ts) => Value::Text(ts_text(&ts)),
        SqlParam::Visibility(v) => Value::Text(v.as_str().to_string()),
    }
}

pub fn from_sqlite(err: rusqlite::Error) -> DataAccessError {
    match err.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            DataAccessError::Unavailable(format!("the database is busy: {err}"))
        }
        _ => DataAccessError::Backend(format!("sqlite: {err}")),
    }
}

pub fn is_unique_violation(err: &rusqlite::Error) -> bool {
    err.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
}

fn parse_enum<T>(text: &str, parse: fn(&str) -> Option<T>, what: &str) -> DaResult<T> {
    parse(text)
        .ok_or_else(|| DataAccessError::Backend(format!("unknown {what} {text:?} in the database")))
}

fn bad_json(what: &str, err: serde_json::Error) -> DataAccessError {
    DataAccessError::Backend(format!("bad {what} aggregate: {err}"))
}

/// `SELECT … FROM images` of `push_image_columns`.
pub fn push_image_select(b: &mut SqlBuilder, ctx: &RequestContext) {
    push_image_columns(b, ctx);
    b.sql(" FROM images");
}

/// `SELECT` of every image column, then JSON aggregates of the live children, then whether
/// the caller's project has a live member row (for `policy::is_image_visible`); the rows come
/// from a following `FROM` that names them `images`. The `+` on the children's `deleted`
/// keeps SQLite from searching them by the `deleted` index (every live row of every image)
/// instead of by `image_id`, which made a list quadratic in the number of images.
pub fn push_image_columns(b: &mut SqlBuilder, ctx: &RequestContext) {
    b.sql(
        "SELECT images.id, images.name, images.size, images.virtual_size, images.status, \
         images.visibility, images.disk_format, images.container_format, images.checksum, \
         images.os_hash_algo, images.os_hash_value, images.owner, images.min_disk, \
         images.min_ram, images.protected, images.os_hidden, images.created_at, \
         images.updated_at, images.deleted_at, images.deleted, \
         (SELECT json_group_object(p.name, p.value) FROM image_properties p \
          WHERE p.image_id = images.id AND +p.deleted = 0), \
         (SELECT json_group_array(t.value ORDER BY t.first_id) FROM \
          (SELECT value, MIN(id) AS first_id FROM image_tags \
           WHERE image_id = images.id AND deleted = 0 GROUP BY value) t), \
         (SELECT json_group_array(json_object('id', l.id, 'url', l.value, \
          'metadata', json(l.meta_data), 'status', l.status) ORDER BY l.id) \
          FROM image_locations l WHERE l.image_id = images.id AND +l.deleted = 0), ",
    );
    match crate::domain::policy::membership_project(ctx) {
        Some(project) => {
            b.sql(
                "(images.visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members m \
                 WHERE m.image_id = images.id AND m.deleted = 0 AND m.member = ",
            )
            .param(SqlParam::Text(project.to_string()))
            .sql("))");
        }
        None => {
            b.sql("0");
        }
    }
}

#[derive(serde::Deserialize)]
struct LocationJson {
    id: i64,
    url: String,
    metadata: serde_json::Map<String, serde_json::Value>,
    status: String,
}

/// An image row of `push_image_select`, and whether the caller is a member.
pub fn image_from_row(row: &Row<'_>) -> DaResult<(Image, bool)> {
    let get = |e: rusqlite::Error| from_sqlite(e);
    let properties: String = row.get(20).map_err(get)?;
    let tags: String = row.get(21).map_err(get)?;
    let locations: String = row.get(22).map_err(get)?;
    let locations: Vec<LocationJson> =
        serde_json::from_str(&locations).map_err(|e| bad_json("locations", e))?;
    let locations = locations
        .into_iter()
        .map(|l| {
            Ok(Location {
                id: l.id,
                url: l.url,
                metadata: l.metadata,
                status: parse_enum(&l.status, LocationStatus::parse, "location status")?,
            })
        })
        .collect::<DaResult<Vec<_>>>()?;
    let status: String = row.get(4).map_err(get)?;
    let visibility: String = row.get(5).map_err(get)?;
    let created_at: String = row.get(16).map_err(get)?;
    let image = Image {
        id: row.get(0).map_err(get)?,
        name: row.get(1).map_err(get)?,
        size: row.get(2).map_err(get)?,
        virtual_size: row.get(3).map_err(get)?,
        status: parse_enum(&status, ImageStatus::parse, "image status")?,
        visibility: parse_enum(&visibility, Visibility::parse, "visibility")?,
        disk_format: row.get(6).map_err(get)?,
        container_format: row.get(7).map_err(get)?,
        checksum: row.get(8).map_err(get)?,
        os_hash_algo: row.get(9).map_err(get)?,
        os_hash_value: row.get(10).map_err(get)?,
        owner: row.get(11).map_err(get)?,
        min_disk: row.get(12).map_err(get)?,
        min_ram: row.get(13).map_err(get)?,
        protected: row.get(14).map_err(get)?,
        os_hidden: row.get(15).map_err(get)?,
        created_at: parse_ts(&created_at)?,
        updated_at: parse_opt_ts(row.get(17).map_err(get)?)?,
        deleted_at: parse_opt_ts(row.get(18).map_err(get)?)?,
        deleted: row.get(19).map_err(get)?,
        properties: serde_json::from_str::<crate::domain::Properties>(&properties)
            .map_err(|e| bad_json("properties", e))?,
        tags: serde_json::from_str(&tags).map_err(|e| bad_json("tags", e))?,
        locations,
    };
    let caller_is_member: bool = row.get(23).map_err(get)?;
    Ok((image, caller_is_member))
}

/// Run a statement and map every row.
pub fn query_all<T>(
    conn: &Connection,
    statement: Statement,
    map: impl Fn(&Row<'_>) -> DaResult<T>,
) -> DaResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(&statement.sql).map_err(from_sqlite)?;
    let params = rusqlite::params_from_iter(statement.params.into_iter().map(to_value));
    let mut rows = stmt.query(params).map_err(from_sqlite)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(from_sqlite)? {
        out.push(map(row)?);
    }
    Ok(out)
}

/// The image with this id whatever its state, with the caller's membership; no checks.
pub fn fetch_image(
    conn: &Connection,
    ctx: &RequestContext,
    image_id: &str,
) -> DaResult<Option<(Image, bool)>> {
    let mut b = SqlBuilder::new(Dialect::Sqlite);
    push_image_select(&mut b, ctx);
    b.sql(" WHERE images.id = ")
        .param(SqlParam::Text(image_id.to_string()));
    Ok(query_all(conn, b.finish(), image_from_row)?
        .into_iter()
        .next())
}

pub const MEMBER_COLUMNS: &str = "image_members.id, image_members.image_id, \
    image_members.member, image_members.can_share, image_members.status, \
    image_members.created_at, image_members.updated_at, image_members.deleted";

pub fn member_from_row(row: &Row<'_>) -> DaResult<Member> {
    let get = |e: rusqlite::Error| from_sqlite(e);
    let status: String = row.get(4).map_err(get)?;
    let created_at: String = row.get(5).map_err(get)?;
    Ok(Member {
        id: row.get(0).map_err(get)?,
        image_id: row.get(1).map_err(get)?,
        member: row.get(2).map_err(get)?,
        can_share: row.get(3).map_err(get)?,
        status: parse_enum(&status, MemberStatus::parse, "member status")?,
        created_at: parse_ts(&created_at)?,
        updated_at: parse_opt_ts(row.get(6).map_err(get)?)?,
        deleted: row.get(7).map_err(get)?,
    })
}
