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

/// For `#[serde(default, deserialize_with = "…")]` on an optional parameter whose empty value
/// means nothing: `?bots=` is refused (422 naming it) rather than read as absent, which is what
/// serde_html_form does for every `Option` and would let `?bots=` silently mean `false`.
pub fn given<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Filter {
        #[serde(default, deserialize_with = "super::given")]
        bots: Option<bool>,
        #[serde(default, deserialize_with = "super::given")]
        top: Option<u64>,
    }

    fn parse(query: &str) -> Result<Filter, serde::de::value::Error> {
        serde_html_form::from_str(query)
    }

    #[test]
    fn an_empty_value_is_refused_and_an_absent_one_is_none() {
        assert!(parse("bots=").is_err());
        assert!(parse("top=").is_err());
        let absent = parse("").unwrap();
        assert_eq!((absent.bots, absent.top), (None, None));
        let given = parse("bots=true&top=5").unwrap();
        assert_eq!((given.bots, given.top), (Some(true), Some(5)));
    }
}
