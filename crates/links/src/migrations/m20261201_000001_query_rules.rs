//! Redirect rules may look at the visitor's query string too (`kind = 'query'`, a value of
//! `name=value` or `name`), as Shlink's do: the check on `link_rules.kind` takes the new
//! kind.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

use super::sqlite;

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
        set_kinds(manager, BEFORE, AFTER).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM link_rules WHERE kind = 'query'")
            .await?;
        set_kinds(manager, AFTER, BEFORE).await
    }
}

/// `link_rules_kind_check` from `kind IN (from)` to `kind IN (to)` (also for later kinds).
pub(super) async fn set_kinds(
    manager: &SchemaManager<'_>,
    from: &str,
    to: &str,
) -> Result<(), DbErr> {
    match manager.get_database_backend() {
        // SQLite cannot change a check: the table is made again with the new one.
        DbBackend::Sqlite => {
            sqlite::rebuild_table(manager, "link_rules", |sql| {
                let edited = sql.replacen(&format!("IN ({from})"), &format!("IN ({to})"), 1);
                (edited != sql).then_some(edited)
            })
            .await
        }
        _ => {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "ALTER TABLE link_rules DROP CONSTRAINT link_rules_kind_check, \
                     ADD CONSTRAINT link_rules_kind_check CHECK (kind IN ({to}))"
                ))
                .await?;
            Ok(())
        }
    }
}
