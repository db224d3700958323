//! Who is calling: one extractor, four ways in.
//!
//! Authentication answers "who is this?" and happens here, once, for every method:
//!
//! | Request carries                          | Method  | Scope                      |
//! |------------------------------------------|---------|----------------------------|
//! | `Authorization: Basic base64(email:pw)`  | Basic   | read-write                 |
//! | `Authorization: Bearer cap_...`          | API key | the key's (read or write)  |
//! | `Authorization: Bearer <JWT>`            | Bearer  | read-write                 |
//! | cookie `capstone_session`                | Session | read-write, CSRF-checked   |
//!
//! Authorisation ("may they do this?") is separate: the scope check below (a read-only key
//! may not change anything), [`RequireAdmin`] for admin routes, and ownership checks in each
//! app's queries (another user's resource is simply not found: 404, not 403).

use std::sync::Arc;

use axum::{
    extract::{FromRequestParts, OptionalFromRequestParts},
    http::{HeaderMap, header, request::Parts},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::Utc;
use sea_orm::EntityTrait;
use secrecy::SecretString;
use serde::Serialize;
use utoipa::ToSchema;

use super::{api_keys, login, secret, session, user};
use crate::{
    error::{AppError, AppResult},
    http::RequestContext,
    state::AppState,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    Basic,
    Session,
    Bearer,
    ApiKey,
}

/// What a credential allows. Only API keys can be read-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Read,
    Write,
}

/// The authenticated caller. Handlers take it as an argument; a request without valid
/// credentials never reaches them (401 with `WWW-Authenticate`).
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: i64,
    pub role: user::Role,
    pub method: AuthMethod,
    pub scope: Scope,
    /// The session, when signed in by cookie (so that sign-out can end it).
    pub session_id: Option<i64>,
}

impl CurrentUser {
    pub fn is_admin(&self) -> bool {
        self.role == user::Role::Admin
    }

