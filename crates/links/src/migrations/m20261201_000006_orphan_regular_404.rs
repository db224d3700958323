//! A third kind of orphan visit, `regular_404` (Shlink's name): a path no route knows,
//! outside the API (`/wp-admin/setup.php`, `/a-slug/more`), or one that no link can have
//! (`/favicon.ico`). `orphan_visits.slug` holds that path, without its leading `/`.
//!
//! Only the check on `orphan_visits.kind` changes. PostgreSQL replaces it; SQLite cannot
//! change a table's constraints, so the table is made again (see [`super::checks`]).

use sea_orm_migration::prelude::*;

use super::checks::set_allowed;

#[derive(DeriveMigrationName)]
pub struct Migration;

const BEFORE: &str = "'invalid_short_url', 'base_url'";
const AFTER: &str = "'invalid_short_url', 'base_url', 'regular_404'";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// On SQLite too (sea-orm-migration wraps only PostgreSQL's by default): a table
    /// rebuilt halfway must not be left behind.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_allowed(manager, "orphan_visits", "kind", BEFORE, AFTER).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM orphan_visits WHERE kind = 'regular_404'")
            .await?;
        set_allowed(manager, "orphan_visits", "kind", AFTER, BEFORE).await
    }
}
