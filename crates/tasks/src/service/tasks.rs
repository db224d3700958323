//! Tasks: made, changed, completed (a recurring one moves to its next occurrence), put in
//! the trash and restored. Each write is one transaction that also records the activity,
//! bumps the project's sync counter (CalDAV), re-plans the task's reminders and queues the
//! webhook events, so that none of these can disagree with the task.

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use platform::{
    AppError, AppResult,
    db::{WriteTransaction, begin_write},
};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};

use crate::{
    TasksState,
    access::{self, Access, Trash},
    api::{TaskView, ValidChanges, ValidRecurrence},
    entities::{assignee, completion, label, member, project, reminder, task, task_label},
    events::{self, Event},
    model::{Anchor, Priority, Role, Status, When},
    recurrence::Series,
    reminders, views,
};

/// Who writes, and the zone their floating times and dates are placed in.
#[derive(Debug, Clone, Copy)]
pub struct Writer {
    pub user: i64,
    pub zone: Tz,
}

pub async fn create(
    state: &TasksState,
    writer: Writer,
    project_id: i64,
    changes: ValidChanges,
) -> AppResult<TaskView> {
    let tx = begin_write(&state.db).await?;
    let access =
        access::project(&tx, writer.user, project_id, Role::Editor, Trash::Excluded).await?;
    let task = insert(
        &tx,
        writer,
        &access,
        changes,
        Origin::default(),
        state.now(),
    )
    .await?;
    finish(state, tx, writer, task, Event::Created).await
}

/// Where a task comes from, when not from the API: a CalDAV client's UID and resource name.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub uid: Option<String>,
    pub dav_name: Option<String>,
}

/// In `tx`: a new task in `access`'s project (which the caller may edit).
pub async fn insert(
    tx: &DatabaseTransaction,
    writer: Writer,
    access: &Access,
    changes: ValidChanges,
    origin: Origin,
    now: DateTime<Utc>,
) -> AppResult<task::Model> {
    access::allow(access.role, Role::Editor)?;
    let uid = origin.uid.unwrap_or_else(new_uid);
    let dav_name = origin.dav_name.unwrap_or_else(|| format!("{uid}.ics"));
    let blank = task::ActiveModel {
        project_id: Set(access.project.id),
        uid: Set(uid),
        dav_name: Set(dav_name),
        title: Set(String::new()),
        description: Set(None),
        status: Set(Status::NeedsAction),
        completed_at: Set(None),
        priority: Set(Priority::NONE.get()),
        parent_id: Set(None),
        position: Set(0),
        deadline: Set(None),
        exdates: Set(None),
        ical_extra: Set(None),
        created_by: Set(writer.user),
        version: Set(1),
        sync_seq: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
        ..Default::default()
    }
    .insert(tx)
    .await?;
    let task = apply(tx, writer, access, blank, changes, now).await?;
    events::record(tx, &task, writer.user, Event::Created, now).await?;
    Ok(task)
}

pub async fn change(
    state: &TasksState,
    writer: Writer,
    id: i64,
    changes: ValidChanges,
) -> AppResult<TaskView> {
    let tx = begin_write(&state.db).await?;
    let (task, access) = access::task(&tx, writer.user, id, Role::Editor, Trash::Excluded).await?;
    let (task, event) = update(&tx, writer, task, access, changes, state.now()).await?;
    finish(state, tx, writer, task, event).await
}

/// In `tx`: `changes` to `task` of `access`'s project (which the caller may edit).
pub async fn update(
    tx: &DatabaseTransaction,
    writer: Writer,
    mut task: task::Model,
    mut access: Access,
    mut changes: ValidChanges,
    now: DateTime<Utc>,
) -> AppResult<(task::Model, Event)> {
    access::allow(access.role, Role::Editor)?;
    if let Some(target) = changes.project_id.take()
        && target != task.project_id
    {
        access = access::project(tx, writer.user, target, Role::Editor, Trash::Excluded)
            .await
            .map_err(|_| AppError::validation("project_id", "is not a project you can edit"))?;
        task = move_to(tx, task, target).await?;
    }
    let completing = changes.status == Some(Status::Completed) && task.status != Status::Completed;
    let task = apply(tx, writer, &access, task, changes, now).await?;
    let (task, event) = if completing {
        (
            complete(tx, writer, task, now, false).await?,
            Event::Completed,
        )
    } else {
        (task, Event::Updated)
    };
    events::record(tx, &task, writer.user, event, now).await?;
    Ok((task, event))
}

