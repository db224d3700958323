//! `orphan_visits`: visits that reached no link, as Shlink's orphan visits. A slug that is
//! unknown, expired, not yet valid or used up (`invalid_short_url`), and the bare domain
//! (`base_url`). They belong to no account, so only administrators read them.
//!
//! Kept apart from `clicks` rather than as clicks without a link: the statistics, the
//! counters and the rollups are all per link, and every query on `clicks` would have to
//! leave these out. What is known of the visitor is what a click keeps, but no visitor hash
//! (there is no link to count unique visitors of) and no UTM parameters.

use platform::migrations::columns::{id, timestamp};
use sea_orm_migration::{prelude::*, sea_orm::sea_query::Check};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OrphanVisits {
    Table,
    Id,
    VisitedAt,
    Kind,
    Domain,
    Slug,
    Referrer,
    ReferrerHost,
    Country,
    Browser,
    Os,
    Device,
    Language,
    IsBot,
}

fn text_null(col: OrphanVisits, len: u32) -> ColumnDef {
    ColumnDef::new(col).string_len(len).null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrphanVisits::Table)
                    .col(id(OrphanVisits::Id))
                    .col(timestamp(OrphanVisits::VisitedAt))
                    .col(ColumnDef::new(OrphanVisits::Kind).string_len(32).not_null())
                    // `''` for the default domain, as `links.domain`.
                    .col(
                        ColumnDef::new(OrphanVisits::Domain)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(text_null(OrphanVisits::Slug, 255))
                    .col(text_null(OrphanVisits::Referrer, 2048))
                    .col(text_null(OrphanVisits::ReferrerHost, 255))
                    .col(ColumnDef::new(OrphanVisits::Country).char_len(2).null())
                    .col(
                        ColumnDef::new(OrphanVisits::Browser)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(OrphanVisits::Os).string_len(32).not_null())
                    .col(
                        ColumnDef::new(OrphanVisits::Device)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(text_null(OrphanVisits::Language, 16))
                    .col(ColumnDef::new(OrphanVisits::IsBot).boolean().not_null())
                    .check(Check::named(
                        "orphan_visits_kind_check",
                        Expr::col(OrphanVisits::Kind).is_in(["invalid_short_url", "base_url"]),
                    ))
                    .to_owned(),
            )
            .await?;
        // The list is newest first by id; a range of days is read through this.
        manager
            .create_index(
                Index::create()
                    .name("orphan_visits_visited_at_idx")
                    .table(OrphanVisits::Table)
                    .col(OrphanVisits::VisitedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OrphanVisits::Table).to_owned())
            .await
    }
}
