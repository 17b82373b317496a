//! The direct-postgres backend: Glance's DB API over tokio-postgres with a deadpool pool.
//!
//! Every statement is a fixed text (cached per connection with `prepare_cached`) whose values
//! travel as parameters. A call that cannot get a connection within `database.pool_timeout`
//! (pool exhausted, database down) fails with `Unavailable` instead of waiting.
//! The schema comes from the embedded refinery migrations, applied only by `glance-api
//! db-sync`; `open()` refuses a database at another version.

mod children;
mod images;
mod params;
mod rows;
mod schema;
mod tasks;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime, TimeoutType,
    Timeouts,
};
use futures_util::FutureExt;
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

pub use images::list_statement as image_list_statement;
pub use schema::{latest_version, migrate, migration_versions, schema_fingerprint};

/// The statement GET image runs for an admin or a project-less caller (`$1`: the image id),
/// for measuring it alone (`scripts/load/pgbench.py`, through `examples/image_select_sql.rs`).
pub fn image_get_statement() -> &'static str {
    rows::select_image_by_id(false, false)
}

use super::per_thread::PerThread;
use super::{DaResult, DataAccess, DataAccessError, Mode, PoolStatus};
use crate::config::{redact_url, Settings};
use crate::domain::{
    Image, ImageChanges, ImageQuery, ImageStatus, Location, LocationStatus, Member, MemberChanges,
    MemberQuery, NewImage, NewLocation, NewMember, NewTask, RequestContext, Task, TaskChanges,
    TaskQuery, TaskStatus,
};

/// Fewer connections than this starve concurrent requests that each hold one briefly.
const MIN_POOL_SIZE: usize = 8;
/// A call may take this many pool timeouts in all (waiting for a connection included).
const CALL_TIMEOUT_FACTOR: u32 = 6;

pub struct PostgresDataAccess {
    /// One pool per thread (see `PerThread`), so a query's reply wakes the thread waiting for
    /// it; `database.pool_size` is split evenly across the worker threads.
    pools: PerThread<Pool>,
    config: tokio_postgres::Config,
    pool_size_per_thread: usize,
    pool_timeout: Duration,
    /// Upper bound of one trait call (`CALL_TIMEOUT_FACTOR` × `database.pool_timeout`).
    call_timeout: Duration,
}

/// Open the pool and check the schema version; an unmigrated or newer schema is refused.
pub async fn open(settings: &Settings) -> Result<Arc<dyn DataAccess>, DataAccessError> {
    let backend = PostgresDataAccess::connect(settings)?;
    let client = backend.client().await?;
    schema::check_schema(&client, &settings.database.url).await?;
    drop(client);
    Ok(Arc::new(backend))
}

/// Glance's URL forms (`postgresql://`, `postgres://`, `postgresql+psycopg2://`) as a
/// tokio-postgres config, bounded by `pool_timeout` for connecting.
fn pg_config(settings: &Settings) -> Result<tokio_postgres::Config, DataAccessError> {
    let url = settings.database.url.trim();
    let shown = redact_url(url);
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(DataAccessError::Invalid(format!(
            "not a PostgreSQL URL: {shown}"
        )));
    };
    let dialect = scheme.split('+').next().unwrap_or_default();
    if dialect != "postgresql" && dialect != "postgres" {
        return Err(DataAccessError::Invalid(format!(
            "direct-postgres needs a postgresql:// database.url, got {shown}"
        )));
    }
    let mut config: tokio_postgres::Config = format!("postgresql://{rest}")
        .parse()
        .map_err(|e| DataAccessError::Invalid(format!("invalid database.url {shown}: {e}")))?;
    let timeout = pool_timeout(settings);
    config.connect_timeout(timeout);
    // A peer that stops answering must not hold a request forever.
    config.tcp_user_timeout(timeout.max(Duration::from_secs(10)));
    config.keepalives_idle(Duration::from_secs(30));
    if config.get_application_name().is_none() {
        config.application_name("glance-rs");
    }
    let options = session_options(config.get_options());
    config.options(options);
    Ok(config)
}

