//! `registry-proxy` mode (deprecated): the `DataAccess` trait over HTTP, one `POST /rpc` to
//! glance-registry per trait call (`[{"command", "kwargs"}]`, result = element 0), as Glance's
//! `glance/db/registry/api.py` did. The API node holds no database credentials.
//!
//! Every call forwards the caller's `RequestContext` (the registry runs it in that context,
//! never as admin) and the shared `registry.token`. A registry that cannot be reached in
//! `registry.timeout` is `Unavailable` (the API answers 503); a remote `_error` becomes the
//! same `DataAccessError` variant the direct backend raised.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION};
use hyper::StatusCode;
use tokio::sync::Semaphore;

use super::registry_http::{Endpoint, HopError, Transport};
use super::registry_wire::commands::*;
use super::registry_wire::{self, Rpc, CONTEXT_HEADER, DB_TIME_HEADER};
use super::{DaResult, DataAccess, DataAccessError, Mode, OpenError, PoolStatus};
use crate::config::{ConfigError, RegistrySettings, Settings};
use crate::domain::{
    Image, ImageChanges, ImageQuery, ImageStatus, Location, LocationStatus, Member, MemberChanges,
    MemberQuery, NewImage, NewLocation, NewMember, NewTask, RequestContext, Task, TaskChanges,
    TaskQuery, TaskStatus,
};
use crate::metrics::{timing, REGISTRY_HOP_DURATION};

/// Logged once at start by glance-api in this mode.
const DEPRECATION_WARNING: &str = "data_access.mode = \"registry-proxy\" is DEPRECATED (Glance \
    deprecated glance-registry in Queens and removed it in Victoria): every call costs an extra \
    HTTP hop. Switch the API nodes to \"direct-postgres\" (or \"direct-sqlite\" for a single \
    node) with the database settings the registry uses, then stop glance-registry; see \
    docs/upgrade.md.";

/// Open the client for glance-api: refuse database credentials and an empty token.
pub fn open(settings: &Settings) -> Result<Arc<dyn DataAccess>, OpenError> {
    if !settings.database.url.is_empty() {
        return Err(ConfigError::Invalid(
            "database.url must be empty in registry-proxy mode: API nodes in this mode hold no \
             database credentials (glance-registry has them); remove database.url or switch \
             data_access.mode to a direct backend"
                .into(),
        )
        .into());
    }
    if settings.registry.token.is_empty() {
        return Err(ConfigError::Invalid(
            "registry.token is empty: registry-proxy mode needs the shared secret glance-registry \
             is configured with (e.g. GLANCE__REGISTRY__TOKEN)"
                .into(),
        )
        .into());
    }
    log::warn!("{DEPRECATION_WARNING}");
    let client = RegistryClient::new(&settings.registry)?;
    log::info!(
        "registry-proxy: calling glance-registry at {}",
        settings.registry.url
    );
    Ok(Arc::new(client))
}

pub struct RegistryClient {
    /// Keep-alive connections, per thread (see `registry_http`).
    transport: Transport,
    /// At most `registry.pool_size` calls in flight: the pool the gauges report on.
    slots: Arc<Semaphore>,
    pool_size: usize,
    waiting: AtomicUsize,
    timeout: Duration,
    /// `Bearer <registry.token>`, marked sensitive so it never shows in debug output.
    authorization: HeaderValue,
}

impl RegistryClient {
    /// A client with a keep-alive pool of `pool_size` connections and `timeout` per call.
    pub fn new(settings: &RegistrySettings) -> Result<Self, ConfigError> {
        let base = settings.url.trim_end_matches('/');
        let endpoint = Endpoint::parse(base)
            .map_err(|e| ConfigError::Invalid(format!("registry.url {base:?}: {e}")))?;
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", settings.token))
            .map_err(|_| ConfigError::Invalid("registry.token must be printable ASCII".into()))?;
        authorization.set_sensitive(true);
        let timeout = Duration::from_secs_f64(settings.timeout);
        Ok(Self {
            transport: Transport::new(endpoint, settings.pool_size),
            slots: Arc::new(Semaphore::new(settings.pool_size.max(1))),
            pool_size: settings.pool_size.max(1),
            waiting: AtomicUsize::new(0),
            timeout,
            authorization,
        })
    }

