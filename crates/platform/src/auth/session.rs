//! Browser sessions: `POST /api/v1/auth/session` signs in and sets the session cookie,
//! `DELETE` signs out. The session lives in the database (so it survives restarts and is
//! seen by every instance); the cookie holds a random token whose hash is the lookup key.

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, entity::prelude::*,
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{CurrentUser, login, secret, user::User};
use crate::{
    config::Config,
    db::Db,
    error::{AppError, AppResult, Problem},
    http::{ClientIp, Json},
    state::AppState,
};

pub const COOKIE: &str = "capstone_session";
/// Readable by the page's scripts (not HttpOnly), so they can echo it in `x-csrf-token`.
pub const CSRF_COOKIE: &str = "capstone_csrf";

pub mod entity {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sessions")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub token_hash: String,
        pub user_id: i64,
        pub csrf_token: String,
        pub created_at: DateTime<Utc>,
        pub expires_at: DateTime<Utc>,
        pub last_seen_at: DateTime<Utc>,
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

pub use entity::{Entity, Model};

/// The session token in the request's cookies, if any.
pub fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE && !value.is_empty()).then_some(value)
        })
}

/// The unexpired session for `token`.
pub async fn find_live(db: &Db, token: &str) -> AppResult<Option<Model>> {
    Ok(Entity::find()
        .filter(entity::Column::TokenHash.eq(secret::hash(token)))
        .filter(entity::Column::ExpiresAt.gt(Utc::now()))
        .one(db)
        .await?)
}

/// A new session for `user_id`; returns the cookie token (shown only now) and the row.
/// `db` may be a transaction, so that a session starts only if what led to it is saved.
pub async fn create(
    db: &impl ConnectionTrait,
    config: &Config,
    user_id: i64,
) -> AppResult<(String, Model)> {
    let token = secret::generate("");
    let now = Utc::now();
    let session = entity::ActiveModel {
        token_hash: Set(secret::hash(&token)),
        user_id: Set(user_id),
        csrf_token: Set(secret::generate("")),
        created_at: Set(now),
        expires_at: Set(now + TimeDelta::hours(config.session_ttl_hours as i64)),
        last_seen_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok((token, session))
}

/// The response that starts a browser session: both cookies, and the CSRF token in the body.
pub fn signed_in_response(
    config: &Config,
    token: &str,
    session: &Model,
    user: User,
    status: StatusCode,
) -> Response {
    let body = SignedIn {
        user,
        csrf_token: session.csrf_token.clone(),
        expires_at: session.expires_at,
    };
    let mut response = (status, Json(body)).into_response();
    set_cookies(config, token, session, &mut response);
    response
}

/// Adds the cookies that start a browser session to any response (a JSON body above, a
/// redirect after a social login).
pub fn set_cookies(config: &Config, token: &str, session: &Model, response: &mut Response) {
    let max_age = (session.expires_at - Utc::now()).num_seconds().max(0);
    let secure = if config.public_url().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookies = [
        format!("{COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"),
        format!(
            "{CSRF_COOKIE}={}; Path=/; Max-Age={max_age}; SameSite=Lax{secure}",
            session.csrf_token
        ),
    ];
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Credentials {
    #[schema(example = "ann@example.com")]
    pub email: String,
    #[schema(example = "correct horse battery staple")]
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignedIn {
    pub user: User,
    /// Send as `x-csrf-token` on every POST, PUT, PATCH and DELETE made with the cookie.
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// Signs in with email and password and starts a browser session (HttpOnly cookie).
#[utoipa::path(
    post,
    path = "/auth/session",
    tag = "auth",
    request_body = Credentials,
    responses(
        (status = 201, description = "Signed in; `Set-Cookie` carries the session", body = SignedIn),
        (status = 401, description = "Wrong email or password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn sign_in(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(input): Json<Credentials>,
) -> AppResult<Response> {
    let user =
        login::check_password(&state, &input.email, SecretString::from(input.password), ip).await?;
    let (token, session) = create(&state.db, &state.config, user.id).await?;
    tracing::info!(user_id = user.id, "signed in with a session");
    Ok(signed_in_response(
        &state.config,
        &token,
        &session,
        user.into(),
        StatusCode::CREATED,
    ))
}

/// Ends the current browser session and clears its cookies.
#[utoipa::path(
    delete,
    path = "/auth/session",
    tag = "auth",
    security(("session" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in with a session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Missing `x-csrf-token`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn sign_out(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    let session_id = user.session_id.ok_or(AppError::Unauthorized)?;
    Entity::delete_by_id(session_id).exec(&state.db).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    for name in [COOKIE, CSRF_COOKIE] {
        let expired = format!("{name}=; Path=/; Max-Age=0; SameSite=Lax");
        if let Ok(value) = HeaderValue::from_str(&expired) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}
