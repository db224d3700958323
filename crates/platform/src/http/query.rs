//! A query-string extractor that reads repeated keys as lists (`tag=a&tag=b`) and whose
//! rejection is a 422 naming the parameter, like the JSON extractor's (control characters
//! included: see [`super::text`]).

use axum::{extract::FromRequestParts, http::request::Parts};
use serde::de::DeserializeOwned;

use crate::error::{AppError, FieldError};

#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let query = parts.uri.query().unwrap_or_default();
        super::text::check_pairs(query.as_bytes())?;
        let de = serde_html_form::Deserializer::from_bytes(query.as_bytes());
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|err| {
                let field = err.path().to_string();
                let message = super::field_message(err.inner().to_string());
                AppError::Validation(vec![FieldError::new(
                    if field == "." { String::new() } else { field },
                    message,
                )])
            })
    }
}
