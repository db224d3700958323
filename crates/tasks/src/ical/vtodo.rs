//! Maps VCALENDAR/VTODO/VALARM to [`Object`], [`Todo`] and [`Alarm`], and back.
//!
//! # Parsing rules
//!
//! - Dates (DTSTART, DUE, RECURRENCE-ID, EXDATE): `VALUE=DATE` or an 8-digit
//!   value gives [`When::Date`]; `…T…Z` gives [`When::Utc`]; `TZID=` plus a
//!   local time gives [`When::Zoned`]; a local time without TZID gives
//!   [`When::Floating`]. A TZID is resolved by [`resolve_tzid`]: an IANA
//!   name; a path such as `/mozilla.org/20050126_1/Europe/London` or
//!   `/freeassociation.sourceforge.net/Tzfile/Europe/Berlin` (its longest
//!   trailing part that is an IANA name); a Windows name such as
//!   `W. Europe Standard Time`. Failing those, the `X-LIC-LOCATION` of the
//!   object's VTIMEZONE with that TZID is tried.
//! - **Unknown TZID**: the typed field gets the local time as
//!   [`When::Floating`], and the original line is also kept in
//!   [`Todo::other`]. When writing, such a kept DTSTART/DUE/RECURRENCE-ID/
//!   EXDATE line is written instead of the typed value while the typed field
//!   still holds the same floating value(s), so the TZID and the VTIMEZONE
//!   that defines it survive. Once Capstone changes the value, the kept line
//!   is dropped and the typed value is written. So nothing is lost, and
//!   Capstone's edits win.
//! - COMPLETED, CREATED, LAST-MODIFIED, DTSTAMP, ACKNOWLEDGED and absolute
//!   TRIGGERs must be UTC (RFC 5545). We accept a zoned value and convert
//!   it, and treat a floating value as UTC.
//! - A typed property that appears a second time (a second SUMMARY, another
//!   RELATED-TO) goes to `other`. So does a value we cannot represent (an
//!   unknown STATUS, PRIORITY > 9, PERCENT-COMPLETE > 100, a SEQUENCE that is
//!   not a number, RELATED-TO with a RELTYPE other than PARENT).
//! - A VALARM we cannot represent (no TRIGGER; a trigger in whole seconds
//!   that is not whole minutes, like `-PT30S`; an absolute trigger with an
//!   unknown TZID) is kept whole, as raw lines at the end of
//!   [`Todo::other`]. So is every sub-component of a VTODO other than VALARM.
//!   Sub-components of a VALARM go to the end of [`Alarm::other`].
//! - A malformed date, date-time or duration is a [`ParseError`], as are
//!   broken structure and missing or conflicting UIDs.
//!
//! # Writing rules
//!
//! CRLF line ends, folded at 75 octets, `VERSION:2.0` and
//! `PRODID:-//Capstone//Tasks//EN` (the client's PRODID and VERSION are not
//! kept). Typed properties come first in a fixed order, then `other` in its
//! order, then the VALARMs. `Zoned` writes `TZID=<IANA name>`. **No VTIMEZONE
//! is generated.** RFC 7809 allows time zones by reference. Thunderbird,
//! Apple's clients, DAVx5 (ical4j) and Evolution (libical) all resolve IANA
//! ids from their own tz databases, and a VTIMEZONE we generated from
//! chrono-tz could only repeat the same rules in a less exact form. The
//! VTIMEZONEs a client sent stay in [`Object::other_components`] and are
//! written back. If DTSTAMP is missing, LAST-MODIFIED, CREATED or the current
//! time stands in for it (RFC 5545 requires it). A VALARM without an ACTION
//! among its `other` lines gets `ACTION:DISPLAY`, and a DISPLAY alarm without
//! a DESCRIPTION gets the task's summary (both are required by RFC 5545).
//!
//! # What is lossy
//!
//! All of it is semantically neutral except the first point.
//! - Parameters we do not model on typed properties are dropped: LANGUAGE on
//!   SUMMARY; ALTREP on DESCRIPTION (Thunderbird's HTML description as a
//!   `data:` URL, where the plain text survives); RANGE on RECURRENCE-ID;
//!   X- parameters. Dropping ALTREP is also the safe choice: Thunderbird
//!   prefers it over the plain text, so a kept ALTREP would hide any
//!   description Capstone edits.
//! - How typed values are spelled is normalised: several CATEGORIES lines
//!   become one; RELATED-TO without RELTYPE gets `RELTYPE=PARENT`; triggers
//!   are written in the shortest form, so `TRIGGER;VALUE=DURATION:-P0DT0H15M0S`
//!   becomes `TRIGGER:-PT15M`; a TZID becomes its IANA name; an empty
//!   SUMMARY is omitted; a TZID on a DATE or UTC value is dropped.
//! - The order of the lines changes (typed properties first), but the lines
//!   themselves do not.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

pub use super::lines::escape_text;
use super::lines::{
    self, Component, ContentLine, fold_into, format_param_value, raw_name, split_text_list,
    unescape_text, write_raw_block,
};

/// The PRODID written on every object.
pub const PRODID: &str = "-//Capstone//Tasks//EN";

/// A DATE or DATE-TIME value in one of its four RFC 5545 forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum When {
    /// `VALUE=DATE:20270501`, an all-day date.
    Date(NaiveDate),
    /// `20270501T090000`, local time wherever the user is.
    Floating(NaiveDateTime),
    /// `TZID=Europe/London:20270501T090000`.
    Zoned(NaiveDateTime, Tz),
    /// `20270501T090000Z`.
    Utc(DateTime<Utc>),
}

/// VTODO STATUS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    NeedsAction,
    InProcess,
    Completed,
    Cancelled,
}

impl Status {
    /// The iCalendar spelling.
    pub fn as_ical(self) -> &'static str {
        match self {
            Status::NeedsAction => "NEEDS-ACTION",
            Status::InProcess => "IN-PROCESS",
            Status::Completed => "COMPLETED",
            Status::Cancelled => "CANCELLED",
        }
    }

    /// Parses a STATUS value case-insensitively (also `CANCELED`); `None` for
    /// anything else, including VEVENT/VJOURNAL statuses.
    pub fn from_ical(value: &str) -> Option<Status> {
        match value.trim().to_ascii_uppercase().as_str() {
            "NEEDS-ACTION" => Some(Status::NeedsAction),
            "IN-PROCESS" => Some(Status::InProcess),
            "COMPLETED" => Some(Status::Completed),
            "CANCELLED" | "CANCELED" => Some(Status::Cancelled),
            _ => None,
        }
    }
}

/// When an alarm fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlarmTrigger {
    /// A duration from DTSTART (`RELATED=START`, the default) or, with
    /// `related_to_end`, from DUE. Negative is before.
    Relative {
        related_to_end: bool,
        offset_minutes: i64,
    },
    /// `TRIGGER;VALUE=DATE-TIME:…Z`.
    Absolute(DateTime<Utc>),
}

/// A VALARM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alarm {
    pub trigger: AlarmTrigger,
    /// RFC 9074 ACKNOWLEDGED.
    pub acknowledged: Option<DateTime<Utc>>,
    /// RFC 9074 UID of the alarm.
    pub uid: Option<String>,
    /// Every other property of the VALARM (ACTION, DESCRIPTION,
    /// X-WR-ALARMUID, RELATED-TO…) as raw content lines, verbatim (unfolded),
    /// in order. Any sub-component follows as its raw lines.
    pub other: Vec<String>,
}

/// A VTODO.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Todo {
    pub uid: String,
    /// Unescaped; empty when there was no SUMMARY.
    pub summary: String,
    /// Unescaped.
    pub description: Option<String>,
    pub status: Option<Status>,
    pub completed: Option<DateTime<Utc>>,
    pub percent_complete: Option<u8>,
    /// The raw 0–9 value (1 highest, 9 lowest, 0 undefined).
    pub priority: Option<u8>,
    pub start: Option<When>,
    pub due: Option<When>,
    /// The RRULE value text as given.
    pub rrule: Option<String>,
    pub exdates: Vec<When>,
    /// Set on an overridden instance of a recurring task.
    pub recurrence_id: Option<When>,
    /// RELATED-TO;RELTYPE=PARENT, or RELATED-TO with no RELTYPE.
    pub parent_uid: Option<String>,
    /// All CATEGORIES properties, split on unescaped commas, unescaped.
    pub categories: Vec<String>,
    pub created: Option<DateTime<Utc>>,
    pub last_modified: Option<DateTime<Utc>>,
    pub dtstamp: Option<DateTime<Utc>>,
    pub sequence: Option<i64>,
    pub alarms: Vec<Alarm>,
    /// Every other VTODO property, raw, verbatim (unfolded), in order, X-
    /// properties included. Then the raw lines of any sub-component that is
    /// not a representable VALARM. It may also hold the original
    /// DTSTART/DUE/RECURRENCE-ID/EXDATE line whose TZID could not be
    /// resolved (see the module docs).
    pub other: Vec<String>,
}

/// A calendar object resource: one VCALENDAR holding one UID, that is a
/// master VTODO plus possibly overridden instances (RECURRENCE-ID).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Object {
    pub todos: Vec<Todo>,
    /// Other components (VTIMEZONE, VEVENT…), each as its raw unfolded
    /// lines, BEGIN to END, joined by CRLF, written back verbatim.
    pub other_components: Vec<String>,
    /// Other VCALENDAR properties (CALSCALE, X-WR-…), raw, written back
    /// verbatim. PRODID and VERSION are not kept; the writer sets them.
    pub other_properties: Vec<String>,
}

#[cfg(test)]
impl Object {
    /// The UID shared by the object's VTODOs.
    pub fn uid(&self) -> Option<&str> {
        self.todos.first().map(|t| t.uid.as_str())
    }

    /// The VTODO without RECURRENCE-ID.
    pub fn master(&self) -> Option<&Todo> {
        self.todos.iter().find(|t| t.recurrence_id.is_none())
    }
}

/// A syntax or structure error, at the 1-based physical line where the
/// offending (logical) line starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl ParseError {
    pub fn new(line: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            line,
            message: message.into(),
        }
    }
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

/// Parses one calendar object (a CalDAV PUT body): exactly one VCALENDAR
/// with at least one VTODO, all VTODOs sharing one UID.
pub fn parse(text: &str) -> Result<Object, ParseError> {
    let calendars = calendars(text)?;
    if let Some(second) = calendars.get(1) {
        return Err(ParseError::new(
            second.begin_line,
            "a calendar object holds one VCALENDAR, found a second",
        ));
    }
    let cal = &calendars[0];
    let tz = TzResolver::from_calendar(cal);
    let mut object = Object {
        other_properties: calendar_properties(cal, false),
        ..Object::default()
    };
    for component in &cal.components {
        if component.name != "VTODO" {
            object.other_components.push(component.raw());
            continue;
        }
        let (todo, uid_line) = todo_from_component(component, &tz)?;
        if let Some(first) = object.todos.first()
            && first.uid != todo.uid
        {
            return Err(ParseError::new(
                uid_line,
                format!(
                    "UID {:?} differs from {:?}: a calendar object holds one UID",
                    todo.uid, first.uid
                ),
            ));
        }
        object.todos.push(todo);
    }
    if object.todos.is_empty() {
        return Err(ParseError::new(
            cal.begin_line,
            "the VCALENDAR holds no VTODO",
        ));
    }
    Ok(object)
}

