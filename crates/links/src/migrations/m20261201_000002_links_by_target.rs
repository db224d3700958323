//! `links_owner_target_idx (owner_id, target_url)`: an owner's links to one target, for a
//! create with `find_if_exists` (see `store::find_existing`). Without it, each such create
//! reads every link of its owner: a bulk import of 1,000 into an account of 100,000 links
//! would read 100 million rows.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Links {
    Table,
    OwnerId,
    TargetUrl,
}

const INDEX: &str = "links_owner_target_idx";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Links::Table)
                    .col(Links::OwnerId)
                    .col(Links::TargetUrl)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Links::Table).to_owned())
            .await
    }
}
