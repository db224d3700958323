//! Social login with GitHub and Google: the OAuth 2.0 authorization-code flow (RFC 6749
//! §4.1) with PKCE (RFC 7636, `S256`) and `state`.
//!
//! 1. `GET /auth/oauth/{provider}/start` makes a random `state` and PKCE verifier, keeps them
//!    in `oauth_states` (the state only as its hash; ten minutes) so that any instance can
//!    finish the sign-in, puts the state in a short-lived cookie, and sends the browser to
//!    the provider (303).
//! 2. The provider sends the browser back to `/callback?code=&state=`. The state must be one
//!    we issued, unexpired, for this provider, and equal to the cookie: a forged callback
//!    cannot sign a victim into someone else's account (login CSRF), and a callback URL that
//!    leaked (a log, a shared screen) cannot be completed from another browser. It works
//!    once.
//! 3. We trade the code and the verifier for an access token, ask the provider who the user
//!    is, find or make the account, and start a browser session exactly as a password
//!    sign-in does (303 to `oauth_redirect_after_login`, with the session cookies).
//!
//! Which account: the one already linked to this provider identity; else the account with
//! the same email, but only if the provider says it has verified that email (otherwise
//! anyone could claim any account by putting its address on a provider profile); else a new
//! account without a password.
//!
//! Linking instead, when a signed-in user started the flow with
//! `POST /me/identities/{provider}` (see [`super::identities`]): step 1 is the same, with
//! the account kept beside the state; in step 3 the identity is linked to that account,
//! whatever its address, and the browser goes back without a new session.

mod provider;

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Redirect, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, TimeDelta, Utc};
use reqwest::Url;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, TransactionTrait,
    entity::prelude::*,
    sea_query::{Expr, ExprTrait},
};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::IntoParams;

pub use provider::{Profile, Provider, ProviderKind, validate};

use super::{
    api_keys, secret, session, token,
    user::{self, DisplayName, Role},
};
use crate::{
    config::Config,
    error::{AppError, AppResult, FieldError, Problem},
    http::Query,
    state::AppState,
};

/// Holds the `state` between start and callback, in the browser that started the flow.
pub const STATE_COOKIE: &str = "capstone_oauth_state";
/// How long a user may take at the provider before the sign-in must be started again.
const STATE_TTL: TimeDelta = TimeDelta::minutes(10);