    /// One command in one `POST /rpc`.
    async fn call<C: Rpc>(&self, ctx: &RequestContext, args: C) -> DaResult<C::Output> {
        let body = registry_wire::request_body(&args).map_err(|e| {
            DataAccessError::Backend(format!("cannot encode {} arguments: {e}", C::COMMAND))
        })?;
        let context = registry_wire::encode_context(ctx)
            .map_err(|e| DataAccessError::Backend(format!("cannot encode the context: {e}")))?;
        // One deadline for waiting on a slot and for the call itself: registry.timeout in all.
        let deadline = Instant::now() + self.timeout;
        let waiting = Waiting::count(&self.waiting);
        let slot = tokio::time::timeout(self.timeout, self.slots.acquire()).await;
        drop(waiting);
        let _slot = match slot {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) | Err(_) => {
                return Err(DataAccessError::Unavailable(format!(
                    "all {} registry connections stayed busy for registry.timeout",
                    self.pool_size
                )))
            }
        };
        let started = Instant::now();
        let request_id = HeaderValue::from_str(&ctx.request_id)
            .unwrap_or_else(|_| HeaderValue::from_static("req-unprintable"));
        let context = HeaderValue::from_str(&context)
            .map_err(|e| DataAccessError::Backend(format!("cannot encode the context: {e}")))?;
        let headers = [
            (AUTHORIZATION, self.authorization.clone()),
            (HeaderName::from_static(CONTEXT_HEADER), context),
            (
                HeaderName::from_static("x-openstack-request-id"),
                request_id,
            ),
        ];
        let answer = self
            .transport
            .post(&headers, body, deadline.saturating_duration_since(started))
            .await
            .map_err(unreachable)?;
        if answer.status != StatusCode::OK {
            return Err(http_failure(C::COMMAND, answer.status));
        }
        let db_time = answer
            .headers
            .get(DB_TIME_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(registry_wire::parse_db_time)
            .unwrap_or_default();
        let bytes = answer.body;
        let hop = started.elapsed().saturating_sub(db_time);
        crate::metrics::static_histogram(
            REGISTRY_HOP_DURATION,
            [("operation", C::COMMAND), ("", ""), ("", "")],
        )
        .record(hop.as_secs_f64());
        timing::add_registry(hop);
        match registry_wire::parse_reply::<C>(&bytes) {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(remote)) => Err(registry_wire::error_from_remote(remote)),
            Err(problem) => Err(DataAccessError::Backend(format!(
                "registry reply to {}: {problem}",
                C::COMMAND
            ))),
        }
    }
}

/// Counts a caller waiting for a slot, also when its request is cancelled while it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn count(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Timeouts, refused or dropped connections: the registry is away, retrying may work (→ 503).
fn unreachable(err: HopError) -> DataAccessError {
    DataAccessError::Unavailable(format!("glance-registry {err}"))
}

