//! Reminders that are neither missed nor sent twice.
//!
//! Each reminder keeps its next firing time (`next_at`) and the occurrence of the task it
//! is for (`occurrence`, the due's wall-clock time, plus the snooze when snoozed). Whenever
//! a task changes — its due, its recurrence, its reminders, its status, the trash — its
//! reminders are planned again in the same transaction ([`replan`]), and a firing is a job
//! on the platform's durable queue, due at `next_at`, under the key
//! `tasks.reminder:{id}:{occurrence}:{time}`: enqueued by any number of instances, it is
//! one row. So a reminder is never missed (the job outlives a restart; a server that was
//! down runs it when it starts) and never doubled:
//!
//! - the job fires only if the reminder still waits for exactly that firing (a re-planned
//!   reminder's old job finds another time and does nothing);
//! - the firing writes its row in `reminder_deliveries` (unique per reminder and
//!   occurrence) in the same transaction as the notifications and webhook events it
//!   queues, so a job run twice (its instance died after the commit) finds the row and
//!   stops.
//!
//! A firing found late (the server was down) follows the reminder's `late_policy`, and
//! its row records how late it was.

use std::sync::Arc;

use chrono::{DateTime, NaiveTime, SubsecRound, TimeDelta, Utc};
use chrono_tz::Tz;
use platform::{
    AppResult,
    db::begin_write,
    jobs::{Enqueue, Job, JobContext, JobError, Jobs},
    notify::{Message, Urgency},
};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, OnConflict},
};
use serde::{Deserialize, Serialize};

use crate::{
    TasksState,
    api::{Trigger, ValidReminder},
    entities::{assignee, delivery, member, project, reminder, task},
    events,
    model::{LatePolicy, RelativeTo, When},
    preferences,
};

/// The notification kind of a reminder.
pub const KIND: &str = "task.reminder";

/// Fires one reminder for one occurrence: see the module's documentation.
#[derive(Debug, Serialize, Deserialize)]
pub struct Fire {
    pub reminder_id: i64,
    pub occurrence: String,
    pub at: DateTime<Utc>,
}

impl Job for Fire {
    const KIND: &'static str = "tasks.fire_reminder";
}

/// Replaces a task's reminders (their times are planned by [`replan`]).
pub async fn replace(
    tx: &impl ConnectionTrait,
    task_id: i64,
    list: &[ValidReminder],
    now: DateTime<Utc>,
) -> AppResult<()> {
    reminder::Entity::delete_many()
        .filter(reminder::Column::TaskId.eq(task_id))
        .exec(tx)
        .await?;
    for r in list {
        add(tx, task_id, r, now).await?;
    }
    Ok(())
}

