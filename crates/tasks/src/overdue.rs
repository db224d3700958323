//! `task.overdue`: a webhook event when an open task's due passes — a job due at that
//! instant, planned with the task's reminders, that finds the task unchanged.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use platform::{
    AppResult,
    jobs::{Enqueue, Job, JobContext, JobError},
};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde::{Deserialize, Serialize};

use crate::{TasksState, entities::task, events};

#[derive(Debug, Serialize, Deserialize)]
pub struct Overdue {
    pub task_id: i64,
    pub due_at: DateTime<Utc>,
}

impl Job for Overdue {
    const KIND: &'static str = "tasks.overdue";
}

/// In the transaction that wrote `task`: its overdue notice, if it has an open due to come.
pub async fn plan(
    state: &TasksState,
    tx: &impl ConnectionTrait,
    task: &task::Model,
) -> AppResult<()> {
    let Some(due_at) = task.due_at else {
        return Ok(());
    };
    if task.status.is_closed() || task.deleted_at.is_some() || due_at <= state.now() {
        return Ok(());
    }
    let options = Enqueue {
        run_at: Some(due_at),
        key: Some(format!(
            "{}:{}:{}",
            Overdue::KIND,
            task.id,
            due_at.timestamp()
        )),
    };
    let job = Overdue {
        task_id: task.id,
        due_at,
    };
    state.platform.jobs.enqueue_with(tx, &job, options).await?;
    Ok(())
}

pub async fn run(state: Arc<TasksState>, job: Overdue, _: JobContext) -> Result<(), JobError> {
    let tx = platform::db::begin_write(&state.db)
        .await
        .map_err(JobError::retry)?;
    let Some(task) = task::Entity::find_by_id(job.task_id)
        .one(&tx)
        .await
        .map_err(JobError::retry)?
    else {
        return Ok(());
    };
    // Moved, completed or deleted since: not overdue, or another job says so.
    if task.due_at != Some(job.due_at) || task.status.is_closed() || task.deleted_at.is_some() {
        return Ok(());
    }
    let data = serde_json::json!({
        "task": { "id": task.id, "project_id": task.project_id, "uid": task.uid, "title": task.title },
        "due_at": job.due_at,
    });
    events::to_members(&state, &tx, task.project_id, events::OVERDUE, &data)
        .await
        .map_err(JobError::retry)?;
    tx.commit().await.map_err(JobError::retry)?;
    state.committed();
    Ok(())
}
