//! What happens to tasks, told twice in the transaction of the change: as a row of the
//! project's activity (`task_events`), and as a signed webhook event (Standard Webhooks)
//! to the webhooks of every member of the project.

use chrono::{DateTime, Utc};
use platform::AppResult;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde_json::{Value, json};

use crate::{
    TasksState,
    api::TaskView,
    entities::{event, member, task},
};

pub const CREATED: &str = "task.created";
pub const UPDATED: &str = "task.updated";
pub const COMPLETED: &str = "task.completed";
pub const DELETED: &str = "task.deleted";
pub const OVERDUE: &str = "task.overdue";
pub const REMINDER_FIRED: &str = "reminder.fired";

pub const TYPES: &[&str] = &[
    CREATED,
    UPDATED,
    COMPLETED,
    DELETED,
    OVERDUE,
    REMINDER_FIRED,
];

/// A change to a task, as the activity names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Created,
    Updated,
    Completed,
    Skipped,
    Deleted,
    Restored,
}

impl Event {
    fn action(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Completed => "completed",
            Self::Skipped => "skipped",
            Self::Deleted => "deleted",
            Self::Restored => "restored",
        }
    }

    fn webhook_type(self) -> &'static str {
        match self {
            Self::Created | Self::Restored => CREATED,
            Self::Updated | Self::Skipped => UPDATED,
            Self::Completed => COMPLETED,
            Self::Deleted => DELETED,
        }
    }
}

/// A row of the project's activity.
pub async fn record(
    tx: &impl ConnectionTrait,
    task: &task::Model,
    actor: i64,
    event: Event,
    now: DateTime<Utc>,
) -> AppResult<()> {
    event::ActiveModel {
        project_id: Set(task.project_id),
        task_id: Set(Some(task.id)),
        actor_id: Set(Some(actor)),
        action: Set(event.action().to_owned()),
        summary: Set(task.title.chars().take(500).collect()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(tx)
    .await?;
    Ok(())
}

/// The webhook event of `event`, with the task as the API shows it (or its ids, once it
/// is deleted), for every member's webhooks.
pub async fn emit(
    state: &TasksState,
    tx: &impl ConnectionTrait,
    task: &task::Model,
    view: Option<&TaskView>,
    event: Event,
) -> AppResult<()> {
    let data = match view {
        Some(view) => serde_json::to_value(view).map_err(anyhow::Error::from)?,
        None => json!({ "id": task.id, "project_id": task.project_id, "uid": task.uid }),
    };
    to_members(state, tx, task.project_id, event.webhook_type(), &data).await
}

/// `event_type` with `data` for the webhooks of every member of `project`.
pub async fn to_members(
    state: &TasksState,
    tx: &impl ConnectionTrait,
    project: i64,
    event_type: &'static str,
    data: &Value,
) -> AppResult<()> {
    let members = member::Entity::find()
        .filter(member::Column::ProjectId.eq(project))
        .all(tx)
        .await?;
    for m in members {
        state
            .platform
            .webhooks
            .emit(tx, m.user_id, event_type, data)
            .await?;
    }
    Ok(())
}