/// Skips one occurrence of a recurring task: the current one moves the task on, as a
/// completion would (recorded as skipped); a later one becomes an exception date.
pub async fn skip(
    state: &TasksState,
    writer: Writer,
    id: i64,
    occurrence: NaiveDateTime,
) -> AppResult<TaskView> {
    let tx = begin_write(&state.db).await?;
    let (task, _) = access::task(&tx, writer.user, id, Role::Editor, Trash::Excluded).await?;
    let (Some(_), Some(due)) = (task.rrule.as_ref(), task.due()) else {
        return Err(AppError::validation(
            "occurrence",
            "the task does not recur",
        ));
    };
    let now = state.now();
    let task = if due.local() == occurrence {
        complete(&tx, writer, task, now, true).await?
    } else {
        if occurrence < due.local() {
            return Err(AppError::validation(
                "occurrence",
                "is not a coming occurrence",
            ));
        }
        let mut exdates = task.exdates();
        if !exdates.contains(&occurrence) {
            exdates.push(occurrence);
            exdates.sort();
        }
        let mut row: task::ActiveModel = task.into();
        row.exdates = Set(Some(
            serde_json::to_string(&exdates).expect("dates serialise"),
        ));
        row.update(&tx).await?
    };
    let task = touch(&tx, task, now).await?;
    events::record(&tx, &task, writer.user, Event::Skipped, now).await?;
    finish(state, tx, writer, task, Event::Updated).await
}

/// Puts a task and its subtasks in the trash.
pub async fn delete(state: &TasksState, writer: Writer, id: i64) -> AppResult<()> {
    let tx = begin_write(&state.db).await?;
    let (task, _) = access::task(&tx, writer.user, id, Role::Editor, Trash::Excluded).await?;
    remove(state, &tx, writer, &task).await?;
    tx.commit().await?;
    state.committed();
    Ok(())
}

/// In `tx`: `task` (which the caller may edit) and its subtasks to the trash.
pub async fn remove(
    state: &TasksState,
    tx: &DatabaseTransaction,
    writer: Writer,
    task: &task::Model,
) -> AppResult<()> {
    let now = state.now();
    let mut ids = vec![task.id];
    let mut frontier = vec![task.id];
    while !frontier.is_empty() {
        let children: Vec<i64> = task::Entity::find()
            .filter(task::Column::ParentId.is_in(frontier.clone()))
            .filter(task::Column::DeletedAt.is_null())
            .all(tx)
            .await?
            .into_iter()
            .map(|t| t.id)
            .filter(|id| !ids.contains(id))
            .collect();
        ids.extend(&children);
        frontier = children;
    }
    let seq = bump(tx, task.project_id).await?;
    task::Entity::update_many()
        .col_expr(task::Column::DeletedAt, Expr::value(now))
        .col_expr(task::Column::UpdatedAt, Expr::value(now))
        .col_expr(task::Column::SyncSeq, Expr::value(seq))
        .col_expr(
            task::Column::Version,
            Expr::col(task::Column::Version).add(1),
        )
        .filter(task::Column::Id.is_in(ids.clone()))
        .exec(tx)
        .await?;
    for id in ids {
        reminders::disarm(tx, id).await?;
    }
    events::record(tx, task, writer.user, Event::Deleted, now).await?;
    events::emit(state, tx, task, None, Event::Deleted).await?;
    Ok(())
}

