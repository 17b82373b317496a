//! Backend-neutral SQL for Glance's `tasks` and `task_info` tables (`glance/db/sqlalchemy/api.py`
//! `task_*`), shared by the SQL backends like `sql` is for images: fixed column names, caller
//! values only as parameters.

use super::sql::{Dialect, SqlBuilder, SqlParam, Statement};
use super::{DaResult, DataAccessError};
use crate::domain::{RequestContext, SortDir, Task, TaskQuery, TaskSortKey, TaskStatus};

/// The columns every task SELECT reads, in this order (see each backend's `task_from_row`).
pub const TASK_SELECT: &str = "SELECT tasks.id, tasks.type, tasks.status, tasks.owner, \
    tasks.expires_at, tasks.created_at, tasks.updated_at, tasks.image_id, tasks.request_id, \
    tasks.user_id, task_info.input, task_info.result, task_info.message \
    FROM tasks LEFT JOIN task_info ON task_info.task_id = tasks.id";

/// One live task by id (visibility is checked on the row, so a hidden task can be told from
/// a missing one).
pub fn get_statement(dialect: Dialect, task_id: &str) -> Statement {
    let mut b = SqlBuilder::new(dialect);
    b.sql(TASK_SELECT)
        .sql(" WHERE tasks.id = ")
        .param(SqlParam::Text(task_id.to_string()))
        .sql(" AND tasks.deleted = ")
        .bool_literal(false);
    b.finish()
}

/// A page of live tasks the caller may see, filtered and sorted (then by id), after `marker`.
pub fn list_statement(
    dialect: Dialect,
    ctx: &RequestContext,
    query: &TaskQuery,
    marker: Option<&Task>,
) -> Statement {
    let mut b = SqlBuilder::new(dialect);
    b.sql(TASK_SELECT)
        .sql(" WHERE tasks.deleted = ")
        .bool_literal(false);
    if !ctx.is_admin {
        b.sql(" AND tasks.owner = ")
            .param(SqlParam::Text(ctx.project_id.clone().unwrap_or_default()));
    }
    if let Some(status) = query.status {
        b.sql(" AND tasks.status = ")
            .param(SqlParam::Text(status.as_str().to_string()));
    }
    if let Some(task_type) = &query.task_type {
        b.sql(" AND tasks.type = ")
            .param(SqlParam::Text(task_type.clone()));
    }
    if let Some(image_id) = &query.image_id {
        b.sql(" AND tasks.image_id = ")
            .param(SqlParam::Text(image_id.clone()));
    }
    let column = sort_column(query.sort_key);
    if let Some(marker) = marker {
        let after = match query.sort_dir {
            SortDir::Asc => " > ",
            SortDir::Desc => " < ",
        };
        let value = marker_value(query.sort_key, marker);
        b.sql(" AND (").sql(column).sql(after).param(value.clone());
        b.sql(" OR (").sql(column).sql(" = ").param(value);
        b.sql(" AND tasks.id")
            .sql(after)
            .param(SqlParam::Text(marker.id.clone()))
            .sql("))");
    }
    let dir = query.sort_dir.sql();
    b.sql(" ORDER BY ")
        .sql(column)
        .sql(" ")
        .sql(dir)
        .sql(", tasks.id ")
        .sql(dir)
        .sql(" LIMIT ")
        .limit(query.limit);
    b.finish()
}

fn sort_column(key: TaskSortKey) -> &'static str {
    match key {
        TaskSortKey::CreatedAt => "tasks.created_at",
        TaskSortKey::UpdatedAt => "tasks.updated_at",
        TaskSortKey::Id => "tasks.id",
        TaskSortKey::Type => "tasks.type",
        TaskSortKey::Status => "tasks.status",
    }
}

fn marker_value(key: TaskSortKey, marker: &Task) -> SqlParam {
    match key {
        TaskSortKey::CreatedAt => SqlParam::Timestamp(marker.created_at),
        TaskSortKey::UpdatedAt => {
            SqlParam::Timestamp(marker.updated_at.unwrap_or(marker.created_at))
        }
        TaskSortKey::Id => SqlParam::Text(marker.id.clone()),
        TaskSortKey::Type => SqlParam::Text(marker.task_type.clone()),
        TaskSortKey::Status => SqlParam::Text(marker.status.as_str().to_string()),
    }
}

/// A stored status as the domain's; an unknown one is a backend error.
pub fn parse_status(text: &str) -> DaResult<TaskStatus> {
    TaskStatus::parse(text)
        .ok_or_else(|| DataAccessError::Backend(format!("unknown task status {text:?}")))
}

/// `task_info.input`/`result` as stored (JSON text; NULL or unreadable text → None).
pub fn parse_json(text: Option<String>) -> Option<serde_json::Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .filter(|v: &serde_json::Value| !v.is_null())
}

pub fn not_found(task_id: &str) -> DataAccessError {
    DataAccessError::NotFound(format!("Task with ID {task_id} not found"))
}

/// Glance's answer for a task the caller may not see.
pub fn check_visible(ctx: &RequestContext, task: Task) -> DaResult<Task> {
    if crate::domain::task_visible(ctx, &task) {
        Ok(task)
    } else {
        Err(DataAccessError::Forbidden(format!(
            "Forbidding request, task {} is not visible",
            task.id
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_has_fixed_text_and_values_as_parameters() {
        let ctx = RequestContext {
            project_id: Some("p1' OR 1=1".into()),
            ..RequestContext::default()
        };
        let query = TaskQuery {
            image_id: Some("img".into()),
            ..TaskQuery::default()
        };
        let st = list_statement(Dialect::Postgres, &ctx, &query, None);
        assert!(!st.sql.contains("OR 1=1"), "{}", st.sql);
        assert!(st.sql.contains("tasks.owner = $1"), "{}", st.sql);
        assert!(st
            .sql
            .ends_with("ORDER BY tasks.created_at DESC, tasks.id DESC LIMIT 25"));
        assert_eq!(st.params.len(), 2);
    }
}
