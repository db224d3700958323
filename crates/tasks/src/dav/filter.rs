//! `CALDAV:calendar-query` filters (RFC 4791 §9.7) and the little iCalendar reading they and
//! the PUT checks need (RFC 5545 §3.1: unfolding, `NAME;PARAM=…:value`, BEGIN/END nesting).
//!
//! Filtering happens here, after the store returned the bodies, so a store only lists and
//! fetches. It is exact for component and property presence (`is-not-defined`), text matches
//! and parameter filters. Time ranges are **lenient, never strict**: the VTODO table of
//! RFC 4791 §9.9 is applied exactly to UTC values; when a value is floating, a date, or has a
//! `TZID` (we keep no timezone database here) the range is widened by 14 hours on each side;
//! a recurring task (`RRULE`/`RDATE`), an unparsable date, or a time range on another
//! component (e.g. `VALARM`) always matches. A client therefore may get a few tasks more than
//! it asked for, never fewer; every client we target filters again locally.

/// A parsed iCalendar component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub name: String,
    pub props: Vec<Property>,
    pub children: Vec<Component>,
}

/// A content line: upper-cased name, parameters (upper-cased names, unquoted values), value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub name: String,
    pub params: Vec<(String, Vec<String>)>,
    pub value: String,
}

impl Component {
    pub fn prop(&self, name: &str) -> Option<&Property> {
        self.props.iter().find(|p| p.name == name)
    }
}

impl Property {
    pub fn param(&self, name: &str) -> Option<&[String]> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// Parses an iCalendar stream into its single top-level component; the error says which
/// line is wrong (shown to the user through `CALDAV:valid-calendar-data`).
pub fn parse_ical(text: &str) -> Result<Component, String> {
    // Unfold (RFC 5545 §3.1): a line starting with a space or tab continues the previous one.
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix([' ', '\t']) {
            match lines.last_mut() {
                Some((_, l)) => l.push_str(rest),
                None => return Err(format!("line {}: continuation of nothing", i + 1)),
            }
        } else if !raw.is_empty() {
            lines.push((i + 1, raw.to_owned()));
        }
    }
    let mut stack: Vec<Component> = Vec::new();
    let mut root: Option<Component> = None;
    for (n, line) in lines {
        let prop = parse_line(&line).map_err(|e| format!("line {n}: {e}"))?;
        match prop.name.as_str() {
            "BEGIN" => {
                if root.is_some() {
                    return Err(format!("line {n}: content after END:{}", prop.value));
                }
                stack.push(Component {
                    name: prop.value.trim().to_ascii_uppercase(),
                    props: Vec::new(),
                    children: Vec::new(),
                });
            }
            "END" => {
                let c = stack
                    .pop()
                    .ok_or_else(|| format!("line {n}: END without BEGIN"))?;
                if !c.name.eq_ignore_ascii_case(prop.value.trim()) {
                    return Err(format!(
                        "line {n}: END:{} closes BEGIN:{}",
                        prop.value, c.name
                    ));
                }
                match stack.last_mut() {
                    Some(p) => p.children.push(c),
                    None => root = Some(c),
                }
            }
            _ => match stack.last_mut() {
                Some(c) => c.props.push(prop),
                None => return Err(format!("line {n}: property outside BEGIN:VCALENDAR")),
            },
        }
    }
    if let Some(c) = stack.last() {
        return Err(format!("BEGIN:{} is never closed", c.name));
    }
    root.ok_or_else(|| "no BEGIN:VCALENDAR".to_owned())
}

