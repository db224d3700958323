//! Links, their tags and redirect rules, and their clicks.
//!
//! - `links.slug` is unique across the whole server: it is the path everyone follows.
//! - Tags are per owner and shared between links: a many-to-many relationship through
//!   `link_tags`, whose primary key is the pair `(link_id, tag_id)`.
//! - Rules (one-to-many) are evaluated in `position` order, unique per link.
//! - `clicks` is the raw log, one row per redirect; `click_rollups` holds counts per link,
//!   hour and dimension value (the `total` dimension counts every click; clicks without a
//!   value for a dimension, such as an unknown country, have no row of it), kept up to
//!   date as clicks are written, so that statistics read thousands of rollup rows instead
//!   of millions of clicks. `click_days` holds the
//!   same counts per UTC day for the days that are over (`click_days_compacted.through`
//!   says up to which): a 90-day range reads 90 rows per value, not 2,160.
//! - `link_visitors` remembers which (daily-salted) visitor hashes a link has seen on a day,
//!   so unique visitors are counted exactly once per day without storing any IP address;
//!   `visitor_salts` holds the salt of the current day only.

use platform::migrations::columns::{cascade, create_clustered, id, timestamp, timestamp_null};
use sea_orm_migration::{prelude::*, sea_orm::sea_query::Check};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Links {
    Table,
    Id,
    OwnerId,
    Slug,
    TargetUrl,
    Title,
    RedirectStatus,
    ForwardQuery,
    PasswordHash,
    ValidFrom,
    ValidUntil,
    MaxClicks,
    ClickCount,
    Safety,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Tags {
    Table,
    Id,
    OwnerId,
    Name,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum LinkTags {
    Table,
    LinkId,
    TagId,
}

#[derive(DeriveIden, Clone, Copy)]
enum LinkRules {
    Table,
    Id,
    LinkId,
    Position,
    Kind,
    Value,
    TargetUrl,
}

#[derive(DeriveIden, Clone, Copy)]
enum Clicks {
    Table,
    Id,
    LinkId,
    ClickedAt,
    Referrer,
    ReferrerHost,
    Country,
    Browser,
    Os,
    Device,
    Language,
    IsBot,
    VisitorHash,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    UtmTerm,
    UtmContent,
}

#[derive(DeriveIden, Clone, Copy)]
enum ClickRollups {
    Table,
    LinkId,
    Bucket,
    Dimension,
    Value,
    Clicks,
    BotClicks,
    Visitors,
}

#[derive(DeriveIden, Clone, Copy)]
enum ClickDays {
    Table,
    Day,
}

#[derive(DeriveIden, Clone, Copy)]
enum ClickDaysCompacted {
    Table,
    Id,
    Through,
}

#[derive(DeriveIden, Clone, Copy)]
enum VisitorSalts {
    Table,
    Day,
    Salt,
}

#[derive(DeriveIden, Clone, Copy)]
enum LinkVisitors {
    Table,
    LinkId,
    Day,
    VisitorHash,
}

fn text_null(col: impl IntoIden, len: u32) -> ColumnDef {
    ColumnDef::new(col).string_len(len).null().to_owned()
}

/// A rollup table: counts per link, dimension, time bucket and value, the bucket being an
/// hour (`click_rollups`) or a day (`click_days`). The primary key serves the writer's
/// upserts and the statistics, which read one link's rows by dimension and bucket range.
fn rollup_table(table: impl IntoIden + Copy + 'static, bucket: ColumnDef) -> TableCreateStatement {
    let bucket_name = bucket.get_column_name();
    let count = |col: ClickRollups| {
        ColumnDef::new(col)
            .big_integer()
            .not_null()
            .default(0)
            .to_owned()
    };
    Table::create()
        .table(table)
        .col(
            ColumnDef::new(ClickRollups::LinkId)
                .big_integer()
                .not_null(),
        )
        .col(bucket)
        .col(
            ColumnDef::new(ClickRollups::Dimension)
                .string_len(16)
                .not_null(),
        )
        .col(
            ColumnDef::new(ClickRollups::Value)
                .string_len(255)
                .not_null(),
        )
        // Human clicks; clicks by bots; visitors seen for the first time that UTC day.
        .col(count(ClickRollups::Clicks))
        .col(count(ClickRollups::BotClicks))
        .col(count(ClickRollups::Visitors))
        .primary_key(
            Index::create()
                .col(ClickRollups::LinkId)
                .col(ClickRollups::Dimension)
                .col(Alias::new(bucket_name))
                .col(ClickRollups::Value),
        )
        .foreign_key(&mut cascade(
            table,
            ClickRollups::LinkId,
            Links::Table,
            Links::Id,
        ))
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Links::Table)
                    .col(id(Links::Id))
                    .col(ColumnDef::new(Links::OwnerId).big_integer().not_null())
                    .col(ColumnDef::new(Links::Slug).string_len(64).not_null())
                    .col(ColumnDef::new(Links::TargetUrl).string_len(2048).not_null())
                    .col(text_null(Links::Title, 300))
                    .col(
                        ColumnDef::new(Links::RedirectStatus)
                            .small_integer()
                            .not_null()
                            .default(302),
                    )
                    .col(
                        ColumnDef::new(Links::ForwardQuery)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(ColumnDef::new(Links::PasswordHash).text().null())
                    .col(timestamp_null(Links::ValidFrom))
                    .col(timestamp_null(Links::ValidUntil))
                    .col(ColumnDef::new(Links::MaxClicks).big_integer().null())
                    .col(
                        ColumnDef::new(Links::ClickCount)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(Links::Safety)
                            .string_len(16)
                            .not_null()
                            .default("unchecked"),
                    )
                    .col(timestamp(Links::CreatedAt))
                    .col(timestamp(Links::UpdatedAt))
                    .check(Check::named(
                        "links_redirect_status_check",
                        Expr::col(Links::RedirectStatus).is_in([301, 302, 307, 308]),
                    ))
                    .check(Check::named(
                        "links_max_clicks_check",
                        Expr::cust("max_clicks IS NULL OR max_clicks > 0"),
                    ))
                    .check(Check::named(
                        "links_validity_check",
                        Expr::cust(
                            "valid_from IS NULL OR valid_until IS NULL OR valid_until > valid_from",
                        ),
                    ))
                    .check(Check::named(
                        "links_safety_check",
                        Expr::col(Links::Safety).is_in(["unchecked", "pending", "safe", "unsafe"]),
                    ))
                    .foreign_key(&mut cascade(
                        Links::Table,
                        Links::OwnerId,
                        Users::Table,
                        Users::Id,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Tags::Table)
                    .col(id(Tags::Id))
                    .col(ColumnDef::new(Tags::OwnerId).big_integer().not_null())
                    .col(ColumnDef::new(Tags::Name).string_len(50).not_null())
                    .col(timestamp(Tags::CreatedAt))
                    .foreign_key(&mut cascade(
                        Tags::Table,
                        Tags::OwnerId,
                        Users::Table,
                        Users::Id,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LinkTags::Table)
                    .col(ColumnDef::new(LinkTags::LinkId).big_integer().not_null())
                    .col(ColumnDef::new(LinkTags::TagId).big_integer().not_null())
                    .primary_key(Index::create().col(LinkTags::LinkId).col(LinkTags::TagId))
                    .foreign_key(&mut cascade(
                        LinkTags::Table,
                        LinkTags::LinkId,
                        Links::Table,
                        Links::Id,
                    ))
                    .foreign_key(&mut cascade(
                        LinkTags::Table,
                        LinkTags::TagId,
                        Tags::Table,
                        Tags::Id,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LinkRules::Table)
                    .col(id(LinkRules::Id))
                    .col(ColumnDef::new(LinkRules::LinkId).big_integer().not_null())
                    .col(
                        ColumnDef::new(LinkRules::Position)
                            .small_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(LinkRules::Kind).string_len(16).not_null())
                    .col(ColumnDef::new(LinkRules::Value).string_len(35).not_null())
                    .col(
                        ColumnDef::new(LinkRules::TargetUrl)
                            .string_len(2048)
                            .not_null(),
                    )
                    .check(Check::named(
                        "link_rules_kind_check",
                        Expr::col(LinkRules::Kind).is_in(["device", "country", "language"]),
                    ))
                    .foreign_key(&mut cascade(
                        LinkRules::Table,
                        LinkRules::LinkId,
                        Links::Table,
                        Links::Id,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Clicks::Table)
                    .col(id(Clicks::Id))
                    .col(ColumnDef::new(Clicks::LinkId).big_integer().not_null())
                    .col(timestamp(Clicks::ClickedAt))
                    .col(text_null(Clicks::Referrer, 2048))
                    .col(text_null(Clicks::ReferrerHost, 255))
                    .col(ColumnDef::new(Clicks::Country).char_len(2).null())
                    .col(ColumnDef::new(Clicks::Browser).string_len(32).not_null())
                    .col(ColumnDef::new(Clicks::Os).string_len(32).not_null())
                    .col(ColumnDef::new(Clicks::Device).string_len(16).not_null())
                    .col(text_null(Clicks::Language, 16))
                    .col(ColumnDef::new(Clicks::IsBot).boolean().not_null())
                    .col(
                        ColumnDef::new(Clicks::VisitorHash)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(text_null(Clicks::UtmSource, 255))
                    .col(text_null(Clicks::UtmMedium, 255))
                    .col(text_null(Clicks::UtmCampaign, 255))
                    .col(text_null(Clicks::UtmTerm, 255))
                    .col(text_null(Clicks::UtmContent, 255))
                    .foreign_key(&mut cascade(
                        Clicks::Table,
                        Clicks::LinkId,
                        Links::Table,
                        Links::Id,
                    ))
                    .to_owned(),
            )
            .await?;

        create_clustered(
            manager,
            rollup_table(ClickRollups::Table, timestamp(ClickRollups::Bucket)),
        )
        .await?;
        create_clustered(
            manager,
            rollup_table(
                ClickDays::Table,
                ColumnDef::new(ClickDays::Day).date().not_null().to_owned(),
            ),
        )
        .await?;
        // One row: the last UTC day whose `click_days` are complete (NULL: none yet). The
        // writer reads it (FOR SHARE) in every batch, to add late clicks of such days to
        // `click_days` too; the compactor locks it (FOR UPDATE) to add a day.
        manager
            .create_table(
                Table::create()
                    .table(ClickDaysCompacted::Table)
                    .col(
                        ColumnDef::new(ClickDaysCompacted::Id)
                            .small_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ClickDaysCompacted::Through).date().null())
                    .check(Check::named(
                        "click_days_compacted_one_row",
                        Expr::col(ClickDaysCompacted::Id).eq(1),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(ClickDaysCompacted::Table)
                    .columns([ClickDaysCompacted::Id])
                    .values_panic([1.into()])
                    .to_owned(),
            )
            .await?;

        create_clustered(
            manager,
            Table::create()
                .table(LinkVisitors::Table)
                .col(
                    ColumnDef::new(LinkVisitors::LinkId)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(LinkVisitors::Day).date().not_null())
                .col(
                    ColumnDef::new(LinkVisitors::VisitorHash)
                        .string_len(32)
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(LinkVisitors::LinkId)
                        .col(LinkVisitors::Day)
                        .col(LinkVisitors::VisitorHash),
                )
                .foreign_key(&mut cascade(
                    LinkVisitors::Table,
                    LinkVisitors::LinkId,
                    Links::Table,
                    Links::Id,
                ))
                .to_owned(),
        )
        .await?;

        // One random salt per day, shared by every instance through the database and deleted
        // once the day is over: visitor hashes of different days cannot be linked, and
        // nothing left in the database can turn a hash back into an address.
        manager
            .create_table(
                Table::create()
                    .table(VisitorSalts::Table)
                    .col(
                        ColumnDef::new(VisitorSalts::Day)
                            .date()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(VisitorSalts::Salt).string_len(64).not_null())
                    .to_owned(),
            )
            .await?;

        let indexes = [
            Index::create()
                .name("links_slug_key")
                .table(Links::Table)
                .col(Links::Slug)
                .unique()
                .to_owned(),
            // The owner's list, newest first (the default order).
            Index::create()
                .name("links_owner_created_idx")
                .table(Links::Table)
                .col(Links::OwnerId)
                .col(Links::CreatedAt)
                .to_owned(),
            Index::create()
                .name("tags_owner_id_name_key")
                .table(Tags::Table)
                .col(Tags::OwnerId)
                .col(Tags::Name)
                .unique()
                .to_owned(),
            Index::create()
                .name("link_tags_tag_id_idx")
                .table(LinkTags::Table)
                .col(LinkTags::TagId)
                .to_owned(),
            Index::create()
                .name("link_rules_link_id_position_key")
                .table(LinkRules::Table)
                .col(LinkRules::LinkId)
                .col(LinkRules::Position)
                .unique()
                .to_owned(),
            // Raw clicks of one link in a time range (paging, CSV export).
            Index::create()
                .name("clicks_link_id_clicked_at_idx")
                .table(Clicks::Table)
                .col(Clicks::LinkId)
                .col(Clicks::ClickedAt)
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            VisitorSalts::Table.into_iden(),
            LinkVisitors::Table.into_iden(),
            ClickDaysCompacted::Table.into_iden(),
            ClickDays::Table.into_iden(),
            ClickRollups::Table.into_iden(),
            Clicks::Table.into_iden(),
            LinkRules::Table.into_iden(),
            LinkTags::Table.into_iden(),
            Tags::Table.into_iden(),
            Links::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
