//! `GET /{slug}`: the hot path. One cache lookup, a few comparisons, the click handed to
//! the writer's queue as a small record, and the answer. No database round trip on a
//! cache hit, no per-request log line (the stored click is the access record; errors are
//! still logged), and metrics cost an atomic add.

use std::{
    net::{IpAddr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    extract::{ConnectInfo, Path, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header, request::Parts},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use chrono::Utc;
use serde::Deserialize;

use platform::{
    Config,
    auth::rate_limit::GuessLimiter,
    error::Problem,
    http::{
        Form,
        page::{escape, page, wants_html},
        security::PAGE_CSP,
    },
    shared::Shared,
};

use crate::{
    LinksState, Settings,
    cache::CachedLink,
    clicks::{ClickEvent, OrphanVisit, Texts, first_chars},
    model::{OrphanKind, RuleKind, Slug, network_holds},
    useragent,
};

/// Wrong link passwords allowed before 429, in fixed windows of `login_window_secs`: per
/// link and address (`login_failures_per_account`) and per address over every link
/// (`login_failures_per_ip`), as for sign-ins. A link password is a shared secret that
/// anyone can guess at, and every guess costs the server an Argon2 hash. Nothing counts per
/// link alone: anyone could then lock a link for all its visitors with a few wrong tries.
pub fn password_guesses(config: &Config, shared: &Shared) -> GuessLimiter {
    GuessLimiter::new(
        "link-password",
        config.login_failures_per_account,
        config.login_failures_per_ip,
        Duration::from_secs(config.login_window_secs),
        shared,
    )
}

/// Redirects served, by outcome; read by `/metrics`.
#[derive(Default)]
pub struct RedirectCounters {
    pub redirected: AtomicU64,
    pub not_found: AtomicU64,
    pub gone: AtomicU64,
}

pub fn router(links: Arc<LinksState>) -> Router {
    let mut router = Router::new()
        .route("/robots.txt", get(robots))
        .route("/{slug}", get(follow).post(unlock))
        // Some tools add a trailing slash to an address they are given.
        .route("/{slug}/", get(follow).post(unlock))
        .route("/{slug}/track", get(pixel));
    if links.settings.track_orphan_visits
        || links.settings.root_redirect.is_some()
        || !links.settings.domain_root_redirects.is_empty()
    {
        router = router.route("/", get(root));
    }
    router.with_state(links)
}

/// What answers the paths no route knows: the platform's 404, after keeping a visit outside
/// the API as an orphan visit (`regular_404`) when `links.track_orphan_visits` says so.
pub fn unknown_paths(links: Arc<LinksState>) -> Router {
    if !links.settings.track_orphan_visits {
        return Router::new().fallback(platform::server::not_found);
    }
    Router::new().fallback(unknown_path).with_state(links)
}

/// A path no route knows (`/wp-admin/setup.php`, `/a-slug/more`). A call to the API that
/// went wrong is a client's mistake, not a visit: only other paths are kept.
async fn unknown_path(State(links): State<Arc<LinksState>>, request: Request) -> Response {
    let (request, _) = request.into_parts();
    let path = request.uri.path();
    if request.method == Method::GET && !path.starts_with("/api/") {
        let domain = links.domains.of_request(&request.uri, &request.headers);
        let path = path.trim_start_matches('/');
        orphan(&links, OrphanKind::Regular404, domain, Some(path), &request).await;
    }
    platform::server::not_found(request.uri, request.headers).await
}

/// A temporary redirect to one of the configured addresses (`links.root_redirect`,
/// `links.invalid_redirect`), which may change: not cached, not counted as a click.
fn elsewhere(url: &str) -> Response {
    match HeaderValue::from_str(url) {
        Ok(location) => (
            StatusCode::FOUND,
            [
                (header::LOCATION, location),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        // Checked at start (`Settings::from_config`), so never here.
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `/`: the domain's root redirect (`links.domain_root_redirects`, else
/// `links.root_redirect`), or the 404 any unknown path gets. Recorded as an orphan visit.
async fn root(State(links): State<Arc<LinksState>>, request: Request) -> Response {
    let (request, _) = request.into_parts();
    let domain = links.domains.of_request(&request.uri, &request.headers);
    orphan(&links, OrphanKind::BaseUrl, domain, None, &request).await;
    match links.settings.root_redirect_for(domain) {
        Some(url) => elsewhere(url),
        None => platform::server::not_found(request.uri, request.headers).await,
    }
}

/// Records a visit that reached no link, as `links.track_orphan_visits` says; not for HEAD
/// (a link checker) nor for the visitors kept out of the statistics.
async fn orphan(
    links: &LinksState,
    kind: OrphanKind,
    domain: &str,
    slug: Option<&str>,
    request: &Parts,
) {
    if !links.settings.track_orphan_visits || request.method == Method::HEAD {
        return;
    }
    let ip = links
        .client_addresses
        .of(&request.headers, &request.extensions);
    let query = request.uri.query();
    if untracked(&links.settings, ip, query) {
        return;
    }
    let visit = OrphanVisit {
        kind,
        domain: domain.into(),
        // What the column holds: a path can be longer than any slug.
        slug: slug.map(|s| first_chars(s, 255).into()),
        event: click(links, 0, &request.headers, ip, query),
    };
    links.clicks.record_orphan(visit).await;
}

/// The answer for a slug that leads nowhere on `domain`: its invalid redirect
/// (`links.domain_invalid_redirects`, else `links.invalid_redirect`) when it has one, else
/// why, with `status` (404 or 410): a page for a browser, a problem for any other client.
fn nowhere(
    links: &LinksState,
    domain: &str,
    headers: &HeaderMap,
    status: StatusCode,
    title: &str,
    text: &str,
) -> Response {
    match links.settings.invalid_redirect_for(domain) {
        Some(url) => elsewhere(url),
        None if wants_html(headers) => page(status, title, text),
        None => {
            let mut problem = Problem::new(status);
            problem.detail = Some(text.to_owned());
            problem.into_response()
        }
    }
}

/// Crawlers are asked to leave the short links alone, as Shlink asks them by default: a
/// short link is not a page of its own (a search engine would list the short address in
/// place of its target), and every crawl of one would be a click to record, then to leave
/// out of the statistics as a bot's.
async fn robots() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=86400")],
        "User-agent: *\nDisallow: /\n",
    )
}

/// Takes the request whole and borrows from it: extractors such as `HeaderMap` or
/// `Path<String>` would copy the headers and the slug for every redirect.
async fn follow(State(links): State<Arc<LinksState>>, request: Request) -> Response {
    // Only the head: the body is not read, and not held across the awaits below.
    let (request, _) = request.into_parts();
    // The route is `/{slug}` or `/{slug}/`, and slugs are `[A-Za-z0-9_-]`, never
    // percent-encoded.
    let slug = request.uri.path().trim_matches('/');
    let domain = links.domains.of_request(&request.uri, &request.headers);
    if let Some(slug) = slug.strip_suffix('+') {
        return preview(&links, domain, slug, &request.headers).await;
    }
    let link = match resolve(&links, domain, slug, &request.headers).await {
        Ok(link) => link,
        Err(response) => {
            // A slug that leads nowhere, not a lookup that failed. A path no link can have
            // (`favicon.ico`, `wp-login.php`, a reserved word) is not a broken short link
            // but any other unknown path.
            if !response.status().is_server_error() {
                let kind = if Slug::is_valid(slug) {
                    OrphanKind::InvalidShortUrl
                } else {
                    OrphanKind::Regular404
                };
                orphan(&links, kind, domain, Some(slug), &request).await;
            }
            return response;
        }
    };
    if link.password_hash.is_some() {
        return password_form(slug, None, StatusCode::OK);
    }
    let ip = links
        .client_addresses
        .of(&request.headers, &request.extensions);
    // HEAD is a link checker or a preview, not a visit.
    let record = request.method != Method::HEAD;
    let query = request.uri.query();
    go(&links, domain, &link, query, &request.headers, ip, record).await
}

/// `/{slug}+`: where a link goes, shown rather than followed, as TinyURL's and Bitly's
/// previews (`+` is never part of a slug). For a visitor who wants to know before going;
/// nothing is counted. A password link keeps its target to itself.
async fn preview(links: &LinksState, domain: &str, slug: &str, headers: &HeaderMap) -> Response {
    let link = match resolve(links, domain, slug, headers).await {
        Ok(link) => link,
        Err(response) => return response,
    };
    if link.password_hash.is_some() {
        return page(
            StatusCode::OK,
            "This link is protected",
            "It asks for a password before it says where it goes.",
        );
    }
    let target = escape(&link.target);
    let rules = if link.rules.is_empty() {
        ""
    } else {
        "</p><p>Some visitors are sent elsewhere, by their device, country, language, \
         address or the link's query."
    };
    page(
        StatusCode::OK,
        "Where this link goes",
        &format!(
            "This short link goes to <a href=\"{target}\" rel=\"noreferrer nofollow\">\
             {target}</a>.{rules}"
        ),
    )
}

#[derive(Deserialize)]
struct Unlock {
    password: String,
}

/// The password form posts here; the right password gets a 303 to the target.
async fn unlock(
    State(links): State<Arc<LinksState>>,
    Path(slug): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    Form(form): Form<Unlock>,
) -> Response {
    let domain = links.domains.of_request(&uri, &headers);
    let link = match resolve(&links, domain, &slug, &headers).await {
        Ok(link) => link,
        Err(response) => return response,
    };
    let ip = links.client_addresses.of_peer(&headers, Some(peer));
    let Some(hash) = link.password_hash.clone() else {
        return go(&links, domain, &link, uri.query(), &headers, ip, true).await;
    };
    // Refused before hashing: a guesser past the limit costs us nothing more.
    if let Err(wait) = links.password_guesses.take(&link.id.to_string(), ip).await {
        tracing::warn!(slug, %ip, "link password refused: too many wrong tries");
        let minutes = wait.as_secs().div_ceil(60).max(1);
        let mut response = password_form(
            &slug,
            Some(&format!(
                "Too many wrong passwords. Try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            )),
            StatusCode::TOO_MANY_REQUESTS,
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(wait.as_secs().max(1)),
        );
        return response;
    }
    match platform::auth::password::verify(form.password.into(), hash).await {
        Ok(true) => {
            links
                .password_guesses
                .passed(&link.id.to_string(), ip)
                .await;
            let mut response = go(&links, domain, &link, uri.query(), &headers, ip, true).await;
            if response.status().is_redirection() {
                // After a form POST, only 303 makes every browser GET the target.
                *response.status_mut() = StatusCode::SEE_OTHER;
            }
            response
        }
        Ok(false) => password_form(
            &slug,
            Some("That password is not right."),
            StatusCode::UNAUTHORIZED,
        ),
        Err(err) => err.into_response(),
    }
}

/// The live link behind `slug` on `domain`, or the page to answer instead.
async fn resolve(
    links: &LinksState,
    domain: &str,
    slug: &str,
    headers: &HeaderMap,
) -> Result<Arc<CachedLink>, Response> {
    // What no link can have is not looked up, nor remembered as "not found": the cache
    // holds only slug-shaped keys (at most 64 bytes), whatever paths a client makes up.
    let found = if Slug::is_valid(slug) {
        links
            .cache
            .get(&links.db, domain, slug)
            .await
            .map_err(|err| {
                tracing::error!(error = %err, domain, slug, "redirect lookup failed");
                err.into_response()
            })?
    } else {
        None
    };
    let now = Utc::now();
    match found {
        Some(link) if link.live && link.valid_from.is_none_or(|from| from <= now) => {
            if link.valid_until.is_some_and(|until| until <= now) || link.exhausted() {
                links.counters.gone.fetch_add(1, Ordering::Relaxed);
                return Err(nowhere(
                    links,
                    domain,
                    headers,
                    StatusCode::GONE,
                    "This link has expired",
                    "It is no longer available.",
                ));
            }
            Ok(link)
        }
        _ => {
            links.counters.not_found.fetch_add(1, Ordering::Relaxed);
            Err(nowhere(
                links,
                domain,
                headers,
                StatusCode::NOT_FOUND,
                "Link not found",
                "There is no link at this address.",
            ))
        }
    }
}

async fn go(
    links: &LinksState,
    domain: &str,
    link: &CachedLink,
    query: Option<&str>,
    headers: &HeaderMap,
    ip: IpAddr,
    record: bool,
) -> Response {
    // An uncounted visit (see `links.untracked_addresses`) does not use up `max_clicks`.
    let record = record && !untracked(&links.settings, ip, query);
    let within = !record || link.take_click();
    if record
        && link.reached_limit()
        && let Some(max_clicks) = link.max_clicks
    {
        crate::events::clicks_used_up(&links.jobs, &links.db, link.id, max_clicks).await;
    }
    if !within {
        links.counters.gone.fetch_add(1, Ordering::Relaxed);
        return nowhere(
            links,
            domain,
            headers,
            StatusCode::GONE,
            "This link has expired",
            "It has been used as many times as allowed.",
        );
    }
    let header = |name: &header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let target = choose_target(
        links,
        link,
        header(&header::USER_AGENT),
        header(&header::ACCEPT_LANGUAGE),
        headers,
        ip,
        query,
    );
    let location = match (link.forward_query, query) {
        (true, Some(q)) if !q.is_empty() => append_query(target, q),
        _ => target.to_owned(),
    };
    let Ok(location) = HeaderValue::from_str(&location) else {
        tracing::error!(
            link_id = link.id,
            "stored target is not a valid header value"
        );
        return page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Broken link",
            "This link's target is not valid.",
        );
    };
    if record {
        links
            .clicks
            .record(click(links, link.id, headers, ip, query))
            .await;
    }
    links.counters.redirected.fetch_add(1, Ordering::Relaxed);
    (
        link.status,
        [
            (header::LOCATION, location),
            // Not cached by browsers or proxies, so that every visit is counted.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=0"),
            ),
        ],
    )
        .into_response()
}

/// The click to record for a visit of the link `link_id`.
fn click(
    links: &LinksState,
    link_id: i64,
    headers: &HeaderMap,
    ip: IpAddr,
    query: Option<&str>,
) -> ClickEvent {
    let header = |name: &header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    ClickEvent::new(
        link_id,
        Utc::now(),
        ip,
        Texts {
            user_agent: header(&header::USER_AGENT),
            referrer: header(&header::REFERER),
            accept_language: header(&header::ACCEPT_LANGUAGE),
            country_header: links
                .geo
                .header()
                .and_then(|h| headers.get(h))
                .and_then(|v| v.to_str().ok()),
            query,
        },
    )
}

/// A transparent GIF of one pixel, the smallest image every mail client shows.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// `/{slug}/track`: counts a visit and answers a transparent pixel instead of a redirect,
/// as Shlink's tracking pixel: for an email or a page that shows the link's reach without
/// a click. Whatever the link's state the answer is the same pixel (an image that fails to
/// load would show as broken), but only a live link without a password is counted: a
/// password link's `max_clicks` must not be used up by someone who does not know it.
async fn pixel(State(links): State<Arc<LinksState>>, request: Request) -> Response {
    let (request, _) = request.into_parts();
    let path = request.uri.path().trim_start_matches('/');
    let slug = path.strip_suffix("/track").unwrap_or(path);
    let domain = links.domains.of_request(&request.uri, &request.headers);
    if let Ok(link) = resolve(&links, domain, slug, &request.headers).await
        && link.password_hash.is_none()
    {
        let ip = links
            .client_addresses
            .of(&request.headers, &request.extensions);
        let query = request.uri.query();
        // HEAD is a link checker, as for the redirect.
        let record = request.method != Method::HEAD && !untracked(&links.settings, ip, query);
        if record && link.take_click() {
            let event = click(&links, link.id, &request.headers, ip, query);
            links.clicks.record(event).await;
        }
    }
    (
        [
            (header::CONTENT_TYPE, "image/gif"),
            // Every view is a request, so every view is counted.
            (header::CACHE_CONTROL, "no-store"),
        ],
        PIXEL,
    )
        .into_response()
}

/// The first rule that matches the visitor, else the link's own target.
fn choose_target<'a>(
    links: &LinksState,
    link: &'a CachedLink,
    user_agent: Option<&str>,
    accept_language: Option<&str>,
    headers: &HeaderMap,
    ip: std::net::IpAddr,
    query: Option<&str>,
) -> &'a str {
    if link.rules.is_empty() {
        return &link.target;
    }
    // Computed only if a rule asks for it.
    let mut device = None;
    let mut country = None;
    let mut language = None;
    for rule in &link.rules {
        let matches = match rule.kind {
            RuleKind::Device => {
                let d = *device.get_or_insert_with(|| {
                    useragent::rule_device(&useragent::classify(user_agent.unwrap_or("")))
                });
                d == rule.value
            }
            RuleKind::Country => {
                country
                    .get_or_insert_with(|| {
                        let hint = links
                            .geo
                            .header()
                            .and_then(|h| headers.get(h))
                            .and_then(|v| v.to_str().ok());
                        links.geo.country(hint, ip)
                    })
                    .as_deref()
                    == Some(rule.value.as_str())
            }
            RuleKind::Language => {
                language
                    .get_or_insert_with(|| {
                        accept_language.and_then(crate::referrer::primary_language)
                    })
                    .as_deref()
                    == Some(rule.value.as_str())
            }
            RuleKind::Query => has_parameter(query, &rule.value),
            RuleKind::Ip => rule.network.is_some_and(|net| network_holds(&net, ip)),
        };
        if matches {
            return &rule.target;
        }
    }
    &link.target
}

/// Whether a visit is left uncounted: from one of `links.untracked_addresses`, or with
/// `links.untracked_param` in its query. Costs nothing when neither is set.
fn untracked(settings: &Settings, ip: IpAddr, query: Option<&str>) -> bool {
    settings
        .untracked_networks
        .iter()
        .any(|network| network_holds(network, ip))
        || settings
            .untracked_param
            .as_deref()
            .is_some_and(|name| has_parameter(query, name))
}

/// Whether `query` (the request's, as sent) has the parameter a query rule asks for:
/// `name=value`, or `name` with any value. Both sides are compared decoded, so the rule
/// `q=a%20b` matches `?q=a+b` too.
fn has_parameter(query: Option<&str>, wanted: &str) -> bool {
    use url::form_urlencoded::parse;
    let Some((name, value)) = parse(wanted.as_bytes()).next() else {
        return false;
    };
    let any_value = !wanted.contains('=');
    parse(query.unwrap_or_default().as_bytes()).any(|(n, v)| n == name && (any_value || v == value))
}

/// `https://t.example/p?a=1` + `utm_source=x` -> `https://t.example/p?a=1&utm_source=x`,
/// keeping any `#fragment` last.
fn append_query(target: &str, query: &str) -> String {
    let (base, fragment) = match target.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (target, None),
    };
    let separator = if base.contains('?') { '&' } else { '?' };
    let mut url = format!("{base}{separator}{query}");
    if let Some(fragment) = fragment {
        url.push('#');
        url.push_str(fragment);
    }
    url
}

fn password_form(slug: &str, error: Option<&str>, status: StatusCode) -> Response {
    // The slug is [A-Za-z0-9_-] (see `Slug::parse`), so it needs no HTML escaping.
    let error = error
        .map(|e| format!("<p role=\"alert\" style=\"color:#b00\">{e}</p>"))
        .unwrap_or_default();
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width\"><title>Password required</title></head><body style=\"\
         font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem\">\
         <h1>This link is protected</h1>{error}<form method=\"post\" action=\"/{slug}\">\
         <label>Password <input type=\"password\" name=\"password\" required autofocus></label> \
         <button type=\"submit\">Continue</button></form></body></html>"
    );
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
        ],
        Html(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_rules_match_a_parameter_by_name_or_by_name_and_value() {
        let query = Some("utm_source=news+letter&ref&x=1");
        assert!(has_parameter(query, "utm_source=news%20letter"));
        assert!(has_parameter(query, "utm_source"));
        assert!(has_parameter(query, "ref"));
        assert!(has_parameter(query, "ref="));
        assert!(!has_parameter(query, "utm_source=news"));
        assert!(!has_parameter(query, "x=2"));
        assert!(!has_parameter(query, "utm_medium"));
        assert!(!has_parameter(None, "ref"));
    }

    #[test]
    fn query_forwarding_keeps_the_fragment_last() {
        assert_eq!(
            append_query("https://t.example/p", "a=1"),
            "https://t.example/p?a=1"
        );
        assert_eq!(
            append_query("https://t.example/p?x=2", "a=1"),
            "https://t.example/p?x=2&a=1"
        );
        assert_eq!(
            append_query("https://t.example/p?x=2#top", "a=1"),
            "https://t.example/p?x=2&a=1#top"
        );
    }
}
