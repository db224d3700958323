//! The token endpoint, in the style of OAuth 2.0 (RFC 6749 §4.3 and §6), and revocation
//! (RFC 7009).
//!
//! `grant_type=password` trades an email and password for a short-lived access token (a
//! JWT, checked without a database read for its signature) and a long-lived refresh token
//! (random, stored hashed). `grant_type=refresh_token` trades a refresh token for a new
//! pair: the old one is marked rotated and never works again. If a rotated token comes
//! back, someone kept a copy — a thief or a victim — and we cannot tell which, so the whole
//! family (every token descended from that sign-in) is revoked.

use std::time::Duration;

use axum::{
    extract::{FromRequest, Request, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait,
    entity::prelude::*, sea_query::Expr,
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{login, secret, user};
use crate::{
    db::Db,
    error::{AppError, AppResult, Problem},
    http::{ClientIp, Json},
    state::AppState,
};

pub mod entity {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "refresh_tokens")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub token_hash: String,
        pub user_id: i64,
        pub family_id: String,
        pub created_at: DateTime<Utc>,
        pub expires_at: DateTime<Utc>,
        pub rotated_at: Option<DateTime<Utc>>,
        pub revoked_at: Option<DateTime<Utc>>,
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

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{Column, Entity};

/// The token request, as a form (the standard) or JSON.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `password` or `refresh_token`.
    pub grant_type: String,
    /// The email, for `grant_type=password`.
    pub username: Option<String>,
    pub password: Option<String>,
    pub refresh_token: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Single use: trade it for a new pair before the access token runs out.
    pub refresh_token: String,
}

/// An RFC 6749 §5.2 error, the shape OAuth client libraries expect from a token endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthError {
    pub error: &'static str,
    pub error_description: String,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: description.into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = (StatusCode::BAD_REQUEST, axum::Json(self)).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// Either the OAuth-shaped error of this endpoint or a platform error (429, 503).
pub enum TokenError {
    OAuth(OAuthError),
    App(AppError),
}

impl From<AppError> for TokenError {
    fn from(err: AppError) -> Self {
        match err {
            AppError::Unauthorized => {
                TokenError::OAuth(OAuthError::new("invalid_grant", "Wrong email or password."))
            }
            other => TokenError::App(other),
        }
    }
}

impl From<sea_orm::DbErr> for TokenError {
    fn from(err: sea_orm::DbErr) -> Self {
        TokenError::App(err.into())
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        match self {
            TokenError::OAuth(e) => e.into_response(),
            TokenError::App(e) => e.into_response(),
        }
    }
}

/// Reads a form (`application/x-www-form-urlencoded`, as RFC 6749 requires) or JSON.
pub struct FormOrJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for FormOrJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> AppResult<Self> {
        if crate::http::form::is_form(req.headers()) {
            let crate::http::Form(value) = crate::http::Form::<T>::from_request(req, state).await?;
            Ok(FormOrJson(value))
        } else {
            let Json(value) = Json::<T>::from_request(req, state).await?;
            Ok(FormOrJson(value))
        }
    }
}