/// Parses an .ics file of many VTODOs (one or more VCALENDARs, as exported
/// by clients) into one [`Object`] per UID, in order of first appearance.
///
/// Each object gets the VCALENDAR's properties except PRODID, VERSION and
/// METHOD (RFC 4791 §4.1 forbids METHOD in stored objects), and those
/// VTIMEZONEs that its VTODOs reference. Other components (VEVENT, VJOURNAL…)
/// are not tasks and are skipped.
pub fn parse_many(text: &str) -> Result<Vec<Object>, ParseError> {
    let mut objects: Vec<Object> = Vec::new();
    let mut by_uid: HashMap<String, usize> = HashMap::new();
    for cal in &calendars(text)? {
        let tz = TzResolver::from_calendar(cal);
        let properties = calendar_properties(cal, true);
        let timezones: Vec<(String, String)> = cal
            .components
            .iter()
            .filter(|c| c.name == "VTIMEZONE")
            .filter_map(|c| Some((c.property("TZID")?.value.trim().to_string(), c.raw())))
            .collect();
        for component in cal.components.iter().filter(|c| c.name == "VTODO") {
            let (todo, _) = todo_from_component(component, &tz)?;
            let index = *by_uid.entry(todo.uid.clone()).or_insert_with(|| {
                objects.push(Object {
                    other_properties: properties.clone(),
                    ..Object::default()
                });
                objects.len() - 1
            });
            let object = &mut objects[index];
            let mut used = Vec::new();
            component.visit_properties(&mut |p| {
                if let Some(id) = p.param("TZID") {
                    used.push(id.trim());
                }
            });
            for (tzid, raw) in &timezones {
                if used.contains(&tzid.as_str()) && !object.other_components.contains(raw) {
                    object.other_components.push(raw.clone());
                }
            }
            object.todos.push(todo);
        }
    }
    Ok(objects)
}

/// The top-level components, all of which must be VCALENDARs.
fn calendars(text: &str) -> Result<Vec<Component>, ParseError> {
    let top = lines::parse_components(text)?;
    if let Some(c) = top.iter().find(|c| c.name != "VCALENDAR") {
        return Err(ParseError::new(
            c.begin_line,
            format!("expected BEGIN:VCALENDAR, found BEGIN:{}", c.name),
        ));
    }
    if top.is_empty() {
        return Err(ParseError::new(1, "no BEGIN:VCALENDAR found (empty input)"));
    }
    Ok(top)
}

fn calendar_properties(cal: &Component, drop_method: bool) -> Vec<String> {
    cal.properties
        .iter()
        .filter(|p| !(p.is("PRODID") || p.is("VERSION") || (drop_method && p.is("METHOD"))))
        .map(|p| p.raw.clone())
        .collect()
}

/// Returns the todo and the line of its UID.
fn todo_from_component(c: &Component, tz: &TzResolver) -> Result<(Todo, usize), ParseError> {
    let mut t = Todo::default();
    let mut uid_line = None;
    let mut summary_seen = false;
    for cl in &c.properties {
        let name = cl.name.to_ascii_uppercase();
        let handled = match name.as_str() {
            "UID" if uid_line.is_none() => {
                t.uid = cl.value.trim().to_string();
                uid_line = Some(cl.line);
                true
            }
            "SUMMARY" if !summary_seen => {
                summary_seen = true;
                t.summary = unescape_text(&cl.value);
                true
            }
            "DESCRIPTION" if t.description.is_none() => {
                t.description = Some(unescape_text(&cl.value));
                true
            }
            "STATUS" if t.status.is_none() => {
                t.status = Status::from_ical(&cl.value);
                t.status.is_some()
            }
            "COMPLETED" if t.completed.is_none() => {
                t.completed = Some(parse_utc(cl, tz)?);
                true
            }
            "PERCENT-COMPLETE" if t.percent_complete.is_none() => {
                t.percent_complete = cl.value.trim().parse().ok().filter(|p| *p <= 100);
                t.percent_complete.is_some()
            }
            "PRIORITY" if t.priority.is_none() => {
                t.priority = cl.value.trim().parse().ok().filter(|p| *p <= 9);
                t.priority.is_some()
            }
            "DTSTART" if t.start.is_none() => {
                t.start = Some(single_when(cl, tz, &mut t.other)?);
                true
            }
            "DUE" if t.due.is_none() => {
                t.due = Some(single_when(cl, tz, &mut t.other)?);
                true
            }
            "RECURRENCE-ID" if t.recurrence_id.is_none() => {
                t.recurrence_id = Some(single_when(cl, tz, &mut t.other)?);
                true
            }
            "EXDATE" => {
                let parsed = parse_when_values(cl, tz)?;
                if parsed.unresolved_tzid {
                    t.other.push(cl.raw.clone());
                }
                t.exdates.extend(parsed.values);
                true
            }
            "RRULE" if t.rrule.is_none() => {
                t.rrule = Some(cl.value.clone());
                true
            }
            "RELATED-TO"
                if t.parent_uid.is_none()
                    && cl
                        .param("RELTYPE")
                        .is_none_or(|r| r.trim().eq_ignore_ascii_case("PARENT")) =>
            {
                t.parent_uid = Some(cl.value.trim().to_string());
                true
            }
            "CATEGORIES" => {
                t.categories.extend(split_text_list(&cl.value));
                true
            }
            "CREATED" if t.created.is_none() => {
                t.created = Some(parse_utc(cl, tz)?);
                true
            }
            "LAST-MODIFIED" if t.last_modified.is_none() => {
                t.last_modified = Some(parse_utc(cl, tz)?);
                true
            }
            "DTSTAMP" if t.dtstamp.is_none() => {
                t.dtstamp = Some(parse_utc(cl, tz)?);
                true
            }
            "SEQUENCE" if t.sequence.is_none() => {
                t.sequence = cl.value.trim().parse().ok();
                t.sequence.is_some()
            }
            _ => false,
        };
        if !handled {
            t.other.push(cl.raw.clone());
        }
    }
    for child in &c.components {
        if child.name == "VALARM"
            && let Some(alarm) = alarm_from_component(child, tz)?
        {
            t.alarms.push(alarm);
            continue;
        }
        t.other.extend(child.lines.iter().cloned());
    }
    let Some(uid_line) = uid_line else {
        return Err(ParseError::new(c.begin_line, "VTODO without UID"));
    };
    if t.uid.is_empty() {
        return Err(ParseError::new(uid_line, "empty UID"));
    }
    Ok((t, uid_line))
}

/// `None` when the VALARM cannot be represented and must be kept raw.
fn alarm_from_component(c: &Component, tz: &TzResolver) -> Result<Option<Alarm>, ParseError> {
    let mut trigger = None;
    let mut acknowledged = None;
    let mut uid = None;
    let mut other = Vec::new();
    for cl in &c.properties {
        if cl.is("TRIGGER") && trigger.is_none() {
            match parse_trigger(cl, tz)? {
                Some(t) => trigger = Some(t),
                None => return Ok(None),
            }
        } else if cl.is("ACKNOWLEDGED") && acknowledged.is_none() {
            acknowledged = Some(parse_utc(cl, tz)?);
        } else if cl.is("UID") && uid.is_none() {
            uid = Some(cl.value.trim().to_string());
        } else {
            other.push(cl.raw.clone());
        }
    }
    for child in &c.components {
        other.extend(child.lines.iter().cloned());
    }
    Ok(trigger.map(|trigger| Alarm {
        trigger,
        acknowledged,
        uid,
        other,
    }))
}

/// `Ok(None)`: valid but not representable (seconds, unknown TZID).
fn parse_trigger(cl: &ContentLine, tz: &TzResolver) -> Result<Option<AlarmTrigger>, ParseError> {
    let value = cl.value.trim();
    let absolute = match cl.param("VALUE") {
        Some(v) => v.trim().eq_ignore_ascii_case("DATE-TIME"),
        // A date-time never starts with a sign or P.
        None => !value.starts_with(['+', '-', 'P', 'p']),
    };
    if absolute {
        let parsed = parse_when_values(cl, tz)?;
        if parsed.unresolved_tzid {
            return Ok(None);
        }
        return Ok(Some(AlarmTrigger::Absolute(when_to_utc(parsed.values[0]))));
    }
    let seconds = parse_duration_seconds(value).ok_or_else(|| {
        ParseError::new(cl.line, format!("invalid duration {value:?} in TRIGGER"))
    })?;
    if seconds % 60 != 0 {
        return Ok(None);
    }
    Ok(Some(AlarmTrigger::Relative {
        related_to_end: cl
            .param("RELATED")
            .is_some_and(|r| r.trim().eq_ignore_ascii_case("END")),
        offset_minutes: seconds / 60,
    }))
}

/// Parses an RFC 5545 duration (`-P1DT2H`, `P1W`, `-P0DT0H30M0S`) into
/// seconds. Lenient about case and about weeks mixed with days.
pub fn parse_duration_seconds(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let rest = rest.strip_prefix(['P', 'p'])?;
    let mut total: i64 = 0;
    let mut in_time = false;
    let mut number = String::new();
    let mut any = false;
    for c in rest.chars() {
        match c.to_ascii_uppercase() {
            '0'..='9' => number.push(c),
            'T' if !in_time && number.is_empty() => in_time = true,
            unit => {
                let n: i64 = number.parse().ok()?;
                number.clear();
                let factor = match (unit, in_time) {
                    ('W', false) => 7 * 86_400,
                    ('D', false) => 86_400,
                    ('H', true) => 3_600,
                    ('M', true) => 60,
                    ('S', true) => 1,
                    _ => return None,
                };
                total = total.checked_add(n.checked_mul(factor)?)?;
                any = true;
            }
        }
    }
    if !number.is_empty() || !any {
        return None;
    }
    Some(if negative { -total } else { total })
}

/// The shortest RFC 5545 duration for a number of minutes: `PT0S`, `-P1W`,
/// `P1D`, `-P1DT2H`, `-PT30M`.
pub fn format_duration_minutes(minutes: i64) -> String {
    if minutes == 0 {
        return "PT0S".to_string();
    }
    let sign = if minutes < 0 { "-" } else { "" };
    let mut m = minutes.unsigned_abs();
    if m.is_multiple_of(7 * 1440) {
        return format!("{sign}P{}W", m / (7 * 1440));
    }
    let days = m / 1440;
    m %= 1440;
    let (hours, mins) = (m / 60, m % 60);
    let mut out = format!("{sign}P");
    if days > 0 {
        let _ = write!(out, "{days}D");
    }
    if hours > 0 || mins > 0 {
        out.push('T');
        if hours > 0 {
            let _ = write!(out, "{hours}H");
        }
        if mins > 0 {
            let _ = write!(out, "{mins}M");
        }
    }
    out
}

