//! `GET /api/v1/orphan-visits`: the visits that reached no link (a slug unknown, expired or
//! used up; the bare domain; any other unknown path outside the API), as Shlink's orphan
//! visits: where broken links are still being followed. `GET /api/v1/orphan-visits/stats`
//! counts them, and `DELETE /api/v1/orphan-visits` clears them. They belong to no account,
//! so only administrators read or delete them.
//!
//! Read from the raw rows, unlike clicks: there is no link to keep rollups per, and a year
//! of a mistyped slug now and then is a small table.

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use platform::{
    AppError, AppResult, AppState,
    auth::RequireAdmin,
    error::{Problem, Validator},
    http::{Json, Page, Pagination, Query},
};
use sea_orm::{
    ColumnTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select,
    sea_query::{Alias, Expr},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::stats::{how_many, period};
use crate::{entities::orphan_visit, model::OrphanKind};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrphanVisitsQuery {
    /// From this time on.
    pub from: Option<DateTime<Utc>>,
    /// Before this time.
    pub to: Option<DateTime<Utc>>,
    /// `invalid_short_url` (a slug unknown, expired, not yet valid or used up),
    /// `base_url` (the domain itself) or `regular_404` (any other unknown path outside the
    /// API, such as one no link can have); all three when absent.
    pub kind: Option<String>,
    /// Visits by bots and link previews too (default false): scanners trying slugs are
    /// most of them on a public server.
    #[serde(default, deserialize_with = "platform::http::query::given")]
    pub bots: Option<bool>,
}

/// A visit that reached no link. As for clicks, the visitor's address is not stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrphanVisit {
    pub id: i64,
    pub visited_at: DateTime<Utc>,
    pub kind: OrphanKind,
    /// The domain visited; `null` for the default one.
    pub domain: Option<String>,
    /// The slug asked for; for `regular_404` the path, without its leading `/`; `null` for
    /// `base_url`.
    pub slug: Option<String>,
    pub referrer: Option<String>,
    pub referrer_host: Option<String>,
    pub country: Option<String>,
    pub browser: String,
    pub os: String,
    pub device: String,
    pub language: Option<String>,
    pub is_bot: bool,
}

impl From<orphan_visit::Model> for OrphanVisit {
    fn from(v: orphan_visit::Model) -> Self {
        Self {
            id: v.id,
            visited_at: v.visited_at,
            kind: v.kind,
            domain: Some(v.domain).filter(|d| !d.is_empty()),
            slug: v.slug,
            referrer: v.referrer,
            referrer_host: v.referrer_host,
            country: v.country,
            browser: v.browser,
            os: v.os,
            device: v.device,
            language: v.language,
            is_bot: v.is_bot,
        }
    }
}

