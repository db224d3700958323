//! XML in and out: request bodies parsed namespace-aware into a small tree, then into typed
//! requests; `207 Multi-Status` and `DAV:error` bodies written with every string escaped.
//!
//! Clients pick arbitrary prefixes (`D:`, `d:`, `A:`, a default namespace…), so elements are
//! only ever compared by (namespace URI, local name) after resolution by quick-xml's
//! [`NsReader`]. DOCTYPEs are refused (no entity expansion, no billion laughs), nesting and
//! element count are bounded, and the body itself is capped before it gets here.

use std::fmt::Write as _;

use axum::http::StatusCode;
use quick_xml::NsReader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

use super::filter::{Collation, CompFilter, ParamFilter, PropFilter, TextMatch, TimeRange};

pub const DAV: &str = "DAV:";
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
pub const CS: &str = "http://calendarserver.org/ns/";
pub const APPLE: &str = "http://apple.com/ns/ical/";
/// Capstone's own namespace: sync-token URIs and the error `message` element.
pub const CAPSTONE: &str = "http://capstone/ns/";

const MAX_DEPTH: usize = 32;
const MAX_ELEMENTS: usize = 10_000;

/// A namespace-qualified XML name. An empty `ns` is "no namespace".
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name {
    pub ns: String,
    pub local: String,
}

impl Name {
    pub fn new(ns: &str, local: &str) -> Self {
        Name {
            ns: ns.to_owned(),
            local: local.to_owned(),
        }
    }
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }
}

/// Why a request body was refused (→ 400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("unexpected XML: {0}")]
    Unexpected(String),
    /// A `text-match` collation other than `i;octet`, `i;ascii-casemap`, `i;unicode-casemap`
    /// (→ 403 `CALDAV:supported-collation`, RFC 4791 §7.5.1).
    #[error("unsupported collation {0}")]
    Collation(String),
}

fn malformed(e: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(e.to_string())
}

/// A parsed element: resolved name, attributes, children and concatenated character data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: Name,
    pub attrs: Vec<(Name, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.name.is(ns, local)
    }
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, local))
    }
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, local))
    }
    /// An attribute without namespace (as all CalDAV attributes are).
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n.ns.is_empty() && n.local == local)
            .map(|(_, v)| v.as_str())
    }
}

