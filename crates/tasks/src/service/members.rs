//! A project's members: invited by email with a role, their role changed, removed; the
//! last owner never goes.

use platform::{AppError, AppResult, auth::user, db::begin_write};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};

use crate::{
    TasksState,
    access::{self, Trash},
    api::{MemberChanges, MemberView, NewMember},
    entities::member,
    model::Role,
};

pub async fn list(state: &TasksState, caller: i64, project: i64) -> AppResult<Vec<MemberView>> {
    access::project(&state.db, caller, project, Role::Viewer, Trash::Excluded).await?;
    let members = member::Entity::find()
        .filter(member::Column::ProjectId.eq(project))
        .order_by_asc(member::Column::CreatedAt)
        .order_by_asc(member::Column::UserId)
        .all(&state.db)
        .await?;
    let ids: Vec<i64> = members.iter().map(|m| m.user_id).collect();
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(&state.db)
        .await?;
    Ok(members
        .into_iter()
        .filter_map(|m| {
            let u = users.iter().find(|u| u.id == m.user_id)?;
            Some(view(m, u))
        })
        .collect())
}

fn view(m: member::Model, u: &user::Model) -> MemberView {
    MemberView {
        user_id: m.user_id,
        email: u.email.clone(),
        display_name: u.display_name.clone(),
        role: m.role,
        since: m.created_at,
    }
}

/// Adds an existing user. Admins add up to editors; owners add anyone.
pub async fn add(
    state: &TasksState,
    caller: i64,
    project: i64,
    input: NewMember,
) -> AppResult<MemberView> {
    let tx = begin_write(&state.db).await?;
    let reached = access::project(&tx, caller, project, Role::Admin, Trash::Excluded).await?;
    may_grant(reached.role, input.role)?;
    let email = input.email.trim().to_lowercase();
    let invited = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(&tx)
        .await?
        .ok_or_else(|| AppError::validation("email", "no user has this email address"))?;
    if member::Entity::find_by_id((project, invited.id))
        .one(&tx)
        .await?
        .is_some()
    {
        return Err(AppError::conflict("email", "is already a member"));
    }
    let row = member::ActiveModel {
        project_id: Set(project),
        user_id: Set(invited.id),
        role: Set(input.role),
        created_at: Set(state.now()),
    }
    .insert(&tx)
    .await?;
    tx.commit().await?;
    Ok(view(row, &invited))
}

pub async fn change(
    state: &TasksState,
    caller: i64,
    project: i64,
    member_id: i64,
    changes: MemberChanges,
) -> AppResult<MemberView> {
    let tx = begin_write(&state.db).await?;
    let reached = access::project(&tx, caller, project, Role::Admin, Trash::Excluded).await?;
    let row = member::Entity::find_by_id((project, member_id))
        .one(&tx)
        .await?
        .ok_or(AppError::NotFound)?;
    may_grant(reached.role, row.role)?;
    may_grant(reached.role, changes.role)?;
    if row.role == Role::Owner && changes.role != Role::Owner {
        keep_an_owner(&tx, project).await?;
    }
    let mut active: member::ActiveModel = row.into();
    active.role = Set(changes.role);
    let row = active.update(&tx).await?;
    let u = user::Entity::find_by_id(member_id)
        .one(&tx)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(view(row, &u))
}

/// Removes a member: an admin removes others (up to their own rank), anyone leaves.
pub async fn remove(
    state: &TasksState,
    caller: i64,
    project: i64,
    member_id: i64,
) -> AppResult<()> {
    let tx = begin_write(&state.db).await?;
    let needed = if member_id == caller {
        Role::Viewer
    } else {
        Role::Admin
    };
    let reached = access::project(&tx, caller, project, needed, Trash::Excluded).await?;
    let row = member::Entity::find_by_id((project, member_id))
        .one(&tx)
        .await?
        .ok_or(AppError::NotFound)?;
    if member_id != caller {
        may_grant(reached.role, row.role)?;
    }
    if row.role == Role::Owner {
        keep_an_owner(&tx, project).await?;
    }
    member::Entity::delete_by_id((project, member_id))
        .exec(&tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Admins grant and change roles up to editor; owners any.
fn may_grant(caller: Role, role: Role) -> AppResult<()> {
    if caller == Role::Owner || role < Role::Admin {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "Only an owner gives or takes the roles admin and owner.".to_owned(),
        ))
    }
}

/// 409 when the project's only owner would stop being one.
async fn keep_an_owner(db: &impl ConnectionTrait, project: i64) -> AppResult<()> {
    let owners = member::Entity::find()
        .filter(member::Column::ProjectId.eq(project))
        .filter(member::Column::Role.eq(Role::Owner))
        .count(db)
        .await?;
    if owners <= 1 {
        return Err(AppError::conflict(
            "role",
            "the project's last owner cannot leave or step down; make another member owner first",
        ));
    }
    Ok(())
}
