//! The three tables the click writer fills row by row (`clicks`, `click_rollups`,
//! `link_visitors`) lose their foreign key to `links`; a trigger on `links` takes over its
//! `ON DELETE CASCADE`.
//!
//! Why: a foreign key is checked for every row written. On PostgreSQL each check is a
//! query of its own (a trigger running `SELECT 1 FROM links WHERE id = $1 FOR KEY SHARE`):
//! a profile of the database process under the links benchmark put 35% of its time in
//! them, for about six rows per click. On SQLite the check is a look-up in `links` per row:
//! upserting 90,000 rollup rows took 0.20 s with the key and 0.14 s without (`sqlite3`
//! shell).
//!
//! What still keeps the click log consistent:
//! - The writer adds to `link_click_counts` first in each batch, and that table keeps its
//!   foreign key: its rows say which links exist, and on PostgreSQL its checks hold a
//!   `FOR KEY SHARE` lock on those links until the batch commits, so that a link cannot
//!   be deleted between the check and the rows written for it. The writer drops the
//!   clicks of links that are gone (see `crate::clicks`).
//! - Deleting links, directly or with their owner, deletes their rows in the three tables,
//!   by the trigger `links_forget_clicks`, in the same transaction.
//! - `click_days`, written by the daily compaction (and by the writer for late clicks
//!   only), keeps its foreign key.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

use super::sqlite;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables that lose the foreign key, all on `link_id`.
const TABLES: [&str; 3] = ["clicks", "click_rollups", "link_visitors"];

/// The clause as SQLite stores it in each table's `CREATE TABLE` (from the first
/// migration, through sea-query).
const SQLITE_FOREIGN_KEY: &str =
    r#", FOREIGN KEY ("link_id") REFERENCES "links" ("id") ON DELETE CASCADE"#;

/// One statement per deleted link: SQLite has no statement-level triggers.
const SQLITE_TRIGGER: &str = "
CREATE TRIGGER links_forget_clicks AFTER DELETE ON links FOR EACH ROW BEGIN
    DELETE FROM clicks WHERE link_id = OLD.id;
    DELETE FROM click_rollups WHERE link_id = OLD.id;
    DELETE FROM link_visitors WHERE link_id = OLD.id;
END";

/// One statement per `DELETE` of links, however many (an account with all its links).
const POSTGRES_TRIGGER: [&str; 2] = [
    "
CREATE FUNCTION links_forget_clicks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM clicks WHERE link_id IN (SELECT id FROM gone);
    DELETE FROM click_rollups WHERE link_id IN (SELECT id FROM gone);
    DELETE FROM link_visitors WHERE link_id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$",
    "
CREATE TRIGGER links_forget_clicks AFTER DELETE ON links
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION links_forget_clicks()",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// On SQLite too (sea-orm-migration wraps only PostgreSQL's by default): a table
    /// rebuilt halfway must not be left behind.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Sqlite => {
                for table in TABLES {
                    sqlite::rebuild_table(manager, table, |sql| {
                        let without = sql.replacen(SQLITE_FOREIGN_KEY, "", 1);
                        (without != sql).then_some(without)
                    })
                    .await?;
                }
                db.execute_unprepared(SQLITE_TRIGGER).await?;
            }
            _ => {
                for table in TABLES {
                    db.execute_unprepared(&format!(
                        "ALTER TABLE {table} DROP CONSTRAINT {table}_link_id_fkey"
                    ))
                    .await?;
                }
                for statement in POSTGRES_TRIGGER {
                    db.execute_unprepared(statement).await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Sqlite => {
                db.execute_unprepared("DROP TRIGGER links_forget_clicks")
                    .await?;
                for table in TABLES {
                    sqlite::rebuild_table(manager, table, |sql| {
                        // The clause goes last in the column list, before `) WITHOUT ROWID`
                        // or the final `)`.
                        let end = sql.rfind(')')?;
                        let end = sql[..end].trim_end().len();
                        Some(format!(
                            "{}{SQLITE_FOREIGN_KEY}{}",
                            &sql[..end],
                            &sql[end..]
                        ))
                    })
                    .await?;
                }
            }
            _ => {
                db.execute_unprepared("DROP TRIGGER links_forget_clicks ON links")
                    .await?;
                db.execute_unprepared("DROP FUNCTION links_forget_clicks()")
                    .await?;
                for table in TABLES {
                    db.execute_unprepared(&format!(
                        "ALTER TABLE {table} ADD CONSTRAINT {table}_link_id_fkey \
                         FOREIGN KEY (link_id) REFERENCES links (id) ON DELETE CASCADE"
                    ))
                    .await?;
                }
            }
        }
        Ok(())
    }
}
