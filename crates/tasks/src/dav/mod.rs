//! CalDAV for the tasks app: each project is a calendar collection of VTODOs, so that
//! Thunderbird, Apple Reminders, Evolution and Tasks.org (through DAVx5) can sync with it.
//!
//! This module is only the protocol: HTTP methods, WebDAV/CalDAV XML, URLs and status codes.
//! Storage is behind [`CalendarStore`] (see [`store`] for what an implementation must get
//! right: ETags, sync tokens, ownership). [`router`] serves it all.
//!
//! # URLs
//!
//! | path | resource |
//! | --- | --- |
//! | `/.well-known/caldav` | 301 (GET, HEAD) or 307 (PROPFIND…) to `/dav/` (RFC 6764 §5) |
//! | `/dav/` | root; `current-user-principal` is asked here (RFC 5397) |
//! | `/dav/principals/{user}/` | the principal: `calendar-home-set`, `calendar-user-address-set` |
//! | `/dav/calendars/{user}/` | calendar home: one member per project |
//! | `/dav/calendars/{user}/{project}/` | calendar collection (RFC 4791 §4.2) |
//! | `/dav/calendars/{user}/{project}/{name}` | one task, `text/calendar` |
//!
//! Another user's home, principal, calendar or task is 404, never 403. The router must be
//! merged at the root of the app (hrefs are absolute paths starting with `/dav/`).
//!
//! Why 307 for PROPFIND: on a 301, Python `requests`/`niquests` (the `caldav` library) keep
//! the PROPFIND but drop its body, so the request turns into `allprop`, which does not carry
//! `current-user-principal` (RFC 5397 §3), and discovery silently ends on the well-known URL
//! with no calendars (observed with caldav 3.6.0). 307 and 308 both keep method and body
//! (RFC 9110 §15.4.8, §15.4.9); 307 is the one RFC 6764 §5 lists and every HTTP/1.1 client
//! knows (308 is from 2015), so it is the safer choice for older Apple and Android stacks.
//! The root URL to give users is `https://host/` (clients try the well-known URL) or
//! `https://host/dav/`; this router does not claim `/` itself, which belongs to the app.
//!
//! # Authentication
//!
//! HTTP Basic (RFC 7617) on every request except OPTIONS and the well-known redirect;
//! failure is 401 with `WWW-Authenticate: Basic realm="Capstone", charset="UTF-8"`.
//!
//! # Methods
//!
//! * `OPTIONS`: `DAV: 1, 3, calendar-access` (RFC 4791 §5.1) and `Allow`, without auth.
//! * `PROPFIND` (RFC 4918 §9.1): `Depth: 0` and `1`; `infinity` is refused with 403
//!   `DAV:propfind-finite-depth`; a missing Depth is taken as 1 (as sabre/dav and so
//!   Nextcloud do; clients that omit it expect members). Empty body = `allprop`; `propname`
//!   supported. Unknown properties land in a 404 propstat.
//! * `REPORT` on a calendar (RFC 4791 §7.8, §7.9; RFC 6578 §3.2):
//!   * `calendar-query`: comp-filter / prop-filter / param-filter / text-match (collations
//!     `i;octet`, `i;ascii-casemap`, `i;unicode-casemap`; others are 403
//!     `CALDAV:supported-collation`) / is-not-defined exactly; time-range leniently (see
//!     [`filter`]); a top filter other than VCALENDAR is 403 `CALDAV:valid-filter`. A
//!     VEVENT query finds nothing (Thunderbird asks every calendar). Depth is not needed
//!     (some clients send 0 on the collection: members are queried anyway). `calendar-data`
//!     sub-elements (`comp`, `expand`, `limit-recurrence-set`) are ignored: the whole
//!     object is returned, which RFC 4791 §9.6 permits for `comp` and clients accept for
//!     tasks.
//!   * `calendar-multiget`: hrefs as paths or absolute URLs; each found one is answered
//!     under the href the client sent; others 404.
//!   * `sync-collection`: empty token = initial sync; `sync-level` 1 (or `infinite`, the
//!     same here); `DAV:limit/DAV:nresults` → at most that many members, then a 507
//!     response for the collection and a token to continue (RFC 6578 §3.6; the store may
//!     also page on its own, see [`Changes::truncated`]); removed members as 404
//!     responses; an unknown or expired token is 403 `DAV:valid-sync-token`.
//!   * anything else is 403 `DAV:supported-report` (RFC 3253 §3.6).
//! * `GET`/`HEAD` on a task: `ETag`, `text/calendar; charset=utf-8`, 304 on a matching
//!   `If-None-Match`. On collections: 405.
//! * `PUT` on a task (RFC 4791 §5.3.2): `If-Match` (an ETag or `*`) and `If-None-Match: *`
//!   → 412 when they fail; 201 or 204, with `ETag` only when the store says the bytes were
//!   kept as sent. A Content-Type other than `text/calendar` → 415
//!   `CALDAV:supported-calendar-data`; unparsable iCalendar → 400 `CALDAV:valid-calendar-data`
//!   with the line in `<X:message>` (also for the store's `Invalid`); a VEVENT → 403
//!   `CALDAV:supported-calendar-component`; no or several UIDs → 400
//!   `CALDAV:valid-calendar-object-resource`; a UID used by another task → 409
//!   `CALDAV:no-uid-conflict` with its href; over 1 MiB → 413 (`CALDAV:max-resource-size`);
//!   a read-only project → 403 `DAV:need-privileges` (also for DELETE).
//! * `DELETE` on a task (`If-Match`) → 204. On a calendar → 403: projects are deleted in
//!   the app, not by a sync client.
//! * `PROPPATCH` on a calendar: `displayname`, `CALDAV:calendar-description` and Apple's
//!   `calendar-color` go to [`CalendarStore::update_calendar`] in one atomic call (its
//!   default refuses → 403 per property). Any other property is 403 and makes the others
//!   424 (RFC 4918 §9.2: all or nothing). On other resources every property is 403.
//! * `MKCALENDAR`/`MKCOL` (on `/dav/calendars/{user}/{any name}/`) → 403
//!   `CALDAV:calendar-collection-location-ok`: projects are made in the app. Any other
//!   method → 405 with `Allow` (no LOCK: compliance classes 1 and 3, not 2).
//!
//! Request bodies are capped at 1 MiB (413 beyond). A request refused before its body is
//! read (401, 404) still has the body read away, or hyper closes the keep-alive connection
//! under the client's authenticated retry. Multi-status answers are
//! `207 application/xml; charset=utf-8`.
//!
//! # Components
//!
//! Collections advertise `supported-calendar-component-set` = VTODO only. That is what makes
//! Apple file a project under Reminders (not Calendar), DAVx5 offer it for task sync (to
//! Tasks.org / jtx) and not for events, and Thunderbird/Evolution make it a task list.
//! Listing VEVENT as well would make those clients offer the project as an event calendar
//! and then fail on every event PUT (403 `supported-calendar-component`), so it is not
//! listed. A collection with no such property is taken to accept everything, so the
//! property must be there.
//!
//! # Files
//!
//! `mod.rs` (this: routing, handlers), [`store`] (the trait and its types), [`xml`] (request
//! parsing, multistatus and error writing), [`props`] (which resource answers which
//! property), [`filter`] (calendar-query evaluation and the minimal iCalendar reader it
//! and the PUT checks share).

