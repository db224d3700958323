//! `GET /api/v1/tags`: the caller's tags with how many links carry each.

use axum::extract::State;
use platform::{AppResult, AppState, auth::CurrentUser, error::Problem, http::Json};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::{self, TagCount};

#[derive(Debug, Serialize, ToSchema)]
pub struct TagList {
    pub items: Vec<TagCount>,
}

/// Every tag of the caller, by name, with its link count.
#[utoipa::path(
    get,
    path = "/tags",
    tag = "links",
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The tags", body = TagList),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(State(state): State<AppState>, user: CurrentUser) -> AppResult<Json<TagList>> {
    Ok(Json(TagList {
        items: store::tag_counts(&state.db, &user).await?,
    }))
}
