//! Text as it enters: every string of a JSON body, form or query is checked here, once,
//! for control characters. NUL is refused by PostgreSQL's text types (a 500 deep in a
//! query, where the field is long forgotten), and the others have no place in a title, a
//! name or a search; tab, line feed and carriage return stay (a description has lines).
//!
//! Times are bounded here too: a text that reads as an RFC 3339 time must fall in the
//! years 1970 to 9999. Past them, PostgreSQL's timestamps and chrono's arithmetic (a
//! statistics range stepped by days) overflow, so each handler would need its own check.

use serde_json::Value;

use crate::error::{AppError, FieldError};

const MESSAGE: &str = "must not contain control characters";
const TIME_MESSAGE: &str = "must be a time between 1970 and 9999";

/// Whether `text` is a time (as chrono reads RFC 3339) outside the years 1970 to 9999.
pub fn is_time_out_of_range(text: &str) -> bool {
    // Cheap first: only what starts like a date (digits, or a signed year) is parsed.
    let starts_like_a_date = text.len() >= 20
        && text
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'+' || b == b'-');
    starts_like_a_date
        && text
            .parse::<chrono::DateTime<chrono::FixedOffset>>()
            .is_ok_and(|t| !(1970..=9999).contains(&chrono::Datelike::year(&t.to_utc())))
}

/// The message for a text refused here, if it is.
fn refused(text: &str) -> Option<&'static str> {
    if has_forbidden(text) {
        Some(MESSAGE)
    } else if is_time_out_of_range(text) {
        Some(TIME_MESSAGE)
    } else {
        None
    }
}

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
        Some((field, message)) => Err(AppError::Validation(vec![FieldError::new(field, message)])),
        None => Ok(()),
    }
}

fn find_in_json(value: &Value, path: String) -> Option<(String, &'static str)> {
    match value {
        Value::String(s) => refused(s).map(|message| (path, message)),
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
                Some((here, MESSAGE))
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
        if has_forbidden(&name) {
            return Err(AppError::Validation(vec![FieldError::new("", MESSAGE)]));
        }
        if let Some(message) = refused(&value) {
            return Err(AppError::Validation(vec![FieldError::new(name, message)]));
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

    #[test]
    fn times_are_bounded_to_1970_through_9999() {
        for bad in [
            "9999-12-31T23:59:59-10:00",
            "1969-12-31T23:59:59Z",
            "0001-01-01T00:00:00+00:00",
        ] {
            assert!(is_time_out_of_range(bad), "{bad}");
        }
        for fine in [
            "2030-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "1970-01-01T00:00:00Z",
        ] {
            assert!(!is_time_out_of_range(fine), "{fine}");
        }
        let body = serde_json::json!({"valid_until": "0100-01-01T00:00:00Z"});
        assert_eq!(field(check_json(&body).unwrap_err()), "valid_until");
        assert_eq!(
            field(check_pairs(b"from=0001-01-01T00%3A00%3A00Z").unwrap_err()),
            "from"
        );
    }
}
