//! A task as an iCalendar VTODO and back: what CalDAV, the calendar feed and the `.ics`
//! import and export share.
//!
//! What Capstone models is written from its columns; what it does not (a client's X-
//! properties, VTIMEZONEs, overridden instances, a rule it cannot expand, alarm properties)
//! is kept in `ical_extra` and written back as it came, so a client never loses it.

use serde::{Deserialize, Serialize};

use crate::{
    api::{Trigger, ValidChanges, ValidRecurrence, ValidReminder},
    entities::{reminder, task},
    ical::{self, Alarm, AlarmTrigger, Object, Todo},
    model::{Anchor, LatePolicy, Priority, RelativeTo, Status, When},
    recurrence::Rule,
};

/// What a client sent that Capstone does not model, kept with the task.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Extra {
    /// Other VTODO properties, raw lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub todo: Vec<String>,
    /// Other components (VTIMEZONE…), raw.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    /// Other VCALENDAR properties, raw.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<String>,
    /// Overridden instances (VTODOs with RECURRENCE-ID), as iCalendar text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<String>,
    /// The client's PRIORITY, when Capstone's four levels would change it on the way back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
}

impl Extra {
    pub fn of(task: &task::Model) -> Self {
        task.ical_extra
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default()
    }

    pub fn to_column(&self) -> Option<String> {
        let empty = self.todo.is_empty()
            && self.components.is_empty()
            && self.properties.is_empty()
            && self.overrides.is_none()
            && self.priority.is_none();
        (!empty).then(|| serde_json::to_string(self).expect("extras serialise"))
    }
}

/// What a task needs besides its row to be written as iCalendar.
pub struct Context<'a> {
    pub labels: &'a [String],
    pub parent_uid: Option<&'a str>,
    pub reminders: &'a [reminder::Model],
}

/// `task` as a calendar object.
pub fn to_object(task: &task::Model, cx: &Context<'_>) -> Object {
    let extra = Extra::of(task);
    let due = task.due();
    let priority = Priority::try_from(i64::from(task.priority)).unwrap_or(Priority::NONE);
    let mut todo = Todo {
        uid: task.uid.clone(),
        summary: task.title.clone(),
        description: task.description.clone(),
        status: Some(match task.status {
            Status::NeedsAction => ical::Status::NeedsAction,
            Status::InProgress => ical::Status::InProcess,
            Status::Completed => ical::Status::Completed,
            Status::Cancelled => ical::Status::Cancelled,
        }),
        completed: task.completed_at,
        percent_complete: (task.status == Status::Completed).then_some(100),
        priority: match extra.priority {
            Some(raw) if Priority::from_ical(raw) == priority => Some(raw),
            _ => Some(priority.to_ical()).filter(|p| *p != 0),
        },
        start: task.start().map(to_ical_when),
        due: due.map(to_ical_when),
        rrule: task.rrule.clone(),
        exdates: match due {
            Some(due) => task
                .exdates()
                .into_iter()
                .map(|local| to_ical_when(due.at_local(local)))
                .collect(),
            None => Vec::new(),
        },
        recurrence_id: None,
        parent_uid: cx.parent_uid.map(str::to_owned),
        categories: cx.labels.to_vec(),
        created: Some(task.created_at),
        last_modified: Some(task.updated_at),
        dtstamp: Some(task.updated_at),
        sequence: Some(task.version - 1),
        alarms: cx.reminders.iter().filter_map(to_alarm).collect(),
        other: extra.todo.clone(),
    };
    if todo.rrule.is_none() {
        todo.exdates.clear();
    }
    let mut todos = vec![todo];
    if let Some(text) = &extra.overrides
        && let Ok(kept) = ical::parse(text)
    {
        todos.extend(kept.todos);
    }
    Object {
        todos,
        other_components: extra.components,
        other_properties: extra.properties,
    }
}

fn to_ical_when(when: When) -> ical::When {
    match when {
        When::Date { date } => ical::When::Date(date),
        When::Floating { local } => ical::When::Floating(local),
        When::Zoned { local, zone } if zone == chrono_tz::UTC => ical::When::Utc(local.and_utc()),
        When::Zoned { local, zone } => ical::When::Zoned(local, zone),
    }
}

fn from_ical_when(when: ical::When) -> When {
    match when {
        ical::When::Date(date) => When::Date { date },
        ical::When::Floating(local) => When::Floating { local },
        ical::When::Zoned(local, zone) => When::Zoned { local, zone },
        ical::When::Utc(at) => When::Zoned {
            local: at.naive_utc(),
            zone: chrono_tz::UTC,
        },
    }
}

