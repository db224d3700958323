//! A JSON extractor whose every rejection is a problem+json with the right status:
//! 415 without `Content-Type: application/json`, 413 past the body limit, 400 when the
//! body is not JSON at all, 422 naming the field when it is JSON of the wrong shape.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Serialize, de::DeserializeOwned};

use crate::error::{AppError, FieldError};

/// Drop-in for `axum::Json`, in both directions.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        if !is_json(req.headers()) {
            return Err(AppError::UnsupportedMediaType(
                "Expected a body with `Content-Type: application/json`.".into(),
            ));
        }
        parse(&read_body(req, state).await?).map(Json)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A request's whole body, within the route's limit (`DefaultBodyLimit`): 413 past it.
pub async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, AppError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge
        } else {
            AppError::BadRequest(rejection.body_text())
        }
    })
}

/// `application/json`, or any `application/*+json`, with or without parameters.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Deserialises `bytes`, telling syntax errors (400) from shape errors (422, with the path
/// of the offending field, such as `tags[2]` or `rules[0].country`) and from text with
/// control characters (422, naming the field).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    // Through a `Value` first, so that every string is checked for control characters
    // (`super::text`) before any handler sees one.
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| AppError::BadRequest(format!("The body is not valid JSON: {e}.")))?;
    // Every body of ours is an object; serde would also fill a struct from an array of its
    // fields in order (`[null, null]`), which no client means.
    if !value.is_object() {
        return Err(AppError::validation("", "the body must be a JSON object"));
    }
    super::text::check_json(&value)?;
    serde_path_to_error::deserialize(value).map_err(|err| {
        let message = super::field_message(strip_position(&err.inner().to_string()));
        let path = err.path().to_string();
        // "missing field `email`" is reported at the parent: name the field itself.
        let (field, message) = match message.strip_prefix("missing field `") {
            Some(rest) => {
                let name = rest.trim_end_matches('`');
                (join_path(&path, name), "is required".to_owned())
            }
            None if path == "." => (String::new(), message),
            None => (path, message),
        };
        AppError::Validation(vec![FieldError::new(field, message)])
    })
}

fn join_path(parent: &str, name: &str) -> String {
    if parent == "." {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

/// serde_json appends " at line 1 column 12"; the field path already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// For `#[serde(default, deserialize_with = "nullable")]` on a field of a change: `None` when
/// absent (left as it is), `Some(None)` for an explicit `null` (cleared), `Some(Some(v))` for
/// a value.
pub fn nullable<'de, T: serde::Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Sample {
        email: String,
        age: u8,
        tags: Option<Vec<String>>,
    }

    fn field_errors(err: AppError) -> Vec<FieldError> {
        match err {
            AppError::Validation(errors) => errors,
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn syntax_errors_are_400() {
        assert!(matches!(
            parse::<Sample>(b"{\"email\": "),
            Err(AppError::BadRequest(_))
        ));
        assert!(matches!(
            parse::<Sample>(br#"{"email": "a", "age": 1} x"#),
            Err(AppError::BadRequest(_))
        ));
    }

    #[test]
    fn shape_errors_name_the_field() {
        let errors = field_errors(parse::<Sample>(br#"{"age": 3}"#).unwrap_err());
        assert_eq!(errors, [FieldError::new("email", "is required")]);

        let errors = field_errors(parse::<Sample>(br#"{"email": "a", "age": 300}"#).unwrap_err());
        assert_eq!(errors[0].field, "age");

        let errors = field_errors(
            parse::<Sample>(br#"{"email": "a", "age": 3, "tags": ["x", 1]}"#).unwrap_err(),
        );
        assert_eq!(errors[0].field, "tags[1]");
        assert!(!errors[0].message.contains("line"), "{}", errors[0].message);
    }

    #[test]
    fn a_bad_time_says_what_a_time_looks_like() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Dated {
            at: chrono::DateTime<chrono::Utc>,
        }
        for body in [&br#"{"at": "not a date"}"#[..], br#"{"at": "2030-01-01"}"#] {
            let errors = field_errors(parse::<Dated>(body).unwrap_err());
            assert_eq!(errors[0].field, "at");
            assert!(
                errors[0].message.ends_with("such as 2030-01-01T00:00:00Z"),
                "{}",
                errors[0].message
            );
        }
    }

    #[test]
    fn content_types() {
        let mut headers = axum::http::HeaderMap::new();
        assert!(!is_json(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(is_json(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            "application/merge-patch+json".parse().unwrap(),
        );
        assert!(is_json(&headers));
        headers.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!is_json(&headers));
    }
}