fn parse_line(line: &str) -> Result<Property, String> {
    let end = line
        .find([';', ':'])
        .ok_or_else(|| "no ':' in content line".to_owned())?;
    let name = &line[..end];
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(format!("bad property name {name:?}"));
    }
    let mut rest = &line[end..];
    let mut params = Vec::new();
    while let Some(r) = rest.strip_prefix(';') {
        let eq = r
            .find('=')
            .ok_or_else(|| "parameter without '='".to_owned())?;
        let pname = r[..eq].to_ascii_uppercase();
        let mut r = &r[eq + 1..];
        let mut values = Vec::new();
        loop {
            if let Some(q) = r.strip_prefix('"') {
                let close = q.find('"').ok_or_else(|| "unclosed quote".to_owned())?;
                values.push(q[..close].to_owned());
                r = &q[close + 1..];
            } else {
                let stop = r.find([',', ';', ':']).unwrap_or(r.len());
                values.push(r[..stop].to_owned());
                r = &r[stop..];
            }
            match r.strip_prefix(',') {
                Some(more) => r = more,
                None => break,
            }
        }
        params.push((pname, values));
        rest = r;
    }
    let value = rest
        .strip_prefix(':')
        .ok_or_else(|| "no ':' after the parameters".to_owned())?;
    Ok(Property {
        name: name.to_ascii_uppercase(),
        params,
        value: value.to_owned(),
    })
}

// ---------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYYMMDD` or `YYYYMMDDTHHMMSS[Z]` → (seconds since the epoch, as if UTC; is it UTC?).
pub fn parse_datetime(v: &str) -> Option<(i64, bool)> {
    let v = v.trim();
    let num = |s: &str| -> Option<i64> {
        if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    if v.len() < 8 {
        return None;
    }
    let (y, m, d) = (num(v.get(0..4)?)?, num(v.get(4..6)?)?, num(v.get(6..8)?)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let day = days_from_civil(y, m, d) * 86_400;
    if v.len() == 8 {
        return Some((day, false));
    }
    let t = v.get(8..)?.strip_prefix('T')?;
    let (t, utc) = match t.strip_suffix('Z') {
        Some(t) => (t, true),
        None => (t, false),
    };
    if t.len() != 6 {
        return None;
    }
    let (h, mi, s) = (num(&t[0..2])?, num(&t[2..4])?, num(&t[4..6])?);
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some((day + h * 3600 + mi * 60 + s, utc))
}

/// A UTC date-time as used in `time-range` attributes.
pub fn parse_utc(v: &str) -> Option<i64> {
    match parse_datetime(v)? {
        (t, true) => Some(t),
        _ => None,
    }
}

/// RFC 5545 §3.3.6 duration → seconds.
pub fn parse_duration(v: &str) -> Option<i64> {
    let v = v.trim();
    let (sign, v) = match v.as_bytes().first()? {
        b'-' => (-1, &v[1..]),
        b'+' => (1, &v[1..]),
        _ => (1, v),
    };
    let mut v = v.strip_prefix('P')?;
    let mut total = 0i64;
    let mut in_time = false;
    let mut any = false;
    while !v.is_empty() {
        if let Some(r) = v.strip_prefix('T') {
            in_time = true;
            v = r;
            continue;
        }
        let digits = v.bytes().take_while(u8::is_ascii_digit).count();
        let n: i64 = v[..digits].parse().ok()?;
        let unit = v[digits..].chars().next()?;
        total += n * match (unit, in_time) {
            ('W', false) => 7 * 86_400,
            ('D', false) => 86_400,
            ('H', true) => 3600,
            ('M', true) => 60,
            ('S', true) => 1,
            _ => return None,
        };
        any = true;
        v = &v[digits + 1..];
    }
    any.then_some(sign * total)
}

// ---------------------------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------------------------

/// `CALDAV:comp-filter` (RFC 4791 §9.7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompFilter {
    pub name: String,
    pub is_not_defined: bool,
    pub time_range: Option<TimeRange>,
    pub props: Vec<PropFilter>,
    pub comps: Vec<CompFilter>,
}

/// `CALDAV:prop-filter` (RFC 4791 §9.7.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropFilter {
    pub name: String,
    pub is_not_defined: bool,
    pub time_range: Option<TimeRange>,
    pub text_match: Option<TextMatch>,
    pub params: Vec<ParamFilter>,
}

/// `CALDAV:param-filter` (RFC 4791 §9.7.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamFilter {
    pub name: String,
    pub is_not_defined: bool,
    pub text_match: Option<TextMatch>,
}

