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
    auth::{CurrentUser, find_owned, password},
    error::{Problem, Validator},
    http::{Json, Page, Pagination, location},
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, IntoActiveModel, TransactionTrait};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    LinksState,
    api::{Check, Link, LinkChanges, NewLink, ValidLink},
    csv_files,
    entities::link,
    events, link_csv,
    model::Safety,
    store::{self, ListCursor, ListFilter, Sort, TagMode},
};

/// Hashes a link password (argon2id, off the async workers). Link passwords are shared
/// secrets, not account passwords, so only their length is checked.
pub(crate) async fn hash_link_password(password: Option<String>) -> AppResult<Option<String>> {
    match password {
        Some(p) => Ok(Some(password::hash_unchecked(p).await?)),
        None => Ok(None),
    }
}

/// What a create did.
pub(crate) enum Created {
    New(link::Model),
    /// `find_if_exists` found this link to the same target.
    Existing(link::Model),
}

/// Makes a link (or, with `find_if_exists`, finds it), for the create and bulk routes: the
/// password hashed off the async workers, the rows written in one transaction, then the
/// redirect cache told and the title fetch and safety check queued.
pub(crate) async fn create_link(
    state: &AppState,
    links: &LinksState,
    owner: i64,
    valid: ValidLink,
) -> AppResult<Created> {
    if valid.find_if_exists
        && let Some(existing) = store::find_existing(&state.db, owner, &valid).await?
    {
        return Ok(Created::Existing(existing));
    }
    let password_hash = hash_link_password(valid.password.clone()).await?;
    let needs_title = valid.title.is_none();
    let tx = state.db.begin().await?;
    let created = store::create(
        &tx,
        owner,
        valid,
        password_hash,
        links.settings.slug_length,
        links.initial_safety(),
    )
    .await?;
    links
        .enrichment
        .new_link(&tx, &created, needs_title)
        .await?;
    events::plan_expiry(state, &tx, &created).await?;
    events::emit(
        &state.webhooks,
        &links.domains,
        &tx,
        events::CREATED,
        created.clone(),
    )
    .await?;
    tx.commit().await?;
    // A cached "not found" for the slug is forgotten; the jobs may start.
    links.cache.invalidate(&created.domain, &created.slug).await;
    state.jobs.wake();
    Ok(Created::New(created))
}

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
    Ok(match create_link(&state, &links, user.id, valid).await? {
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
    })
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
    let mut check = Check {
        v: &mut v,
        at: "",
        domains: &links.domains,
    };
    let target = input.target_url.as_deref().map(|t| check.target(t));
    let slug = input.slug.as_deref().map(|s| check.slug(s));
    let domain = input.domain.as_ref().map(|d| check.domain(d.as_deref()));
    let title = input
        .title
        .clone()
        .map(|t| t.and_then(|t| check.title(&t)).filter(|t| !t.is_empty()));
    let tags = input.tags.as_deref().map(|t| check.tags(t));
    let status = input.redirect_status.map(|s| check.redirect_status(s));
    let password = input
        .password
        .clone()
        .map(|p| p.and_then(|p| check.password(&p)));
    let max_clicks = input.max_clicks.map(|m| m.map(|m| check.max_clicks(m)));
    let valid_from = input.valid_from.unwrap_or(current.valid_from);
    let valid_until = input.valid_until.unwrap_or(current.valid_until);
    check.validity(valid_from, valid_until);
    let rules = input.rules.as_deref().map(|r| check.rules(r));
    v.finish()?;

    let (old_domain, old_slug) = (current.domain.clone(), current.slug.clone());
    // A new target, or new rules (each with a target), is checked again before it is live:
    // otherwise a link checked once could be pointed anywhere afterwards.
    let target = target
        .flatten()
        .filter(|t| t.as_str() != current.target_url);
    let recheck = (target.is_some() || rules.is_some()) && links.enrichment.checks_safety();
    let mut changes = current.into_active_model();
    if let Some(target) = target {
        changes.target_url = Set(target.into_inner());
    }
    if recheck {
        changes.safety = Set(Safety::Pending);
    }
    if let Some(Some(slug)) = slug {
        changes.slug = Set(slug.into_inner());
    }
    if let Some(Some(domain)) = domain {
        changes.domain = Set(domain);
    }
    if let Some(title) = title {
        changes.title = Set(title);
    }
    if let Some(Some(status)) = status {
        changes.redirect_status = Set(status.code() as i16);
    }
    if let Some(forward) = input.forward_query {
        changes.forward_query = Set(forward);
    }
    if let Some(password) = password {
        changes.password_hash = Set(hash_link_password(password).await?);
    }
    if let Some(max_clicks) = max_clicks {
        changes.max_clicks = Set(max_clicks.flatten());
    }
    changes.valid_from = Set(valid_from);
    changes.valid_until = Set(valid_until);
    changes.updated_at = Set(Utc::now());

    let tx = state.db.begin().await?;
    let updated = changes
        .update(&tx)
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict(_) => AppError::conflict("slug", "is already taken"),
            other => other,
        })?;
    if let Some(tags) = tags {
        store::set_tags(&tx, user.id, id, &tags).await?;
    }
    if let Some(rules) = rules {
        store::set_rules(&tx, id, &rules).await?;
    }
    if recheck {
        links.enrichment.recheck(&tx, updated.id).await?;
    }
    events::plan_expiry(&state, &tx, &updated).await?;
    events::emit(
        &state.webhooks,
        &links.domains,
        &tx,
        events::UPDATED,
        updated.clone(),
    )
    .await?;
    tx.commit().await?;
    links.cache.invalidate(&old_domain, &old_slug).await;
    links.cache.invalidate(&updated.domain, &updated.slug).await;
    state.jobs.wake();
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
    let tx = state.db.begin().await?;
    events::emit(
        &state.webhooks,
        &links.domains,
        &tx,
        events::DELETED,
        found.clone(),
    )
    .await?;
    link::Entity::delete_by_id(found.id).exec(&tx).await?;
    tx.commit().await?;
    links.cache.invalidate(&found.domain, &found.slug).await;
    state.jobs.wake();
    Ok(StatusCode::NO_CONTENT)
}