fn resolved(r: ResolveResult<'_>) -> Result<String, XmlError> {
    match r {
        ResolveResult::Bound(ns) => Ok(AsRef::<str>::as_ref(&ns).to_owned()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(p) => Err(XmlError::Malformed(format!("unknown prefix {p}"))),
    }
}

/// Parses a whole document into its root element. `Ok(None)` for an empty body.
pub fn parse(body: &[u8]) -> Result<Option<Element>, XmlError> {
    let text = std::str::from_utf8(body).map_err(|_| malformed("body is not UTF-8"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Ok(None);
    }
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(malformed)?;
        let ns = match &event {
            Event::Start(_) | Event::Empty(_) => Some(resolved(ns)?),
            _ => None,
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                count += 1;
                if count > MAX_ELEMENTS || stack.len() >= MAX_DEPTH {
                    return Err(malformed("document too large or too deep"));
                }
                if root.is_some() {
                    return Err(malformed("content after the root element"));
                }
                let mut attrs = Vec::new();
                for a in e.attributes() {
                    let a = a.map_err(malformed)?;
                    let key = a.key;
                    if key.as_ref().starts_with("xmlns") {
                        continue;
                    }
                    let (ans, local) = reader.resolver().resolve_attribute(key);
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(malformed)?;
                    attrs.push((
                        Name {
                            ns: resolved(ans)?,
                            local: AsRef::<str>::as_ref(&local).to_owned(),
                        },
                        value.into_owned(),
                    ));
                }
                let el = Element {
                    name: Name {
                        ns: ns.unwrap_or_default(),
                        local: AsRef::<str>::as_ref(&e.local_name()).to_owned(),
                    },
                    attrs,
                    children: Vec::new(),
                    text: String::new(),
                };
                if matches!(event, Event::Start(_)) {
                    stack.push(el);
                } else {
                    attach(&mut stack, &mut root, el);
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| malformed("unbalanced end tag"))?;
                attach(&mut stack, &mut root, el);
            }
            Event::Text(t) => {
                let t = t.xml10_content();
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t);
                } else if !t.trim().is_empty() {
                    return Err(malformed("text outside the root element"));
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let s = if let Some(c) = r.resolve_char_ref().map_err(malformed)? {
                    c.to_string()
                } else if let Some(s) = resolve_predefined_entity(&r) {
                    s.to_owned()
                } else {
                    return Err(malformed(format!("unknown entity &{};", &*r)));
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::DocType(_) => return Err(malformed("DOCTYPE is not accepted")),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(malformed("unclosed element"));
    }
    root.map(Some).ok_or_else(|| malformed("no root element"))
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, el: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

fn expect_root(root: Option<Element>, ns: &str, local: &str) -> Result<Element, XmlError> {
    match root {
        Some(r) if r.is(ns, local) => Ok(r),
        Some(r) => Err(XmlError::Unexpected(format!(
            "expected {local}, got {{{}}}{}",
            r.name.ns, r.name.local
        ))),
        None => Err(XmlError::Unexpected(format!(
            "expected {local}, got nothing"
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// What a PROPFIND or REPORT asks for (RFC 4918 §14.20).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropRequest {
    /// `DAV:allprop`, or an empty PROPFIND body; with the `DAV:include` names.
    AllProp(Vec<Name>),
    /// `DAV:propname`.
    PropName,
    /// `DAV:prop` with these names, in request order.
    Props(Vec<Name>),
}

impl PropRequest {
    pub fn wants(&self, ns: &str, local: &str) -> bool {
        match self {
            PropRequest::Props(n) | PropRequest::AllProp(n) => n.iter().any(|n| n.is(ns, local)),
            PropRequest::PropName => false,
        }
    }
}

fn prop_request(parent: &Element) -> Option<PropRequest> {
    for c in &parent.children {
        if c.is(DAV, "prop") {
            return Some(PropRequest::Props(
                c.children.iter().map(|p| p.name.clone()).collect(),
            ));
        }
        if c.is(DAV, "allprop") {
            let include = parent
                .child(DAV, "include")
                .map(|i| i.children.iter().map(|p| p.name.clone()).collect())
                .unwrap_or_default();
            return Some(PropRequest::AllProp(include));
        }
        if c.is(DAV, "propname") {
            return Some(PropRequest::PropName);
        }
    }
    None
}

/// PROPFIND body (RFC 4918 §9.1): an empty body is `allprop`.
pub fn parse_propfind(body: &[u8]) -> Result<PropRequest, XmlError> {
    let Some(root) = parse(body)? else {
        return Ok(PropRequest::AllProp(Vec::new()));
    };
    let root = expect_root(Some(root), DAV, "propfind")?;
    prop_request(&root).ok_or_else(|| XmlError::Unexpected("propfind without prop".into()))
}

/// The REPORTs this server knows (RFC 4791 §7.8, §7.9; RFC 6578 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    CalendarQuery {
        props: PropRequest,
        filter: CompFilter,
    },
    Multiget {
        props: PropRequest,
        hrefs: Vec<String>,
    },
    SyncCollection {
        /// Empty for an initial sync.
        token: String,
        /// `"1"` or `"infinite"` (equivalent here: calendars have no sub-collections).
        level: String,
        limit: Option<usize>,
        props: PropRequest,
    },
    /// Any other report (→ 403 `DAV:supported-report`).
    Other(Name),
}

pub fn parse_report(body: &[u8]) -> Result<Report, XmlError> {
    let root = parse(body)?.ok_or_else(|| XmlError::Unexpected("empty REPORT body".into()))?;
    let props = || prop_request(&root).unwrap_or(PropRequest::Props(Vec::new()));
    if root.is(CALDAV, "calendar-query") {
        let filter = root
            .child(CALDAV, "filter")
            .ok_or_else(|| XmlError::Unexpected("calendar-query without filter".into()))?;
        let top = filter
            .child(CALDAV, "comp-filter")
            .ok_or_else(|| XmlError::Unexpected("filter without comp-filter".into()))?;
        Ok(Report::CalendarQuery {
            props: props(),
            filter: comp_filter(top)?,
        })
    } else if root.is(CALDAV, "calendar-multiget") {
        let hrefs = root
            .children_named(DAV, "href")
            .map(|h| h.text.trim().to_owned())
            .filter(|h| !h.is_empty())
            .collect();
        Ok(Report::Multiget {
            props: props(),
            hrefs,
        })
    } else if root.is(DAV, "sync-collection") {
        let token = root
            .child(DAV, "sync-token")
            .map(|t| t.text.trim().to_owned())
            .unwrap_or_default();
        let level = root
            .child(DAV, "sync-level")
            .map(|t| t.text.trim().to_owned())
            .unwrap_or_else(|| "1".into());
        let limit = match root
            .child(DAV, "limit")
            .and_then(|l| l.child(DAV, "nresults"))
        {
            Some(n) => Some(
                n.text
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| XmlError::Unexpected("bad nresults".into()))?,
            ),
            None => None,
        };
        Ok(Report::SyncCollection {
            token,
            level,
            limit,
            props: props(),
        })
    } else {
        Ok(Report::Other(root.name))
    }
}

fn time_range(el: &Element) -> Result<TimeRange, XmlError> {
    let parse = |a: &str| -> Result<Option<i64>, XmlError> {
        match el.attr(a) {
            None => Ok(None),
            Some(v) => super::filter::parse_utc(v.trim())
                .map(Some)
                .ok_or_else(|| XmlError::Unexpected(format!("bad time-range {a}={v}"))),
        }
    };
    Ok(TimeRange {
        start: parse("start")?,
        end: parse("end")?,
    })
}

fn text_match(el: &Element) -> Result<TextMatch, XmlError> {
    let collation = match el.attr("collation").unwrap_or("i;ascii-casemap") {
        "i;octet" => Collation::Octet,
        "i;ascii-casemap" => Collation::AsciiCasemap,
        "i;unicode-casemap" => Collation::UnicodeCasemap,
        other => return Err(XmlError::Collation(other.to_owned())),
    };
    Ok(TextMatch {
        text: el.text.clone(),
        collation,
        negate: el.attr("negate-condition") == Some("yes"),
    })
}

fn comp_filter(el: &Element) -> Result<CompFilter, XmlError> {
    let name = el
        .attr("name")
        .ok_or_else(|| XmlError::Unexpected("comp-filter without name".into()))?;
    Ok(CompFilter {
        name: name.to_ascii_uppercase(),
        is_not_defined: el.child(CALDAV, "is-not-defined").is_some(),
        time_range: el.child(CALDAV, "time-range").map(time_range).transpose()?,
        props: el
            .children_named(CALDAV, "prop-filter")
            .map(prop_filter)
            .collect::<Result<_, _>>()?,
        comps: el
            .children_named(CALDAV, "comp-filter")
            .map(comp_filter)
            .collect::<Result<_, _>>()?,
    })
}

fn prop_filter(el: &Element) -> Result<PropFilter, XmlError> {
    let name = el
        .attr("name")
        .ok_or_else(|| XmlError::Unexpected("prop-filter without name".into()))?;
    Ok(PropFilter {
        name: name.to_ascii_uppercase(),
        is_not_defined: el.child(CALDAV, "is-not-defined").is_some(),
        time_range: el.child(CALDAV, "time-range").map(time_range).transpose()?,
        text_match: el.child(CALDAV, "text-match").map(text_match).transpose()?,
        params: el
            .children_named(CALDAV, "param-filter")
            .map(|p| {
                Ok(ParamFilter {
                    name: p
                        .attr("name")
                        .ok_or_else(|| XmlError::Unexpected("param-filter without name".into()))?
                        .to_ascii_uppercase(),
                    is_not_defined: p.child(CALDAV, "is-not-defined").is_some(),
                    text_match: p.child(CALDAV, "text-match").map(text_match).transpose()?,
                })
            })
            .collect::<Result<_, XmlError>>()?,
    })
}

/// One `set` or `remove` of a PROPPATCH (RFC 4918 §14.23, §14.26), in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchOp {
    pub name: Name,
    /// The property element as sent (`None` for `remove`).
    pub value: Option<Element>,
}

pub fn parse_proppatch(body: &[u8]) -> Result<Vec<PatchOp>, XmlError> {
    let root = expect_root(parse(body)?, DAV, "propertyupdate")?;
    let mut ops = Vec::new();
    for op in &root.children {
        let set = if op.is(DAV, "set") {
            true
        } else if op.is(DAV, "remove") {
            false
        } else {
            continue;
        };
        for prop in op.children_named(DAV, "prop") {
            for p in &prop.children {
                ops.push(PatchOp {
                    name: p.name.clone(),
                    value: set.then(|| p.clone()),
                });
            }
        }
    }
    Ok(ops)
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/// A property value to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `<name/>`.
    Empty,
    /// Character data (escaped; CR kept as `&#13;` so iCalendar survives byte-exact).
    Text(String),
    /// One `<D:href>`.
    Href(String),
    /// Several `<D:href>`s.
    Hrefs(Vec<String>),
    /// Child elements.
    Nodes(Vec<Node>),
}

/// A child element inside a property value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: Name,
    pub attrs: Vec<(&'static str, String)>,
    pub value: Value,
}

impl Node {
    pub fn empty(ns: &str, local: &str) -> Node {
        Node {
            name: Name::new(ns, local),
            attrs: Vec::new(),
            value: Value::Empty,
        }
    }
    pub fn new(ns: &str, local: &str, value: Value) -> Node {
        Node {
            name: Name::new(ns, local),
            attrs: Vec::new(),
            value,
        }
    }
    pub fn attr(mut self, name: &'static str, value: &str) -> Node {
        self.attrs.push((name, value.to_owned()));
        self
    }
}

fn prefix(ns: &str) -> Option<&'static str> {
    Some(match ns {
        DAV => "D",
        CALDAV => "C",
        CS => "CS",
        APPLE => "A",
        CAPSTONE => "X",
        _ => return None,
    })
}

const ROOT_NS: &str = r#" xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/" xmlns:A="http://apple.com/ns/ical/" xmlns:X="http://capstone/ns/""#;

/// Escapes character data; drops characters XML 1.0 cannot carry.
pub fn escape_into(out: &mut String, s: &str, attr: bool) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attr => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            '\n' if attr => out.push_str("&#10;"),
            '\t' if attr => out.push_str("&#9;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

/// Opens `name` (with an inline namespace declaration when it is not one of ours) and
/// returns the qualified name to close it with.
fn open(out: &mut String, name: &Name, attrs: &[(&'static str, String)], empty: bool) -> String {
    let qname = match prefix(&name.ns) {
        Some(p) => format!("{p}:{}", name.local),
        None if name.ns.is_empty() => name.local.clone(),
        None => format!("x:{}", name.local),
    };
    out.push('<');
    out.push_str(&qname);
    if prefix(&name.ns).is_none() && !name.ns.is_empty() {
        out.push_str(" xmlns:x=\"");
        escape_into(out, &name.ns, true);
        out.push('"');
    }
    for (k, v) in attrs {
        let _ = write!(out, " {k}=\"");
        escape_into(out, v, true);
        out.push('"');
    }
    out.push_str(if empty { "/>" } else { ">" });
    qname
}

fn write_value(out: &mut String, name: &Name, attrs: &[(&'static str, String)], value: &Value) {
    if matches!(value, Value::Empty) {
        open(out, name, attrs, true);
        return;
    }
    let q = open(out, name, attrs, false);
    match value {
        Value::Empty => {}
        Value::Text(t) => escape_into(out, t, false),
        Value::Href(h) => write_href(out, h),
        Value::Hrefs(hs) => hs.iter().for_each(|h| write_href(out, h)),
        Value::Nodes(nodes) => {
            for n in nodes {
                write_value(out, &n.name, &n.attrs, &n.value);
            }
        }
    }
    let _ = write!(out, "</{q}>");
}

fn write_href(out: &mut String, href: &str) {
    out.push_str("<D:href>");
    escape_into(out, href, false);
    out.push_str("</D:href>");
}

fn status_line(status: StatusCode) -> String {
    format!(
        "HTTP/1.1 {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
}

/// One `DAV:propstat`: a status and the properties it applies to (values are ignored for
/// non-2xx statuses, where only the names are written).
pub type PropStat = (StatusCode, Vec<(Name, Value)>);

/// Builds a `DAV:multistatus` body (RFC 4918 §14.16).
pub struct Multistatus {
    out: String,
}

impl Default for Multistatus {
    fn default() -> Self {
        Self::new()
    }
}

impl Multistatus {
    pub fn new() -> Self {
        let mut out = String::with_capacity(4096);
        out.push_str(r#"<?xml version="1.0" encoding="utf-8"?>"#);
        out.push('\n');
        let _ = write!(out, "<D:multistatus{ROOT_NS}>");
        Multistatus { out }
    }

    /// A `DAV:response` with propstats; empty groups are skipped.
    pub fn response(&mut self, href: &str, propstats: &[PropStat]) {
        self.out.push_str("<D:response>");
        write_href(&mut self.out, href);
        let mut any = false;
        for (status, props) in propstats.iter().filter(|(_, p)| !p.is_empty()) {
            any = true;
            self.out.push_str("<D:propstat><D:prop>");
            for (name, value) in props {
                let v = if status.is_success() {
                    value
                } else {
                    &Value::Empty
                };
                write_value(&mut self.out, name, &[], v);
            }
            self.out.push_str("</D:prop><D:status>");
            self.out.push_str(&status_line(*status));
            self.out.push_str("</D:status></D:propstat>");
        }
        if !any {
            // RFC 4918 §14.24: a response has either propstats or a status.
            self.out.push_str("<D:propstat><D:prop/><D:status>");
            self.out.push_str(&status_line(StatusCode::OK));
            self.out.push_str("</D:status></D:propstat>");
        }
        self.out.push_str("</D:response>");
    }

    /// A `DAV:response` carrying only a status (404 members, the 507 of a truncated sync).
    pub fn status(&mut self, href: &str, status: StatusCode) {
        self.out.push_str("<D:response>");
        write_href(&mut self.out, href);
        self.out.push_str("<D:status>");
        self.out.push_str(&status_line(status));
        self.out.push_str("</D:status></D:response>");
    }

    /// The `DAV:sync-token` of a sync-collection answer (RFC 6578 §6.2).
    pub fn sync_token(&mut self, token: &str) {
        self.out.push_str("<D:sync-token>");
        escape_into(&mut self.out, token, false);
        self.out.push_str("</D:sync-token>");
    }

    pub fn finish(mut self) -> String {
        self.out.push_str("</D:multistatus>\n");
        self.out
    }
}

/// A `DAV:error` body (RFC 4918 §16) holding the given precondition elements and, when
/// given, a human-readable `X:message` (an extension element clients ignore or show).
pub fn error_body(conditions: &[Node], message: Option<&str>) -> String {
    let mut out = String::new();
    out.push_str(r#"<?xml version="1.0" encoding="utf-8"?>"#);
    out.push('\n');
    let _ = write!(out, "<D:error{ROOT_NS}>");
    for c in conditions {
        write_value(&mut out, &c.name, &c.attrs, &c.value);
    }
    if let Some(m) = message {
        out.push_str("<X:message>");
        escape_into(&mut out, m, false);
        out.push_str("</X:message>");
    }
    out.push_str("</D:error>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DAVx5 (dav4jvm): DAV: as the default namespace, CalDAV as `CAL:`.
    const DAVX5_PROPFIND: &str = r#"<?xml version='1.0' encoding='UTF-8' ?><propfind xmlns="DAV:" xmlns:CAL="urn:ietf:params:xml:ns:caldav" xmlns:CARD="urn:ietf:params:xml:ns:carddav"><prop><current-user-principal /><CAL:calendar-home-set /><CARD:addressbook-home-set /></prop></propfind>"#;

    /// Thunderbird: CalDAV as the default namespace, DAV: as `D:`.
    const THUNDERBIRD_MULTIGET: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<calendar-multiget xmlns:D="DAV:" xmlns="urn:ietf:params:xml:ns:caldav">
  <D:prop>
    <D:getetag/>
    <calendar-data/>
  </D:prop>
  <D:href>/dav/calendars/1/10/a%40b.ics</D:href>
  <D:href>
    /dav/calendars/1/10/c.ics
  </D:href>
</calendar-multiget>"#;

    /// Apple (dataaccessd): DAV: as `A:`.
    const APPLE_SYNC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<A:sync-collection xmlns:A="DAV:">
  <A:sync-token>http://capstone/ns/sync/12</A:sync-token>
  <A:sync-level>1</A:sync-level>
  <A:prop>
    <A:getetag/>
    <A:getcontenttype/>
  </A:prop>
</A:sync-collection>"#;

    #[test]
    fn davx5_propfind() {
        let req = parse_propfind(DAVX5_PROPFIND.as_bytes()).unwrap();
        assert_eq!(
            req,
            PropRequest::Props(vec![
                Name::new(DAV, "current-user-principal"),
                Name::new(CALDAV, "calendar-home-set"),
                Name::new("urn:ietf:params:xml:ns:carddav", "addressbook-home-set"),
            ])
        );
    }

    #[test]
    fn empty_and_allprop_propfind() {
        assert_eq!(parse_propfind(b"").unwrap(), PropRequest::AllProp(vec![]));
        assert_eq!(
            parse_propfind(b"  \r\n").unwrap(),
            PropRequest::AllProp(vec![])
        );
        let body = r#"<d:propfind xmlns:d="DAV:"><d:allprop/><d:include><x:a xmlns:x="urn:x"/></d:include></d:propfind>"#;
        assert_eq!(
            parse_propfind(body.as_bytes()).unwrap(),
            PropRequest::AllProp(vec![Name::new("urn:x", "a")])
        );
        let body = r#"<propfind xmlns="DAV:"><propname/></propfind>"#;
        assert_eq!(
            parse_propfind(body.as_bytes()).unwrap(),
            PropRequest::PropName
        );
    }

    #[test]
    fn thunderbird_multiget() {
        let Report::Multiget { props, hrefs } =
            parse_report(THUNDERBIRD_MULTIGET.as_bytes()).unwrap()
        else {
            panic!("not a multiget")
        };
        assert!(props.wants(CALDAV, "calendar-data"));
        assert!(props.wants(DAV, "getetag"));
        assert_eq!(
            hrefs,
            ["/dav/calendars/1/10/a%40b.ics", "/dav/calendars/1/10/c.ics"]
        );
    }

    #[test]
    fn apple_sync_collection() {
        let r = parse_report(APPLE_SYNC.as_bytes()).unwrap();
        assert_eq!(
            r,
            Report::SyncCollection {
                token: "http://capstone/ns/sync/12".into(),
                level: "1".into(),
                limit: None,
                props: PropRequest::Props(vec![
                    Name::new(DAV, "getetag"),
                    Name::new(DAV, "getcontenttype")
                ]),
            }
        );
        let initial = r#"<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><limit><nresults>5</nresults></limit><prop><getetag/></prop></sync-collection>"#;
        let Report::SyncCollection { token, limit, .. } = parse_report(initial.as_bytes()).unwrap()
        else {
            panic!()
        };
        assert_eq!((token.as_str(), limit), ("", Some(5)));
    }

    #[test]
    fn calendar_query_filter() {
        let body = r#"<?xml version="1.0" encoding="utf-8" ?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/></D:prop>
  <C:filter>
    <C:comp-filter name="VCALENDAR">
      <C:comp-filter name="vtodo">
        <C:time-range start="20261201T000000Z"/>
        <C:prop-filter name="COMPLETED"><C:is-not-defined/></C:prop-filter>
        <C:prop-filter name="STATUS">
          <C:text-match negate-condition="yes" collation="i;octet">CANCELLED</C:text-match>
        </C:prop-filter>
      </C:comp-filter>
    </C:comp-filter>
  </C:filter>
</C:calendar-query>"#;
        let Report::CalendarQuery { filter, .. } = parse_report(body.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(filter.name, "VCALENDAR");
        let todo = &filter.comps[0];
        assert_eq!(todo.name, "VTODO");
        assert_eq!(
            todo.time_range,
            Some(TimeRange {
                start: Some(1_796_083_200),
                end: None
            })
        );
        assert!(todo.props[0].is_not_defined);
        let tm = todo.props[1].text_match.as_ref().unwrap();
        assert_eq!(
            (tm.text.as_str(), tm.negate, tm.collation),
            ("CANCELLED", true, Collation::Octet)
        );
    }

    #[test]
    fn other_reports_and_bad_bodies() {
        let body = r#"<A:expand-property xmlns:A="DAV:"/>"#;
        assert_eq!(
            parse_report(body.as_bytes()).unwrap(),
            Report::Other(Name::new(DAV, "expand-property"))
        );
        assert!(parse_report(b"").is_err());
        assert!(parse_propfind(b"<a:propfind xmlns:a='DAV:'><a:prop>").is_err());
        assert!(parse_propfind(b"<x:propfind><x:prop/></x:propfind>").is_err()); // unbound prefix
        assert!(parse_propfind(b"<propfind xmlns='urn:not-dav'><prop/></propfind>").is_err());
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><propfind xmlns="DAV:">&lol;</propfind>"#;
        assert!(parse(bomb.as_bytes()).is_err());
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn text_entities_and_cdata() {
        let body = r#"<d:x xmlns:d="DAV:">a &amp; b &#x41;<![CDATA[<c>]]></d:x>"#;
        assert_eq!(parse(body.as_bytes()).unwrap().unwrap().text, "a & b A<c>");
    }

    #[test]
    fn proppatch_in_order() {
        let body = r#"<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:A="http://apple.com/ns/ical/">
  <D:set><D:prop><D:displayname>Groceries &amp; more</D:displayname>
    <A:calendar-color>#FF8800FF</A:calendar-color></D:prop></D:set>
  <D:remove><D:prop><A:calendar-order/></D:prop></D:remove>
</D:propertyupdate>"#;
        let ops = parse_proppatch(body.as_bytes()).unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[0].value.as_ref().unwrap().text, "Groceries & more");
        assert!(ops[1].name.is(APPLE, "calendar-color"));
        assert!(ops[2].name.is(APPLE, "calendar-order") && ops[2].value.is_none());
    }

    #[test]
    fn multistatus_escapes_and_round_trips() {
        let mut ms = Multistatus::new();
        let found = vec![
            (
                Name::new(DAV, "displayname"),
                Value::Text("Tom & <Jerry>\u{1}".into()),
            ),
            (
                Name::new(CALDAV, "calendar-data"),
                Value::Text("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n".into()),
            ),
        ];
        let missing = vec![
            (Name::new("urn:x-odd", "weird"), Value::Empty),
            (Name::new("", "nons"), Value::Empty),
        ];
        ms.response(
            "/dav/a%40b.ics",
            &[(StatusCode::OK, found), (StatusCode::NOT_FOUND, missing)],
        );
        ms.status("/dav/gone.ics", StatusCode::NOT_FOUND);
        ms.sync_token("http://capstone/ns/sync/3");
        let out = ms.finish();
        assert!(out.contains("Tom &amp; &lt;Jerry&gt;\u{fffd}"), "{out}");
        assert!(out.contains("BEGIN:VCALENDAR&#13;\nEND"), "{out}");
        // Our own parser (namespace-aware, strict) reads it back.
        let root = parse(out.as_bytes()).unwrap().unwrap();
        assert!(root.is(DAV, "multistatus"));
        let first = &root.children[0];
        let stats: Vec<_> = first.children_named(DAV, "propstat").collect();
        let data = stats[0]
            .child(DAV, "prop")
            .unwrap()
            .child(CALDAV, "calendar-data");
        assert_eq!(data.unwrap().text, "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n");
        let odd = stats[1].child(DAV, "prop").unwrap();
        assert!(odd.child("urn:x-odd", "weird").is_some());
        assert!(odd.child("", "nons").is_some());
        assert_eq!(
            root.child(DAV, "sync-token").unwrap().text,
            "http://capstone/ns/sync/3"
        );
    }

    #[test]
    fn error_body_is_well_formed() {
        let body = error_body(
            &[Node::empty(CALDAV, "valid-calendar-data")],
            Some("line 3: <bad>"),
        );
        let root = parse(body.as_bytes()).unwrap().unwrap();
        assert!(root.is(DAV, "error"));
        assert!(root.child(CALDAV, "valid-calendar-data").is_some());
        assert_eq!(
            root.child(CAPSTONE, "message").unwrap().text,
            "line 3: <bad>"
        );
    }
}