pub mod filter;
pub mod props;
pub mod store;
pub mod xml;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use percent_encoding::percent_decode_str;

use self::filter::BodyProblem;
use self::props::{Resource, calendar_href, object_href};
pub use self::store::{
    CalendarInfo, CalendarPatch, CalendarStore, Changes, ObjectInfo, Principal, Put, StoreError,
};
use self::xml::{CALDAV, DAV, Multistatus, Name, Node, PropRequest, Report, Value};

/// Largest request body read (PUT, PROPFIND, REPORT…): 413 beyond.
pub const MAX_BODY: usize = 1 << 20;

const DAV_HEADER: &str = "1, 3, calendar-access";
const XML_TYPE: &str = "application/xml; charset=utf-8";

/// The CalDAV endpoint: `/.well-known/caldav` and everything under `/dav/`.
pub fn router<S: CalendarStore>(store: S) -> Router {
    Router::new()
        .route("/.well-known/caldav", any(well_known))
        .route("/dav", any(handle::<S>))
        .route("/dav/", any(handle::<S>))
        .route("/dav/{*rest}", any(handle::<S>))
        .with_state(store)
}

/// RFC 6764 §5. GET/HEAD get a 301; every other method (PROPFIND first of all) a 307,
/// which keeps the method *and the body* (see the module docs for why not 301 or 308).
async fn well_known(method: Method) -> Response {
    let code = if method == Method::GET || method == Method::HEAD {
        StatusCode::MOVED_PERMANENTLY
    } else {
        StatusCode::TEMPORARY_REDIRECT
    };
    (code, [(header::LOCATION, props::ROOT)]).into_response()
}

/// What a request path names (already percent-decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Root,
    Principals,
    Calendars,
    Principal(i64),
    Home(i64),
    Calendar(i64, i64),
    Object(i64, i64, String),
    /// `/dav/calendars/{user}/{not a number}/`: only meaningful to MKCALENDAR/MKCOL (403);
    /// 404 for everything else.
    NewCollection(i64),
}

