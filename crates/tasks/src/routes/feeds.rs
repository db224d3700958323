//! `/api/v1/calendar-feeds`: read-only `.ics` addresses for calendar apps that subscribe.

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
    feeds::{self, FeedView, NewFeed},
};

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedList {
    pub items: Vec<FeedView>,
}

#[utoipa::path(
    get,
    path = "/calendar-feeds",
    operation_id = "list_calendar_feeds",
    tag = "tasks",
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses((status = 200, description = "Your feeds (their addresses are shown once, when made)", body = FeedList))
)]
pub async fn list(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
) -> AppResult<Json<FeedList>> {
    Ok(Json(FeedList {
        items: feeds::list(&app, user.id).await?,
    }))
}

/// Makes a feed of all your tasks, or of one project's; the answer holds its address.
#[utoipa::path(
    post,
    path = "/calendar-feeds",
    operation_id = "create_calendar_feed",
    tag = "tasks",
    request_body = NewFeed,
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Made; `url` is shown this once", body = FeedView),
        (status = 422, description = "Not a project of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Json(input): Json<NewFeed>,
) -> AppResult<Response> {
    let view = feeds::create(&app, user.id, input).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// Revokes a feed: its address stops working.
#[utoipa::path(
    delete,
    path = "/calendar-feeds/{id}",
    operation_id = "revoke_calendar_feed",
    tag = "tasks",
    params(("id" = i64, Path)),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such feed of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    feeds::revoke(&app, user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
