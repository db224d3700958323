//! A task's reminders as their own resource: listed, added, removed, snoozed and
//! acknowledged. Each write plans the task's reminders again in its transaction.

use chrono::{DateTime, TimeDelta, Utc};
use platform::{AppError, AppResult, error::Validator};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::{
    TasksState,
    access::{self, Trash},
    api::{NewReminder, ReminderView, Snooze},
    entities::{reminder, task},
    model::Role,
    reminders, views,
};

pub async fn list(state: &TasksState, user: i64, task: i64) -> AppResult<Vec<ReminderView>> {
    access::task(&state.db, user, task, Role::Viewer, Trash::Excluded).await?;
    let rows = reminder::Entity::find()
        .filter(reminder::Column::TaskId.eq(task))
        .order_by_asc(reminder::Column::Id)
        .all(&state.db)
        .await?;
    Ok(rows.into_iter().map(views::reminder).collect())
}

pub async fn add(
    state: &TasksState,
    user: i64,
    task: i64,
    input: NewReminder,
) -> AppResult<ReminderView> {
    let mut v = Validator::new();
    let valid = input.validate(&mut v, "reminder");
    v.finish()?;
    let valid = valid.expect("validated");
    let tx = platform::db::begin_write(&state.db).await?;
    let (task, _) = access::task(&tx, user, task, Role::Editor, Trash::Excluded).await?;
    let count = reminder::Entity::find()
        .filter(reminder::Column::TaskId.eq(task.id))
        .all(&tx)
        .await?
        .len();
    if count >= crate::api::MAX_REMINDERS {
        return Err(AppError::validation(
            "reminder",
            format!("a task has at most {} reminders", crate::api::MAX_REMINDERS),
        ));
    }
    let row = reminders::add(&tx, task.id, &valid, state.now()).await?;
    reminders::replan(state, &tx, &task).await?;
    let row = reminder::Entity::find_by_id(row.id)
        .one(&tx)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    state.committed();
    Ok(views::reminder(row))
}

/// The reminder `id` and its task, for `user` with at least `needed`.
async fn find(
    db: &impl sea_orm::ConnectionTrait,
    user: i64,
    id: i64,
    needed: Role,
) -> AppResult<(reminder::Model, task::Model)> {
    let row = reminder::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let (task, _) = access::task(db, user, row.task_id, needed, Trash::Excluded).await?;
    Ok((row, task))
}

pub async fn delete(state: &TasksState, user: i64, id: i64) -> AppResult<()> {
    let tx = platform::db::begin_write(&state.db).await?;
    let (row, _) = find(&tx, user, id, Role::Editor).await?;
    reminder::Entity::delete_by_id(row.id).exec(&tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Fires again later, for the same occurrence: at a time, or in some minutes.
pub async fn snooze(
    state: &TasksState,
    user: i64,
    id: i64,
    input: Snooze,
) -> AppResult<ReminderView> {
    let now = state.now();
    let until: DateTime<Utc> = match (input.until, input.minutes) {
        (Some(until), None) if until > now => until,
        (Some(_), None) => return Err(AppError::validation("until", "must be in the future")),
        (None, Some(minutes)) if (1..=7 * 24 * 60).contains(&minutes) => {
            now + TimeDelta::minutes(minutes)
        }
        (None, Some(_)) => {
            return Err(AppError::validation(
                "minutes",
                "must be from 1 to 10080 (a week)",
            ));
        }
        _ => {
            return Err(AppError::validation(
                "until",
                "give either `until` (a time) or `minutes`",
            ));
        }
    };
    // Snoozing is what someone reminded does: any member may snooze for themselves.
    let tx = platform::db::begin_write(&state.db).await?;
    let (row, task) = find(&tx, user, id, Role::Viewer).await?;
    let mut active: reminder::ActiveModel = row.into();
    active.snoozed_until = Set(Some(until));
    active.acknowledged_at = Set(None);
    active.update(&tx).await?;
    reminders::replan(state, &tx, &task).await?;
    let row = reminder::Entity::find_by_id(id)
        .one(&tx)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    state.committed();
    Ok(views::reminder(row))
}

/// Done with it: it fires no more for this occurrence (RFC 9074's ACKNOWLEDGED).
pub async fn acknowledge(state: &TasksState, user: i64, id: i64) -> AppResult<ReminderView> {
    let tx = platform::db::begin_write(&state.db).await?;
    let (row, task) = find(&tx, user, id, Role::Viewer).await?;
    let mut active: reminder::ActiveModel = row.into();
    active.acknowledged_at = Set(Some(state.now()));
    active.snoozed_until = Set(None);
    active.update(&tx).await?;
    reminders::replan(state, &tx, &task).await?;
    let row = reminder::Entity::find_by_id(id)
        .one(&tx)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(views::reminder(row))
}
