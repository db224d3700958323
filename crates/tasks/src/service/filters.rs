//! Saved filters: a user's named searches (`/api/v1/filters`), run as `GET
//! /api/v1/filters/{id}/tasks`.

use platform::{
    AppError, AppResult,
    db::{Violation, violation},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{TasksState, entities::filter, model::parse_name, search::Filter};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterInput {
    pub name: Option<String>,
    /// The search: the parameters of `GET /api/v1/tasks`, as an object.
    pub query: Option<Filter>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FilterView {
    pub id: i64,
    pub name: String,
    pub query: Filter,
}

pub fn query_of(row: &filter::Model) -> Filter {
    serde_json::from_str(&row.query).unwrap_or_default()
}

fn view(row: filter::Model) -> FilterView {
    FilterView {
        query: query_of(&row),
        id: row.id,
        name: row.name,
    }
}

fn taken(err: sea_orm::DbErr) -> AppError {
    match violation(&err) {
        Some(Violation::Unique { .. }) => {
            AppError::conflict("name", "you already have a filter of this name")
        }
        _ => err.into(),
    }
}

pub async fn list(state: &TasksState, user: i64) -> AppResult<Vec<FilterView>> {
    let rows = filter::Entity::find()
        .filter(filter::Column::OwnerId.eq(user))
        .order_by_asc(filter::Column::Name)
        .all(&state.db)
        .await?;
    Ok(rows.into_iter().map(view).collect())
}

pub async fn find(state: &TasksState, user: i64, id: i64) -> AppResult<filter::Model> {
    filter::Entity::find_by_id(id)
        .filter(filter::Column::OwnerId.eq(user))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn create(state: &TasksState, user: i64, input: FilterInput) -> AppResult<FilterView> {
    let name = parse_name(input.name.as_deref().unwrap_or(""), 100)
        .map_err(|m| AppError::validation("name", m))?;
    let query = input.query.unwrap_or_default();
    query.check()?;
    let row = filter::ActiveModel {
        owner_id: Set(user),
        name: Set(name),
        query: Set(serde_json::to_string(&query).map_err(anyhow::Error::from)?),
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
    input: FilterInput,
) -> AppResult<FilterView> {
    let row = find(state, user, id).await?;
    let mut active: filter::ActiveModel = row.into();
    if let Some(name) = input.name {
        active.name = Set(parse_name(&name, 100).map_err(|m| AppError::validation("name", m))?);
    }
    if let Some(query) = input.query {
        query.check()?;
        active.query = Set(serde_json::to_string(&query).map_err(anyhow::Error::from)?);
    }
    Ok(view(active.update(&state.db).await.map_err(taken)?))
}

pub async fn delete(state: &TasksState, user: i64, id: i64) -> AppResult<()> {
    let row = find(state, user, id).await?;
    filter::Entity::delete_by_id(row.id).exec(&state.db).await?;
    Ok(())
}
