//! `GET /api/v1/domains`: the domains links can be put on (see [`crate::domains`]), with
//! how many of the caller's links are on each, as Shlink's domain list.

use std::sync::Arc;

use axum::{Extension, extract::State};
use platform::{AppResult, AppState, auth::CurrentUser, error::Problem, http::Json};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{LinksState, store};

#[derive(Debug, Serialize, ToSchema)]
pub struct DomainList {
    /// The default domain first, then `links.domains` in their configured order.
    pub items: Vec<Domain>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Domain {
    /// The host name, as `domain` takes it when a link is created.
    #[schema(example = "go.example.com")]
    pub host: String,
    /// Links made without a `domain` go here.
    pub is_default: bool,
    /// How many of your links are on it.
    pub link_count: i64,
}

/// The domains this server serves links on.
#[utoipa::path(
    get,
    path = "/domains",
    operation_id = "list_domains",
    tag = "links",
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The domains", body = DomainList),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Extension(links): Extension<Arc<LinksState>>,
    user: CurrentUser,
) -> AppResult<Json<DomainList>> {
    let counts = store::links_per_domain(&state.db, &user).await?;
    let items = links
        .domains
        .names()
        .enumerate()
        .map(|(i, host)| Domain {
            host: host.to_owned(),
            is_default: i == 0,
            // The default domain's links are stored with `''`.
            link_count: counts
                .get(if i == 0 { "" } else { host })
                .copied()
                .unwrap_or(0),
        })
        .collect();
    Ok(Json(DomainList { items }))
}