struct WhenValues {
    values: Vec<When>,
    /// A TZID was given but could not be resolved (values are Floating).
    unresolved_tzid: bool,
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDate::from_ymd_opt(
        s[0..4].parse().ok()?,
        s[4..6].parse().ok()?,
        s[6..8].parse().ok()?,
    )
}

/// `YYYYMMDDTHHMMSS[Z]`; also accepts a missing seconds field and maps a
/// leap second to :59. Returns the local date-time and whether it is UTC.
fn parse_date_time(s: &str) -> Option<(NaiveDateTime, bool)> {
    let (s, utc) = match s.strip_suffix(['Z', 'z']) {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    let (d, t) = s.split_once(['T', 't'])?;
    let date = parse_date(d)?;
    if !(t.len() == 6 || t.len() == 4) || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let second: u32 = if t.len() == 6 {
        t[4..6].parse().ok()?
    } else {
        0
    };
    let time =
        NaiveTime::from_hms_opt(t[0..2].parse().ok()?, t[2..4].parse().ok()?, second.min(59))?;
    Some((date.and_time(time), utc))
}

fn parse_when_values(cl: &ContentLine, tz: &TzResolver) -> Result<WhenValues, ParseError> {
    let tzid = cl.param("TZID").map(str::trim).filter(|t| !t.is_empty());
    let mut values = Vec::new();
    let mut unresolved_tzid = false;
    for v in cl.value.split(',').map(str::trim).filter(|v| !v.is_empty()) {
        // Leniency for ISO 8601 extended forms (2027-05-01T09:00:00).
        let compact: String = v.chars().filter(|c| !matches!(c, '-' | ':')).collect();
        let when = if let Some(date) = parse_date(&compact) {
            When::Date(date)
        } else {
            let Some((local, utc)) = parse_date_time(&compact) else {
                return Err(ParseError::new(
                    cl.line,
                    format!(
                        "invalid date or date-time {v:?} in {}",
                        cl.name.to_ascii_uppercase()
                    ),
                ));
            };
            match (utc, tzid) {
                (true, _) => When::Utc(local.and_utc()),
                (false, None) => When::Floating(local),
                (false, Some(id)) => match tz.resolve(id) {
                    Some(zone) => When::Zoned(local, zone),
                    None => {
                        unresolved_tzid = true;
                        When::Floating(local)
                    }
                },
            }
        };
        values.push(when);
    }
    if values.is_empty() {
        return Err(ParseError::new(
            cl.line,
            format!("{} without a value", cl.name.to_ascii_uppercase()),
        ));
    }
    Ok(WhenValues {
        values,
        unresolved_tzid,
    })
}

/// First value; keeps the raw line in `other` when its TZID is unknown.
fn single_when(
    cl: &ContentLine,
    tz: &TzResolver,
    other: &mut Vec<String>,
) -> Result<When, ParseError> {
    let parsed = parse_when_values(cl, tz)?;
    if parsed.unresolved_tzid {
        other.push(cl.raw.clone());
    }
    Ok(parsed.values[0])
}

fn parse_utc(cl: &ContentLine, tz: &TzResolver) -> Result<DateTime<Utc>, ParseError> {
    Ok(when_to_utc(parse_when_values(cl, tz)?.values[0]))
}

/// Floating and dates count as UTC; zoned times are converted (a time that a
/// DST gap skips is moved an hour later).
fn when_to_utc(when: When) -> DateTime<Utc> {
    match when {
        When::Utc(d) => d,
        When::Floating(local) => local.and_utc(),
        When::Date(date) => date.and_time(NaiveTime::MIN).and_utc(),
        When::Zoned(local, zone) => zone
            .from_local_datetime(&local)
            .earliest()
            .or_else(|| {
                zone.from_local_datetime(&(local + Duration::hours(1)))
                    .earliest()
            })
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|| local.and_utc()),
    }
}

// ---------------------------------------------------------------------------
// Time zones
// ---------------------------------------------------------------------------

/// Resolves TZIDs, adding the object's own VTIMEZONEs whose TZID is not
/// resolvable but whose X-LIC-LOCATION is.
struct TzResolver {
    enabled: bool,
    aliases: HashMap<String, Tz>,
}

impl TzResolver {
    fn from_calendar(cal: &Component) -> TzResolver {
        let mut aliases = HashMap::new();
        for vtz in cal.components.iter().filter(|c| c.name == "VTIMEZONE") {
            let Some(tzid) = vtz.property("TZID").map(|p| p.value.trim()) else {
                continue;
            };
            if resolve_tzid(tzid).is_some() {
                continue;
            }
            if let Some(zone) = vtz
                .property("X-LIC-LOCATION")
                .and_then(|p| resolve_tzid(&p.value))
            {
                aliases.insert(tzid.to_string(), zone);
            }
        }
        TzResolver {
            enabled: true,
            aliases,
        }
    }

    /// Resolves nothing: every TZID'd local time reads as floating.
    fn none() -> TzResolver {
        TzResolver {
            enabled: false,
            aliases: HashMap::new(),
        }
    }

    fn resolve(&self, tzid: &str) -> Option<Tz> {
        if !self.enabled {
            return None;
        }
        resolve_tzid(tzid).or_else(|| self.aliases.get(tzid.trim()).copied())
    }
}

/// Resolves a TZID as clients send it: an IANA name (`Europe/London`); a
/// path whose longest trailing part is one (`/mozilla.org/20050126_1/Europe/London`,
/// `/freeassociation.sourceforge.net/Tzfile/Europe/Berlin`,
/// `/citadel.org/20190914_1/Europe/Paris`); or a Windows name
/// (`W. Europe Standard Time`, CLDR's mapping for territory 001).
pub fn resolve_tzid(tzid: &str) -> Option<Tz> {
    let id = tzid.trim().trim_matches('"').trim();
    if id.is_empty() {
        return None;
    }
    if let Ok(zone) = id.parse::<Tz>() {
        return Some(zone);
    }
    let mut rest = id;
    while let Some(slash) = rest.find('/') {
        rest = &rest[slash + 1..];
        if let Ok(zone) = rest.parse::<Tz>() {
            return Some(zone);
        }
    }
    WINDOWS_ZONES
        .iter()
        .find(|(windows, _)| windows.eq_ignore_ascii_case(id))
        .and_then(|(_, iana)| iana.parse().ok())
}