/// Takes a task out of the trash (its parent too, if it went with it); its reminders are
/// planned again.
pub async fn restore(state: &TasksState, writer: Writer, id: i64) -> AppResult<TaskView> {
    let tx = begin_write(&state.db).await?;
    let (task, _) = access::task(&tx, writer.user, id, Role::Editor, Trash::Included).await?;
    if task.deleted_at.is_none() {
        return Err(AppError::NotFound);
    }
    let now = state.now();
    let mut row: task::ActiveModel = task.into();
    row.deleted_at = Set(None);
    let restored = row.update(&tx).await?;
    let task = touch(&tx, restored, now).await?;
    if let Some(parent) = task.parent_id {
        // A parent still in the trash would hide the task: it leaves the trash too.
        task::Entity::update_many()
            .col_expr(
                task::Column::DeletedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(task::Column::Id.eq(parent))
            .exec(&tx)
            .await?;
    }
    events::record(&tx, &task, writer.user, Event::Restored, now).await?;
    finish(state, tx, writer, task, Event::Created).await
}

/// What every write ends with: the reminders planned again, the webhook event queued,
/// the commit, and the view of the task as it now is.
pub async fn finish(
    state: &TasksState,
    tx: WriteTransaction,
    writer: Writer,
    task: task::Model,
    event: Event,
) -> AppResult<TaskView> {
    let viewer = views::Viewer {
        zone: writer.zone,
        now: state.now(),
    };
    let view = follow(state, &tx, &task, event, viewer).await?;
    tx.commit().await?;
    state.committed();
    Ok(view)
}

/// In `tx`, after `task` was written: its reminders and overdue notice planned again and
/// its webhook event queued. Returns its view.
pub async fn follow(
    state: &TasksState,
    tx: &DatabaseTransaction,
    task: &task::Model,
    event: Event,
    viewer: views::Viewer,
) -> AppResult<TaskView> {
    reminders::replan(state, tx, task).await?;
    crate::overdue::plan(state, tx, task).await?;
    let view = views::task(tx, task.clone(), viewer).await?;
    events::emit(state, tx, task, Some(&view), event).await?;
    Ok(view)
}

/// Writes `changes` onto `task`, checking what needs the database (parent, assignees).
async fn apply(
    tx: &DatabaseTransaction,
    writer: Writer,
    access: &Access,
    task: task::Model,
    changes: ValidChanges,
    now: DateTime<Utc>,
) -> AppResult<task::Model> {
    let id = task.id;
    let project_id = access.project.id;
    if let Some(Some(parent)) = changes.parent_id {
        check_parent(tx, project_id, id, parent).await?;
    }
    if let Some(assignees) = &changes.assignees {
        set_assignees(tx, id, project_id, assignees).await?;
    }
    if let Some(labels) = &changes.labels {
        set_labels(tx, id, writer.user, labels, now).await?;
    }
    // Only a due or a rule that really changes restarts the series (a CalDAV client sends
    // both with every change).
    let due_changes = changes.due.is_some_and(|due| due != task.due())
        || changes
            .recurrence
            .as_ref()
            .is_some_and(|r| r.as_ref().map(|r| r.rule.to_string()) != task.rrule);
    let mut row: task::ActiveModel = task.clone().into();
    if let Some(title) = changes.title {
        row.title = Set(title);
    }
    if let Some(description) = changes.description {
        row.description = Set(description.filter(|d| !d.is_empty()));
    }
    if let Some(status) = changes.status {
        row.status = Set(status);
        row.completed_at = Set(match status {
            Status::Completed => task.completed_at.or(Some(now)),
            _ => None,
        });
    }
    if let Some(priority) = changes.priority {
        row.priority = Set(priority.get());
    }
    if let Some(parent) = changes.parent_id {
        row.parent_id = Set(parent);
    }
    if let Some(position) = changes.position {
        row.position = Set(position);
    }
    if let Some(start) = changes.start {
        set_when(&mut row, Part::Start, start, writer.zone);
    }
    if let Some(due) = changes.due {
        set_when(&mut row, Part::Due, due, writer.zone);
    }
    if let Some(deadline) = changes.deadline {
        row.deadline = Set(deadline);
    }
    let due = match changes.due {
        Some(due) => due,
        None => task.due(),
    };
    let recurs = match &changes.recurrence {
        Some(recurrence) => recurrence.is_some(),
        None => task.rrule.is_some(),
    };
    if let Some(recurrence) = changes.recurrence {
        set_recurrence(&mut row, recurrence)?;
    }
    if due_changes {
        // A recurring series starts again from the new due.
        match (recurs, due) {
            (true, Some(due)) => row.series_start = Set(Some(due.local())),
            (true, None) => {
                return Err(AppError::validation(
                    "recurrence",
                    "needs a due date: the series starts at it",
                ));
            }
            (false, _) => row.series_start = Set(None),
        }
    }
    let task = row.update(tx).await?;
    if let Some(list) = changes.reminders {
        reminders::replace(tx, task.id, &list, now).await?;
    }
    touch(tx, task, now).await
}

#[derive(Clone, Copy)]
enum Part {
    Start,
    Due,
}

fn set_when(row: &mut task::ActiveModel, part: Part, when: Option<When>, zone: Tz) {
    let (kind, date, time, zone_name, at) = match when {
        Some(when) => {
            let (kind, date, time, zone_name) = when.columns();
            (
                Some(kind.to_owned()),
                Some(date),
                time,
                zone_name,
                Some(when.instant(zone)),
            )
        }
        None => (None, None, None, None, None),
    };
    match part {
        Part::Start => {
            row.start_kind = Set(kind);
            row.start_date = Set(date);
            row.start_time = Set(time);
            row.start_zone = Set(zone_name);
            row.start_at = Set(at);
        }
        Part::Due => {
            row.due_kind = Set(kind);
            row.due_date = Set(date);
            row.due_time = Set(time);
            row.due_zone = Set(zone_name);
            row.due_at = Set(at);
        }
    }
}

fn set_recurrence(
    row: &mut task::ActiveModel,
    recurrence: Option<ValidRecurrence>,
) -> AppResult<()> {
    match recurrence {
        Some(r) => {
            row.rrule = Set(Some(r.rule.to_string()));
            row.recurrence_anchor = Set(Some(r.anchor));
            row.exdates = Set(Some(
                serde_json::to_string(&r.exdates).map_err(anyhow::Error::from)?,
            ));
        }
        None => {
            row.rrule = Set(None);
            row.recurrence_anchor = Set(None);
            row.exdates = Set(None);
            row.series_start = Set(None);
        }
    }
    Ok(())
}

/// Marks `task` done. A recurring task records the occurrence in its history and moves
/// to the next one (its start moving by as much), open again; after its last, it stays
/// completed.
async fn complete(
    tx: &DatabaseTransaction,
    writer: Writer,
    task: task::Model,
    now: DateTime<Utc>,
    skipped: bool,
) -> AppResult<task::Model> {
    let due = task.due();
    let next = match (&task.rrule, due) {
        (Some(_), Some(due)) => next_occurrence(&task, due, writer.zone, now)?,
        _ => None,
    };
    if let Some(due) = due
        && task.rrule.is_some()
    {
        completion::ActiveModel {
            task_id: Set(task.id),
            occurrence: Set(due.local().format("%Y-%m-%dT%H:%M:%S").to_string()),
            occurrence_at: Set(Some(due.instant(writer.zone))),
            completed_at: Set(now),
            completed_by: Set(Some(writer.user)),
            skipped: Set(skipped),
            ..Default::default()
        }
        .insert(tx)
        .await?;
    }
    let (Some(next), Some(due)) = (next, due) else {
        if skipped {
            return Err(AppError::validation("occurrence", "is the series' last"));
        }
        return Ok(task);
    };
    let shift = next - due.local();
    let start = task.start().map(|s| s.at_local(s.local() + shift));
    let mut row: task::ActiveModel = task.into();
    set_when(&mut row, Part::Due, Some(due.at_local(next)), writer.zone);
    if let Some(start) = start {
        set_when(&mut row, Part::Start, Some(start), writer.zone);
    }
    row.status = Set(Status::NeedsAction);
    row.completed_at = Set(None);
    let moved = row.update(tx).await?;
    // The reminders of the occurrence done are done too; the next one's are fresh.
    reminder::Entity::update_many()
        .col_expr(
            reminder::Column::AcknowledgedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            reminder::Column::SnoozedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(reminder::Column::TaskId.eq(moved.id))
        .exec(tx)
        .await?;
    Ok(moved)
}

/// The occurrence after `due`: by the rule from the series' start, or (anchored on
/// completion) by the rule from the day of completion, at the due's time of day.
fn next_occurrence(
    task: &task::Model,
    due: When,
    viewer: Tz,
    now: DateTime<Utc>,
) -> AppResult<Option<NaiveDateTime>> {
    let rule = task
        .rrule
        .as_deref()
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| {
            anyhow::anyhow!("task {} has a stored rule that no longer parses", task.id)
        })?;
    let zone = due.zone_or(viewer);
    let exceptions = task.exdates();
    let (start, after) = match task.recurrence_anchor {
        Some(Anchor::Completion) => {
            let today = now.with_timezone(&zone).date_naive();
            let base = today.and_time(due.local().time());
            (base, base)
        }
        _ => (task.series_start.unwrap_or(due.local()), due.local()),
    };
    let series = Series {
        rule: &rule,
        start,
        zone: matches!(due, When::Zoned { .. }).then_some(zone),
        exceptions: &exceptions,
    };
    let next = series
        .next_after(after)
        .map_err(|err| AppError::validation("recurrence.rrule", err.to_string()))?;
    Ok(next.map(|o| o.local))
}

async fn move_to(
    tx: &DatabaseTransaction,
    task: task::Model,
    target: i64,
) -> AppResult<task::Model> {
    // Subtasks go with their parent; its place among the target's tasks is its own.
    task::Entity::update_many()
        .col_expr(task::Column::ProjectId, Expr::value(target))
        .filter(task::Column::ParentId.eq(task.id))
        .exec(tx)
        .await?;
    bump(tx, task.project_id).await?;
    // The old project keeps no tombstone of what left it (the rows now belong to the
    // target), so a CalDAV sync could not report them removed: a client kept them.
    expire_sync_tokens(tx, task.project_id).await?;
    let mut row: task::ActiveModel = task.into();
    row.project_id = Set(target);
    row.parent_id = Set(None);
    Ok(row.update(tx).await?)
}

/// A parent must be another live task of the same project, not one of the task's own
/// subtasks.
async fn check_parent(
    tx: &impl ConnectionTrait,
    project_id: i64,
    id: i64,
    parent: i64,
) -> AppResult<()> {
    let bad = |message: &str| AppError::validation("parent_id", message);
    let mut at = Some(parent);
    let mut depth = 0;
    while let Some(current) = at {
        if current == id {
            return Err(bad("would make the task its own subtask"));
        }
        depth += 1;
        if depth > 16 {
            return Err(bad("subtasks nest at most 16 deep"));
        }
        let found = task::Entity::find_by_id(current)
            .filter(task::Column::ProjectId.eq(project_id))
            .filter(task::Column::DeletedAt.is_null())
            .one(tx)
            .await?
            .ok_or_else(|| bad("is not a task of this project"))?;
        at = found.parent_id;
    }
    Ok(())
}

async fn set_assignees(
    tx: &impl ConnectionTrait,
    id: i64,
    project_id: i64,
    users: &[i64],
) -> AppResult<()> {
    let members: Vec<i64> = member::Entity::find()
        .filter(member::Column::ProjectId.eq(project_id))
        .filter(member::Column::UserId.is_in(users.to_vec()))
        .all(tx)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    if let Some(outsider) = users.iter().find(|u| !members.contains(u)) {
        return Err(AppError::validation(
            "assignees",
            format!("user {outsider} is not a member of the project"),
        ));
    }
    assignee::Entity::delete_many()
        .filter(assignee::Column::TaskId.eq(id))
        .exec(tx)
        .await?;
    if !users.is_empty() {
        assignee::Entity::insert_many(users.iter().map(|&user_id| assignee::ActiveModel {
            task_id: Set(id),
            user_id: Set(user_id),
        }))
        .exec(tx)
        .await?;
    }
    Ok(())
}

/// Replaces the task's labels with `names` of the writer's labels, made as needed.
pub async fn set_labels(
    tx: &impl ConnectionTrait,
    id: i64,
    owner: i64,
    names: &[String],
    now: DateTime<Utc>,
) -> AppResult<()> {
    let mut ids = Vec::with_capacity(names.len());
    for name in names {
        let found = label::Entity::find()
            .filter(label::Column::OwnerId.eq(owner))
            .filter(label::Column::Name.eq(name.as_str()))
            .one(tx)
            .await?;
        let label = match found {
            Some(label) => label,
            None => {
                label::ActiveModel {
                    owner_id: Set(owner),
                    name: Set(name.clone()),
                    colour: Set(None),
                    created_at: Set(now),
                    ..Default::default()
                }
                .insert(tx)
                .await?
            }
        };
        ids.push(label.id);
    }
    task_label::Entity::delete_many()
        .filter(task_label::Column::TaskId.eq(id))
        .exec(tx)
        .await?;
    if !ids.is_empty() {
        task_label::Entity::insert_many(ids.into_iter().map(|label_id| task_label::ActiveModel {
            task_id: Set(id),
            label_id: Set(label_id),
        }))
        .exec(tx)
        .await?;
    }
    Ok(())
}

/// A change to a task: its version (ETag) and the project's sync counter move on.
pub async fn touch(
    tx: &impl ConnectionTrait,
    task: task::Model,
    now: DateTime<Utc>,
) -> AppResult<task::Model> {
    let seq = bump(tx, task.project_id).await?;
    let version = task.version + 1;
    let mut row: task::ActiveModel = task.into();
    row.version = Set(version);
    row.sync_seq = Set(seq);
    row.updated_at = Set(now);
    Ok(row.update(tx).await?)
}

/// The project's next sync counter value.
pub async fn bump(tx: &impl ConnectionTrait, project_id: i64) -> AppResult<i64> {
    project::Entity::update_many()
        .col_expr(
            project::Column::SyncSeq,
            Expr::col(project::Column::SyncSeq).add(1),
        )
        .filter(project::Column::Id.eq(project_id))
        .exec(tx)
        .await?;
    let project = project::Entity::find_by_id(project_id)
        .one(tx)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(project.sync_seq)
}

/// Makes every sync token of the project handed out so far too old (`sync_floor`), for a
/// change that leaves no tombstone a sync could report: a CalDAV client's next sync is
/// refused with `valid-sync-token`, and it lists the calendar again.
pub async fn expire_sync_tokens(tx: &impl ConnectionTrait, project_id: i64) -> AppResult<()> {
    project::Entity::update_many()
        .col_expr(
            project::Column::SyncFloor,
            Expr::col(project::Column::SyncSeq),
        )
        .filter(project::Column::Id.eq(project_id))
        .exec(tx)
        .await?;
    Ok(())
}

/// A new task's UID: random, as RFC 5545 asks of a UID (globally unique).
fn new_uid() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the system's random source");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}@capstone")
}

/// Deleted tasks of `user`'s live projects, newest deletion first.
pub async fn in_trash(
    db: &impl ConnectionTrait,
    user: i64,
    viewer: views::Viewer,
) -> AppResult<Vec<TaskView>> {
    use sea_orm::{QueryOrder, QuerySelect, sea_query::Query};
    let rows = task::Entity::find()
        .filter(task::Column::DeletedAt.is_not_null())
        .filter(
            task::Column::ProjectId.in_subquery(
                Query::select()
                    .column(member::Column::ProjectId)
                    .from(member::Entity)
                    .and_where(member::Column::UserId.eq(user))
                    .to_owned(),
            ),
        )
        .order_by_desc(task::Column::DeletedAt)
        .limit(500)
        .all(db)
        .await?;
    views::tasks(db, rows, viewer).await
}
