//! The one error type of every handler, and its rendering as RFC 9457 problem+json.
//!
//! Handlers return `Result<_, AppError>`; `?` on a database error does the right thing:
//! a unique-key clash becomes 409 naming the field, a lost connection becomes 503 with
//! `Retry-After`, anything unexpected becomes a 500 that says nothing about internals (the
//! cause is logged with the request id, which the body carries so a user can quote it).

use std::{borrow::Cow, time::Duration};

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sea_orm::{DbErr, RuntimeErr, sqlx};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::{Violation, violation};

pub type AppResult<T> = Result<T, AppError>;

/// `application/problem+json`.
pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request cannot be read (malformed JSON, a bad query string).
    #[error("{0}")]
    BadRequest(String),
    /// No credentials, or credentials that do not check out.
    #[error("authentication required")]
    Unauthorized,
    /// Authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// No such resource, or not one the caller may see.
    #[error("not found")]
    NotFound,
    /// The request clashes with the current state (a unique key already taken).
    #[error("conflict")]
    Conflict(Vec<FieldError>),
    #[error("The request body is larger than this server accepts.")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Well-formed, but some values are not acceptable; one entry per field.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("too many requests")]
    TooManyRequests { retry_after: Duration },
    /// A dependency (the database) is unreachable; the client may retry.
    #[error("{detail}")]
    Unavailable {
        detail: Cow<'static, str>,
        retry_after: Duration,
    },
    /// A third party we called (an OAuth provider) answered with something unusable.
    #[error("{0}")]
    BadGateway(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// One field's problem, in a 422 or 409 body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// The JSON field (or query parameter) at fault, as the client sent it.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl AppError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Conflict(vec![FieldError::new(field, message)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
        }
    }

    fn problem(&self) -> Problem {
        let status = self.status();
        let mut problem = Problem::new(status);
        match self {
            Self::BadRequest(detail)
            | Self::Forbidden(detail)
            | Self::UnsupportedMediaType(detail) => {
                problem.detail = Some(detail.clone());
            }
            Self::Unauthorized => {
                problem.detail = Some("Valid credentials are required for this resource.".into());
            }
            Self::NotFound => {}
            Self::Conflict(errors) => {
                problem.r#type = "/problems/conflict".into();
                problem.detail = Some("The request conflicts with an existing resource.".into());
                problem.errors = Some(errors.clone());
            }
            Self::PayloadTooLarge | Self::Unavailable { .. } => {
                problem.detail = Some(self.to_string())
            }
            Self::Validation(errors) => {
                problem.r#type = "/problems/validation".into();
                problem.detail = Some("Some fields are not valid; see `errors`.".into());
                problem.errors = Some(errors.clone());
            }
            Self::TooManyRequests { retry_after } => {
                problem.r#type = "/problems/rate-limited".into();
                problem.detail = Some(format!(
                    "Too many requests; retry in {} s.",
                    retry_secs(*retry_after)
                ));
            }
            Self::Internal(_) => {
                problem.detail = Some("An unexpected error occurred; it has been logged.".into());
            }
            Self::BadGateway(detail) => {
                problem.detail = Some(detail.clone());
            }
        }
        problem
    }
}

/// Whole seconds for `Retry-After`, never 0 (which clients read as "now, in a loop").
fn retry_secs(d: Duration) -> u64 {
    d.as_secs_f64().ceil().max(1.0) as u64
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let Self::Internal(err) = &self {
            tracing::error!(error = format!("{err:#}"), "internal error");
        }
        let mut response = self.problem().into_response();
        let headers = response.headers_mut();
        match &self {
            Self::Unauthorized => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer realm="capstone", Basic realm="capstone""#),
                );
            }
            Self::TooManyRequests { retry_after } | Self::Unavailable { retry_after, .. } => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_secs(*retry_after)),
                );
            }
            _ => {}
        }
        response
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        if let Some(v) = violation(&err) {
            return match v {
                Violation::Unique { columns } => AppError::Conflict(
                    columns
                        .into_iter()
                        .map(|c| FieldError::new(c, "is already taken"))
                        .collect(),
                ),
                Violation::ForeignKey => {
                    AppError::validation("", "refers to something that does not exist")
                }
                Violation::Check { constraint } => AppError::validation(
                    constraint.unwrap_or_default(),
                    "is not an acceptable value",
                ),
                Violation::NotNull { column } => {
                    AppError::validation(column.unwrap_or_default(), "is required")
                }
            };
        }
        if is_unavailable(&err) {
            tracing::warn!(error = %err, "database unavailable");
            return AppError::Unavailable {
                detail: "The database is unavailable; retry shortly.".into(),
                retry_after: Duration::from_secs(5),
            };
        }
        if let DbErr::RecordNotFound(_) = err {
            return AppError::NotFound;
        }
        AppError::Internal(err.into())
    }
}

/// Connection-level failures (refused, reset, pool exhausted) as opposed to a bad query.
fn is_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => matches!(
            **e,
            sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
        ),
        _ => false,
    }
}

/// An RFC 9457 problem details object.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "/problems/validation",
    "title": "Unprocessable Entity",
    "status": 422,
    "detail": "Some fields are not valid; see `errors`.",
    "instance": "/api/v1/auth/register",
    "request_id": "0f9c1c1e-3b1c-4c56-9d0e-2f7c0a3c4b5d",
    "errors": [{"field": "email", "message": "is not an email address"}]
}))]
pub struct Problem {
    /// A URI reference naming the kind of problem; `about:blank` when the status says it all.
    pub r#type: String,
    /// The status code's reason phrase.
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request path that produced this problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The `x-request-id` of the request; quote it when reporting a problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Per-field messages, on 409 and 422.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

impl Problem {
    pub fn new(status: StatusCode) -> Self {
        Self {
            r#type: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: None,
            instance: None,
            request_id: None,
            errors: None,
        }
    }
}

impl IntoResponse for Problem {
    /// The body, plus a copy of the problem in the response extensions so that the
    /// [`crate::http::problems`] middleware can add `instance` and `request_id`.
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(&self)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response.extensions_mut().insert(self);
        response
    }
}

/// Collects field errors so that a client learns about every bad field at once.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the value if `result` is `Ok`, records the message against `field` otherwise.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.errors.push(FieldError::new(field, message));
                None
            }
        }
    }

    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// How many problems have been recorded so far.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The problems recorded, for a caller that reports them itself (a bulk request
    /// reports per item instead of failing the whole request).
    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }

    /// `Ok` when every check passed, 422 with all messages otherwise.
    pub fn finish(self) -> AppResult<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_headers() {
        let r = AppError::TooManyRequests {
            retry_after: Duration::from_millis(1500),
        }
        .into_response();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
        assert_eq!(r.headers()[header::CONTENT_TYPE], PROBLEM_JSON);

        let r = AppError::Unauthorized.into_response();
        assert!(r.headers().contains_key(header::WWW_AUTHENTICATE));
    }

    #[test]
    fn internal_errors_say_nothing_of_their_cause() {
        let err = AppError::Internal(anyhow::anyhow!("relation \"users\" does not exist"));
        let problem = err.problem();
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.unwrap().contains("relation"));
    }

    #[test]
    fn validator_collects_every_field() {
        let mut v = Validator::new();
        assert_eq!(v.check("a", Ok::<_, String>(1)), Some(1));
        v.check::<()>("b", Err("bad".into()));
        v.error("c", "worse");
        let Err(AppError::Validation(errors)) = v.finish() else {
            panic!("expected 422")
        };
        assert_eq!(
            errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
            ["b", "c"]
        );
    }
}
