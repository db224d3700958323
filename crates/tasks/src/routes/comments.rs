//! `/api/v1/tasks/{id}/comments`.

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
    api::{CommentView, NewComment},
    service::comments,
};

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentList {
    pub items: Vec<CommentView>,
}

/// A task's comments, oldest first.
#[utoipa::path(
    get,
    path = "/tasks/{id}/comments",
    operation_id = "list_comments",
    tag = "tasks",
    params(("id" = i64, Path)),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The comments", body = CommentList),
        (status = 404, description = "No such task of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<CommentList>> {
    Ok(Json(CommentList {
        items: comments::list(&app, user.id, id).await?,
    }))
}

/// Comments on a task (commenters and above).
#[utoipa::path(
    post,
    path = "/tasks/{id}/comments",
    operation_id = "add_comment",
    tag = "tasks",
    params(("id" = i64, Path)),
    request_body = NewComment,
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Added", body = CommentView),
        (status = 403, description = "Viewers do not comment", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task of yours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An empty or too long comment", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Json(input): Json<NewComment>,
) -> AppResult<Response> {
    let view = comments::add(&app, user.id, id, input).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// Deletes a comment (its author, or an admin).
#[utoipa::path(
    delete,
    path = "/tasks/{id}/comments/{comment_id}",
    operation_id = "delete_comment",
    tag = "tasks",
    params(("id" = i64, Path), ("comment_id" = i64, Path)),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not yours, and you are not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such comment", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path((id, comment)): Path<(i64, i64)>,
) -> AppResult<StatusCode> {
    comments::delete(&app, user.id, id, comment).await?;
    Ok(StatusCode::NO_CONTENT)
}
