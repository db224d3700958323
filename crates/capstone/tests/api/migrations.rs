use sea_orm_migration::{
    MigratorTrait,
    sea_orm::{ConnectionTrait, Database},
};
use testkit::TestDatabase;

use capstone::Migrator;

async fn has_table(db: &impl ConnectionTrait, table: &str) -> bool {
    db.execute_unprepared(&format!("SELECT 1 FROM {table} LIMIT 1"))
        .await
        .is_ok()
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
