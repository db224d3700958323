//! Administration: `GET /api/v1/admin/users`, `PATCH /api/v1/admin/users/{id}`.
//! The router puts [`super::RequireAdmin`] in front of both.

use axum::extract::{Path, State};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait, sea_query::Expr,
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{
    CurrentUser, session, token,
    user::{self, Role, User},
};
use crate::{
    db::contains_any,
    error::{AppError, AppResult, Problem, Validator},
    http::{Json, Page, Pagination, Query},
    state::AppState,
};

#[derive(Debug, Deserialize, IntoParams)]
pub struct UserFilter {
    /// Part of an email or display name.
    pub q: Option<String>,
    pub role: Option<Role>,
}

/// Every account, oldest first, optionally filtered.
#[utoipa::path(
    get,
    path = "/admin/users",
    tag = "admin",
    params(Pagination, UserFilter),
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "A page of accounts", body = Page<User>),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_users(
    State(state): State<AppState>,
    page: Pagination,
    Query(filter): Query<UserFilter>,
) -> AppResult<Page<User>> {
    let mut query = user::Entity::find();
    if let Some(after) = page.after::<i64>()? {
        query = query.filter(user::Column::Id.gt(after));
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        query = query.filter(contains_any(
            [user::Column::Email, user::Column::DisplayName],
            q,
        ));
    }
    if let Some(role) = filter.role {
        query = query.filter(user::Column::Role.eq(role));
    }
    let rows = query
        .order_by_asc(user::Column::Id)
        .limit(page.fetch())
        .all(&state.db)
        .await?;
    Ok(page.page(rows.into_iter().map(User::from).collect(), |u| u.id))
}

/// Sets the role of the account with `email`; for the `capstone users set-role` command.
pub async fn set_role(db: &crate::db::Db, email: &str, role: Role) -> AppResult<user::Model> {
    let email = email.trim().to_lowercase();
    // One statement that writes first: a read and then a write on SQLite would hold a read
    // snapshot that the write must upgrade, which fails at once if the running server
    // wrote in between.
    user::Entity::update_many()
        .col_expr(user::Column::Role, Expr::value(role))
        .col_expr(user::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(user::Column::Email.eq(&email))
        .exec_with_returning(db)
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserChanges {
    pub role: Option<Role>,
    /// `true` disables the account at once: it cannot sign in, and its sessions, tokens and
    /// keys stop working. `false` enables it again.
    pub disabled: Option<bool>,
}

/// Changes an account's role, or disables or enables it.
#[utoipa::path(
    patch,
    path = "/admin/users/{id}",
    tag = "admin",
    params(("id" = i64, Path, description = "The account's id")),
    request_body = UserChanges,
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The changed account", body = User),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An admin cannot demote or disable themselves", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_user(
    State(state): State<AppState>,
    admin: CurrentUser,
    Path(id): Path<i64>,
    Json(input): Json<UserChanges>,
) -> AppResult<Json<User>> {
    let mut v = Validator::new();
    if id == admin.id {
        // Keeps at least one admin: the last one cannot lock everyone out by accident.
        if input.role.is_some_and(|r| r != Role::Admin) {
            v.error("role", "an admin cannot remove their own admin role");
        }
        if input.disabled == Some(true) {
            v.error("disabled", "an admin cannot disable their own account");
        }
    }
    v.finish()?;

    let found = user::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut changes = found.into_active_model();
    if let Some(role) = input.role {
        changes.role = Set(role);
    }
    let disabling = input.disabled == Some(true);
    if let Some(disabled) = input.disabled {
        changes.disabled_at = Set(disabled.then(Utc::now));
    }
    changes.updated_at = Set(Utc::now());

    let tx = state.db.begin().await?;
    let updated = changes.update(&tx).await?;
    if disabling {
        // Credentials are checked against `disabled_at` on every request already; removing
        // them too means re-enabling the account does not bring old sessions back.
        session::Entity::delete_many()
            .filter(session::entity::Column::UserId.eq(id))
            .exec(&tx)
            .await?;
        token::revoke_all(&tx, id).await?;
    }
    tx.commit().await?;
    tracing::info!(admin_id = admin.id, user_id = id, role = ?input.role, disabled = ?input.disabled, "account changed by admin");
    Ok(Json(updated.into()))
}
