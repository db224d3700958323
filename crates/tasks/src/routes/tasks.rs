//! Tasks: `POST/GET /api/v1/projects/{id}/tasks`, `GET /api/v1/tasks` (across projects,
//! filtered), `GET/PATCH/DELETE /api/v1/tasks/{id}`, `POST /api/v1/tasks/{id}/restore`,
//! and a recurring task's occurrences.

use std::sync::Arc;

use axum::{
    Extension,
    extract::Path,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, NaiveDateTime, Utc};
use platform::{
    AppError, AppResult,
    auth::CurrentUser,
    error::Problem,
    http::{Json, Page, Pagination, Query, location},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    TasksState,
    access::{self, Trash},
    api::{NewTask, TaskChanges, TaskView},
    model::{Role, Status},
    occurrences,
    search::{self, Cursor, Filter, LabelMode, Sort},
    service::bulk::{self, Bulk, BulkResult},
    service::tasks::{self, Writer},
    views,
};

/// Makes a task in a project (editors and above).
#[utoipa::path(
    post,
    path = "/projects/{id}/tasks",
    operation_id = "create_task",
    tag = "tasks",
    params(("id" = i64, Path)),
    request_body = NewTask,
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Created", body = TaskView),
        (status = 403, description = "Your role does not allow it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project of yours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(project): Path<i64>,
    Json(input): Json<NewTask>,
) -> AppResult<Response> {
    let valid = input.validate()?;
    let writer = app.writer(user.id).await?;
    let view = tasks::create(&app, writer, project, valid).await?;
    let at = location(&format!("/api/v1/tasks/{}", view.id));
    Ok((StatusCode::CREATED, at, Json(view)).into_response())
}

/// `GET /api/v1/tasks`'s filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this project's tasks.
    pub project: Option<i64>,
    /// Tasks with your label of this name (repeat for several).
    #[serde(default)]
    #[param(rename = "label")]
    pub label: Vec<String>,
    /// Whether a task needs any of the labels (default) or all.
    pub label_mode: Option<LabelMode>,
    /// Tasks assigned to this user.
    pub assignee: Option<i64>,
    /// Tasks in one of these statuses (repeat for several).
    #[serde(default)]
    pub status: Vec<Status>,
    /// Tasks of one of these priorities (repeat for several).
    #[serde(default)]
    pub priority: Vec<i16>,
    pub due_before: Option<DateTime<Utc>>,
    pub due_after: Option<DateTime<Utc>>,
    /// Open tasks whose due has passed.
    pub overdue: Option<bool>,
    /// Tasks without a due.
    pub no_due: Option<bool>,
    /// Words in the title or the description.
    pub q: Option<String>,
    pub sort: Option<Sort>,
}

impl ListQuery {
    fn into_filter(self) -> AppResult<Filter> {
        let filter = Filter {
            project: self.project,
            labels: self.label,
            label_mode: self.label_mode.unwrap_or_default(),
            assignee: self.assignee,
            status: self.status,
            priority: self.priority,
            due_before: self.due_before,
            due_after: self.due_after,
            overdue: self.overdue.unwrap_or(false),
            no_due: self.no_due.unwrap_or(false),
            q: self.q,
            sort: self.sort.unwrap_or_default(),
        };
        filter.check()?;
        Ok(filter)
    }
}

/// Your tasks across your projects, filtered and sorted, a page at a time.
#[utoipa::path(
    get,
    path = "/tasks",
    operation_id = "list_tasks",
    tag = "tasks",
    params(ListQuery, Pagination),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of tasks", body = Page<TaskView>),
        (status = 422, description = "A bad filter", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    page: Pagination,
    Query(query): Query<ListQuery>,
) -> AppResult<Response> {
    let filter = query.into_filter()?;
    Ok(page_of(&app, &user, &filter, &page).await?.into_response())
}