/// The URL's own `options`, plus each of `SESSION_DEFAULTS` the URL does not set itself.
fn session_options(url_options: Option<&str>) -> String {
    let mut options = url_options.unwrap_or_default().trim().to_string();
    for (name, value) in SESSION_DEFAULTS {
        if !options.contains(&format!("{name}=")) {
            options = format!("{options} -c {name}={value}")
                .trim_start()
                .to_string();
        }
    }
    options
}

/// Session settings every connection starts with (docs/deployment.md, "Database"):
/// - `jit=off`: PostgreSQL compiles a statement whose estimated cost passes `jit_above_cost`
///   (100,000) to machine code on every execution; list pages reach that estimate on a large
///   catalogue (a non-admin's property page at a million images: 13 ms of compiling for 2 ms
///   of execution), while every statement here is a short read or write that JIT never pays
///   back.
/// - `plan_cache_mode=force_generic_plan`: a cached statement is planned once. Left to choose,
///   PostgreSQL planned a property page or a member's shared page anew on every call at a
///   million images (0.3-0.5 ms of planning for 0.1-0.4 ms of execution), because its
///   estimate for a value it knows made the custom plan look a little cheaper. Every list case
///   passes the plan test with its generic plan; the statements that must be planned for their
///   values (`sql::planned_per_call`) ask for it themselves (`images::get_all`).
const SESSION_DEFAULTS: [(&str, &str); 2] =
    [("jit", "off"), ("plan_cache_mode", "force_generic_plan")];

fn pool_timeout(settings: &Settings) -> Duration {
    Duration::try_from_secs_f64(settings.database.pool_timeout).unwrap_or(Duration::from_secs(5))
}

