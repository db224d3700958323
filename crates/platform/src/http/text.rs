//! Text as it enters: every string of a JSON body, form or query is checked here, once,
//! for control characters. NUL is refused by PostgreSQL's text types (a 500 deep in a
//! query, where the field is long forgotten), and the others have no place in a title, a
//! name or a search; tab, line feed and carriage return stay (a description has lines).

use serde_json::Value;

use crate::error::{AppError, FieldError};

const MESSAGE: &str = "must not contain control characters";

/// Whether `c` is refused in text from a client.
pub fn forbidden(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// Whether `text` holds a character that [`forbidden`] refuses.
pub fn has_forbidden(text: &str) -> bool {
    text.chars().any(forbidden)
}

/// Every string (and key) in `value`; a 422 naming the first one that holds a refused
/// character, by its path (`title`, `tags[2]`, `rules[0].target`).
pub fn check_json(value: &Value) -> Result<(), AppError> {
    match find_in_json(value, String::new()) {
        Some(field) => Err(AppError::Validation(vec![FieldError::new(field, MESSAGE)])),
        None => Ok(()),
    }
}

fn find_in_json(value: &Value, path: String) -> Option<String> {
    match value {
        Value::String(s) if has_forbidden(s) => Some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| find_in_json(item, format!("{path}[{i}]"))),
        Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            let here = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            if has_forbidden(key) {
                Some(here)
            } else {
                find_in_json(item, here)
            }
        }),
        _ => None,
    }
}

/// Every name and value of an `application/x-www-form-urlencoded` text (a body or a query
/// string), decoded; a 422 naming the first parameter that holds a refused character.
pub fn check_pairs(encoded: &[u8]) -> Result<(), AppError> {
    for (name, value) in url::form_urlencoded::parse(encoded) {
        if has_forbidden(&name) || has_forbidden(&value) {
            let field = if has_forbidden(&name) {
                String::new()
            } else {
                name.into_owned()
            };
            return Err(AppError::Validation(vec![FieldError::new(field, MESSAGE)]));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(err: AppError) -> String {
        match err {
            AppError::Validation(errors) => errors[0].field.clone(),
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn nul_and_other_controls_are_refused_by_where_they_are() {
        let body = serde_json::json!({"title": "ok", "tags": ["a", "b\u{0}c"]});
        assert_eq!(field(check_json(&body).unwrap_err()), "tags[1]");
        let body = serde_json::json!({"rules": [{"target": "x\u{7}"}]});
        assert_eq!(field(check_json(&body).unwrap_err()), "rules[0].target");
        let body = serde_json::json!({"description": "two\nlines\tand a tab\r\n"});
        assert!(check_json(&body).is_ok());

        assert_eq!(field(check_pairs(b"a=1&q=%00abc").unwrap_err()), "q");
        assert!(check_pairs(b"q=caf%C3%A9+au+lait").is_ok());
    }
}
