//! The data-access seam: one trait shaped like Glance's DB API (`glance/db/sqlalchemy/api.py`),
//! one module per backend behind its Cargo feature, and `open()` that picks the configured one.
//!
//! The handler layer holds an `Arc<dyn DataAccess>` and knows nothing of SQL or HTTP clients.
//! Every backend applies the caller's visibility rules itself (`domain::policy`), so the same
//! rules hold behind the registry as in the API process.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::{
    Image, ImageChanges, ImageQuery, ImageStatus, Location, LocationStatus, Member, MemberChanges,
    MemberQuery, NewImage, NewLocation, NewMember, NewTask, RequestContext, Task, TaskChanges,
    TaskQuery, TaskStatus,
};

pub use crate::config::Mode;
pub use crate::metrics::PoolStatus;

pub type DaResult<T> = Result<T, DataAccessError>;

/// Failures of a data-access call. Kept apart from HTTP: `crate::error` maps them to statuses.
/// Serialized as-is across the registry wire, so a proxy yields the same variant as a direct call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum DataAccessError {
    /// No such row (Glance `ImageNotFound` / `NotFound`).
    #[error("{0}")]
    NotFound(String),
    /// The row exists but the caller may not see or change it (Glance `Forbidden`).
    #[error("{0}")]
    Forbidden(String),
    /// A compare-and-set lost, or a status transition is not allowed (Glance `Conflict`).
    #[error("{0}")]
    Conflict(String),
    /// A unique row already exists (Glance `Duplicate`).
    #[error("{0}")]
    Duplicate(String),
    /// The arguments are invalid (Glance `Invalid`).
    #[error("{0}")]
    Invalid(String),
    /// The database or the registry cannot be reached now; retrying later may work.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else; logged, and a 500 without internals for the client.
    #[error("{0}")]
    Backend(String),
}

impl DataAccessError {
    /// Short label for metrics (`outcome`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::Forbidden(_) => "forbidden",
            Self::Conflict(_) => "conflict",
            Self::Duplicate(_) => "duplicate",
            Self::Invalid(_) => "invalid",
            Self::Unavailable(_) => "unavailable",
            Self::Backend(_) => "backend",
        }
    }
}

/// Glance's DB API. Every call takes the caller's context first; visibility is enforced here
/// (invisible → `Forbidden` for reads by id, silently absent from lists).
#[async_trait]
pub trait DataAccess: Send + Sync + 'static {
    fn mode(&self) -> Mode;

    /// Cheap round trip to the database (or registry) for `/healthcheck`.
    async fn health(&self) -> DaResult<()>;

    /// Connection pool occupancy, for the pool gauges (None where there is no pool).
    fn pool_status(&self) -> Option<PoolStatus> {
        None
    }

    /// Insert an image with its properties and tags. Duplicate id → `Duplicate`.
    async fn image_create(&self, ctx: &RequestContext, values: NewImage) -> DaResult<Image>;

    /// One image with properties, tags and locations, in one statement. Missing → `NotFound`;
    /// deleted → `NotFound` unless `force_show_deleted` (or admin); invisible → `Forbidden`.
    async fn image_get(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        force_show_deleted: bool,
    ) -> DaResult<Image>;

    /// A page of visible, non-deleted, non-killed images with tags and properties.
    async fn image_get_all(&self, ctx: &RequestContext, query: &ImageQuery)
        -> DaResult<Vec<Image>>;

    /// Apply `values` atomically; with `from_state`, only if the status is still that
    /// (compare-and-set; lost → `Conflict`). `purge_props` soft-deletes every property not in
    /// `values.set_properties`. Not mutable by the caller → `Forbidden`. Returns the new image.
    async fn image_update(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        values: ImageChanges,
        purge_props: bool,
        from_state: Option<ImageStatus>,
    ) -> DaResult<Image>;

    /// Soft-delete the image and its properties, tags, members and locations with one
    /// timestamp. Returns the image as it was (with its locations, so data can be removed).
    async fn image_destroy(&self, ctx: &RequestContext, image_id: &str) -> DaResult<Image>;

    async fn image_tag_get_all(
        &self,
        ctx: &RequestContext,
        image_id: &str,
    ) -> DaResult<Vec<String>>;

    /// Add a tag; adding one that exists is a no-op.
    async fn image_tag_create(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        value: &str,
    ) -> DaResult<()>;

    /// Remove a tag; absent → `NotFound`.
    async fn image_tag_delete(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        value: &str,
    ) -> DaResult<()>;

    /// Make the live tag set exactly `tags` (inserting missing ones in order).
    async fn image_tag_set_all(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        tags: &[String],
    ) -> DaResult<()>;

    /// Add a member. A live row for the pair → `Duplicate`; a soft-deleted one is revived.
    /// Atomic: of concurrent creates for one pair exactly one succeeds.
    async fn image_member_create(
        &self,
        ctx: &RequestContext,
        values: NewMember,
    ) -> DaResult<Member>;

    async fn image_member_update(
        &self,
        ctx: &RequestContext,
        member_id: i64,
        values: MemberChanges,
    ) -> DaResult<Member>;

    /// Soft-delete a member row; absent → `NotFound`.
    async fn image_member_delete(&self, ctx: &RequestContext, member_id: i64) -> DaResult<()>;

    /// Member rows matching the query; non-admins see only rows of images they own or rows
    /// naming their project.
    async fn image_member_find(
        &self,
        ctx: &RequestContext,
        query: &MemberQuery,
    ) -> DaResult<Vec<Member>>;

    /// Live member rows of an image.
    async fn image_member_count(&self, ctx: &RequestContext, image_id: &str) -> DaResult<i64>;

    async fn image_location_add(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        location: NewLocation,
    ) -> DaResult<Location>;

    async fn image_location_update(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        location: Location,
    ) -> DaResult<()>;

    /// Mark a location deleted or pending_delete (any other status → `Invalid`).
    async fn image_location_delete(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        location_id: i64,
        status: LocationStatus,
    ) -> DaResult<()>;

    /// Insert a `pending` task and its `task_info` row. Duplicate id → `Duplicate`.
    async fn task_create(&self, ctx: &RequestContext, values: NewTask) -> DaResult<Task>;

    /// One live task. Missing → `NotFound`; another project's (non-admin) → `Forbidden`.
    async fn task_get(&self, ctx: &RequestContext, task_id: &str) -> DaResult<Task>;

    /// Apply `values` (and always `updated_at`); with `from_status`, only if the status is
    /// still that (lost → `Conflict`). Returns the new task.
    async fn task_update(
        &self,
        ctx: &RequestContext,
        task_id: &str,
        values: TaskChanges,
        from_status: Option<TaskStatus>,
    ) -> DaResult<Task>;

    /// A page of the live tasks the caller may see (admins all, others their project's).
    /// An unknown or invisible marker → `NotFound`.
    async fn task_get_all(&self, ctx: &RequestContext, query: &TaskQuery) -> DaResult<Vec<Task>>;
}

