use sea_orm_migration::{
    MigratorTrait,
    sea_orm::{ConnectionTrait, Database, DatabaseConnection, QueryResult, Statement},
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
    let after = u32::try_from(pending.len() - before).unwrap();
    Migrator::down(&db, Some(after)).await.unwrap();
    let counts: Vec<i64> = rows(&db, "SELECT click_count FROM links ORDER BY id")
        .await
        .iter()
        .map(|r| r.try_get("", "click_count").unwrap())
        .collect();
    assert_eq!(counts, [42, 0]);
    db.close().await.unwrap();
}

/// `clicks`, `click_rollups` and `link_visitors` have no foreign key to `links` (the click
/// writer would pay for a check per row); a trigger deletes their rows with the link's,
/// whether the link is deleted by itself or with its owner.
#[tokio::test]
async fn a_deleted_link_takes_its_click_log_with_it() {
    let test_db = TestDatabase::fresh().await;
    let db = Database::connect(&test_db.url).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    db.execute_unprepared(
        "INSERT INTO users (id, email, display_name) VALUES (1, 'ann@example.com', 'Ann'), \
         (2, 'bob@example.com', 'Bob')",
    )
    .await
    .unwrap();
    // Links 1 and 2 are Ann's, 3 is Bob's; each has a click, a rollup row and a visitor.
    for (link, owner) in [(1, 1), (2, 1), (3, 2)] {
        for sql in [
            format!(
                "INSERT INTO links (id, owner_id, slug, target_url, created_at, updated_at) \
                 VALUES ({link}, {owner}, 's{link}', 'https://example.com/', \
                 CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            format!(
                "INSERT INTO clicks (link_id, clicked_at, browser, os, device, is_bot, \
                 visitor_hash) VALUES ({link}, CURRENT_TIMESTAMP, 'Firefox', 'Linux', \
                 'desktop', false, 'v')"
            ),
            format!(
                "INSERT INTO click_rollups (link_id, bucket, dimension, value, clicks) \
                 VALUES ({link}, CURRENT_TIMESTAMP, 'total', '', 1)"
            ),
            format!(
                "INSERT INTO link_visitors (link_id, day, visitor_hash) \
                 VALUES ({link}, CURRENT_DATE, 'v')"
            ),
        ] {
            db.execute_unprepared(&sql).await.unwrap();
        }
    }
    let log = async |db: &sea_orm_migration::sea_orm::DatabaseConnection| {
        let mut left = Vec::new();
        for table in ["clicks", "click_rollups", "link_visitors"] {
            let ids: Vec<i64> = rows(db, &format!("SELECT link_id FROM {table} ORDER BY 1"))
                .await
                .iter()
                .map(|r| r.try_get("", "link_id").unwrap())
                .collect();
            left.push(ids);
        }
        left
    };

    db.execute_unprepared("DELETE FROM links WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(log(&db).await, [[2, 3], [2, 3], [2, 3]]);

    // Ann's account goes, her links with it (ON DELETE CASCADE), their log with them.
    db.execute_unprepared("DELETE FROM users WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(log(&db).await, [[3], [3], [3]]);

    // Rolled back, the foreign keys are back and do the same.
    roll_back_through(&db, "m20261130_000002_click_log_without_foreign_keys").await;
    db.execute_unprepared("DELETE FROM users WHERE id = 2")
        .await
        .unwrap();
    let empty: [[i64; 0]; 3] = [[], [], []];
    assert_eq!(log(&db).await, empty);
    db.close().await.unwrap();
}

/// Rolls back the migrations applied since `name`, newest first, `name` included.
async fn roll_back_through(db: &DatabaseConnection, name: &str) {
    let applied = Migrator::get_applied_migrations(db).await.unwrap();
    let from = applied
        .iter()
        .position(|m| m.name() == name)
        .expect("the migration is applied");
    let count = u32::try_from(applied.len() - from).unwrap();
    Migrator::down(db, Some(count)).await.unwrap();
}
