//! The tasks app's domain values: each parses from what a client sends and is stored typed.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;
use sea_orm::{DeriveActiveEnum, EnumIter, sea_query::StringLen};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::recurrence;

/// A member's role in a project, from least to most: each can do what the ones before it
/// can. The creator is `owner`; there may be several owners, never none.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
#[schema(as = ProjectRole)]
pub enum Role {
    /// Reads the project and its tasks.
    #[sea_orm(string_value = "viewer")]
    Viewer,
    /// And comments on tasks.
    #[sea_orm(string_value = "commenter")]
    Commenter,
    /// And makes, changes and deletes tasks.
    #[sea_orm(string_value = "editor")]
    Editor,
    /// And changes the project and its members.
    #[sea_orm(string_value = "admin")]
    Admin,
    /// And deletes the project; makes and removes admins and owners.
    #[sea_orm(string_value = "owner")]
    Owner,
}

/// A task's status, as iCalendar's VTODO `STATUS` (RFC 5545 §3.8.1.11).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[sea_orm(string_value = "needs_action")]
    NeedsAction,
    #[sea_orm(string_value = "in_progress")]
    InProgress,
    #[sea_orm(string_value = "completed")]
    Completed,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

impl Status {
    /// Whether the task is finished, one way or the other: no reminder, not overdue.
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled)
    }
}

/// What a recurring task's next occurrence follows: its due date (every Monday), or the
/// day it was completed (three days after it was last done).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    #[sea_orm(string_value = "due")]
    Due,
    #[sea_orm(string_value = "completion")]
    Completion,
}

/// What a relative reminder is relative to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
#[serde(rename_all = "snake_case")]
pub enum RelativeTo {
    #[sea_orm(string_value = "start")]
    Start,
    #[sea_orm(string_value = "due")]
    Due,
    #[sea_orm(string_value = "deadline")]
    Deadline,
}

/// What a reminder found late (the server was down at its time) does.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
#[serde(rename_all = "snake_case")]
pub enum LatePolicy {
    /// Sent if no later than `late_limit_minutes`, else folded into the next digest.
    #[default]
    #[sea_orm(string_value = "send")]
    Send,
    /// Always folded into the next digest.
    #[sea_orm(string_value = "digest")]
    Digest,
    /// Sent if no later than the limit, else dropped (the delivery log says so).
    #[sea_orm(string_value = "drop")]
    Drop,
}

/// A task's priority: 1 (urgent) to 4 (none), as Todoist's p1–p4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "i64", into = "i16")]
#[schema(value_type = i16, minimum = 1, maximum = 4)]
pub struct Priority(i16);

impl Priority {
    pub const NONE: Self = Self(4);

    pub fn get(self) -> i16 {
        self.0
    }

    /// iCalendar's PRIORITY (0 none, 1–4 high, 5 medium, 6–9 low; RFC 5545 §3.8.1.9).
    pub fn from_ical(value: u8) -> Self {
        Self(match value {
            1..=4 => 1,
            5 => 2,
            6..=9 => 3,
            _ => 4,
        })
    }

    pub fn to_ical(self) -> u8 {
        match self.0 {
            1 => 1,
            2 => 5,
            3 => 9,
            _ => 0,
        }
    }
}

impl TryFrom<i64> for Priority {
    type Error = String;

    fn try_from(value: i64) -> Result<Self, Self::Error> {
        match value {
            1..=4 => Ok(Self(value as i16)),
            _ => Err(format!("{value} is not a priority: 1 (urgent) to 4 (none)")),
        }
    }
}

impl From<Priority> for i16 {
    fn from(p: Priority) -> Self {
        p.0
    }
}

/// `#rrggbb`, lower-cased.
pub fn parse_colour(raw: &str) -> Result<String, String> {
    let hex = raw.strip_prefix('#').unwrap_or("");
    if hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(format!("#{}", hex.to_ascii_lowercase()))
    } else {
        Err("is not a colour as #rrggbb".to_owned())
    }
}

/// A name or title: trimmed, not empty, at most `max` characters.
pub fn parse_name(raw: &str, max: usize) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        Err("must not be empty".to_owned())
    } else if name.chars().count() > max {
        Err(format!("must be at most {max} characters"))
    } else {
        Ok(name.to_owned())
    }
}

