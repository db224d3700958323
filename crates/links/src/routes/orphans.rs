//! `GET /api/v1/orphan-visits`: the visits that reached no link (a slug unknown, expired or
//! used up; the bare domain), as Shlink's orphan visits: where broken links are still being
//! followed. They belong to no account, so only administrators read them.

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use platform::{
    AppError, AppResult, AppState,
    auth::RequireAdmin,
    error::Problem,
    http::{Page, Pagination, Query},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{clicks::OrphanKind, entities::orphan_visit};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrphanVisitsQuery {
    /// From this time on.
    pub from: Option<DateTime<Utc>>,
    /// Before this time.
    pub to: Option<DateTime<Utc>>,
    /// `invalid_short_url` (a slug unknown, expired, not yet valid or used up) or
    /// `base_url` (the domain itself); both when absent.
    pub kind: Option<String>,
    /// Visits by bots and link previews too (default false): scanners trying slugs are
    /// most of them on a public server.
    pub bots: Option<bool>,
}

/// A visit that reached no link. As for clicks, the visitor's address is not stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrphanVisit {
    pub id: i64,
    pub visited_at: DateTime<Utc>,
    /// `invalid_short_url` or `base_url`.
    pub kind: String,
    /// The domain visited; `null` for the default one.
    pub domain: Option<String>,
    /// The slug asked for (`null` for `base_url`).
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
    let mut select = orphan_visit::Entity::find();
    if let Some(kind) = query.kind.as_deref() {
        let Some(kind) = OrphanKind::ALL.into_iter().find(|k| k.as_str() == kind) else {
            return Err(AppError::validation(
                "kind",
                "must be invalid_short_url or base_url",
            ));
        };
        select = select.filter(orphan_visit::Column::Kind.eq(kind.as_str()));
    }
    if !query.bots.unwrap_or(false) {
        select = select.filter(orphan_visit::Column::IsBot.eq(false));
    }
    if let Some(from) = query.from {
        select = select.filter(orphan_visit::Column::VisitedAt.gte(from));
    }
    if let Some(to) = query.to {
        select = select.filter(orphan_visit::Column::VisitedAt.lt(to));
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
