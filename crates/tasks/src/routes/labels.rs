//! `/api/v1/labels`: your labels.

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
    service::labels::{self, LabelInput, LabelView},
};

#[derive(Debug, Serialize, ToSchema)]
pub struct LabelList {
    pub items: Vec<LabelView>,
}

#[utoipa::path(
    get,
    path = "/labels",
    operation_id = "list_labels",
    tag = "tasks",
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses((status = 200, description = "Your labels, by name", body = LabelList))
)]
pub async fn list(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
) -> AppResult<Json<LabelList>> {
    Ok(Json(LabelList {
        items: labels::list(&app, user.id).await?,
    }))
}

#[utoipa::path(
    post,
    path = "/labels",
    operation_id = "create_label",
    tag = "tasks",
    request_body = LabelInput,
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Created", body = LabelView),
        (status = 409, description = "You have a label of this name", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Json(input): Json<LabelInput>,
) -> AppResult<Response> {
    let view = labels::create(&app, user.id, input).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

#[utoipa::path(
    patch,
    path = "/labels/{id}",
    operation_id = "update_label",
    tag = "tasks",
    params(("id" = i64, Path)),
    request_body = LabelInput,
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Changed", body = LabelView),
        (status = 404, description = "No such label of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "You have a label of this name", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Json(input): Json<LabelInput>,
) -> AppResult<Json<LabelView>> {
    Ok(Json(labels::change(&app, user.id, id, input).await?))
}

#[utoipa::path(
    delete,
    path = "/labels/{id}",
    operation_id = "delete_label",
    tag = "tasks",
    params(("id" = i64, Path)),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such label of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    labels::delete(&app, user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
