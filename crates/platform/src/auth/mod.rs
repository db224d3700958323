//! Accounts, authentication (who is calling) and authorisation (what they may do).
//!
//! - [`identity`]: the [`CurrentUser`] extractor behind all four ways of signing in, and
//!   [`RequireAdmin`].
//! - [`register`], [`me`]: opening, reading, changing and closing an account.
//! - [`session`]: browser sessions (cookie + CSRF token), stored in the database.
//! - [`token`]: the OAuth 2.0-style token endpoint (JWT access + rotating refresh tokens).
//! - [`api_keys`]: long-lived keys for integrations, read-only or read-write.
//! - [`email_flows`]: verifying an email address, and resetting a forgotten password, by mail.
//! - [`oauth`]: social login with GitHub and Google (authorization code + PKCE).
//! - [`admin`]: roles and disabling accounts.

pub mod admin;
pub mod api_keys;
pub mod email_flows;
pub mod identities;
pub mod identity;
pub mod jwt;
pub mod login;
pub mod me;
pub mod oauth;
pub mod ownership;
pub mod password;
pub mod rate_limit;
pub mod register;
pub mod secret;
pub mod session;
pub mod sign_in_addresses;
pub mod token;
pub mod user;

use std::time::Duration;

use axum::middleware;
use utoipa_axum::{router::OpenApiRouter, routes};

pub use identity::{AuthMethod, CurrentUser, RequireAdmin, Scope};
pub use ownership::{Owned, find_owned};

use crate::{config::Config, error::AppResult, shared::Shared, state::AppState};
use jwt::JwtKeys;
use rate_limit::{FailureLimiter, GuessLimiter};

/// What authentication needs besides the database, made once at start.
pub struct AuthState {
    pub jwt: JwtKeys,
    /// Failed sign-ins per account from anywhere, and per account and address and per
    /// address: see [`login::check_password`].
    pub failures_by_account: FailureLimiter,
    pub guesses: GuessLimiter,
    /// Accounts opened per address (`registrations_per_ip` an hour).
    pub registrations_by_ip: FailureLimiter,
    /// Requests to mail an address (verification, password reset).
    pub mail_limits: email_flows::MailLimits,
    /// A real argon2id hash of a random password, verified against when the email is
    /// unknown, so that "no such account" takes as long as "wrong password".
    dummy_hash: String,
}

/// Parses authentication's settings: the signing keys (returned) and the OAuth providers'.
pub fn parse_settings(config: &Config) -> anyhow::Result<JwtKeys> {
    oauth::validate(config).map_err(|(setting, reason)| anyhow::anyhow!("{setting}: {reason}"))?;
    JwtKeys::from_config(config)
}

impl AuthState {
    pub async fn new(config: &Config, shared: &Shared) -> AppResult<Self> {
        let jwt = parse_settings(config)?;
        let window = Duration::from_secs(config.login_window_secs);
        let dummy = password::Password::parse(&secret::generate(""))
            .expect("a random token meets the policy");
        Ok(Self {
            jwt,
            failures_by_account: FailureLimiter::new(
                "login:account",
                config.login_failures_per_account,
                window,
                shared.clone(),
            ),
            guesses: GuessLimiter::new(
                "login",
                config.login_failures_per_account,
                config.login_failures_per_ip,
                window,
                shared,
            ),
            registrations_by_ip: FailureLimiter::new(
                "register:ip",
                config.registrations_per_ip,
                Duration::from_secs(60 * 60),
                shared.clone(),
            ),
            mail_limits: email_flows::MailLimits::new(shared),
            dummy_hash: password::hash(dummy).await?,
        })
    }
}

/// The auth routes, relative to `/api/v1`.
pub fn router(state: &AppState) -> OpenApiRouter<AppState> {
    let admin = OpenApiRouter::new()
        .routes(routes!(admin::list_users))
        .routes(routes!(admin::update_user))
        .route_layer(middleware::from_extractor_with_state::<RequireAdmin, _>(
            state.clone(),
        ));
    OpenApiRouter::new()
        .routes(routes!(register::register))
        .routes(routes!(session::sign_in, session::sign_out))
        .routes(routes!(token::token))
        .routes(routes!(token::revoke))
        .routes(routes!(me::get_me, me::update_me, me::delete_me))
        .routes(routes!(api_keys::create, api_keys::list))
        .routes(routes!(api_keys::delete))
        .routes(routes!(identities::list))
        .routes(routes!(identities::link, identities::unlink))
        .routes(routes!(email_flows::request_verification))
        .routes(routes!(email_flows::confirm_verification))
        .routes(routes!(email_flows::request_password_reset))
        .routes(routes!(email_flows::confirm_password_reset))
        .routes(routes!(oauth::start))
        .routes(routes!(oauth::callback))
        .merge(admin)
}
