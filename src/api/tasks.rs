//! `GET /v2/tasks`, `GET /v2/tasks/{id}` (Glance's `glance/api/v2/tasks.py`, admin only by its
//! default `tasks_api_access` policy) and `GET /v2/images/{id}/tasks` (`images.py`
//! get_task_info: anyone who can see the image).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use crate::api::auth::Caller;
use crate::api::common::{find_image, reject_body};
use crate::api::list_params::parse_query_string;
use crate::api::State;
use crate::data_access::DataAccessError;
use crate::domain::{
    format_timestamp, RequestContext, SortDir, Task, TaskQuery, TaskSortKey, TaskStatus,
};
use crate::error::ApiError;
use crate::json;

/// Glance's default `tasks_api_access`: `role:admin`.
fn ensure_tasks_access(ctx: &RequestContext) -> Result<(), ApiError> {
    if ctx.is_admin {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "You are not authorized to complete tasks_api_access action.",
        ))
    }
}

/// Glance's `_format_task`: the whole task.
fn task_view(task: &Task) -> Value {
    let mut view = Map::new();
    view.insert("id".into(), json!(task.id));
    view.insert("input".into(), task.input.clone().unwrap_or(Value::Null));
    view.insert("type".into(), json!(task.task_type));
    view.insert("status".into(), json!(task.status.as_str()));
    view.insert("owner".into(), json!(task.owner));
    view.insert(
        "message".into(),
        json!(task.message.clone().unwrap_or_default()),
    );
    view.insert("result".into(), task.result.clone().unwrap_or(Value::Null));
    add_times(&mut view, task);
    view.insert("self".into(), json!(format!("/v2/tasks/{}", task.id)));
    view.insert("schema".into(), json!("/v2/schemas/task"));
    for (key, value) in [
        ("image_id", &task.image_id),
        ("request_id", &task.request_id),
        ("user_id", &task.user_id),
    ] {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            view.insert(key.into(), json!(value));
        }
    }
    if let Some(expires_at) = &task.expires_at {
        view.insert("expires_at".into(), json!(format_timestamp(expires_at)));
    }
    Value::Object(view)
}

fn add_times(view: &mut Map<String, Value>, task: &Task) {
    view.insert(
        "created_at".into(),
        json!(format_timestamp(&task.created_at)),
    );
    let updated = task.updated_at.unwrap_or(task.created_at);
    view.insert("updated_at".into(), json!(format_timestamp(&updated)));
}

/// Glance's `_format_task_stub`: no input, result or message.
fn task_stub(task: &Task) -> Value {
    let mut view = Map::new();
    view.insert("id".into(), json!(task.id));
    view.insert("type".into(), json!(task.task_type));
    view.insert("status".into(), json!(task.status.as_str()));
    view.insert("owner".into(), json!(task.owner));
    add_times(&mut view, task);
    view.insert("self".into(), json!(format!("/v2/tasks/{}", task.id)));
    view.insert("schema".into(), json!("/v2/schemas/task"));
    if let Some(expires_at) = &task.expires_at {
        view.insert("expires_at".into(), json!(format_timestamp(expires_at)));
    }
    Value::Object(view)
}

/// `GET /v2/tasks/{id}`
pub async fn show(
    req: HttpRequest,
    state: State,
    Caller(ctx): Caller,
    task_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    reject_body(&req)?;
    ensure_tasks_access(&ctx)?;
    let task = state
        .db
        .task_get(&ctx, &task_id)
        .await
        .map_err(|err| match err {
            DataAccessError::NotFound(_) => {
                ApiError::not_found(format!("Task with identifier {task_id} not found"))
            }
            other => other.into(),
        })?;
    Ok(json::respond(StatusCode::OK, &task_view(&task)))
}

