//! `oauth_states`: social logins in progress, between `/start` and `/callback`.
//!
//! The row lives in the database rather than in memory so that the callback may land on
//! another instance than the one that sent the browser off. Like every credential, the
//! `state` is stored only as its SHA-256; the PKCE verifier is stored as is, since we must
//! send it to the provider, and it is worth nothing without the one-time code that only
//! the provider and the user's browser see. Rows last ten minutes and are used once.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum OauthStates {
    Table,
    StateHash,
    Provider,
    CodeVerifier,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OauthStates::Table)
                    .col(
                        ColumnDef::new(OauthStates::StateHash)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(OauthStates::Provider)
                            .string_len(16)
                            .not_null(),
                    )
                    // RFC 7636 allows 43 to 128 characters.
                    .col(
                        ColumnDef::new(OauthStates::CodeVerifier)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OauthStates::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OauthStates::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // Expired rows (abandoned sign-ins) are swept by `expires_at`.
        manager
            .create_index(
                Index::create()
                    .name("oauth_states_expires_at_idx")
                    .table(OauthStates::Table)
                    .col(OauthStates::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OauthStates::Table).to_owned())
            .await
    }
}
