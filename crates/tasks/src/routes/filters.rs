//! `/api/v1/filters`: saved searches, and their tasks.

use std::sync::Arc;

use axum::{
    Extension,
    extract::Path,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use platform::{
    AppResult,
    auth::CurrentUser,
    error::Problem,
    http::{Json, Page, Pagination},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    TasksState,
    api::TaskView,
    service::filters::{self, FilterInput, FilterView},
};

#[derive(Debug, Serialize, ToSchema)]
pub struct FilterList {
    pub items: Vec<FilterView>,
}

#[utoipa::path(
    get,
    path = "/filters",
    operation_id = "list_filters",
    tag = "tasks",
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses((status = 200, description = "Your saved filters", body = FilterList))
)]
pub async fn list(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
) -> AppResult<Json<FilterList>> {
    Ok(Json(FilterList {
        items: filters::list(&app, user.id).await?,
    }))
}

#[utoipa::path(
    post,
    path = "/filters",
    operation_id = "create_filter",
    tag = "tasks",
    request_body = FilterInput,
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Saved", body = FilterView),
        (status = 409, description = "You have a filter of this name", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Json(input): Json<FilterInput>,
) -> AppResult<Response> {
    let view = filters::create(&app, user.id, input).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

#[utoipa::path(
    patch,
    path = "/filters/{id}",
    operation_id = "update_filter",
    tag = "tasks",
    params(("id" = i64, Path)),
    request_body = FilterInput,
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Changed", body = FilterView),
        (status = 404, description = "No such filter of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "You have a filter of this name", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Json(input): Json<FilterInput>,
) -> AppResult<Json<FilterView>> {
    Ok(Json(filters::change(&app, user.id, id, input).await?))
}

#[utoipa::path(
    delete,
    path = "/filters/{id}",
    operation_id = "delete_filter",
    tag = "tasks",
    params(("id" = i64, Path)),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such filter of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    filters::delete(&app, user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tasks a saved filter finds, a page at a time.
#[utoipa::path(
    get,
    path = "/filters/{id}/tasks",
    operation_id = "filter_tasks",
    tag = "tasks",
    params(("id" = i64, Path), Pagination),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of tasks", body = Page<TaskView>),
        (status = 404, description = "No such filter of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn tasks(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
    page: Pagination,
) -> AppResult<Response> {
    let row = filters::find(&app, user.id, id).await?;
    let filter = filters::query_of(&row);
    Ok(super::tasks::page_of(&app, &user, &filter, &page)
        .await?
        .into_response())
}
