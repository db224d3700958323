//! `webhooks` and `webhook_deliveries` (see the migration `m20261203_000002_create_webhooks`).

pub mod webhook {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhooks")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub owner_id: i64,
        pub url: String,
        pub description: Option<String>,
        /// The event types wanted, as a JSON array.
        pub events: String,
        pub secret: String,
        /// The secret before the last rotation, still signing until `previous_secret_until`.
        pub previous_secret: Option<String>,
        pub previous_secret_until: Option<DateTime<Utc>>,
        pub disabled_at: Option<DateTime<Utc>>,
        pub disabled_reason: Option<String>,
        /// Since when every delivery has failed; `None` after a success.
        pub failing_since: Option<DateTime<Utc>>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl Model {
        pub fn events(&self) -> Vec<String> {
            serde_json::from_str(&self.events).unwrap_or_default()
        }
    }
}

pub mod delivery {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};
    use utoipa::ToSchema;

    /// What became of one attempt.
    #[derive(
        Debug,
        Clone,
        Copy,
        PartialEq,
        Eq,
        EnumIter,
        DeriveActiveEnum,
        Serialize,
        Deserialize,
        ToSchema,
    )]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
    #[serde(rename_all = "lowercase")]
    pub enum Outcome {
        /// The receiver answered 2xx.
        #[sea_orm(string_value = "delivered")]
        Delivered,
        /// It failed, and will be tried again.
        #[sea_orm(string_value = "retrying")]
        Retrying,
        /// It failed for good: a 4xx other than 408 and 429, the last attempt, or the
        /// webhook was disabled.
        #[sea_orm(string_value = "failed")]
        Failed,
    }

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_deliveries")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub webhook_id: i64,
        pub message_id: String,
        pub event_type: String,
        pub attempt: i32,
        pub attempted_at: DateTime<Utc>,
        pub duration_ms: i32,
        pub response_status: Option<i16>,
        pub error: Option<String>,
        pub outcome: Outcome,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