#[cfg(any(feature = "direct-sqlite", feature = "direct-postgres"))]
pub mod glance_schema;
pub mod metered;
#[cfg(any(feature = "direct-postgres", feature = "registry-proxy"))]
mod per_thread;
#[cfg(feature = "direct-postgres")]
pub mod postgres;
#[cfg(feature = "registry-proxy")]
pub mod registry_client;
#[cfg(feature = "registry-proxy")]
mod registry_http;
#[cfg(any(feature = "registry-proxy", feature = "registry-server"))]
pub mod registry_wire;
#[cfg(any(feature = "direct-sqlite", feature = "direct-postgres"))]
pub mod sql;
#[cfg(feature = "direct-sqlite")]
pub mod sqlite;
#[cfg(any(feature = "direct-sqlite", feature = "direct-postgres"))]
mod task_sql;

/// Why a backend could not be opened at start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot open the database: {0}")]
    Data(#[from] DataAccessError),
}

/// Open the backend `settings.data_access.mode` names, or say which feature it needs.
pub async fn open(
    settings: &crate::config::Settings,
) -> Result<std::sync::Arc<dyn DataAccess>, OpenError> {
    let mode = settings.data_access.mode;
    // Unused only in a build with every data-access feature.
    #[allow(unused_variables)]
    let not_compiled = || crate::config::ConfigError::ModeNotCompiled {
        mode,
        feature: mode.feature(),
    };
    match mode {
        #[cfg(feature = "direct-sqlite")]
        Mode::DirectSqlite => Ok(sqlite::open(settings).await?),
        #[cfg(not(feature = "direct-sqlite"))]
        Mode::DirectSqlite => Err(not_compiled().into()),
        #[cfg(feature = "direct-postgres")]
        Mode::DirectPostgres => Ok(postgres::open(settings).await?),
        #[cfg(not(feature = "direct-postgres"))]
        Mode::DirectPostgres => Err(not_compiled().into()),
        #[cfg(feature = "registry-proxy")]
        Mode::RegistryProxy => Ok(registry_client::open(settings)?),
        #[cfg(not(feature = "registry-proxy"))]
        Mode::RegistryProxy => Err(not_compiled().into()),
    }
}

/// `glance-api db-sync` (Glance's `glance-manage db_sync`): bring the configured database's
/// schema to this build's version.
pub async fn migrate(settings: &crate::config::Settings) -> Result<(), OpenError> {
    let mode = settings.data_access.mode;
    #[cfg(not(all(feature = "direct-sqlite", feature = "direct-postgres")))]
    let not_compiled = || crate::config::ConfigError::ModeNotCompiled {
        mode,
        feature: mode.feature(),
    };
    match mode {
        #[cfg(feature = "direct-postgres")]
        Mode::DirectPostgres => Ok(postgres::migrate(settings).await?),
        #[cfg(not(feature = "direct-postgres"))]
        Mode::DirectPostgres => Err(not_compiled().into()),
        #[cfg(feature = "direct-sqlite")]
        Mode::DirectSqlite => Ok(sqlite::db_sync(settings).await?),
        #[cfg(not(feature = "direct-sqlite"))]
        Mode::DirectSqlite => Err(not_compiled().into()),
        Mode::RegistryProxy => Err(crate::config::ConfigError::Invalid(
            "db-sync needs a direct backend: run it with glance-registry's settings \
             (data_access.mode = \"direct-sqlite\" or \"direct-postgres\")"
                .into(),
        )
        .into()),
    }
}