impl PostgresDataAccess {
    /// Check the settings; pools and connections are made on first use, per thread.
    pub fn connect(settings: &Settings) -> Result<Self, DataAccessError> {
        let config = pg_config(settings)?;
        let workers = match settings.server.workers {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        let total = settings.database.pool_size.max(MIN_POOL_SIZE);
        let timeout = pool_timeout(settings);
        let backend = Self {
            pools: PerThread::new(),
            config,
            pool_size_per_thread: total.div_ceil(workers),
            pool_timeout: timeout,
            call_timeout: timeout * CALL_TIMEOUT_FACTOR,
        };
        backend.pool()?;
        Ok(backend)
    }

    /// This thread's pool.
    fn pool(&self) -> DaResult<Pool> {
        self.pools.get_or_try_make(|| {
            let manager = Manager::from_config(
                self.config.clone(),
                NoTls,
                ManagerConfig {
                    // A connection whose server went away is closed and dropped on checkout.
                    recycling_method: RecyclingMethod::Fast,
                },
            );
            Pool::builder(manager)
                .max_size(self.pool_size_per_thread)
                .wait_timeout(Some(self.pool_timeout))
                .create_timeout(Some(self.pool_timeout))
                .recycle_timeout(Some(self.pool_timeout))
                .runtime(Runtime::Tokio1)
                .build()
                .map_err(|e| DataAccessError::Backend(format!("cannot build the pool: {e}")))
        })
    }

    async fn client(&self) -> DaResult<Object> {
        let pool = self.pool()?;
        // A free slot is taken without arming a wait timer, and a connection is recycled
        // without a timer either (the fast recycling method does no I/O: it only checks that
        // the connection is open). Only when every slot is busy does the call wait, bounded
        // by `pool_timeout` as before.
        let at_once = Timeouts {
            wait: Some(Duration::ZERO),
            create: Some(self.pool_timeout),
            recycle: None,
        };
        match pool.timeout_get(&at_once).await {
            Err(PoolError::Timeout(TimeoutType::Wait)) => pool.get().await.map_err(pool_error),
            got => got.map_err(pool_error),
        }
    }

    /// Bound a whole call, so a database that accepts connections but stops answering (hung,
    /// frozen, partitioned with the kernel still ACKing) yields `Unavailable`, not a hang. A
    /// transaction cut short is rolled back when its connection drops it.
    ///
    /// Not an `async fn`: rustc keeps an async fn's future argument beside the future it
    /// awaits, which doubled every call's future (4,072 bytes for GET image's, half of them
    /// never used) and so the bytes copied each time the future moved. The timeout mapped in
    /// place is the size of the call and a timer.
    fn bounded<T>(
        &self,
        call: impl Future<Output = DaResult<T>>,
    ) -> impl Future<Output = DaResult<T>> {
        let limit = self.call_timeout;
        tokio::time::timeout(limit, call).map(move |outcome| match outcome {
            Ok(result) => result,
            Err(_) => Err(DataAccessError::Unavailable(format!(
                "PostgreSQL did not answer within {limit:?}"
            ))),
        })
    }
}

fn pool_error(err: PoolError) -> DataAccessError {
    match err {
        PoolError::Backend(e) => pg_error(e),
        PoolError::Timeout(kind) => DataAccessError::Unavailable(format!(
            "no PostgreSQL connection within the pool timeout ({kind:?})"
        )),
        other => DataAccessError::Unavailable(format!("PostgreSQL pool: {other}")),
    }
}

/// Connection trouble → `Unavailable`, unique violation → `Duplicate`, a value the column
/// cannot hold → `Invalid`, the rest → `Backend`.
pub(crate) fn pg_error(err: tokio_postgres::Error) -> DataAccessError {
    if let Some(db) = err.as_db_error() {
        let code = db.code();
        if *code == SqlState::UNIQUE_VIOLATION {
            return DataAccessError::Duplicate(db.message().to_string());
        }
        let class = &code.code()[..2.min(code.code().len())];
        if class == "22" {
            // A value PostgreSQL cannot take (NUL in text, longer than its column, out of
            // range): the caller's input, not a server fault.
            return DataAccessError::Invalid(format!("Invalid value: {}", db.message()));
        }
        if class == "08"
            || class == "53"
            || class == "57"
            || *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
        {
            return DataAccessError::Unavailable(format!("PostgreSQL: {}", db.message()));
        }
        return DataAccessError::Backend(format!("PostgreSQL: {err}"));
    }
    if err.is_closed() || std::error::Error::source(&err).is_some_and(|s| s.is::<std::io::Error>())
    {
        return DataAccessError::Unavailable(format!("PostgreSQL connection: {err}"));
    }
    DataAccessError::Backend(format!("PostgreSQL: {err}"))
}

#[async_trait]
impl DataAccess for PostgresDataAccess {
    fn mode(&self) -> Mode {
        Mode::DirectPostgres
    }

    /// Summed over the per-thread pools.
    fn pool_status(&self) -> Option<PoolStatus> {
        let mut total = PoolStatus {
            pool: "database",
            size: 0,
            in_use: 0,
            idle: 0,
            waiting: 0,
        };
        for pool in self.pools.all() {
            let status = pool.status();
            total.size += status.max_size;
            total.in_use += status.size.saturating_sub(status.available);
            total.idle += status.available;
            total.waiting += status.waiting;
        }
        Some(total)
    }

    async fn health(&self) -> DaResult<()> {
        self.bounded(async {
            let client = self.client().await?;
            let statement = client.prepare_cached("SELECT 1").await.map_err(pg_error)?;
            client.query_one(&statement, &[]).await.map_err(pg_error)?;
            Ok(())
        })
        .await
    }

    async fn image_create(&self, ctx: &RequestContext, values: NewImage) -> DaResult<Image> {
        self.bounded(async {
            let mut client = self.client().await?;
            images::create(&mut client, ctx, values).await
        })
        .await
    }

