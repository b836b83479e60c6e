//! Versioned schema migrations, one SQL file per version and backend.

use sqlx::Row;

use crate::{Result, Store, StoreError};

/// (version, SQLite DDL, PostgreSQL DDL), in order. Where the two are the same, one file
/// in `migrations/shared` serves both.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        include_str!("../migrations/sqlite/0001_init.sql"),
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        include_str!("../migrations/shared/0002_accounts.sql"),
        include_str!("../migrations/shared/0002_accounts.sql"),
    ),
    (
        3,
        include_str!("../migrations/shared/0003_reports.sql"),
        include_str!("../migrations/shared/0003_reports.sql"),
    ),
    (
        4,
        include_str!("../migrations/shared/0004_configuration.sql"),
        include_str!("../migrations/shared/0004_configuration.sql"),
    ),
    (
        5,
        include_str!("../migrations/shared/0005_acquired_index.sql"),
        include_str!("../migrations/shared/0005_acquired_index.sql"),
    ),
    (
        6,
        include_str!("../migrations/shared/0006_portfolio.sql"),
        include_str!("../migrations/shared/0006_portfolio.sql"),
    ),
    (
        7,
        include_str!("../migrations/shared/0007_quality.sql"),
        include_str!("../migrations/shared/0007_quality.sql"),
    ),
    (
        8,
        include_str!("../migrations/shared/0008_rubric.sql"),
        include_str!("../migrations/shared/0008_rubric.sql"),
    ),
    (
        9,
        include_str!("../migrations/shared/0009_ai_calls.sql"),
        include_str!("../migrations/shared/0009_ai_calls.sql"),
    ),
    (
        10,
        include_str!("../migrations/shared/0010_ai_alarms.sql"),
        include_str!("../migrations/shared/0010_ai_alarms.sql"),
    ),
    (
        11,
        include_str!("../migrations/shared/0011_ai_call_priority.sql"),
        include_str!("../migrations/shared/0011_ai_call_priority.sql"),
    ),
    (
        12,
        include_str!("../migrations/shared/0012_safety_reviews.sql"),
        include_str!("../migrations/shared/0012_safety_reviews.sql"),
    ),
    (
        13,
        include_str!("../migrations/shared/0013_ai_status_changes.sql"),
        include_str!("../migrations/shared/0013_ai_status_changes.sql"),
    ),
    (
        14,
        include_str!("../migrations/shared/0014_pilots.sql"),
        include_str!("../migrations/shared/0014_pilots.sql"),
    ),
    (
        15,
        include_str!("../migrations/shared/0015_outbox.sql"),
        include_str!("../migrations/shared/0015_outbox.sql"),
    ),
    (
        16,
        include_str!("../migrations/shared/0016_dicom.sql"),
        include_str!("../migrations/shared/0016_dicom.sql"),
    ),
    (
        17,
        include_str!("../migrations/shared/0017_dicom_completion_of_instance.sql"),
        include_str!("../migrations/shared/0017_dicom_completion_of_instance.sql"),
    ),
    (
        18,
        include_str!("../migrations/shared/0018_reconciliation.sql"),
        include_str!("../migrations/shared/0018_reconciliation.sql"),
    ),
    (
        19,
        include_str!("../migrations/shared/0019_session_idle_and_disabled_accounts.sql"),
        include_str!("../migrations/shared/0019_session_idle_and_disabled_accounts.sql"),
    ),
    (
        20,
        include_str!("../migrations/sqlite/0020_study_filters.sql"),
        include_str!("../migrations/postgres/0020_study_filters.sql"),
    ),
    (
        21,
        include_str!("../migrations/shared/0021_placements.sql"),
        include_str!("../migrations/shared/0021_placements.sql"),
    ),
    (
        22,
        include_str!("../migrations/shared/0022_thesis_milestones.sql"),
        include_str!("../migrations/shared/0022_thesis_milestones.sql"),
    ),
    (
        23,
        include_str!("../migrations/shared/0023_truth_sources.sql"),
        include_str!("../migrations/shared/0023_truth_sources.sql"),
    ),
    (
        24,
        include_str!("../migrations/shared/0024_reconciliation_instances.sql"),
        include_str!("../migrations/shared/0024_reconciliation_instances.sql"),
    ),
    (
        25,
        include_str!("../migrations/shared/0025_ai_workitems.sql"),
        include_str!("../migrations/shared/0025_ai_workitems.sql"),
    ),
    (
        26,
        include_str!("../migrations/shared/0026_ai_objects.sql"),
        include_str!("../migrations/shared/0026_ai_objects.sql"),
    ),
];

pub(crate) async fn run(store: &Store) -> Result<()> {
    let pool = store.pool();
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(pool)
    .await?;
    let current: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
        .fetch_one(pool)
        .await?
        .try_get("v")?;
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > known {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known,
        });
    }
    for (version, sqlite, postgres) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        let ddl: &'static str = store.dialect().ddl(sqlite, postgres);
        // Two instances starting together must not both migrate: take the lock, then
        // look again.
        let mut tx = store.dialect().begin_write(pool).await?;
        store
            .dialect()
            .lock_table(&mut tx, "schema_migrations")
            .await?;
        let done: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM schema_migrations WHERE version = $1")
                .bind(*version)
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
        if done > 0 {
            continue;
        }
        sqlx::raw_sql(ddl)
            .execute(&mut *tx)
            .await
            .map_err(|source| StoreError::Migration {
                version: *version,
                source,
            })?;
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(*version)
            .bind(chrono::Utc::now().timestamp_millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}
