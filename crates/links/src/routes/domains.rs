//! `GET /api/v1/domains`: the domains links can be put on (see [`crate::domains`]), with
//! how many of the caller's links are on each, as Shlink's domain list; and
//! `GET /api/v1/domains/{host}/stats`, the clicks on the caller's links on one of them, as
//! Shlink's domain visits.

use std::sync::Arc;

use axum::{
    Extension,
    extract::{Path, State},
};
use platform::{
    AppError, AppResult, AppState,
    auth::CurrentUser,
    error::Problem,
    http::{Json, Query},
};
use serde::Serialize;
use utoipa::ToSchema;

use super::stats::{StatsQuery, range};
use crate::{
    LinksState,
    analytics::{self, Scope, Stats},
    store,
};

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

/// The clicks on every link of the caller's on a domain, together: over time and broken
/// down as for one link. Unique visitors are counted per link.
#[utoipa::path(
    get,
    path = "/domains/{host}/stats",
    operation_id = "domain_stats",
    tag = "links",
    params(("host" = String, Path, description = "A host name of `GET /domains`"), StatsQuery),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The statistics", body = Stats),
        (status = 404, description = "Not one of this server's domains", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid range, interval or time zone", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stats(
    State(state): State<AppState>,
    Extension(links): Extension<Arc<LinksState>>,
    user: CurrentUser,
    Path(host): Path<String>,
    Query(query): Query<StatsQuery>,
) -> AppResult<Json<Stats>> {
    let domain = links.domains.parse(&host).map_err(|_| AppError::NotFound)?;
    let range = range(&query)?;
    let scope = Scope::Domain {
        owner: user.id,
        domain: &domain,
    };
    let mut stats = analytics::stats(&state.db, scope, &range).await?;
    // Stored as `''` for the default domain; shown by its name.
    let name = match domain.as_str() {
        "" => links.domains.default_host(),
        other => other,
    };
    stats.domain = Some(name.to_owned());
    Ok(Json(stats))
}