fn to_alarm(r: &reminder::Model) -> Option<Alarm> {
    let trigger = match (r.at, r.relative_to) {
        (Some(at), _) => AlarmTrigger::Absolute(at),
        (None, Some(RelativeTo::Due)) => AlarmTrigger::Relative {
            related_to_end: true,
            offset_minutes: i64::from(r.offset_minutes.unwrap_or(0)),
        },
        (None, Some(RelativeTo::Start)) => AlarmTrigger::Relative {
            related_to_end: false,
            offset_minutes: i64::from(r.offset_minutes.unwrap_or(0)),
        },
        // A reminder before the deadline has no VALARM form: it fires, it is not synced.
        _ => return None,
    };
    let other: Vec<String> = r
        .ical_extra
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_else(|| vec!["ACTION:DISPLAY".to_owned()]);
    Some(Alarm {
        trigger,
        acknowledged: r.acknowledged_at,
        uid: None,
        other,
    })
}

/// A calendar object as changes to a task (all of its fields), and what is kept aside.
pub struct Parsed {
    pub changes: ValidChanges,
    pub uid: String,
    pub parent_uid: Option<String>,
    pub extra: Extra,
}

/// Reads the object a client sent.
pub fn from_object(object: Object) -> Result<Parsed, String> {
    let mut todos = object.todos;
    let master_at = todos
        .iter()
        .position(|t| t.recurrence_id.is_none())
        .ok_or("the object has no VTODO without RECURRENCE-ID")?;
    let master = todos.remove(master_at);
    let mut extra = Extra {
        todo: master.other,
        components: object.other_components,
        properties: object.other_properties,
        overrides: None,
        priority: master.priority,
    };
    if !todos.is_empty() {
        extra.overrides = Some(ical::write(&Object {
            todos,
            ..Object::default()
        }));
    }
    let due = master.due.map(from_ical_when);
    let recurrence = match &master.rrule {
        Some(text) => match text.parse::<Rule>() {
            Ok(rule) if due.is_some() => Some(ValidRecurrence {
                rule,
                anchor: Anchor::Due,
                exdates: master
                    .exdates
                    .iter()
                    .map(|w| from_ical_when(*w).local())
                    .collect(),
            }),
            // A rule Capstone cannot expand (or without a due) is kept as it came.
            _ => {
                extra.todo.push(format!("RRULE:{text}"));
                None
            }
        },
        None => None,
    };
    let reminders = master
        .alarms
        .into_iter()
        .map(|alarm| {
            let trigger = match alarm.trigger {
                AlarmTrigger::Absolute(at) => Trigger::At(at),
                AlarmTrigger::Relative {
                    related_to_end,
                    offset_minutes,
                } => Trigger::Relative {
                    to: if related_to_end {
                        RelativeTo::Due
                    } else {
                        RelativeTo::Start
                    },
                    offset_minutes: offset_minutes.clamp(-527_040, 527_040) as i32,
                },
            };
            ValidReminder {
                trigger,
                late_policy: LatePolicy::default(),
                late_limit_minutes: 60,
                acknowledged_at: alarm.acknowledged,
                ical_extra: Some(serde_json::to_string(&alarm.other).expect("lines serialise")),
            }
        })
        .collect();
    let status = master.status.map(|s| match s {
        ical::Status::NeedsAction => Status::NeedsAction,
        ical::Status::InProcess => Status::InProgress,
        ical::Status::Completed => Status::Completed,
        ical::Status::Cancelled => Status::Cancelled,
    });
    let mut labels: Vec<String> = master
        .categories
        .iter()
        .filter_map(|c| crate::api::parse_label(c).ok())
        .collect();
    labels.sort();
    labels.dedup();
    let title = if master.summary.trim().is_empty() {
        "Untitled".to_owned()
    } else {
        master
            .summary
            .chars()
            .take(crate::api::TITLE_CHARS)
            .collect()
    };
    Ok(Parsed {
        uid: master.uid,
        parent_uid: master.parent_uid,
        extra,
        changes: ValidChanges {
            title: Some(title),
            description: Some(master.description),
            status: Some(status.unwrap_or(Status::NeedsAction)),
            priority: Some(master.priority.map_or(Priority::NONE, Priority::from_ical)),
            labels: Some(labels),
            assignees: None,
            project_id: None,
            parent_id: None,
            position: None,
            start: Some(master.start.map(from_ical_when)),
            due: Some(due),
            deadline: None,
            recurrence: Some(recurrence),
            reminders: Some(reminders),
        },
    })
}
