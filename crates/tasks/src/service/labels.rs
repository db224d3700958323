//! Labels: each user's own, applied to tasks of any project they can edit.

use platform::{
    AppError, AppResult,
    db::{Violation, violation},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{TasksState, api::parse_label, entities::label, model::parse_colour};

#[derive(Debug, Serialize, ToSchema)]
pub struct LabelView {
    pub id: i64,
    pub name: String,
    pub colour: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelInput {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "platform::http::json::nullable")]
    #[schema(value_type = Option<String>)]
    pub colour: Option<Option<String>>,
}

fn view(l: label::Model) -> LabelView {
    LabelView {
        id: l.id,
        name: l.name,
        colour: l.colour,
    }
}

fn taken(err: sea_orm::DbErr) -> AppError {
    match violation(&err) {
        Some(Violation::Unique { .. }) => {
            AppError::conflict("name", "you already have a label of this name")
        }
        _ => err.into(),
    }
}

pub async fn list(state: &TasksState, user: i64) -> AppResult<Vec<LabelView>> {
    let rows = label::Entity::find()
        .filter(label::Column::OwnerId.eq(user))
        .order_by_asc(label::Column::Name)
        .all(&state.db)
        .await?;
    Ok(rows.into_iter().map(view).collect())
}

pub async fn create(state: &TasksState, user: i64, input: LabelInput) -> AppResult<LabelView> {
    let mut v = platform::error::Validator::new();
    let name = match input.name.as_deref() {
        Some(n) => v.check("name", parse_label(n)),
        None => {
            v.error("name", "is required");
            None
        }
    };
    let colour = input
        .colour
        .flatten()
        .and_then(|c| v.check("colour", parse_colour(&c)));
    v.finish()?;
    let row = label::ActiveModel {
        owner_id: Set(user),
        name: Set(name.unwrap_or_default()),
        colour: Set(colour),
        created_at: Set(state.now()),
        ..Default::default()
    }
    .insert(&state.db)
    .await
    .map_err(taken)?;
    Ok(view(row))
}

pub async fn change(
    state: &TasksState,
    user: i64,
    id: i64,
    input: LabelInput,
) -> AppResult<LabelView> {
    let mut v = platform::error::Validator::new();
    let name = input
        .name
        .as_deref()
        .and_then(|n| v.check("name", parse_label(n)));
    let colour = input
        .colour
        .map(|c| c.and_then(|c| v.check("colour", parse_colour(&c))));
    v.finish()?;
    let row = label::Entity::find_by_id(id)
        .filter(label::Column::OwnerId.eq(user))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut active: label::ActiveModel = row.into();
    if let Some(name) = name {
        active.name = Set(name);
    }
    if let Some(colour) = colour {
        active.colour = Set(colour);
    }
    Ok(view(active.update(&state.db).await.map_err(taken)?))
}

/// Deletes a label: the tasks that carried it stay, without it.
pub async fn delete(state: &TasksState, user: i64, id: i64) -> AppResult<()> {
    let gone = label::Entity::delete_many()
        .filter(label::Column::Id.eq(id))
        .filter(label::Column::OwnerId.eq(user))
        .exec(&state.db)
        .await?;
    if gone.rows_affected == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}
