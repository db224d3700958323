//! Which resource answers which property, and with what value.
//!
//! Every resource kind lists the properties it has ([`names`]); a requested property that is
//! not among them (quota, `getlastmodified`, `calendar-timezone`, scheduling URLs, any
//! client's private property…) is answered in a `404 Not Found` propstat, never as an error
//! (RFC 4918 §9.1). Values come from the [`Principal`] and the store's types only, so this
//! module does no I/O: the handler fetches bodies first when `calendar-data` is asked for.

use axum::http::StatusCode;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::store::{CalendarInfo, ObjectInfo, Principal};
use super::xml::{APPLE, CALDAV, CS, DAV, Name, Node, PropRequest, PropStat, Value};

/// Characters left as they are in a path segment: RFC 3986 unreserved. Everything else
/// (including `@`, `+`, spaces, non-ASCII) is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Where the DAV tree lives; the router must be merged at the root of the app.
pub const ROOT: &str = "/dav/";
pub const PRINCIPALS: &str = "/dav/principals/";
pub const CALENDARS: &str = "/dav/calendars/";
/// Prefix of sync tokens (`DAV:sync-token`, `CS:getctag`): a URI as RFC 6578 §4 requires.
pub const SYNC_PREFIX: &str = "http://capstone/ns/sync/";
/// Advertised `CALDAV:max-resource-size`; PUT bodies above it are refused.
pub const MAX_RESOURCE_SIZE: usize = 1 << 20;

pub fn principal_href(user: i64) -> String {
    format!("{PRINCIPALS}{user}/")
}
pub fn home_href(user: i64) -> String {
    format!("{CALENDARS}{user}/")
}
pub fn calendar_href(user: i64, calendar: i64) -> String {
    format!("{CALENDARS}{user}/{calendar}/")
}
pub fn object_href(user: i64, calendar: i64, name: &str) -> String {
    format!(
        "{CALENDARS}{user}/{calendar}/{}",
        utf8_percent_encode(name, SEGMENT)
    )
}
pub fn sync_token(token: u64) -> String {
    format!("{SYNC_PREFIX}{token}")
}

/// A resource of the DAV tree, with what is needed to answer its properties.
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    /// `/dav/`.
    Root,
    /// `/dav/principals/` (lists only the caller).
    Principals,
    /// `/dav/calendars/` (lists only the caller's home).
    Calendars,
    /// `/dav/principals/{user}/`.
    Principal,
    /// `/dav/calendars/{user}/`: the `calendar-home-set`.
    Home,
    /// `/dav/calendars/{user}/{id}/`.
    Calendar(&'a CalendarInfo),
    /// A task; `ics` is present when the body was fetched.
    Object {
        calendar: &'a CalendarInfo,
        info: &'a ObjectInfo,
        ics: Option<&'a str>,
    },
}

impl Resource<'_> {
    pub fn href(&self, who: &Principal) -> String {
        let u = who.user_id;
        match self {
            Resource::Root => ROOT.to_owned(),
            Resource::Principals => PRINCIPALS.to_owned(),
            Resource::Calendars => CALENDARS.to_owned(),
            Resource::Principal => principal_href(u),
            Resource::Home => home_href(u),
            Resource::Calendar(c) => calendar_href(u, c.id),
            Resource::Object { calendar, info, .. } => object_href(u, calendar.id, &info.name),
        }
    }
}

const COMMON: &[(&str, &str)] = &[
    (DAV, "resourcetype"),
    (DAV, "current-user-principal"),
    (DAV, "current-user-privilege-set"),
    (DAV, "principal-collection-set"),
];

/// The properties a resource has (for `propname`, `allprop` and 404 decisions).
pub fn names(res: &Resource) -> Vec<Name> {
    let specific: &[(&str, &str)] = match res {
        Resource::Root | Resource::Principals | Resource::Calendars => &[],
        Resource::Principal => &[
            (DAV, "displayname"),
            (DAV, "principal-URL"),
            (CALDAV, "calendar-home-set"),
            (CALDAV, "calendar-user-address-set"),
        ],
        Resource::Home => &[(DAV, "owner")],
        Resource::Calendar(_) => &[
            (DAV, "displayname"),
            (DAV, "owner"),
            (DAV, "supported-report-set"),
            (DAV, "sync-token"),
            (CS, "getctag"),
            (CALDAV, "calendar-description"),
            (APPLE, "calendar-color"),
            (CALDAV, "supported-calendar-component-set"),
            (CALDAV, "supported-calendar-data"),
            (CALDAV, "max-resource-size"),
        ],
        Resource::Object { .. } => &[
            (DAV, "owner"),
            (DAV, "getetag"),
            (DAV, "getcontenttype"),
            (DAV, "getcontentlength"),
        ],
    };
    COMMON
        .iter()
        .chain(specific)
        .map(|(ns, l)| Name::new(ns, l))
        .filter(|n| value(res, None, n).is_some())
        .collect()
}

/// Not in `allprop` answers: RFC 5397 §3 and RFC 3744 §5.4 ask servers not to.
fn excluded_from_allprop(n: &Name) -> bool {
    n.is(DAV, "current-user-principal") || n.is(DAV, "current-user-privilege-set")
}

fn privileges(writable: bool) -> Value {
    let mut p = vec!["read", "read-current-user-privilege-set"];
    if writable {
        // RFC 3744 §3: write aggregates the rest; clients test for each one separately
        // (DAVx5 write-content/bind/unbind, Thunderbird write, Apple write-content).
        p.extend([
            "write",
            "write-content",
            "write-properties",
            "bind",
            "unbind",
        ]);
    }
    Value::Nodes(
        p.into_iter()
            .map(|p| Node::new(DAV, "privilege", Value::Nodes(vec![Node::empty(DAV, p)])))
            .collect(),
    )
}

