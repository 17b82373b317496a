//! Glance's tasks (`glance/domain/__init__.py` Task, the `tasks` and `task_info` tables): the
//! record of an interoperable import, with its status, input, result and message.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{wire_time, SortDir, Timestamp};

string_enum!(
    /// Glance's task status machine: pending → processing → success | failure.
    TaskStatus {
        Pending => "pending",
        Processing => "processing",
        Success => "success",
        Failure => "failure",
    }
);

/// The image property that holds the import lock (the task id).
pub const IMPORT_LOCK_PROPERTY: &str = "os_glance_import_task";

/// The message of a task that recovery fails because its node stopped running it.
pub const STALE_TASK_MESSAGE: &str =
    "The import stopped: the node running it died or lost its database; the image was put \
     back to queued and can be imported again";

/// The task type of an interoperable import (`api_image_import`).
pub const API_IMAGE_IMPORT: &str = "api_image_import";

/// A row of `tasks` with its `task_info`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    #[serde(rename = "type")]
    pub task_type: String,
    pub status: TaskStatus,
    pub owner: String,
    #[serde(with = "wire_time::optional")]
    pub expires_at: Option<Timestamp>,
    #[serde(with = "wire_time::required")]
    pub created_at: Timestamp,
    #[serde(with = "wire_time::optional")]
    pub updated_at: Option<Timestamp>,
    pub image_id: Option<String>,
    pub request_id: Option<String>,
    pub user_id: Option<String>,
    /// `task_info.input`, a JSON object (Glance stores it as JSON text).
    pub input: Option<serde_json::Value>,
    /// `task_info.result`, a JSON object.
    pub result: Option<serde_json::Value>,
    pub message: Option<String>,
}

/// The values of `task_create`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewTask {
    pub id: String,
    #[serde(rename = "type")]
    pub task_type: String,
    pub owner: String,
    pub image_id: Option<String>,
    pub request_id: Option<String>,
    pub user_id: Option<String>,
    pub input: serde_json::Value,
}

/// The values of `task_update`: only the fields that are `Some` change; `updated_at` always
/// does (an empty change is a heartbeat).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskChanges {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none", with = "wire_time::optional")]
    pub expires_at: Option<Timestamp>,
}

string_enum!(
    /// The columns `GET /v2/tasks` sorts by.
    TaskSortKey {
        CreatedAt => "created_at",
        UpdatedAt => "updated_at",
        Id => "id",
        Type => "type",
        Status => "status",
    }
);

/// `task_get_all`: filters, a page, one sort key (then id).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskQuery {
    pub status: Option<TaskStatus>,
    pub task_type: Option<String>,
    pub image_id: Option<String>,
    pub marker: Option<String>,
    pub limit: u32,
    pub sort_key: TaskSortKey,
    pub sort_dir: SortDir,
}

impl Default for TaskQuery {
    fn default() -> Self {
        Self {
            status: None,
            task_type: None,
            image_id: None,
            marker: None,
            limit: 25,
            sort_key: TaskSortKey::CreatedAt,
            sort_dir: SortDir::Desc,
        }
    }
}

/// Whether the caller may see a task: admins all, others their project's.
pub fn task_visible(ctx: &super::RequestContext, task: &Task) -> bool {
    ctx.is_admin || ctx.project_id.as_deref() == Some(task.owner.as_str())
}
