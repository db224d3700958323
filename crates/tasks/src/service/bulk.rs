//! `POST /api/v1/tasks/bulk`: many tasks changed, completed, moved or deleted in one
//! transaction — all of them, or (naming the first that cannot be) none.

use platform::{AppError, AppResult};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    TasksState,
    access::{self, Trash},
    api::{TaskChanges, TaskView, ValidChanges},
    events::Event,
    model::{Role, Status},
    service::tasks::{self, Writer},
    views,
};

/// Tasks one request may change.
pub const MAX_TASKS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    /// Apply `changes` to each.
    Update,
    Complete,
    /// Move each to `project_id`.
    Move,
    /// Put each in the trash.
    Delete,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Bulk {
    pub ids: Vec<i64>,
    pub action: BulkAction,
    /// For `update`.
    pub changes: Option<TaskChanges>,
    /// For `move`.
    pub project_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TaskBulkResult)]
pub struct BulkResult {
    /// The tasks as they now are (none for `delete`).
    pub items: Vec<TaskView>,
    /// The tasks put in the trash.
    pub deleted: Vec<i64>,
}

pub async fn apply(state: &TasksState, writer: Writer, bulk: Bulk) -> AppResult<BulkResult> {
    if bulk.ids.is_empty() || bulk.ids.len() > MAX_TASKS {
        return Err(AppError::validation(
            "ids",
            format!("must list 1 to {MAX_TASKS} tasks"),
        ));
    }
    let changes: ValidChanges = match bulk.action {
        BulkAction::Update => bulk
            .changes
            .ok_or_else(|| AppError::validation("changes", "is needed to update"))?
            .validate()?,
        BulkAction::Complete => ValidChanges {
            status: Some(Status::Completed),
            ..ValidChanges::default()
        },
        BulkAction::Move => ValidChanges {
            project_id: Some(
                bulk.project_id
                    .ok_or_else(|| AppError::validation("project_id", "is needed to move"))?,
            ),
            ..ValidChanges::default()
        },
        BulkAction::Delete => ValidChanges::default(),
    };
    let tx = platform::db::begin_write(&state.db).await?;
    let viewer = views::Viewer {
        zone: writer.zone,
        now: state.now(),
    };
    let mut result = BulkResult {
        items: Vec::new(),
        deleted: Vec::new(),
    };
    for (i, &id) in bulk.ids.iter().enumerate() {
        // Which task could not be, by its place in the list.
        let at = |err: AppError| match err {
            AppError::NotFound => {
                AppError::validation(format!("ids[{i}]"), "is not a task of yours")
            }
            AppError::Forbidden(m) => AppError::validation(format!("ids[{i}]"), m),
            other => other,
        };
        let (task, access) = access::task(&tx, writer.user, id, Role::Editor, Trash::Excluded)
            .await
            .map_err(at)?;
        if bulk.action == BulkAction::Delete {
            tasks::remove(state, &tx, writer, &task).await.map_err(at)?;
            result.deleted.push(id);
            continue;
        }
        let (task, event) = tasks::update(&tx, writer, task, access, changes.clone(), state.now())
            .await
            .map_err(at)?;
        let event = if bulk.action == BulkAction::Complete {
            Event::Completed
        } else {
            event
        };
        result
            .items
            .push(tasks::follow(state, &tx, &task, event, viewer).await?);
    }
    tx.commit().await?;
    state.committed();
    Ok(result)
}