impl Target {
    fn parse(path: &str) -> Option<Target> {
        let rest = path.strip_prefix("/dav")?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        let trailing = rest.ends_with('/');
        let segs = rest
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_decode_str(s)
                    .decode_utf8()
                    .ok()
                    .map(|c| c.into_owned())
            })
            .collect::<Option<Vec<String>>>()?;
        let id = |s: &String| s.parse::<i64>().ok();
        let segs: Vec<&String> = segs.iter().collect();
        Some(match segs.as_slice() {
            [] => Target::Root,
            [p] if *p == "principals" => Target::Principals,
            [c] if *c == "calendars" => Target::Calendars,
            [p, u] if *p == "principals" => Target::Principal(id(u)?),
            [c, u] if *c == "calendars" => Target::Home(id(u)?),
            [c, u, k] if *c == "calendars" => match id(k) {
                Some(k) => Target::Calendar(id(u)?, k),
                None => Target::NewCollection(id(u)?),
            },
            [c, u, k, name] if *c == "calendars" && !trailing => {
                Target::Object(id(u)?, id(k)?, (*name).clone())
            }
            _ => return None,
        })
    }

    fn user(&self) -> Option<i64> {
        match self {
            Target::Principal(u) | Target::Home(u) | Target::NewCollection(u) => Some(*u),
            Target::Calendar(u, _) | Target::Object(u, _, _) => Some(*u),
            _ => None,
        }
    }

    fn allow(&self) -> &'static str {
        match self {
            Target::Object(..) => "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, REPORT",
            Target::Calendar(..) => "OPTIONS, PROPFIND, PROPPATCH, REPORT, DELETE",
            Target::NewCollection(_) => "OPTIONS",
            _ => "OPTIONS, PROPFIND, PROPPATCH",
        }
    }
}

async fn handle<S: CalendarStore>(State(store): State<S>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let (target, who) = match admit(&store, &parts).await {
        Ok(admitted) => admitted,
        Err(refusal) => {
            // Read the unread body away so that the connection stays usable: clients send
            // their first request without credentials and retry on the same connection.
            drain(body).await;
            return refusal;
        }
    };
    let body = match read_body(body, &parts.headers).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let h = &parts.headers;
    let s = &store;
    let result = match parts.method.as_str() {
        "PROPFIND" => propfind(s, &who, &target, h, &body).await,
        "REPORT" => report(s, &who, &target, &body).await,
        "GET" | "HEAD" => get(s, &who, &target, h, parts.method == Method::HEAD).await,
        "PUT" => put(s, &who, &target, h, &body).await,
        "DELETE" => delete(s, &who, &target, h).await,
        "PROPPATCH" => proppatch(s, &who, &target, &body).await,
        "MKCALENDAR" | "MKCOL" => Ok(error(
            StatusCode::FORBIDDEN,
            &[Node::empty(CALDAV, "calendar-collection-location-ok")],
            Some("projects are created in Capstone, not over CalDAV"),
        )),
        _ => Ok(method_not_allowed(&target)),
    };
    result.unwrap_or_else(|e| e)
}

/// Path, OPTIONS, authentication and ownership: what is decided before the body is read.
async fn admit<S: CalendarStore>(
    store: &S,
    parts: &axum::http::request::Parts,
) -> Result<(Target, Principal), Response> {
    let target = Target::parse(parts.uri.path()).ok_or_else(|| status(StatusCode::NOT_FOUND))?;
    if parts.method == Method::OPTIONS {
        return Err((
            StatusCode::OK,
            [
                (header::HeaderName::from_static("dav"), DAV_HEADER),
                (header::ALLOW, target.allow()),
                (header::CONTENT_LENGTH, "0"),
            ],
        )
            .into_response());
    }
    let Some(who) = store.authenticate(parts).await else {
        return Err((
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                r#"Basic realm="Capstone", charset="UTF-8""#,
            )],
            "authentication required\n",
        )
            .into_response());
    };
    let creating = matches!(parts.method.as_str(), "MKCALENDAR" | "MKCOL");
    if target.user().is_some_and(|u| u != who.user_id)
        || (matches!(target, Target::NewCollection(_)) && !creating)
    {
        return Err(status(StatusCode::NOT_FOUND));
    }
    Ok((target, who))
}

/// Discards up to [`MAX_BODY`] bytes of a body nobody will read.
async fn drain(mut body: Body) {
    let mut seen = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        seen += frame.data_ref().map_or(0, |d| d.len());
        if seen > MAX_BODY {
            break;
        }
    }
}

type Handled = Result<Response, Response>;

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

