//! The tasks app as a CalDAV server: [`crate::dav`] speaks the protocol, this is its
//! storage — each project a calendar of the caller's, each task a VTODO (see
//! [`crate::ical_map`]), writes going through the same service as the API (so a task made
//! in Thunderbird has its reminders planned and its webhook events sent).
//!
//! - Credentials are the platform's: HTTP Basic with an email and its password, or with an
//!   API key as an app password (as Nextcloud and Fastmail do), with the same lockouts.
//! - An ETag is the task's id and version; a sync token is the project's change counter,
//!   and a task in the trash is the tombstone a sync reports as removed.

use std::sync::Arc;

use axum::{
    extract::FromRequestParts,
    http::{Method, header, request::Parts},
};
use platform::{
    AppError,
    auth::{CurrentUser, Scope, user},
    db::begin_write,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    sea_query::Expr,
};

use crate::{
    TasksState,
    access::{self, Access, Trash},
    api::{ProjectChanges, ValidChanges},
    dav::{
        CalendarInfo, CalendarPatch, CalendarStore, Changes, ObjectInfo, Principal, Put, StoreError,
    },
    entities::{member, project, reminder, task},
    events::Event,
    export, ical, ical_map,
    model::Role,
    service::{projects, tasks},
};

#[derive(Clone)]
pub struct DavStore {
    app: Arc<TasksState>,
}

impl DavStore {
    pub fn new(app: Arc<TasksState>) -> Self {
        Self { app }
    }
}

fn etag(task: &task::Model) -> String {
    format!("{}-{}", task.id, task.version)
}

fn info(task: &task::Model) -> ObjectInfo {
    ObjectInfo {
        name: task.dav_name.clone(),
        etag: etag(task),
    }
}

fn calendar(project: project::Model, role: Role, who: &Principal) -> CalendarInfo {
    CalendarInfo {
        id: project.id,
        name: project.name,
        description: project.description,
        color: project.colour.map(|c| c.to_ascii_uppercase()),
        sync_token: project.sync_seq.max(0) as u64,
        writable: role >= Role::Editor && !who.read_only,
    }
}

