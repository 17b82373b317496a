//! The `direct-sqlite` backend: Glance's tables in one SQLite file (WAL mode), written by one
//! dedicated writer thread and read by a few reader threads (`workers`). Every write call is
//! one transaction on the writer, so compare-and-set updates cannot interleave.
//!
//! Knows nothing of HTTP: failures are `DataAccessError`s.

mod images;
mod locations;
mod members;
mod rows;
mod tags;
mod tasks;
mod workers;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, TransactionBehavior};

use self::rows::from_sqlite;
use self::workers::{on_thread, Workers};
use super::{glance_schema, DaResult, DataAccess, DataAccessError, Mode};
use crate::config::Settings;
use crate::domain::{
    Image, ImageChanges, ImageQuery, ImageStatus, Location, LocationStatus, Member, MemberChanges,
    MemberQuery, NewImage, NewLocation, NewMember, NewTask, RequestContext, Task, TaskChanges,
    TaskQuery, TaskStatus,
};

mod embedded {
    refinery::embed_migrations!("src/data_access/sqlite/migrations");
}

/// Reader threads beyond this add nothing on a small machine but memory.
const MAX_READERS: usize = 8;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema version this build needs (the highest embedded migration).
pub fn latest_schema_version() -> i32 {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| m.version())
        .max()
        .unwrap_or(0)
}

/// The file a `sqlite:///relative.db` or `sqlite:////absolute.db` URL names.
pub fn database_path(url: &str) -> DaResult<PathBuf> {
    let invalid = |why: &str| {
        DataAccessError::Invalid(format!(
            "database.url {:?} {why}; expected sqlite:///relative/path.db or \
             sqlite:////absolute/path.db",
            crate::config::redact_url(url)
        ))
    };
    let Some(path) = url.strip_prefix("sqlite:///") else {
        return Err(invalid("is not a SQLite file URL"));
    };
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == "/" || path.ends_with('/') {
        return Err(invalid("names no file"));
    }
    Ok(PathBuf::from(path))
}

/// A connection with the settings every connection here uses.
fn connect(path: &Path) -> DaResult<Connection> {
    let conn = Connection::open(path).map_err(|e| {
        DataAccessError::Unavailable(format!("cannot open {}: {e}", path.display()))
    })?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(from_sqlite)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
    )
    .map_err(from_sqlite)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn open_writer(url: &str) -> DaResult<(PathBuf, Connection)> {
    let path = database_path(url)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            DataAccessError::Unavailable(format!("cannot create {}: {e}", parent.display()))
        })?;
    }
    let conn = connect(&path)?;
    Ok((path, conn))
}

fn migrate(conn: &mut Connection) -> DaResult<()> {
    adopt_glance_database(conn)?;
    embedded::migrations::runner()
        .run(conn)
        .map(|_| ())
        .map_err(|e| DataAccessError::Backend(format!("database migration failed: {e}")))
}

fn has_table(conn: &Connection, name: &str) -> DaResult<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
        [name],
        |r| r.get(0),
    )
    .map_err(from_sqlite)
}

/// Refuse a Glance database at a revision we cannot adopt (see `glance_schema`).
fn check_alembic(conn: &Connection) -> DaResult<()> {
    let revisions = conn
        .prepare("SELECT version_num FROM alembic_version")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(from_sqlite)?;
    let shown = conn.path().unwrap_or_default().to_string();
    glance_schema::check_revisions(&revisions, &shown)
}

/// A database made by Glance's own `db_sync`: check its revision and, the first time, record
/// our migration 1 (Glance's image tables, already there) as applied, so only our additions
/// run. Glance's tables, rows and revision stay as they are.
fn adopt_glance_database(conn: &mut Connection) -> DaResult<()> {
    let (glance, ours) = (
        has_table(conn, "alembic_version")?,
        has_table(conn, "refinery_schema_history")?,
    );
    if !glance {
        if !ours && has_table(conn, "images")? {
            return Err(DataAccessError::Invalid(format!(
                "the database {} has Glance's tables but neither alembic_version nor \
                 glance-api's history; run Glance's `glance-manage db_sync` on it first",
                conn.path().unwrap_or_default()
            )));
        }
        return Ok(());
    }
    check_alembic(conn)?;
    if ours {
        return Ok(());
    }
    let (version, name, checksum) = glance_schema::history_row(
        embedded::migrations::runner().get_migrations(),
        glance_schema::GLANCE_TABLES_MIGRATION,
    )?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(from_sqlite)?;
    // refinery's own history table, as refinery creates it.
    tx.execute_batch(
        "CREATE TABLE refinery_schema_history (version INT4 PRIMARY KEY, name VARCHAR(255), \
         applied_on VARCHAR(255), checksum VARCHAR(255))",
    )
    .map_err(from_sqlite)?;
    tx.execute(
        "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
         VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?3)",
        rusqlite::params![version, name, checksum],
    )
    .map_err(from_sqlite)?;
    tx.commit().map_err(from_sqlite)?;
    log::info!(
        "db-sync: adopting the Glance database {} (alembic {})",
        conn.path().unwrap_or_default(),
        glance_schema::GLANCE_HEAD
    );
    Ok(())
}