async fn propfind<S: CalendarStore>(
    store: &S,
    who: &Principal,
    target: &Target,
    headers: &HeaderMap,
    body: &[u8],
) -> Handled {
    let depth = match headers
        .get("depth")
        .map(|v| v.to_str().unwrap_or("?").trim())
    {
        None | Some("1") => 1,
        Some("0") => 0,
        Some(d) if d.eq_ignore_ascii_case("infinity") => {
            return Err(error(
                StatusCode::FORBIDDEN,
                &[Node::empty(DAV, "propfind-finite-depth")],
                None,
            ));
        }
        Some(_) => return Err(status(StatusCode::BAD_REQUEST)),
    };
    let req = xml::parse_propfind(body).map_err(bad_xml)?;
    let wants_data = req.wants(CALDAV, "calendar-data");
    let mut ms = Multistatus::new();
    let one = |ms: &mut Multistatus, res: Resource| {
        ms.response(&res.href(who), &props::propstats(&res, who, &req));
    };
    match target {
        Target::Root => {
            one(&mut ms, Resource::Root);
            if depth == 1 {
                one(&mut ms, Resource::Principals);
                one(&mut ms, Resource::Calendars);
            }
        }
        Target::Principals => {
            one(&mut ms, Resource::Principals);
            if depth == 1 {
                one(&mut ms, Resource::Principal);
            }
        }
        Target::Calendars => {
            one(&mut ms, Resource::Calendars);
            if depth == 1 {
                one(&mut ms, Resource::Home);
            }
        }
        Target::Principal(_) => one(&mut ms, Resource::Principal),
        Target::NewCollection(_) => return Err(status(StatusCode::NOT_FOUND)),
        Target::Home(_) => {
            one(&mut ms, Resource::Home);
            if depth == 1 {
                for c in store.calendars(who).await.map_err(store_error)? {
                    one(&mut ms, Resource::Calendar(&c));
                }
            }
        }
        Target::Calendar(_, id) => {
            let cal = store.calendar(who, *id).await.map_err(store_error)?;
            one(&mut ms, Resource::Calendar(&cal));
            if depth == 1 {
                let objects = store.objects(who, *id).await.map_err(store_error)?;
                if wants_data {
                    let names: Vec<String> = objects.into_iter().map(|o| o.name).collect();
                    for (info, ics) in store
                        .get_many(who, *id, &names)
                        .await
                        .map_err(store_error)?
                    {
                        one(&mut ms, object(&cal, &info, Some(&ics)));
                    }
                } else {
                    for info in &objects {
                        one(&mut ms, object(&cal, info, None));
                    }
                }
            }
        }
        Target::Object(_, id, name) => {
            let cal = store.calendar(who, *id).await.map_err(store_error)?;
            let (info, ics) = store.get(who, *id, name).await.map_err(store_error)?;
            one(&mut ms, object(&cal, &info, Some(&ics)));
        }
    }
    Ok(multistatus(ms))
}

fn object<'a>(cal: &'a CalendarInfo, info: &'a ObjectInfo, ics: Option<&'a str>) -> Resource<'a> {
    Resource::Object {
        calendar: cal,
        info,
        ics,
    }
}

async fn report<S: CalendarStore>(
    store: &S,
    who: &Principal,
    target: &Target,
    body: &[u8],
) -> Handled {
    let report = xml::parse_report(body).map_err(bad_xml)?;
    let Target::Calendar(_, id) = target else {
        return Err(unsupported_report());
    };
    let cal = store.calendar(who, *id).await.map_err(store_error)?;
    match report {
        Report::CalendarQuery { props, filter } => {
            calendar_query(store, who, &cal, &props, &filter).await
        }
        Report::Multiget { props, hrefs } => multiget(store, who, &cal, &props, &hrefs).await,
        Report::SyncCollection {
            token,
            level,
            limit,
            props,
        } => {
            if level != "1" && level != "infinite" {
                return Err(status(StatusCode::BAD_REQUEST));
            }
            sync_collection(store, who, &cal, &token, limit, &props).await
        }
        Report::Other(_) => Err(unsupported_report()),
    }
}

/// RFC 4791 §7.8.
async fn calendar_query<S: CalendarStore>(
    store: &S,
    who: &Principal,
    cal: &CalendarInfo,
    props: &PropRequest,
    filter: &filter::CompFilter,
) -> Handled {
    if filter.name != "VCALENDAR" {
        return Err(error(
            StatusCode::FORBIDDEN,
            &[Node::empty(CALDAV, "valid-filter")],
            Some("the top comp-filter must be VCALENDAR"),
        ));
    }
    let objects = store.objects(who, cal.id).await.map_err(store_error)?;
    let mut ms = Multistatus::new();
    // Every member is a VCALENDAR with a VTODO: a filter that asks no more than that needs
    // no body (the common etag-only listing of Thunderbird and DAVx5).
    let trivial = !filter.is_not_defined
        && filter.time_range.is_none()
        && filter.props.is_empty()
        && filter.comps.iter().all(|c| {
            c.name == "VTODO"
                && !c.is_not_defined
                && c.time_range.is_none()
                && c.props.is_empty()
                && c.comps.is_empty()
        });
    if trivial && !props.wants(CALDAV, "calendar-data") {
        for info in &objects {
            let res = object(cal, info, None);
            ms.response(&res.href(who), &props::propstats(&res, who, props));
        }
        return Ok(multistatus(ms));
    }
    let names: Vec<String> = objects.into_iter().map(|o| o.name).collect();
    for (info, ics) in store
        .get_many(who, cal.id, &names)
        .await
        .map_err(store_error)?
    {
        let matches =
            trivial || filter::parse_ical(&ics).is_ok_and(|root| filter.matches_object(&root));
        if matches {
            let res = object(cal, &info, Some(&ics));
            ms.response(&res.href(who), &props::propstats(&res, who, props));
        }
    }
    Ok(multistatus(ms))
}

