//! Links on more than one domain, as Shlink's and Kutt's: `links.domain` is the host name a
//! link is served on (one of the `links.domains` setting), `''` for the default domain (the
//! host of `public_url`). A slug is unique per domain, so the same slug can lead to
//! different places on two domains: `links_slug_key (slug)` becomes
//! `links_slug_domain_key (slug, domain)`, slug first so that lookups by slug alone still
//! use it.
//!
//! Why `''` and not NULL for the default: a unique index treats NULLs as all different, so
//! with NULL two links on the default domain could share a slug.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Links {
    Table,
    Slug,
    Domain,
}

const BEFORE: &str = "links_slug_key";
const AFTER: &str = "links_slug_domain_key";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Links::Table)
                    .add_column(
                        ColumnDef::new(Links::Domain)
                            .string_len(253)
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(Index::drop().name(BEFORE).table(Links::Table).to_owned())
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(AFTER)
                    .table(Links::Table)
                    .col(Links::Slug)
                    .col(Links::Domain)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    /// Fails if two domains have links with the same slug: which one should keep it?
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(AFTER).table(Links::Table).to_owned())
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(BEFORE)
                    .table(Links::Table)
                    .col(Links::Slug)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Links::Table)
                    .drop_column(Links::Domain)
                    .to_owned(),
            )
            .await
    }
}