/// A project's tasks (the same filters as `GET /api/v1/tasks`).
#[utoipa::path(
    get,
    path = "/projects/{id}/tasks",
    operation_id = "list_project_tasks",
    tag = "tasks",
    params(("id" = i64, Path), ListQuery, Pagination),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of tasks", body = Page<TaskView>),
        (status = 404, description = "No such project of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_in_project(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(project): Path<i64>,
    page: Pagination,
    Query(query): Query<ListQuery>,
) -> AppResult<Response> {
    access::project(&app.db, user.id, project, Role::Viewer, Trash::Excluded).await?;
    // A project's list is in its own order unless asked otherwise.
    let in_order = query.sort.is_none();
    let mut filter = query.into_filter()?;
    filter.project = Some(project);
    if in_order {
        filter.sort = Sort::Position;
    }
    Ok(page_of(&app, &user, &filter, &page).await?.into_response())
}

pub async fn page_of(
    app: &TasksState,
    user: &CurrentUser,
    filter: &Filter,
    page: &Pagination,
) -> AppResult<Page<TaskView>> {
    let cursor: Option<Cursor> = page.after()?;
    let rows = search::find(&app.db, user.id, filter, cursor, page.fetch(), app.now()).await?;
    let sort = filter.sort;
    let keys: Vec<Cursor> = rows.iter().map(|t| Cursor::of(t, sort)).collect();
    let viewer = app.viewer(user.id).await?;
    let views = views::tasks(&app.db, rows, viewer).await?;
    let keyed: Vec<(TaskView, Cursor)> = views.into_iter().zip(keys).collect();
    let page = page.page(keyed, |(_, key)| key.clone());
    Ok(page.map(|(view, _)| view))
}

#[utoipa::path(
    get,
    path = "/tasks/{id}",
    operation_id = "get_task",
    tag = "tasks",
    params(("id" = i64, Path)),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The task", body = TaskView),
        (status = 404, description = "No such task of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<TaskView>> {
    let (task, _) = access::task(&app.db, user.id, id, Role::Viewer, Trash::Excluded).await?;
    let viewer = app.viewer(user.id).await?;
    Ok(Json(views::task(&app.db, task, viewer).await?))
}

/// Changes a task. `"status": "completed"` completes it: a recurring task records the
/// occurrence and moves to the next one.
#[utoipa::path(
    patch,
    path = "/tasks/{id}",
    operation_id = "update_task",
    tag = "tasks",
    params(("id" = i64, Path)),
    request_body = TaskChanges,
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The task as changed", body = TaskView),
        (status = 403, description = "Your role does not allow it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task of yours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Json(changes): Json<TaskChanges>,
) -> AppResult<Json<TaskView>> {
    let valid = changes.validate()?;
    let writer = app.writer(user.id).await?;
    Ok(Json(tasks::change(&app, writer, id, valid).await?))
}

