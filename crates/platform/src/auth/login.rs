//! Checking an email and password: shared by Basic auth, the session login and the token
//! endpoint, so that all three are rate limited and timed the same way.

use std::net::IpAddr;

use axum::{extract::ConnectInfo, http::request::Parts};
use chrono::{TimeDelta, Utc};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};
use secrecy::SecretString;

use super::{password, user};
use crate::{
    config::Config,
    error::{AppError, AppResult},
    server::AppState,
};

/// The caller's address, as an extractor.
pub struct ClientIp(pub IpAddr);

impl axum::extract::FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts, &state.config)))
    }
}

/// The caller's address: from the configured proxy header when there is one (the address
/// the proxy itself saw, i.e. the last in `x-forwarded-for`), else the peer address.
pub fn client_ip(parts: &Parts, config: &Config) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    crate::http::client_ip(&parts.headers, peer, config.client_ip_header.as_deref())
}

/// The account for `email` if `password` is its password and it may sign in.
///
/// Every failure looks the same from outside (401, same timing: an unknown email is
/// checked against a dummy hash so that it costs as much as a wrong password), is counted
/// per account and per address, and is logged without the password. Past the configured
/// number of failures, attempts are refused with 429 before any hashing is done.
pub async fn check_password(
    state: &AppState,
    email: &str,
    password: SecretString,
    ip: IpAddr,
) -> AppResult<user::Model> {
    let email = email.trim().to_lowercase();
    let ip_key = ip.to_string();
    let limits = &state.auth;
    if let Some(wait) = limits
        .failures_by_account
        .blocked(&email)
        .await
        .max(limits.failures_by_ip.blocked(&ip_key).await)
    {
        tracing::warn!(%email, %ip, "sign-in refused: too many failures");
        return Err(AppError::TooManyRequests { retry_after: wait });
    }

    let found = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&state.db)
        .await?;
    let stored = found
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| limits.dummy_hash.clone());
    let matches = password::verify(password, stored).await?
        && found.as_ref().is_some_and(|u| u.password_hash.is_some());

    let Some(user) = found.filter(|_| matches) else {
        limits.failures_by_account.record_failure(&email).await;
        limits.failures_by_ip.record_failure(&ip_key).await;
        metrics::counter!("auth_failed_logins_total").increment(1);
        tracing::warn!(%email, %ip, "sign-in failed: wrong email or password");
        user::Entity::update_many()
            .col_expr(
                user::Column::FailedLogins,
                Expr::col(user::Column::FailedLogins).add(1),
            )
            .filter(user::Column::Email.eq(&email))
            .exec(&state.db)
            .await?;
        return Err(AppError::Unauthorized);
    };
    if user.disabled_at.is_some() {
        tracing::warn!(user_id = user.id, %ip, "sign-in refused: account disabled");
        return Err(AppError::Unauthorized);
    }

    limits.failures_by_account.reset(&email).await;
    // Basic auth checks the password on every request; record the sign-in at most once a
    // minute rather than writing on every call.
    let now = Utc::now();
    let stale = user
        .last_login_at
        .is_none_or(|at| now - at > TimeDelta::minutes(1));
    if user.failed_logins != 0 || stale {
        user::Entity::update_many()
            .col_expr(user::Column::FailedLogins, Expr::value(0))
            .col_expr(user::Column::LastLoginAt, Expr::value(now))
            .filter(user::Column::Id.eq(user.id))
            .exec(&state.db)
            .await?;
    }
    Ok(user)
}