/// RFC 4791 §7.9.
async fn multiget<S: CalendarStore>(
    store: &S,
    who: &Principal,
    cal: &CalendarInfo,
    props: &PropRequest,
    hrefs: &[String],
) -> Handled {
    // href → the member name it designates in this calendar, if any.
    let wanted: Vec<(&String, Option<String>)> = hrefs
        .iter()
        .map(|h| {
            let name = match Target::parse(href_path(h)) {
                Some(Target::Object(u, c, n)) if u == who.user_id && c == cal.id => Some(n),
                _ => None,
            };
            (h, name)
        })
        .collect();
    let names: Vec<String> = wanted.iter().filter_map(|(_, n)| n.clone()).collect();
    let found = if names.is_empty() {
        Vec::new()
    } else {
        store
            .get_many(who, cal.id, &names)
            .await
            .map_err(store_error)?
    };
    let mut ms = Multistatus::new();
    for (href, name) in wanted {
        match name.and_then(|n| found.iter().find(|(i, _)| i.name == n)) {
            Some((info, ics)) => {
                let res = object(cal, info, Some(ics));
                ms.response(href, &props::propstats(&res, who, props));
            }
            None => ms.status(href, StatusCode::NOT_FOUND),
        }
    }
    Ok(multistatus(ms))
}

/// The path of an href that may be an absolute URL (`http://host/dav/…`).
fn href_path(href: &str) -> &str {
    match href.find("://") {
        Some(i) => {
            let after = &href[i + 3..];
            after.find('/').map_or("/", |j| &after[j..])
        }
        None => href,
    }
}

/// RFC 6578 §3.
async fn sync_collection<S: CalendarStore>(
    store: &S,
    who: &Principal,
    cal: &CalendarInfo,
    token: &str,
    limit: Option<usize>,
    props: &PropRequest,
) -> Handled {
    let initial = token.is_empty();
    let since = if initial {
        0
    } else {
        token
            .strip_prefix(props::SYNC_PREFIX)
            .and_then(|t| t.parse::<u64>().ok())
            .ok_or_else(invalid_sync_token)?
    };
    let changes = match store.changes_since(who, cal.id, since, limit).await {
        Err(StoreError::PreconditionFailed) => return Err(invalid_sync_token()),
        other => other.map_err(store_error)?,
    };
    let mut ms = Multistatus::new();
    if props.wants(CALDAV, "calendar-data") {
        let names: Vec<String> = changes.changed.iter().map(|o| o.name.clone()).collect();
        let bodies = if names.is_empty() {
            Vec::new()
        } else {
            store
                .get_many(who, cal.id, &names)
                .await
                .map_err(store_error)?
        };
        // A member deleted since `changes_since` is left out: the token predates its
        // deletion, so the next sync reports it removed.
        for (info, ics) in &bodies {
            let res = object(cal, info, Some(ics));
            ms.response(&res.href(who), &props::propstats(&res, who, props));
        }
    } else {
        for info in &changes.changed {
            let res = object(cal, info, None);
            ms.response(&res.href(who), &props::propstats(&res, who, props));
        }
    }
    if !initial {
        // RFC 6578 §3.5.2: an initial sync lists only existing members.
        for name in &changes.removed {
            ms.status(
                &object_href(who.user_id, cal.id, name),
                StatusCode::NOT_FOUND,
            );
        }
    }
    if changes.truncated {
        ms.status(
            &calendar_href(who.user_id, cal.id),
            StatusCode::INSUFFICIENT_STORAGE,
        );
    }
    ms.sync_token(&props::sync_token(changes.token));
    Ok(multistatus(ms))
}

async fn get<S: CalendarStore>(
    store: &S,
    who: &Principal,
    target: &Target,
    headers: &HeaderMap,
    head: bool,
) -> Handled {
    let Target::Object(_, id, name) = target else {
        return Ok(method_not_allowed(target));
    };
    let (info, ics) = store.get(who, *id, name).await.map_err(store_error)?;
    let etag = quoted(&info.etag).ok_or_else(internal)?;
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        && etag_list_matches(inm, &info.etag)
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let len = HeaderValue::from(ics.len());
    let body = if head { Body::empty() } else { Body::from(ics) };
    Ok((
        StatusCode::OK,
        [
            (header::ETAG, etag),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/calendar; charset=utf-8"),
            ),
            (header::CONTENT_LENGTH, len),
        ],
        body,
    )
        .into_response())
}

