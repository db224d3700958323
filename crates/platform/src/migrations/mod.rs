//! The platform's tables. Apps bring their own migrations; the binary runs them all, in
//! order, platform first (app tables refer to `users`).

pub mod columns;
mod m20261124_000001_create_users;
mod m20261124_000002_create_auth_tables;
mod m20261124_000003_create_oauth_states;
mod m20261201_000001_oauth_link_states;
mod m20261202_000001_sign_in_addresses;
mod m20261203_000001_create_jobs;
mod m20261203_000002_create_webhooks;
mod m20261203_000003_create_notifications;
mod m20261203_000004_jobs_claim_indexes;
mod m20261203_000005_notification_ntfy;
mod m20261203_000006_idempotency_keys;

use sea_orm_migration::MigrationTrait;

pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(m20261124_000001_create_users::Migration),
        Box::new(m20261124_000002_create_auth_tables::Migration),
        Box::new(m20261124_000003_create_oauth_states::Migration),
        Box::new(m20261201_000001_oauth_link_states::Migration),
        Box::new(m20261202_000001_sign_in_addresses::Migration),
        Box::new(m20261203_000001_create_jobs::Migration),
        Box::new(m20261203_000002_create_webhooks::Migration),
        Box::new(m20261203_000003_create_notifications::Migration),
        Box::new(m20261203_000004_jobs_claim_indexes::Migration),
        Box::new(m20261203_000005_notification_ntfy::Migration),
        Box::new(m20261203_000006_idempotency_keys::Migration),
    ]
}