/// Orphan visits, newest first, in pages.
#[utoipa::path(
    get,
    path = "/orphan-visits",
    tag = "links",
    params(OrphanVisitsQuery, Pagination),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of orphan visits", body = Page<OrphanVisit>),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown `kind`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _admin: RequireAdmin,
    page: Pagination,
    Query(query): Query<OrphanVisitsQuery>,
) -> AppResult<Response> {
    let mut select = visits(query.from, query.to, query.bots);
    if let Some(kind) = query.kind.as_deref() {
        let Some(kind) = OrphanKind::ALL.into_iter().find(|k| k.as_str() == kind) else {
            return Err(AppError::validation(
                "kind",
                "must be invalid_short_url, base_url or regular_404",
            ));
        };
        select = select.filter(orphan_visit::Column::Kind.eq(kind));
    }
    if let Some(before) = page.after::<i64>()? {
        select = select.filter(orphan_visit::Column::Id.lt(before));
    }
    let rows = select
        .order_by_desc(orphan_visit::Column::Id)
        .limit(page.fetch())
        .all(&state.db)
        .await?;
    let rows: Vec<OrphanVisit> = rows.into_iter().map(OrphanVisit::from).collect();
    Ok(page.page(rows, |v| v.id).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteOrphanVisitsQuery {
    /// Only the visits before this time (default: all of them).
    pub to: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    pub deleted: u64,
}

/// Deletes orphan visits, all or those before `to`, as Shlink's "delete orphan visits":
/// a scanner that tried thousands of slugs leaves nothing worth keeping.
#[utoipa::path(
    delete,
    path = "/orphan-visits",
    tag = "links",
    params(DeleteOrphanVisitsQuery),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "How many were deleted", body = Deleted),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    _admin: RequireAdmin,
    Query(query): Query<DeleteOrphanVisitsQuery>,
) -> AppResult<Json<Deleted>> {
    let mut delete = orphan_visit::Entity::delete_many();
    if let Some(to) = query.to {
        delete = delete.filter(orphan_visit::Column::VisitedAt.lt(to));
    }
    let deleted = delete.exec(&state.db).await?.rows_affected;
    tracing::info!(deleted, before = ?query.to, "orphan visits were deleted");
    Ok(Json(Deleted { deleted }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrphanStatsQuery {
    /// Start of the range (default: 30 days before `to`).
    pub from: Option<DateTime<Utc>>,
    /// End of the range, exclusive (default: now).
    pub to: Option<DateTime<Utc>>,
    /// Count visits by bots and link previews too (default false).
    #[serde(default, deserialize_with = "platform::http::query::given")]
    pub bots: Option<bool>,
    /// How many slugs and referrers (1–100, default 10).
    #[serde(default, deserialize_with = "platform::http::query::given")]
    pub top: Option<u64>,
}

/// Orphan visits in a range, counted.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrphanStats {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub total: i64,
    pub invalid_short_url: i64,
    pub base_url: i64,
    pub regular_404: i64,
    /// The slugs most asked for: the broken links still followed most.
    pub top_slugs: Vec<VisitCount>,
    /// Where those visits came from, by referrer host; `(direct)` for none.
    pub top_referrers: Vec<VisitCount>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VisitCount {
    pub value: String,
    pub visits: i64,
}

/// Orphan visits counted by kind, with the slugs and referrers that bring the most.
#[utoipa::path(
    get,
    path = "/orphan-visits/stats",
    tag = "links",
    params(OrphanStatsQuery),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The counts", body = OrphanStats),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A range that ends before it starts, or `top` out of 1–100", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stats(
    State(state): State<AppState>,
    _admin: RequireAdmin,
    Query(query): Query<OrphanStatsQuery>,
) -> AppResult<Json<OrphanStats>> {
    let mut v = Validator::new();
    let (from, to) = period(query.from, query.to, &mut v);
    let top = how_many("top", query.top, 10, &mut v);
    v.finish()?;
    let in_range = || visits(Some(from), Some(to), query.bots);

    // SELECT kind, COUNT(*) AS visits … GROUP BY kind
    let by_kind: Vec<(String, i64)> = counted_by(in_range(), orphan_visit::Column::Kind)
        .into_tuple()
        .all(&state.db)
        .await?;
    let of_kind = |kind: OrphanKind| {
        by_kind
            .iter()
            .find(|(k, _)| k == kind.as_str())
            .map_or(0, |(_, n)| *n)
    };
    let with_slug = in_range().filter(orphan_visit::Column::Slug.is_not_null());
    let top_slugs: Vec<(String, i64)> = most(with_slug, orphan_visit::Column::Slug, top)
        .into_tuple()
        .all(&state.db)
        .await?;
    let top_referrers: Vec<(Option<String>, i64)> =
        most(in_range(), orphan_visit::Column::ReferrerHost, top)
            .into_tuple()
            .all(&state.db)
            .await?;

    let count = |(value, visits): (String, i64)| VisitCount { value, visits };
    Ok(Json(OrphanStats {
        from,
        to,
        total: by_kind.iter().map(|(_, n)| n).sum(),
        invalid_short_url: of_kind(OrphanKind::InvalidShortUrl),
        base_url: of_kind(OrphanKind::BaseUrl),
        regular_404: of_kind(OrphanKind::Regular404),
        top_slugs: top_slugs.into_iter().map(count).collect(),
        top_referrers: top_referrers
            .into_iter()
            .map(|(host, n)| count((host.unwrap_or_else(|| "(direct)".into()), n)))
            .collect(),
    }))
}

/// Orphan visits in a range (either end open), by people only unless `bots`.
fn visits(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    bots: Option<bool>,
) -> Select<orphan_visit::Entity> {
    let mut select = orphan_visit::Entity::find();
    if let Some(from) = from {
        select = select.filter(orphan_visit::Column::VisitedAt.gte(from));
    }
    if let Some(to) = to {
        select = select.filter(orphan_visit::Column::VisitedAt.lt(to));
    }
    if !bots.unwrap_or(false) {
        select = select.filter(orphan_visit::Column::IsBot.eq(false));
    }
    select
}

/// `… GROUP BY column ORDER BY visits DESC, column LIMIT top`: the `top` values with the
/// most visits.
fn most(
    visits: Select<orphan_visit::Entity>,
    column: orphan_visit::Column,
    top: u64,
) -> Select<orphan_visit::Entity> {
    counted_by(visits, column)
        .order_by(Expr::col(Alias::new("visits")), Order::Desc)
        .order_by_asc(column)
        .limit(top)
}

/// `SELECT column, COUNT(*) AS visits … GROUP BY column`.
fn counted_by(
    visits: Select<orphan_visit::Entity>,
    column: orphan_visit::Column,
) -> Select<orphan_visit::Entity> {
    visits
        .select_only()
        .column(column)
        .column_as(orphan_visit::Column::Id.count(), "visits")
        .group_by(column)
}
