//! `/api/v1/projects/{id}/members`: who shares a project, and with which role.

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
    api::{MemberChanges, MemberView, NewMember},
    service::members,
};

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList {
    pub items: Vec<MemberView>,
}

#[utoipa::path(
    get,
    path = "/projects/{id}/members",
    operation_id = "list_members",
    tag = "tasks",
    params(("id" = i64, Path)),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The members", body = MemberList),
        (status = 404, description = "No such project of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    Extension(tasks): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<MemberList>> {
    Ok(Json(MemberList {
        items: members::list(&tasks, user.id, id).await?,
    }))
}

/// Shares the project with an existing user (admins up to editor, owners any role).
#[utoipa::path(
    post,
    path = "/projects/{id}/members",
    operation_id = "add_member",
    tag = "tasks",
    params(("id" = i64, Path)),
    request_body = NewMember,
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Added", body = MemberView),
        (status = 403, description = "Your role does not allow it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already a member", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No user has this email address", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add(
    Extension(tasks): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Json(input): Json<NewMember>,
) -> AppResult<Response> {
    let view = members::add(&tasks, user.id, id, input).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

#[utoipa::path(
    patch,
    path = "/projects/{id}/members/{user_id}",
    operation_id = "update_member",
    tag = "tasks",
    params(("id" = i64, Path), ("user_id" = i64, Path)),
    request_body = MemberChanges,
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The member's new role", body = MemberView),
        (status = 403, description = "Your role does not allow it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project or member", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last owner cannot step down", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    Extension(tasks): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path((id, member)): Path<(i64, i64)>,
    Json(changes): Json<MemberChanges>,
) -> AppResult<Json<MemberView>> {
    Ok(Json(
        members::change(&tasks, user.id, id, member, changes).await?,
    ))
}

/// Removes a member, or (your own id) leaves the project.
#[utoipa::path(
    delete,
    path = "/projects/{id}/members/{user_id}",
    operation_id = "remove_member",
    tag = "tasks",
    params(("id" = i64, Path), ("user_id" = i64, Path)),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Your role does not allow it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project or member", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last owner cannot leave", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove(
    Extension(tasks): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path((id, member)): Path<(i64, i64)>,
) -> AppResult<StatusCode> {
    members::remove(&tasks, user.id, id, member).await?;
    Ok(StatusCode::NO_CONTENT)
}
