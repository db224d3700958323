//! Everything a user signs in with gets a table of its own rather than columns on `users`:
//! a user has many sessions, many refresh tokens, many API keys and many social identities
//! (one-to-many), and each of those has its own lifetime and revocation. Every credential is
//! stored as a SHA-256 hash of a 256-bit random token, never as the token itself: a leaked
//! database does not let anyone sign in. `ON DELETE CASCADE` from `users` means deleting an
//! account deletes every way into it.
//!
//! `users` itself is altered (the roadmap's ALTER TABLE): it gains a failed-login counter
//! and the time of the last sign-in.

use sea_orm_migration::{prelude::*, sea_orm::sea_query::Check};

use super::columns::{cascade, id, timestamp, timestamp_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
    FailedLogins,
    LastLoginAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Sessions {
    Table,
    Id,
    TokenHash,
    UserId,
    CsrfToken,
    CreatedAt,
    ExpiresAt,
    LastSeenAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RefreshTokens {
    Table,
    Id,
    TokenHash,
    UserId,
    FamilyId,
    CreatedAt,
    ExpiresAt,
    RotatedAt,
    RevokedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ApiKeys {
    Table,
    Id,
    UserId,
    Name,
    Prefix,
    KeyHash,
    Scope,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum OauthIdentities {
    Table,
    Provider,
    Subject,
    UserId,
    Email,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum UserTokens {
    Table,
    TokenHash,
    UserId,
    Purpose,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

/// `user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE`, as a column and a key.
fn owner(
    table: impl IntoIden + Clone + 'static,
    col: impl IntoIden + Clone + 'static,
) -> (ColumnDef, ForeignKeyCreateStatement) {
    (
        ColumnDef::new(col.clone())
            .big_integer()
            .not_null()
            .to_owned(),
        cascade(table, col, Users::Table, Users::Id),
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            ColumnDef::new(Users::FailedLogins)
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
            timestamp_null(Users::LastLoginAt),
        ] {
            // One column per statement: SQLite's ALTER TABLE adds one at a time.
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }

        let (user_id, fk) = owner(Sessions::Table, Sessions::UserId);
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(id(Sessions::Id))
                    .col(
                        ColumnDef::new(Sessions::TokenHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(user_id)
                    .col(
                        ColumnDef::new(Sessions::CsrfToken)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(timestamp(Sessions::CreatedAt))
                    .col(timestamp(Sessions::ExpiresAt))
                    .col(timestamp(Sessions::LastSeenAt))
                    .foreign_key(&mut fk.clone())
                    .to_owned(),
            )
            .await?;

        let (user_id, fk) = owner(RefreshTokens::Table, RefreshTokens::UserId);
        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(id(RefreshTokens::Id))
                    .col(
                        ColumnDef::new(RefreshTokens::TokenHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(user_id)
                    // Every token rotated from one sign-in shares its family; re-use of a
                    // rotated token revokes the whole family.
                    .col(
                        ColumnDef::new(RefreshTokens::FamilyId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(timestamp(RefreshTokens::CreatedAt))
                    .col(timestamp(RefreshTokens::ExpiresAt))
                    .col(timestamp_null(RefreshTokens::RotatedAt))
                    .col(timestamp_null(RefreshTokens::RevokedAt))
                    .foreign_key(&mut fk.clone())
                    .to_owned(),
            )
            .await?;

        let (user_id, fk) = owner(ApiKeys::Table, ApiKeys::UserId);
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(id(ApiKeys::Id))
                    .col(user_id)
                    .col(ColumnDef::new(ApiKeys::Name).string_len(100).not_null())
                    .col(ColumnDef::new(ApiKeys::Prefix).string_len(16).not_null())
                    .col(ColumnDef::new(ApiKeys::KeyHash).string_len(64).not_null())
                    .col(
                        ColumnDef::new(ApiKeys::Scope)
                            .string_len(16)
                            .not_null()
                            .default("read"),
                    )
                    .col(timestamp(ApiKeys::CreatedAt))
                    .col(timestamp_null(ApiKeys::ExpiresAt))
                    .col(timestamp_null(ApiKeys::LastUsedAt))
                    .check(Check::named(
                        "api_keys_scope_check",
                        Expr::col(ApiKeys::Scope).is_in(["read", "write"]),
                    ))
                    .foreign_key(&mut fk.clone())
                    .to_owned(),
            )
            .await?;

        let (user_id, fk) = owner(OauthIdentities::Table, OauthIdentities::UserId);
        manager
            .create_table(
                Table::create()
                    .table(OauthIdentities::Table)
                    // A composite primary key: the provider's own id for the person is unique
                    // only within that provider.
                    .col(
                        ColumnDef::new(OauthIdentities::Provider)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OauthIdentities::Subject)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(user_id)
                    .col(
                        ColumnDef::new(OauthIdentities::Email)
                            .string_len(254)
                            .null(),
                    )
                    .col(timestamp(OauthIdentities::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(OauthIdentities::Provider)
                            .col(OauthIdentities::Subject),
                    )
                    .foreign_key(&mut fk.clone())
                    .to_owned(),
            )
            .await?;

        let (user_id, fk) = owner(UserTokens::Table, UserTokens::UserId);
        manager
            .create_table(
                Table::create()
                    .table(UserTokens::Table)
                    .col(
                        ColumnDef::new(UserTokens::TokenHash)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(user_id)
                    .col(
                        ColumnDef::new(UserTokens::Purpose)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(timestamp(UserTokens::CreatedAt))
                    .col(timestamp(UserTokens::ExpiresAt))
                    .col(timestamp_null(UserTokens::UsedAt))
                    .check(Check::named(
                        "user_tokens_purpose_check",
                        Expr::col(UserTokens::Purpose).is_in(["verify_email", "reset_password"]),
                    ))
                    .foreign_key(&mut fk.clone())
                    .to_owned(),
            )
            .await?;

        // Lookups by credential are by hash: unique, so a hash names one row.
        for (name, table, col) in [
            (
                "sessions_token_hash_key",
                Sessions::Table.into_iden(),
                Sessions::TokenHash.into_iden(),
            ),
            (
                "refresh_tokens_token_hash_key",
                RefreshTokens::Table.into_iden(),
                RefreshTokens::TokenHash.into_iden(),
            ),
            (
                "api_keys_key_hash_key",
                ApiKeys::Table.into_iden(),
                ApiKeys::KeyHash.into_iden(),
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(table)
                        .col(col)
                        .unique()
                        .to_owned(),
                )
                .await?;
        }
        // Foreign keys are not indexed automatically; these make "everything of user X"
        // (listing keys, signing out everywhere, deleting an account) an index scan.
        for (name, table, col) in [
            (
                "sessions_user_id_idx",
                Sessions::Table.into_iden(),
                Sessions::UserId.into_iden(),
            ),
            (
                "refresh_tokens_user_id_idx",
                RefreshTokens::Table.into_iden(),
                RefreshTokens::UserId.into_iden(),
            ),
            (
                "refresh_tokens_family_id_idx",
                RefreshTokens::Table.into_iden(),
                RefreshTokens::FamilyId.into_iden(),
            ),
            (
                "api_keys_user_id_idx",
                ApiKeys::Table.into_iden(),
                ApiKeys::UserId.into_iden(),
            ),
            (
                "oauth_identities_user_id_idx",
                OauthIdentities::Table.into_iden(),
                OauthIdentities::UserId.into_iden(),
            ),
            (
                "user_tokens_user_id_idx",
                UserTokens::Table.into_iden(),
                UserTokens::UserId.into_iden(),
            ),
        ] {
            manager
                .create_index(Index::create().name(name).table(table).col(col).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            UserTokens::Table.into_iden(),
            OauthIdentities::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            Sessions::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for column in [Users::LastLoginAt, Users::FailedLogins] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
