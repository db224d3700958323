//! Checking an email and password: shared by Basic auth, the session login and the token
//! endpoint, so that all three are rate limited and timed the same way.

use std::{net::IpAddr, time::Duration};

use chrono::{TimeDelta, Utc};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};
use secrecy::SecretString;

use super::{
    password, sign_in_addresses,
    user::{self, Email},
};
use crate::{
    error::{AppError, AppResult},
    state::AppState,
};

/// The account for `email` if `password` is its password and it may sign in.
///
/// Every failure looks the same from outside (401, same timing: an unknown email is
/// checked against a dummy hash so that it costs as much as a wrong password), and is
/// logged without the password. Failures are counted three ways, each attempt taken before
/// the Argon2 check so that a burst cannot outrun the counts:
///
/// - per account *and* address (`login_failures_per_account`): past it, that address gets
///   429 for that account;
/// - per address (`login_failures_per_ip`), over every account;
/// - per account (`login_failures_per_account`), from anywhere: past it, the account is
///   under attack, and only addresses it has signed in from before may still try. So a
///   stranger's guesses slow down strangers, never the owner at a known address.
pub async fn check_password(
    state: &AppState,
    email: &str,
    password: SecretString,
    ip: IpAddr,
) -> AppResult<user::Model> {
    let limits = &state.auth;
    // What is not an email address is no account's: no lookup, no hashing.
    let Ok(email) = Email::parse(email) else {
        limits.guesses.miss(ip).await;
        metrics::counter!("auth_failed_logins_total").increment(1);
        return Err(AppError::Unauthorized);
    };
    let email = email.into_inner();
    let refused = |wait: Duration| {
        tracing::warn!(%email, %ip, "sign-in refused: too many failures");
        AppError::TooManyRequests { retry_after: wait }
    };
    limits.guesses.take(&email, ip).await.map_err(refused)?;
    let under_attack = limits.failures_by_account.take(&email).await.err();

    let found = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&state.db)
        .await?;
    if let Some(wait) = under_attack {
        let known = match &found {
            Some(user) => sign_in_addresses::is_known(&state.db, user.id, ip).await?,
            None => false,
        };
        if !known {
            limits.guesses.give_back(&email, ip).await;
            return Err(refused(wait));
        }
    }
    let stored = found
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| limits.dummy_hash.clone());
    let matches = password::verify(password, stored).await?
        && found.as_ref().is_some_and(|u| u.password_hash.is_some());

    let Some(user) = found.filter(|_| matches) else {
        // The attempts taken above stay counted: they were failures.
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
    limits.guesses.passed(&email, ip).await;
    // Given back, not reset: an owner who signs in often (Basic does on every request)
    // must not hand a stranger a fresh set of guesses each time.
    limits.failures_by_account.give_back(&email).await;
    if user.disabled_at.is_some() {
        tracing::warn!(user_id = user.id, %ip, "sign-in refused: account disabled");
        return Err(AppError::Unauthorized);
    }

    // Basic auth checks the password on every request; record the sign-in at most once a
    // minute rather than writing on every call.
    let now = Utc::now();
    let stale = user
        .last_login_at
        .is_none_or(|at| now - at > TimeDelta::minutes(1));
    if user.failed_logins != 0 || stale || under_attack.is_some() {
        user::Entity::update_many()
            .col_expr(user::Column::FailedLogins, Expr::value(0))
            .col_expr(user::Column::LastLoginAt, Expr::value(now))
            .filter(user::Column::Id.eq(user.id))
            .exec(&state.db)
            .await?;
        sign_in_addresses::remember(&state.db, user.id, ip).await?;
    }
    Ok(user)
}