/// `CALDAV:text-match` (RFC 4791 §9.7.5): substring match under a collation (RFC 4790).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMatch {
    pub text: String,
    pub collation: Collation,
    pub negate: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collation {
    Octet,
    AsciiCasemap,
    UnicodeCasemap,
}

/// `CALDAV:time-range` (RFC 4791 §9.9) in seconds since the epoch; `None` = unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

/// Widening applied when a compared value is not in UTC (max. zone offset).
const SLACK: i64 = 14 * 3600;

impl TextMatch {
    fn matches(&self, value: &str) -> bool {
        let found = match self.collation {
            Collation::Octet => value.contains(&self.text),
            Collation::AsciiCasemap => value
                .to_ascii_lowercase()
                .contains(&self.text.to_ascii_lowercase()),
            Collation::UnicodeCasemap => value.to_lowercase().contains(&self.text.to_lowercase()),
        };
        found != self.negate
    }
}

impl TimeRange {
    fn bounds(&self, exact: bool) -> (i64, i64) {
        let slack = if exact { 0 } else { SLACK };
        (
            self.start.map_or(i64::MIN, |s| s - slack),
            self.end.map_or(i64::MAX, |e| e + slack),
        )
    }

    /// The VTODO table of RFC 4791 §9.9.
    fn matches_todo(&self, todo: &Component) -> bool {
        if todo.prop("RRULE").is_some() || todo.prop("RDATE").is_some() {
            return true;
        }
        let get = |n: &str| todo.prop(n).map(|p| parse_datetime(&p.value));
        let (dtstart, due, completed, created) =
            (get("DTSTART"), get("DUE"), get("COMPLETED"), get("CREATED"));
        let duration = todo.prop("DURATION").map(|p| parse_duration(&p.value));
        let all = [dtstart, due, completed, created];
        if all.iter().any(|v| matches!(v, Some(None))) || matches!(duration, Some(None)) {
            return true; // unparsable: be lenient
        }
        let exact = all.iter().flatten().flatten().all(|(_, utc)| *utc);
        let (s, e) = self.bounds(exact);
        let t = |v: Option<Option<(i64, bool)>>| v.flatten().map(|(t, _)| t);
        let (dtstart, due, completed, created) = (t(dtstart), t(due), t(completed), t(created));
        match (dtstart, duration.flatten(), due, completed, created) {
            (Some(ds), Some(dur), _, _, _) => s <= ds + dur && (e > ds || e >= ds + dur),
            (Some(ds), None, Some(du), _, _) => (s < du || s <= ds) && (e > ds || e >= du),
            (Some(ds), None, None, _, _) => s <= ds && e > ds,
            (None, _, Some(du), _, _) => s < du && e >= du,
            (None, _, None, Some(co), Some(cr)) => (s <= cr || s <= co) && (e >= cr || e >= co),
            (None, _, None, Some(co), None) => s <= co && e >= co,
            (None, _, None, None, Some(cr)) => e > cr,
            (None, _, None, None, None) => true,
        }
    }

    /// A time-range on a date-time property (e.g. `COMPLETED`): the instant lies in the range.
    fn matches_instant(&self, value: &str) -> bool {
        match parse_datetime(value) {
            Some((t, utc)) => {
                let (s, e) = self.bounds(utc);
                s <= t && t < e
            }
            None => true,
        }
    }
}

impl CompFilter {
    /// Whether the calendar object (its `VCALENDAR`) matches this top-level filter.
    pub fn matches_object(&self, root: &Component) -> bool {
        self.matches_among(std::slice::from_ref(root))
    }

    fn matches_among(&self, candidates: &[Component]) -> bool {
        let mut named = candidates.iter().filter(|c| c.name == self.name);
        if self.is_not_defined {
            return named.next().is_none();
        }
        named.any(|c| self.matches_one(c))
    }