pub async fn add(
    tx: &impl ConnectionTrait,
    task_id: i64,
    r: &ValidReminder,
    now: DateTime<Utc>,
) -> AppResult<reminder::Model> {
    let (at, relative_to, offset) = match r.trigger {
        Trigger::At(at) => (Some(at), None, None),
        Trigger::Relative { to, offset_minutes } => (None, Some(to), Some(offset_minutes)),
    };
    Ok(reminder::ActiveModel {
        task_id: Set(task_id),
        at: Set(at),
        relative_to: Set(relative_to),
        offset_minutes: Set(offset),
        late_policy: Set(r.late_policy),
        late_limit_minutes: Set(r.late_limit_minutes),
        next_at: Set(None),
        occurrence: Set(None),
        snoozed_until: Set(None),
        acknowledged_at: Set(r.acknowledged_at),
        ical_extra: Set(r.ical_extra.clone()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(tx)
    .await?)
}

/// Plans every reminder of `task` again, in the transaction that changed it.
pub async fn replan(
    state: &TasksState,
    tx: &impl ConnectionTrait,
    task: &task::Model,
) -> AppResult<()> {
    let reminders = reminder::Entity::find()
        .filter(reminder::Column::TaskId.eq(task.id))
        .all(tx)
        .await?;
    if reminders.is_empty() {
        return Ok(());
    }
    let live = task.deleted_at.is_none()
        && !task.status.is_closed()
        && project::Entity::find_by_id(task.project_id)
            .one(tx)
            .await?
            .is_some_and(|p| p.deleted_at.is_none());
    // Floating times and dates are the creator's: their zone and reminder time of day.
    let owner = preferences::of_user(tx, task.created_by).await?;
    let now = state.now();
    for r in reminders {
        // To the microsecond, as PostgreSQL keeps it: the job compares its time with the
        // stored one, and a snooze of "10 minutes" from now has nanoseconds.
        let planned = if live { plan(&r, task, &owner) } else { None }
            .map(|(at, occurrence)| (at.trunc_subsecs(6), occurrence));
        let planned = match planned {
            // A time newly planned in the past is not a late reminder: it is one the
            // user set after its time, which no one wants to hear of.
            Some((at, _)) if at < now - TimeDelta::minutes(1) && r.next_at != Some(at) => None,
            other => other,
        };
        let (next_at, occurrence) = match planned {
            Some((at, occurrence)) => (Some(at), Some(occurrence)),
            None => (None, None),
        };
        if next_at != r.next_at || occurrence != r.occurrence {
            reminder::Entity::update_many()
                .col_expr(reminder::Column::NextAt, Expr::value(next_at))
                .col_expr(
                    reminder::Column::Occurrence,
                    Expr::value(occurrence.clone()),
                )
                .filter(reminder::Column::Id.eq(r.id))
                .exec(tx)
                .await?;
        }
        if let (Some(at), Some(occurrence)) = (next_at, occurrence) {
            arm(&state.platform.jobs, tx, r.id, occurrence, at).await?;
        }
    }
    Ok(())
}

/// Plans the reminders of every task of a project (it went to the trash or came back).
pub async fn replan_project(
    state: &TasksState,
    tx: &impl ConnectionTrait,
    project_id: i64,
) -> AppResult<()> {
    let tasks = task::Entity::find()
        .filter(task::Column::ProjectId.eq(project_id))
        .filter(task::Column::DeletedAt.is_null())
        .all(tx)
        .await?;
    for task in tasks {
        replan(state, tx, &task).await?;
    }
    Ok(())
}

/// No more firings for a task's reminders (it went to the trash).
pub async fn disarm(tx: &impl ConnectionTrait, task_id: i64) -> AppResult<()> {
    reminder::Entity::update_many()
        .col_expr(
            reminder::Column::NextAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            reminder::Column::Occurrence,
            Expr::value(Option::<String>::None),
        )
        .filter(reminder::Column::TaskId.eq(task_id))
        .exec(tx)
        .await?;
    Ok(())
}

/// Queues the firing of reminder `id` for `occurrence` at `at`: once, however often called.
pub async fn arm(
    jobs: &Jobs,
    tx: &impl ConnectionTrait,
    id: i64,
    occurrence: String,
    at: DateTime<Utc>,
) -> AppResult<()> {
    let key = format!("tasks.reminder:{id}:{occurrence}:{}", at.timestamp_millis());
    let job = Fire {
        reminder_id: id,
        occurrence,
        at,
    };
    let options = Enqueue {
        run_at: Some(at),
        key: Some(key),
    };
    jobs.enqueue_with(tx, &job, options).await?;
    Ok(())
}

/// When `r` fires next for `task` as it now is, and for which occurrence; None: never.
fn plan(
    r: &reminder::Model,
    task: &task::Model,
    owner: &preferences::UserSettings,
) -> Option<(DateTime<Utc>, String)> {
    if r.acknowledged_at.is_some() {
        return None;
    }
    let due = task.due();
    let occurrence = due.map_or_else(|| "once".to_owned(), local_key);
    if let Some(until) = r.snoozed_until {
        return Some((until, format!("{occurrence}+{}", until.timestamp())));
    }
    if let Some(at) = r.at {
        return Some((at, occurrence));
    }
    let anchor = match r.relative_to? {
        RelativeTo::Due => due?,
        RelativeTo::Start => task.start()?,
        RelativeTo::Deadline => When::Date {
            date: task.deadline?,
        },
    };
    let base = anchor_instant(anchor, owner.zone, owner.reminder_time);
    let at = base + TimeDelta::minutes(i64::from(r.offset_minutes.unwrap_or(0)));
    Some((at, occurrence))
}

/// When a reminder relative to `when` is measured from: its instant, or for a date the
/// user's reminder time of day on that date, in their zone.
fn anchor_instant(when: When, zone: Tz, reminder_time: NaiveTime) -> DateTime<Utc> {
    match when {
        When::Date { date } => crate::recurrence::place(date.and_time(reminder_time), zone),
        other => other.instant(zone),
    }
}

fn local_key(when: When) -> String {
    when.local().format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// Runs a [`Fire`] job.
pub async fn fire(state: Arc<TasksState>, job: Fire, _context: JobContext) -> Result<(), JobError> {
    let tx = begin_write(&state.db).await.map_err(JobError::retry)?;
    let Some(r) = reminder::Entity::find_by_id(job.reminder_id)
        .one(&tx)
        .await
        .map_err(JobError::retry)?
    else {
        return Ok(());
    };
    if r.next_at != Some(job.at) || r.occurrence.as_deref() != Some(job.occurrence.as_str()) {
        return Ok(()); // re-planned since: another job fires it
    }
    let Some(task) = task::Entity::find_by_id(r.task_id)
        .one(&tx)
        .await
        .map_err(JobError::retry)?
    else {
        return Ok(());
    };
    let now = state.now();
    let late = now - job.at;
    let within = late <= TimeDelta::minutes(i64::from(r.late_limit_minutes));
    let outcome = match (within, r.late_policy) {
        (true, _) | (false, LatePolicy::Send) => "sent",
        (false, LatePolicy::Digest) => "digest",
        (false, LatePolicy::Drop) => "dropped",
    };
    let inserted = delivery::Entity::insert(delivery::ActiveModel {
        reminder_id: Set(r.id),
        occurrence: Set(job.occurrence.clone()),
        due_at: Set(job.at),
        fired_at: Set(now),
        late_ms: Set(late.num_milliseconds().max(0)),
        outcome: Set(outcome.to_owned()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([delivery::Column::ReminderId, delivery::Column::Occurrence])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&tx)
    .await
    .map_err(JobError::retry)?;
    if inserted == 0 {
        return Ok(()); // fired already, by a run of this job that did not record its end
    }
    let mut sent = Vec::new();
    if outcome == "sent" {
        sent = send(&state, &tx, &task, &job, late)
            .await
            .map_err(JobError::retry)?;
    }
    reminder::Entity::update_many()
        .col_expr(
            reminder::Column::NextAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            reminder::Column::SnoozedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(reminder::Column::Id.eq(r.id))
        .exec(&tx)
        .await
        .map_err(JobError::retry)?;
    tx.commit().await.map_err(JobError::retry)?;
    for (user, id) in sent {
        state.platform.notify.committed(user, id).await;
    }
    state.committed();
    Ok(())
}

/// Tells the task's people (its assignees, or its creator) on their channels, and the
/// members' webhooks; returns the inbox notifications made.
async fn send(
    state: &TasksState,
    tx: &impl ConnectionTrait,
    task: &task::Model,
    job: &Fire,
    late: TimeDelta,
) -> AppResult<Vec<(i64, Option<i64>)>> {
    let mut people: Vec<i64> = assignee::Entity::find()
        .filter(assignee::Column::TaskId.eq(task.id))
        .all(tx)
        .await?
        .into_iter()
        .map(|a| a.user_id)
        .collect();
    if people.is_empty() {
        people.push(task.created_by);
    }
    let members: Vec<i64> = member::Entity::find()
        .filter(member::Column::ProjectId.eq(task.project_id))
        .all(tx)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    people.retain(|p| members.contains(p));
    let due = task
        .due()
        .map(|d| format!("Due {}.", describe(d)))
        .unwrap_or_default();
    let lateness = if late > TimeDelta::minutes(1) {
        format!(
            " (sent {} minutes late: the server was not running)",
            late.num_minutes()
        )
    } else {
        String::new()
    };
    let link = format!(
        "{}/api/v1/tasks/{}",
        state.platform.config.public_url().trim_end_matches('/'),
        task.id
    );
    let mut sent = Vec::with_capacity(people.len());
    for user in people {
        let message = Message {
            kind: KIND,
            title: format!("Reminder: {}", task.title),
            body: format!("{due}{lateness}").trim().to_owned(),
            link: Some(link.clone()),
            // The firing is once already (its delivery row); the key makes the mail and
            // push jobs once too, should it run again.
            key: Some(format!("{KIND}:{}:{}", job.reminder_id, job.occurrence)),
            urgency: Urgency::Normal,
        };
        let id = state.platform.notify.send(tx, user, message).await?;
        sent.push((user, id));
    }
    let data = serde_json::json!({
        "reminder_id": job.reminder_id,
        "occurrence": job.occurrence,
        "due_at": job.at,
        "late_ms": late.num_milliseconds().max(0),
        "task": { "id": task.id, "project_id": task.project_id, "uid": task.uid, "title": task.title },
    });
    events::to_members(state, tx, task.project_id, events::REMINDER_FIRED, &data).await?;
    Ok(sent)
}

fn describe(when: When) -> String {
    match when {
        When::Date { date } => date.format("%Y-%m-%d").to_string(),
        When::Floating { local } => local.format("%Y-%m-%d %H:%M").to_string(),
        When::Zoned { local, zone } => {
            format!("{} ({})", local.format("%Y-%m-%d %H:%M"), zone.name())
        }
    }
}
