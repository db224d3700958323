//! Comments on tasks: read by every member, written by commenters and above, deleted by
//! their author or an admin.

use platform::{AppError, AppResult, db::begin_write};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::{
    TasksState,
    access::{self, Trash},
    api::{CommentView, NewComment, TEXT_CHARS},
    entities::comment,
    model::Role,
};

fn view(c: comment::Model) -> CommentView {
    CommentView {
        id: c.id,
        task_id: c.task_id,
        author_id: c.author_id,
        body: c.body,
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

pub async fn list(state: &TasksState, user: i64, task: i64) -> AppResult<Vec<CommentView>> {
    access::task(&state.db, user, task, Role::Viewer, Trash::Excluded).await?;
    let rows = comment::Entity::find()
        .filter(comment::Column::TaskId.eq(task))
        .order_by_asc(comment::Column::Id)
        .all(&state.db)
        .await?;
    Ok(rows.into_iter().map(view).collect())
}

pub async fn add(
    state: &TasksState,
    user: i64,
    task: i64,
    input: NewComment,
) -> AppResult<CommentView> {
    let body = input.body.trim();
    if body.is_empty() {
        return Err(AppError::validation("body", "must not be empty"));
    }
    if body.chars().count() > TEXT_CHARS {
        return Err(AppError::validation(
            "body",
            format!("must be at most {TEXT_CHARS} characters"),
        ));
    }
    let tx = begin_write(&state.db).await?;
    let (task, _) = access::task(&tx, user, task, Role::Commenter, Trash::Excluded).await?;
    let now = state.now();
    let row = comment::ActiveModel {
        task_id: Set(task.id),
        project_id: Set(task.project_id),
        author_id: Set(user),
        body: Set(body.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    tx.commit().await?;
    Ok(view(row))
}

pub async fn delete(state: &TasksState, user: i64, task: i64, id: i64) -> AppResult<()> {
    let tx = begin_write(&state.db).await?;
    let (_, reached) = access::task(&tx, user, task, Role::Commenter, Trash::Excluded).await?;
    let row = comment::Entity::find_by_id(id)
        .filter(comment::Column::TaskId.eq(task))
        .one(&tx)
        .await?
        .ok_or(AppError::NotFound)?;
    if row.author_id != user {
        access::allow(reached.role, Role::Admin)?;
    }
    comment::Entity::delete_by_id(id).exec(&tx).await?;
    tx.commit().await?;
    Ok(())
}
