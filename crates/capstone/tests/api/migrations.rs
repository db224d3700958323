use sea_orm_migration::{
    MigratorTrait,
    sea_orm::{ConnectionTrait, Database, QueryResult, Statement},
};
use testkit::TestDatabase;

use capstone::Migrator;

async fn has_table(db: &impl ConnectionTrait, table: &str) -> bool {
    db.execute_unprepared(&format!("SELECT 1 FROM {table} LIMIT 1"))
        .await
        .is_ok()
}

async fn rows(db: &impl ConnectionTrait, sql: &str) -> Vec<QueryResult> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
}

#[tokio::test]
async fn migrations_apply_roll_back_and_apply_again() {
    let test_db = TestDatabase::fresh().await;
    let db = Database::connect(&test_db.url).await.unwrap();

    Migrator::up(&db, None).await.unwrap();
    assert!(has_table(&db, "users").await);
    assert!(
        Migrator::get_pending_migrations(&db)
            .await
            .unwrap()
            .is_empty()
    );
    // Applying again is a no-op, as at every start.
    Migrator::up(&db, None).await.unwrap();

    Migrator::down(&db, None).await.unwrap();
    assert!(!has_table(&db, "users").await, "down drops what up created");

    Migrator::up(&db, None).await.unwrap();
    assert!(has_table(&db, "users").await);
    db.close().await.unwrap();
}

/// An instance upgraded from before `link_click_counts` keeps each link's clicks.
#[tokio::test]
async fn click_counts_are_carried_over_to_their_own_table() {
    let test_db = TestDatabase::fresh().await;
    let db = Database::connect(&test_db.url).await.unwrap();
    let pending = Migrator::get_pending_migrations(&db).await.unwrap();
    let before = pending
        .iter()
        .position(|m| m.name() == "m20261130_000001_narrow_click_counts")
        .expect("the migration is registered");
    Migrator::up(&db, Some(before as u32)).await.unwrap();
    for sql in [
        "INSERT INTO users (id, email, display_name) VALUES (1, 'ann@example.com', 'Ann')",
        "INSERT INTO links (id, owner_id, slug, target_url, click_count, created_at, updated_at) \
         VALUES (1, 1, 'often', 'https://example.com/', 42, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), \
                (2, 1, 'never', 'https://example.com/', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    ] {
        db.execute_unprepared(sql).await.unwrap();
    }

    Migrator::up(&db, None).await.unwrap();
    let counts: Vec<(i64, i64)> = rows(
        &db,
        "SELECT link_id, clicks FROM link_click_counts ORDER BY link_id",
    )
    .await
    .iter()
    .map(|r| {
        (
            r.try_get("", "link_id").unwrap(),
            r.try_get("", "clicks").unwrap(),
        )
    })
    .collect();
    assert_eq!(counts, [(1, 42)], "a link without clicks needs no row");

    // And back: the column gets the counts again.
    Migrator::down(&db, Some(1)).await.unwrap();
    let counts: Vec<i64> = rows(&db, "SELECT click_count FROM links ORDER BY id")
        .await
        .iter()
        .map(|r| r.try_get("", "click_count").unwrap())
        .collect();
    assert_eq!(counts, [42, 0]);
    db.close().await.unwrap();
}