    async fn image_get(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        force_show_deleted: bool,
    ) -> DaResult<Image> {
        self.bounded(async {
            let client = self.client().await?;
            images::get(&client, ctx, image_id, force_show_deleted, false).await
        })
        .await
    }

    async fn image_get_all(
        &self,
        ctx: &RequestContext,
        query: &ImageQuery,
    ) -> DaResult<Vec<Image>> {
        self.bounded(async {
            let mut client = self.client().await?;
            images::get_all(&mut client, ctx, query).await
        })
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
        self.bounded(async {
            let mut client = self.client().await?;
            images::update(&mut client, ctx, image_id, values, purge_props, from_state).await
        })
        .await
    }

    async fn image_destroy(&self, ctx: &RequestContext, image_id: &str) -> DaResult<Image> {
        self.bounded(async {
            let mut client = self.client().await?;
            images::destroy(&mut client, ctx, image_id).await
        })
        .await
    }

    async fn image_tag_get_all(
        &self,
        ctx: &RequestContext,
        image_id: &str,
    ) -> DaResult<Vec<String>> {
        self.bounded(async {
            let client = self.client().await?;
            Ok(images::get(&client, ctx, image_id, false, false)
                .await?
                .tags)
        })
        .await
    }

    async fn image_tag_create(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        value: &str,
    ) -> DaResult<()> {
        self.bounded(async {
            let mut client = self.client().await?;
            children::tag_create(&mut client, ctx, image_id, value).await
        })
        .await
    }

    async fn image_tag_delete(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        value: &str,
    ) -> DaResult<()> {
        self.bounded(async {
            let mut client = self.client().await?;
            children::tag_delete(&mut client, ctx, image_id, value).await
        })
        .await
    }

    async fn image_tag_set_all(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        tags: &[String],
    ) -> DaResult<()> {
        self.bounded(async {
            let mut client = self.client().await?;
            children::tag_set_all(&mut client, ctx, image_id, tags).await
        })
        .await
    }

    async fn image_member_create(
        &self,
        ctx: &RequestContext,
        values: NewMember,
    ) -> DaResult<Member> {
        self.bounded(async {
            let mut client = self.client().await?;
            children::member_create(&mut client, ctx, values).await
        })
        .await
    }

    async fn image_member_update(
        &self,
        ctx: &RequestContext,
        member_id: i64,
        values: MemberChanges,
    ) -> DaResult<Member> {
        self.bounded(async {
            let client = self.client().await?;
            children::member_update(&client, ctx, member_id, values).await
        })
        .await
    }

    async fn image_member_delete(&self, ctx: &RequestContext, member_id: i64) -> DaResult<()> {
        self.bounded(async {
            let mut client = self.client().await?;
            children::member_delete(&mut client, ctx, member_id).await
        })
        .await
    }

    async fn image_member_find(
        &self,
        ctx: &RequestContext,
        query: &MemberQuery,
    ) -> DaResult<Vec<Member>> {
        self.bounded(async {
            let client = self.client().await?;
            children::member_find(&client, ctx, query).await
        })
        .await
    }

    async fn image_member_count(&self, ctx: &RequestContext, image_id: &str) -> DaResult<i64> {
        self.bounded(async {
            let client = self.client().await?;
            children::member_count(&client, ctx, image_id).await
        })
        .await
    }

    async fn image_location_add(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        location: NewLocation,
    ) -> DaResult<Location> {
        self.bounded(async {
            let mut client = self.client().await?;
            children::location_add(&mut client, ctx, image_id, location).await
        })
        .await
    }

    async fn image_location_update(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        location: Location,
    ) -> DaResult<()> {
        self.bounded(async {
            let mut client = self.client().await?;
            children::location_update(&mut client, ctx, image_id, location).await
        })
        .await
    }

