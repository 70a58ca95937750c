//! Migrations: one portable set, embedded in the binary.

use app::StoreError;
use sqlx::migrate::{Migrate, Migrator};

use crate::{SqlStore, db};

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    pub version: i64,
    pub description: String,
    pub applied: bool,
}

pub async fn migrate_up(store: &SqlStore) -> Result<(), StoreError> {
    MIGRATOR.run(store.pool()).await.map_err(|e| StoreError::Database(e.to_string()))
}

/// Reverts the newest applied migration.
pub async fn migrate_down(store: &SqlStore) -> Result<Option<i64>, StoreError> {
    let applied = applied_versions(store).await?;
    let Some(&newest) = applied.last() else { return Ok(None) };
    let target = applied.iter().rev().nth(1).copied().unwrap_or(0);
    MIGRATOR.undo(store.pool(), target).await.map_err(|e| StoreError::Database(e.to_string()))?;
    Ok(Some(newest))
}

pub async fn migrate_status(store: &SqlStore) -> Result<Vec<MigrationStatus>, StoreError> {
    let applied = applied_versions(store).await?;
    Ok(MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| MigrationStatus {
            version: m.version,
            description: m.description.to_string(),
            applied: applied.contains(&m.version),
        })
        .collect())
}

async fn applied_versions(store: &SqlStore) -> Result<Vec<i64>, StoreError> {
    let mut connection = store.pool().acquire().await.map_err(db)?;
    connection.ensure_migrations_table("_sqlx_migrations").await.map_err(|e| StoreError::Database(e.to_string()))?;
    let mut versions: Vec<i64> = connection
        .list_applied_migrations("_sqlx_migrations")
        .await
        .map_err(|e| StoreError::Database(e.to_string()))?
        .into_iter()
        .map(|m| m.version)
        .collect();
    versions.sort_unstable();
    Ok(versions)
}