/// The highest applied migration, 0 for a database never migrated.
fn applied_version(conn: &Connection) -> DaResult<i32> {
    let has_history: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' \
             AND name = 'refinery_schema_history')",
            [],
            |r| r.get(0),
        )
        .map_err(from_sqlite)?;
    if !has_history {
        return Ok(0);
    }
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM refinery_schema_history",
        [],
        |r| r.get(0),
    )
    .map_err(from_sqlite)
}

/// `glance-api db-sync`: bring the database named by the settings to the latest schema.
pub async fn db_sync(settings: &Settings) -> DaResult<()> {
    let url = settings.database_url();
    on_thread(move || {
        let (_, mut conn) = open_writer(&url)?;
        migrate(&mut conn)
    })
    .await
}

pub async fn open(settings: &Settings) -> Result<Arc<dyn DataAccess>, DataAccessError> {
    let url = settings.database_url();
    let auto_migrate = settings.database.auto_migrate;
    let readers = settings.database.pool_size.clamp(1, MAX_READERS);
    let queue_timeout = Duration::try_from_secs_f64(settings.database.pool_timeout)
        .map_err(|e| DataAccessError::Invalid(format!("database.pool_timeout: {e}")))?;
    let workers = on_thread(move || {
        let (path, mut writer) = open_writer(&url)?;
        if auto_migrate {
            migrate(&mut writer)?;
        } else {
            // A Glance node may have moved the database on to a revision we do not know.
            if has_table(&writer, "alembic_version")? {
                check_alembic(&writer)?;
            }
            let (applied, latest) = (applied_version(&writer)?, latest_schema_version());
            if applied < latest {
                return Err(DataAccessError::Unavailable(format!(
                    "the database {} is at schema version {applied}, this build needs \
                     {latest}; run `glance-api db-sync` (or set database.auto_migrate = true)",
                    path.display()
                )));
            }
        }
        let mut reader_connections = Vec::with_capacity(readers);
        for _ in 0..readers {
            let conn = connect(&path)?;
            conn.execute_batch("PRAGMA query_only = ON;")
                .map_err(from_sqlite)?;
            reader_connections.push(conn);
        }
        Workers::start(writer, reader_connections, queue_timeout)
    })
    .await?;
    Ok(Arc::new(SqliteDataAccess { workers }))
}

pub struct SqliteDataAccess {
    workers: Workers,
}

impl SqliteDataAccess {
    /// Run `job` in one IMMEDIATE transaction on the writer; commit on Ok, roll back on Err.
    async fn transaction<T, F>(&self, job: F) -> DaResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> DaResult<T> + Send + 'static,
    {
        self.workers
            .write(move |conn| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(from_sqlite)?;
                let value = job(&tx)?;
                tx.commit().map_err(from_sqlite)?;
                Ok(value)
            })
            .await
    }
}

#[async_trait]
impl DataAccess for SqliteDataAccess {
    fn mode(&self) -> Mode {
        Mode::DirectSqlite
    }

    async fn health(&self) -> DaResult<()> {
        self.workers
            .read(|conn| {
                conn.prepare_cached("SELECT 1")
                    .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
                    .map(|_| ())
                    .map_err(from_sqlite)
            })
            .await
    }

    async fn image_create(&self, ctx: &RequestContext, values: NewImage) -> DaResult<Image> {
        let ctx = ctx.clone();
        self.transaction(move |tx| images::create(tx, &ctx, values))
            .await
    }

    async fn image_get(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        force_show_deleted: bool,
    ) -> DaResult<Image> {
        let (ctx, id) = (ctx.clone(), image_id.to_string());
        self.workers
            .read(move |conn| images::get(conn, &ctx, &id, force_show_deleted))
            .await
    }

    async fn image_get_all(
        &self,
        ctx: &RequestContext,
        query: &ImageQuery,
    ) -> DaResult<Vec<Image>> {
        let (ctx, query) = (ctx.clone(), query.clone());
        self.workers
            .read(move |conn| images::get_all(conn, &ctx, &query))
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
        let (ctx, id) = (ctx.clone(), image_id.to_string());
        self.transaction(move |tx| images::update(tx, &ctx, &id, values, purge_props, from_state))
            .await
    }

