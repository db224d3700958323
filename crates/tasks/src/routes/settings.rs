//! `/api/v1/me/task-settings`: when date-only tasks are reminded, when the digest comes.

use std::sync::Arc;

use axum::Extension;
use platform::{AppResult, auth::CurrentUser, error::Problem, http::Json};

use crate::{
    TasksState,
    preferences::{self, TaskSettings, TaskSettingsChanges},
};

#[utoipa::path(
    get,
    path = "/me/task-settings",
    operation_id = "get_task_settings",
    tag = "tasks",
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses((status = 200, description = "Your settings", body = TaskSettings))
)]
pub async fn get(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
) -> AppResult<Json<TaskSettings>> {
    Ok(Json(preferences::view(&app.db, user.id).await?))
}

#[utoipa::path(
    patch,
    path = "/me/task-settings",
    operation_id = "update_task_settings",
    tag = "tasks",
    request_body = TaskSettingsChanges,
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Your settings as changed", body = TaskSettings),
        (status = 422, description = "Not a time of day as HH:MM", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Json(changes): Json<TaskSettingsChanges>,
) -> AppResult<Json<TaskSettings>> {
    Ok(Json(
        preferences::change(&app.db, user.id, changes, app.now()).await?,
    ))
}
