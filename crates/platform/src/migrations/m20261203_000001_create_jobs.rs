//! `jobs`: the durable queue every app's background work goes through (see `crate::jobs`).
//! A row is queued, running (leased by an instance until `locked_until`), done or dead;
//! done rows are kept for a while so that an idempotency key (and a recurring job's slot)
//! keeps meaning "already done".

use sea_orm_migration::prelude::*;

use super::columns::{id, timestamp, timestamp_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Jobs {
    Table,
    Id,
    Kind,
    Payload,
    State,
    RunAt,
    Attempts,
    LastError,
    LockedUntil,
    LockedBy,
    IdempotencyKey,
    CreatedAt,
    StartedAt,
    FinishedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(id(Jobs::Id))
                    .col(ColumnDef::new(Jobs::Kind).string_len(64).not_null())
                    .col(ColumnDef::new(Jobs::Payload).text().not_null())
                    .col(ColumnDef::new(Jobs::State).string_len(16).not_null())
                    .col(timestamp(Jobs::RunAt))
                    .col(
                        ColumnDef::new(Jobs::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ColumnDef::new(Jobs::LastError).text().null())
                    .col(timestamp_null(Jobs::LockedUntil))
                    .col(ColumnDef::new(Jobs::LockedBy).string_len(64).null())
                    .col(ColumnDef::new(Jobs::IdempotencyKey).string_len(255).null())
                    .col(timestamp(Jobs::CreatedAt))
                    .col(timestamp_null(Jobs::StartedAt))
                    .col(timestamp_null(Jobs::FinishedAt))
                    .to_owned(),
            )
            .await?;
        // Several NULL keys are allowed by both databases: only keyed jobs are deduplicated.
        manager
            .create_index(
                Index::create()
                    .name("jobs_idempotency_key")
                    .table(Jobs::Table)
                    .col(Jobs::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The claim: queued jobs by due time, and running jobs by lease end.
        manager
            .create_index(
                Index::create()
                    .name("jobs_state_run_at")
                    .table(Jobs::Table)
                    .col(Jobs::State)
                    .col(Jobs::RunAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("jobs_state_locked_until")
                    .table(Jobs::Table)
                    .col(Jobs::State)
                    .col(Jobs::LockedUntil)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Jobs::Table).to_owned())
            .await
    }
}
