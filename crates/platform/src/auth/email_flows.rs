//! Proving an email address, and resetting a forgotten password, with single-use tokens sent
//! by mail:
//!
//! - `POST /api/v1/auth/email-verification` mails the signed-in user a token; `.../confirm`
//!   with it marks the address verified.
//! - `POST /api/v1/auth/password-reset` mails a token to an address if it has an account,
//!   and answers the same either way; `.../confirm` with the token and a new password sets
//!   it and signs the account out everywhere.
//!
//! Tokens are 256 random bits, stored only as their SHA-256 in `user_tokens`, and claimed by
//! one conditional UPDATE, so of two concurrent uses only one wins. Each token also ends
//! with a digest of the address it was mailed to, and is refused once the account's email
//! differs: otherwise anyone could mail a token to their own address, switch their account
//! to someone else's address, and have that one declared verified; and a reset token sent
//! to an address the owner has since moved away from would still take over the account.

use std::{net::IpAddr, sync::Arc, time::Duration};

use axum::{extract::State, http::StatusCode};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseTransaction, EntityTrait, QueryFilter, TransactionTrait, entity::prelude::*,
    sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::{
    CurrentUser,
    password::{self, Password},
    rate_limit::FailureLimiter,
    secret, session, token,
    user::{self, Email},
};
use crate::{
    config::Config,
    db::Db,
    error::{AppError, AppResult, Problem, Validator},
    http::{ClientIp, Json},
    jobs::{Job, JobError, Jobs, Retries},
    mail::{Mail, Mailer},
    shared::Shared,
    state::AppState,
};

pub mod entity {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "user_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        pub user_id: i64,
        pub purpose: Purpose,
        pub created_at: DateTime<Utc>,
        pub expires_at: DateTime<Utc>,
        pub used_at: Option<DateTime<Utc>>,
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

/// What a token is for; a token works only for its own purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Purpose {
    #[sea_orm(string_value = "verify_email")]
    VerifyEmail,
    #[sea_orm(string_value = "reset_password")]
    ResetPassword,
}

impl Purpose {
    /// A reset token takes over the account, so it lives briefly; a verification token only
    /// proves an inbox, and mail is sometimes read days later.
    fn ttl(self) -> TimeDelta {
        match self {
            Purpose::VerifyEmail => TimeDelta::hours(48),
            Purpose::ResetPassword => TimeDelta::hours(1),
        }
    }
}

/// Characters of randomness at the start of a token, as [`secret::generate`] makes them.
const RANDOM_LEN: usize = 43;

/// A new token for mail to `email`: 43 random characters, then 22 naming the address.
fn new_token(email: &str) -> String {
    format!("{}{}", secret::generate(""), address_tag(email))
}

/// 128 bits of the address's SHA-256. Not a secret (the token goes to that address): it is
/// inside the hashed token, so it cannot be changed without making the token unknown.
fn address_tag(email: &str) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(email.as_bytes())[..16])
}

/// Whether `token` was made for mail to `email`.
fn issued_to(token: &str, email: &str) -> bool {
    token
        .get(RANDOM_LEN..)
        .is_some_and(|tag| secret::equal(tag, &address_tag(email)))
}

fn invalid_token() -> AppError {
    AppError::validation("token", "is invalid, expired or already used")
}

/// At most this many messages to one address, and this many reset requests from one client
/// address, per window. Counted like the sign-in limits: in Redis when there is one.
const MAILS_PER_ADDRESS: u32 = 5;
const RESET_REQUESTS_PER_IP: u32 = 20;
const MAIL_WINDOW: Duration = Duration::from_secs(60 * 60);

/// Limits on asking us to send mail, so that nobody can use us to flood an inbox or burn
/// through the SMTP provider's quota. Requests are counted whether or not the address has an
/// account, so a 429 says nothing about that either.
pub struct MailLimits {
    by_address: FailureLimiter,
    by_ip: FailureLimiter,
}

impl MailLimits {
    pub fn new(shared: &Shared) -> Self {
        Self {
            by_address: FailureLimiter::new(
                "mail:address",
                MAILS_PER_ADDRESS,
                MAIL_WINDOW,
                shared.clone(),
            ),
            by_ip: FailureLimiter::new(
                "mail:ip",
                RESET_REQUESTS_PER_IP,
                MAIL_WINDOW,
                shared.clone(),
            ),
        }
    }

