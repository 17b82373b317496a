//! Glance's own schema bookkeeping, shared by the SQL backends: alembic's revision, which a
//! database made by Glance's `glance-manage db_sync` carries and which `glance-api db-sync`
//! writes too, so that each side accepts the other's database (drop-in, `docs/migrate-from-glance.md`).
//!
//! Adopting a Glance database means: check its revision, then record our first migration (the
//! image tables Glance already made, column for column) as applied, so that only our own
//! additions run. Glance's tables, rows and revision are left as they are.

use super::DataAccessError;

/// Glance's alembic head since 2024.1 (Caracal, 28.0.0), still the head in Glance 33.0.0.
pub const GLANCE_HEAD: &str = "2024_1_contract01";

/// The embedded migration that creates Glance's image tables: an adopted database has them.
pub const GLANCE_TABLES_MIGRATION: i32 = 1;

/// Glance's alembic revisions before the head, oldest first
/// (`glance/db/sqlalchemy/alembic_migrations/versions/`).
const OLDER_REVISIONS: &[&str] = &[
    "liberty",
    "mitaka01",
    "mitaka02",
    "ocata_expand01",
    "ocata_contract01",
    "pike_expand01",
    "pike_contract01",
    "queens_expand01",
    "queens_contract01",
    "rocky_expand01",
    "rocky_expand02",
    "rocky_contract01",
    "rocky_contract02",
    "train_expand01",
    "train_contract01",
    "ussuri_expand01",
    "ussuri_contract01",
    "wallaby_expand01",
    "wallaby_contract01",
    "xena_expand01",
    "xena_contract01",
    "yoga_expand01",
    "yoga_contract01",
    "zed_expand01",
    "zed_contract01",
    "2023_1_expand01",
    "2023_1_contract01",
    "2024_1_expand01",
];

/// Accept a database whose `alembic_version` rows include Glance's head (as Glance's own
/// `db check` does); otherwise a refusal that says which Glance to `db_sync` with first.
pub fn check_revisions(revisions: &[String], shown: &str) -> Result<(), DataAccessError> {
    if revisions.iter().any(|r| r == GLANCE_HEAD) {
        return Ok(());
    }
    let Some(revision) = revisions.first() else {
        return Err(DataAccessError::Invalid(format!(
            "the database {shown} has an empty alembic_version table (a Glance database not \
             under migration control); run `glance-manage db_sync` of Glance 2024.1 (28.0.0) \
             to 33.0.0 on it first, then `glance-api db-sync`"
        )));
    };
    if OLDER_REVISIONS.contains(&revision.as_str()) {
        return Err(DataAccessError::Invalid(format!(
            "the database {shown} is a Glance database at alembic revision {revision}, older \
             than glance-api can adopt ({GLANCE_HEAD}); run `glance-manage db_sync` of Glance \
             2024.1 (28.0.0) or later, up to 33.0.0, on it first, then `glance-api db-sync`"
        )));
    }
    Err(DataAccessError::Invalid(format!(
        "the database {shown} is at alembic revision {revision}, which glance-api does not \
         know: it adopts Glance databases at {GLANCE_HEAD} (Glance 2024.1/28.0.0 to 33.0.0). \
         A newer Glance's database cannot be taken over by this glance-api; an older one must \
         first get `glance-manage db_sync` of Glance 33.0.0"
    )))
}

/// The row refinery's history needs for `version` (as refinery writes it), so that a
/// migration whose work Glance already did counts as applied.
pub fn history_row(
    migrations: &[refinery::Migration],
    version: i32,
) -> Result<(i32, String, String), DataAccessError> {
    migrations
        .iter()
        .find(|m| m.version() == version)
        .map(|m| (m.version(), m.name().to_string(), m.checksum().to_string()))
        .ok_or_else(|| DataAccessError::Backend(format!("no embedded migration {version}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_accepted_others_refused_with_the_release_to_sync_with() {
        let shown = "db";
        assert!(check_revisions(&[GLANCE_HEAD.to_string()], shown).is_ok());
        // During a rolling upgrade both branch heads may be listed.
        assert!(check_revisions(
            &["2024_1_expand01".to_string(), GLANCE_HEAD.to_string()],
            shown
        )
        .is_ok());
        let older = check_revisions(&["rocky_contract02".to_string()], shown)
            .expect_err("older refused")
            .to_string();
        assert!(
            older.contains("rocky_contract02") && older.contains("28.0.0"),
            "{older}"
        );
        let newer = check_revisions(&["2027_1_contract01".to_string()], shown)
            .expect_err("unknown refused")
            .to_string();
        assert!(
            newer.contains("does not know") && newer.contains("33.0.0"),
            "{newer}"
        );
        let empty = check_revisions(&[], shown)
            .expect_err("empty refused")
            .to_string();
        assert!(empty.contains("glance-manage db_sync"), "{empty}");
    }
}