/// Puts a task (and its subtasks) in the trash.
#[utoipa::path(
    delete,
    path = "/tasks/{id}",
    operation_id = "delete_task",
    tag = "tasks",
    params(("id" = i64, Path)),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "In the trash"),
        (status = 403, description = "Your role does not allow it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    let writer = app.writer(user.id).await?;
    tasks::delete(&app, writer, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a task out of the trash; its reminders are planned again.
#[utoipa::path(
    post,
    path = "/tasks/{id}/restore",
    operation_id = "restore_task",
    tag = "tasks",
    params(("id" = i64, Path)),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Restored", body = TaskView),
        (status = 404, description = "No such task of yours in the trash", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn restore(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<TaskView>> {
    let writer = app.writer(user.id).await?;
    Ok(Json(tasks::restore(&app, writer, id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OccurrenceQuery {
    /// From this wall-clock time on (default: the task's due).
    pub from: Option<NaiveDateTime>,
    /// Up to this wall-clock time.
    pub to: Option<NaiveDateTime>,
    /// At most this many (default 10, at most 1000).
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OccurrenceList {
    pub items: Vec<occurrences::OccurrenceView>,
}

/// A recurring task's coming occurrences, as wall-clock times and instants.
#[utoipa::path(
    get,
    path = "/tasks/{id}/occurrences",
    operation_id = "list_occurrences",
    tag = "tasks",
    params(("id" = i64, Path), OccurrenceQuery),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The occurrences", body = OccurrenceList),
        (status = 404, description = "No such task of yours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The task does not recur, or a bad parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_occurrences(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(query): Query<OccurrenceQuery>,
) -> AppResult<Json<OccurrenceList>> {
    let (task, _) = access::task(&app.db, user.id, id, Role::Viewer, Trash::Excluded).await?;
    let viewer = app.viewer(user.id).await?;
    let limit = query.limit.unwrap_or(10);
    if !(1..=1000).contains(&limit) {
        return Err(AppError::validation("limit", "must be from 1 to 1000"));
    }
    let items = occurrences::preview(&task, viewer.zone, query.from, query.to, limit)?;
    Ok(Json(OccurrenceList { items }))
}

/// Skips one occurrence of a recurring task (the current one moves the task on).
#[utoipa::path(
    delete,
    path = "/tasks/{id}/occurrences/{local}",
    operation_id = "skip_occurrence",
    tag = "tasks",
    params(("id" = i64, Path), ("local" = String, Path, description = "The occurrence's wall-clock time, `2027-03-29T09:00:00`")),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The task without that occurrence", body = TaskView),
        (status = 404, description = "No such task of yours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an occurrence to come", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn skip_occurrence(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Path((id, local)): Path<(i64, String)>,
) -> AppResult<Json<TaskView>> {
    let occurrence: NaiveDateTime = local.parse().map_err(|_| {
        AppError::validation(
            "local",
            "is not a wall-clock time such as 2027-03-29T09:00:00",
        )
    })?;
    let writer: Writer = app.writer(user.id).await?;
    Ok(Json(tasks::skip(&app, writer, id, occurrence).await?))
}

/// Changes, completes, moves or deletes many tasks in one transaction: all or none.
#[utoipa::path(
    post,
    path = "/tasks/bulk",
    operation_id = "bulk_tasks",
    tag = "tasks",
    request_body = Bulk,
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Done to every task", body = BulkResult),
        (status = 422, description = "A task that cannot be (named by its place in `ids`), or invalid changes; nothing was done", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn bulk(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    Json(input): Json<Bulk>,
) -> AppResult<Json<BulkResult>> {
    let writer = app.writer(user.id).await?;
    Ok(Json(bulk::apply(&app, writer, input).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UpcomingQuery {
    /// Days after today to include (default 7, at most 90).
    pub days: Option<i64>,
}

/// Open tasks due today in your time zone, overdue ones first.
#[utoipa::path(
    get,
    path = "/tasks/today",
    operation_id = "tasks_today",
    tag = "tasks",
    params(Pagination),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses((status = 200, description = "A page of tasks", body = Page<TaskView>))
)]
pub async fn today(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    page: Pagination,
) -> AppResult<Response> {
    let filter = window(&app, user.id, None, 0).await?;
    Ok(page_of(&app, &user, &filter, &page).await?.into_response())
}

/// Open tasks due from today to `days` days after it, in your time zone.
#[utoipa::path(
    get,
    path = "/tasks/upcoming",
    operation_id = "tasks_upcoming",
    tag = "tasks",
    params(UpcomingQuery, Pagination),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of tasks", body = Page<TaskView>),
        (status = 422, description = "`days` out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn upcoming(
    Extension(app): Extension<Arc<TasksState>>,
    user: CurrentUser,
    page: Pagination,
    Query(query): Query<UpcomingQuery>,
) -> AppResult<Response> {
    let days = query.days.unwrap_or(7);
    if !(0..=90).contains(&days) {
        return Err(AppError::validation("days", "must be from 0 to 90"));
    }
    let viewer = app.viewer(user.id).await?;
    let start = viewer.now.with_timezone(&viewer.zone).date_naive();
    let from = crate::recurrence::place(start.and_time(chrono::NaiveTime::MIN), viewer.zone);
    let filter = window(&app, user.id, Some(from), days).await?;
    Ok(page_of(&app, &user, &filter, &page).await?.into_response())
}

/// Open tasks due before the end of the day `days` after today (from `from` if given).
async fn window(
    app: &TasksState,
    user: i64,
    from: Option<DateTime<Utc>>,
    days: i64,
) -> AppResult<Filter> {
    let viewer = app.viewer(user).await?;
    let today = viewer.now.with_timezone(&viewer.zone).date_naive();
    let end = today + chrono::Days::new(days as u64 + 1);
    Ok(Filter {
        status: vec![Status::NeedsAction, Status::InProgress],
        due_after: from,
        due_before: Some(crate::recurrence::place(
            end.and_time(chrono::NaiveTime::MIN),
            viewer.zone,
        )),
        ..Filter::default()
    })
}
