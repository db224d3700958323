//! Push by ntfy: each user's topic URL (`https://ntfy.sh/my-topic`, or a topic on their own
//! server) and, for a protected topic, its access token. Both nullable: no URL, no push.
//!
//! The token is kept as it is given, as the webhooks' signing secrets are: the server must
//! present it at every push, so a hash would not do, and encrypting it would need a key the
//! operator keeps apart from the database, which the platform does not have yet. It is
//! never returned by the API (`token_set` says whether there is one) nor put in a job's
//! payload: the push job reads it when it sends.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum NotificationPreferences {
    Table,
    NtfyUrl,
    NtfyToken,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(NotificationPreferences::Table)
                    .add_column(
                        ColumnDef::new(NotificationPreferences::NtfyUrl)
                            .string_len(2048)
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(NotificationPreferences::Table)
                    .add_column(
                        ColumnDef::new(NotificationPreferences::NtfyToken)
                            .string_len(256)
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            NotificationPreferences::NtfyToken,
            NotificationPreferences::NtfyUrl,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(NotificationPreferences::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
