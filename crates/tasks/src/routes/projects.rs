//! `/api/v1/projects` and `/api/v1/projects/{id}`: the caller's projects, nested and
//! shared; deleting one puts it in the trash (`POST …/restore` takes it out).

use std::sync::Arc;

use axum::{
    Extension,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use platform::{
    AppResult, AppState,
    auth::CurrentUser,
    error::Problem,
    http::{Json, location},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    TasksState,
    access::{self, Trash},
    api::{NewProject, ProjectChanges, ProjectView},
    model::Role,
    service::projects,
};

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectList {
    pub items: Vec<ProjectView>,
}

/// Every project you are a member of.
#[utoipa::path(
    get,
    path = "/projects",
    operation_id = "list_projects",
    tag = "tasks",
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Your projects, by position", body = ProjectList),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    Extension(tasks): Extension<Arc<TasksState>>,
    user: CurrentUser,
) -> AppResult<Json<ProjectList>> {
    let items = projects::list(&tasks.db, user.id, Trash::Excluded).await?;
    Ok(Json(ProjectList { items }))
}

/// Makes a project; you are its owner.
#[utoipa::path(
    post,
    path = "/projects",
    operation_id = "create_project",
    tag = "tasks",
    request_body = NewProject,
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Created", body = ProjectView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    Extension(tasks): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Json(input): Json<NewProject>,
) -> AppResult<Response> {
    let view = projects::create(&tasks, user.id, input).await?;
    let at = location(&format!("/api/v1/projects/{}", view.id));
    Ok((StatusCode::CREATED, at, Json(view)).into_response())
}

#[utoipa::path(
    get,
    path = "/projects/{id}",
    operation_id = "get_project",
    tag = "tasks",
    params(("id" = i64, Path)),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The project", body = ProjectView),
        (status = 404, description = "No such project of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<ProjectView>> {
    let reached = access::project(&state.db, user.id, id, Role::Viewer, Trash::Excluded).await?;
    Ok(Json(projects::view(reached.project, reached.role)))
}

/// Changes a project (admins and owners).
#[utoipa::path(
    patch,
    path = "/projects/{id}",
    operation_id = "update_project",
    tag = "tasks",
    params(("id" = i64, Path)),
    request_body = ProjectChanges,
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The project as changed", body = ProjectView),
        (status = 403, description = "Your role does not allow it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project of yours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (a parent that makes a cycle)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    Extension(tasks): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Json(changes): Json<ProjectChanges>,
) -> AppResult<Json<ProjectView>> {
    Ok(Json(projects::change(&tasks, user.id, id, changes).await?))
}

/// Puts a project and its tasks in the trash (owners).
#[utoipa::path(
    delete,
    path = "/projects/{id}",
    operation_id = "delete_project",
    tag = "tasks",
    params(("id" = i64, Path)),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "In the trash"),
        (status = 403, description = "Only an owner deletes a project", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    Extension(tasks): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    projects::delete(&tasks, user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a project out of the trash, its tasks' reminders planned again.
#[utoipa::path(
    post,
    path = "/projects/{id}/restore",
    operation_id = "restore_project",
    tag = "tasks",
    params(("id" = i64, Path)),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Restored", body = ProjectView),
        (status = 404, description = "No such project of yours in the trash", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn restore(
    Extension(tasks): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<ProjectView>> {
    Ok(Json(projects::restore(&tasks, user.id, id).await?))
}
