//! The provider accounts (GitHub, Google) that sign in to the caller's account:
//! `GET /api/v1/me/identities`; `POST /api/v1/me/identities/{provider}` to link one, whatever
//! its address; and `DELETE /api/v1/me/identities/{provider}` to unlink one. (Signing in
//! with a provider also links it, when it vouches for the account's address: see
//! [`super::oauth`].)

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    CurrentUser,
    oauth::{self, ProviderKind, identity_entity as identity},
    user,
};
use crate::{
    error::{AppError, AppResult, Problem},
    http::Json,
    state::AppState,
};

/// A provider account linked to ours.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkedIdentity {
    /// `github` or `google`.
    pub provider: &'static str,
    /// The address the provider last gave, for information.
    pub email: Option<String>,
    pub linked_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityList {
    pub items: Vec<LinkedIdentity>,
}

/// The provider accounts that sign in to the caller's account, oldest first.
#[utoipa::path(
    get,
    path = "/me/identities",
    operation_id = "list_identities",
    tag = "auth",
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The linked identities", body = IdentityList),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Json<IdentityList>> {
    let rows = identity::Entity::find()
        .filter(identity::Column::UserId.eq(user.id))
        .order_by_asc(identity::Column::CreatedAt)
        .all(&state.db)
        .await?;
    Ok(Json(IdentityList {
        items: rows
            .into_iter()
            .map(|row| LinkedIdentity {
                provider: row.provider.slug(),
                email: row.email,
                linked_at: row.created_at,
            })
            .collect(),
    }))
}

/// Where to send the browser to link a provider account.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkStart {
    /// The provider's authorization page; once the user agrees there, the provider sends
    /// the browser back to our callback, which links the account and redirects to
    /// `oauth_redirect_after_login`.
    pub authorize_url: String,
}

/// Starts linking a provider account to the caller's, whatever address it has: the answer
/// names the provider page to send the browser to, and sets the state cookie that the
/// callback checks, so the same browser must finish. (A JSON answer rather than a redirect:
/// a script calls this, with the CSRF header, and navigates.)
#[utoipa::path(
    post,
    path = "/me/identities/{provider}",
    tag = "auth",
    params(("provider" = String, Path, description = "`github` or `google`")),
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Send the browser to `authorize_url`; `Set-Cookie` binds the flow to it", body = LinkStart),
        (status = 403, description = "Signed in with an API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such provider, or it is not configured", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn link(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(provider): Path<String>,
) -> AppResult<Response> {
    user.refuse_api_key("change how the account signs in")?;
    let provider = oauth::enabled(&state.config, &provider)?;
    let (url, cookie) = oauth::begin(&state, &provider, Some(user.id)).await?;
    let mut response = Json(LinkStart {
        authorize_url: url.into(),
    })
    .into_response();
    cookie.set(&mut response);
    Ok(response)
}

/// Unlinks a provider account: it no longer signs in to this one. Refused while it is the
/// account's only way in (no password, no other provider).
#[utoipa::path(
    delete,
    path = "/me/identities/{provider}",
    tag = "auth",
    params(("provider" = String, Path, description = "`github` or `google`")),
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Unlinked"),
        (status = 403, description = "Signed in with an API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such provider linked to your account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It is the account's only way to sign in", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn unlink(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(provider): Path<String>,
) -> AppResult<StatusCode> {
    user.refuse_api_key("change how the account signs in")?;
    let provider = ProviderKind::from_path(&provider).ok_or(AppError::NotFound)?;
    let tx = state.db.begin().await?;
    // The account's row, locked on PostgreSQL (SQLite runs one writer at a time): two
    // unlinks at once cannot both go ahead and leave the account without a way in.
    let account = user::Entity::find_by_id(user.id)
        .lock_exclusive()
        .one(&tx)
        .await?
        .ok_or(AppError::NotFound)?;
    let linked: Vec<ProviderKind> = identity::Entity::find()
        .select_only()
        .column(identity::Column::Provider)
        .filter(identity::Column::UserId.eq(user.id))
        .into_tuple()
        .all(&tx)
        .await?;
    if !linked.contains(&provider) {
        return Err(AppError::NotFound);
    }
    if account.password_hash.is_none() && linked.len() == 1 {
        return Err(AppError::conflict(
            "provider",
            "is the only way to sign in to this account; set a password first \
             (POST /api/v1/auth/password-reset) or link another provider",
        ));
    }
    identity::Entity::delete_many()
        .filter(identity::Column::UserId.eq(user.id))
        .filter(identity::Column::Provider.eq(provider))
        .exec(&tx)
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
