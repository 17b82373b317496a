//! The direct-postgres schema: the embedded refinery migrations, `db-sync` (adopting a
//! database Glance's own `db_sync` made), and the version check every node makes at start.

use tokio_postgres::NoTls;

use super::{pg_config, pg_error};
use crate::config::{redact_url, Settings};
use crate::data_access::glance_schema;
use crate::data_access::{DaResult, DataAccessError};

/// Serialises concurrent `db-sync` runs (an arbitrary, fixed advisory lock key).
const MIGRATION_LOCK_KEY: i64 = 0x676c_616e_6365;

mod embedded {
    refinery::embed_migrations!("src/data_access/postgres/migrations");
}

/// Versions of the embedded migrations, oldest first.
pub fn migration_versions() -> Vec<i64> {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| i64::from(m.version()))
        .collect()
}

/// Identifies the embedded migrations' content (versions and checksums), e.g. to name a
/// migrated template database that can be reused while the migrations stay the same.
pub fn schema_fingerprint() -> u64 {
    embedded::migrations::runner().get_migrations().iter().fold(
        0xcbf2_9ce4_8422_2325,
        |acc: u64, m| {
            (acc ^ m.checksum() ^ u64::from(m.version().unsigned_abs()))
                .wrapping_mul(0x100_0000_01b3)
        },
    )
}

/// The schema version this build needs.
pub fn latest_version() -> i64 {
    migration_versions().into_iter().max().unwrap_or_default()
}

/// `glance-api db-sync`: apply the embedded migrations (a no-op when already current).
pub async fn migrate(settings: &Settings) -> Result<(), DataAccessError> {
    let config = pg_config(settings)?;
    let shown = redact_url(&settings.database.url);
    let (mut client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| DataAccessError::Unavailable(format!("cannot connect to {shown}: {e}")))?;
    let driver = tokio::spawn(connection);
    let result = migrate_client(&mut client, &shown).await;
    // Dropping the client ends the connection cleanly; the driver task then finishes.
    drop(client);
    let _ = driver.await;
    let applied = result?;
    if applied.is_empty() {
        log::info!(
            "db-sync: {shown} is already at schema version {}",
            latest_version()
        );
    } else {
        log::info!(
            "db-sync: {shown} migrated to schema version {} (applied {applied:?})",
            latest_version()
        );
    }
    Ok(())
}

async fn migrate_client(
    client: &mut tokio_postgres::Client,
    shown: &str,
) -> Result<Vec<i64>, DataAccessError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .map_err(pg_error)?;
    // IF NOT EXISTS on an adopted database would log a NOTICE per Glance table.
    client
        .batch_execute("SET client_min_messages = warning")
        .await
        .map_err(pg_error)?;
    let report = match adopt_glance_database(client, shown).await {
        Ok(()) => embedded::migrations::runner()
            .run_async(client)
            .await
            .map_err(|e| DataAccessError::Backend(format!("migration failed: {e}"))),
        Err(err) => Err(err),
    };
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .map_err(pg_error);
    let report = report?;
    unlocked?;
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| i64::from(m.version()))
        .collect())
}

/// Which bookkeeping tables the database has: Glance's (alembic), ours (refinery), and
/// whether Glance's image tables are there at all.
async fn bookkeeping(client: &tokio_postgres::Client) -> DaResult<(bool, bool, bool)> {
    let row = client
        .query_one(
            "SELECT to_regclass('alembic_version') IS NOT NULL AS glance, \
             to_regclass('refinery_schema_history') IS NOT NULL AS ours, \
             to_regclass('images') IS NOT NULL AS images",
            &[],
        )
        .await
        .map_err(pg_error)?;
    let flag = |name: &str| row.try_get::<_, bool>(name).map_err(pg_error);
    Ok((flag("glance")?, flag("ours")?, flag("images")?))
}

