//! What the tasks API reads and writes, and how what it reads is checked: each input is
//! validated into typed values ([`ValidTask`], …) with every bad field named at once.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use platform::{AppResult, error::Validator, http::json::nullable};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    model::{Anchor, LatePolicy, Priority, RelativeTo, Role, Status, When, parse_name},
    recurrence::Rule,
};

/// Reminders a task may have.
pub const MAX_REMINDERS: usize = 20;
/// Labels and assignees a task may have.
pub const MAX_LABELS: usize = 50;
/// A task's title, a project's name, a label's name.
pub const TITLE_CHARS: usize = 500;
pub const NAME_CHARS: usize = 200;
pub const LABEL_CHARS: usize = 100;
/// Markdown descriptions and comments.
pub const TEXT_CHARS: usize = 100_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    pub name: String,
    /// `#rrggbb`.
    pub colour: Option<String>,
    pub description: Option<String>,
    /// Nest it in a project you can administer.
    pub parent_id: Option<i64>,
    pub position: Option<i64>,
}

/// Changes to a project. Absent fields stay as they are; `null` clears.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectChanges {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub colour: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub parent_id: Option<Option<i64>>,
    pub position: Option<i64>,
    pub archived: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectView {
    pub id: i64,
    pub name: String,
    pub colour: Option<String>,
    pub description: Option<String>,
    pub parent_id: Option<i64>,
    pub position: i64,
    pub archived: bool,
    /// Your role in it.
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    /// An existing user's email address.
    pub email: String,
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberChanges {
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub user_id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub since: DateTime<Utc>,
}

/// A recurrence: an RFC 5545 RRULE (`FREQ=WEEKLY;BYDAY=MO`), what it follows, and the
/// occurrences skipped.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recurrence {
    pub rrule: String,
    #[serde(default = "due_anchor")]
    pub anchor: Anchor,
    /// Occurrences skipped, as wall-clock times (`2027-03-29T09:00:00`).
    #[serde(default)]
    pub exdates: Vec<NaiveDateTime>,
}

fn due_anchor() -> Anchor {
    Anchor::Due
}

/// A reminder: at a time, or some minutes before or after the task's start, due or
/// deadline.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReminder {
    pub at: Option<DateTime<Utc>>,
    pub relative_to: Option<RelativeTo>,
    /// Negative: before.
    pub offset_minutes: Option<i32>,
    #[serde(default)]
    pub late_policy: LatePolicy,
    /// How late a reminder may still be sent after the server was down (default 60).
    pub late_limit_minutes: Option<i32>,
}

/// A reminder, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidReminder {
    pub trigger: Trigger,
    pub late_policy: LatePolicy,
    pub late_limit_minutes: i32,
    /// Set by a CalDAV client (RFC 9074); the API acknowledges by its own route.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// A CalDAV client's VALARM lines Capstone does not model, as a JSON array.
    pub ical_extra: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    At(DateTime<Utc>),
    Relative { to: RelativeTo, offset_minutes: i32 },
}

impl NewReminder {
    pub fn validate(&self, v: &mut Validator, field: &str) -> Option<ValidReminder> {
        let trigger = match (self.at, self.relative_to, self.offset_minutes) {
            (Some(at), None, None) => Some(Trigger::At(at)),
            (None, Some(to), offset) => {
                let offset = offset.unwrap_or(0);
                if offset.abs() > 366 * 24 * 60 {
                    v.error(&format!("{field}.offset_minutes"), "must be within a year");
                    None
                } else {
                    Some(Trigger::Relative {
                        to,
                        offset_minutes: offset,
                    })
                }
            }
            _ => {
                v.error(
                    field,
                    "needs either `at`, or `relative_to` with an optional `offset_minutes`",
                );
                None
            }
        };
        let limit = self.late_limit_minutes.unwrap_or(60);
        if !(0..=7 * 24 * 60).contains(&limit) {
            v.error(
                &format!("{field}.late_limit_minutes"),
                "must be between 0 and 10080 (a week)",
            );
        }
        Some(ValidReminder {
            trigger: trigger?,
            late_policy: self.late_policy,
            late_limit_minutes: limit,
            acknowledged_at: None,
            ical_extra: None,
        })
    }
}

