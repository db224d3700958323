//! `POST /api/v1/auth/register`: open an account with an email and a password.

use axum::{extract::State, http::StatusCode, response::IntoResponse};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, TransactionTrait};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{
    email_flows,
    password::{self, Password},
    sign_in_addresses,
    user::{self, DisplayName, Email, Role, User},
};
use crate::{
    error::{AppError, AppResult, Problem, Validator},
    http::{ClientIp, Json, location},
    state::AppState,
};

#[derive(Debug, Deserialize, ToSchema)]
pub struct Registration {
    /// Unique, case-insensitively.
    #[schema(example = "ann@example.com")]
    pub email: String,
    /// 10 to 128 characters, not a well-known password.
    #[schema(
        example = "correct horse battery staple",
        min_length = 10,
        max_length = 128
    )]
    pub password: String,
    #[schema(example = "Ann", min_length = 1, max_length = 100)]
    pub display_name: String,
}

/// Opens an account. The email must not be registered already (409 otherwise).
#[utoipa::path(
    post,
    path = "/auth/register",
    tag = "auth",
    request_body = Registration,
    responses(
        (status = 201, description = "Account created", body = User,
            headers(("location" = String, description = "The new account"))),
        (status = 400, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Email already registered", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many accounts opened from this address; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many passwords being hashed; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(input): Json<Registration>,
) -> AppResult<impl IntoResponse> {
    let mut v = Validator::new();
    let email = v.check("email", Email::parse(&input.email));
    let display_name = v.check("display_name", DisplayName::parse(&input.display_name));
    let password = v.check("password", Password::parse(&input.password));
    v.finish()?;
    let (Some(email), Some(display_name), Some(password)) = (email, display_name, password) else {
        unreachable!("Validator::finish returned Ok, so every field parsed");
    };
    // Each account costs an Argon2 hash and a mail: taken before either is spent.
    state
        .auth
        .registrations_by_ip
        .take(&ip.to_string())
        .await
        .map_err(|retry_after| {
            tracing::warn!(%ip, "registration refused: too many from this address");
            AppError::TooManyRequests { retry_after }
        })?;

    let password_hash = password::hash(password).await?;
    let now = Utc::now();
    // No "is this email taken?" query first: that would race with a concurrent sign-up.
    // The unique index decides, and its refusal becomes a 409 naming `email`. The account
    // and the job that mails its verification link are made together.
    let tx = state.db.begin().await?;
    let created = user::ActiveModel {
        email: Set(email.into_inner()),
        display_name: Set(display_name.into_inner()),
        password_hash: Set(Some(password_hash)),
        role: Set(Role::Member),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    email_flows::send_verification(&state.jobs, &tx, &created).await?;
    tx.commit().await?;
    state.jobs.wake();

    tracing::info!(user_id = created.id, "account registered");
    if let Err(err) = sign_in_addresses::remember(&state.db, created.id, ip).await {
        tracing::warn!(user_id = created.id, error = %err, "sign-in address not kept");
    }
    Ok((
        StatusCode::CREATED,
        location("/api/v1/me"),
        Json(User::from(created)),
    ))
}