    /// 403 when the caller came with an API key: keys act on an app's data, never on the
    /// account itself. `action` completes "API keys cannot …".
    pub fn refuse_api_key(&self, action: &str) -> AppResult<()> {
        if self.method == AuthMethod::ApiKey {
            return Err(AppError::Forbidden(format!("API keys cannot {action}.")));
        }
        Ok(())
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> AppResult<Self> {
        if let Some(user) = parts.extensions.get::<CurrentUser>() {
            return Ok(user.clone());
        }
        let user = authenticate(parts, state).await?;
        if user.scope == Scope::Read && !parts.method.is_safe() {
            return Err(AppError::Forbidden("This API key is read-only.".into()));
        }
        if let Some(context) = parts.extensions.get::<Arc<RequestContext>>() {
            context.set_user(user.id);
        }
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

/// `Option<CurrentUser>`: anonymous callers are welcome, bad credentials are still refused.
impl OptionalFromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> AppResult<Option<Self>> {
        if parts.headers.contains_key(header::AUTHORIZATION)
            || session::cookie(&parts.headers).is_some()
        {
            <Self as FromRequestParts<AppState>>::from_request_parts(parts, state)
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    }
}

async fn authenticate(parts: &Parts, state: &AppState) -> AppResult<CurrentUser> {
    if let Some(authorization) = parts.headers.get(header::AUTHORIZATION) {
        let authorization = authorization.to_str().map_err(|_| AppError::Unauthorized)?;
        let (kind, credentials) = authorization
            .split_once(' ')
            .ok_or(AppError::Unauthorized)?;
        let credentials = credentials.trim();
        return match kind.to_ascii_lowercase().as_str() {
            "basic" => basic(parts, state, credentials).await,
            "bearer" if credentials.starts_with(api_keys::PREFIX) => {
                api_key(state, credentials).await
            }
            "bearer" => bearer(state, credentials).await,
            _ => Err(AppError::Unauthorized),
        };
    }
    if let Some(token) = session::cookie(&parts.headers) {
        return cookie(parts, state, token).await;
    }
    Err(AppError::Unauthorized)
}

async fn basic(parts: &Parts, state: &AppState, credentials: &str) -> AppResult<CurrentUser> {
    let decoded = STANDARD
        .decode(credentials)
        .map_err(|_| AppError::Unauthorized)?;
    let decoded = String::from_utf8(decoded).map_err(|_| AppError::Unauthorized)?;
    let (email, password) = decoded.split_once(':').ok_or(AppError::Unauthorized)?;
    // An API key in the password's place is an app password (as Nextcloud's and Fastmail's
    // are): what a CalDAV client keeps instead of the account's password. It must be a key
    // of the account named.
    if password.starts_with(api_keys::PREFIX) {
        let key = api_keys::authenticate(&state.db, password).await?;
        let user = active_user(state, key.user_id).await?;
        if !user.email.eq_ignore_ascii_case(email.trim()) {
            return Err(AppError::Unauthorized);
        }
        return Ok(identity(&user, AuthMethod::ApiKey, key.scope.into()));
    }
    let ip = state.client_addresses.of(&parts.headers, &parts.extensions);
    let user = login::check_password(state, email, SecretString::from(password), ip).await?;
    Ok(identity(&user, AuthMethod::Basic, Scope::Write))
}

async fn bearer(state: &AppState, token: &str) -> AppResult<CurrentUser> {
    let user_id = state.auth.jwt.verify(token).ok_or(AppError::Unauthorized)?;
    let user = active_user(state, user_id).await?;
    Ok(identity(&user, AuthMethod::Bearer, Scope::Write))
}

async fn api_key(state: &AppState, token: &str) -> AppResult<CurrentUser> {
    let key = api_keys::authenticate(&state.db, token).await?;
    let user = active_user(state, key.user_id).await?;
    Ok(identity(&user, AuthMethod::ApiKey, key.scope.into()))
}

async fn cookie(parts: &Parts, state: &AppState, token: &str) -> AppResult<CurrentUser> {
    let session = session::find_live(&state.db, token)
        .await?
        .ok_or(AppError::Unauthorized)?;
    // A cookie is sent by the browser whoever made the page; a form on another site must
    // not be able to act as the user. Unsafe requests prove they come from our own client
    // by echoing the session's CSRF token in a header another origin cannot read or set.
    if !parts.method.is_safe() && !csrf_matches(&parts.headers, &session.csrf_token) {
        return Err(AppError::Forbidden(
            "Missing or wrong `x-csrf-token` header for a cookie-authenticated request.".into(),
        ));
    }
    let user = active_user(state, session.user_id).await?;
    let mut current = identity(&user, AuthMethod::Session, Scope::Write);
    current.session_id = Some(session.id);
    Ok(current)
}

fn csrf_matches(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|sent| secret::equal(sent, expected))
}

/// The user behind a credential, if the account still exists and is not disabled. Checked
/// on every request, so disabling an account takes effect at once.
async fn active_user(state: &AppState, user_id: i64) -> AppResult<user::Model> {
    let user = user::Entity::find_by_id(user_id)
        .one(&state.db)
        .await?
        .ok_or(AppError::Unauthorized)?;
    if user.disabled_at.is_some_and(|at| at <= Utc::now()) {
        return Err(AppError::Unauthorized);
    }
    Ok(user)
}

fn identity(user: &user::Model, method: AuthMethod, scope: Scope) -> CurrentUser {
    CurrentUser {
        id: user.id,
        role: user.role,
        method,
        scope,
        session_id: None,
    }
}

/// Admits administrators only: 401 for anonymous callers, 403 for members.
/// Used as middleware on the admin router (`from_extractor_with_state`).
pub struct RequireAdmin;

impl FromRequestParts<AppState> for RequireAdmin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> AppResult<Self> {
        let user =
            <CurrentUser as FromRequestParts<AppState>>::from_request_parts(parts, state).await?;
        if user.is_admin() {
            Ok(RequireAdmin)
        } else {
            Err(AppError::Forbidden("This requires the admin role.".into()))
        }
    }
}
