//! `webhooks`: where a user wants events sent, signed with a secret of its own; and
//! `webhook_deliveries`: every attempt at sending one, for the owner to see.
//!
//! The secret is stored as it is, unlike passwords, tokens and keys (which we only ever
//! compare, so we keep their hashes): each delivery is signed with it, so the server must be
//! able to read it back.

use sea_orm_migration::prelude::*;

use super::columns::{cascade, id, timestamp, timestamp_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Webhooks {
    Table,
    Id,
    OwnerId,
    Url,
    Description,
    Events,
    Secret,
    PreviousSecret,
    PreviousSecretUntil,
    DisabledAt,
    DisabledReason,
    FailingSince,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookDeliveries {
    Table,
    Id,
    WebhookId,
    MessageId,
    EventType,
    Attempt,
    AttemptedAt,
    DurationMs,
    ResponseStatus,
    Error,
    Outcome,
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
                    .table(Webhooks::Table)
                    .col(id(Webhooks::Id))
                    .col(ColumnDef::new(Webhooks::OwnerId).big_integer().not_null())
                    .col(ColumnDef::new(Webhooks::Url).string_len(2048).not_null())
                    .col(ColumnDef::new(Webhooks::Description).string_len(200).null())
                    // A JSON array of event types.
                    .col(ColumnDef::new(Webhooks::Events).text().not_null())
                    .col(ColumnDef::new(Webhooks::Secret).string_len(64).not_null())
                    .col(
                        ColumnDef::new(Webhooks::PreviousSecret)
                            .string_len(64)
                            .null(),
                    )
                    .col(timestamp_null(Webhooks::PreviousSecretUntil))
                    .col(timestamp_null(Webhooks::DisabledAt))
                    .col(ColumnDef::new(Webhooks::DisabledReason).text().null())
                    .col(timestamp_null(Webhooks::FailingSince))
                    .col(timestamp(Webhooks::CreatedAt))
                    .col(timestamp(Webhooks::UpdatedAt))
                    .foreign_key(&mut cascade(
                        Webhooks::Table,
                        Webhooks::OwnerId,
                        Users::Table,
                        Users::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhooks_owner_id_idx")
                    .table(Webhooks::Table)
                    .col(Webhooks::OwnerId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(id(WebhookDeliveries::Id))
                    .col(
                        ColumnDef::new(WebhookDeliveries::WebhookId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::MessageId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::EventType)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::Attempt)
                            .integer()
                            .not_null(),
                    )
                    .col(timestamp(WebhookDeliveries::AttemptedAt))
                    .col(
                        ColumnDef::new(WebhookDeliveries::DurationMs)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::ResponseStatus)
                            .small_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(WebhookDeliveries::Error).text().null())
                    .col(
                        ColumnDef::new(WebhookDeliveries::Outcome)
                            .string_len(16)
                            .not_null(),
                    )
                    .foreign_key(&mut cascade(
                        WebhookDeliveries::Table,
                        WebhookDeliveries::WebhookId,
                        Webhooks::Table,
                        Webhooks::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhook_deliveries_webhook_id_idx")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::WebhookId)
                    .col(WebhookDeliveries::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Webhooks::Table).to_owned())
            .await
    }
}