async fn put<S: CalendarStore>(
    store: &S,
    who: &Principal,
    target: &Target,
    headers: &HeaderMap,
    body: &[u8],
) -> Handled {
    let Target::Object(_, id, name) = target else {
        return Ok(method_not_allowed(target));
    };
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        let mime = ct.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("text/calendar") {
            return Err(error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &[Node::empty(CALDAV, "supported-calendar-data")],
                Some("the body must be text/calendar"),
            ));
        }
    }
    let ics = std::str::from_utf8(body).map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            &[Node::empty(CALDAV, "valid-calendar-data")],
            Some("the body is not UTF-8"),
        )
    })?;
    filter::check_body(ics).map_err(|p| match p {
        BodyProblem::Invalid(m) => invalid_data(&m),
        BodyProblem::Unsupported(m) => error(
            StatusCode::FORBIDDEN,
            &[Node::empty(CALDAV, "supported-calendar-component")],
            Some(&m),
        ),
        BodyProblem::NotOneObject(m) => error(
            StatusCode::BAD_REQUEST,
            &[Node::empty(CALDAV, "valid-calendar-object-resource")],
            Some(&m),
        ),
    })?;
    let if_match = match headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) {
        Some(v) => Some(resolve_if_match(store, who, *id, name, v).await?),
        None => None,
    };
    let mut if_none_match_any = false;
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        if inm.trim() == "*" {
            if_none_match_any = true;
        } else if let Ok((cur, _)) = store.get(who, *id, name).await
            && etag_list_matches(inm, &cur.etag)
        {
            return Err(status(StatusCode::PRECONDITION_FAILED));
        }
    }
    let result = store
        .put(who, *id, name, ics, if_match.as_deref(), if_none_match_any)
        .await;
    let (code, etag) = match result {
        Ok(Put::Created(e)) => (StatusCode::CREATED, e),
        Ok(Put::Updated(e)) => (StatusCode::NO_CONTENT, e),
        Err(StoreError::Conflict(other)) => {
            return Err(error(
                StatusCode::CONFLICT,
                &[Node::new(
                    CALDAV,
                    "no-uid-conflict",
                    Value::Href(object_href(who.user_id, *id, &other)),
                )],
                Some("another task of this project has the same UID"),
            ));
        }
        Err(StoreError::Forbidden) => return Err(need_write(who, *id)),
        Err(e) => return Err(store_error(e)),
    };
    let mut resp = status(code);
    if let Some(e) = etag {
        resp.headers_mut()
            .insert(header::ETAG, quoted(&e).ok_or_else(internal)?);
    }
    Ok(resp)
}

/// `If-Match` → what the store checks atomically: `"*"` or the one ETag (unquoted). With a
/// list of several ETags (rare), the current one is looked up and passed on if listed.
async fn resolve_if_match<S: CalendarStore>(
    store: &S,
    who: &Principal,
    calendar: i64,
    name: &str,
    value: &str,
) -> Result<String, Response> {
    let v = value.trim();
    if v == "*" {
        return Ok("*".to_owned());
    }
    let tags = parse_etags(v);
    match tags.as_slice() {
        [one] => Ok(one.to_owned()),
        [] => Err(status(StatusCode::PRECONDITION_FAILED)),
        many => match store.get(who, calendar, name).await {
            Ok((cur, _)) if many.contains(&cur.etag) => Ok(cur.etag),
            _ => Err(status(StatusCode::PRECONDITION_FAILED)),
        },
    }
}

async fn delete<S: CalendarStore>(
    store: &S,
    who: &Principal,
    target: &Target,
    headers: &HeaderMap,
) -> Handled {
    let (id, name) = match target {
        Target::Object(_, id, name) => (*id, name),
        Target::Calendar(_, id) => {
            store.calendar(who, *id).await.map_err(store_error)?;
            return Err(error(
                StatusCode::FORBIDDEN,
                &[],
                Some("projects are deleted in Capstone, not over CalDAV"),
            ));
        }
        _ => return Ok(method_not_allowed(target)),
    };
    let if_match = match headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) {
        Some(v) => Some(resolve_if_match(store, who, id, name, v).await?),
        None => None,
    };
    match store.delete(who, id, name, if_match.as_deref()).await {
        Ok(()) => Ok(status(StatusCode::NO_CONTENT)),
        Err(StoreError::Forbidden) => Err(need_write(who, id)),
        Err(e) => Err(store_error(e)),
    }
}

