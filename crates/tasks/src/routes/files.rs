//! A project out and in as a file: `GET /api/v1/projects/{id}/export` (iCalendar or JSON)
//! and `POST /api/v1/projects/{id}/import` (iCalendar or Todoist's CSV).

use std::sync::Arc;

use axum::{
    Extension,
    body::Bytes,
    extract::Path,
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use platform::{
    AppError, AppResult,
    auth::CurrentUser,
    error::Problem,
    http::{Json, Query},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    TasksState,
    access::{self, Trash},
    api::{ProjectView, TaskView},
    entities::task,
    export,
    import::{self, Format},
    model::Role,
    service::projects,
    views,
};

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    #[default]
    Json,
    /// iCalendar: one VCALENDAR of VTODOs.
    Ics,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    pub format: Option<ExportFormat>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectExport {
    pub project: ProjectView,
    pub tasks: Vec<TaskView>,
}

/// The project's tasks as JSON (default) or, with `format=ics`, as an `.ics` file.
#[utoipa::path(
    get,
    path = "/projects/{id}/export",
    operation_id = "export_project",
    tag = "tasks",
    params(("id" = i64, Path), ExportQuery),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The project's tasks: JSON, or with `format=ics` an iCalendar file", content(
            (ProjectExport = "application/json"),
            (String = "text/calendar"),
        )),
        (status = 404, description = "No such project of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn export_project(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(query): Query<ExportQuery>,
) -> AppResult<Response> {
    let reached = access::project(&app.db, user.id, id, Role::Viewer, Trash::Excluded).await?;
    let rows = task::Entity::find()
        .filter(task::Column::ProjectId.eq(id))
        .filter(task::Column::DeletedAt.is_null())
        .order_by_asc(task::Column::Position)
        .order_by_asc(task::Column::Id)
        .all(&app.db)
        .await?;
    let file = format!("project-{id}");
    Ok(match query.format.unwrap_or_default() {
        ExportFormat::Ics => (
            [
                (
                    header::CONTENT_TYPE,
                    "text/calendar; charset=utf-8".to_owned(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{file}.ics\""),
                ),
            ],
            export::calendar(&app.db, &rows).await?,
        )
            .into_response(),
        ExportFormat::Json => {
            let viewer = app.viewer(user.id).await?;
            Json(ProjectExport {
                project: projects::view(reached.project, reached.role),
                tasks: views::tasks(&app.db, rows, viewer).await?,
            })
            .into_response()
        }
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Imported {
    /// Tasks made.
    pub imported: usize,
}

/// Imports tasks from an iCalendar file (`text/calendar`) or Todoist's CSV export
/// (`text/csv`), all or nothing.
#[utoipa::path(
    post,
    path = "/projects/{id}/import",
    operation_id = "import_into_project",
    tag = "tasks",
    params(("id" = i64, Path)),
    request_body(content = String, content_type = "text/calendar"),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Imported", body = Imported),
        (status = 403, description = "Your role does not allow it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project of yours", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither text/calendar nor text/csv", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad line (named); nothing was imported", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn import_into(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Json<Imported>> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let format = match media.as_str() {
        "text/calendar" => Format::ICalendar,
        "text/csv" => Format::TodoistCsv,
        _ => {
            return Err(AppError::UnsupportedMediaType(
                "Send an iCalendar file as text/calendar or Todoist's CSV export as text/csv."
                    .to_owned(),
            ));
        }
    };
    let text = std::str::from_utf8(&body)
        .map_err(|_| AppError::validation("body", "is not UTF-8 text"))?;
    let writer = app.writer(user.id).await?;
    let imported = import::import(&app, writer, id, format, text).await?;
    Ok(Json(Imported { imported }))
}
