//! The queue's SQL: one function per move of a row through its life.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QuerySelect,
    TryInsertResult,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query},
};
use serde::{Deserialize, Serialize};

use super::{
    Job, JobContext, JobError,
    entity::{self, Column, Entity, JobState},
};
use crate::{
    db::{Db, WriteTransaction, begin_write},
    error::AppResult,
};

/// How long finished jobs are kept: as long as their keys must keep meaning "done".
const KEEP_DONE: TimeDelta = TimeDelta::days(7);
/// How long dead jobs are kept for administrators to look at and retry.
const KEEP_DEAD: TimeDelta = TimeDelta::days(30);

/// Inserts a job unless one with its key exists; returns the new id.
pub(super) async fn insert(
    conn: &impl ConnectionTrait,
    kind: &str,
    payload: String,
    run_at: DateTime<Utc>,
    key: Option<String>,
    now: DateTime<Utc>,
) -> AppResult<Option<i64>> {
    let row = entity::ActiveModel {
        kind: Set(kind.to_owned()),
        payload: Set(payload),
        state: Set(JobState::Queued),
        run_at: Set(run_at),
        attempts: Set(0),
        idempotency_key: Set(key),
        created_at: Set(now),
        ..Default::default()
    };
    let inserted = Entity::insert(row)
        .on_conflict_do_nothing_on([Column::IdempotencyKey])
        .exec(conn)
        .await?;
    Ok(match inserted {
        TryInsertResult::Inserted(result) => Some(result.last_insert_id),
        TryInsertResult::Empty | TryInsertResult::Conflicted => None,
    })
}

/// Claims up to `limit` jobs for `instance` until `until`: first those whose lease has
/// lapsed (their instance died), then those due, oldest first. Each is one statement,
///
/// ```sql
/// UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = $now,
///        locked_by = $instance, locked_until = $until
///  WHERE id IN (SELECT id FROM jobs
///                WHERE state = 'queued' AND run_at <= $now    -- or: state = 'running'
///                ORDER BY run_at LIMIT $limit                 --  AND locked_until < $now
///                FOR UPDATE SKIP LOCKED)                      -- PostgreSQL only
/// RETURNING *
/// ```
///
/// and each walks its own partial index, `jobs_due` or `jobs_leased`, in order and stops
/// after `limit` rows, so that a claim costs the same with ten jobs due or a million.
/// (One statement with `… OR …` would read and sort every due row to take a few.)
///
/// On PostgreSQL, instances claiming at once skip each other's rows instead of waiting or
/// taking the same ones; on SQLite the statement is one write, and writes take turns.
pub(super) async fn claim(
    db: &Db,
    instance: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: u64,
) -> AppResult<Vec<entity::Model>> {
    let tx = bookkeeping(db).await?;
    let lapsed = in_state(JobState::Running).and(Expr::col(Column::LockedUntil).lt(now));
    let mut claimed = take(
        &tx,
        instance,
        now,
        until,
        lapsed,
        Column::LockedUntil,
        limit,
    )
    .await?;
    let left = limit.saturating_sub(claimed.len() as u64);
    if left > 0 {
        let due = in_state(JobState::Queued).and(Expr::col(Column::RunAt).lte(now));
        claimed.extend(take(&tx, instance, now, until, due, Column::RunAt, left).await?);
    }
    tx.commit().await?;
    Ok(claimed)
}

/// A transaction for the queue's own bookkeeping (claims, outcomes), whose commit on
/// PostgreSQL does not wait for the disk (`synchronous_commit = off`; SQLite, in WAL mode
/// with `synchronous = NORMAL`, does not wait either). A crash can then undo the last
/// fraction of a second of claims and outcomes, never more, and the database stays
/// consistent: those jobs are queued or leased again and run again, which at-least-once
/// delivery allows. Enqueues are not bookkeeping: they commit with the caller's change.
/// On SQLite it takes its turn to write with the rest of the process ([`begin_write`]).
pub(super) async fn bookkeeping(db: &Db) -> Result<WriteTransaction, DbErr> {
    let tx = begin_write(db).await?;
    if tx.get_database_backend() == DbBackend::Postgres {
        tx.execute_unprepared("SET LOCAL synchronous_commit = off")
            .await?;
    }
    Ok(tx)
}

/// `state = 'queued'`, with the value written into the SQL rather than bound: the claim's
/// indexes are partial (`… WHERE state = 'queued'`), and a planner uses one only for a query
/// it can see matches it, which a bound value hides (from a generic plan on PostgreSQL, and
/// from SQLite's planner).
fn in_state(state: JobState) -> Expr {
    Expr::cust(format!(
        "state = '{}'",
        sea_orm::ActiveEnum::to_value(&state)
    ))
}

/// One claiming statement of [`claim`]: up to `limit` rows matching `which`, in `order`.
async fn take(
    conn: &impl ConnectionTrait,
    instance: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    which: Expr,
    order: Column,
    limit: u64,
) -> AppResult<Vec<entity::Model>> {
    let ids = Query::select()
        .column(Column::Id)
        .from(Entity)
        .cond_where(which)
        .order_by(order, sea_orm::Order::Asc)
        .limit(limit)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .to_owned();
    Ok(Entity::update_many()
        .col_expr(Column::State, Expr::value(JobState::Running))
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .col_expr(Column::StartedAt, Expr::value(now))
        .col_expr(Column::LockedBy, Expr::value(instance))
        .col_expr(Column::LockedUntil, Expr::value(until))
        .filter(Column::Id.in_subquery(ids))
        .exec_with_returning(conn)
        .await?)
}

/// The running jobs of `instance`'s, to be changed.
fn held_by(instance: &str) -> sea_orm::UpdateMany<Entity> {
    Entity::update_many()
        .filter(Column::State.eq(JobState::Running))
        .filter(Column::LockedBy.eq(instance))
}

