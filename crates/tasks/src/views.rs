//! Tasks as the API shows them: a row with its labels, assignees and reminders, loaded
//! for a whole page at once (one query per table, not per task).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use platform::AppResult;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    api::{Recurrence, ReminderView, TaskView, WhenView},
    entities::{assignee, label, reminder, task, task_label},
    model::{Anchor, Priority},
};

/// What a viewer sees from: their zone (floating times and dates) and the time now
/// (what is overdue).
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub zone: Tz,
    pub now: DateTime<Utc>,
}

pub async fn task(
    db: &impl ConnectionTrait,
    task: task::Model,
    viewer: Viewer,
) -> AppResult<TaskView> {
    let mut views = tasks(db, vec![task], viewer).await?;
    Ok(views.pop().expect("one task in, one view out"))
}

pub async fn tasks(
    db: &impl ConnectionTrait,
    tasks: Vec<task::Model>,
    Viewer { zone: viewer, now }: Viewer,
) -> AppResult<Vec<TaskView>> {
    let ids: Vec<i64> = tasks.iter().map(|t| t.id).collect();
    let mut labels = label_names(db, &ids).await?;
    let mut assignees: HashMap<i64, Vec<i64>> = HashMap::new();
    for a in assignee::Entity::find()
        .filter(assignee::Column::TaskId.is_in(ids.clone()))
        .order_by_asc(assignee::Column::UserId)
        .all(db)
        .await?
    {
        assignees.entry(a.task_id).or_default().push(a.user_id);
    }
    let mut reminders: HashMap<i64, Vec<ReminderView>> = reminders_of(db, &ids)
        .await?
        .into_iter()
        .map(|(task, list)| (task, list.into_iter().map(reminder).collect()))
        .collect();
    Ok(tasks
        .into_iter()
        .map(|t| {
            let names = labels.remove(&t.id).unwrap_or_default();
            let due = t.due();
            TaskView {
                id: t.id,
                project_id: t.project_id,
                uid: t.uid.clone(),
                title: t.title.clone(),
                description: t.description.clone(),
                status: t.status,
                completed_at: t.completed_at,
                priority: Priority::try_from(i64::from(t.priority)).unwrap_or(Priority::NONE),
                labels: names,
                assignees: assignees.remove(&t.id).unwrap_or_default(),
                parent_id: t.parent_id,
                position: t.position,
                start: t.start().map(|s| WhenView::new(s, viewer)),
                overdue: !t.status.is_closed() && due.is_some_and(|d| d.instant(viewer) < now),
                due: due.map(|d| WhenView::new(d, viewer)),
                deadline: t.deadline,
                recurrence: t.rrule.clone().map(|rrule| Recurrence {
                    rrule,
                    anchor: t.recurrence_anchor.unwrap_or(Anchor::Due),
                    exdates: t.exdates(),
                }),
                reminders: reminders.remove(&t.id).unwrap_or_default(),
                created_by: t.created_by,
                created_at: t.created_at,
                updated_at: t.updated_at,
                deleted_at: t.deleted_at,
            }
        })
        .collect())
}

pub fn reminder(r: reminder::Model) -> ReminderView {
    ReminderView {
        id: r.id,
        at: r.at,
        relative_to: r.relative_to,
        offset_minutes: r.offset_minutes,
        late_policy: r.late_policy,
        late_limit_minutes: r.late_limit_minutes,
        next_at: r.next_at,
        snoozed_until: r.snoozed_until,
        acknowledged_at: r.acknowledged_at,
    }
}

/// Each task's label names, sorted and without repeats, for all of `ids` at once.
pub async fn label_names(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> AppResult<HashMap<i64, Vec<String>>> {
    let links = task_label::Entity::find()
        .filter(task_label::Column::TaskId.is_in(ids.to_vec()))
        .all(db)
        .await?;
    let names: HashMap<i64, String> = label::Entity::find()
        .filter(label::Column::Id.is_in(links.iter().map(|l| l.label_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|l| (l.id, l.name))
        .collect();
    let mut labels: HashMap<i64, Vec<String>> = HashMap::new();
    for link in links {
        if let Some(name) = names.get(&link.label_id) {
            labels.entry(link.task_id).or_default().push(name.clone());
        }
    }
    for list in labels.values_mut() {
        list.sort();
        list.dedup();
    }
    Ok(labels)
}

/// Each task's reminders, in the order they were made, for all of `ids` at once.
pub async fn reminders_of(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> AppResult<HashMap<i64, Vec<reminder::Model>>> {
    let mut found: HashMap<i64, Vec<reminder::Model>> = HashMap::new();
    for r in reminder::Entity::find()
        .filter(reminder::Column::TaskId.is_in(ids.to_vec()))
        .order_by_asc(reminder::Column::Id)
        .all(db)
        .await?
    {
        found.entry(r.task_id).or_default().push(r);
    }
    Ok(found)
}