    /// Counts one request to mail `address` (from `ip`, when that is limited too), or
    /// refuses it with 429 and how long to wait.
    async fn admit(&self, address: &str, ip: Option<IpAddr>) -> AppResult<()> {
        let ip = ip.map(|ip| ip.to_string());
        let by_ip = match &ip {
            Some(ip) => self.by_ip.blocked(ip).await,
            None => None,
        };
        let wait = self.by_address.blocked(address).await.max(by_ip);
        if let Some(retry_after) = wait {
            tracing::warn!(ip = ip.as_deref(), "mail request refused: too many");
            return Err(AppError::TooManyRequests { retry_after });
        }
        // A FailureLimiter counts whatever it is told to; here, every admitted request.
        self.by_address.record_failure(address).await;
        if let Some(ip) = &ip {
            self.by_ip.record_failure(ip).await;
        }
        Ok(())
    }
}

/// Stores a new `purpose` token for `account` and returns it: the only time it exists in
/// clear. For a reset, older reset tokens go (only the newest request counts); for either,
/// used and expired ones are cleared away.
async fn issue(db: &Db, account: &user::Model, purpose: Purpose) -> AppResult<String> {
    let token = new_token(&account.email);
    let now = Utc::now();
    let mut replaced = Entity::delete_many()
        .filter(Column::UserId.eq(account.id))
        .filter(Column::Purpose.eq(purpose));
    if purpose == Purpose::VerifyEmail {
        replaced = replaced.filter(
            Condition::any()
                .add(Column::UsedAt.is_not_null())
                .add(Column::ExpiresAt.lte(now)),
        );
    }
    let tx = db.begin().await?;
    replaced.exec(&tx).await?;
    entity::ActiveModel {
        token_hash: Set(secret::hash(&token)),
        user_id: Set(account.id),
        purpose: Set(purpose),
        created_at: Set(now),
        expires_at: Set(now + purpose.ttl()),
        used_at: Set(None),
    }
    .insert(&tx)
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// Whether `token` is a live `purpose` token, without using it up.
async fn is_live(db: &impl ConnectionTrait, token: &str, purpose: Purpose) -> AppResult<bool> {
    Ok(Entity::find()
        .filter(Column::TokenHash.eq(secret::hash(token.trim())))
        .filter(Column::Purpose.eq(purpose))
        .filter(Column::UsedAt.is_null())
        .filter(Column::ExpiresAt.gt(Utc::now()))
        .one(db)
        .await?
        .is_some())
}

/// Uses up `token` inside `tx` and returns the account it was issued for. Unknown, used,
/// expired, for another purpose, or mailed to an address the account no longer has: 422 on
/// `token`, and dropping `tx` undoes the claim.
async fn claim(
    tx: &DatabaseTransaction,
    token: &str,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> AppResult<user::Model> {
    // Pasted from a mail, a token often comes with a space or a line break around it.
    let token = token.trim();
    let hash = secret::hash(token);
    // Write first (SQLite then never upgrades a read lock), and let the WHERE clause decide:
    // of two concurrent claims exactly one updates the row.
    let claimed = Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(now))
        .filter(Column::TokenHash.eq(&hash))
        .filter(Column::Purpose.eq(purpose))
        .filter(Column::UsedAt.is_null())
        .filter(Column::ExpiresAt.gt(now))
        .exec(tx)
        .await?
        .rows_affected
        == 1;
    if !claimed {
        return Err(invalid_token());
    }
    let row = Entity::find_by_id(hash)
        .one(tx)
        .await?
        .ok_or_else(invalid_token)?;
    let account = user::Entity::find_by_id(row.user_id)
        .one(tx)
        .await?
        .ok_or_else(invalid_token)?;
    if !issued_to(token, &account.email) || account.disabled_at.is_some() {
        return Err(invalid_token());
    }
    Ok(account)
}

/// Mails `account` a link that verifies its address, by a job enqueued on `conn` (the
/// change's transaction: call `jobs.wake()` after the commit): the caller does not wait
/// for the mail, and an SMTP outage delays it. Registration calls this too.
pub async fn send_verification(
    jobs: &Jobs,
    conn: &impl ConnectionTrait,
    account: &user::Model,
) -> AppResult<()> {
    let job = VerificationMail {
        user_id: account.id,
    };
    jobs.enqueue(conn, &job).await?;
    Ok(())
}

/// The `platform.verification_mail` job. Its token is made when the mail is sent, so that
/// no live token waits in the queue in clear; a failed attempt's token reached nobody.
#[derive(Debug, Serialize, Deserialize)]
struct VerificationMail {
    user_id: i64,
}

impl Job for VerificationMail {
    const KIND: &'static str = "platform.verification_mail";

    fn retries() -> Retries {
        crate::mail::RETRIES
    }
}

/// The `platform.password_reset_mail` job: a reset asked for `email`, looked up only when
/// the job runs, so that the request is answered alike whether the address has an account.
#[derive(Debug, Serialize, Deserialize)]
struct PasswordResetMail {
    email: String,
}

impl Job for PasswordResetMail {
    const KIND: &'static str = "platform.password_reset_mail";

    fn retries() -> Retries {
        crate::mail::RETRIES
    }
}

/// What the mail jobs need.
#[derive(Clone)]
struct Mailing {
    db: Db,
    config: Arc<Config>,
    mailer: Arc<Mailer>,
}

/// Registers the jobs that mail tokens.
pub fn register(jobs: &Jobs, db: &Db, config: Arc<Config>, mailer: Arc<Mailer>) {
    let mailing = Mailing {
        db: db.clone(),
        config,
        mailer,
    };
    let verification = mailing.clone();
    jobs.register(move |job: VerificationMail, _| {
        let mailing = verification.clone();
        async move { mailing.verification(job.user_id).await }
    });
    jobs.register(move |job: PasswordResetMail, _| {
        let mailing = mailing.clone();
        async move { mailing.reset(&job.email).await }
    });
}

impl Mailing {
    async fn verification(&self, user_id: i64) -> Result<(), JobError> {
        let account = user::Entity::find_by_id(user_id).one(&self.db).await?;
        let Some(account) = account.filter(|a| a.email_verified_at.is_none()) else {
            return Ok(()); // gone, or verified since
        };
        let token = issue(&self.db, &account, Purpose::VerifyEmail).await?;
        let mail = verification_mail(&self.config, &account.email, &token);
        Ok(self.mailer.send(&mail).await?)
    }

    async fn reset(&self, email: &str) -> Result<(), JobError> {
        let account = user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .one(&self.db)
            .await?
            .filter(|a| a.disabled_at.is_none());
        let mail = match account {
            // A reset takes the account: only to an inbox proven to be the owner's.
            Some(account) if account.email_verified_at.is_some() => {
                let token = issue(&self.db, &account, Purpose::ResetPassword).await?;
                tracing::info!(user_id = account.id, "password reset mailed");
                reset_mail(&self.config, &account.email, &token)
            }
            Some(account) => {
                let token = issue(&self.db, &account, Purpose::VerifyEmail).await?;
                tracing::info!(
                    user_id = account.id,
                    "password reset refused: address not verified; verification mailed"
                );
                unverified_reset_mail(&self.config, &account.email, &token)
            }
            None => {
                // Not logged with the address: it may be anyone's, typed by anyone.
                tracing::info!("password reset requested for an address without an account");
                return Ok(());
            }
        };
        Ok(self.mailer.send(&mail).await?)
    }
}

fn verification_mail(config: &Config, to: &str, token: &str) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: "Confirm your email address".into(),
        body: format!(
            "Hello,\n\
             \n\
             Please confirm that this is your email address by opening this link:\n\
             \n\
             {}\
             It works once, for 48 hours. If you did not ask for it, ignore this message.\n",
            confirmation(config, token)
        ),
    }
}

