//! Who may do what: a project is seen by its members only, each acting up to their role.
//!
//! Every handler starts here. Someone who is not a member gets 404 for the project and for
//! everything in it — a 403 would confirm that it exists; a member below the role an action
//! needs gets 403. The check is a query of the membership, not a comparison after loading
//! what was asked for.

use platform::{AppError, AppResult};
use sea_orm::{ConnectionTrait, EntityTrait};

use crate::{
    entities::{member, project, task},
    model::Role,
};

/// A project as one of its members reaches it.
#[derive(Debug, Clone)]
pub struct Access {
    pub project: project::Model,
    pub role: Role,
}

/// Whether a project in the trash may be reached (to list or restore it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trash {
    Excluded,
    Included,
}

/// `user`'s access to project `id`, needing at least `needed`.
pub async fn project(
    db: &impl ConnectionTrait,
    user: i64,
    id: i64,
    needed: Role,
    trash: Trash,
) -> AppResult<Access> {
    let role = member::Entity::find_by_id((id, user))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?
        .role;
    let project = project::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|p| trash == Trash::Included || p.deleted_at.is_none())
        .ok_or(AppError::NotFound)?;
    allow(role, needed)?;
    Ok(Access { project, role })
}

/// `user`'s access to task `id` (in the trash if `trash` says so) and to its project.
pub async fn task(
    db: &impl ConnectionTrait,
    user: i64,
    id: i64,
    needed: Role,
    trash: Trash,
) -> AppResult<(task::Model, Access)> {
    let task = task::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|t| trash == Trash::Included || t.deleted_at.is_none())
        .ok_or(AppError::NotFound)?;
    let access = project(db, user, task.project_id, needed, Trash::Excluded).await?;
    Ok((task, access))
}

/// 403 unless `role` reaches `needed`.
pub fn allow(role: Role, needed: Role) -> AppResult<()> {
    if role >= needed {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "This needs the role {} in the project; yours is {}.",
            name(needed),
            name(role)
        )))
    }
}

fn name(role: Role) -> &'static str {
    match role {
        Role::Viewer => "viewer",
        Role::Commenter => "commenter",
        Role::Editor => "editor",
        Role::Admin => "admin",
        Role::Owner => "owner",
    }
}