/// Refuse a Glance database at a revision we cannot adopt (see `glance_schema`).
async fn check_alembic(client: &tokio_postgres::Client, shown: &str) -> DaResult<()> {
    let revisions = client
        .query("SELECT version_num FROM alembic_version", &[])
        .await
        .map_err(pg_error)?
        .iter()
        .map(|row| row.try_get::<_, String>(0).map_err(pg_error))
        .collect::<DaResult<Vec<_>>>()?;
    glance_schema::check_revisions(&revisions, shown)
}

/// A database made by Glance's own `db_sync`: check its revision and, the first time, record
/// our migration 1 (Glance's image tables, already there column for column) as applied, so
/// only our additions run. Glance's tables, rows and revision stay as they are.
async fn adopt_glance_database(client: &tokio_postgres::Client, shown: &str) -> DaResult<()> {
    let (glance, ours, images) = bookkeeping(client).await?;
    if !glance {
        if images && !ours {
            return Err(DataAccessError::Invalid(format!(
                "the database {shown} has Glance's tables but neither alembic_version nor \
                 glance-api's history; run Glance's `glance-manage db_sync` on it first"
            )));
        }
        return Ok(());
    }
    check_alembic(client, shown).await?;
    if ours {
        return Ok(());
    }
    let runner = embedded::migrations::runner();
    let (version, name, checksum) = glance_schema::history_row(
        runner.get_migrations(),
        glance_schema::GLANCE_TABLES_MIGRATION,
    )?;
    // refinery's own history table, as refinery creates it.
    client
        .batch_execute(
            "CREATE TABLE refinery_schema_history (version INT4 PRIMARY KEY, \
             name VARCHAR(255), applied_on VARCHAR(255), checksum VARCHAR(255))",
        )
        .await
        .map_err(pg_error)?;
    client
        .execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
             VALUES ($1, $2, to_char(now() AT TIME ZONE 'UTC', \
             'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), $3)",
            &[&version, &name, &checksum],
        )
        .await
        .map_err(pg_error)?;
    log::info!(
        "db-sync: adopting the Glance database {shown} (alembic {})",
        glance_schema::GLANCE_HEAD
    );
    Ok(())
}

/// Refuse a database whose schema is not at this build's version.
pub(super) async fn check_schema(client: &tokio_postgres::Client, url: &str) -> DaResult<()> {
    let row = client
        .query_one(
            "SELECT to_regclass('refinery_schema_history') IS NOT NULL AS present",
            &[],
        )
        .await
        .map_err(pg_error)?;
    let present: bool = row.try_get("present").map_err(pg_error)?;
    let current: Option<i64> = if present {
        let row = client
            .query_one(
                "SELECT MAX(version)::bigint AS version FROM refinery_schema_history",
                &[],
            )
            .await
            .map_err(pg_error)?;
        row.try_get("version").map_err(pg_error)?
    } else {
        None
    };
    let wanted = latest_version();
    let shown = redact_url(url);
    // A Glance node may have moved the database on to a revision we do not know.
    if bookkeeping(client).await?.0 {
        check_alembic(client, &shown).await?;
    }
    match current {
        Some(version) if version == wanted => Ok(()),
        Some(version) if version > wanted => Err(DataAccessError::Backend(format!(
            "the database {shown} has schema version {version}, newer than this glance-api \
             knows ({wanted}); upgrade glance-api (`glance-api db-sync` cannot downgrade)"
        ))),
        Some(version) => Err(DataAccessError::Backend(format!(
            "the database {shown} has schema version {version}, this glance-api needs \
             {wanted}; run `glance-api db-sync` first"
        ))),
        None => Err(DataAccessError::Backend(format!(
            "the database {shown} has no Glance schema; run `glance-api db-sync` first"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_from_one_without_gaps() {
        let versions = migration_versions();
        let expected: Vec<i64> = (1..=versions.len() as i64).collect();
        assert_eq!(versions, expected);
        assert_eq!(latest_version(), versions.len() as i64);
    }

    /// Both SQL backends must describe the same schema version (style guide: a test compares).
    #[cfg(feature = "direct-sqlite")]
    #[test]
    fn sqlite_and_postgres_end_at_the_same_schema_version() {
        assert_eq!(
            latest_version(),
            i64::from(crate::data_access::sqlite::latest_schema_version())
        );
    }
}
