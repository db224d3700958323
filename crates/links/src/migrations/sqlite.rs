//! What SQLite's migrations need that SeaQuery does not do.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

/// SQLite cannot add or drop a table's constraints, so the table is made again (its own
/// documented procedure): a copy created from the stored `CREATE TABLE` as `edit` changes
/// it, the rows copied over, the old table dropped, the copy renamed, its indexes made
/// again. `clicks` counts with AUTOINCREMENT, whose high-water mark is carried over too.
pub async fn rebuild_table(
    manager: &SchemaManager<'_>,
    table: &str,
    edit: impl Fn(&str) -> Option<String>,
) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let texts = |sql: String| async move {
        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(DbBackend::Sqlite, sql))
            .await?;
        rows.iter()
            .map(|row| row.try_get_by_index::<String>(0))
            .collect::<Result<Vec<_>, _>>()
    };
    let [create] = texts(format!(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
    ))
    .await?
    .try_into()
    .map_err(|_| DbErr::Migration(format!("no table {table}")))?;
    let indexes = texts(format!(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = '{table}' \
         AND sql IS NOT NULL"
    ))
    .await?;
    let edited = edit(&create)
        .ok_or_else(|| DbErr::Migration(format!("unexpected definition of {table}: {create}")))?;
    let copy = format!("{table}_rebuilt");
    let edited = edited.replacen(
        &format!("CREATE TABLE \"{table}\""),
        &format!("CREATE TABLE \"{copy}\""),
        1,
    );

    let sequence = if create.contains("AUTOINCREMENT") {
        texts(format!(
            "SELECT CAST(seq AS TEXT) FROM sqlite_sequence WHERE name = '{table}'"
        ))
        .await?
        .pop()
    } else {
        None
    };

    db.execute_unprepared(&edited).await?;
    db.execute_unprepared(&format!("INSERT INTO {copy} SELECT * FROM {table}"))
        .await?;
    db.execute_unprepared(&format!("DROP TABLE {table}"))
        .await?;
    db.execute_unprepared(&format!("ALTER TABLE {copy} RENAME TO {table}"))
        .await?;
    for index in indexes {
        db.execute_unprepared(&index).await?;
    }
    if let Some(seq) = sequence {
        // Ids once handed out, even to rows since deleted, are not handed out again.
        db.execute_unprepared(&format!(
            "DELETE FROM sqlite_sequence WHERE name = '{table}'"
        ))
        .await?;
        db.execute_unprepared(&format!(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('{table}', {seq})"
        ))
        .await?;
    }
    Ok(())
}