/// `GET /v2/tasks`: `limit`, `marker`, `sort_key`, `sort_dir`, `status`, `type` filters.
pub async fn index(
    req: HttpRequest,
    state: State,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    reject_body(&req)?;
    ensure_tasks_access(&ctx)?;
    let params = parse_query_string(req.query_string());
    let last = |key: &str| {
        params
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let mut query = TaskQuery {
        limit: state.settings.limits.limit_param_default,
        ..TaskQuery::default()
    };
    if let Some(dir) = last("sort_dir") {
        query.sort_dir = SortDir::parse(dir)
            .ok_or_else(|| ApiError::bad_request(format!("Invalid sort direction: {dir}")))?;
    }
    if let Some(key) = last("sort_key") {
        query.sort_key = TaskSortKey::parse(key)
            .ok_or_else(|| ApiError::bad_request(format!("Invalid sort key: {key}")))?;
    }
    if let Some(status) = last("status").filter(|s| !s.is_empty()) {
        query.status = Some(
            TaskStatus::parse(status)
                .ok_or_else(|| ApiError::bad_request(format!("Invalid status value: {status}")))?,
        );
    }
    if let Some(task_type) = last("type").filter(|s| !s.is_empty()) {
        if !["import", "api_image_import"].contains(&task_type) {
            return Err(ApiError::bad_request(format!(
                "Invalid type value: {task_type}"
            )));
        }
        query.task_type = Some(task_type.to_string());
    }
    if let Some(marker) = last("marker") {
        if uuid::Uuid::parse_str(marker).is_err() {
            return Err(ApiError::bad_request("Invalid marker format"));
        }
        query.marker = Some(marker.to_string());
    }
    if let Some(limit) = last("limit") {
        let limit: i64 = limit
            .parse()
            .map_err(|_| ApiError::bad_request("limit param must be an integer"))?;
        if limit < 0 {
            return Err(ApiError::bad_request("limit param must be positive"));
        }
        query.limit = u32::try_from(limit).unwrap_or(u32::MAX);
    }
    query.limit = query.limit.min(state.settings.limits.api_limit_max);
    let tasks = state
        .db
        .task_get_all(&ctx, &query)
        .await
        .map_err(|err| match err {
            DataAccessError::NotFound(msg) => ApiError::bad_request(msg),
            other => other.into(),
        })?;
    let kept: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "marker")
        .cloned()
        .collect();
    let encode = |pairs: &[(String, String)]| {
        pairs
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect::<Vec<_>>()
            .join("&")
    };
    let mut body = Map::new();
    body.insert(
        "tasks".into(),
        Value::Array(tasks.iter().map(task_stub).collect()),
    );
    let query_text = encode(&kept);
    body.insert(
        "first".into(),
        json!(if query_text.is_empty() {
            "/v2/tasks".to_string()
        } else {
            format!("/v2/tasks?{query_text}")
        }),
    );
    body.insert("schema".into(), json!("/v2/schemas/tasks"));
    if let Some(last_task) = tasks
        .last()
        .filter(|_| tasks.len() as u64 == u64::from(query.limit))
    {
        let mut next = kept.clone();
        next.push(("marker".into(), last_task.id.clone()));
        body.insert("next".into(), json!(format!("/v2/tasks?{}", encode(&next))));
    }
    Ok(json::respond(StatusCode::OK, &Value::Object(body)))
}

fn urlencode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `GET /v2/images/{id}/tasks`: the image's tasks, as Glance's `tasks_get_by_image` rows.
pub async fn for_image(
    req: HttpRequest,
    state: State,
    Caller(ctx): Caller,
    image_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    reject_body(&req)?;
    let image = find_image(&state, &ctx, &image_id).await?;
    let query = TaskQuery {
        image_id: Some(image.id.clone()),
        limit: u32::MAX,
        ..TaskQuery::default()
    };
    let tasks = state.db.task_get_all(&ctx, &query).await?;
    let now = crate::domain::now();
    let rows: Vec<Value> = tasks
        .iter()
        .filter(|t| t.expires_at.is_none_or(|at| at > now))
        .map(|task| {
            let mut row = match task_view(task) {
                Value::Object(map) => map,
                _ => Map::new(),
            };
            row.remove("self");
            row.remove("schema");
            row.insert("image_id".into(), json!(task.image_id));
            row.insert("request_id".into(), json!(task.request_id));
            row.insert("user_id".into(), json!(task.user_id));
            row.insert(
                "expires_at".into(),
                json!(task.expires_at.as_ref().map(format_timestamp)),
            );
            row.insert("deleted_at".into(), Value::Null);
            row.insert("deleted".into(), json!(false));
            Value::Object(row)
        })
        .collect();
    Ok(json::respond(StatusCode::OK, &json!({"tasks": rows})))
}
