//! The caller's own account: `GET`, `PATCH` and `DELETE /api/v1/me`.

use axum::{extract::State, http::StatusCode};
use chrono::{TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    TransactionTrait,
};
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{
    CurrentUser, email_flows,
    password::{self, Password},
    session, token,
    user::{self, DisplayName, Email, User},
};
use crate::{
    error::{AppError, AppResult, Problem, Validator},
    http::Json,
    state::AppState,
};

/// The signed-in account.
#[utoipa::path(
    get,
    path = "/me",
    tag = "auth",
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The account", body = User),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_me(State(state): State<AppState>, user: CurrentUser) -> AppResult<Json<User>> {
    let found = user::Entity::find_by_id(user.id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(found.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AccountChanges {
    pub display_name: Option<String>,
    /// A new email must be verified again; needs `current_password`. The old address is
    /// told of the change.
    pub email: Option<String>,
    /// A new password; needs `current_password`. Signs out every other session and
    /// revokes every refresh token.
    pub password: Option<String>,
    /// The account's password, to change `email` or `password`: a stolen access token or
    /// session alone must not be enough to take the account. (An account without a
    /// password, made by social login, signs in again instead: a session from the last
    /// five minutes.)
    pub current_password: Option<String>,
}

/// Changes the display name, email or password of the signed-in account.
#[utoipa::path(
    patch,
    path = "/me",
    tag = "auth",
    request_body = AccountChanges,
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The changed account", body = User),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Signed in with an API key, or (an account without a password) changing the email without a recent sign-in", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Email already registered", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or wrong current password", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_me(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(input): Json<AccountChanges>,
) -> AppResult<Json<User>> {
    user.refuse_api_key("change the account")?;
    let mut v = Validator::new();
    let display_name = input
        .display_name
        .as_deref()
        .map(DisplayName::parse)
        .and_then(|r| v.check("display_name", r));
    let email = input
        .email
        .as_deref()
        .map(Email::parse)
        .and_then(|r| v.check("email", r));
    let new_password = input
        .password
        .as_deref()
        .map(Password::parse)
        .and_then(|r| v.check("password", r));
    v.finish()?;

    let current = user::Entity::find_by_id(user.id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    let email = email.filter(|e| e.as_str() != current.email);
    if email.is_some() || new_password.is_some() {
        prove_owner(&state, &user, &current, input.current_password).await?;
    }
    let mut changes = current.clone().into_active_model();
    if let Some(new_password) = new_password {
        changes.password_hash = Set(Some(password::hash(new_password).await?));
    }
    if let Some(name) = display_name {
        changes.display_name = Set(name.into_inner());
    }
    if let Some(email) = email {
        changes.email = Set(email.into_inner());
        changes.email_verified_at = Set(None);
    }
    changes.updated_at = Set(Utc::now());

    let tx = state.db.begin().await?;
    let password_changed = changes.password_hash.is_set();
    let updated = changes.update(&tx).await?;
    if password_changed {
        // Whoever else knew the old password is signed out everywhere but here.
        let mut others =
            session::Entity::delete_many().filter(session::entity::Column::UserId.eq(user.id));
        if let Some(this_session) = user.session_id {
            others = others.filter(session::entity::Column::Id.ne(this_session));
        }
        others.exec(&tx).await?;
        token::revoke_all(&tx, user.id).await?;
    }
    // The owner hears of it at the address they had, and confirms a new one; mailed by
    // jobs that exist if and only if the change does.
    let email_changed = updated.email != current.email;
    if email_changed {
        let notice = email_flows::change_notice(&state.config, &current.email, "email address");
        state.jobs.enqueue(&tx, &notice).await?;
        email_flows::send_verification(&state.jobs, &tx, &updated).await?;
    }
    if password_changed {
        let notice = email_flows::change_notice(&state.config, &updated.email, "password");
        state.jobs.enqueue(&tx, &notice).await?;
    }
    tx.commit().await?;
    state.jobs.wake();
    if email_changed {
        tracing::info!(user_id = user.id, "email changed");
    }
    if password_changed {
        tracing::info!(user_id = user.id, "password changed");
    }
    Ok(Json(updated.into()))
}

/// How long after signing in a session may change the email of an account that has no
/// password to confirm it with.
const RECENT_SIGN_IN: TimeDelta = TimeDelta::minutes(5);

/// That the caller is the account's owner, not only the holder of a credential: the
/// current password, or, for an account without one, a session signed in moments ago.
async fn prove_owner(
    state: &AppState,
    user: &CurrentUser,
    account: &user::Model,
    current_password: Option<String>,
) -> AppResult<()> {
    let Some(stored) = account.password_hash.clone() else {
        let recent = match user.session_id {
            Some(id) => session::Entity::find_by_id(id)
                .one(&state.db)
                .await?
                .is_some_and(|s| Utc::now() - s.created_at < RECENT_SIGN_IN),
            None => false,
        };
        return if recent {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "Sign in again to change the email: a session from the last five minutes \
                 is needed."
                    .into(),
            ))
        };
    };
    let Some(current_password) = current_password else {
        return Err(AppError::validation(
            "current_password",
            "is required to change the email or the password",
        ));
    };
    if password::verify(SecretString::from(current_password), stored).await? {
        Ok(())
    } else {
        Err(AppError::validation(
            "current_password",
            "is not the account's password",
        ))
    }
}

/// Deletes the signed-in account and everything it owns.
#[utoipa::path(
    delete,
    path = "/me",
    tag = "auth",
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Signed in with an API key", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_me(State(state): State<AppState>, user: CurrentUser) -> AppResult<StatusCode> {
    user.refuse_api_key("delete the account")?;
    // Sessions, tokens, keys and every app's rows go with it: ON DELETE CASCADE.
    user::Entity::delete_by_id(user.id).exec(&state.db).await?;
    tracing::info!(user_id = user.id, "account deleted");
    Ok(StatusCode::NO_CONTENT)
}
