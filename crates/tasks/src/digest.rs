//! The daily digest: what is overdue and what is due today, told to each user who asked
//! for it at their chosen local time — once per user and local day, however many
//! instances run, on daylight-saving days too.
//!
//! A sweep every few minutes (one per slot across instances, [`platform::jobs::Every`])
//! enqueues, for each user whose digest time has come today in their zone, the job
//! `tasks.digest` under the key `tasks.digest:{user}:{local date}`: one row per user and
//! day, so the digest goes once. A server that was down at the time sends it when it
//! starts, the same day. Reminders found too late to send (`late_policy: digest`) are
//! folded into it.

use std::sync::Arc;

use chrono::{NaiveDate, NaiveTime, TimeDelta};
use platform::{
    jobs::{Enqueue, Job, JobContext, JobError},
    notify::{Message, Urgency},
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{OnConflict, Query},
};
use serde::{Deserialize, Serialize};

use crate::{
    TasksState,
    entities::{assignee, delivery, digest, member, reminder, settings, task},
    model::Status,
    preferences, recurrence,
};

/// The notification kind of the digest.
pub const KIND: &str = "task.digest";

#[derive(Debug, Serialize, Deserialize)]
pub struct DigestSweep;

impl Job for DigestSweep {
    const KIND: &'static str = "tasks.digest_sweep";
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Digest {
    pub user_id: i64,
    pub date: NaiveDate,
}

impl Job for Digest {
    const KIND: &'static str = "tasks.digest";
}

pub async fn sweep(state: Arc<TasksState>, _: DigestSweep, _: JobContext) -> Result<(), JobError> {
    let now = state.now();
    let wanting = settings::Entity::find()
        .filter(settings::Column::DigestTime.is_not_null())
        .all(&state.db)
        .await
        .map_err(JobError::retry)?;
    let tx = platform::db::begin_write(&state.db)
        .await
        .map_err(JobError::retry)?;
    for row in wanting {
        let Some(at) = row.digest_time else { continue };
        let zone = preferences::zone_of(&tx, row.user_id)
            .await
            .map_err(JobError::retry)?;
        let today = now.with_timezone(&zone).date_naive();
        if recurrence::place(today.and_time(at), zone) > now {
            continue;
        }
        let job = Digest {
            user_id: row.user_id,
            date: today,
        };
        let options = Enqueue {
            run_at: None,
            key: Some(format!("{}:{}:{today}", Digest::KIND, row.user_id)),
        };
        state
            .platform
            .jobs
            .enqueue_with(&tx, &job, options)
            .await
            .map_err(JobError::retry)?;
    }
    tx.commit().await.map_err(JobError::retry)?;
    state.committed();
    Ok(())
}

pub async fn run(state: Arc<TasksState>, job: Digest, _: JobContext) -> Result<(), JobError> {
    let user = job.user_id;
    let zone = preferences::zone_of(&state.db, user)
        .await
        .map_err(JobError::retry)?;
    let now = state.now();
    let end_of_day =
        recurrence::place(job.date.and_time(NaiveTime::MIN) + TimeDelta::days(1), zone);
    let mine = Query::select()
        .column(assignee::Column::TaskId)
        .from(assignee::Entity)
        .and_where(assignee::Column::UserId.eq(user))
        .to_owned();
    let projects = Query::select()
        .column(member::Column::ProjectId)
        .from(member::Entity)
        .and_where(member::Column::UserId.eq(user))
        .to_owned();
    let due = task::Entity::find()
        .filter(task::Column::ProjectId.in_subquery(projects))
        .filter(task::Column::DeletedAt.is_null())
        .filter(task::Column::Status.is_in([Status::NeedsAction, Status::InProgress]))
        .filter(task::Column::DueAt.lt(end_of_day))
        .filter(
            sea_orm::Condition::any()
                .add(task::Column::Id.in_subquery(mine))
                .add(task::Column::CreatedBy.eq(user)),
        )
        .order_by_asc(task::Column::DueAt)
        .limit(200)
        .all(&state.db)
        .await
        .map_err(JobError::retry)?;
    let (overdue, today): (Vec<_>, Vec<_>) = due
        .iter()
        .partition(|t| t.due_at.is_some_and(|at| at < now));
    let ids: Vec<i64> = due.iter().map(|t| t.id).collect();
    let late: Vec<i64> = delivery::Entity::find()
        .filter(delivery::Column::Outcome.eq("digest"))
        .filter(delivery::Column::FiredAt.gt(now - TimeDelta::days(1)))
        .filter(
            delivery::Column::ReminderId.in_subquery(
                Query::select()
                    .column(reminder::Column::Id)
                    .from(reminder::Entity)
                    .and_where(reminder::Column::TaskId.is_in(ids))
                    .to_owned(),
            ),
        )
        .all(&state.db)
        .await
        .map_err(JobError::retry)?
        .into_iter()
        .map(|d| d.reminder_id)
        .collect();
    if due.is_empty() {
        return Ok(());
    }
    let mut body = String::new();
    for (heading, list) in [("Overdue", &overdue), ("Due today", &today)] {
        if !list.is_empty() {
            body.push_str(&format!("{heading}:\n"));
            for t in list.iter() {
                body.push_str(&format!("- {}\n", t.title));
            }
        }
    }
    if !late.is_empty() {
        body.push_str(&format!(
            "{} reminder(s) could not be sent on time (the server was not running).\n",
            late.len()
        ));
    }
    let message = Message {
        kind: KIND,
        title: format!("Today: {} due, {} overdue", today.len(), overdue.len()),
        body,
        link: Some(format!(
            "{}/api/v1/tasks?due_before={}",
            state.platform.config.public_url().trim_end_matches('/'),
            end_of_day.format("%Y-%m-%dT%H:%M:%SZ")
        )),
        // Once already (the day's row); the key makes the mail and push jobs once too.
        key: Some(format!("{KIND}:{}", job.date)),
        urgency: Urgency::Normal,
    };
    let tx = platform::db::begin_write(&state.db)
        .await
        .map_err(JobError::retry)?;
    // The day's row and the notification commit together: a run of this job repeated
    // (its instance died after the commit) finds the row and sends nothing.
    let recorded = digest::Entity::insert(digest::ActiveModel {
        user_id: Set(user),
        day: Set(job.date),
        sent_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([digest::Column::UserId, digest::Column::Day])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&tx)
    .await
    .map_err(JobError::retry)?;
    if recorded == 0 {
        return Ok(());
    }
    let id = state
        .platform
        .notify
        .send(&tx, user, message)
        .await
        .map_err(JobError::retry)?;
    tx.commit().await.map_err(JobError::retry)?;
    state.platform.notify.committed(user, id).await;
    Ok(())
}
