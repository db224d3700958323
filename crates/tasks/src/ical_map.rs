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

/// The reminders a task keeps when a client sends its VALARMs (`sent`) for a task that has
/// `current`: what a VALARM cannot carry is taken from the current ones. A reminder with
/// no VALARM form (relative to the deadline) was never shown to the client, so it stays;
/// a reminder the client sent back (the same trigger) keeps its late policy and limit.
/// Without this, a client that only renamed a task dropped them.
pub fn merge_reminders(
    current: &[reminder::Model],
    sent: Vec<ValidReminder>,
) -> Vec<ValidReminder> {
    let mut unmatched: Vec<&reminder::Model> = current.iter().collect();
    let mut merged: Vec<ValidReminder> = sent
        .into_iter()
        .map(|mut r| {
            if let Some(at) = unmatched
                .iter()
                .position(|c| to_alarm(c).is_some() && trigger_of(c) == Some(r.trigger))
            {
                let kept = unmatched.remove(at);
                r.late_policy = kept.late_policy;
                r.late_limit_minutes = kept.late_limit_minutes;
            }
            r
        })
        .collect();
    merged.extend(
        current
            .iter()
            .filter(|c| to_alarm(c).is_none())
            .filter_map(|c| {
                Some(ValidReminder {
                    trigger: trigger_of(c)?,
                    late_policy: c.late_policy,
                    late_limit_minutes: c.late_limit_minutes,
                    acknowledged_at: c.acknowledged_at,
                    ical_extra: c.ical_extra.clone(),
                })
            }),
    );
    merged
}

fn trigger_of(r: &reminder::Model) -> Option<Trigger> {
    match (r.at, r.relative_to) {
        (Some(at), _) => Some(Trigger::At(at)),
        (None, Some(to)) => Some(Trigger::Relative {
            to,
            offset_minutes: r.offset_minutes.unwrap_or(0),
        }),
        (None, None) => None,
    }
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

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn row(id: i64, to: RelativeTo, offset: i32, policy: LatePolicy) -> reminder::Model {
        reminder::Model {
            id,
            task_id: 1,
            at: None,
            relative_to: Some(to),
            offset_minutes: Some(offset),
            late_policy: policy,
            late_limit_minutes: 5,
            next_at: None,
            occurrence: None,
            snoozed_until: None,
            acknowledged_at: None,
            ical_extra: None,
            created_at: Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
        }
    }

    fn sent(to: RelativeTo, offset: i32) -> ValidReminder {
        ValidReminder {
            trigger: Trigger::Relative {
                to,
                offset_minutes: offset,
            },
            late_policy: LatePolicy::default(),
            late_limit_minutes: 60,
            acknowledged_at: None,
            ical_extra: Some(r#"["ACTION:DISPLAY"]"#.to_owned()),
        }
    }

    #[test]
    fn a_client_keeps_the_deadline_reminders_and_the_late_policies_it_cannot_see() {
        let current = [
            row(1, RelativeTo::Due, -60, LatePolicy::Drop),
            row(2, RelativeTo::Deadline, -1440, LatePolicy::Digest),
        ];
        let merged = merge_reminders(
            &current,
            vec![sent(RelativeTo::Due, -60), sent(RelativeTo::Start, 0)],
        );
        assert_eq!(merged.len(), 3);
        assert_eq!(merged[0].trigger, sent(RelativeTo::Due, -60).trigger);
        assert_eq!(
            (merged[0].late_policy, merged[0].late_limit_minutes),
            (LatePolicy::Drop, 5)
        );
        // New in the client: the defaults.
        assert_eq!(
            (merged[1].late_policy, merged[1].late_limit_minutes),
            (LatePolicy::default(), 60)
        );
        assert_eq!(
            merged[2].trigger,
            Trigger::Relative {
                to: RelativeTo::Deadline,
                offset_minutes: -1440
            }
        );
        assert_eq!(merged[2].late_policy, LatePolicy::Digest);
    }

    #[test]
    fn an_alarm_the_client_removed_is_gone() {
        let current = [row(1, RelativeTo::Due, -60, LatePolicy::Drop)];
        assert!(merge_reminders(&current, Vec::new()).is_empty());
    }
}
