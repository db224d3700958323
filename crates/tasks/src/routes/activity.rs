//! `GET /api/v1/projects/{id}/activity`: who did what, newest first.

use std::sync::Arc;

use axum::{
    Extension,
    extract::Path,
    response::{IntoResponse, Response},
};
use platform::{
    AppResult,
    auth::CurrentUser,
    error::Problem,
    http::{Page, Pagination},
};

use crate::{
    TasksState,
    access::{self, Trash},
    model::Role,
    service::activity::{self, Activity, Cursor},
};

#[utoipa::path(
    get,
    path = "/projects/{id}/activity",
    operation_id = "project_activity",
    tag = "tasks",
    params(("id" = i64, Path), Pagination),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of the project's activity, newest first", body = Page<Activity>),
        (status = 404, description = "No such project of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
    page: Pagination,
) -> AppResult<Response> {
    access::project(&app.db, user.id, id, Role::Viewer, Trash::Excluded).await?;
    let before: Option<Cursor> = page.after()?;
    let rows = activity::page(&app.db, id, before, page.fetch()).await?;
    Ok(page.page(rows, Cursor::of).into_response())
}