    async fn image_location_delete(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        location_id: i64,
        status: LocationStatus,
    ) -> DaResult<()> {
        self.bounded(async {
            let mut client = self.client().await?;
            children::location_delete(&mut client, ctx, image_id, location_id, status).await
        })
        .await
    }

    async fn task_create(&self, ctx: &RequestContext, values: NewTask) -> DaResult<Task> {
        self.bounded(async {
            let mut client = self.client().await?;
            tasks::create(&mut client, ctx, values).await
        })
        .await
    }

    async fn task_get(&self, ctx: &RequestContext, task_id: &str) -> DaResult<Task> {
        self.bounded(async {
            let client = self.client().await?;
            tasks::get(&client, ctx, task_id).await
        })
        .await
    }

    async fn task_update(
        &self,
        ctx: &RequestContext,
        task_id: &str,
        values: TaskChanges,
        from_status: Option<TaskStatus>,
    ) -> DaResult<Task> {
        self.bounded(async {
            let mut client = self.client().await?;
            tasks::update(&mut client, ctx, task_id, values, from_status).await
        })
        .await
    }

    async fn task_get_all(&self, ctx: &RequestContext, query: &TaskQuery) -> DaResult<Vec<Task>> {
        self.bounded(async {
            let client = self.client().await?;
            tasks::get_all(&client, ctx, query).await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Service;

    fn settings(url: &str) -> Settings {
        let mut settings = Settings::defaults(Service::Api);
        settings.data_access.mode = Mode::DirectPostgres;
        settings.database.url = url.to_string();
        settings
    }

    #[test]
    fn glance_url_forms_parse() {
        for url in [
            "postgresql://glance:pw@db.example:5433/glance",
            "postgres://glance:pw@db.example:5433/glance",
            "postgresql+psycopg2://glance:pw@db.example:5433/glance",
        ] {
            let config = pg_config(&settings(url)).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(config.get_user(), Some("glance"));
            assert_eq!(config.get_dbname(), Some("glance"));
            assert_eq!(config.get_ports(), &[5433]);
        }
    }

    #[test]
    fn sessions_turn_jit_off_and_keep_generic_plans_unless_the_url_says_otherwise() {
        let options = |url: &str| {
            let config = pg_config(&settings(url)).unwrap_or_else(|e| panic!("{url}: {e}"));
            config.get_options().map(str::to_string)
        };
        assert_eq!(
            options("postgresql://g@db/glance").as_deref(),
            Some("-c jit=off -c plan_cache_mode=force_generic_plan")
        );
        assert_eq!(
            options("postgresql://g@db/glance?options=-c%20statement_timeout%3D5s").as_deref(),
            Some("-c statement_timeout=5s -c jit=off -c plan_cache_mode=force_generic_plan")
        );
        assert_eq!(
            options("postgresql://g@db/glance?options=-c%20jit%3Don%20-c%20plan_cache_mode%3Dauto")
                .as_deref(),
            Some("-c jit=on -c plan_cache_mode=auto")
        );
    }

    #[test]
    fn bad_urls_are_invalid_and_redacted() {
        for url in [
            "mysql+pymysql://glance:s3cret@db/glance",
            "sqlite:///glance.db",
            "nonsense",
        ] {
            let err = pg_config(&settings(url)).expect_err(url);
            assert!(matches!(err, DataAccessError::Invalid(_)), "{err:?}");
            assert!(!err.to_string().contains("s3cret"), "{err}");
        }
    }

    #[test]
    fn the_pool_has_at_least_the_minimum_size() {
        let mut s = settings("postgresql://glance@127.0.0.1:1/glance");
        s.database.pool_size = 2;
        s.server.workers = 2;
        let backend = PostgresDataAccess::connect(&s).expect("pool");
        assert_eq!(backend.pool_size_per_thread * 2, MIN_POOL_SIZE);
        let status = backend.pool_status().expect("a pool");
        assert_eq!((status.size, status.in_use), (MIN_POOL_SIZE / 2, 0));
    }
}
