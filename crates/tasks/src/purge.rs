//! The trash's daily clean-up: tasks and projects deleted more than `tasks.trash_days`
//! ago are deleted for good. A project whose tombstones go raises its `sync_floor`, so a
//! CalDAV client holding an older sync token is told to sync again in full.

use std::sync::Arc;

use chrono::TimeDelta;
use platform::jobs::{Job, JobContext, JobError};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde::{Deserialize, Serialize};

use crate::{
    TasksState,
    entities::{project, task},
};

#[derive(Debug, Serialize, Deserialize)]
pub struct PurgeTrash;

impl Job for PurgeTrash {
    const KIND: &'static str = "tasks.purge_trash";
}

pub async fn run(state: Arc<TasksState>, _: PurgeTrash, _: JobContext) -> Result<(), JobError> {
    let cutoff = state.now() - TimeDelta::days(i64::from(state.settings.trash_days));
    let tx = platform::db::begin_write(&state.db)
        .await
        .map_err(JobError::retry)?;
    let old = task::Entity::find()
        .filter(task::Column::DeletedAt.lt(cutoff))
        .all(&tx)
        .await
        .map_err(JobError::retry)?;
    let mut projects: Vec<i64> = old.iter().map(|t| t.project_id).collect();
    projects.sort_unstable();
    projects.dedup();
    task::Entity::delete_many()
        .filter(task::Column::Id.is_in(old.iter().map(|t| t.id)))
        .exec(&tx)
        .await
        .map_err(JobError::retry)?;
    project::Entity::update_many()
        .col_expr(
            project::Column::SyncFloor,
            Expr::col(project::Column::SyncSeq),
        )
        .filter(project::Column::Id.is_in(projects))
        .exec(&tx)
        .await
        .map_err(JobError::retry)?;
    project::Entity::delete_many()
        .filter(project::Column::DeletedAt.lt(cutoff))
        .exec(&tx)
        .await
        .map_err(JobError::retry)?;
    tx.commit().await.map_err(JobError::retry)?;
    if !old.is_empty() {
        tracing::info!(tasks = old.len(), "purged from the trash");
    }
    Ok(())
}
