//! `GET /api/v1/admin/jobs` and `POST /api/v1/admin/jobs/{id}/retry`: what the queue holds,
//! and a second chance for a dead job. The router puts `RequireAdmin` in front of both.

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    JobState,
    entity::{self, Column, Entity},
    store,
};
use crate::{
    error::{AppError, AppResult, Problem},
    http::{Json, Page, Pagination, Query},
    state::AppState,
};

/// A job as administrators see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    pub id: i64,
    /// `app.what`, such as `links.fetch_title`.
    pub kind: String,
    pub state: JobState,
    /// The job's value, as its kind defines it (any JSON: an object, or `null` for a job
    /// that carries nothing).
    #[schema(value_type = Value)]
    pub payload: serde_json::Value,
    /// When it is (or was) due.
    pub run_at: DateTime<Utc>,
    pub attempts: i32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub idempotency_key: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<entity::Model> for JobView {
    fn from(job: entity::Model) -> Self {
        Self {
            payload: serde_json::from_str(&job.payload)
                .unwrap_or(serde_json::Value::String(job.payload)),
            id: job.id,
            kind: job.kind,
            state: job.state,
            run_at: job.run_at,
            attempts: job.attempts,
            last_error: job.last_error,
            idempotency_key: job.idempotency_key,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobFilter {
    /// Only jobs in this state, such as `dead`.
    pub state: Option<JobState>,
    /// Only jobs of this kind.
    pub kind: Option<String>,
}

/// The queue's jobs, oldest first, optionally by state and kind.
#[utoipa::path(
    get,
    path = "/admin/jobs",
    operation_id = "list_jobs",
    tag = "admin",
    params(Pagination, JobFilter),
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "A page of jobs", body = Page<JobView>),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    page: Pagination,
    Query(filter): Query<JobFilter>,
) -> AppResult<Page<JobView>> {
    let mut query = Entity::find();
    if let Some(after) = page.after::<i64>()? {
        query = query.filter(Column::Id.gt(after));
    }
    if let Some(job_state) = filter.state {
        query = query.filter(Column::State.eq(job_state));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(Column::Kind.eq(kind));
    }
    let rows = query
        .order_by_asc(Column::Id)
        .limit(page.fetch())
        .all(&state.db)
        .await?;
    Ok(page.page(rows.into_iter().map(JobView::from).collect(), |j| j.id))
}

/// Queues a dead job again, due now, with its attempts counted afresh.
#[utoipa::path(
    post,
    path = "/admin/jobs/{id}/retry",
    operation_id = "retry_job",
    tag = "admin",
    params(("id" = i64, Path, description = "The job's id")),
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The job, queued again", body = JobView),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The job is not dead", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn retry(State(state): State<AppState>, Path(id): Path<i64>) -> AppResult<Json<JobView>> {
    let now = state.jobs.clock().now();
    let Some(revived) = store::revive(&state.db, id, now).await? else {
        return Err(match Entity::find_by_id(id).one(&state.db).await? {
            None => AppError::NotFound,
            Some(_) => AppError::conflict("state", "only a dead job can be retried"),
        });
    };
    // Woken after the answer is made: the job as this request queued it.
    state.jobs.wake();
    Ok(Json(revived.into()))
}

/// The queue's administration routes, relative to `/api/v1`, for administrators only.
pub fn router(state: &AppState) -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(retry))
        .route_layer(axum::middleware::from_extractor_with_state::<
            crate::auth::RequireAdmin,
            _,
        >(state.clone()))
}
