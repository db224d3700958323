//! `POST/GET /api/v1/links`, `GET/PATCH/DELETE /api/v1/links/{id}`.

use std::sync::Arc;

use axum::{
    Extension,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use futures_util::stream;
use platform::{
    AppError, AppResult, AppState,
    auth::{CurrentUser, find_owned},
    error::{Problem, Validator},
    http::{Json, Page, Pagination, location},
};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    LinksState,
    api::{Check, Link, LinkChanges, NewLink},
    csv_files,
    entities::link,
    lifecycle::{self, Created},
    link_csv,
    store::{self, ListCursor, ListFilter, Sort, TagMode},
};

/// Creates a short link.
#[utoipa::path(
    post,
    path = "/links",
    operation_id = "create_link",
    tag = "links",
    request_body = NewLink,
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 201, description = "Created", body = Link, headers(("location" = String, description = "The new link"))),
        (status = 200, description = "With `find_if_exists`: your existing link to this target", body = Link),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The slug is taken on this domain", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Extension(links): Extension<Arc<LinksState>>,
    user: CurrentUser,
    Json(input): Json<NewLink>,
) -> AppResult<Response> {
    let mut v = Validator::new();
    let valid = input.validate(&mut Check {
        v: &mut v,
        at: "",
        domains: &links.domains,
    });
    v.finish()?;
    let valid = valid.expect("validated");
    Ok(
        match lifecycle::create(&state, &links, user.id, valid).await? {
            Created::New(created) => {
                let view = store::view(&state.db, created, &links.domains).await?;
                (
                    StatusCode::CREATED,
                    location(&format!("/api/v1/links/{}", view.id)),
                    Json(view),
                )
                    .into_response()
            }
            Created::Existing(found) => {
                Json(store::view(&state.db, found, &links.domains).await?).into_response()
            }
        },
    )
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Text to find in the slug, target or title (case-insensitive); at most 200
    /// characters.
    pub q: Option<String>,
    /// The link with exactly this slug (slugs are case-sensitive; one per domain): the way
    /// to find a link by its short address, with `domain`.
    pub slug: Option<String>,
    /// Links on this domain (its host name; the default domain's for the default).
    pub domain: Option<String>,
    /// A tag; repeat for several (`tag=a&tag=b`).
    #[param(rename = "tag")]
    #[serde(default, rename = "tag")]
    pub tags: Vec<String>,
    /// With several tags: links with `any` (default) or `all` of them.
    pub tag_mode: Option<TagMode>,
    /// Links created at or after this time.
    pub created_after: Option<DateTime<Utc>>,
    /// Links created before this time.
    pub created_before: Option<DateTime<Utc>>,
    /// `created` (newest first, default) or `clicks` (most clicked first).
    pub sort: Option<Sort>,
    /// `json` (pages, default) or `csv`: every matching link, in the same order, as a
    /// download (tags separated by `|`, a `|` in a tag written `\|`; rules are left out).
    pub format: Option<String>,
}

/// The longest search text: longer, a `LIKE` pattern costs the database more than any
/// title or address it could match.
const MAX_SEARCH: usize = 200;

/// Lists the caller's links: search, tag filters, date range, sorting, pages.
#[utoipa::path(
    get,
    path = "/links",
    operation_id = "list_links",
    tag = "links",
    params(ListQuery, Pagination),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "A page of links (or, with `format=csv`, all of them as `text/csv`)", body = Page<Link>),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Extension(links): Extension<Arc<LinksState>>,
    user: CurrentUser,
    page: Pagination,
    query: platform::http::Query<ListQuery>,
) -> AppResult<Response> {
    let query = query.0;
    let domain = match query.domain.as_deref() {
        Some(raw) => Some(
            links
                .domains
                .parse(raw)
                .map_err(|reason| AppError::validation("domain", reason))?,
        ),
        None => None,
    };
    if query
        .q
        .as_ref()
        .is_some_and(|q| q.chars().count() > MAX_SEARCH)
    {
        return Err(AppError::validation(
            "q",
            format!("must be at most {MAX_SEARCH} characters"),
        ));
    }
    let mut tags: Vec<String> = query
        .tags
        .iter()
        .filter_map(|t| crate::model::parse_tag(t).ok())
        .collect();
    // `tag=a&tag=a` is one tag: with `tag_mode=all`, counting it twice would find nothing.
    tags.sort_unstable();
    tags.dedup();
    let filter = ListFilter {
        q: query.q,
        slug: query.slug,
        domain,
        tags,
        tag_mode: query.tag_mode.unwrap_or_default(),
        created_after: query.created_after,
        created_before: query.created_before,
        sort: query.sort.unwrap_or_default(),
    };
    match query.format.as_deref() {
        None | Some("json") => {
            let rows = store::list(&state.db, &user, &filter, page.after()?, page.fetch()).await?;
            let views = store::views(&state.db, rows, &links.domains).await?;
            Ok(page
                .page(views, |l| store::cursor_of(l, filter.sort))
                .into_response())
        }
        Some("csv") => Ok(export(state, links, user, filter)),
        Some(_) => Err(AppError::validation("format", "must be json or csv")),
    }
}