/// What the protocol layer may say of an error: its kind, never its text (which may hold
/// SQL), except for validation messages meant for the user.
fn store_error(err: AppError) -> StoreError {
    match err {
        AppError::NotFound => StoreError::NotFound,
        AppError::Forbidden(_) => StoreError::Forbidden,
        AppError::Validation(errors) | AppError::Conflict(errors) => StoreError::Invalid(
            errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        other => {
            tracing::error!(error = %other, "CalDAV storage failed");
            StoreError::Internal
        }
    }
}

fn db_error(err: sea_orm::DbErr) -> StoreError {
    store_error(AppError::from(err))
}

/// Tasks as iCalendar text, one calendar object each (see [`export::objects`]).
async fn render(
    db: &impl ConnectionTrait,
    rows: &[task::Model],
) -> Result<Vec<String>, StoreError> {
    let objects = export::objects(db, rows).await.map_err(store_error)?;
    Ok(objects.iter().map(ical::write).collect())
}

/// The live task named `name` in `project`.
async fn named(
    db: &impl ConnectionTrait,
    project: i64,
    name: &str,
) -> Result<Option<task::Model>, StoreError> {
    task::Entity::find()
        .filter(task::Column::ProjectId.eq(project))
        .filter(task::Column::DavName.eq(name))
        .filter(task::Column::DeletedAt.is_null())
        .one(db)
        .await
        .map_err(db_error)
}

/// Links to `parent` (just made) the tasks of its project that name it as their parent
/// but came first: clients upload in their own order, and a subtask PUT before its parent
/// kept the link only as text (`RELATED-TO` in its extras), so the app never showed it as
/// a subtask. A link that would make a loop or nest too deep stays as text.
async fn adopt_subtasks(
    tx: &DatabaseTransaction,
    writer: tasks::Writer,
    access: &Access,
    parent: &task::Model,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    let line = format!("RELATED-TO;RELTYPE=PARENT:{}", parent.uid);
    // Narrowed in SQL by the UID (a bound LIKE: `%` or `_` in a UID only widen it), then
    // matched exactly on the parsed extras.
    let waiting = task::Entity::find()
        .filter(task::Column::ProjectId.eq(parent.project_id))
        .filter(task::Column::DeletedAt.is_null())
        .filter(task::Column::ParentId.is_null())
        .filter(task::Column::IcalExtra.contains(parent.uid.as_str()))
        .all(tx)
        .await
        .map_err(db_error)?;
    for child in waiting {
        let mut extra = ical_map::Extra::of(&child);
        let Some(at) = extra.todo.iter().position(|l| *l == line) else {
            continue;
        };
        extra.todo.remove(at);
        let changes = ValidChanges {
            parent_id: Some(Some(parent.id)),
            ..ValidChanges::default()
        };
        let id = child.id;
        match tasks::update(tx, writer, child, access.clone(), changes, now).await {
            Ok(_) => {}
            Err(AppError::Validation(_)) => continue,
            Err(other) => return Err(store_error(other)),
        }
        task::Entity::update_many()
            .col_expr(task::Column::IcalExtra, Expr::value(extra.to_column()))
            .filter(task::Column::Id.eq(id))
            .exec(tx)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

/// Whether `current` passes `If-Match` (`*`: it exists) and `If-None-Match: *`.
fn preconditions(
    current: Option<&task::Model>,
    if_match: Option<&str>,
    if_none_match_any: bool,
) -> Result<(), StoreError> {
    let ok = match (current, if_match) {
        (Some(_), _) if if_none_match_any => false,
        (None, Some(_)) => false,
        (Some(t), Some(tag)) => tag == "*" || tag == etag(t),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(StoreError::PreconditionFailed)
    }
}

impl CalendarStore for DavStore {
    async fn authenticate(&self, parts: &Parts) -> Option<Principal> {
        // The platform's own extractor, on a copy of the request's head: the same
        // credentials, lockouts and disabled-account checks as the API. It is shown a GET
        // without cookies. A GET, because its scope check takes any method that is not
        // "safe" to `http` for a write, and PROPFIND and REPORT are reads (RFC 4918 §9.1,
        // RFC 3253 §3.6): a read-only API key was 401 on everything. The key's scope is
        // kept in the principal instead, so its calendars say read-only and its writes are
        // 403 (a 401 would make the client ask for the password again). Without cookies,
        // because CalDAV is HTTP Basic (or a bearer token): a browser's session cookie
        // must not sign anyone in here, least of all on a request not checked for CSRF.
        let mut head = axum::http::Request::builder()
            .method(Method::GET)
            .uri(parts.uri.clone())
            .body(())
            .ok()?
            .into_parts()
            .0;
        head.headers = parts.headers.clone();
        head.headers.remove(header::COOKIE);
        head.extensions = parts.extensions.clone();
        let caller = CurrentUser::from_request_parts(&mut head, &self.app.platform)
            .await
            .ok()?;
        let account = user::Entity::find_by_id(caller.id)
            .one(&self.app.db)
            .await
            .ok()??;
        Some(Principal {
            user_id: account.id,
            display_name: account.display_name,
            email: account.email,
            read_only: caller.scope < Scope::Write,
        })
    }

    async fn calendars(&self, who: &Principal) -> Result<Vec<CalendarInfo>, StoreError> {
        let memberships = member::Entity::find()
            .filter(member::Column::UserId.eq(who.user_id))
            .all(&self.app.db)
            .await
            .map_err(db_error)?;
        let projects = project::Entity::find()
            .filter(project::Column::Id.is_in(memberships.iter().map(|m| m.project_id)))
            .filter(project::Column::DeletedAt.is_null())
            .order_by_asc(project::Column::Position)
            .order_by_asc(project::Column::Id)
            .all(&self.app.db)
            .await
            .map_err(db_error)?;
        Ok(projects
            .into_iter()
            .filter_map(|p| {
                let role = memberships.iter().find(|m| m.project_id == p.id)?.role;
                Some(calendar(p, role, who))
            })
            .collect())
    }

    async fn calendar(&self, who: &Principal, id: i64) -> Result<CalendarInfo, StoreError> {
        let reached = access::project(&self.app.db, who.user_id, id, Role::Viewer, Trash::Excluded)
            .await
            .map_err(store_error)?;
        Ok(calendar(reached.project, reached.role, who))
    }

    async fn objects(&self, who: &Principal, calendar: i64) -> Result<Vec<ObjectInfo>, StoreError> {
        self.calendar(who, calendar).await?;
        let rows = task::Entity::find()
            .filter(task::Column::ProjectId.eq(calendar))
            .filter(task::Column::DeletedAt.is_null())
            .order_by_asc(task::Column::Id)
            .all(&self.app.db)
            .await
            .map_err(db_error)?;
        Ok(rows.iter().map(info).collect())
    }

    async fn get(
        &self,
        who: &Principal,
        calendar: i64,
        name: &str,
    ) -> Result<(ObjectInfo, String), StoreError> {
        self.get_many(who, calendar, &[name.to_owned()])
            .await?
            .pop()
            .ok_or(StoreError::NotFound)
    }

    async fn get_many(
        &self,
        who: &Principal,
        calendar: i64,
        names: &[String],
    ) -> Result<Vec<(ObjectInfo, String)>, StoreError> {
        self.calendar(who, calendar).await?;
        let rows = task::Entity::find()
            .filter(task::Column::ProjectId.eq(calendar))
            .filter(task::Column::DavName.is_in(names.iter().cloned()))
            .filter(task::Column::DeletedAt.is_null())
            .order_by_asc(task::Column::Id)
            .all(&self.app.db)
            .await
            .map_err(db_error)?;
        let texts = render(&self.app.db, &rows).await?;
        Ok(rows.iter().map(info).zip(texts).collect())
    }

    async fn put(
        &self,
        who: &Principal,
        calendar: i64,
        name: &str,
        ics: &str,
        if_match: Option<&str>,
        if_none_match_any: bool,
    ) -> Result<Put, StoreError> {
        let app = &self.app;
        let writer = app.writer(who.user_id).await.map_err(store_error)?;
        let tx = begin_write(&app.db).await.map_err(db_error)?;
        let access = access::project(&tx, who.user_id, calendar, Role::Viewer, Trash::Excluded)
            .await
            .map_err(store_error)?;
        let current = named(&tx, calendar, name).await?;
        preconditions(current.as_ref(), if_match, if_none_match_any)?;
        if access.role < Role::Editor || who.read_only {
            return Err(StoreError::Forbidden);
        }
        let object = ical::parse(ics).map_err(|err| StoreError::Invalid(err.to_string()))?;
        let mut parsed = ical_map::from_object(object).map_err(StoreError::Invalid)?;
        let now = app.now();
        if let Some(parent_uid) = &parsed.parent_uid {
            let parent = task::Entity::find()
                .filter(task::Column::ProjectId.eq(calendar))
                .filter(task::Column::Uid.eq(parent_uid.as_str()))
                .filter(task::Column::DeletedAt.is_null())
                .one(&tx)
                .await
                .map_err(db_error)?;
            match parent {
                Some(parent) => parsed.changes.parent_id = Some(Some(parent.id)),
                // A parent not (yet) here: the link is kept as the client sent it.
                None => parsed
                    .extra
                    .todo
                    .push(format!("RELATED-TO;RELTYPE=PARENT:{parent_uid}")),
            }
        } else {
            parsed.changes.parent_id = Some(None);
        }
        let (task, created) = match current {
            Some(existing) => {
                if existing.uid != parsed.uid {
                    return Err(StoreError::Invalid(
                        "the UID of a stored task cannot change".to_owned(),
                    ));
                }
                if let Some(sent) = parsed.changes.reminders.take() {
                    let current = reminder::Entity::find()
                        .filter(reminder::Column::TaskId.eq(existing.id))
                        .order_by_asc(reminder::Column::Id)
                        .all(&tx)
                        .await
                        .map_err(db_error)?;
                    parsed.changes.reminders = Some(ical_map::merge_reminders(&current, sent));
                }
                let (task, _) =
                    tasks::update(&tx, writer, existing, access.clone(), parsed.changes, now)
                        .await
                        .map_err(store_error)?;
                (task, false)
            }
            None => {
                let same_uid = task::Entity::find()
                    .filter(task::Column::ProjectId.eq(calendar))
                    .filter(task::Column::Uid.eq(parsed.uid.as_str()))
                    .one(&tx)
                    .await
                    .map_err(db_error)?;
                match same_uid {
                    Some(other) if other.deleted_at.is_none() => {
                        return Err(StoreError::Conflict(other.dav_name));
                    }
                    // Made again after a delete: the one in the trash gives way.
                    Some(trashed) => {
                        task::Entity::delete_by_id(trashed.id)
                            .exec(&tx)
                            .await
                            .map_err(db_error)?;
                        // It was the tombstone of its name: under another name now, a
                        // client that still has the old one could not be told it is gone.
                        if trashed.dav_name != name {
                            tasks::expire_sync_tokens(&tx, calendar)
                                .await
                                .map_err(store_error)?;
                        }
                    }
                    None => {}
                }
                let origin = tasks::Origin {
                    uid: Some(parsed.uid.clone()),
                    dav_name: Some(name.to_owned()),
                };
                let task = tasks::insert(&tx, writer, &access, parsed.changes, origin, now)
                    .await
                    .map_err(store_error)?;
                (task, true)
            }
        };
        let extra = parsed.extra.to_column();
        task::Entity::update_many()
            .col_expr(task::Column::IcalExtra, Expr::value(extra.clone()))
            .filter(task::Column::Id.eq(task.id))
            .exec(&tx)
            .await
            .map_err(db_error)?;
        let task = task::Model {
            ical_extra: extra,
            ..task
        };
        if created {
            adopt_subtasks(&tx, writer, &access, &task, now).await?;
        }
        let event = if created {
            Event::Created
        } else {
            Event::Updated
        };
        tasks::finish(app, tx, writer, task, event)
            .await
            .map_err(store_error)?;
        // Stored as columns, so not the bytes sent: the client fetches it again (no ETag).
        Ok(if created {
            Put::Created(None)
        } else {
            Put::Updated(None)
        })
    }

    async fn delete(
        &self,
        who: &Principal,
        calendar: i64,
        name: &str,
        if_match: Option<&str>,
    ) -> Result<(), StoreError> {
        let app = &self.app;
        let writer = app.writer(who.user_id).await.map_err(store_error)?;
        let tx = begin_write(&app.db).await.map_err(db_error)?;
        let access = access::project(&tx, who.user_id, calendar, Role::Viewer, Trash::Excluded)
            .await
            .map_err(store_error)?;
        let current = named(&tx, calendar, name)
            .await?
            .ok_or(StoreError::NotFound)?;
        preconditions(Some(&current), if_match, false)?;
        if access.role < Role::Editor || who.read_only {
            return Err(StoreError::Forbidden);
        }
        tasks::remove(app, &tx, writer, &current)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(db_error)?;
        app.committed();
        Ok(())
    }

    async fn changes_since(
        &self,
        who: &Principal,
        calendar: i64,
        token: u64,
        limit: Option<usize>,
    ) -> Result<Changes, StoreError> {
        let db = &self.app.db;
        let reached = access::project(db, who.user_id, calendar, Role::Viewer, Trash::Excluded)
            .await
            .map_err(store_error)?;
        let current = reached.project.sync_seq.max(0) as u64;
        let floor = reached.project.sync_floor.max(0) as u64;
        if token > current || (token != 0 && token < floor) {
            return Err(StoreError::PreconditionFailed);
        }
        let mut query = task::Entity::find()
            .filter(task::Column::ProjectId.eq(calendar))
            .filter(task::Column::SyncSeq.gt(token as i64))
            .order_by_asc(task::Column::SyncSeq)
            .order_by_asc(task::Column::Id);
        if token == 0 {
            query = query.filter(task::Column::DeletedAt.is_null());
        }
        let mut rows = query.all(db).await.map_err(db_error)?;
        let truncated = limit.is_some_and(|limit| rows.len() > limit);
        if let Some(limit) = limit {
            rows.truncate(limit);
        }
        let token = match (truncated, rows.last()) {
            (true, Some(last)) => last.sync_seq as u64,
            _ => current,
        };
        let (gone, live): (Vec<_>, Vec<_>) = rows.into_iter().partition(|t| t.deleted_at.is_some());
        Ok(Changes {
            token,
            changed: live.iter().map(info).collect(),
            removed: gone.into_iter().map(|t| t.dav_name).collect(),
            truncated,
        })
    }

    async fn update_calendar(
        &self,
        who: &Principal,
        calendar: i64,
        patch: CalendarPatch,
    ) -> Result<(), StoreError> {
        if who.read_only {
            return Err(StoreError::Forbidden);
        }
        let changes = ProjectChanges {
            name: patch.name,
            colour: patch.color.map(|c| c.map(|c| c.to_ascii_lowercase())),
            description: patch.description,
            ..ProjectChanges::default()
        };
        projects::change(&self.app, who.user_id, calendar, changes)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
