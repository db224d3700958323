//! Column and key shapes every migration uses, so that ids, timestamps and foreign keys
//! are declared the same way in every table of every app.

use sea_orm_migration::prelude::*;

/// `BIGINT` identity primary key.
pub fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

/// `timestamp with time zone NOT NULL` (RFC 3339 text on SQLite), always UTC.
pub fn timestamp(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

/// A nullable timestamp.
pub fn timestamp_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

/// A foreign key from `table.col` to `parent.parent_id` whose rows go with their parent.
pub fn cascade(
    table: impl IntoIden + 'static,
    col: impl IntoIden + 'static,
    parent: impl IntoIden + 'static,
    parent_id: impl IntoIden + 'static,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, col)
        .to(parent, parent_id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// Creates `table` with its rows kept in primary-key order: on SQLite a `WITHOUT ROWID`
/// table, one B-tree instead of a rowid table plus a primary-key index, so that an upsert
/// touches one tree and a key range is read from adjacent pages. For tables read and
/// written only by their key, such as counters. (PostgreSQL keeps its usual heap and
/// primary-key index.)
pub async fn create_clustered(
    manager: &SchemaManager<'_>,
    table: TableCreateStatement,
) -> Result<(), DbErr> {
    match manager.get_database_backend() {
        sea_orm::DbBackend::Sqlite => {
            let sql = table.to_string(SqliteQueryBuilder);
            manager
                .get_connection()
                .execute_unprepared(&format!("{sql} WITHOUT ROWID"))
                .await
                .map(drop)
        }
        _ => manager.create_table(table).await,
    }
}