    async fn image_destroy(&self, ctx: &RequestContext, image_id: &str) -> DaResult<Image> {
        let (ctx, id) = (ctx.clone(), image_id.to_string());
        self.transaction(move |tx| images::destroy(tx, &ctx, &id))
            .await
    }

    async fn image_tag_get_all(
        &self,
        ctx: &RequestContext,
        image_id: &str,
    ) -> DaResult<Vec<String>> {
        let (ctx, id) = (ctx.clone(), image_id.to_string());
        self.workers
            .read(move |conn| tags::get_all(conn, &ctx, &id))
            .await
    }

    async fn image_tag_create(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        value: &str,
    ) -> DaResult<()> {
        let (ctx, id, value) = (ctx.clone(), image_id.to_string(), value.to_string());
        self.transaction(move |tx| tags::create(tx, &ctx, &id, &value))
            .await
    }

    async fn image_tag_delete(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        value: &str,
    ) -> DaResult<()> {
        let (ctx, id, value) = (ctx.clone(), image_id.to_string(), value.to_string());
        self.transaction(move |tx| tags::delete_one(tx, &ctx, &id, &value))
            .await
    }

    async fn image_tag_set_all(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        tags: &[String],
    ) -> DaResult<()> {
        let (ctx, id, tags) = (ctx.clone(), image_id.to_string(), tags.to_vec());
        self.transaction(move |tx| tags::set_all(tx, &ctx, &id, &tags))
            .await
    }

    async fn image_member_create(
        &self,
        ctx: &RequestContext,
        values: NewMember,
    ) -> DaResult<Member> {
        let ctx = ctx.clone();
        self.transaction(move |tx| members::create(tx, &ctx, values))
            .await
    }

    async fn image_member_update(
        &self,
        ctx: &RequestContext,
        member_id: i64,
        values: MemberChanges,
    ) -> DaResult<Member> {
        let ctx = ctx.clone();
        self.transaction(move |tx| members::update(tx, &ctx, member_id, values))
            .await
    }

    async fn image_member_delete(&self, ctx: &RequestContext, member_id: i64) -> DaResult<()> {
        let ctx = ctx.clone();
        self.transaction(move |tx| members::delete(tx, &ctx, member_id))
            .await
    }

    async fn image_member_find(
        &self,
        ctx: &RequestContext,
        query: &MemberQuery,
    ) -> DaResult<Vec<Member>> {
        let (ctx, query) = (ctx.clone(), query.clone());
        self.workers
            .read(move |conn| members::find(conn, &ctx, &query))
            .await
    }

    async fn image_member_count(&self, _ctx: &RequestContext, image_id: &str) -> DaResult<i64> {
        let id = image_id.to_string();
        self.workers
            .read(move |conn| members::count(conn, &id))
            .await
    }

    async fn image_location_add(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        location: NewLocation,
    ) -> DaResult<Location> {
        let (ctx, id) = (ctx.clone(), image_id.to_string());
        self.transaction(move |tx| locations::add(tx, &ctx, &id, location))
            .await
    }

    async fn image_location_update(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        location: Location,
    ) -> DaResult<()> {
        let (ctx, id) = (ctx.clone(), image_id.to_string());
        self.transaction(move |tx| locations::update(tx, &ctx, &id, location))
            .await
    }

    async fn image_location_delete(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        location_id: i64,
        status: LocationStatus,
    ) -> DaResult<()> {
        let (ctx, id) = (ctx.clone(), image_id.to_string());
        self.transaction(move |tx| locations::delete(tx, &ctx, &id, location_id, status))
            .await
    }

    async fn task_create(&self, ctx: &RequestContext, values: NewTask) -> DaResult<Task> {
        let ctx = ctx.clone();
        self.transaction(move |tx| tasks::create(tx, &ctx, values))
            .await
    }

    async fn task_get(&self, ctx: &RequestContext, task_id: &str) -> DaResult<Task> {
        let (ctx, id) = (ctx.clone(), task_id.to_string());
        self.workers
            .read(move |conn| tasks::get(conn, &ctx, &id))
            .await
    }

    async fn task_update(
        &self,
        ctx: &RequestContext,
        task_id: &str,
        values: TaskChanges,
        from_status: Option<TaskStatus>,
    ) -> DaResult<Task> {
        let (ctx, id) = (ctx.clone(), task_id.to_string());
        self.transaction(move |tx| tasks::update(tx, &ctx, &id, values, from_status))
            .await
    }

    async fn task_get_all(&self, ctx: &RequestContext, query: &TaskQuery) -> DaResult<Vec<Task>> {
        let (ctx, query) = (ctx.clone(), query.clone());
        self.workers
            .read(move |conn| tasks::get_all(conn, &ctx, &query))
            .await
    }
}

#[cfg(test)]
mod plans;
#[cfg(test)]
mod tests;
