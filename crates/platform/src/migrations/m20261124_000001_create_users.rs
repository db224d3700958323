//! `users`: one row per account, whatever way it signs in.
//!
//! - `id` is a surrogate key (BIGINT identity): emails change, ids never do, and every
//!   app's rows refer to it by foreign key.
//! - `email` is stored lower-cased by the application and unique, so uniqueness is
//!   case-insensitive on both databases without an expression index.
//! - `password_hash` is nullable: an account made through social login has no password.
//! - `role` is constrained to the known roles; `DEFAULT 'member'` makes least privilege the
//!   default for any insert that forgets it.
//! - Timestamps are `timestamp with time zone` (UTC) on PostgreSQL; SQLite stores them as
//!   RFC 3339 text, which sorts in time order.

use sea_orm_migration::{prelude::*, sea_orm::sea_query::Check};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    DisplayName,
    PasswordHash,
    Role,
    EmailVerifiedAt,
    DisabledAt,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(
                        ColumnDef::new(Users::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Users::Email).string_len(254).not_null())
                    .col(
                        ColumnDef::new(Users::DisplayName)
                            .string_len(100)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Users::PasswordHash).text().null())
                    .col(
                        ColumnDef::new(Users::Role)
                            .string_len(16)
                            .not_null()
                            .default("member"),
                    )
                    .col(
                        ColumnDef::new(Users::EmailVerifiedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Users::DisabledAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Users::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null()
                            .default(Expr::current_timestamp()),
                    )
                    .col(
                        ColumnDef::new(Users::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null()
                            .default(Expr::current_timestamp()),
                    )
                    .check(Check::named(
                        "users_role_check",
                        Expr::col(Users::Role).is_in(["admin", "member"]),
                    ))
                    .check(Check::named(
                        "users_display_name_check",
                        Expr::cust("length(display_name) BETWEEN 1 AND 100"),
                    ))
                    .check(Check::named(
                        "users_email_check",
                        Expr::cust("email LIKE '%_@_%'"),
                    ))
                    .to_owned(),
            )
            .await?;
        // Named as PostgreSQL would name a UNIQUE column constraint, on both databases.
        manager
            .create_index(
                Index::create()
                    .name("users_email_key")
                    .table(Users::Table)
                    .col(Users::Email)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}
