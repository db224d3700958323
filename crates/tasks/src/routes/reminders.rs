//! `/api/v1/tasks/{id}/reminders` and `/api/v1/reminders/{id}` (with `snooze` and
//! `acknowledge`).

use std::sync::Arc;

use axum::{
    Extension,
    extract::Path,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use platform::{AppResult, auth::CurrentUser, error::Problem, http::Json};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    TasksState,
    api::{NewReminder, ReminderView, Snooze},
    service::reminders,
};

#[derive(Debug, Serialize, ToSchema)]
pub struct ReminderList {
    pub items: Vec<ReminderView>,
}

#[utoipa::path(
    get,
    path = "/tasks/{id}/reminders",
    operation_id = "list_reminders",
    tag = "tasks",
    params(("id" = i64, Path)),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The task's reminders, with when each fires next", body = ReminderList),
        (status = 404, description = "No such task of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<ReminderList>> {
    Ok(Json(ReminderList {
        items: reminders::list(&app, user.id, id).await?,
    }))
}

/// Adds a reminder: at a time, or minutes before or after the start, due or deadline.
#[utoipa::path(
    post,
    path = "/tasks/{id}/reminders",
    operation_id = "add_reminder",
    tag = "tasks",
    params(("id" = i64, Path)),
    request_body = NewReminder,
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Added", body = ReminderView),
        (status = 403, description = "Your role does not allow it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task of yours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Json(input): Json<NewReminder>,
) -> AppResult<Response> {
    let view = reminders::add(&app, user.id, id, input).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

#[utoipa::path(
    delete,
    path = "/reminders/{id}",
    operation_id = "delete_reminder",
    tag = "tasks",
    params(("id" = i64, Path)),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Your role does not allow it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such reminder of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    reminders::delete(&app, user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reminds again later, for the same occurrence.
#[utoipa::path(
    post,
    path = "/reminders/{id}/snooze",
    operation_id = "snooze_reminder",
    tag = "tasks",
    params(("id" = i64, Path)),
    request_body = Snooze,
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Snoozed", body = ReminderView),
        (status = 404, description = "No such reminder of yours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neither a future `until` nor `minutes`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn snooze(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Json(input): Json<Snooze>,
) -> AppResult<Json<ReminderView>> {
    Ok(Json(reminders::snooze(&app, user.id, id, input).await?))
}

/// Done with it: no more firings for this occurrence.
#[utoipa::path(
    post,
    path = "/reminders/{id}/acknowledge",
    operation_id = "acknowledge_reminder",
    tag = "tasks",
    params(("id" = i64, Path)),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Acknowledged", body = ReminderView),
        (status = 404, description = "No such reminder of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn acknowledge(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<ReminderView>> {
    Ok(Json(reminders::acknowledge(&app, user.id, id).await?))
}