/// RFC 4918 §9.2, all or nothing.
async fn proppatch<S: CalendarStore>(
    store: &S,
    who: &Principal,
    target: &Target,
    body: &[u8],
) -> Handled {
    let ops = xml::parse_proppatch(body).map_err(bad_xml)?;
    let href = match target {
        Target::Calendar(u, c) => calendar_href(*u, *c),
        Target::Object(_, id, name) => {
            store.get(who, *id, name).await.map_err(store_error)?;
            object_href(who.user_id, *id, name)
        }
        Target::Root => props::ROOT.to_owned(),
        Target::Principals => props::PRINCIPALS.to_owned(),
        Target::Calendars => props::CALENDARS.to_owned(),
        Target::Principal(u) => props::principal_href(*u),
        Target::Home(u) => props::home_href(*u),
        Target::NewCollection(_) => return Err(status(StatusCode::NOT_FOUND)),
    };
    let names: Vec<Name> = ops.iter().map(|o| o.name.clone()).collect();
    let all = |code: StatusCode| -> Response {
        let mut ms = Multistatus::new();
        let props = names.iter().map(|n| (n.clone(), Value::Empty)).collect();
        ms.response(&href, &[(code, props)]);
        multistatus(ms)
    };
    let Target::Calendar(_, id) = target else {
        return Ok(all(StatusCode::FORBIDDEN));
    };
    store.calendar(who, *id).await.map_err(store_error)?;
    let mut patch = CalendarPatch::default();
    let mut failed: Vec<(Name, StatusCode)> = Vec::new();
    for op in &ops {
        let text = op.value.as_ref().map(|v| v.text.trim().to_owned());
        let n = &op.name;
        if n.is(DAV, "displayname") {
            match text {
                Some(t) if !t.is_empty() => patch.name = Some(t),
                Some(_) => failed.push((n.clone(), StatusCode::CONFLICT)),
                None => failed.push((n.clone(), StatusCode::FORBIDDEN)),
            }
        } else if n.is(CALDAV, "calendar-description") {
            patch.description = Some(text.filter(|t| !t.is_empty()));
        } else if n.is(xml::APPLE, "calendar-color") {
            match text.map(|t| normalize_color(&t)) {
                None => patch.color = Some(None),
                Some(Some(c)) => patch.color = Some(Some(c)),
                Some(None) => failed.push((n.clone(), StatusCode::CONFLICT)),
            }
        } else {
            failed.push((n.clone(), StatusCode::FORBIDDEN));
        }
    }
    if failed.is_empty() && !ops.is_empty() {
        match store.update_calendar(who, *id, patch).await {
            Ok(()) => return Ok(all(StatusCode::OK)),
            Err(StoreError::Forbidden) => return Ok(all(StatusCode::FORBIDDEN)),
            Err(e) => return Err(store_error(e)),
        }
    }
    let mut groups: Vec<xml::PropStat> = Vec::new();
    for n in &names {
        let code = failed
            .iter()
            .find(|(f, _)| f == n)
            .map_or(StatusCode::FAILED_DEPENDENCY, |(_, c)| *c);
        match groups.iter_mut().find(|(c, _)| *c == code) {
            Some((_, list)) => list.push((n.clone(), Value::Empty)),
            None => groups.push((code, vec![(n.clone(), Value::Empty)])),
        }
    }
    let mut ms = Multistatus::new();
    ms.response(&href, &groups);
    Ok(multistatus(ms))
}

/// `#RGB`, `#RRGGBB` or Apple's `#RRGGBBAA` → `#RRGGBB`.
fn normalize_color(c: &str) -> Option<String> {
    let hex = c.strip_prefix('#')?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match hex.len() {
        3 => Some(
            hex.chars()
                .flat_map(|ch| [ch, ch])
                .fold("#".to_owned(), |mut s, ch| {
                    s.push(ch);
                    s
                }),
        ),
        6 | 8 => Some(format!("#{}", &hex[..6])),
        _ => None,
    }
    .map(|s| s.to_ascii_uppercase())
}

// ---------------------------------------------------------------------------------------------
// Plumbing
// ---------------------------------------------------------------------------------------------

async fn read_body(body: Body, headers: &HeaderMap) -> Result<Bytes, Response> {
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &[Node::empty(CALDAV, "max-resource-size")],
            Some("request body over 1 MiB"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(_) => Err(status(StatusCode::BAD_REQUEST)),
    }
}

/// Unquoted ETags of an `If-Match`/`If-None-Match` list (weak prefixes dropped).
fn parse_etags(v: &str) -> Vec<String> {
    v.split(',')
        .map(|t| t.trim())
        .map(|t| t.strip_prefix("W/").unwrap_or(t))
        .map(|t| t.trim_matches('"').to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

fn etag_list_matches(list: &str, etag: &str) -> bool {
    list.trim() == "*" || parse_etags(list).iter().any(|t| t == etag)
}

/// `"etag"` as a header value; a store handing out an ETag that cannot be one is a 500.
fn quoted(etag: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("\"{etag}\"")).ok()
}

fn internal() -> Response {
    status(StatusCode::INTERNAL_SERVER_ERROR)
}

fn status(code: StatusCode) -> Response {
    code.into_response()
}

fn multistatus(ms: Multistatus) -> Response {
    (
        StatusCode::MULTI_STATUS,
        [
            (header::CONTENT_TYPE, XML_TYPE),
            (header::HeaderName::from_static("dav"), DAV_HEADER),
        ],
        ms.finish(),
    )
        .into_response()
}

fn error(code: StatusCode, conditions: &[Node], message: Option<&str>) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, XML_TYPE)],
        xml::error_body(conditions, message),
    )
        .into_response()
}

