//! A form extractor (`application/x-www-form-urlencoded`) whose every rejection is a
//! problem+json, as the JSON extractor's: 415 for another type, 413 past the body limit,
//! 422 naming the field for a missing or bad one or for control characters.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::json::read_body;
use crate::error::{AppError, FieldError};

#[derive(Debug, Clone, Copy, Default)]
pub struct Form<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Form<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        if !is_form(req.headers()) {
            return Err(AppError::UnsupportedMediaType(
                "Expected a body with `Content-Type: application/x-www-form-urlencoded`.".into(),
            ));
        }
        parse(&read_body(req, state).await?).map(Form)
    }
}

/// Whether the request says it carries a form.
pub fn is_form(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    super::text::check_pairs(bytes)?;
    let de = serde_html_form::Deserializer::from_bytes(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let message = super::field_message(err.inner().to_string());
        let (field, message) = match message.strip_prefix("missing field `") {
            Some(rest) => (rest.trim_end_matches('`').to_owned(), "is required".into()),
            None => (err.path().to_string(), message),
        };
        let field = if field == "." { String::new() } else { field };
        AppError::Validation(vec![FieldError::new(field, message)])
    })
}
