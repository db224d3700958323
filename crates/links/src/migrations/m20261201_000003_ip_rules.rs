//! Redirect rules may look at the visitor's address (`kind = 'ip'`, a value of an address
//! or a network such as `10.0.0.0/8`), as Shlink's do: the check on `link_rules.kind` takes
//! the new kind, and on PostgreSQL `value` grows from 35 to 64 characters for IPv6
//! networks (SQLite does not enforce a `varchar` length).

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

use super::checks::set_allowed;

#[derive(DeriveMigrationName)]
pub struct Migration;

const BEFORE: &str = "'device', 'country', 'language', 'query'";
const AFTER: &str = "'device', 'country', 'language', 'query', 'ip'";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// On SQLite too: a table rebuilt halfway must not be left behind.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_allowed(manager, "link_rules", "kind", BEFORE, AFTER).await?;
        set_value_length(manager, 64).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM link_rules WHERE kind = 'ip'")
            .await?;
        set_value_length(manager, 35).await?;
        set_allowed(manager, "link_rules", "kind", AFTER, BEFORE).await
    }
}

async fn set_value_length(manager: &SchemaManager<'_>, length: u32) -> Result<(), DbErr> {
    if manager.get_database_backend() == DbBackend::Postgres {
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "ALTER TABLE link_rules ALTER COLUMN value TYPE varchar({length})"
            ))
            .await?;
    }
    Ok(())
}