/// Fire again later: at `until`, or in `minutes`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Snooze {
    pub until: Option<DateTime<Utc>>,
    pub minutes: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReminderView {
    pub id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relative_to: Option<RelativeTo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset_minutes: Option<i32>,
    pub late_policy: LatePolicy,
    pub late_limit_minutes: i32,
    /// When it fires next, if it will.
    pub next_at: Option<DateTime<Utc>>,
    pub snoozed_until: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    pub title: String,
    /// Markdown.
    pub description: Option<String>,
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    /// Label names (yours; new names are created).
    #[serde(default)]
    pub labels: Vec<String>,
    /// User ids of project members.
    #[serde(default)]
    pub assignees: Vec<i64>,
    pub parent_id: Option<i64>,
    pub position: Option<i64>,
    pub start: Option<When>,
    pub due: Option<When>,
    pub deadline: Option<NaiveDate>,
    pub recurrence: Option<Recurrence>,
    #[serde(default)]
    pub reminders: Vec<NewReminder>,
}

/// Changes to a task. Absent fields stay as they are; `null` clears; lists replace.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskChanges {
    pub title: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub labels: Option<Vec<String>>,
    pub assignees: Option<Vec<i64>>,
    /// Moves the task to another project you can edit.
    pub project_id: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub parent_id: Option<Option<i64>>,
    pub position: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<When>)]
    pub start: Option<Option<When>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<When>)]
    pub due: Option<Option<When>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NaiveDate>)]
    pub deadline: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Recurrence>)]
    pub recurrence: Option<Option<Recurrence>>,
    pub reminders: Option<Vec<NewReminder>>,
}

/// A task's fields, checked: what a create or a change writes.
#[derive(Debug, Clone, Default)]
pub struct ValidChanges {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub labels: Option<Vec<String>>,
    pub assignees: Option<Vec<i64>>,
    pub project_id: Option<i64>,
    pub parent_id: Option<Option<i64>>,
    pub position: Option<i64>,
    pub start: Option<Option<When>>,
    pub due: Option<Option<When>>,
    pub deadline: Option<Option<NaiveDate>>,
    pub recurrence: Option<Option<ValidRecurrence>>,
    pub reminders: Option<Vec<ValidReminder>>,
}

#[derive(Debug, Clone)]
pub struct ValidRecurrence {
    pub rule: Rule,
    pub anchor: Anchor,
    pub exdates: Vec<NaiveDateTime>,
}

impl NewTask {
    pub fn validate(self) -> AppResult<ValidChanges> {
        TaskChanges {
            title: Some(self.title),
            description: Some(self.description),
            status: self.status,
            priority: self.priority,
            labels: Some(self.labels),
            assignees: Some(self.assignees),
            project_id: None,
            parent_id: Some(self.parent_id),
            position: self.position,
            start: Some(self.start),
            due: Some(self.due),
            deadline: Some(self.deadline),
            recurrence: Some(self.recurrence),
            reminders: Some(self.reminders),
        }
        .validate()
    }
}

