//! API keys for integrations: `POST/GET /api/v1/me/api-keys`, `DELETE .../{id}`.
//!
//! A key is `cap_` followed by 43 random characters. It is shown once, at creation; we keep
//! its SHA-256 and its first 12 characters (the prefix), so a user can tell keys apart in a
//! list without the list revealing them. Keys are read-only unless made with `"scope":
//! "write"`, may expire, and record when they were last used.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, entity::prelude::*, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{CurrentUser, Owned, Scope, find_owned, secret};
use crate::{
    db::Db,
    error::{AppError, AppResult, Problem, Validator},
    http::{Json, Page, Pagination, location},
    state::AppState,
};

pub const PREFIX: &str = "cap_";
const SHOWN_PREFIX_LEN: usize = 12;

pub mod entity {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_keys")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub user_id: i64,
        pub name: String,
        pub prefix: String,
        pub key_hash: String,
        pub scope: KeyScope,
        pub created_at: DateTime<Utc>,
        pub expires_at: Option<DateTime<Utc>>,
        pub last_used_at: Option<DateTime<Utc>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "crate::auth::user::Entity",
            from = "Column::UserId",
            to = "crate::auth::user::Column::Id",
            on_delete = "Cascade"
        )]
        User,
    }

    impl Related<crate::auth::user::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::User.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::Column;
pub use entity::{Entity, Model};

impl super::Owned for Entity {
    fn owner_column() -> Column {
        Column::UserId
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum KeyScope {
    /// GET and HEAD only.
    #[sea_orm(string_value = "read")]
    Read,
    /// Everything the owner may do, except managing keys and the account itself.
    #[sea_orm(string_value = "write")]
    Write,
}

impl From<KeyScope> for Scope {
    fn from(scope: KeyScope) -> Self {
        match scope {
            KeyScope::Read => Scope::Read,
            KeyScope::Write => Scope::Write,
        }
    }
}

/// The key behind `token`, if it exists and has not expired. Notes the use, at most once a
/// minute per key, so that a busy integration does not turn every read into a write.
pub async fn authenticate(db: &Db, token: &str) -> AppResult<Model> {
    let now = Utc::now();
    let key = Entity::find()
        .filter(Column::KeyHash.eq(secret::hash(token)))
        .one(db)
        .await?
        .filter(|k| k.expires_at.is_none_or(|at| at > now))
        .ok_or(AppError::Unauthorized)?;
    if key
        .last_used_at
        .is_none_or(|at| now - at > TimeDelta::minutes(1))
    {
        Entity::update_many()
            .col_expr(Column::LastUsedAt, Expr::value(now))
            .filter(Column::Id.eq(key.id))
            .exec(db)
            .await?;
    }
    Ok(key)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewApiKey {
    /// What the key is for, to tell keys apart.
    #[schema(example = "deploy script")]
    pub name: String,
    /// `read` (the default) or `write`.
    pub scope: Option<KeyScope>,
    /// When the key stops working; never, if absent.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    /// The first characters of the key, to recognise it.
    #[schema(example = "cap_Zx81Qa0b")]
    pub prefix: String,
    pub scope: KeyScope,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<Model> for ApiKey {
    fn from(m: Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            prefix: m.prefix,
            scope: m.scope,
            created_at: m.created_at,
            expires_at: m.expires_at,
            last_used_at: m.last_used_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKey,
    /// The key itself. Shown only in this response: store it now.
    pub key: String,
}

/// Creates an API key. The response is the only time the key is shown.
#[utoipa::path(
    post,
    path = "/me/api-keys",
    operation_id = "create_api_key",
    tag = "auth",
    request_body = NewApiKey,
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "Created", body = CreatedApiKey,
            headers(("location" = String, description = "The new key"))),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Signed in with an API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(input): Json<NewApiKey>,
) -> AppResult<impl IntoResponse> {
    // Keys are managed with a password-backed credential, never with another key: a
    // leaked key must not be able to mint more keys or outlive its own deletion.
    user.refuse_api_key("manage API keys")?;
    let mut v = Validator::new();
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        v.error("name", "must be 1 to 100 characters");
    }
    if input.expires_at.is_some_and(|at| at <= Utc::now()) {
        v.error("expires_at", "must be in the future");
    }
    v.finish()?;

    let key = secret::generate(PREFIX);
    let created = entity::ActiveModel {
        user_id: Set(user.id),
        name: Set(name.to_owned()),
        prefix: Set(key[..SHOWN_PREFIX_LEN].to_owned()),
        key_hash: Set(secret::hash(&key)),
        scope: Set(input.scope.unwrap_or(KeyScope::Read)),
        created_at: Set(Utc::now()),
        expires_at: Set(input.expires_at),
        ..Default::default()
    }
    .insert(&state.db)
    .await?;
    let path = format!("/api/v1/me/api-keys/{}", created.id);
    Ok((
        StatusCode::CREATED,
        location(&path),
        Json(CreatedApiKey {
            api_key: created.into(),
            key,
        }),
    ))
}

/// Lists the caller's API keys, newest first (never the keys themselves).
#[utoipa::path(
    get,
    path = "/me/api-keys",
    operation_id = "list_api_keys",
    tag = "auth",
    params(Pagination),
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "A page of keys", body = Page<ApiKey>),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Pagination,
) -> AppResult<Page<ApiKey>> {
    user.refuse_api_key("manage API keys")?;
    let mut query = Entity::owned_by(&user);
    if let Some(before) = page.after::<i64>()? {
        query = query.filter(Column::Id.lt(before));
    }
    let rows = query
        .order_by_desc(Column::Id)
        .limit(page.fetch())
        .all(&state.db)
        .await?;
    let rows: Vec<ApiKey> = rows.into_iter().map(ApiKey::from).collect();
    Ok(page.page(rows, |key| key.id))
}

/// Deletes one of the caller's API keys; it stops working at once.
#[utoipa::path(
    delete,
    path = "/me/api-keys/{id}",
    operation_id = "delete_api_key",
    tag = "auth",
    params(("id" = i64, Path, description = "The key's id")),
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such key of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    user.refuse_api_key("manage API keys")?;
    let key = find_owned::<Entity>(&state.db, id, &user).await?;
    Entity::delete_by_id(key.id).exec(&state.db).await?;
    Ok(StatusCode::NO_CONTENT)
}