/// Every link matching `filter` as a CSV download, read a thousand at a time in the list's
/// order (keyset pages, as the JSON list).
fn export(
    state: AppState,
    links: Arc<LinksState>,
    user: CurrentUser,
    filter: ListFilter,
) -> Response {
    const CHUNK: u64 = 1_000;
    let filter = Arc::new(filter);
    // The state is where the next chunk starts: `None` once the last one is out.
    let chunks = stream::unfold(Some(None), move |next: Option<Option<ListCursor>>| {
        let (state, links, user, filter) =
            (state.clone(), links.clone(), user.clone(), filter.clone());
        async move {
            let after = next?;
            let page = async {
                let rows = store::list(&state.db, &user, &filter, after, CHUNK).await?;
                store::views(&state.db, rows, &links.domains).await
            }
            .await;
            match page {
                Ok(page) if page.is_empty() => None,
                Ok(page) => {
                    let next = (page.len() as u64 == CHUNK)
                        .then(|| page.last().map(|l| store::cursor_of(l, filter.sort)));
                    let mut out = String::with_capacity(page.len() * 200);
                    for link in page {
                        link_csv::row(&mut out, link);
                    }
                    Some((Ok(out), next))
                }
                Err(err) => {
                    tracing::error!(error = %err, "links export failed mid-stream");
                    Some((Err(std::io::Error::other("database error")), None))
                }
            }
        }
    });
    csv_files::download("links.csv", &link_csv::EXPORTED, chunks)
}

/// One of the caller's links.
#[utoipa::path(
    get,
    path = "/links/{id}",
    operation_id = "get_link",
    tag = "links",
    params(("id" = i64, Path)),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The link", body = Link),
        (status = 404, description = "No such link of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Extension(links): Extension<Arc<LinksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<Link>> {
    let found = find_owned::<link::Entity>(&state.db, id, &user).await?;
    Ok(Json(store::view(&state.db, found, &links.domains).await?))
}

/// Changes a link. The redirect follows the change at once.
#[utoipa::path(
    patch,
    path = "/links/{id}",
    operation_id = "update_link",
    tag = "links",
    params(("id" = i64, Path)),
    request_body = LinkChanges,
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The changed link", body = Link),
        (status = 404, description = "No such link of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The slug is taken on this domain", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    Extension(links): Extension<Arc<LinksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Json(input): Json<LinkChanges>,
) -> AppResult<Json<Link>> {
    let current = find_owned::<link::Entity>(&state.db, id, &user).await?;
    let mut v = Validator::new();
    let valid = input.validate(
        &mut Check {
            v: &mut v,
            at: "",
            domains: &links.domains,
        },
        &current,
    );
    v.finish()?;
    let valid = valid.expect("validated");
    let updated = lifecycle::change(&state, &links, current, valid).await?;
    Ok(Json(store::view(&state.db, updated, &links.domains).await?))
}

/// Deletes a link and its clicks. Its slug stops redirecting at once.
#[utoipa::path(
    delete,
    path = "/links/{id}",
    operation_id = "delete_link",
    tag = "links",
    params(("id" = i64, Path)),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such link of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Extension(links): Extension<Arc<LinksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    let found = find_owned::<link::Entity>(&state.db, id, &user).await?;
    lifecycle::delete(&state, &links, found).await?;
    Ok(StatusCode::NO_CONTENT)
}