/// Issues tokens: `grant_type=password` (email in `username`) or `grant_type=refresh_token`.
#[utoipa::path(
    post,
    path = "/auth/token",
    tag = "auth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A new access and refresh token", body = TokenResponse),
        (status = 400, description = "RFC 6749 error: `invalid_grant`, `invalid_request`, `unsupported_grant_type`", body = OAuthError),
        (status = 429, description = "Too many failed attempts", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    FormOrJson(input): FormOrJson<TokenRequest>,
) -> Result<Response, TokenError> {
    let issued = match input.grant_type.as_str() {
        "password" => {
            let (Some(email), Some(password)) = (input.username, input.password) else {
                return Err(TokenError::OAuth(OAuthError::new(
                    "invalid_request",
                    "`username` and `password` are required.",
                )));
            };
            let user =
                login::check_password(&state, &email, SecretString::from(password), ip).await?;
            let family = uuid::Uuid::new_v4().to_string();
            issue(&state, &state.db, user.id, &family).await?
        }
        "refresh_token" => {
            let presented = input.refresh_token.ok_or_else(|| {
                TokenError::OAuth(OAuthError::new(
                    "invalid_request",
                    "`refresh_token` is required.",
                ))
            })?;
            rotate(&state, &presented).await?
        }
        _ => {
            return Err(TokenError::OAuth(OAuthError::new(
                "unsupported_grant_type",
                "Use `password` or `refresh_token`.",
            )));
        }
    };
    let mut response = axum::Json(issued).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn issue(
    state: &AppState,
    db: &impl ConnectionTrait,
    user_id: i64,
    family: &str,
) -> AppResult<TokenResponse> {
    let refresh_token = secret::generate("rt_");
    let now = Utc::now();
    entity::ActiveModel {
        token_hash: Set(secret::hash(&refresh_token)),
        user_id: Set(user_id),
        family_id: Set(family.to_owned()),
        created_at: Set(now),
        expires_at: Set(now + TimeDelta::days(state.config.refresh_token_ttl_days as i64)),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let ttl = Duration::from_secs(state.config.access_token_ttl_secs);
    Ok(TokenResponse {
        access_token: state.auth.jwt.sign(user_id, ttl),
        token_type: "Bearer".into(),
        expires_in: ttl.as_secs(),
        refresh_token,
    })
}

async fn rotate(state: &AppState, presented: &str) -> Result<TokenResponse, TokenError> {
    let invalid = || {
        TokenError::OAuth(OAuthError::new(
            "invalid_grant",
            "The refresh token is invalid, expired or revoked.",
        ))
    };
    let hash = secret::hash(presented);
    let now = Utc::now();
    let tx = state.db.begin().await?;
    // Claim the token first (write before read, so SQLite never has to upgrade a read
    // lock): of two concurrent uses exactly one updates the row; the other is re-use.
    let claimed = Entity::update_many()
        .col_expr(Column::RotatedAt, Expr::value(now))
        .filter(Column::TokenHash.eq(&hash))
        .filter(Column::RotatedAt.is_null())
        .filter(Column::RevokedAt.is_null())
        .filter(Column::ExpiresAt.gt(now))
        .exec(&tx)
        .await?
        .rows_affected
        == 1;
    let Some(token) = Entity::find()
        .filter(Column::TokenHash.eq(&hash))
        .one(&tx)
        .await?
    else {
        return Err(invalid());
    };
    if !claimed {
        drop(tx);
        if token.rotated_at.is_some() && token.revoked_at.is_none() {
            revoke_family(&state.db, &token.family_id).await?;
            tracing::warn!(user_id = token.user_id, family = %token.family_id, "refresh token re-used: family revoked");
        }
        return Err(invalid());
    }
    let active = user::Entity::find_by_id(token.user_id)
        .one(&tx)
        .await?
        .is_some_and(|u| u.disabled_at.is_none());
    if !active {
        return Err(invalid());
    }
    let issued = issue(state, &tx, token.user_id, &token.family_id).await?;
    tx.commit().await?;
    Ok(issued)
}

async fn revoke_family(db: &Db, family: &str) -> AppResult<()> {
    Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(Utc::now()))
        .filter(Column::FamilyId.eq(family))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Revokes every refresh token of `user_id` (password change, account disabled).
pub async fn revoke_all(db: &impl ConnectionTrait, user_id: i64) -> AppResult<()> {
    Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(Utc::now()))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RevokeRequest {
    pub token: String,
    /// Ignored: only refresh tokens can be revoked (access tokens expire on their own).
    pub token_type_hint: Option<String>,
}

/// Revokes a refresh token and every token rotated from the same sign-in (RFC 7009).
/// Answers 200 whether or not the token was valid, as the RFC requires.
#[utoipa::path(
    post,
    path = "/auth/revoke",
    tag = "auth",
    request_body(content = RevokeRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Revoked, or there was nothing to revoke"))
)]
pub async fn revoke(
    State(state): State<AppState>,
    FormOrJson(input): FormOrJson<RevokeRequest>,
) -> AppResult<StatusCode> {
    let found = Entity::find()
        .filter(Column::TokenHash.eq(secret::hash(&input.token)))
        .one(&state.db)
        .await?;
    if let Some(token) = found {
        revoke_family(&state.db, &token.family_id).await?;
    }
    Ok(StatusCode::OK)
}
