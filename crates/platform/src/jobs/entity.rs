//! `jobs`: one row per piece of work (see the migration `m20261203_000001_create_jobs`).

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a job is in its life.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for its `run_at`, or for a worker.
    #[sea_orm(string_value = "queued")]
    Queued,
    /// Leased by an instance until `locked_until`; claimable again once that has passed.
    #[sea_orm(string_value = "running")]
    Running,
    #[sea_orm(string_value = "done")]
    Done,
    /// Failed for good (a permanent error, or its last attempt); kept for administrators.
    #[sea_orm(string_value = "dead")]
    Dead,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: String,
    /// The job's value as JSON.
    pub payload: String,
    pub state: JobState,
    pub run_at: DateTime<Utc>,
    /// Attempts started, the current one included.
    pub attempts: i32,
    pub last_error: Option<String>,
    pub locked_until: Option<DateTime<Utc>>,
    pub locked_by: Option<String>,
    pub idempotency_key: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