impl TaskChanges {
    pub fn validate(self) -> AppResult<ValidChanges> {
        let mut v = Validator::new();
        let title = self
            .title
            .and_then(|t| v.check("title", parse_name(&t, TITLE_CHARS)));
        let description = self
            .description
            .map(|d| d.and_then(|d| v.check("description", parse_text(&d))));
        let labels = self.labels.map(|names| {
            if names.len() > MAX_LABELS {
                v.error("labels", format!("at most {MAX_LABELS} labels"));
            }
            let mut valid: Vec<String> = names
                .iter()
                .enumerate()
                .filter_map(|(i, n)| v.check(&format!("labels[{i}]"), parse_label(n)))
                .collect();
            valid.sort();
            valid.dedup();
            valid
        });
        let assignees = self.assignees.map(|mut ids| {
            if ids.len() > MAX_LABELS {
                v.error("assignees", format!("at most {MAX_LABELS} assignees"));
            }
            ids.sort_unstable();
            ids.dedup();
            ids
        });
        for (field, when) in [("start", &self.start), ("due", &self.due)] {
            if let Some(Some(when)) = when
                && let Err(message) = when.check_range()
            {
                v.error(field, message);
            }
        }
        let recurrence = self.recurrence.map(|r| {
            r.and_then(|r| {
                let rule = v.check(
                    "recurrence.rrule",
                    r.rrule.parse::<Rule>().map_err(|e| e.to_string()),
                )?;
                if r.exdates.len() > 1000 {
                    v.error("recurrence.exdates", "at most 1000 skipped occurrences");
                }
                Some(ValidRecurrence {
                    rule,
                    anchor: r.anchor,
                    exdates: r.exdates,
                })
            })
        });
        let reminders = self.reminders.map(|list| {
            if list.len() > MAX_REMINDERS {
                v.error("reminders", format!("at most {MAX_REMINDERS} reminders"));
            }
            list.iter()
                .enumerate()
                .filter_map(|(i, r)| r.validate(&mut v, &format!("reminders[{i}]")))
                .collect()
        });
        if let Some(position) = self.position
            && position < 0
        {
            v.error("position", "must not be negative");
        }
        v.finish()?;
        Ok(ValidChanges {
            title,
            description,
            status: self.status,
            priority: self.priority,
            labels,
            assignees,
            project_id: self.project_id,
            parent_id: self.parent_id,
            position: self.position,
            start: self.start,
            due: self.due,
            deadline: self.deadline,
            recurrence,
            reminders,
        })
    }
}

/// Markdown: at most [`TEXT_CHARS`]; an empty one is none.
pub fn parse_text(raw: &str) -> Result<String, String> {
    if raw.chars().count() > TEXT_CHARS {
        Err(format!("must be at most {TEXT_CHARS} characters"))
    } else {
        Ok(raw.to_owned())
    }
}

/// A label's name: trimmed, 1 to 100 characters, no commas (iCalendar's CATEGORIES
/// separator).
pub fn parse_label(raw: &str) -> Result<String, String> {
    let name = parse_name(raw, LABEL_CHARS)?;
    if name.contains(',') {
        return Err("must not contain a comma".to_owned());
    }
    Ok(name)
}

/// A due or a start as the API shows it: as given, plus its instant.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhenView {
    #[serde(flatten)]
    pub when: When,
    /// The instant (a floating time and a date in your time zone; a date's is its last
    /// second).
    pub utc: DateTime<Utc>,
}

impl WhenView {
    pub fn new(when: When, viewer: Tz) -> Self {
        Self {
            utc: when.instant(viewer),
            when,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    pub id: i64,
    pub project_id: i64,
    /// The iCalendar UID, as CalDAV clients know the task.
    pub uid: String,
    pub title: String,
    pub description: Option<String>,
    pub status: Status,
    pub completed_at: Option<DateTime<Utc>>,
    pub priority: Priority,
    pub labels: Vec<String>,
    pub assignees: Vec<i64>,
    pub parent_id: Option<i64>,
    pub position: i64,
    pub start: Option<WhenView>,
    pub due: Option<WhenView>,
    pub deadline: Option<NaiveDate>,
    pub overdue: bool,
    pub recurrence: Option<Recurrence>,
    pub reminders: Vec<ReminderView>,
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    /// Markdown.
    pub body: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentView {
    pub id: i64,
    pub task_id: i64,
    pub author_id: i64,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
