//! `sign_in_addresses`: the client addresses each account has signed in from, kept as a
//! hash. While an account is under attack (past its failure limit), only these addresses
//! may still try its password: see `auth::login`.

use sea_orm_migration::prelude::*;

use super::columns::{cascade, timestamp};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum SignInAddresses {
    Table,
    UserId,
    AddressHash,
    LastSeenAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SignInAddresses::Table)
                    .col(
                        ColumnDef::new(SignInAddresses::UserId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SignInAddresses::AddressHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(timestamp(SignInAddresses::LastSeenAt))
                    .primary_key(
                        Index::create()
                            .col(SignInAddresses::UserId)
                            .col(SignInAddresses::AddressHash),
                    )
                    .foreign_key(&mut cascade(
                        SignInAddresses::Table,
                        SignInAddresses::UserId,
                        Users::Table,
                        Users::Id,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SignInAddresses::Table).to_owned())
            .await
    }
}
