//! The links app's tables. They refer to `users`, so they run after the platform's.

mod m20261125_000001_create_links;
mod m20261130_000001_narrow_click_counts;
mod m20261130_000002_click_log_without_foreign_keys;
mod m20261201_000001_query_rules;
mod m20261201_000002_links_by_target;
mod m20261201_000003_ip_rules;
mod m20261201_000004_link_domains;
mod m20261201_000005_orphan_visits;
mod m20261201_000006_orphan_regular_404;

mod checks;
mod sqlite;

use sea_orm_migration::MigrationTrait;

pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(m20261125_000001_create_links::Migration),
        Box::new(m20261130_000001_narrow_click_counts::Migration),
        Box::new(m20261130_000002_click_log_without_foreign_keys::Migration),
        Box::new(m20261201_000001_query_rules::Migration),
        Box::new(m20261201_000002_links_by_target::Migration),
        Box::new(m20261201_000003_ip_rules::Migration),
        Box::new(m20261201_000004_link_domains::Migration),
        Box::new(m20261201_000005_orphan_visits::Migration),
        Box::new(m20261201_000006_orphan_regular_404::Migration),
    ]
}