/// Windows time zone names (as Outlook/Exchange send them in TZID) to IANA,
/// after CLDR windowsZones.xml, territory "001".
const WINDOWS_ZONES: &[(&str, &str)] = &[
    ("Dateline Standard Time", "Etc/GMT+12"),
    ("UTC-11", "Etc/GMT+11"),
    ("Aleutian Standard Time", "America/Adak"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("Marquesas Standard Time", "Pacific/Marquesas"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("UTC-09", "Etc/GMT+9"),
    ("Pacific Standard Time (Mexico)", "America/Tijuana"),
    ("UTC-08", "Etc/GMT+8"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Mountain Standard Time (Mexico)", "America/Mazatlan"),
    ("Mountain Standard Time", "America/Denver"),
    ("Yukon Standard Time", "America/Whitehorse"),
    ("Central America Standard Time", "America/Guatemala"),
    ("Central Standard Time", "America/Chicago"),
    ("Easter Island Standard Time", "Pacific/Easter"),
    ("Central Standard Time (Mexico)", "America/Mexico_City"),
    ("Canada Central Standard Time", "America/Regina"),
    ("SA Pacific Standard Time", "America/Bogota"),
    ("Eastern Standard Time (Mexico)", "America/Cancun"),
    ("Eastern Standard Time", "America/New_York"),
    ("Haiti Standard Time", "America/Port-au-Prince"),
    ("Cuba Standard Time", "America/Havana"),
    ("US Eastern Standard Time", "America/Indiana/Indianapolis"),
    ("Turks And Caicos Standard Time", "America/Grand_Turk"),
    ("Paraguay Standard Time", "America/Asuncion"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("Venezuela Standard Time", "America/Caracas"),
    ("Central Brazilian Standard Time", "America/Cuiaba"),
    ("SA Western Standard Time", "America/La_Paz"),
    ("Pacific SA Standard Time", "America/Santiago"),
    ("Newfoundland Standard Time", "America/St_Johns"),
    ("Tocantins Standard Time", "America/Araguaina"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("SA Eastern Standard Time", "America/Cayenne"),
    ("Argentina Standard Time", "America/Argentina/Buenos_Aires"),
    ("Greenland Standard Time", "America/Nuuk"),
    ("Montevideo Standard Time", "America/Montevideo"),
    ("Magallanes Standard Time", "America/Punta_Arenas"),
    ("Saint Pierre Standard Time", "America/Miquelon"),
    ("Bahia Standard Time", "America/Bahia"),
    ("UTC-02", "Etc/GMT+2"),
    ("Azores Standard Time", "Atlantic/Azores"),
    ("Cape Verde Standard Time", "Atlantic/Cape_Verde"),
    ("UTC", "Etc/UTC"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("Sao Tome Standard Time", "Africa/Sao_Tome"),
    ("Morocco Standard Time", "Africa/Casablanca"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("W. Central Africa Standard Time", "Africa/Lagos"),
    ("Jordan Standard Time", "Asia/Amman"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("Middle East Standard Time", "Asia/Beirut"),
    ("Egypt Standard Time", "Africa/Cairo"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("Syria Standard Time", "Asia/Damascus"),
    ("West Bank Standard Time", "Asia/Hebron"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
    ("FLE Standard Time", "Europe/Kyiv"),
    ("Israel Standard Time", "Asia/Jerusalem"),
    ("South Sudan Standard Time", "Africa/Juba"),
    ("Kaliningrad Standard Time", "Europe/Kaliningrad"),
    ("Sudan Standard Time", "Africa/Khartoum"),
    ("Libya Standard Time", "Africa/Tripoli"),
    ("Namibia Standard Time", "Africa/Windhoek"),
    ("Arabic Standard Time", "Asia/Baghdad"),
    ("Turkey Standard Time", "Europe/Istanbul"),
    ("Arab Standard Time", "Asia/Riyadh"),
    ("Belarus Standard Time", "Europe/Minsk"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("E. Africa Standard Time", "Africa/Nairobi"),
    ("Volgograd Standard Time", "Europe/Volgograd"),
    ("Iran Standard Time", "Asia/Tehran"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("Astrakhan Standard Time", "Europe/Astrakhan"),
    ("Azerbaijan Standard Time", "Asia/Baku"),
    ("Russia Time Zone 3", "Europe/Samara"),
    ("Mauritius Standard Time", "Indian/Mauritius"),
    ("Saratov Standard Time", "Europe/Saratov"),
    ("Georgian Standard Time", "Asia/Tbilisi"),
    ("Caucasus Standard Time", "Asia/Yerevan"),
    ("Afghanistan Standard Time", "Asia/Kabul"),
    ("West Asia Standard Time", "Asia/Tashkent"),
    ("Ekaterinburg Standard Time", "Asia/Yekaterinburg"),
    ("Pakistan Standard Time", "Asia/Karachi"),
    ("Qyzylorda Standard Time", "Asia/Qyzylorda"),
    ("India Standard Time", "Asia/Kolkata"),
    ("Sri Lanka Standard Time", "Asia/Colombo"),
    ("Nepal Standard Time", "Asia/Kathmandu"),
    ("Central Asia Standard Time", "Asia/Almaty"),
    ("Bangladesh Standard Time", "Asia/Dhaka"),
    ("Omsk Standard Time", "Asia/Omsk"),
    ("Myanmar Standard Time", "Asia/Yangon"),
    ("SE Asia Standard Time", "Asia/Bangkok"),
    ("Altai Standard Time", "Asia/Barnaul"),
    ("W. Mongolia Standard Time", "Asia/Hovd"),
    ("North Asia Standard Time", "Asia/Krasnoyarsk"),
    ("N. Central Asia Standard Time", "Asia/Novosibirsk"),
    ("Tomsk Standard Time", "Asia/Tomsk"),
    ("China Standard Time", "Asia/Shanghai"),
    ("North Asia East Standard Time", "Asia/Irkutsk"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("W. Australia Standard Time", "Australia/Perth"),
    ("Taipei Standard Time", "Asia/Taipei"),
    ("Ulaanbaatar Standard Time", "Asia/Ulaanbaatar"),
    ("Aus Central W. Standard Time", "Australia/Eucla"),
    ("Transbaikal Standard Time", "Asia/Chita"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("North Korea Standard Time", "Asia/Pyongyang"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("Yakutsk Standard Time", "Asia/Yakutsk"),
    ("Cen. Australia Standard Time", "Australia/Adelaide"),
    ("AUS Central Standard Time", "Australia/Darwin"),
    ("E. Australia Standard Time", "Australia/Brisbane"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("West Pacific Standard Time", "Pacific/Port_Moresby"),
    ("Tasmania Standard Time", "Australia/Hobart"),
    ("Vladivostok Standard Time", "Asia/Vladivostok"),
    ("Lord Howe Standard Time", "Australia/Lord_Howe"),
    ("Bougainville Standard Time", "Pacific/Bougainville"),
    ("Russia Time Zone 10", "Asia/Srednekolymsk"),
    ("Magadan Standard Time", "Asia/Magadan"),
    ("Norfolk Standard Time", "Pacific/Norfolk"),
    ("Sakhalin Standard Time", "Asia/Sakhalin"),
    ("Central Pacific Standard Time", "Pacific/Guadalcanal"),
    ("Russia Time Zone 11", "Asia/Kamchatka"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
    ("UTC+12", "Etc/GMT-12"),
    ("Fiji Standard Time", "Pacific/Fiji"),
    ("Chatham Islands Standard Time", "Pacific/Chatham"),
    ("UTC+13", "Etc/GMT-13"),
    ("Tonga Standard Time", "Pacific/Tongatapu"),
    ("Samoa Standard Time", "Pacific/Apia"),
    ("Line Islands Standard Time", "Pacific/Kiritimati"),
];

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// Writes one calendar object: CRLF, folded at 75 octets,
/// `PRODID:-//Capstone//Tasks//EN`, `VERSION:2.0`.
pub fn write(object: &Object) -> String {
    let mut out = String::new();
    fold_into(&mut out, "BEGIN:VCALENDAR");
    fold_into(&mut out, "VERSION:2.0");
    fold_into(&mut out, &format!("PRODID:{PRODID}"));
    for property in &object.other_properties {
        let name = raw_name(property);
        if !name.eq_ignore_ascii_case("VERSION") && !name.eq_ignore_ascii_case("PRODID") {
            write_raw_block(&mut out, property);
        }
    }
    for component in &object.other_components {
        write_raw_block(&mut out, component);
    }
    for todo in &object.todos {
        write_todo(&mut out, todo);
    }
    fold_into(&mut out, "END:VCALENDAR");
    out
}

fn write_todo(out: &mut String, t: &Todo) {
    let kept = KeptDateLines::find(t);
    fold_into(out, "BEGIN:VTODO");
    fold_into(out, &format!("UID:{}", one_line(&t.uid)));
    let dtstamp = t
        .dtstamp
        .or(t.last_modified)
        .or(t.created)
        .unwrap_or_else(Utc::now);
    fold_into(out, &utc_line("DTSTAMP", dtstamp));
    if let Some(d) = t.created {
        fold_into(out, &utc_line("CREATED", d));
    }
    if let Some(d) = t.last_modified {
        fold_into(out, &utc_line("LAST-MODIFIED", d));
    }
    if let Some(s) = t.sequence {
        fold_into(out, &format!("SEQUENCE:{s}"));
    }
    if !t.summary.is_empty() {
        fold_into(out, &format!("SUMMARY:{}", escape_text(&t.summary)));
    }
    if let Some(d) = &t.description {
        fold_into(out, &format!("DESCRIPTION:{}", escape_text(d)));
    }
    if let Some(s) = t.status {
        fold_into(out, &format!("STATUS:{}", s.as_ical()));
    }
    if let Some(d) = t.completed {
        fold_into(out, &utc_line("COMPLETED", d));
    }
    if let Some(p) = t.percent_complete {
        fold_into(out, &format!("PERCENT-COMPLETE:{p}"));
    }
    if let Some(p) = t.priority {
        fold_into(out, &format!("PRIORITY:{p}"));
    }
    if let (Some(w), false) = (&t.start, kept.start) {
        fold_into(out, &when_line("DTSTART", w));
    }
    if let (Some(w), false) = (&t.due, kept.due) {
        fold_into(out, &when_line("DUE", w));
    }
    if let (Some(w), false) = (&t.recurrence_id, kept.recurrence_id) {
        fold_into(out, &when_line("RECURRENCE-ID", w));
    }
    if let Some(r) = &t.rrule {
        fold_into(out, &format!("RRULE:{}", one_line(r)));
    }
    let mut exdates = t.exdates.clone();
    for covered in &kept.exdates {
        if let Some(i) = exdates.iter().position(|w| w == covered) {
            exdates.remove(i);
        }
    }
    write_exdates(out, &exdates);
    if let Some(p) = &t.parent_uid {
        fold_into(out, &format!("RELATED-TO;RELTYPE=PARENT:{}", one_line(p)));
    }
    if !t.categories.is_empty() {
        let list: Vec<String> = t.categories.iter().map(|c| escape_text(c)).collect();
        fold_into(out, &format!("CATEGORIES:{}", list.join(",")));
    }
    for (line, keep) in t.other.iter().zip(&kept.keep) {
        if *keep {
            write_raw_block(out, line);
        }
    }
    for alarm in &t.alarms {
        write_alarm(out, alarm, &t.summary);
    }
    fold_into(out, "END:VTODO");
}

/// Which raw DTSTART/DUE/RECURRENCE-ID/EXDATE lines in `Todo::other` (kept
/// for an unresolvable TZID) still agree with the typed fields, and so are
/// written instead of them.
struct KeptDateLines {
    keep: Vec<bool>,
    start: bool,
    due: bool,
    recurrence_id: bool,
    exdates: Vec<When>,
}

impl KeptDateLines {
    fn find(t: &Todo) -> KeptDateLines {
        let mut kept = KeptDateLines {
            keep: Vec::with_capacity(t.other.len()),
            start: false,
            due: false,
            recurrence_id: false,
            exdates: Vec::new(),
        };
        let no_zones = TzResolver::none();
        for raw in &t.other {
            let name = raw_name(raw).to_ascii_uppercase();
            if !matches!(
                name.as_str(),
                "DTSTART" | "DUE" | "RECURRENCE-ID" | "EXDATE"
            ) {
                kept.keep.push(true);
                continue;
            }
            let Some(values) = ContentLine::parse(raw, 0)
                .ok()
                .and_then(|cl| parse_when_values(&cl, &no_zones).ok())
                .map(|w| w.values)
            else {
                kept.keep.push(false);
                continue;
            };
            let (typed, flag) = match name.as_str() {
                "DTSTART" => (&t.start, &mut kept.start),
                "DUE" => (&t.due, &mut kept.due),
                "RECURRENCE-ID" => (&t.recurrence_id, &mut kept.recurrence_id),
                _ => {
                    let mut remaining = t.exdates.clone();
                    for used in &kept.exdates {
                        if let Some(i) = remaining.iter().position(|w| w == used) {
                            remaining.remove(i);
                        }
                    }
                    let all = values.iter().all(|v| {
                        remaining
                            .iter()
                            .position(|w| w == v)
                            .map(|i| remaining.remove(i))
                            .is_some()
                    });
                    if all {
                        kept.exdates.extend(values);
                    }
                    kept.keep.push(all);
                    continue;
                }
            };
            let agrees = !*flag && *typed == Some(values[0]);
            *flag |= agrees;
            kept.keep.push(agrees);
        }
        kept
    }
}

fn write_exdates(out: &mut String, exdates: &[When]) {
    let mut i = 0;
    while i < exdates.len() {
        let params = when_params(&exdates[i]);
        let mut values = Vec::new();
        while i < exdates.len() && when_params(&exdates[i]) == params {
            values.push(when_value(&exdates[i]));
            i += 1;
        }
        fold_into(out, &format!("EXDATE{params}:{}", values.join(",")));
    }
}

fn write_alarm(out: &mut String, a: &Alarm, summary: &str) {
    fold_into(out, "BEGIN:VALARM");
    if let Some(uid) = &a.uid {
        fold_into(out, &format!("UID:{}", one_line(uid)));
    }
    match a.trigger {
        AlarmTrigger::Relative {
            related_to_end,
            offset_minutes,
        } => {
            let related = if related_to_end { ";RELATED=END" } else { "" };
            fold_into(
                out,
                &format!(
                    "TRIGGER{related}:{}",
                    format_duration_minutes(offset_minutes)
                ),
            );
        }
        AlarmTrigger::Absolute(d) => {
            fold_into(out, &format!("TRIGGER;VALUE=DATE-TIME:{}", utc_value(d)));
        }
    }
    if let Some(d) = a.acknowledged {
        fold_into(out, &utc_line("ACKNOWLEDGED", d));
    }
    // Only the VALARM's own properties, not those of a sub-component.
    let own: Vec<&String> = a
        .other
        .iter()
        .take_while(|l| !raw_name(l).eq_ignore_ascii_case("BEGIN"))
        .collect();
    let action = own
        .iter()
        .find(|l| raw_name(l).eq_ignore_ascii_case("ACTION"))
        .map(|l| {
            ContentLine::parse(l, 0)
                .map(|cl| cl.value.trim().to_ascii_uppercase())
                .unwrap_or_default()
        });
    if action.is_none() {
        fold_into(out, "ACTION:DISPLAY");
    }
    let display = action.as_deref().is_none_or(|a| a == "DISPLAY");
    if display
        && !own
            .iter()
            .any(|l| raw_name(l).eq_ignore_ascii_case("DESCRIPTION"))
    {
        let text = if summary.is_empty() {
            "Reminder"
        } else {
            summary
        };
        fold_into(out, &format!("DESCRIPTION:{}", escape_text(text)));
    }
    for line in &a.other {
        write_raw_block(out, line);
    }
    fold_into(out, "END:VALARM");
}

fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], "")
}

fn format_local(d: &NaiveDateTime) -> String {
    d.format("%Y%m%dT%H%M%S").to_string()
}

fn utc_value(d: DateTime<Utc>) -> String {
    format!("{}Z", format_local(&d.naive_utc()))
}

fn utc_line(name: &str, d: DateTime<Utc>) -> String {
    format!("{name}:{}", utc_value(d))
}

fn when_params(w: &When) -> String {
    match w {
        When::Date(_) => ";VALUE=DATE".to_string(),
        When::Zoned(_, zone) => format!(";TZID={}", format_param_value(zone.name())),
        When::Floating(_) | When::Utc(_) => String::new(),
    }
}

fn when_value(w: &When) -> String {
    match w {
        When::Date(d) => d.format("%Y%m%d").to_string(),
        When::Floating(d) | When::Zoned(d, _) => format_local(d),
        When::Utc(d) => utc_value(*d),
    }
}

fn when_line(name: &str, w: &When) -> String {
    format!("{name}{}:{}", when_params(w), when_value(w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ical::lines::unfold;

    fn crlf(s: &str) -> String {
        s.replace('\n', "\r\n")
    }

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn local(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        ymd(y, mo, d).and_hms_opt(h, mi, s).unwrap()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        local(y, mo, d, h, mi, s).and_utc()
    }

    fn logical(text: &str) -> Vec<String> {
        unfold(text).into_iter().map(|l| l.text).collect()
    }

    /// Property names that the writer regenerates from typed fields.
    const REGENERATED: &[&str] = &[
        "BEGIN",
        "END",
        "PRODID",
        "VERSION",
        "UID",
        "SUMMARY",
        "DESCRIPTION",
        "STATUS",
        "COMPLETED",
        "PERCENT-COMPLETE",
        "PRIORITY",
        "DTSTART",
        "DUE",
        "RECURRENCE-ID",
        "RRULE",
        "EXDATE",
        "RELATED-TO",
        "CATEGORIES",
        "CREATED",
        "LAST-MODIFIED",
        "DTSTAMP",
        "SEQUENCE",
        "TRIGGER",
        "ACKNOWLEDGED",
    ];

    /// Every input line that is not regenerated must come out byte for byte
    /// (after unfolding), in the same relative order.
    fn assert_untyped_lines_kept(input: &str, output: &str) {
        let out = logical(output);
        let mut pos = 0;
        for line in logical(input) {
            if REGENERATED.contains(&raw_name(&line).to_ascii_uppercase().as_str()) {
                continue;
            }
            match out[pos..].iter().position(|o| *o == line) {
                Some(i) => pos += i + 1,
                None => panic!("not kept verbatim/in order: {line}\n--- output:\n{output}"),
            }
        }
    }

    fn assert_well_formed(out: &str) {
        assert!(
            out.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Capstone//Tasks//EN\r\n")
        );
        assert!(out.ends_with("END:VCALENDAR\r\n"));
        for phys in out[..out.len() - 2].split("\r\n") {
            assert!(phys.len() <= 75, "{} octets: {phys:?}", phys.len());
            assert!(!phys.contains(['\r', '\n']));
        }
    }

    /// parse → write → parse gives the same object, write is stable, and
    /// untyped lines survive verbatim.
    fn round_trip(input: &str) -> (Object, String) {
        let object = parse(input).unwrap_or_else(|e| panic!("{e}"));
        let output = write(&object);
        assert_well_formed(&output);
        let mut again = parse(&output).unwrap_or_else(|e| panic!("{e}\n{output}"));
        // Without DTSTAMP the writer supplies the current time.
        let stable = write(&again);
        for (a, o) in again.todos.iter_mut().zip(&object.todos) {
            if o.dtstamp.is_none() && o.last_modified.is_none() && o.created.is_none() {
                a.dtstamp = None;
            }
        }
        assert_eq!(again, object, "parse(write(x)) != x\n{output}");
        assert_eq!(stable, output, "write is not stable");
        assert_untyped_lines_kept(input, &output);
        (object, output)
    }

    const THUNDERBIRD: &str = r#"BEGIN:VCALENDAR
PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN
VERSION:2.0
BEGIN:VTIMEZONE
TZID:Europe/Berlin
X-TZINFO:Europe/Berlin[2024a]
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
END:STANDARD
END:VTIMEZONE
BEGIN:VTODO
CREATED:20240301T101010Z
LAST-MODIFIED:20240304T081501Z
DTSTAMP:20240304T081501Z
UID:6c0f4f3a-1d7e-4b8a-9f2e-0d1c2b3a4e5f
SUMMARY:Call the plumber\, ask about the boiler
STATUS:IN-PROCESS
PRIORITY:1
PERCENT-COMPLETE:30
CATEGORIES:Home
DTSTART;TZID=Europe/Berlin:20240304T090000
DUE;TZID=Europe/Berlin:20240305T170000
X-MOZ-GENERATION:3
X-MOZ-LASTACK:20240304T081501Z
X-MOZ-SNOOZE-TIME:20240305T161500Z
SEQUENCE:2
DESCRIPTION;ALTREP="data:text/html,%3Cp%3EThe%20boiler%20makes%20a%20%3Cb%3E
 noise%3C%2Fb%3E%3C%2Fp%3E":The boiler makes a noise\nPhone: 030 1234567
BEGIN:VALARM
ACTION:DISPLAY
TRIGGER;VALUE=DURATION;RELATED=END:-PT15M
DESCRIPTION:Default Mozilla Description
X-WR-ALARMUID:7f8e2d1c-3b4a-4c5d-8e9f-0a1b2c3d4e5f
END:VALARM
END:VTODO
END:VCALENDAR
"#;

    #[test]
    fn thunderbird_round_trip() {
        let (object, output) = round_trip(&crlf(THUNDERBIRD));
        assert_eq!(object.todos.len(), 1);
        assert_eq!(object.other_components.len(), 1);
        assert!(
            object.other_components[0].starts_with("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n")
        );
        assert!(object.other_properties.is_empty());
        let t = &object.todos[0];
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(t.uid, "6c0f4f3a-1d7e-4b8a-9f2e-0d1c2b3a4e5f");
        assert_eq!(t.summary, "Call the plumber, ask about the boiler");
        assert_eq!(
            t.description.as_deref(),
            Some("The boiler makes a noise\nPhone: 030 1234567")
        );
        assert_eq!(t.status, Some(Status::InProcess));
        assert_eq!(t.priority, Some(1));
        assert_eq!(t.percent_complete, Some(30));
        assert_eq!(t.sequence, Some(2));
        assert_eq!(t.categories, ["Home"]);
        assert_eq!(
            t.start,
            Some(When::Zoned(local(2024, 3, 4, 9, 0, 0), berlin))
        );
        assert_eq!(
            t.due,
            Some(When::Zoned(local(2024, 3, 5, 17, 0, 0), berlin))
        );
        assert_eq!(t.created, Some(utc(2024, 3, 1, 10, 10, 10)));
        assert_eq!(t.dtstamp, Some(utc(2024, 3, 4, 8, 15, 1)));
        assert_eq!(
            t.other,
            [
                "X-MOZ-GENERATION:3",
                "X-MOZ-LASTACK:20240304T081501Z",
                "X-MOZ-SNOOZE-TIME:20240305T161500Z"
            ]
        );
        let alarm = &t.alarms[0];
        assert_eq!(
            alarm.trigger,
            AlarmTrigger::Relative {
                related_to_end: true,
                offset_minutes: -15
            }
        );
        assert_eq!(
            alarm.other,
            [
                "ACTION:DISPLAY",
                "DESCRIPTION:Default Mozilla Description",
                "X-WR-ALARMUID:7f8e2d1c-3b4a-4c5d-8e9f-0a1b2c3d4e5f"
            ]
        );
        let out = logical(&output);
        assert!(out.contains(&"DUE;TZID=Europe/Berlin:20240305T170000".to_string()));
        assert!(out.contains(&"TRIGGER;RELATED=END:-PT15M".to_string()));
        // Documented loss: ALTREP is dropped, the plain text stays.
        assert!(
            out.contains(&"DESCRIPTION:The boiler makes a noise\\nPhone: 030 1234567".to_string())
        );
        assert!(!output.contains("ALTREP"));
        // The VTIMEZONE is written back exactly once, none is generated.
        assert_eq!(output.matches("BEGIN:VTIMEZONE").count(), 1);
    }

    const APPLE_REMINDERS: &str = r#"BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Apple Inc.//iOS 17.4//EN
CALSCALE:GREGORIAN
BEGIN:VTIMEZONE
TZID:Europe/London
BEGIN:DAYLIGHT
TZOFFSETFROM:+0000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
DTSTART:19810329T010000
TZNAME:BST
TZOFFSETTO:+0100
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0100
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
DTSTART:19961027T020000
TZNAME:GMT
TZOFFSETTO:+0000
END:STANDARD
END:VTIMEZONE
BEGIN:VTODO
CREATED:20240302T081233Z
DTSTAMP:20240306T100104Z
DTSTART;TZID=Europe/London:20240306T100000
DUE;TZID=Europe/London:20240306T100000
LAST-MODIFIED:20240306T100104Z
PRIORITY:5
SEQUENCE:0
STATUS:NEEDS-ACTION
SUMMARY:Renew passport
UID:E6A3C3F0-8A1B-4D2B-9B61-7C2C3F7E0B1A
URL;VALUE=URI:https://www.gov.uk/renew-adult-passport
X-APPLE-SORT-ORDER:731059200
BEGIN:VALARM
ACKNOWLEDGED:20240306T100002Z
ACTION:DISPLAY
DESCRIPTION:Reminder
TRIGGER;VALUE=DATE-TIME:20240306T100000Z
UID:0D4D6E0A-58A1-4E7B-A4E5-0C2E6B9F1D11
X-WR-ALARMUID:0D4D6E0A-58A1-4E7B-A4E5-0C2E6B9F1D11
END:VALARM
BEGIN:VALARM
ACTION:DISPLAY
DESCRIPTION:Reminder
TRIGGER;VALUE=DATE-TIME:19760401T005545Z
UID:B2C17F44-1A5E-4C43-9E57-3D7A5B1E2F90
X-APPLE-PROXIMITY:ARRIVE
X-APPLE-STRUCTURED-LOCATION;VALUE=URI;X-ADDRESS="1 Apple Park Way\\nCupertin
 o CA 95014\\nUnited States";X-APPLE-RADIUS=70.58;X-APPLE-REFERENCEFRAME=1;X-T
 ITLE="Apple Park: Visitor Center":geo:37.332690,-122.005370
X-WR-ALARMUID:B2C17F44-1A5E-4C43-9E57-3D7A5B1E2F90
END:VALARM
END:VTODO
END:VCALENDAR
"#;

    #[test]
    fn apple_reminders_round_trip() {
        let (object, output) = round_trip(&crlf(APPLE_REMINDERS));
        assert_eq!(object.other_properties, ["CALSCALE:GREGORIAN"]);
        let t = &object.todos[0];
        let london = chrono_tz::Europe::London;
        assert_eq!(
            t.due,
            Some(When::Zoned(local(2024, 3, 6, 10, 0, 0), london))
        );
        assert_eq!(t.priority, Some(5));
        assert_eq!(t.status, Some(Status::NeedsAction));
        assert_eq!(
            t.other,
            [
                "URL;VALUE=URI:https://www.gov.uk/renew-adult-passport",
                "X-APPLE-SORT-ORDER:731059200"
            ]
        );
        assert_eq!(t.alarms.len(), 2);
        let a = &t.alarms[0];
        assert_eq!(a.trigger, AlarmTrigger::Absolute(utc(2024, 3, 6, 10, 0, 0)));
        assert_eq!(a.acknowledged, Some(utc(2024, 3, 6, 10, 0, 2)));
        assert_eq!(
            a.uid.as_deref(),
            Some("0D4D6E0A-58A1-4E7B-A4E5-0C2E6B9F1D11")
        );
        let location = &t.alarms[1].other[3];
        assert!(location.starts_with(
            "X-APPLE-STRUCTURED-LOCATION;VALUE=URI;X-ADDRESS=\"1 Apple Park Way\\\\nCupertino CA"
        ));
        assert!(
            location.ends_with("X-TITLE=\"Apple Park: Visitor Center\":geo:37.332690,-122.005370")
        );
        assert!(logical(&output).contains(&"TRIGGER;VALUE=DATE-TIME:19760401T005545Z".to_string()));
        assert!(logical(&output).contains(&"ACKNOWLEDGED:20240306T100002Z".to_string()));
    }

    const TASKS_ORG_SUBTASK: &str = "BEGIN:VCALENDAR
VERSION:2.0
PRODID:+//IDN tasks.org//android-130804//EN
BEGIN:VTODO
DTSTAMP:20240310T120102Z
UID:5390348719293940291
CREATED:20240301T090000Z
LAST-MODIFIED:20240310T120050Z
SUMMARY:Buy potting soil
PRIORITY:9
STATUS:NEEDS-ACTION
X-APPLE-SORT-ORDER:2
RELATED-TO;RELTYPE=PARENT:1203948572039485121
CATEGORIES:Garden,Errands
CATEGORIES:Weekend
DTSTART;VALUE=DATE:20240316
DUE;VALUE=DATE:20240316
RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=SA
BEGIN:VALARM
TRIGGER;RELATED=END:PT9H
ACTION:DISPLAY
DESCRIPTION:Buy potting soil
END:VALARM
END:VTODO
END:VCALENDAR
";

    const TASKS_ORG_PARENT: &str = "BEGIN:VCALENDAR
VERSION:2.0
PRODID:+//IDN tasks.org//android-130804//EN
BEGIN:VTODO
DTSTAMP:20240310T120102Z
UID:1203948572039485121
CREATED:20240229T190000Z
LAST-MODIFIED:20240309T173001Z
SUMMARY:Garden spring cleanup
DESCRIPTION:Shed first\\, then the beds.\\nDon't forget the compost!
PRIORITY:0
STATUS:COMPLETED
COMPLETED:20240309T173000Z
PERCENT-COMPLETE:100
X-APPLE-SORT-ORDER:1
CATEGORIES:Garden
END:VTODO
END:VCALENDAR
";

    #[test]
    fn tasks_org_subtask_round_trip() {
        let (object, output) = round_trip(&crlf(TASKS_ORG_SUBTASK));
        let t = &object.todos[0];
        assert_eq!(t.parent_uid.as_deref(), Some("1203948572039485121"));
        assert_eq!(t.categories, ["Garden", "Errands", "Weekend"]);
        assert_eq!(t.rrule.as_deref(), Some("FREQ=WEEKLY;INTERVAL=2;BYDAY=SA"));
        assert_eq!(t.start, Some(When::Date(ymd(2024, 3, 16))));
        assert_eq!(t.due, Some(When::Date(ymd(2024, 3, 16))));
        assert_eq!(t.other, ["X-APPLE-SORT-ORDER:2"]);
        assert_eq!(
            t.alarms[0].trigger,
            AlarmTrigger::Relative {
                related_to_end: true,
                offset_minutes: 540
            }
        );
        let out = logical(&output);
        for line in [
            "RELATED-TO;RELTYPE=PARENT:1203948572039485121",
            "CATEGORIES:Garden,Errands,Weekend",
            "DUE;VALUE=DATE:20240316",
            "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=SA",
            "TRIGGER;RELATED=END:PT9H",
        ] {
            assert!(out.contains(&line.to_string()), "{line}");
        }
    }

    #[test]
    fn tasks_org_completed_parent_round_trip() {
        let (object, _) = round_trip(&crlf(TASKS_ORG_PARENT));
        let t = &object.todos[0];
        assert_eq!(t.status, Some(Status::Completed));
        assert_eq!(t.completed, Some(utc(2024, 3, 9, 17, 30, 0)));
        assert_eq!(t.percent_complete, Some(100));
        assert_eq!(t.priority, Some(0));
        assert_eq!(
            t.description.as_deref(),
            Some("Shed first, then the beds.\nDon't forget the compost!")
        );
        assert_eq!(t.parent_uid, None);
    }

    /// Todoist-like export: all-day dates, a monthly rule and an overridden
    /// instance of it.
    const TODOIST_RENT: &str = "BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Todoist//Todoist Export//EN
METHOD:PUBLISH
X-WR-CALNAME:Todoist: Inbox
BEGIN:VTODO
UID:todoist-7812345601@todoist.com
DTSTAMP:20240301T000000Z
SUMMARY:Pay rent
DESCRIPTION:https://todoist.com/showTask?id=7812345601
DTSTART;VALUE=DATE:20240401
DUE;VALUE=DATE:20240401
RRULE:FREQ=MONTHLY;BYMONTHDAY=1
EXDATE;VALUE=DATE:20240601,20240701
PRIORITY:1
CATEGORIES:Finance
END:VTODO
BEGIN:VTODO
UID:todoist-7812345601@todoist.com
RECURRENCE-ID;VALUE=DATE:20240501
DTSTAMP:20240301T000000Z
SUMMARY:Pay rent (late this month)
DUE;VALUE=DATE:20240503
END:VTODO
END:VCALENDAR
";

    #[test]
    fn todoist_all_day_round_trip() {
        let (object, output) = round_trip(TODOIST_RENT);
        assert_eq!(object.uid(), Some("todoist-7812345601@todoist.com"));
        assert_eq!(
            object.other_properties,
            ["METHOD:PUBLISH", "X-WR-CALNAME:Todoist: Inbox"]
        );
        let master = object.master().unwrap();
        assert_eq!(master.due, Some(When::Date(ymd(2024, 4, 1))));
        assert_eq!(
            master.exdates,
            [When::Date(ymd(2024, 6, 1)), When::Date(ymd(2024, 7, 1))]
        );
        let instance = &object.todos[1];
        assert_eq!(instance.recurrence_id, Some(When::Date(ymd(2024, 5, 1))));
        assert_eq!(instance.due, Some(When::Date(ymd(2024, 5, 3))));
        let out = logical(&output);
        assert!(out.contains(&"EXDATE;VALUE=DATE:20240601,20240701".to_string()));
        assert!(out.contains(&"RECURRENCE-ID;VALUE=DATE:20240501".to_string()));
    }

    #[test]
    fn date_forms() {
        let text = "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:d\nDTSTART:20270501\nDUE:20270501T090000\n\
                    RECURRENCE-ID:20270501T090000Z\nEXDATE;VALUE=DATE:20270502\n\
                    EXDATE;TZID=Europe/London:20270503T090000,20270504T090000\n\
                    EXDATE:20270505T080000Z\nEND:VTODO\nEND:VCALENDAR\n";
        let (object, output) = round_trip(text);
        let t = &object.todos[0];
        let london = chrono_tz::Europe::London;
        assert_eq!(t.start, Some(When::Date(ymd(2027, 5, 1))));
        assert_eq!(t.due, Some(When::Floating(local(2027, 5, 1, 9, 0, 0))));
        assert_eq!(t.recurrence_id, Some(When::Utc(utc(2027, 5, 1, 9, 0, 0))));
        assert_eq!(
            t.exdates,
            [
                When::Date(ymd(2027, 5, 2)),
                When::Zoned(local(2027, 5, 3, 9, 0, 0), london),
                When::Zoned(local(2027, 5, 4, 9, 0, 0), london),
                When::Utc(utc(2027, 5, 5, 8, 0, 0)),
            ]
        );
        let out = logical(&output);
        for line in [
            "DTSTART;VALUE=DATE:20270501",
            "DUE:20270501T090000",
            "RECURRENCE-ID:20270501T090000Z",
            "EXDATE;VALUE=DATE:20270502",
            "EXDATE;TZID=Europe/London:20270503T090000,20270504T090000",
            "EXDATE:20270505T080000Z",
        ] {
            assert!(out.contains(&line.to_string()), "{line}\n{output}");
        }
    }

    #[test]
    fn tzid_forms_clients_send() {
        let berlin = Some(chrono_tz::Europe::Berlin);
        assert_eq!(resolve_tzid("Europe/Berlin"), berlin);
        assert_eq!(
            resolve_tzid("/mozilla.org/20050126_1/Europe/Berlin"),
            berlin
        );
        assert_eq!(
            resolve_tzid("/freeassociation.sourceforge.net/Tzfile/Europe/Berlin"),
            berlin
        );
        assert_eq!(
            resolve_tzid("/freeassociation.sourceforge.net/Europe/Berlin"),
            berlin
        );
        assert_eq!(
            resolve_tzid("/citadel.org/20190914_1/Europe/Berlin"),
            berlin
        );
        assert_eq!(resolve_tzid("W. Europe Standard Time"), berlin);
        assert_eq!(
            resolve_tzid("/mozilla.org/20070129_1/America/Argentina/Buenos_Aires"),
            Some(chrono_tz::America::Argentina::Buenos_Aires)
        );
        assert_eq!(
            resolve_tzid("eastern standard time"),
            Some(chrono_tz::America::New_York)
        );
        assert_eq!(resolve_tzid("UTC"), Some(chrono_tz::UTC));
        assert_eq!(resolve_tzid("Customized Time Zone"), None);
        assert_eq!(resolve_tzid(""), None);
    }

    #[test]
    fn windows_zone_table_is_valid() {
        for (windows, iana) in WINDOWS_ZONES {
            assert!(iana.parse::<Tz>().is_ok(), "{windows} -> {iana}");
        }
    }

    #[test]
    fn evolution_prefixed_tzid_is_written_as_iana() {
        let text = crlf(
            "BEGIN:VCALENDAR
PRODID:-//Ximian//NONSGML Evolution Calendar//EN
VERSION:2.0
BEGIN:VTIMEZONE
TZID:/freeassociation.sourceforge.net/Europe/Berlin
X-LIC-LOCATION:Europe/Berlin
BEGIN:STANDARD
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
END:VTIMEZONE
BEGIN:VTODO
UID:20240301T101010Z-1234-1000-1000-0@laptop
DTSTAMP:20240301T101010Z
SUMMARY:Tax return
DUE;TZID=/freeassociation.sourceforge.net/Europe/Berlin:20240531T235900
CLASS:PUBLIC
X-EVOLUTION-CALDAV-HREF:/calendars/alice/tasks/20240301T101010Z-1234.ics
END:VTODO
END:VCALENDAR
",
        );
        let (object, output) = round_trip(&text);
        let t = &object.todos[0];
        assert_eq!(
            t.due,
            Some(When::Zoned(
                local(2024, 5, 31, 23, 59, 0),
                chrono_tz::Europe::Berlin
            ))
        );
        assert!(logical(&output).contains(&"DUE;TZID=Europe/Berlin:20240531T235900".to_string()));
        assert!(output.contains("TZID:/freeassociation.sourceforge.net/Europe/Berlin"));
    }

    #[test]
    fn vtimezone_x_lic_location_resolves_custom_tzid() {
        let text = "BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:My Office\nX-LIC-LOCATION:Europe/Paris\n\
                    END:VTIMEZONE\nBEGIN:VTODO\nUID:x\nDUE;TZID=My Office:20240305T170000\n\
                    END:VTODO\nEND:VCALENDAR\n";
        let object = parse(text).unwrap();
        assert_eq!(
            object.todos[0].due,
            Some(When::Zoned(
                local(2024, 3, 5, 17, 0, 0),
                chrono_tz::Europe::Paris
            ))
        );
        assert!(object.todos[0].other.is_empty());
    }

    const OUTLOOK_CUSTOM_TZ: &str = "BEGIN:VCALENDAR
PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN
VERSION:2.0
BEGIN:VTIMEZONE
TZID:Customized Time Zone
BEGIN:STANDARD
DTSTART:16011028T030000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010325T020000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VTODO
UID:040000008200E00074C5B7101A82E008
DTSTAMP:20240301T101010Z
SUMMARY:Quarterly report
DTSTART;TZID=Customized Time Zone:20240304T090000
DUE;TZID=Customized Time Zone:20240305T170000
RRULE:FREQ=WEEKLY;BYDAY=MO
EXDATE;TZID=Customized Time Zone:20240311T090000,20240318T090000
X-MICROSOFT-CDO-BUSYSTATUS:BUSY
END:VTODO
END:VCALENDAR
";

    #[test]
    fn unknown_tzid_is_kept_until_changed() {
        let text = crlf(OUTLOOK_CUSTOM_TZ);
        let (object, output) = round_trip(&text);
        let t = &object.todos[0];
        assert_eq!(t.start, Some(When::Floating(local(2024, 3, 4, 9, 0, 0))));
        assert_eq!(t.due, Some(When::Floating(local(2024, 3, 5, 17, 0, 0))));
        assert_eq!(
            t.exdates,
            [
                When::Floating(local(2024, 3, 11, 9, 0, 0)),
                When::Floating(local(2024, 3, 18, 9, 0, 0))
            ]
        );
        assert_eq!(t.other.len(), 4);
        let out = logical(&output);
        let vtodo_start = out.iter().position(|l| l == "BEGIN:VTODO").unwrap();
        let out = out[vtodo_start..].to_vec();
        for name in ["DTSTART", "DUE", "EXDATE"] {
            assert_eq!(
                out.iter().filter(|l| raw_name(l) == name).count(),
                1,
                "{name}"
            );
        }
        assert!(out.contains(&"DUE;TZID=Customized Time Zone:20240305T170000".to_string()));

        // Capstone moves the due date: the kept line gives way to the typed value.
        let mut changed = object.clone();
        changed.todos[0].due = Some(When::Floating(local(2024, 3, 6, 12, 0, 0)));
        changed.todos[0].exdates.pop();
        let out = logical(&write(&changed));
        let out = out[vtodo_start..].to_vec();
        let dues: Vec<&String> = out.iter().filter(|l| raw_name(l) == "DUE").collect();
        assert_eq!(dues, ["DUE:20240306T120000"]);
        assert!(out.contains(&"DTSTART;TZID=Customized Time Zone:20240304T090000".to_string()));
        let exdates: Vec<&String> = out.iter().filter(|l| raw_name(l) == "EXDATE").collect();
        assert_eq!(exdates, ["EXDATE:20240311T090000"]);
    }

    #[test]
    fn alarm_triggers() {
        let cases = [
            ("TRIGGER:-PT30M", false, -30),
            ("TRIGGER;RELATED=START:P1D", false, 1440),
            ("TRIGGER;VALUE=DURATION:-P1DT2H", false, -1560),
            ("TRIGGER:PT0S", false, 0),
            ("TRIGGER;RELATED=END:-P1W", true, -10080),
            ("TRIGGER:-P0DT0H30M0S", false, -30),
            ("trigger;related=end:+PT1H", true, 60),
        ];
        for (line, end, minutes) in cases {
            let text = format!(
                "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:a\nBEGIN:VALARM\nACTION:DISPLAY\n\
                 DESCRIPTION:x\n{line}\nEND:VALARM\nEND:VTODO\nEND:VCALENDAR\n"
            );
            let object = parse(&text).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(
                object.todos[0].alarms[0].trigger,
                AlarmTrigger::Relative {
                    related_to_end: end,
                    offset_minutes: minutes
                },
                "{line}"
            );
        }
        for (minutes, text) in [
            (-30, "-PT30M"),
            (1440, "P1D"),
            (-1560, "-P1DT2H"),
            (0, "PT0S"),
            (-10080, "-P1W"),
            (20160, "P2W"),
            (90, "PT1H30M"),
            (1441, "P1DT1M"),
            (-120, "-PT2H"),
        ] {
            assert_eq!(format_duration_minutes(minutes), text);
            assert_eq!(parse_duration_seconds(text), Some(minutes * 60));
        }
        assert_eq!(parse_duration_seconds("P"), None);
        assert_eq!(parse_duration_seconds("P1M"), None);
        assert_eq!(parse_duration_seconds("PT5"), None);
        assert_eq!(parse_duration_seconds("-PT"), None);
    }

    #[test]
    fn unrepresentable_alarms_are_kept_raw() {
        let text = "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:a\nSUMMARY:S\n\
                    BEGIN:VALARM\nACTION:AUDIO\nTRIGGER:-PT30S\nEND:VALARM\n\
                    BEGIN:VALARM\nACTION:DISPLAY\nDESCRIPTION:no trigger\nEND:VALARM\n\
                    BEGIN:VALARM\nACTION:DISPLAY\nDESCRIPTION:ok\nTRIGGER:-PT5M\nEND:VALARM\n\
                    END:VTODO\nEND:VCALENDAR\n";
        let (object, _) = round_trip(text);
        let t = &object.todos[0];
        assert_eq!(t.alarms.len(), 1);
        assert_eq!(
            t.other,
            [
                "BEGIN:VALARM",
                "ACTION:AUDIO",
                "TRIGGER:-PT30S",
                "END:VALARM",
                "BEGIN:VALARM",
                "ACTION:DISPLAY",
                "DESCRIPTION:no trigger",
                "END:VALARM",
            ]
        );
    }

    #[test]
    fn writing_a_new_todo() {
        let todo = Todo {
            uid: "capstone-1".into(),
            summary: "Water plants".into(),
            due: Some(When::Zoned(
                local(2027, 5, 1, 9, 0, 0),
                chrono_tz::Europe::London,
            )),
            start: Some(When::Utc(utc(2027, 4, 30, 8, 0, 0))),
            last_modified: Some(utc(2027, 4, 1, 12, 0, 0)),
            status: Some(Status::NeedsAction),
            alarms: vec![Alarm {
                trigger: AlarmTrigger::Relative {
                    related_to_end: true,
                    offset_minutes: -60,
                },
                acknowledged: None,
                uid: Some("alarm-1".into()),
                other: vec![],
            }],
            ..Todo::default()
        };
        let output = write(&Object {
            todos: vec![todo.clone()],
            ..Object::default()
        });
        assert_well_formed(&output);
        assert_eq!(
            logical(&output),
            [
                "BEGIN:VCALENDAR",
                "VERSION:2.0",
                "PRODID:-//Capstone//Tasks//EN",
                "BEGIN:VTODO",
                "UID:capstone-1",
                "DTSTAMP:20270401T120000Z",
                "LAST-MODIFIED:20270401T120000Z",
                "SUMMARY:Water plants",
                "STATUS:NEEDS-ACTION",
                "DTSTART:20270430T080000Z",
                "DUE;TZID=Europe/London:20270501T090000",
                "BEGIN:VALARM",
                "UID:alarm-1",
                "TRIGGER;RELATED=END:-PT1H",
                "ACTION:DISPLAY",
                "DESCRIPTION:Water plants",
                "END:VALARM",
                "END:VTODO",
                "END:VCALENDAR",
            ]
        );
        assert!(!output.contains("VTIMEZONE"));
        let back = parse(&output).unwrap();
        assert_eq!(back.todos[0].due, todo.due);
        assert_eq!(
            back.todos[0].alarms[0].other,
            ["ACTION:DISPLAY", "DESCRIPTION:Water plants"]
        );
    }

    #[test]
    fn fold_300_char_utf8_summary() {
        let summary: String = "aé日😀ß".chars().cycle().take(300).collect();
        let todo = Todo {
            uid: "fold".into(),
            summary: summary.clone(),
            dtstamp: Some(utc(2024, 1, 1, 0, 0, 0)),
            ..Todo::default()
        };
        let output = write(&Object {
            todos: vec![todo],
            ..Object::default()
        });
        assert_well_formed(&output);
        let physical: Vec<&str> = output.split("\r\n").collect();
        let first = physical
            .iter()
            .position(|l| l.starts_with("SUMMARY:"))
            .unwrap();
        let continuation = physical[first + 1..]
            .iter()
            .take_while(|l| l.starts_with(' '))
            .count();
        assert!(continuation >= 10, "{continuation} continuation lines");
        assert_eq!(parse(&output).unwrap().todos[0].summary, summary);
    }

    #[test]
    fn text_escaping() {
        let todo = Todo {
            uid: "esc".into(),
            summary: "Milk, eggs; bread \\ butter".into(),
            description: Some("Line 1\nLine 2\r\nLine 3, done; ok".into()),
            categories: vec!["Groceries, weekly".into(), "Home;Errands".into()],
            dtstamp: Some(utc(2024, 1, 1, 0, 0, 0)),
            ..Todo::default()
        };
        let output = write(&Object {
            todos: vec![todo.clone()],
            ..Object::default()
        });
        let out = logical(&output);
        assert!(out.contains(&"SUMMARY:Milk\\, eggs\\; bread \\\\ butter".to_string()));
        assert!(out.contains(&"DESCRIPTION:Line 1\\nLine 2\\nLine 3\\, done\\; ok".to_string()));
        assert!(out.contains(&"CATEGORIES:Groceries\\, weekly,Home\\;Errands".to_string()));
        let back = &parse(&output).unwrap().todos[0];
        assert_eq!(back.summary, todo.summary);
        assert_eq!(
            back.description.as_deref(),
            Some("Line 1\nLine 2\nLine 3, done; ok")
        );
        assert_eq!(back.categories, todo.categories);
        assert_eq!(escape_text("a,b"), "a\\,b");
    }

    #[test]
    fn quoted_parameters_and_case_insensitive_names() {
        let text = "begin:vcalendar\nbegin:vtodo\nuid:q\nSummary;LANGUAGE=en:Read \"Dune\"\n\
                    Due;Value=Date:20240501\nattach;FMTTYPE=text/html;X-LABEL=\"a;b:c\":http://x;y/z\n\
                    x-custom;X-P=\"http://x;y\":v1,v2\\,v3\nstatus:in-process\nend:vtodo\nend:vcalendar\n";
        let (object, output) = round_trip(text);
        let t = &object.todos[0];
        assert_eq!(t.summary, "Read \"Dune\"");
        assert_eq!(t.due, Some(When::Date(ymd(2024, 5, 1))));
        assert_eq!(t.status, Some(Status::InProcess));
        assert_eq!(
            t.other,
            [
                "attach;FMTTYPE=text/html;X-LABEL=\"a;b:c\":http://x;y/z",
                "x-custom;X-P=\"http://x;y\":v1,v2\\,v3"
            ]
        );
        assert!(output.contains("\r\nx-custom;X-P=\"http://x;y\":v1,v2\\,v3\r\n"));
    }

    #[test]
    fn related_to_variants() {
        let text = "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:r\nRELATED-TO;RELTYPE=CHILD:c1\n\
                    RELATED-TO:p1\nRELATED-TO;RELTYPE=SIBLING:s1\nRELATED-TO;RELTYPE=PARENT:p2\n\
                    END:VTODO\nEND:VCALENDAR\n";
        let (object, _) = round_trip(text);
        let t = &object.todos[0];
        assert_eq!(t.parent_uid.as_deref(), Some("p1"));
        assert_eq!(
            t.other,
            [
                "RELATED-TO;RELTYPE=CHILD:c1",
                "RELATED-TO;RELTYPE=SIBLING:s1",
                "RELATED-TO;RELTYPE=PARENT:p2"
            ]
        );
    }

    #[test]
    fn lenient_input() {
        // BOM, LF only, blank lines, tab folding, lowercase Z, ISO extended
        // dates, CANCELED, a leap second, Google's zero-padded trigger.
        let text = "\u{feff}BEGIN:VCALENDAR\n\nBEGIN:VTODO\nUID:len\nSUMMARY:Hello\n\tWorld\n\
                    STATUS:CANCELED\nDTSTAMP:20240101T000060z\nDUE:2024-05-01T09:00:00\n\
                    COMPLETED;TZID=Europe/Berlin:20240102T100000\n\
                    BEGIN:VALARM\nACTION:DISPLAY\nDESCRIPTION:d\nTRIGGER:-P0DT0H30M0S\n\
                    END:VALARM\nEND:VTODO\nEND:VCALENDAR\n\n";
        let t = &parse(text).unwrap().todos[0];
        assert_eq!(t.summary, "HelloWorld");
        assert_eq!(t.status, Some(Status::Cancelled));
        assert_eq!(t.dtstamp, Some(utc(2024, 1, 1, 0, 0, 59)));
        assert_eq!(t.due, Some(When::Floating(local(2024, 5, 1, 9, 0, 0))));
        assert_eq!(t.completed, Some(utc(2024, 1, 2, 9, 0, 0)));
        assert_eq!(
            t.alarms[0].trigger,
            AlarmTrigger::Relative {
                related_to_end: false,
                offset_minutes: -30
            }
        );
    }

    #[test]
    fn unrepresentable_values_go_to_other() {
        let text = "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:u\nSUMMARY:First\nSUMMARY:Second\n\
                    PRIORITY:12\nSTATUS:X-WAITING\nPERCENT-COMPLETE:150\nSEQUENCE:abc\n\
                    DURATION:PT1H\nBEGIN:X-CUSTOM\nX-A:1\nEND:X-CUSTOM\nEND:VTODO\nEND:VCALENDAR\n";
        let (object, _) = round_trip(text);
        let t = &object.todos[0];
        assert_eq!(t.summary, "First");
        assert_eq!(
            (t.priority, t.status, t.percent_complete, t.sequence),
            (None, None, None, None)
        );
        assert_eq!(
            t.other,
            [
                "SUMMARY:Second",
                "PRIORITY:12",
                "STATUS:X-WAITING",
                "PERCENT-COMPLETE:150",
                "SEQUENCE:abc",
                "DURATION:PT1H",
                "BEGIN:X-CUSTOM",
                "X-A:1",
                "END:X-CUSTOM",
            ]
        );
    }

    fn error_of(text: &str) -> ParseError {
        parse(text).expect_err("should fail")
    }

    #[test]
    fn errors_name_their_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 1, "no BEGIN:VCALENDAR"),
            (
                "BEGIN:VTODO\nUID:x\nEND:VTODO\n",
                1,
                "expected BEGIN:VCALENDAR",
            ),
            ("UID:x\nBEGIN:VCALENDAR\n", 1, "expected BEGIN:VCALENDAR"),
            ("<html>\n", 1, "not a content line"),
            (
                "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:x\nEND:VTODO\n",
                1,
                "never closed",
            ),
            (
                "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:x\nEND:VCALENDAR\n",
                4,
                "does not match",
            ),
            (
                "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:x\nEND:VTODO\nEND:VTODO\n",
                5,
                "END:VTODO does not match BEGIN:VCALENDAR on line 1",
            ),
            (
                "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:x\nEND:VTODO\nEND:VCALENDAR\nEND:VTODO\n",
                6,
                "without a matching BEGIN",
            ),
            (
                "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:x\nBEGIN:VALARM\nEND:VTODO\nEND:VCALENDAR\n",
                5,
                "does not match BEGIN:VALARM on line 4",
            ),
            (
                "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VTODO\nSUMMARY:x\nEND:VTODO\nEND:VCALENDAR\n",
                3,
                "without UID",
            ),
            (
                "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:a\nEND:VTODO\nBEGIN:VTODO\nSUMMARY:b\nUID:b\nEND:VTODO\nEND:VCALENDAR\n",
                7,
                "differs",
            ),
            (
                "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:a\nDUE:20241345\nEND:VTODO\nEND:VCALENDAR\n",
                4,
                "invalid date",
            ),
            (
                "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:a\nSUMMARY:long\n  folded\nDTSTART;TZID=Europe/Paris:\n 20240230T100000\nEND:VTODO\nEND:VCALENDAR\n",
                6,
                "invalid date",
            ),
            (
                "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:a\nCREATED:yesterday\nEND:VTODO\nEND:VCALENDAR\n",
                4,
                "invalid date",
            ),
            (
                "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:a\nBEGIN:VALARM\nTRIGGER:-15M\nEND:VALARM\nEND:VTODO\nEND:VCALENDAR\n",
                5,
                "invalid duration",
            ),
            (
                "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nEND:VEVENT\nEND:VCALENDAR\n",
                1,
                "no VTODO",
            ),
            (
                "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:a\nEND:VTODO\nEND:VCALENDAR\nBEGIN:VCALENDAR\nEND:VCALENDAR\n",
                6,
                "second",
            ),
            (
                "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:a\nX-BAD;P=\"open:x\nEND:VTODO\nEND:VCALENDAR\n",
                4,
                "unterminated",
            ),
        ];
        for (text, line, fragment) in cases {
            let err = error_of(text);
            assert_eq!(err.line, *line, "{text:?}: {err}");
            assert!(err.message.contains(fragment), "{text:?}: {err}");
        }
        // CRLF input counts physical lines the same way.
        assert_eq!(
            error_of(&crlf(
                "BEGIN:VCALENDAR\nBEGIN:VTODO\nDUE:x\nEND:VTODO\nEND:VCALENDAR\n"
            ))
            .line,
            3
        );
    }

    #[test]
    fn parse_error_display() {
        let err = ParseError::new(12, "invalid date");
        assert_eq!(err.to_string(), "line 12: invalid date");
    }

    #[test]
    fn parse_many_groups_by_uid() {
        let second = "BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Todoist//Todoist Export//EN
BEGIN:VTIMEZONE
TZID:America/New_York
X-LIC-LOCATION:America/New_York
END:VTIMEZONE
BEGIN:VTIMEZONE
TZID:Asia/Tokyo
END:VTIMEZONE
BEGIN:VEVENT
UID:event-1
DTSTART:20240401T090000Z
END:VEVENT
BEGIN:VTODO
UID:todoist-7812345602@todoist.com
DTSTAMP:20240301T000000Z
SUMMARY:Dentist appointment
DUE;TZID=America/New_York:20240415T100000
PRIORITY:5
END:VTODO
END:VCALENDAR
";
        let text = format!("{TODOIST_RENT}{second}");
        let objects = parse_many(&text).unwrap();
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[0].uid(), Some("todoist-7812345601@todoist.com"));
        assert_eq!(objects[0].todos.len(), 2);
        assert_eq!(objects[0].other_properties, ["X-WR-CALNAME:Todoist: Inbox"]);
        assert!(objects[0].other_components.is_empty());
        assert_eq!(objects[1].uid(), Some("todoist-7812345602@todoist.com"));
        assert_eq!(
            objects[1].other_components,
            [
                "BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\nX-LIC-LOCATION:America/New_York\r\nEND:VTIMEZONE"
            ]
        );
        for object in &objects {
            let output = write(object);
            assert_well_formed(&output);
            assert_eq!(&parse(&output).unwrap(), object);
        }
        assert_eq!(parse_many("BEGIN:VCALENDAR\nEND:VCALENDAR\n").unwrap(), []);
        let err = parse_many(&format!(
            "{TODOIST_RENT}BEGIN:VCALENDAR\nBEGIN:VTODO\nEND:VTODO\nEND:VCALENDAR\n"
        ))
        .unwrap_err();
        assert_eq!(err.line, 27);
    }
}