/// `oauth_states`: sign-ins between start and callback.
pub mod state_entity {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oauth_states")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub state_hash: String,
        pub provider: ProviderKind,
        pub code_verifier: String,
        pub created_at: DateTime<Utc>,
        pub expires_at: DateTime<Utc>,
        /// The account to link the identity to, when its signed-in owner started the flow
        /// (see [`super::begin`]); `None` for a sign-in.
        pub user_id: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `oauth_identities`: which provider account signs in to which of our accounts.
pub mod identity_entity {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oauth_identities")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub provider: ProviderKind,
        #[sea_orm(primary_key, auto_increment = false)]
        pub subject: String,
        pub user_id: i64,
        /// The address the provider last gave, for the user's information only: the
        /// identity is the (provider, subject) pair.
        pub email: Option<String>,
        pub created_at: DateTime<Utc>,
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

/// Sends the browser to the provider to sign in.
#[utoipa::path(
    get,
    path = "/auth/oauth/{provider}/start",
    tag = "auth",
    params(("provider" = String, Path, description = "`github` or `google`")),
    responses(
        (status = 303, description = "To the provider's authorization page; `Set-Cookie` binds the sign-in to this browser",
            headers(("location" = String, description = "The provider's authorization URL"))),
        (status = 404, description = "No such provider, or it is not configured", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn start(
    State(state): State<AppState>,
    Path(provider): Path<String>,
) -> AppResult<Response> {
    let provider = enabled(&state.config, &provider)?;
    let (url, state_cookie) = begin(&state, &provider, None).await?;
    let mut response = Redirect::to(url.as_str()).into_response();
    state_cookie.set(&mut response);
    Ok(response)
}

/// The `state` of a flow just begun, to be set as a cookie in the browser that goes to the
/// provider.
#[must_use = "the callback refuses a state the browser does not hold"]
pub(crate) struct StateCookie {
    config: Arc<Config>,
    kind: ProviderKind,
    token: String,
}

impl StateCookie {
    pub(crate) fn set(self, response: &mut Response) {
        let max_age = STATE_TTL.num_seconds();
        set_state_cookie(&self.config, self.kind, &self.token, max_age, response);
    }
}

/// Begins a flow with `provider`: a sign-in, or with `link_to`, linking the identity to
/// that account (whose owner is signed in). Returns the provider's authorization URL and
/// the state cookie for the browser.
pub(crate) async fn begin(
    state: &AppState,
    provider: &Provider,
    link_to: Option<i64>,
) -> AppResult<(Url, StateCookie)> {
    let state_token = secret::generate("");
    // 43 characters of base64url: within RFC 7636's 43 to 128 unreserved characters.
    let verifier = secret::generate("");
    let now = Utc::now();
    let tx = state.db.begin().await?;
    // Abandoned sign-ins are swept here, a cheap indexed delete, rather than by a worker.
    state_entity::Entity::delete_many()
        .filter(state_entity::Column::ExpiresAt.lt(now))
        .exec(&tx)
        .await?;
    state_entity::ActiveModel {
        state_hash: Set(secret::hash(&state_token)),
        provider: Set(provider.kind),
        code_verifier: Set(verifier.clone()),
        created_at: Set(now),
        expires_at: Set(now + STATE_TTL),
        user_id: Set(link_to),
    }
    .insert(&tx)
    .await?;
    tx.commit().await?;

    let url = provider.authorize_url(
        &redirect_uri(&state.config, provider.kind),
        &state_token,
        &pkce_challenge(&verifier),
    );
    let cookie = StateCookie {
        config: state.config.clone(),
        kind: provider.kind,
        token: state_token,
    };
    Ok((url, cookie))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CallbackParams {
    /// The one-time authorization code, on success.
    pub code: Option<String>,
    /// The `state` we sent, returned as is.
    pub state: Option<String>,
    /// Set instead of `code` when the sign-in did not happen (`access_denied`: the user
    /// declined).
    pub error: Option<String>,
}

/// Where the provider sends the browser back: finishes the sign-in and starts a session.
///
/// A user who declines at the provider gets 403: the request is understood and the
/// state checks out, but the sign-in was refused (by the user), which is not a malformed
/// request (400).
#[utoipa::path(
    get,
    path = "/auth/oauth/{provider}/callback",
    tag = "auth",
    params(("provider" = String, Path, description = "`github` or `google`"), CallbackParams),
    responses(
        (status = 303, description = "Signed in; `Set-Cookie` carries the session, `Location` is `oauth_redirect_after_login`",
            headers(("location" = String, description = "Where to go now"))),
        (status = 400, description = "Missing code, or a state that is unknown, expired, used, or not this browser's", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The user declined at the provider, or the account is disabled", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such provider, or it is not configured", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An account has this email, and the provider has not verified it", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider failed or refused to complete the sign-in", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The provider did not answer in time", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    Query(params): Query<CallbackParams>,
) -> AppResult<Response> {
    let provider = enabled(&state.config, &provider)?;
    let mut response = match finish(&state, &provider, &headers, params).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    };
    // The state is spent either way; the browser need not keep it.
    set_state_cookie(&state.config, provider.kind, "", 0, &mut response);
    Ok(response)
}

async fn finish(
    state: &AppState,
    provider: &Provider,
    headers: &HeaderMap,
    params: CallbackParams,
) -> AppResult<Response> {
    let claimed = claim_state(state, provider.kind, headers, params.state.as_deref()).await?;
    if let Some(error) = params.error {
        return Err(if error == "access_denied" {
            tracing::info!(provider = %provider.kind, "social sign-in declined by the user");
            AppError::Forbidden(format!(
                "You declined to let Capstone use your {} account, so you are not signed in.",
                provider.kind
            ))
        } else {
            tracing::warn!(provider = %provider.kind, error, "provider reported an error");
            AppError::BadGateway(format!(
                "{} could not sign you in; please try again later.",
                provider.kind
            ))
        });
    }
    let code = params
        .code
        .filter(|c| !c.is_empty())
        .ok_or_else(|| AppError::BadRequest("The `code` parameter is missing.".into()))?;

    // The provider is called outside any transaction: a slow provider must not hold locks.
    let redirect_uri = redirect_uri(&state.config, provider.kind);
    let access_token = provider
        .exchange_code(&state.http, &code, &redirect_uri, &claimed.code_verifier)
        .await?;
    let profile = provider.profile(&state.http, &access_token).await?;
    if let Some(user_id) = claimed.user_id {
        link_identity(&state.db, provider.kind, &profile, user_id).await?;
        // The user is signed in already: back to the application, no new session.
        return Ok(Redirect::to(&state.config.oauth_redirect_after_login).into_response());
    }

    let plan = plan_account(&state.db, provider.kind, &profile).await?;
    if let AccountPlan::Known(account) | AccountPlan::Link(account) = &plan
        && account.disabled_at.is_some()
    {
        tracing::warn!(user_id = account.id, provider = %provider.kind, "social sign-in refused: account disabled");
        return Err(AppError::Forbidden("This account is disabled.".into()));
    }
    // Only writes from here, so that SQLite never has to upgrade a read transaction into a
    // write one (which fails if another connection wrote meanwhile). What was read above
    // may change before the writes; the keys decide then: a second link or account for
    // the same identity or email clashes (409) rather than duplicating.
    let tx = state.db.begin().await?;
    let account = apply_plan(&tx, provider.kind, &profile, plan).await?;
    user::Entity::update_many()
        .col_expr(user::Column::LastLoginAt, Expr::value(Utc::now()))
        .filter(user::Column::Id.eq(account.id))
        .exec(&tx)
        .await?;
    let (session_token, session) = session::create(&tx, &state.config, account.id).await?;
    tx.commit().await?;

    tracing::info!(user_id = account.id, provider = %provider.kind, "signed in with a social login");
    let mut response = Redirect::to(&state.config.oauth_redirect_after_login).into_response();
    session::set_cookies(&state.config, &session_token, &session, &mut response);
    Ok(response)
}

/// The provider named in the path, if it is configured; 404 otherwise, so that a disabled
/// provider looks like one that does not exist.
pub(super) fn enabled(config: &Config, name: &str) -> AppResult<Provider> {
    ProviderKind::from_path(name)
        .and_then(|kind| Provider::enabled(config, kind))
        .ok_or(AppError::NotFound)
}

/// Checks the returned `state` against the cookie and our records, spends it, and returns
/// its record (the PKCE verifier, and the account to link to, if any).
async fn claim_state(
    state: &AppState,
    kind: ProviderKind,
    headers: &HeaderMap,
    returned: Option<&str>,
) -> AppResult<state_entity::Model> {
    let invalid = || {
        AppError::BadRequest(
            "This sign-in is unknown, expired, already used, or was started in another \
             browser; please start again."
                .into(),
        )
    };
    let returned = returned.filter(|s| !s.is_empty()).ok_or_else(invalid)?;
    let cookie = state_cookie(headers).ok_or_else(invalid)?;
    if !secret::equal(cookie, returned) {
        tracing::warn!(provider = %kind, "social sign-in refused: state does not match the cookie");
        return Err(invalid());
    }
    let hash = secret::hash(returned);
    let found = state_entity::Entity::find_by_id(hash.clone())
        .one(&state.db)
        .await?
        .ok_or_else(invalid)?;
    // Deleting is the claim: of two callbacks racing with one state, one deletes the row.
    let deleted = state_entity::Entity::delete_by_id(hash)
        .exec(&state.db)
        .await?
        .rows_affected;
    if deleted != 1 || found.provider != kind || found.expires_at <= Utc::now() {
        return Err(invalid());
    }
    Ok(found)
}

/// Links the provider identity in `profile` to account `user_id`, whose owner started the
/// flow while signed in: whatever address the provider gives, for the owner has just signed
/// in on both sides. Refused (409) if the identity signs in to another account, or if the
/// account has another identity with this provider already. Reads, then one insert, as
/// [`finish`] does: a link made meanwhile by another request clashes on the key (409).
async fn link_identity(
    db: &impl ConnectionTrait,
    kind: ProviderKind,
    profile: &Profile,
    user_id: i64,
) -> AppResult<()> {
    let account = user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    if account.disabled_at.is_some() {
        return Err(AppError::Forbidden("This account is disabled.".into()));
    }
    let linked = identity_entity::Entity::find()
        .filter(identity_entity::Column::Provider.eq(kind))
        .filter(
            identity_entity::Column::Subject
                .eq(&profile.subject)
                .or(identity_entity::Column::UserId.eq(user_id)),
        )
        .all(db)
        .await?;
    if let Some(other) = linked.iter().find(|i| i.subject == profile.subject) {
        if other.user_id == user_id {
            return Ok(());
        }
        tracing::warn!(user_id, provider = %kind, "identity link refused: it signs in to another account");
        return Err(AppError::conflict(
            "provider",
            format!(
                "This {kind} account already signs in to another Capstone account; unlink                  it there first"
            ),
        ));
    }
    if !linked.is_empty() {
        return Err(AppError::conflict(
            "provider",
            format!("Another {kind} account is linked to yours; unlink it first"),
        ));
    }
    identity_entity::ActiveModel {
        provider: Set(kind),
        subject: Set(profile.subject.clone()),
        user_id: Set(user_id),
        email: Set(profile.email.as_ref().map(|e| e.as_str().to_owned())),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    tracing::info!(user_id, provider = %kind, "social identity linked by its signed-in owner");
    Ok(())
}

/// What a social sign-in will do with our accounts.
enum AccountPlan {
    /// The identity is linked to this account already.
    Known(user::Model),
    /// Link the identity to this account, which has the provider's verified email.
    Link(user::Model),
    /// Open a new account.
    Create,
}

/// Decides which account `profile` signs in to (see the module docs for the rules), by
/// reading only.
async fn plan_account(
    db: &impl ConnectionTrait,
    kind: ProviderKind,
    profile: &Profile,
) -> AppResult<AccountPlan> {
    if let Some(identity) = identity_entity::Entity::find_by_id((kind, profile.subject.clone()))
        .one(db)
        .await?
    {
        // The foreign key cascades, so the account is there.
        let account = user::Entity::find_by_id(identity.user_id)
            .one(db)
            .await?
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("identity without an account")))?;
        return Ok(AccountPlan::Known(account));
    }
    let Some(email) = &profile.email else {
        return Err(AppError::Forbidden(format!(
            "Your {kind} account has no email address that Capstone can use; add one \
             there, then try again."
        )));
    };
    let existing = user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .one(db)
        .await?;
    match existing {
        Some(account) if profile.email_verified => Ok(AccountPlan::Link(account)),
        Some(_) => Err(AppError::Conflict(vec![FieldError::new(
            "email",
            format!(
                "belongs to an existing account, and {kind} has not verified that it is \
                 yours; sign in with your password instead"
            ),
        )])),
        None => Ok(AccountPlan::Create),
    }
}

/// Carries out the plan: links or creates, and returns the account signed in to.
async fn apply_plan(
    tx: &impl ConnectionTrait,
    kind: ProviderKind,
    profile: &Profile,
    plan: AccountPlan,
) -> AppResult<user::Model> {
    let email = profile.email.as_ref().map(|e| e.as_str().to_owned());
    let now = Utc::now();
    let account = match plan {
        AccountPlan::Known(account) => {
            // Keep the address the provider last gave, for the user's information.
            identity_entity::Entity::update_many()
                .col_expr(identity_entity::Column::Email, Expr::value(email))
                .filter(identity_entity::Column::Provider.eq(kind))
                .filter(identity_entity::Column::Subject.eq(&profile.subject))
                .exec(tx)
                .await?;
            return Ok(account);
        }
        AccountPlan::Link(account) => {
            tracing::info!(user_id = account.id, provider = %kind, "social identity linked to an existing account by verified email");
            secure_on_first_proof(tx, account, now).await?
        }
        AccountPlan::Create => {
            let created = user::ActiveModel {
                email: Set(email.clone().unwrap_or_default()),
                display_name: Set(display_name(profile)),
                password_hash: Set(None),
                role: Set(Role::Member),
                email_verified_at: Set(profile.email_verified.then_some(now)),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(tx)
            .await?;
            tracing::info!(user_id = created.id, provider = %kind, "account created by social sign-in");
            created
        }
    };
    identity_entity::ActiveModel {
        provider: Set(kind),
        subject: Set(profile.subject.clone()),
        user_id: Set(account.id),
        email: Set(email),
        created_at: Set(now),
    }
    .insert(tx)
    .await?;
    Ok(account)
}

/// Linking by a verified email to an account whose own email was never verified: the
/// provider has now proved who owns the address, and nobody had before. Whoever opened the
/// account may not have been that person (an attacker can register a victim's address
/// first and wait for the victim to sign in with a provider), so the password, sessions,
/// refresh tokens and API keys made before this proof are cancelled; the owner can set a
/// new password with a reset. An account already verified keeps everything.
async fn secure_on_first_proof(
    tx: &impl ConnectionTrait,
    account: user::Model,
    now: DateTime<Utc>,
) -> AppResult<user::Model> {
    if account.email_verified_at.is_some() {
        return Ok(account);
    }
    let id = account.id;
    let mut changes = account.into_active_model();
    changes.email_verified_at = Set(Some(now));
    changes.password_hash = Set(None);
    changes.updated_at = Set(now);
    let updated = changes.update(tx).await?;
    session::Entity::delete_many()
        .filter(session::entity::Column::UserId.eq(id))
        .exec(tx)
        .await?;
    token::revoke_all(tx, id).await?;
    api_keys::Entity::delete_many()
        .filter(api_keys::entity::Column::UserId.eq(id))
        .exec(tx)
        .await?;
    tracing::warn!(
        user_id = id,
        "unverified account claimed by a verified social identity: earlier credentials revoked"
    );
    Ok(updated)
}

/// The first of the provider's names that makes a valid display name, else the email's
/// local part: a new account needs one.
fn display_name(profile: &Profile) -> String {
    let local_part = profile
        .email
        .as_ref()
        .and_then(|e| e.as_str().split('@').next())
        .map(str::to_owned);
    profile
        .names
        .iter()
        .cloned()
        .chain(local_part)
        .map(|name| name.chars().take(100).collect::<String>())
        .find_map(|name| DisplayName::parse(&name).ok())
        .map_or_else(|| "New user".to_owned(), DisplayName::into_inner)
}

/// Where the provider sends the browser back; registered with the provider as is.
fn redirect_uri(config: &Config, kind: ProviderKind) -> String {
    format!(
        "{}/api/v1/auth/oauth/{}/callback",
        config.public_url(),
        kind.slug()
    )
}

/// The PKCE `S256` challenge: base64url (no padding) of the SHA-256 of the verifier.
fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Sets (or, with `max_age` 0, clears) the state cookie. It is scoped to this provider's
/// routes, so it is sent nowhere else, and a sign-in with the other provider in another tab
/// does not overwrite it. HttpOnly: no script needs it. `SameSite=Lax`, not `Strict`: the
/// callback is a top-level navigation from the provider's site, which `Strict` would send
/// without the cookie.
fn set_state_cookie(
    config: &Config,
    kind: ProviderKind,
    value: &str,
    max_age: i64,
    response: &mut Response,
) {
    let secure = if config.public_url().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{STATE_COOKIE}={value}; Path=/api/v1/auth/oauth/{}; Max-Age={max_age}; HttpOnly; \
         SameSite=Lax{secure}",
        kind.slug()
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    // Redirects carrying credentials are not for caches.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The state cookie's value in the request, if any.
fn state_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == STATE_COOKIE && !value.is_empty()).then_some(value)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::user::Email;

    #[test]
    fn pkce_challenge_is_rfc_7636_s256() {
        // The example of RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn display_names_fall_back_to_the_email() {
        let profile = |names: &[&str]| Profile {
            subject: "1".into(),
            email: Some(Email::parse("ann.lee@example.com").unwrap()),
            email_verified: true,
            names: names.iter().map(|n| (*n).to_owned()).collect(),
        };
        assert_eq!(display_name(&profile(&["Ann Lee", "ann"])), "Ann Lee");
        assert_eq!(display_name(&profile(&["  ", "ann"])), "ann");
        assert_eq!(display_name(&profile(&[])), "ann.lee");
        assert_eq!(
            display_name(&profile(&[&"é".repeat(150)])).chars().count(),
            100
        );
    }

    #[test]
    fn the_state_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; capstone_oauth_state=xyz; c=d"),
        );
        assert_eq!(state_cookie(&headers), Some("xyz"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("capstone_oauth_state="),
        );
        assert_eq!(state_cookie(&headers), None);
    }
}