/// The link that confirms an address, and the token for a program, as both confirmation
/// mails give them.
fn confirmation(config: &Config, token: &str) -> String {
    let url = config.public_url();
    format!(
        "{url}/verify-email?token={token}\n\
         \n\
         Or, from a program, send this token to\n\
         POST /api/v1/auth/email-verification/confirm as {{\"token\": \"...\"}}:\n\
         \n\
         {token}\n\
         \n"
    )
}

/// For a reset asked for an address that is not verified: how to verify it first.
fn unverified_reset_mail(config: &Config, to: &str, token: &str) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: "Confirm your email address to reset your password".into(),
        body: format!(
            "Hello,\n\
             \n\
             Someone, hopefully you, asked to reset the password of your account. This\n\
             address is not confirmed yet, and a password is only ever reset through a\n\
             confirmed address. Confirm it first by opening this link:\n\
             \n\
             {}\
             Then ask for the reset again. If you did not ask for it, ignore this message.\n",
            confirmation(config, token)
        ),
    }
}

/// To the address an account had, after its email or password changed: the owner hears
/// of a change they did not make, even when whoever made it has moved the account away.
pub fn change_notice(config: &Config, to: &str, what: &str) -> Mail {
    let url = config.public_url();
    Mail {
        to: to.to_owned(),
        subject: format!("Your {what} was changed"),
        body: format!(
            "Hello,\n\
             \n\
             The {what} of your account at {url} was just changed.\n\
             \n\
             If you did this, there is nothing to do. If you did not, someone else can\n\
             use your account: reset your password, and write to the administrator of\n\
             {url} to have the account returned to you.\n"
        ),
    }
}