/// A running job of `instance`'s, by id: its lease renewed, or its outcome written.
fn held(id: i64, instance: &str) -> sea_orm::UpdateMany<Entity> {
    held_by(instance).filter(Column::Id.eq(id))
}

/// `update`, also giving the lease back: no instance holds the job any more.
fn released(update: sea_orm::UpdateMany<Entity>) -> sea_orm::UpdateMany<Entity> {
    update
        .col_expr(Column::LockedBy, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
}

/// `update`, also making the job done at `now`.
fn done(update: sea_orm::UpdateMany<Entity>, now: DateTime<Utc>) -> sea_orm::UpdateMany<Entity> {
    update
        .col_expr(Column::State, Expr::value(JobState::Done))
        .col_expr(Column::FinishedAt, Expr::value(now))
}

/// Extends the lease of a job that is still running.
pub(super) async fn renew(db: &Db, id: i64, instance: &str, until: DateTime<Utc>) -> AppResult<()> {
    held(id, instance)
        .col_expr(Column::LockedUntil, Expr::value(until))
        .exec(db)
        .await?;
    Ok(())
}

/// What became of an attempt.
pub(super) enum Outcome {
    Done,
    RetryAt(DateTime<Utc>, String),
    Dead(String),
}

/// Writes the outcome of `instance`'s attempt number `attempt` at job `id` (nothing, if
/// its lease was lost meanwhile and the job claimed again, by another instance or this
/// one: that attempt's outcome counts). `conn` is the settling transaction.
pub(super) async fn settle(
    conn: &impl ConnectionTrait,
    id: i64,
    attempt: i32,
    instance: &str,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    let update = released(held(id, instance).filter(Column::Attempts.eq(attempt)));
    let update = match outcome {
        Outcome::Done => done(update, now),
        Outcome::RetryAt(at, error) => update
            .col_expr(Column::State, Expr::value(JobState::Queued))
            .col_expr(Column::RunAt, Expr::value(*at))
            .col_expr(Column::LastError, Expr::value(error.as_str())),
        Outcome::Dead(error) => update
            .col_expr(Column::State, Expr::value(JobState::Dead))
            .col_expr(Column::FinishedAt, Expr::value(now))
            .col_expr(Column::LastError, Expr::value(error.as_str())),
    };
    update.exec(conn).await?;
    Ok(())
}

/// Marks done, in one statement, the attempts `(id, attempt)` of `instance` (those still
/// its own: see [`settle`]).
pub(super) async fn settle_done(
    conn: &impl ConnectionTrait,
    instance: &str,
    attempts: &[(i64, i32)],
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    if attempts.is_empty() {
        return Ok(());
    }
    let which = attempts
        .iter()
        .fold(sea_orm::Condition::any(), |any, &(id, attempt)| {
            any.add(Column::Id.eq(id).and(Column::Attempts.eq(attempt)))
        });
    done(released(held_by(instance).filter(which)), now)
        .exec(conn)
        .await?;
    Ok(())
}

/// When the dispatcher should look next: the earliest due time or lease end.
pub(super) async fn next_due(db: &Db) -> AppResult<Option<DateTime<Utc>>> {
    let queued: Option<DateTime<Utc>> = Entity::find()
        .select_only()
        .column_as(Column::RunAt.min(), "at")
        .filter(in_state(JobState::Queued))
        .into_tuple()
        .one(db)
        .await?
        .flatten();
    let leased: Option<DateTime<Utc>> = Entity::find()
        .select_only()
        .column_as(Column::LockedUntil.min(), "at")
        .filter(in_state(JobState::Running))
        .into_tuple()
        .one(db)
        .await?
        .flatten();
    Ok(queued.into_iter().chain(leased).min())
}

/// How many jobs are in each state, for `/metrics`.
pub(super) async fn counts(db: &Db) -> AppResult<Vec<(JobState, i64)>> {
    Ok(Entity::find()
        .select_only()
        .column(Column::State)
        .column_as(Column::Id.count(), "n")
        .group_by(Column::State)
        .into_tuple()
        .all(db)
        .await?)
}

/// Makes a dead job queued again, due now, with its attempts counted from zero. Returns
/// the job as revived, if there was such a job.
pub(super) async fn revive(
    db: &Db,
    id: i64,
    now: DateTime<Utc>,
) -> AppResult<Option<entity::Model>> {
    let revived = Entity::update_many()
        .col_expr(Column::State, Expr::value(JobState::Queued))
        .col_expr(Column::RunAt, Expr::value(now))
        .col_expr(Column::Attempts, Expr::value(0))
        .col_expr(
            Column::FinishedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(Column::Id.eq(id))
        .filter(Column::State.eq(JobState::Dead))
        .exec_with_returning(db)
        .await?;
    Ok(revived.into_iter().next())
}

/// The queue's own daily clean-up: done jobs after a week, dead ones after a month.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct CleanUp;

impl Job for CleanUp {
    const KIND: &'static str = "platform.jobs_clean_up";
}

pub(super) async fn clean_up(db: Db, context: JobContext) -> Result<(), JobError> {
    let now = context.clock.now();
    let removed = Entity::delete_many()
        .filter(
            Column::State
                .eq(JobState::Done)
                .and(Column::FinishedAt.lt(now - KEEP_DONE))
                .or(Column::State
                    .eq(JobState::Dead)
                    .and(Column::FinishedAt.lt(now - KEEP_DEAD))),
        )
        .exec(&db)
        .await?;
    tracing::info!(removed = removed.rows_affected, "finished jobs removed");
    // The day's other leftovers: answers kept for idempotency keys past their day.
    crate::http::idempotency::forget_old(&db, now).await?;
    Ok(())
}
