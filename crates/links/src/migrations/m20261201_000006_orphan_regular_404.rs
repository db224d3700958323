//! A third kind of orphan visit, `regular_404` (Shlink's name): a path no route knows,
//! outside the API (`/wp-admin/setup.php`, `/a-slug/more`). `orphan_visits.slug` holds that
//! path, without its leading `/`.
//!
//! Only the check on `orphan_visits.kind` changes. PostgreSQL replaces it; SQLite cannot
//! change a table's constraints, so the table is made again (see [`sqlite::rebuild_table`]).

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

use super::sqlite;

#[derive(DeriveMigrationName)]
pub struct Migration;

const BEFORE: &str = "'invalid_short_url', 'base_url')";
const AFTER: &str = "'invalid_short_url', 'base_url', 'regular_404')";

async fn set_kinds(manager: &SchemaManager<'_>, from: &str, to: &str) -> Result<(), DbErr> {
    match manager.get_database_backend() {
        DbBackend::Sqlite => {
            sqlite::rebuild_table(manager, "orphan_visits", |sql| {
                sql.contains(from).then(|| sql.replacen(from, to, 1))
            })
            .await
        }
        _ => {
            let kinds = to.trim_end_matches(')');
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "ALTER TABLE orphan_visits DROP CONSTRAINT orphan_visits_kind_check, \
                     ADD CONSTRAINT orphan_visits_kind_check CHECK (kind IN ({kinds}))"
                ))
                .await
                .map(drop)
        }
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// On SQLite too (sea-orm-migration wraps only PostgreSQL's by default): a table
    /// rebuilt halfway must not be left behind.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_kinds(manager, BEFORE, AFTER).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM orphan_visits WHERE kind = 'regular_404'")
            .await?;
        set_kinds(manager, AFTER, BEFORE).await
    }
}