/// The registry refused the request as a whole (none of these is a caller's mistake).
fn http_failure(command: &str, status: StatusCode) -> DataAccessError {
    match status {
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => {
            DataAccessError::Unavailable(format!("glance-registry answered {status}"))
        }
        StatusCode::UNAUTHORIZED => DataAccessError::Backend(
            "glance-registry refused registry.token (401): the API and the registry must share \
             the same registry.token"
                .into(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => DataAccessError::Invalid(format!(
            "The request is too large for the registry ({command})"
        )),
        other => DataAccessError::Backend(format!("glance-registry answered {other} to {command}")),
    }
}

#[async_trait]
impl DataAccess for RegistryClient {
    fn mode(&self) -> Mode {
        Mode::RegistryProxy
    }

    /// Calls in flight against the registry; `idle` counts free call slots (each thread keeps
    /// up to `pool_size` idle keep-alive connections).
    fn pool_status(&self) -> Option<PoolStatus> {
        let idle = self.slots.available_permits();
        Some(PoolStatus {
            pool: "registry",
            size: self.pool_size,
            in_use: self.pool_size.saturating_sub(idle),
            idle,
            waiting: self.waiting.load(Ordering::Relaxed),
        })
    }

    /// A `health` command: checks the token and the database behind the registry at once.
    async fn health(&self) -> DaResult<()> {
        self.call(&RequestContext::default(), Health {}).await
    }

    async fn image_create(&self, ctx: &RequestContext, values: NewImage) -> DaResult<Image> {
        self.call(ctx, ImageCreate { values }).await
    }

    async fn image_get(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        force_show_deleted: bool,
    ) -> DaResult<Image> {
        let image_id = image_id.to_string();
        self.call(
            ctx,
            ImageGet {
                image_id,
                force_show_deleted,
            },
        )
        .await
    }

    async fn image_get_all(
        &self,
        ctx: &RequestContext,
        query: &ImageQuery,
    ) -> DaResult<Vec<Image>> {
        self.call(
            ctx,
            ImageGetAll {
                query: query.clone(),
            },
        )
        .await
    }

    async fn image_update(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        values: ImageChanges,
        purge_props: bool,
        from_state: Option<ImageStatus>,
    ) -> DaResult<Image> {
        let image_id = image_id.to_string();
        let args = ImageUpdate {
            image_id,
            values,
            purge_props,
            from_state,
        };
        self.call(ctx, args).await
    }

    async fn image_destroy(&self, ctx: &RequestContext, image_id: &str) -> DaResult<Image> {
        let image_id = image_id.to_string();
        self.call(ctx, ImageDestroy { image_id }).await
    }

    async fn image_tag_get_all(
        &self,
        ctx: &RequestContext,
        image_id: &str,
    ) -> DaResult<Vec<String>> {
        let image_id = image_id.to_string();
        self.call(ctx, ImageTagGetAll { image_id }).await
    }

    async fn image_tag_create(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        value: &str,
    ) -> DaResult<()> {
        let (image_id, value) = (image_id.to_string(), value.to_string());
        self.call(ctx, ImageTagCreate { image_id, value }).await
    }

    async fn image_tag_delete(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        value: &str,
    ) -> DaResult<()> {
        let (image_id, value) = (image_id.to_string(), value.to_string());
        self.call(ctx, ImageTagDelete { image_id, value }).await
    }

    async fn image_tag_set_all(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        tags: &[String],
    ) -> DaResult<()> {
        let (image_id, tags) = (image_id.to_string(), tags.to_vec());
        self.call(ctx, ImageTagSetAll { image_id, tags }).await
    }

    async fn image_member_create(
        &self,
        ctx: &RequestContext,
        values: NewMember,
    ) -> DaResult<Member> {
        self.call(ctx, ImageMemberCreate { values }).await
    }

    async fn image_member_update(
        &self,
        ctx: &RequestContext,
        member_id: i64,
        values: MemberChanges,
    ) -> DaResult<Member> {
        self.call(ctx, ImageMemberUpdate { member_id, values })
            .await
    }

    async fn image_member_delete(&self, ctx: &RequestContext, member_id: i64) -> DaResult<()> {
        self.call(ctx, ImageMemberDelete { member_id }).await
    }

    async fn image_member_find(
        &self,
        ctx: &RequestContext,
        query: &MemberQuery,
    ) -> DaResult<Vec<Member>> {
        self.call(
            ctx,
            ImageMemberFind {
                query: query.clone(),
            },
        )
        .await
    }

    async fn image_member_count(&self, ctx: &RequestContext, image_id: &str) -> DaResult<i64> {
        let image_id = image_id.to_string();
        self.call(ctx, ImageMemberCount { image_id }).await
    }

    async fn image_location_add(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        location: NewLocation,
    ) -> DaResult<Location> {
        let image_id = image_id.to_string();
        self.call(ctx, ImageLocationAdd { image_id, location })
            .await
    }

    async fn image_location_update(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        location: Location,
    ) -> DaResult<()> {
        let image_id = image_id.to_string();
        self.call(ctx, ImageLocationUpdate { image_id, location })
            .await
    }

    async fn image_location_delete(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        location_id: i64,
        status: LocationStatus,
    ) -> DaResult<()> {
        let image_id = image_id.to_string();
        self.call(
            ctx,
            ImageLocationDelete {
                image_id,
                location_id,
                status,
            },
        )
        .await
    }

    async fn task_create(&self, ctx: &RequestContext, values: NewTask) -> DaResult<Task> {
        self.call(ctx, TaskCreate { values }).await
    }

    async fn task_get(&self, ctx: &RequestContext, task_id: &str) -> DaResult<Task> {
        let task_id = task_id.to_string();
        self.call(ctx, TaskGet { task_id }).await
    }

    async fn task_update(
        &self,
        ctx: &RequestContext,
        task_id: &str,
        values: TaskChanges,
        from_status: Option<TaskStatus>,
    ) -> DaResult<Task> {
        let task_id = task_id.to_string();
        self.call(
            ctx,
            TaskUpdate {
                task_id,
                values,
                from_status,
            },
        )
        .await
    }

    async fn task_get_all(&self, ctx: &RequestContext, query: &TaskQuery) -> DaResult<Vec<Task>> {
        let query = query.clone();
        self.call(ctx, TaskGetAll { query }).await
    }
}