/// An IANA zone name.
pub fn parse_zone(raw: &str) -> Result<Tz, String> {
    raw.parse::<Tz>()
        .map_err(|_| format!("{raw:?} is not an IANA time zone, such as Europe/London"))
}

/// A due date or a start: a day, a wall-clock time anywhere (floating), or a wall-clock
/// time in a zone. As the user gave it; its instant is [`When::instant`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum When {
    /// A day without a time: `{"kind":"date","date":"2026-05-01"}`.
    Date { date: NaiveDate },
    /// A wall-clock time wherever the user is: `{"kind":"floating","local":"2026-05-01T09:00:00"}`.
    Floating { local: NaiveDateTime },
    /// A wall-clock time in a zone: `{"kind":"zoned","local":"2026-05-01T09:00:00","zone":"Europe/London"}`.
    Zoned {
        local: NaiveDateTime,
        #[serde(with = "zone_name")]
        #[schema(value_type = String, example = "Europe/London")]
        zone: Tz,
    },
}

impl When {
    /// The wall clock: a date's is its midnight.
    pub fn local(&self) -> NaiveDateTime {
        match *self {
            Self::Date { date } => date.and_time(NaiveTime::MIN),
            Self::Floating { local } | Self::Zoned { local, .. } => local,
        }
    }

    /// The same kind at another wall-clock time (the next occurrence of a series).
    pub fn at_local(&self, local: NaiveDateTime) -> Self {
        match *self {
            Self::Date { .. } => Self::Date { date: local.date() },
            Self::Floating { .. } => Self::Floating { local },
            Self::Zoned { zone, .. } => Self::Zoned { local, zone },
        }
    }

    /// The zone it lives in: its own, or `viewer`'s for a floating time and a date.
    pub fn zone_or(&self, viewer: Tz) -> Tz {
        match *self {
            Self::Zoned { zone, .. } => zone,
            _ => viewer,
        }
    }

    /// The instant tasks are sorted, filtered and reminded by. A date is due until its
    /// last second (overdue from the next day on); a floating time and a date are placed
    /// in `viewer`'s zone (the zone of the user who set it).
    pub fn instant(&self, viewer: Tz) -> DateTime<Utc> {
        match *self {
            Self::Date { date } => {
                let end = date.and_time(NaiveTime::MIN) + TimeDelta::days(1);
                recurrence::place(end, viewer) - TimeDelta::seconds(1)
            }
            Self::Floating { local } => recurrence::place(local, viewer),
            Self::Zoned { local, zone } => recurrence::place(local, zone),
        }
    }

    /// The stored columns: kind, date, time, zone.
    pub fn columns(&self) -> (&'static str, NaiveDate, Option<NaiveTime>, Option<String>) {
        match *self {
            Self::Date { date } => ("date", date, None, None),
            Self::Floating { local } => ("floating", local.date(), Some(local.time()), None),
            Self::Zoned { local, zone } => (
                "zoned",
                local.date(),
                Some(local.time()),
                Some(zone.name().to_owned()),
            ),
        }
    }

    /// From the stored columns; None when there is none (or a stored zone no longer
    /// exists in the zone database, in which case the time floats).
    pub fn from_columns(
        kind: Option<&str>,
        date: Option<NaiveDate>,
        time: Option<NaiveTime>,
        zone: Option<&str>,
    ) -> Option<Self> {
        let date = date?;
        Some(match (kind?, time) {
            ("date", _) | (_, None) => Self::Date { date },
            ("zoned", Some(time)) => match zone.and_then(|z| z.parse::<Tz>().ok()) {
                Some(zone) => Self::Zoned {
                    local: date.and_time(time),
                    zone,
                },
                None => Self::Floating {
                    local: date.and_time(time),
                },
            },
            (_, Some(time)) => Self::Floating {
                local: date.and_time(time),
            },
        })
    }

    /// Whether the date is within the years the API accepts.
    pub fn check_range(&self) -> Result<(), String> {
        let year = chrono::Datelike::year(&self.local());
        if (1970..=9999).contains(&year) {
            Ok(())
        } else {
            Err("must be between the years 1970 and 9999".to_owned())
        }
    }
}

/// A zone as its IANA name in JSON.
mod zone_name {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(zone: &Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(zone.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(d)?;
        super::parse_zone(&name).map_err(D::Error::custom)
    }
}
