//! Changing the values a `CHECK (column IN (…))` allows, on both databases.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

use super::sqlite;

/// `{table}_{column}_check` from `column IN (from)` to `column IN (to)`, each a list of
/// quoted values (`"'device', 'country'"`).
pub(super) async fn set_allowed(
    manager: &SchemaManager<'_>,
    table: &str,
    column: &str,
    from: &str,
    to: &str,
) -> Result<(), DbErr> {
    match manager.get_database_backend() {
        // SQLite cannot change a check: the table is made again with the new one.
        DbBackend::Sqlite => {
            sqlite::rebuild_table(manager, table, |sql| {
                let edited = sql.replacen(&format!("IN ({from})"), &format!("IN ({to})"), 1);
                (edited != sql).then_some(edited)
            })
            .await
        }
        _ => {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "ALTER TABLE {table} DROP CONSTRAINT {table}_{column}_check, \
                     ADD CONSTRAINT {table}_{column}_check CHECK ({column} IN ({to}))"
                ))
                .await?;
            Ok(())
        }
    }
}
