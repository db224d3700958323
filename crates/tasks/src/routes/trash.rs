//! `GET /api/v1/trash`: your deleted projects and tasks, until they are purged.

use std::sync::Arc;

use axum::Extension;
use platform::{AppResult, auth::CurrentUser, http::Json};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    TasksState,
    access::Trash,
    api::{ProjectView, TaskView},
    service::{projects, tasks},
};

#[derive(Debug, Serialize, ToSchema)]
pub struct TrashView {
    /// Deleted projects you own or share.
    pub projects: Vec<ProjectView>,
    /// Deleted tasks of your live projects.
    pub tasks: Vec<TaskView>,
    /// Days an item stays here before it is purged.
    pub purged_after_days: u32,
}

#[utoipa::path(
    get,
    path = "/trash",
    operation_id = "list_trash",
    tag = "tasks",
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses((status = 200, description = "What is in the trash", body = TrashView))
)]
pub async fn list(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
) -> AppResult<Json<TrashView>> {
    let viewer = app.viewer(user.id).await?;
    Ok(Json(TrashView {
        projects: projects::list(&app.db, user.id, Trash::Included).await?,
        tasks: tasks::in_trash(&app.db, user.id, viewer).await?,
        purged_after_days: app.settings.trash_days,
    }))
}