fn bad_xml(e: xml::XmlError) -> Response {
    if let xml::XmlError::Collation(c) = &e {
        return error(
            StatusCode::FORBIDDEN,
            &[Node::empty(CALDAV, "supported-collation")],
            Some(&format!("collation {c} is not supported")),
        );
    }
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{e}\n"),
    )
        .into_response()
}

fn invalid_data(message: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        &[Node::empty(CALDAV, "valid-calendar-data")],
        Some(message),
    )
}

fn invalid_sync_token() -> Response {
    error(
        StatusCode::FORBIDDEN,
        &[Node::empty(DAV, "valid-sync-token")],
        None,
    )
}

fn unsupported_report() -> Response {
    error(
        StatusCode::FORBIDDEN,
        &[Node::empty(DAV, "supported-report")],
        None,
    )
}

/// 403 with RFC 3744 §7.1.1 `DAV:need-privileges` (write on the calendar).
fn need_write(who: &Principal, calendar: i64) -> Response {
    error(
        StatusCode::FORBIDDEN,
        &[Node::new(
            DAV,
            "need-privileges",
            Value::Nodes(vec![Node::new(
                DAV,
                "resource",
                Value::Nodes(vec![
                    Node::new(
                        DAV,
                        "href",
                        Value::Text(calendar_href(who.user_id, calendar)),
                    ),
                    Node::new(
                        DAV,
                        "privilege",
                        Value::Nodes(vec![Node::empty(DAV, "write-content")]),
                    ),
                ]),
            )]),
        )],
        Some("this project is read-only for you"),
    )
}

fn method_not_allowed(target: &Target) -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, target.allow())],
    )
        .into_response()
}

fn store_error(e: StoreError) -> Response {
    match e {
        StoreError::NotFound => status(StatusCode::NOT_FOUND),
        StoreError::PreconditionFailed => status(StatusCode::PRECONDITION_FAILED),
        StoreError::Forbidden => status(StatusCode::FORBIDDEN),
        StoreError::Invalid(m) => invalid_data(&m),
        StoreError::Conflict(m) => error(
            StatusCode::CONFLICT,
            &[Node::empty(CALDAV, "no-uid-conflict")],
            Some(&m),
        ),
        StoreError::Internal => status(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(Target::parse("/dav"), Some(Target::Root));
        assert_eq!(Target::parse("/dav/"), Some(Target::Root));
        assert_eq!(Target::parse("/davx"), None);
        assert_eq!(
            Target::parse("/dav/principals/7"),
            Some(Target::Principal(7))
        );
        assert_eq!(Target::parse("/dav/calendars/7/"), Some(Target::Home(7)));
        assert_eq!(
            Target::parse("/dav/calendars/7/9"),
            Some(Target::Calendar(7, 9))
        );
        assert_eq!(
            Target::parse("/dav/calendars/7/9/a%40b%20c.ics"),
            Some(Target::Object(7, 9, "a@b c.ics".into()))
        );
        assert_eq!(Target::parse("/dav/calendars/7/9/a.ics/"), None);
        assert_eq!(Target::parse("/dav/calendars/x/9/"), None);
        assert_eq!(Target::parse("/dav/calendars/7/9/a/b"), None);
        assert_eq!(Target::parse("/dav/calendars/7/9/%FF"), None);
        assert_eq!(Target::parse("/dav/other"), None);
    }

    #[test]
    fn hrefs_round_trip() {
        let href = object_href(7, 9, "a@b c/ü.ics");
        assert_eq!(href, "/dav/calendars/7/9/a%40b%20c%2F%C3%BC.ics");
        assert_eq!(
            Target::parse(href_path(&format!("https://h:8443{href}"))),
            Some(Target::Object(7, 9, "a@b c/ü.ics".into()))
        );
    }

    #[test]
    fn colors() {
        assert_eq!(normalize_color("#ff8800ff").as_deref(), Some("#FF8800"));
        assert_eq!(normalize_color("#f80").as_deref(), Some("#FF8800"));
        assert_eq!(normalize_color("#12345"), None);
        assert_eq!(normalize_color("red"), None);
    }

    #[test]
    fn etag_lists() {
        assert_eq!(parse_etags(r#""a", W/"b",c"#), ["a", "b", "c"]);
        assert!(etag_list_matches("*", "x"));
        assert!(etag_list_matches(r#""y", "x""#, "x"));
        assert!(!etag_list_matches(r#""y""#, "x"));
    }
}