fn reports() -> Value {
    let report = |ns: &str, l: &str| {
        Node::new(
            DAV,
            "supported-report",
            Value::Nodes(vec![Node::new(
                DAV,
                "report",
                Value::Nodes(vec![Node::empty(ns, l)]),
            )]),
        )
    };
    Value::Nodes(vec![
        report(CALDAV, "calendar-query"),
        report(CALDAV, "calendar-multiget"),
        report(DAV, "sync-collection"),
    ])
}

/// The value of one property of `res`, `None` when it has none. `who` is `None` only while
/// listing names (values are then not needed).
pub fn value(res: &Resource, who: Option<&Principal>, name: &Name) -> Option<Value> {
    let placeholder = Principal {
        user_id: 0,
        display_name: String::new(),
        email: String::new(),
        read_only: true,
    };
    let who = who.unwrap_or(&placeholder);
    let me = || principal_href(who.user_id);
    let ns = name.ns.as_str();
    let local = name.local.as_str();
    Some(match (res, ns, local) {
        (_, DAV, "resourcetype") => match res {
            Resource::Object { .. } => Value::Empty,
            Resource::Principal => Value::Nodes(vec![
                Node::empty(DAV, "collection"),
                Node::empty(DAV, "principal"),
            ]),
            Resource::Calendar(_) => Value::Nodes(vec![
                Node::empty(DAV, "collection"),
                Node::empty(CALDAV, "calendar"),
            ]),
            _ => Value::Nodes(vec![Node::empty(DAV, "collection")]),
        },
        (_, DAV, "current-user-principal") => Value::Href(me()),
        (_, DAV, "principal-collection-set") => Value::Href(PRINCIPALS.to_owned()),
        (_, DAV, "current-user-privilege-set") => privileges(match res {
            Resource::Calendar(c) => c.writable,
            Resource::Object { calendar, .. } => calendar.writable,
            _ => false,
        }),
        (Resource::Home | Resource::Calendar(_) | Resource::Object { .. }, DAV, "owner") => {
            Value::Href(me())
        }

        (Resource::Principal, DAV, "displayname") => Value::Text(who.display_name.clone()),
        (Resource::Principal, DAV, "principal-URL") => Value::Href(me()),
        (Resource::Principal, CALDAV, "calendar-home-set") => Value::Href(home_href(who.user_id)),
        (Resource::Principal, CALDAV, "calendar-user-address-set") => {
            Value::Hrefs(vec![format!("mailto:{}", who.email), me()])
        }

        (Resource::Calendar(c), DAV, "displayname") => Value::Text(c.name.clone()),
        (Resource::Calendar(_), DAV, "supported-report-set") => reports(),
        (Resource::Calendar(c), DAV, "sync-token") => Value::Text(sync_token(c.sync_token)),
        (Resource::Calendar(c), CS, "getctag") => Value::Text(sync_token(c.sync_token)),
        (Resource::Calendar(c), CALDAV, "calendar-description") => {
            Value::Text(c.description.clone()?)
        }
        (Resource::Calendar(c), APPLE, "calendar-color") => Value::Text(c.color.clone()?),
        // VTODO only: clients then file the project under tasks, not events (Apple Reminders,
        // DAVx5 → Tasks.org, Thunderbird, Evolution all read this property).
        (Resource::Calendar(_), CALDAV, "supported-calendar-component-set") => {
            Value::Nodes(vec![Node::empty(CALDAV, "comp").attr("name", "VTODO")])
        }
        (Resource::Calendar(_), CALDAV, "supported-calendar-data") => Value::Nodes(vec![
            Node::empty(CALDAV, "calendar-data")
                .attr("content-type", "text/calendar")
                .attr("version", "2.0"),
        ]),
        (Resource::Calendar(_), CALDAV, "max-resource-size") => {
            Value::Text(MAX_RESOURCE_SIZE.to_string())
        }

        (Resource::Object { info, .. }, DAV, "getetag") => {
            Value::Text(format!("\"{}\"", info.etag))
        }
        (Resource::Object { .. }, DAV, "getcontenttype") => {
            Value::Text("text/calendar; charset=utf-8; component=VTODO".to_owned())
        }
        (Resource::Object { ics, .. }, DAV, "getcontentlength") => {
            Value::Text(ics.as_ref()?.len().to_string())
        }
        (Resource::Object { ics, .. }, CALDAV, "calendar-data") => Value::Text((*ics)?.to_owned()),
        _ => return None,
    })
}

/// The propstats answering `req` for `res` (RFC 4918 §9.1): found properties in a 200
/// group, the others in a 404 group.
pub fn propstats(res: &Resource, who: &Principal, req: &PropRequest) -> Vec<PropStat> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    match req {
        PropRequest::PropName => {
            found = names(res).into_iter().map(|n| (n, Value::Empty)).collect();
        }
        PropRequest::AllProp(include) => {
            for n in names(res).into_iter().filter(|n| !excluded_from_allprop(n)) {
                if let Some(v) = value(res, Some(who), &n) {
                    found.push((n, v));
                }
            }
            for n in include {
                if found.iter().any(|(f, _)| f == n) {
                    continue;
                }
                match value(res, Some(who), n) {
                    Some(v) => found.push((n.clone(), v)),
                    None => missing.push((n.clone(), Value::Empty)),
                }
            }
        }
        PropRequest::Props(list) => {
            for n in list {
                match value(res, Some(who), n) {
                    Some(v) => found.push((n.clone(), v)),
                    None => missing.push((n.clone(), Value::Empty)),
                }
            }
        }
    }
    vec![(StatusCode::OK, found), (StatusCode::NOT_FOUND, missing)]
}
