//! `task_create`, `task_get`, `task_update` and `task_get_all` on SQLite.

use rusqlite::{params, Connection, Row, Transaction};

use super::rows::{self, from_sqlite, is_unique_violation, parse_ts, query_all, ts_text};
use crate::data_access::sql::{Dialect, Statement};
use crate::data_access::task_sql::{self, check_visible, not_found};
use crate::data_access::{DaResult, DataAccessError};
use crate::domain::{NewTask, RequestContext, Task, TaskChanges, TaskQuery, TaskStatus};

fn task_from_row(row: &Row<'_>) -> DaResult<Task> {
    let get = |e: rusqlite::Error| from_sqlite(e);
    let status: String = row.get(2).map_err(get)?;
    let created_at: String = row.get(5).map_err(get)?;
    let opt_ts = |text: Option<String>| text.as_deref().map(parse_ts).transpose();
    Ok(Task {
        id: row.get(0).map_err(get)?,
        task_type: row.get(1).map_err(get)?,
        status: task_sql::parse_status(&status)?,
        owner: row.get(3).map_err(get)?,
        expires_at: opt_ts(row.get(4).map_err(get)?)?,
        created_at: parse_ts(&created_at)?,
        updated_at: opt_ts(row.get(6).map_err(get)?)?,
        image_id: row.get(7).map_err(get)?,
        request_id: row.get(8).map_err(get)?,
        user_id: row.get(9).map_err(get)?,
        input: task_sql::parse_json(row.get(10).map_err(get)?),
        result: task_sql::parse_json(row.get(11).map_err(get)?),
        message: row.get(12).map_err(get)?,
    })
}

fn fetch(conn: &Connection, task_id: &str) -> DaResult<Option<Task>> {
    let statement = task_sql::get_statement(Dialect::Sqlite, task_id);
    Ok(query_all(conn, statement, task_from_row)?
        .into_iter()
        .next())
}

pub fn get(conn: &Connection, ctx: &RequestContext, task_id: &str) -> DaResult<Task> {
    let task = fetch(conn, task_id)?.ok_or_else(|| not_found(task_id))?;
    check_visible(ctx, task)
}

pub fn create(tx: &Transaction<'_>, ctx: &RequestContext, values: NewTask) -> DaResult<Task> {
    let now = ts_text(&rows::now());
    let inserted = tx
        .prepare_cached(
            "INSERT INTO tasks (id, type, status, owner, created_at, updated_at, deleted, \
             image_id, request_id, user_id) VALUES (?1, ?2, 'pending', ?3, ?4, ?4, 0, ?5, ?6, ?7)",
        )
        .and_then(|mut s| {
            s.execute(params![
                values.id,
                values.task_type,
                values.owner,
                now,
                values.image_id,
                values.request_id,
                values.user_id
            ])
        });
    match inserted {
        Ok(_) => {}
        Err(err) if is_unique_violation(&err) => {
            return Err(DataAccessError::Duplicate(format!(
                "Task ID {} already exists",
                values.id
            )))
        }
        Err(err) => return Err(from_sqlite(err)),
    }
    tx.prepare_cached("INSERT INTO task_info (task_id, input) VALUES (?1, ?2)")
        .and_then(|mut s| s.execute(params![values.id, values.input.to_string()]))
        .map_err(from_sqlite)?;
    get(tx, ctx, &values.id)
}

pub fn update(
    tx: &Transaction<'_>,
    ctx: &RequestContext,
    task_id: &str,
    values: TaskChanges,
    from_status: Option<TaskStatus>,
) -> DaResult<Task> {
    let current = get(tx, ctx, task_id)?;
    if from_status.is_some_and(|from| from != current.status) {
        return Err(DataAccessError::Conflict(format!(
            "task {task_id} is {}, not {}",
            current.status,
            from_status.map_or("", TaskStatus::as_str)
        )));
    }
    let now = ts_text(&rows::now());
    tx.prepare_cached(
        "UPDATE tasks SET updated_at = ?2, status = COALESCE(?3, status), \
         expires_at = COALESCE(?4, expires_at) WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            task_id,
            now,
            values.status.map(TaskStatus::as_str),
            values.expires_at.as_ref().map(ts_text)
        ])
    })
    .map_err(from_sqlite)?;
    if values.message.is_some() || values.result.is_some() {
        tx.prepare_cached(
            "UPDATE task_info SET message = COALESCE(?2, message), \
             result = COALESCE(?3, result) WHERE task_id = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![
                task_id,
                values.message,
                values.result.as_ref().map(|r| r.to_string())
            ])
        })
        .map_err(from_sqlite)?;
    }
    get(tx, ctx, task_id)
}

pub fn get_all(conn: &Connection, ctx: &RequestContext, query: &TaskQuery) -> DaResult<Vec<Task>> {
    let marker = match &query.marker {
        Some(id) => Some(
            fetch(conn, id)?
                .filter(|t| crate::domain::task_visible(ctx, t))
                .ok_or_else(|| not_found(id))?,
        ),
        None => None,
    };
    let statement: Statement =
        task_sql::list_statement(Dialect::Sqlite, ctx, query, marker.as_ref());
    query_all(conn, statement, task_from_row)
}