fn reset_mail(config: &Config, to: &str, token: &str) -> Mail {
    let url = config.public_url();
    Mail {
        to: to.to_owned(),
        subject: "Reset your password".into(),
        body: format!(
            "Hello,\n\
             \n\
             Someone, hopefully you, asked to reset the password of your account.\n\
             To choose a new password, open this link:\n\
             \n\
             {url}/reset-password?token={token}\n\
             \n\
             Or, from a program, send this token with the new password to\n\
             POST /api/v1/auth/password-reset/confirm\n\
             as {{\"token\": \"...\", \"password\": \"...\"}}:\n\
             \n\
             {token}\n\
             \n\
             It works once, for one hour, and only the newest one you asked for works.\n\
             Using it signs you out everywhere. If you did not ask for it, ignore this\n\
             message: your password stays as it is.\n"
        ),
    }
}

/// Mails the signed-in user a link that verifies their address. An address that is
/// verified already is a 409 (nothing is sent), so a client can tell "check your inbox"
/// from "nothing to do".
#[utoipa::path(
    post,
    path = "/auth/email-verification",
    tag = "auth",
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 202, description = "A verification link is on its way to the account's address"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only API key, or a session without `x-csrf-token`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The address is verified already", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many messages to this address; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn request_verification(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<StatusCode> {
    let account = user::Entity::find_by_id(user.id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    if account.email_verified_at.is_some() {
        return Err(AppError::conflict("email", "is verified already"));
    }
    state.auth.mail_limits.admit(&account.email, None).await?;
    send_verification(&state.jobs, &state.db, &account).await?;
    state.jobs.wake();
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct VerificationConfirmation {
    /// The token from the verification mail.
    pub token: String,
}

/// Marks the address the token was mailed to as verified. Needs no sign-in: the token is
/// the proof, and the mail may be opened on another device.
#[utoipa::path(
    post,
    path = "/auth/email-verification/confirm",
    tag = "auth",
    request_body = VerificationConfirmation,
    responses(
        (status = 204, description = "The address is verified"),
        (status = 400, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`token` is unknown, used or expired", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn confirm_verification(
    State(state): State<AppState>,
    Json(input): Json<VerificationConfirmation>,
) -> AppResult<StatusCode> {
    let now = Utc::now();
    let tx = state.db.begin().await?;
    let account = claim(&tx, &input.token, Purpose::VerifyEmail, now).await?;
    user::Entity::update_many()
        .col_expr(user::Column::EmailVerifiedAt, Expr::value(now))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(account.id))
        .filter(user::Column::EmailVerifiedAt.is_null())
        .exec(&tx)
        .await?;
    tx.commit().await?;
    tracing::info!(user_id = account.id, "email verified");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordResetRequest {
    #[schema(example = "ann@example.com")]
    pub email: String,
}

/// Mails a password-reset link to `email` if an account has it and the address is
/// verified; an account whose address is not verified is mailed how to verify it instead.
/// Always 202, answered before the account is even looked up, so that neither the answer
/// nor its timing tells whether the address has an account.
#[utoipa::path(
    post,
    path = "/auth/password-reset",
    tag = "auth",
    request_body = PasswordResetRequest,
    responses(
        (status = 202, description = "If the address has an account, a reset link is on its way"),
        (status = 400, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`email` is not an email address", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests for this address or from this client; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn request_password_reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(input): Json<PasswordResetRequest>,
) -> AppResult<StatusCode> {
    let email = Email::parse(&input.email).map_err(|m| AppError::validation("email", m))?;
    state
        .auth
        .mail_limits
        .admit(email.as_str(), Some(ip))
        .await?;
    let job = PasswordResetMail {
        email: email.as_str().to_owned(),
    };
    state.jobs.enqueue_now(&job).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordResetConfirmation {
    /// The token from the reset mail.
    pub token: String,
    /// 10 to 128 characters, not a well-known password.
    #[schema(
        example = "correct horse battery staple",
        min_length = 10,
        max_length = 128
    )]
    pub password: String,
}

/// Sets a new password with a token from a reset mail, and signs the account out
/// everywhere: every session ends and every refresh token is revoked (API keys stay).
#[utoipa::path(
    post,
    path = "/auth/password-reset/confirm",
    tag = "auth",
    request_body = PasswordResetConfirmation,
    responses(
        (status = 204, description = "The password is changed"),
        (status = 400, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`token` is unknown, used or expired, or `password` does not meet the policy", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn confirm_password_reset(
    State(state): State<AppState>,
    Json(input): Json<PasswordResetConfirmation>,
) -> AppResult<StatusCode> {
    let mut v = Validator::new();
    let password = v.check("password", Password::parse(&input.password));
    // Hashing costs tens of milliseconds and 19 MiB: only for a token that is live, so that
    // made-up tokens cannot have us hash on demand. The claim below still decides.
    if !is_live(&state.db, &input.token, Purpose::ResetPassword).await? {
        v.error("token", "is invalid, expired or already used");
    }
    v.finish()?;
    let Some(password) = password else {
        unreachable!("Validator::finish returned Ok, so the password parsed");
    };
    let password_hash = password::hash(password).await?;

    let now = Utc::now();
    let tx = state.db.begin().await?;
    let account = claim(&tx, &input.token, Purpose::ResetPassword, now).await?;
    user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(password_hash))
        .col_expr(user::Column::FailedLogins, Expr::value(0))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(account.id))
        .exec(&tx)
        .await?;
    // A reset often follows a leaked password: whoever used it is signed out everywhere.
    session::Entity::delete_many()
        .filter(session::entity::Column::UserId.eq(account.id))
        .exec(&tx)
        .await?;
    token::revoke_all(&tx, account.id).await?;
    tx.commit().await?;
    // The owner has just proved themselves; earlier failed guesses no longer lock them out.
    state.auth.failures_by_account.reset(&account.email).await;
    tracing::info!(user_id = account.id, "password reset");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_the_address_they_were_mailed_to() {
        let token = new_token("ann@example.com");
        assert_eq!(token.len(), RANDOM_LEN + 22, "{token}");
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "fits a URL and a line of its own: {token}"
        );
        assert_ne!(token, new_token("ann@example.com"));
        assert!(issued_to(&token, "ann@example.com"));
        assert!(!issued_to(&token, "eve@example.com"));
        assert!(!issued_to("short", "ann@example.com"));
        assert!(!issued_to("", "ann@example.com"));
    }

    #[tokio::test]
    async fn mail_requests_are_limited_per_address_and_per_client() {
        let limits = MailLimits::new(&Shared::local());
        let ip = Some(IpAddr::from([192, 0, 2, 1]));
        for _ in 0..MAILS_PER_ADDRESS {
            assert!(limits.admit("ann@example.com", ip).await.is_ok());
        }
        let Err(AppError::TooManyRequests { retry_after }) =
            limits.admit("ann@example.com", ip).await
        else {
            panic!("expected 429 past the limit")
        };
        assert!(retry_after <= MAIL_WINDOW);
        assert!(limits.admit("bob@example.com", None).await.is_ok());

        let limits = MailLimits::new(&Shared::local());
        for n in 0..RESET_REQUESTS_PER_IP {
            assert!(limits.admit(&format!("u{n}@example.com"), ip).await.is_ok());
        }
        assert!(limits.admit("new@example.com", ip).await.is_err());
        assert!(
            limits
                .admit("new@example.com", Some(IpAddr::from([192, 0, 2, 2])))
                .await
                .is_ok()
        );
    }

    #[test]
    fn mails_carry_a_link_and_the_bare_token_on_lines_of_their_own() {
        let config = Config {
            public_url: Some("https://capstone.example/".into()),
            ..Config::default()
        };
        let token = new_token("ann@example.com");
        for mail in [
            verification_mail(&config, "ann@example.com", &token),
            reset_mail(&config, "ann@example.com", &token),
        ] {
            let lines: Vec<&str> = mail.body.lines().collect();
            assert!(lines.contains(&token.as_str()), "{}", mail.body);
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with("https://capstone.example/")
                        && l.ends_with(&format!("?token={token}"))),
                "{}",
                mail.body
            );
        }
    }
}
