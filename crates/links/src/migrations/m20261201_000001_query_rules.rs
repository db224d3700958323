//! Redirect rules may look at the visitor's query string too (`kind = 'query'`, a value of
//! `name=value` or `name`), as Shlink's do: the check on `link_rules.kind` takes the new
//! kind.

use sea_orm_migration::prelude::*;

use super::checks::set_allowed;

#[derive(DeriveMigrationName)]
pub struct Migration;

const BEFORE: &str = "'device', 'country', 'language'";
const AFTER: &str = "'device', 'country', 'language', 'query'";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// On SQLite too: a table rebuilt halfway must not be left behind.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_allowed(manager, "link_rules", "kind", BEFORE, AFTER).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM link_rules WHERE kind = 'query'")
            .await?;
        set_allowed(manager, "link_rules", "kind", AFTER, BEFORE).await
    }
}
