//! `oauth_states.user_id`: the account a provider identity is to be linked to, when a
//! signed-in user started the flow to link one (`POST /api/v1/me/identities/{provider}`)
//! rather than to sign in. Null for sign-ins.
//!
//! No foreign key: SQLite cannot add a column with one, and a state lives ten minutes; the
//! callback reads the account again and refuses if it is gone.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum OauthStates {
    Table,
    UserId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OauthStates::Table)
                    .add_column(ColumnDef::new(OauthStates::UserId).big_integer().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OauthStates::Table)
                    .drop_column(OauthStates::UserId)
                    .to_owned(),
            )
            .await
    }
}
