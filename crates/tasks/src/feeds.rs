//! Read-only calendar feeds: `GET /ical/{token}.ics`, for calendar apps that only
//! subscribe (Google Calendar, Outlook, a phone's "subscribed calendar"). A feed is one
//! user's tasks — of every project or one — behind a secret token in the URL, since those
//! apps cannot sign in; the token is stored hashed, shown once, and revoked by deleting
//! the feed.

use std::sync::Arc;

use axum::{
    Router,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use platform::{AppError, AppResult, auth::secret};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    TasksState,
    access::{self, Trash},
    entities::{feed, member, project, task},
    export,
    model::Role,
};

/// What a feed's token starts with, so that a leaked one is recognisable.
const PREFIX: &str = "cst_ical_";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFeed {
    /// One project's tasks; absent: all of yours.
    pub project_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedView {
    pub id: i64,
    pub project_id: Option<i64>,
    /// The address to subscribe to; only in the answer that creates the feed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

fn view(f: feed::Model, url: Option<String>) -> FeedView {
    FeedView {
        id: f.id,
        project_id: f.project_id,
        url,
        created_at: f.created_at,
    }
}

pub async fn create(state: &TasksState, user: i64, input: NewFeed) -> AppResult<FeedView> {
    if let Some(project) = input.project_id {
        access::project(&state.db, user, project, Role::Viewer, Trash::Excluded)
            .await
            .map_err(|_| AppError::validation("project_id", "is not a project of yours"))?;
    }
    let token = secret::generate(PREFIX);
    let row = feed::ActiveModel {
        user_id: Set(user),
        project_id: Set(input.project_id),
        token_hash: Set(secret::hash(&token)),
        created_at: Set(state.now()),
        ..Default::default()
    }
    .insert(&state.db)
    .await?;
    let url = format!(
        "{}/ical/{token}.ics",
        state.platform.config.public_url().trim_end_matches('/')
    );
    Ok(view(row, Some(url)))
}

pub async fn list(state: &TasksState, user: i64) -> AppResult<Vec<FeedView>> {
    let rows = feed::Entity::find()
        .filter(feed::Column::UserId.eq(user))
        .order_by_asc(feed::Column::Id)
        .all(&state.db)
        .await?;
    Ok(rows.into_iter().map(|f| view(f, None)).collect())
}

pub async fn revoke(state: &TasksState, user: i64, id: i64) -> AppResult<()> {
    let gone = feed::Entity::delete_many()
        .filter(feed::Column::Id.eq(id))
        .filter(feed::Column::UserId.eq(user))
        .exec(&state.db)
        .await?;
    if gone.rows_affected == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// `/ical/{token}.ics`.
pub fn router(state: Arc<TasksState>) -> Router {
    Router::new()
        .route("/ical/{file}", get(serve))
        .with_state(state)
}

async fn serve(State(state): State<Arc<TasksState>>, Path(file): Path<String>) -> Response {
    match feed_text(&state, &file).await {
        Ok(text) => (
            [
                (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
                (header::CACHE_CONTROL, "private, max-age=300"),
            ],
            text,
        )
            .into_response(),
        Err(AppError::NotFound) => StatusCode::NOT_FOUND.into_response(),
        Err(err) => {
            tracing::error!(error = %err, "a calendar feed failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

async fn feed_text(state: &TasksState, file: &str) -> AppResult<String> {
    let token = file.strip_suffix(".ics").ok_or(AppError::NotFound)?;
    if !token.starts_with(PREFIX) {
        return Err(AppError::NotFound);
    }
    let found = feed::Entity::find()
        .filter(feed::Column::TokenHash.eq(secret::hash(token)))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    let projects: Vec<i64> = match found.project_id {
        Some(project) => {
            // The user may have left the project since: then the feed shows nothing.
            access::project(
                &state.db,
                found.user_id,
                project,
                Role::Viewer,
                Trash::Excluded,
            )
            .await?;
            vec![project]
        }
        None => {
            let memberships: Vec<i64> = member::Entity::find()
                .filter(member::Column::UserId.eq(found.user_id))
                .all(&state.db)
                .await?
                .into_iter()
                .map(|m| m.project_id)
                .collect();
            project::Entity::find()
                .filter(project::Column::Id.is_in(memberships))
                .filter(project::Column::DeletedAt.is_null())
                .all(&state.db)
                .await?
                .into_iter()
                .map(|p| p.id)
                .collect()
        }
    };
    let rows = task::Entity::find()
        .filter(task::Column::ProjectId.is_in(projects))
        .filter(task::Column::DeletedAt.is_null())
        .order_by_asc(task::Column::Id)
        .all(&state.db)
        .await?;
    export::calendar(&state.db, &rows).await
}
