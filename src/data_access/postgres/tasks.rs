//! `task_create`, `task_get`, `task_update` and `task_get_all` on PostgreSQL.

use deadpool_postgres::{GenericClient, Object};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::images::now;
use super::params::PgParam;
use super::pg_error;
use crate::data_access::sql::{Dialect, Statement};
use crate::data_access::task_sql::{self, check_visible, not_found};
use crate::data_access::{DaResult, DataAccessError};
use crate::domain::{NewTask, RequestContext, Task, TaskChanges, TaskQuery, TaskStatus, Timestamp};

fn task_from_row(row: &Row) -> DaResult<Task> {
    let get = |i: usize| -> DaResult<Option<String>> { row.try_get(i).map_err(pg_error) };
    let ts = |i: usize| -> DaResult<Option<Timestamp>> { row.try_get(i).map_err(pg_error) };
    let required = |value: Option<String>, what: &str| {
        value.ok_or_else(|| DataAccessError::Backend(format!("task row without {what}")))
    };
    let status = required(get(2)?, "status")?;
    Ok(Task {
        id: required(get(0)?, "id")?,
        task_type: required(get(1)?, "type")?,
        status: task_sql::parse_status(&status)?,
        owner: required(get(3)?, "owner")?,
        expires_at: ts(4)?,
        created_at: ts(5)?
            .ok_or_else(|| DataAccessError::Backend("task row without created_at".into()))?,
        updated_at: ts(6)?,
        image_id: get(7)?,
        request_id: get(8)?,
        user_id: get(9)?,
        input: task_sql::parse_json(get(10)?),
        result: task_sql::parse_json(get(11)?),
        message: get(12)?,
    })
}

async fn query<C: GenericClient>(client: &C, statement: Statement) -> DaResult<Vec<Task>> {
    let params: Vec<PgParam<'_>> = statement.params.iter().map(PgParam).collect();
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
    let prepared = client
        .prepare_cached(&statement.sql)
        .await
        .map_err(pg_error)?;
    let rows = client.query(&prepared, &refs).await.map_err(pg_error)?;
    rows.iter().map(task_from_row).collect()
}

async fn fetch<C: GenericClient>(client: &C, task_id: &str) -> DaResult<Option<Task>> {
    let statement = task_sql::get_statement(Dialect::Postgres, task_id);
    Ok(query(client, statement).await?.into_iter().next())
}

pub async fn get<C: GenericClient>(
    client: &C,
    ctx: &RequestContext,
    task_id: &str,
) -> DaResult<Task> {
    let task = fetch(client, task_id)
        .await?
        .ok_or_else(|| not_found(task_id))?;
    check_visible(ctx, task)
}

pub async fn create(client: &mut Object, ctx: &RequestContext, values: NewTask) -> DaResult<Task> {
    let txn = client.transaction().await.map_err(pg_error)?;
    let now = now();
    let inserted = txn
        .execute(
            "INSERT INTO tasks (id, type, status, owner, created_at, updated_at, deleted, \
             image_id, request_id, user_id) \
             VALUES ($1, $2, 'pending', $3, $4, $4, FALSE, $5, $6, $7)",
            &[
                &values.id,
                &values.task_type,
                &values.owner,
                &now,
                &values.image_id,
                &values.request_id,
                &values.user_id,
            ],
        )
        .await;
    match inserted.map_err(pg_error) {
        Ok(_) => {}
        Err(DataAccessError::Duplicate(_)) => {
            return Err(DataAccessError::Duplicate(format!(
                "Task ID {} already exists",
                values.id
            )))
        }
        Err(err) => return Err(err),
    }
    txn.execute(
        "INSERT INTO task_info (task_id, input) VALUES ($1, $2)",
        &[&values.id, &values.input.to_string()],
    )
    .await
    .map_err(pg_error)?;
    let task = get(&txn, ctx, &values.id).await?;
    txn.commit().await.map_err(pg_error)?;
    Ok(task)
}

pub async fn update(
    client: &mut Object,
    ctx: &RequestContext,
    task_id: &str,
    values: TaskChanges,
    from_status: Option<TaskStatus>,
) -> DaResult<Task> {
    let txn = client.transaction().await.map_err(pg_error)?;
    // Lock the row, so a compare-and-set on the status cannot interleave with another.
    txn.execute("SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE", &[&task_id])
        .await
        .map_err(pg_error)?;
    let current = get(&txn, ctx, task_id).await?;
    if from_status.is_some_and(|from| from != current.status) {
        return Err(DataAccessError::Conflict(format!(
            "task {task_id} is {}, not {}",
            current.status,
            from_status.map_or("", TaskStatus::as_str)
        )));
    }
    let status = values.status.map(TaskStatus::as_str);
    txn.execute(
        "UPDATE tasks SET updated_at = $2, status = COALESCE($3, status), \
         expires_at = COALESCE($4, expires_at) WHERE id = $1",
        &[&task_id, &now(), &status, &values.expires_at],
    )
    .await
    .map_err(pg_error)?;
    if values.message.is_some() || values.result.is_some() {
        let result = values.result.as_ref().map(|r| r.to_string());
        txn.execute(
            "UPDATE task_info SET message = COALESCE($2, message), \
             result = COALESCE($3, result) WHERE task_id = $1",
            &[&task_id, &values.message, &result],
        )
        .await
        .map_err(pg_error)?;
    }
    let task = get(&txn, ctx, task_id).await?;
    txn.commit().await.map_err(pg_error)?;
    Ok(task)
}

pub async fn get_all(
    client: &Object,
    ctx: &RequestContext,
    query_: &TaskQuery,
) -> DaResult<Vec<Task>> {
    let marker = match &query_.marker {
        Some(id) => Some(
            fetch(client, id)
                .await?
                .filter(|t| crate::domain::task_visible(ctx, t))
                .ok_or_else(|| not_found(id))?,
        ),
        None => None,
    };
    let statement = task_sql::list_statement(Dialect::Postgres, ctx, query_, marker.as_ref());
    query(client, statement).await
}
