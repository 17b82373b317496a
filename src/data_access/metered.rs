//! `Metered`: wraps any backend and records every call once, in
//! `glance_data_access_duration_seconds{mode, operation, outcome}`, and in the request's
//! `Server-Timing` (`db`). Backends record nothing themselves.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use super::{DaResult, DataAccess, Mode, PoolStatus};
use crate::domain::{
    Image, ImageChanges, ImageQuery, ImageStatus, Location, LocationStatus, Member, MemberChanges,
    MemberQuery, NewImage, NewLocation, NewMember, NewTask, RequestContext, Task, TaskChanges,
    TaskQuery, TaskStatus,
};
use crate::metrics::{static_histogram, timing, DATA_ACCESS_DURATION};

pub struct Metered {
    inner: Arc<dyn DataAccess>,
    mode: &'static str,
}

impl Metered {
    pub fn wrap(inner: Arc<dyn DataAccess>) -> Arc<dyn DataAccess> {
        let mode = inner.mode().as_str();
        Arc::new(Self { inner, mode })
    }

    async fn time<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = DaResult<T>>,
    ) -> DaResult<T> {
        let started = Instant::now();
        let result = call.await;
        let elapsed = started.elapsed();
        let outcome = match &result {
            Ok(_) => "ok",
            Err(err) => err.kind(),
        };
        static_histogram(
            DATA_ACCESS_DURATION,
            [
                ("mode", self.mode),
                ("operation", operation),
                ("outcome", outcome),
            ],
        )
        .record(elapsed.as_secs_f64());
        timing::add_db(elapsed);
        result
    }
}

#[async_trait]
impl DataAccess for Metered {
    fn mode(&self) -> Mode {
        self.inner.mode()
    }

    fn pool_status(&self) -> Option<PoolStatus> {
        self.inner.pool_status()
    }

    async fn health(&self) -> DaResult<()> {
        self.inner.health().await
    }

    async fn image_create(&self, ctx: &RequestContext, values: NewImage) -> DaResult<Image> {
        self.time("image_create", self.inner.image_create(ctx, values))
            .await
    }

    async fn image_get(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        force_show_deleted: bool,
    ) -> DaResult<Image> {
        self.time(
            "image_get",
            self.inner.image_get(ctx, image_id, force_show_deleted),
        )
        .await
    }

    async fn image_get_all(
        &self,
        ctx: &RequestContext,
        query: &ImageQuery,
    ) -> DaResult<Vec<Image>> {
        self.time("image_get_all", self.inner.image_get_all(ctx, query))
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
        self.time(
            "image_update",
            self.inner
                .image_update(ctx, image_id, values, purge_props, from_state),
        )
        .await
    }

    async fn image_destroy(&self, ctx: &RequestContext, image_id: &str) -> DaResult<Image> {
        self.time("image_destroy", self.inner.image_destroy(ctx, image_id))
            .await
    }

    async fn image_tag_get_all(
        &self,
        ctx: &RequestContext,
        image_id: &str,
    ) -> DaResult<Vec<String>> {
        self.time(
            "image_tag_get_all",
            self.inner.image_tag_get_all(ctx, image_id),
        )
        .await
    }

    async fn image_tag_create(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        value: &str,
    ) -> DaResult<()> {
        self.time(
            "image_tag_create",
            self.inner.image_tag_create(ctx, image_id, value),
        )
        .await
    }

    async fn image_tag_delete(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        value: &str,
    ) -> DaResult<()> {
        self.time(
            "image_tag_delete",
            self.inner.image_tag_delete(ctx, image_id, value),
        )
        .await
    }

    async fn image_tag_set_all(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        tags: &[String],
    ) -> DaResult<()> {
        self.time(
            "image_tag_set_all",
            self.inner.image_tag_set_all(ctx, image_id, tags),
        )
        .await
    }

    async fn image_member_create(
        &self,
        ctx: &RequestContext,
        values: NewMember,
    ) -> DaResult<Member> {
        self.time(
            "image_member_create",
            self.inner.image_member_create(ctx, values),
        )
        .await
    }

    async fn image_member_update(
        &self,
        ctx: &RequestContext,
        member_id: i64,
        values: MemberChanges,
    ) -> DaResult<Member> {
        self.time(
            "image_member_update",
            self.inner.image_member_update(ctx, member_id, values),
        )
        .await
    }

    async fn image_member_delete(&self, ctx: &RequestContext, member_id: i64) -> DaResult<()> {
        self.time(
            "image_member_delete",
            self.inner.image_member_delete(ctx, member_id),
        )
        .await
    }

    async fn image_member_find(
        &self,
        ctx: &RequestContext,
        query: &MemberQuery,
    ) -> DaResult<Vec<Member>> {
        self.time(
            "image_member_find",
            self.inner.image_member_find(ctx, query),
        )
        .await
    }

    async fn image_member_count(&self, ctx: &RequestContext, image_id: &str) -> DaResult<i64> {
        self.time(
            "image_member_count",
            self.inner.image_member_count(ctx, image_id),
        )
        .await
    }

    async fn image_location_add(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        location: NewLocation,
    ) -> DaResult<Location> {
        self.time(
            "image_location_add",
            self.inner.image_location_add(ctx, image_id, location),
        )
        .await
    }

    async fn image_location_update(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        location: Location,
    ) -> DaResult<()> {
        self.time(
            "image_location_update",
            self.inner.image_location_update(ctx, image_id, location),
        )
        .await
    }

    async fn image_location_delete(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        location_id: i64,
        status: LocationStatus,
    ) -> DaResult<()> {
        self.time(
            "image_location_delete",
            self.inner
                .image_location_delete(ctx, image_id, location_id, status),
        )
        .await
    }

    async fn task_create(&self, ctx: &RequestContext, values: NewTask) -> DaResult<Task> {
        self.time("task_create", self.inner.task_create(ctx, values))
            .await
    }

    async fn task_get(&self, ctx: &RequestContext, task_id: &str) -> DaResult<Task> {
        self.time("task_get", self.inner.task_get(ctx, task_id))
            .await
    }

    async fn task_update(
        &self,
        ctx: &RequestContext,
        task_id: &str,
        values: TaskChanges,
        from_status: Option<TaskStatus>,
    ) -> DaResult<Task> {
        self.time(
            "task_update",
            self.inner.task_update(ctx, task_id, values, from_status),
        )
        .await
    }

    async fn task_get_all(&self, ctx: &RequestContext, query: &TaskQuery) -> DaResult<Vec<Task>> {
        self.time("task_get_all", self.inner.task_get_all(ctx, query))
            .await
    }
}