    fn matches_one(&self, c: &Component) -> bool {
        let time_ok = match &self.time_range {
            None => true,
            Some(tr) if c.name == "VTODO" => tr.matches_todo(c),
            Some(_) => true, // VALARM and others: lenient
        };
        time_ok
            && self.props.iter().all(|p| p.matches(c))
            && self.comps.iter().all(|f| f.matches_among(&c.children))
    }
}

impl PropFilter {
    fn matches(&self, c: &Component) -> bool {
        let mut named = c.props.iter().filter(|p| p.name == self.name);
        if self.is_not_defined {
            return named.next().is_none();
        }
        named.any(|p| {
            self.time_range
                .as_ref()
                .is_none_or(|tr| tr.matches_instant(&p.value))
                && self
                    .text_match
                    .as_ref()
                    .is_none_or(|tm| tm.matches(&p.value))
                && self.params.iter().all(|f| f.matches(p))
        })
    }
}

impl ParamFilter {
    fn matches(&self, p: &Property) -> bool {
        match p.param(&self.name) {
            None => self.is_not_defined,
            Some(_) if self.is_not_defined => false,
            Some(values) => self
                .text_match
                .as_ref()
                .is_none_or(|tm| values.iter().any(|v| tm.matches(v))),
        }
    }
}

/// RFC 4791 §5.3.2.1 checks the DAV layer makes before the store sees a body: it is
/// iCalendar, it holds only VTODOs (plus VTIMEZONEs), all with one UID.
pub enum BodyProblem {
    /// Not iCalendar at all (→ `CALDAV:valid-calendar-data`).
    Invalid(String),
    /// A VEVENT, VJOURNAL… (→ `CALDAV:supported-calendar-component`).
    Unsupported(String),
    /// No UID, several UIDs, no VTODO (→ `CALDAV:valid-calendar-object-resource`).
    NotOneObject(String),
}

