//! The tasks app's tables. They refer to `users`, so they run after the platform's.

mod m20261203_100001_create_tasks;

use sea_orm_migration::MigrationTrait;

pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![Box::new(m20261203_100001_create_tasks::Migration)]
}
