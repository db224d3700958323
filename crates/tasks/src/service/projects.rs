//! Projects: made, changed, nested, put in the trash and restored.

use chrono::{DateTime, Utc};
use platform::{AppError, AppResult, db::begin_write, error::Validator};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, sea_query::Expr,
};

use crate::{
    TasksState,
    access::{self, Access, Trash},
    api::{NAME_CHARS, NewProject, ProjectChanges, ProjectView, parse_text},
    entities::{member, project},
    model::{Role, parse_colour, parse_name},
};

/// How deep projects nest: deep enough for any outline, shallow enough that the cycle
/// check is a handful of reads.
const MAX_DEPTH: usize = 8;

pub fn view(project: project::Model, role: Role) -> ProjectView {
    ProjectView {
        id: project.id,
        name: project.name,
        colour: project.colour,
        description: project.description,
        parent_id: project.parent_id,
        position: project.position,
        archived: project.archived,
        role,
        created_at: project.created_at,
        updated_at: project.updated_at,
        deleted_at: project.deleted_at,
    }
}

/// Every project `user` is a member of, in the trash or not, by position.
pub async fn list(
    db: &impl ConnectionTrait,
    user: i64,
    trash: Trash,
) -> AppResult<Vec<ProjectView>> {
    let memberships = member::Entity::find()
        .filter(member::Column::UserId.eq(user))
        .all(db)
        .await?;
    let ids: Vec<i64> = memberships.iter().map(|m| m.project_id).collect();
    let mut query = project::Entity::find()
        .filter(project::Column::Id.is_in(ids))
        .order_by_asc(project::Column::Position)
        .order_by_asc(project::Column::Id);
    query = match trash {
        Trash::Excluded => query.filter(project::Column::DeletedAt.is_null()),
        Trash::Included => query.filter(project::Column::DeletedAt.is_not_null()),
    };
    let projects = query.all(db).await?;
    Ok(projects
        .into_iter()
        .filter_map(|p| {
            let role = memberships.iter().find(|m| m.project_id == p.id)?.role;
            Some(view(p, role))
        })
        .collect())
}

pub async fn create(state: &TasksState, user: i64, input: NewProject) -> AppResult<ProjectView> {
    let mut v = Validator::new();
    let name = v.check("name", parse_name(&input.name, NAME_CHARS));
    let colour = input
        .colour
        .as_deref()
        .and_then(|c| v.check("colour", parse_colour(c)));
    let description = input
        .description
        .as_deref()
        .and_then(|d| v.check("description", parse_text(d)));
    v.finish()?;
    let now = state.now();
    let tx = begin_write(&state.db).await?;
    if let Some(parent) = input.parent_id {
        parent_for(&tx, user, parent, None).await?;
    }
    let project = project::ActiveModel {
        name: Set(name.unwrap_or_default()),
        colour: Set(colour),
        description: Set(description),
        parent_id: Set(input.parent_id),
        position: Set(input.position.unwrap_or(0)),
        archived: Set(false),
        created_by: Set(user),
        sync_seq: Set(0),
        sync_floor: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    member::ActiveModel {
        project_id: Set(project.id),
        user_id: Set(user),
        role: Set(Role::Owner),
        created_at: Set(now),
    }
    .insert(&tx)
    .await?;
    tx.commit().await?;
    Ok(view(project, Role::Owner))
}

pub async fn change(
    state: &TasksState,
    user: i64,
    id: i64,
    changes: ProjectChanges,
) -> AppResult<ProjectView> {
    let mut v = Validator::new();
    let name = changes
        .name
        .as_deref()
        .and_then(|n| v.check("name", parse_name(n, NAME_CHARS)));
    let colour = changes
        .colour
        .map(|c| c.and_then(|c| v.check("colour", parse_colour(&c))));
    let description = changes
        .description
        .map(|d| d.and_then(|d| v.check("description", parse_text(&d))));
    v.finish()?;
    let tx = begin_write(&state.db).await?;
    let Access { project, role } =
        access::project(&tx, user, id, Role::Admin, Trash::Excluded).await?;
    if let Some(Some(parent)) = changes.parent_id {
        parent_for(&tx, user, parent, Some(id)).await?;
    }
    let mut row: project::ActiveModel = project.into();
    if let Some(name) = name {
        row.name = Set(name);
    }
    if let Some(colour) = colour {
        row.colour = Set(colour);
    }
    if let Some(description) = description {
        row.description = Set(description);
    }
    if let Some(parent) = changes.parent_id {
        row.parent_id = Set(parent);
    }
    if let Some(position) = changes.position {
        row.position = Set(position);
    }
    if let Some(archived) = changes.archived {
        row.archived = Set(archived);
    }
    row.updated_at = Set(state.now());
    let project = row.update(&tx).await?;
    tx.commit().await?;
    Ok(view(project, role))
}

/// Checks that `parent` can take `child` (None: a new project) under it: the caller
/// administers it, and it is not `child` itself nor one of its descendants.
async fn parent_for(
    db: &impl ConnectionTrait,
    user: i64,
    parent: i64,
    child: Option<i64>,
) -> AppResult<()> {
    let field = |message: &str| AppError::validation("parent_id", message);
    let reached = access::project(db, user, parent, Role::Admin, Trash::Excluded)
        .await
        .map_err(|err| match err {
            AppError::NotFound | AppError::Forbidden(_) => field("is not a project you administer"),
            other => other,
        })?;
    // Walk up from the parent: meeting the child means a cycle.
    let mut depth = 1;
    let mut at = Some(reached.project);
    while let Some(p) = at {
        if Some(p.id) == child {
            return Err(field("would put the project inside itself"));
        }
        depth += 1;
        if depth > MAX_DEPTH {
            return Err(field(&format!("projects nest at most {MAX_DEPTH} deep")));
        }
        at = match p.parent_id {
            Some(up) => project::Entity::find_by_id(up).one(db).await?,
            None => None,
        };
    }
    Ok(())
}

/// Puts a project (and so its tasks) in the trash; an owner's act.
pub async fn delete(state: &TasksState, user: i64, id: i64) -> AppResult<()> {
    set_deleted(state, user, id, Some(state.now()), Trash::Excluded).await
}

/// Takes a project out of the trash, with its tasks' reminders re-armed.
pub async fn restore(state: &TasksState, user: i64, id: i64) -> AppResult<ProjectView> {
    set_deleted(state, user, id, None, Trash::Included).await?;
    let access = access::project(&state.db, user, id, Role::Viewer, Trash::Excluded).await?;
    Ok(view(access.project, access.role))
}

async fn set_deleted(
    state: &TasksState,
    user: i64,
    id: i64,
    at: Option<DateTime<Utc>>,
    trash: Trash,
) -> AppResult<()> {
    let tx = begin_write(&state.db).await?;
    let access = access::project(&tx, user, id, Role::Owner, trash).await?;
    if trash == Trash::Included && access.project.deleted_at.is_none() {
        return Err(AppError::NotFound);
    }
    project::Entity::update_many()
        .col_expr(project::Column::DeletedAt, Expr::value(at))
        .col_expr(project::Column::UpdatedAt, Expr::value(state.now()))
        .filter(project::Column::Id.eq(id))
        .exec(&tx)
        .await?;
    crate::reminders::replan_project(state, &tx, id).await?;
    tx.commit().await?;
    state.platform.jobs.wake();
    Ok(())
}