pub fn check_body(ics: &str) -> Result<(), BodyProblem> {
    let root = parse_ical(ics).map_err(BodyProblem::Invalid)?;
    if root.name != "VCALENDAR" {
        return Err(BodyProblem::Invalid(format!(
            "top-level component is {}, not VCALENDAR",
            root.name
        )));
    }
    let mut uid: Option<&str> = None;
    let mut todos = 0;
    for c in &root.children {
        match c.name.as_str() {
            "VTODO" => {
                todos += 1;
                let u = c
                    .prop("UID")
                    .map(|p| p.value.as_str())
                    .ok_or_else(|| BodyProblem::NotOneObject("VTODO without UID".into()))?;
                if uid.is_some_and(|prev| prev != u) {
                    return Err(BodyProblem::NotOneObject(
                        "VTODOs with different UIDs in one resource".into(),
                    ));
                }
                uid = Some(u);
            }
            "VTIMEZONE" => {}
            n if n.starts_with("X-") => {}
            other => {
                return Err(BodyProblem::Unsupported(format!(
                    "{other} is not supported here, only VTODO"
                )));
            }
        }
    }
    if todos == 0 {
        return Err(BodyProblem::NotOneObject("no VTODO".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODO: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nUID:1\r\nSUMMARY:A lon\r\n g line; with: \"quotes\"\r\nDTSTART;TZID=\"Europe/Paris\":20261201T090000\r\nDUE:20261202T090000Z\r\nCATEGORIES:Home,Errands\r\nATTENDEE;CN=\"Doe, J\";ROLE=REQ-PARTICIPANT:mailto:j@example.com\r\nBEGIN:VALARM\r\nTRIGGER:-PT15M\r\nACTION:DISPLAY\r\nEND:VALARM\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";

    fn range(start: &str, end: &str) -> TimeRange {
        TimeRange {
            start: parse_utc(start),
            end: parse_utc(end),
        }
    }

    fn todo(lines: &str) -> Component {
        let ics =
            format!("BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:x\n{lines}\nEND:VTODO\nEND:VCALENDAR\n");
        parse_ical(&ics).unwrap().children.remove(0)
    }

    #[test]
    fn parses_folding_params_and_nesting() {
        let cal = parse_ical(TODO).unwrap();
        assert_eq!(cal.name, "VCALENDAR");
        let t = &cal.children[0];
        assert_eq!(
            t.prop("SUMMARY").unwrap().value,
            "A long line; with: \"quotes\""
        );
        assert_eq!(
            t.prop("DTSTART").unwrap().param("TZID").unwrap(),
            ["Europe/Paris"]
        );
        let att = t.prop("ATTENDEE").unwrap();
        assert_eq!(att.param("CN").unwrap(), ["Doe, J"]);
        assert_eq!(att.value, "mailto:j@example.com");
        assert_eq!(t.children[0].name, "VALARM");
    }

    #[test]
    fn reports_the_bad_line() {
        let e = parse_ical("BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:x\nEND:VCALENDAR\n").unwrap_err();
        assert!(e.starts_with("line 4:"), "{e}");
        assert!(
            parse_ical("BEGIN:VCALENDAR\nno colon here\nEND:VCALENDAR")
                .unwrap_err()
                .starts_with("line 2:")
        );
        assert!(parse_ical("BEGIN:VCALENDAR\n").is_err());
        assert!(parse_ical("").is_err());
    }

    #[test]
    fn dates_and_durations() {
        assert_eq!(parse_datetime("19700101T000000Z"), Some((0, true)));
        assert_eq!(parse_datetime("20261201"), Some((1_796_083_200, false)));
        assert_eq!(
            parse_datetime("20000229T120000"),
            Some((951_825_600, false))
        );
        assert_eq!(parse_datetime("2026-12-01"), None);
        assert_eq!(parse_duration("PT15M"), Some(900));
        assert_eq!(parse_duration("-P1DT1H"), Some(-90_000));
        assert_eq!(parse_duration("P2W"), Some(1_209_600));
        assert_eq!(parse_duration("P"), None);
    }

    #[test]
    fn vtodo_time_range_table() {
        let dec = range("20261201T000000Z", "20261202T000000Z");
        // DUE only: start < DUE <= end.
        assert!(dec.matches_todo(&todo("DUE:20261201T120000Z")));
        assert!(!dec.matches_todo(&todo("DUE:20261203T120000Z")));
        assert!(dec.matches_todo(&todo("DUE:20261202T000000Z")));
        // DTSTART only: start <= DTSTART < end.
        assert!(!dec.matches_todo(&todo("DTSTART:20261202T000000Z")));
        // DTSTART + DUE overlapping the range.
        assert!(dec.matches_todo(&todo("DTSTART:20261130T000000Z\nDUE:20261205T000000Z")));
        // DTSTART + DURATION ending before the range.
        assert!(!dec.matches_todo(&todo("DTSTART:20261129T000000Z\nDURATION:PT1H")));
        // COMPLETED / CREATED only.
        assert!(dec.matches_todo(&todo("COMPLETED:20261201T100000Z")));
        assert!(!dec.matches_todo(&todo("CREATED:20261203T100000Z")));
        assert!(dec.matches_todo(&todo("CREATED:20261101T100000Z")));
        // Nothing: always.
        assert!(dec.matches_todo(&todo("SUMMARY:x")));
        // Lenient: floating/TZID values get 14 h of slack, recurrences always match.
        assert!(dec.matches_todo(&todo("DUE;TZID=Pacific/Auckland:20261202T080000")));
        assert!(!dec.matches_todo(&todo("DUE;TZID=Pacific/Auckland:20261203T080000")));
        assert!(dec.matches_todo(&todo("DUE:20250101T000000Z\nRRULE:FREQ=DAILY")));
        assert!(dec.matches_todo(&todo("DUE:garbage")));
        // Open ranges.
        let after = TimeRange {
            start: parse_utc("20261201T000000Z"),
            end: None,
        };
        assert!(after.matches_todo(&todo("DUE:20301201T000000Z")));
        assert!(!after.matches_todo(&todo("DUE:20201201T000000Z")));
    }

    #[test]
    fn comp_prop_param_filters() {
        let cal = parse_ical(TODO).unwrap();
        let tm = |text: &str, collation, negate| TextMatch {
            text: text.into(),
            collation,
            negate,
        };
        let pf = |name: &str| PropFilter {
            name: name.into(),
            is_not_defined: false,
            time_range: None,
            text_match: None,
            params: vec![],
        };
        let cf = |props: Vec<PropFilter>, comps: Vec<CompFilter>| CompFilter {
            name: "VCALENDAR".into(),
            is_not_defined: false,
            time_range: None,
            props: vec![],
            comps: vec![CompFilter {
                name: "VTODO".into(),
                is_not_defined: false,
                time_range: None,
                props,
                comps,
            }],
        };
        assert!(cf(vec![], vec![]).matches_object(&cal));
        // COMPLETED is not defined; STATUS neither (so a text-match on it cannot match).
        assert!(
            cf(
                vec![PropFilter {
                    is_not_defined: true,
                    ..pf("COMPLETED")
                }],
                vec![]
            )
            .matches_object(&cal)
        );
        assert!(
            !cf(
                vec![PropFilter {
                    text_match: Some(tm("COMPLETED", Collation::Octet, true)),
                    ..pf("STATUS")
                }],
                vec![]
            )
            .matches_object(&cal)
        );
        // Collations.
        let summary = |t| {
            cf(
                vec![PropFilter {
                    text_match: Some(t),
                    ..pf("SUMMARY")
                }],
                vec![],
            )
        };
        assert!(summary(tm("LONG LINE", Collation::AsciiCasemap, false)).matches_object(&cal));
        assert!(!summary(tm("LONG LINE", Collation::Octet, false)).matches_object(&cal));
        assert!(summary(tm("nothing", Collation::Octet, true)).matches_object(&cal));
        // Param filter.
        let with_param = |pfil: ParamFilter| {
            cf(
                vec![PropFilter {
                    params: vec![pfil],
                    ..pf("ATTENDEE")
                }],
                vec![],
            )
        };
        assert!(
            with_param(ParamFilter {
                name: "CN".into(),
                is_not_defined: false,
                text_match: Some(tm("doe", Collation::AsciiCasemap, false))
            })
            .matches_object(&cal)
        );
        assert!(
            with_param(ParamFilter {
                name: "PARTSTAT".into(),
                is_not_defined: true,
                text_match: None
            })
            .matches_object(&cal)
        );
        // Nested VALARM and a VEVENT filter.
        let valarm = CompFilter {
            name: "VALARM".into(),
            is_not_defined: false,
            time_range: None,
            props: vec![],
            comps: vec![],
        };
        assert!(cf(vec![], vec![valarm.clone()]).matches_object(&cal));
        assert!(
            !cf(
                vec![],
                vec![CompFilter {
                    is_not_defined: true,
                    ..valarm
                }]
            )
            .matches_object(&cal)
        );
        let events = CompFilter {
            name: "VCALENDAR".into(),
            is_not_defined: false,
            time_range: None,
            props: vec![],
            comps: vec![CompFilter {
                name: "VEVENT".into(),
                is_not_defined: false,
                time_range: None,
                props: vec![],
                comps: vec![],
            }],
        };
        assert!(!events.matches_object(&cal));
    }

    #[test]
    fn body_checks() {
        assert!(check_body(TODO).is_ok());
        let event = TODO.replace("VTODO", "VEVENT");
        assert!(matches!(
            check_body(&event),
            Err(BodyProblem::Unsupported(_))
        ));
        let two = TODO.replace(
            "END:VCALENDAR",
            "BEGIN:VTODO\r\nUID:2\r\nEND:VTODO\r\nEND:VCALENDAR",
        );
        assert!(matches!(
            check_body(&two),
            Err(BodyProblem::NotOneObject(_))
        ));
        let no_uid = TODO.replace("UID:1\r\n", "");
        assert!(matches!(
            check_body(&no_uid),
            Err(BodyProblem::NotOneObject(_))
        ));
        assert!(matches!(check_body("hello"), Err(BodyProblem::Invalid(_))));
    }
}
