//! Statistics: of a link (`GET /api/v1/links/{id}/stats`), of a tag's links
//! (`GET /api/v1/tags/{name}/stats`; a domain's are in [`super::domains`]) and of all the
//! caller's links (`GET /api/v1/stats`);
//! the links ranked by clicks, `GET /api/v1/stats/links`; and the raw clicks,
//! `GET /api/v1/links/{id}/clicks` (JSON pages or a CSV export), which `DELETE` forgets.

use std::sync::Arc;

use axum::{
    Extension,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use platform::{
    AppError, AppResult, AppState,
    auth::{CurrentUser, find_owned},
    error::{Problem, Validator},
    http::{Json, Page, Pagination, Query},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::tags::tag_name;
use crate::{
    LinksState,
    analytics::{self, Interval, RankedLink, Scope, Stats},
    csv_files,
    entities::{click, link},
    store,
};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Start of the range (default: 30 days before `to`).
    pub from: Option<DateTime<Utc>>,
    /// End of the range, exclusive (default: now).
    pub to: Option<DateTime<Utc>>,
    /// `hour`, `day` (default), `week` or `month`.
    pub interval: Option<Interval>,
    /// IANA time zone for the buckets, such as `Europe/Paris` (default `UTC`).
    pub tz: Option<String>,
    /// Count clicks by bots and link previews too (default false).
    #[serde(default, deserialize_with = "platform::http::query::given")]
    pub bots: Option<bool>,
    /// How many values per breakdown (1–100, default 10).
    #[serde(default, deserialize_with = "platform::http::query::given")]
    pub top: Option<u64>,
}

/// `from` and `to` as given, by default the 30 days until now; `from` must come first.
pub(super) fn period(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    v: &mut Validator,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let to = to.unwrap_or_else(Utc::now);
    let from = from.unwrap_or(to - Duration::days(30));
    if from >= to {
        v.error("from", "must be before `to`");
    }
    (from, to)
}

/// How many of something to answer with: `given`, else `default`; 1 to 100.
pub(super) fn how_many(field: &str, given: Option<u64>, default: u64, v: &mut Validator) -> u64 {
    let n = given.unwrap_or(default);
    if !(1..=100).contains(&n) {
        v.error(field, "must be from 1 to 100");
    }
    n
}

pub(super) fn range(query: &StatsQuery) -> AppResult<analytics::Range> {
    let mut v = Validator::new();
    let (from, to) = period(query.from, query.to, &mut v);
    let interval = query.interval.unwrap_or(Interval::Day);
    if from < to && analytics::bucket_count(from, to, interval) > analytics::MAX_BUCKETS as i64 {
        v.error(
            "interval",
            format!(
                "gives more than {} buckets for this range; choose a longer interval",
                analytics::MAX_BUCKETS
            ),
        );
    }
    let tz = match query.tz.as_deref() {
        None => Some(Tz::UTC),
        Some(name) => v.check(
            "tz",
            name.parse::<Tz>()
                .map_err(|_| "is not an IANA time zone such as Europe/Paris".to_owned()),
        ),
    };
    let top = how_many("top", query.top, 10, &mut v);
    v.finish()?;
    Ok(analytics::Range {
        from,
        to,
        interval,
        tz: tz.expect("validated"),
        bots: query.bots.unwrap_or(false),
        top,
    })
}

/// A link's clicks over time and broken down by country, referrer, browser, OS, device and
/// language. Bots are left out unless `bots=true`.
#[utoipa::path(
    get,
    path = "/links/{id}/stats",
    tag = "links",
    params(("id" = i64, Path), StatsQuery),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The statistics", body = Stats),
        (status = 404, description = "No such link of yours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid range, interval or time zone", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn link_stats(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(query): Query<StatsQuery>,
) -> AppResult<Json<Stats>> {
    let range = range(&query)?;
    let link = find_owned::<link::Entity>(&state.db, id, &user).await?;
    Ok(Json(
        analytics::stats(&state.db, Scope::Link(link.id), &range).await?,
    ))
}

/// The clicks on every link carrying a tag, together: over time and broken down as for one
/// link. Unique visitors are counted per link.
#[utoipa::path(
    get,
    path = "/tags/{name}/stats",
    tag = "links",
    params(("name" = String, Path), StatsQuery),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The statistics", body = Stats),
        (status = 404, description = "No such tag of yours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid range, interval or time zone", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn tag_stats(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(name): Path<String>,
    Query(query): Query<StatsQuery>,
) -> AppResult<Json<Stats>> {
    let range = range(&query)?;
    let tag = store::find_tag(&state.db, &user, &tag_name(&name)?)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut stats = analytics::stats(&state.db, Scope::Tag(tag.id), &range).await?;
    stats.tag = Some(tag.name);
    Ok(Json(stats))
}

/// The clicks on all the caller's links together: the account's overview, over time and
/// broken down as for one link. Unique visitors are counted per link.
#[utoipa::path(
    get,
    path = "/stats",
    tag = "links",
    params(StatsQuery),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The statistics", body = Stats),
        (status = 422, description = "Invalid range, interval or time zone", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn account_stats(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<StatsQuery>,
) -> AppResult<Json<Stats>> {
    let range = range(&query)?;
    Ok(Json(
        analytics::stats(&state.db, Scope::Owner(user.id), &range).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RankingQuery {
    /// Start of the range (default: 30 days before `to`).
    pub from: Option<DateTime<Utc>>,
    /// End of the range, exclusive (default: now).
    pub to: Option<DateTime<Utc>>,
    /// Leave out links with fewer clicks than this in the range (default 1).
    pub min_clicks: Option<i64>,
    /// How many links (1–100, default 20).
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Ranking {
    pub items: Vec<RankedLink>,
}

/// The caller's links ranked by clicks in a range.
#[utoipa::path(
    get,
    path = "/stats/links",
    tag = "links",
    params(RankingQuery),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Links, most clicked first", body = Ranking),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ranking(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<RankingQuery>,
) -> AppResult<Json<Ranking>> {
    let mut v = Validator::new();
    let (from, to) = period(query.from, query.to, &mut v);
    let limit = how_many("limit", query.limit, 20, &mut v);
    let min_clicks = query.min_clicks.unwrap_or(1);
    if min_clicks < 0 {
        v.error("min_clicks", "must not be negative");
    }
    v.finish()?;
    let items = analytics::rank_links(&state.db, &user, from, to, min_clicks, limit).await?;
    Ok(Json(Ranking { items }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClicksQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// `json` (pages, default) or `csv` (every click in the range, streamed).
    pub format: Option<String>,
}

/// One recorded click. The visitor's address is never stored; `visitor` is a hash that
/// changes every day.
#[derive(Debug, Serialize, ToSchema)]
pub struct Click {
    pub id: i64,
    pub clicked_at: DateTime<Utc>,
    pub referrer: Option<String>,
    pub referrer_host: Option<String>,
    pub country: Option<String>,
    pub browser: String,
    pub os: String,
    pub device: String,
    pub language: Option<String>,
    pub is_bot: bool,
    pub visitor: String,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_term: Option<String>,
    pub utm_content: Option<String>,
}

impl From<click::Model> for Click {
    fn from(c: click::Model) -> Self {
        Self {
            id: c.id,
            clicked_at: c.clicked_at,
            referrer: c.referrer,
            referrer_host: c.referrer_host,
            country: c.country,
            browser: c.browser,
            os: c.os,
            device: c.device,
            language: c.language,
            is_bot: c.is_bot,
            visitor: c.visitor_hash,
            utm_source: c.utm_source,
            utm_medium: c.utm_medium,
            utm_campaign: c.utm_campaign,
            utm_term: c.utm_term,
            utm_content: c.utm_content,
        }
    }
}

fn clicks_query(link_id: i64, query: &ClicksQuery) -> sea_orm::Select<click::Entity> {
    let mut select = click::Entity::find().filter(click::Column::LinkId.eq(link_id));
    if let Some(from) = query.from {
        select = select.filter(click::Column::ClickedAt.gte(from));
    }
    if let Some(to) = query.to {
        select = select.filter(click::Column::ClickedAt.lt(to));
    }
    select
}

/// A link's raw clicks, newest first, in pages; or, with `format=csv`, all of them in
/// the range as a CSV download.
#[utoipa::path(
    get,
    path = "/links/{id}/clicks",
    tag = "links",
    params(("id" = i64, Path), ClicksQuery, Pagination),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of clicks (or `text/csv`)", body = Page<Click>),
        (status = 404, description = "No such link of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn clicks(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    page: Pagination,
    Query(query): Query<ClicksQuery>,
) -> AppResult<Response> {
    let link = find_owned::<link::Entity>(&state.db, id, &user).await?;
    match query.format.as_deref() {
        None | Some("json") => {
            let mut select = clicks_query(link.id, &query);
            if let Some(before) = page.after::<i64>()? {
                select = select.filter(click::Column::Id.lt(before));
            }
            let rows = select
                .order_by_desc(click::Column::Id)
                .limit(page.fetch())
                .all(&state.db)
                .await?;
            let rows: Vec<Click> = rows.into_iter().map(Click::from).collect();
            Ok(page.page(rows, |c| c.id).into_response())
        }
        Some("csv") => Ok(csv_export(state, link, query)),
        Some(_) => Err(AppError::validation("format", "must be json or csv")),
    }
}

/// Deletes a link's clicks and the statistics counted from them, as Shlink's "delete
/// visits": for a visitor who asks to be forgotten, or to start a link's count afresh. A
/// link with `max_clicks` can then be followed that many times again. Clicks still queued
/// at that moment are written after it.
#[utoipa::path(
    delete,
    path = "/links/{id}/clicks",
    tag = "links",
    params(("id" = i64, Path)),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "The clicks and their statistics are gone"),
        (status = 404, description = "No such link of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_clicks(
    State(state): State<AppState>,
    Extension(links): Extension<Arc<LinksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    let link = find_owned::<link::Entity>(&state.db, id, &user).await?;
    let clicks = store::forget_clicks(&state.db, link.id).await?;
    // The redirect's copy of the link counts clicks for `max_clicks`.
    links.cache.invalidate(&link.domain, &link.slug).await;
    tracing::info!(link_id = link.id, clicks, "a link's clicks were deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Streams the CSV in chunks of 5,000 rows (keyset-paged by id), so that exporting a
/// million clicks holds one chunk in memory, not a million rows.
fn csv_export(state: AppState, link: link::Model, query: ClicksQuery) -> Response {
    const CHUNK: u64 = 5_000;
    const COLUMNS: [&str; 16] = [
        "id",
        "clicked_at",
        "referrer",
        "referrer_host",
        "country",
        "browser",
        "os",
        "device",
        "language",
        "is_bot",
        "visitor",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
    ];
    let chunks = futures_util::stream::unfold(Some(0i64), move |after| {
        let (db, query, link_id) = (
            state.db.clone(),
            ClicksQuery {
                from: query.from,
                to: query.to,
                format: None,
            },
            link.id,
        );
        async move {
            let after = after?;
            let rows = clicks_query(link_id, &query)
                .filter(click::Column::Id.gt(after))
                .order_by_asc(click::Column::Id)
                .limit(CHUNK)
                .all(&db)
                .await;
            match rows {
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let next = (rows.len() as u64 == CHUNK)
                        .then(|| rows.last().map(|r| r.id))
                        .flatten();
                    let mut out = String::with_capacity(rows.len() * 160);
                    for r in rows {
                        csv_row(&mut out, r);
                    }
                    Some((Ok::<_, std::io::Error>(out), next))
                }
                Err(err) => {
                    tracing::error!(error = %err, "CSV export failed mid-stream");
                    Some((Err(std::io::Error::other("database error")), None))
                }
            }
        }
    });
    csv_files::download(&format!("{}-clicks.csv", link.slug), &COLUMNS, chunks)
}

fn csv_row(out: &mut String, c: click::Model) {
    csv_files::row(
        out,
        [
            c.id.to_string(),
            csv_files::time(c.clicked_at),
            c.referrer.unwrap_or_default(),
            c.referrer_host.unwrap_or_default(),
            c.country.unwrap_or_default(),
            c.browser,
            c.os,
            c.device,
            c.language.unwrap_or_default(),
            c.is_bot.to_string(),
            c.visitor_hash,
            c.utm_source.unwrap_or_default(),
            c.utm_medium.unwrap_or_default(),
            c.utm_campaign.unwrap_or_default(),
            c.utm_term.unwrap_or_default(),
            c.utm_content.unwrap_or_default(),
        ],
    );
}
