//! `/api/v1/tags`: the caller's tags with how many links carry each and how many clicks
//! those links have; renaming a tag and deleting one (which takes it off its links).

use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use platform::{AppError, AppResult, AppState, auth::CurrentUser, error::Problem, http::Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    model::parse_tag,
    store::{self, TagCount},
};

#[derive(Debug, Serialize, ToSchema)]
pub struct TagList {
    pub items: Vec<TagCount>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TagChanges {
    /// The new name: trimmed and lower-cased, 1 to 50 characters.
    pub name: String,
}

/// Every tag of the caller, by name, with its link and click counts.
#[utoipa::path(
    get,
    path = "/tags",
    operation_id = "list_tags",
    tag = "links",
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The tags", body = TagList),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(State(state): State<AppState>, user: CurrentUser) -> AppResult<Json<TagList>> {
    Ok(Json(TagList {
        items: store::tag_counts(&state.db, &user, None).await?,
    }))
}

/// Renames a tag on every link that carries it.
#[utoipa::path(
    patch,
    path = "/tags/{name}",
    operation_id = "rename_tag",
    tag = "links",
    params(("name" = String, Path, description = "The tag's current name")),
    request_body = TagChanges,
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The tag under its new name", body = TagCount),
        (status = 404, description = "No such tag of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "You already have a tag of that name", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a valid tag name", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn rename(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(name): Path<String>,
    Json(changes): Json<TagChanges>,
) -> AppResult<Json<TagCount>> {
    let to = parse_tag(&changes.name).map_err(|message| AppError::validation("name", message))?;
    let from = tag_name(&name)?;
    if !store::rename_tag(&state.db, &user, &from, &to).await? {
        return Err(AppError::NotFound);
    }
    let renamed = store::tag_counts(&state.db, &user, Some(&to)).await?;
    renamed
        .into_iter()
        .next()
        .map(Json)
        .ok_or(AppError::NotFound)
}

/// Deletes a tag: the links that carried it stay, without it.
#[utoipa::path(
    delete,
    path = "/tags/{name}",
    operation_id = "delete_tag",
    tag = "links",
    params(("name" = String, Path)),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such tag of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(name): Path<String>,
) -> AppResult<StatusCode> {
    if store::delete_tag(&state.db, &user, &tag_name(&name)?).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound)
    }
}

/// A tag named in the path, as it is stored (`Marketing` is the tag `marketing`); a name
/// no tag can have names no tag of the caller's either.
pub(super) fn tag_name(raw: &str) -> AppResult<String> {
    parse_tag(raw).map_err(|_| AppError::NotFound)
}
