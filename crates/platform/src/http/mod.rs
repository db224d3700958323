//! HTTP conventions shared by every route: JSON in and out, problem+json errors, pagination,
//! per-request context, and the middleware stack around the whole router.

pub mod client_ip;
pub mod etag;
pub mod form;
pub mod idempotency;
pub mod json;
pub mod page;
pub mod pagination;
pub mod problems;
pub mod query;
pub mod request;
pub mod security;
pub mod text;
pub mod visitors;

pub use client_ip::{ClientAddresses, ClientIp};
pub use form::Form;
pub use json::Json;
pub use pagination::{Page, Pagination};
pub use query::Query;
pub use request::RequestContext;

use axum::http::{HeaderMap, HeaderValue, header};

/// A field's deserialisation error as the caller should read it. chrono's parse errors
/// ("input contains invalid characters") do not say what a time should look like.
pub(crate) fn field_message(message: String) -> String {
    const CHRONO: [&str; 6] = [
        "input contains invalid characters",
        "premature end of input",
        "trailing input",
        "input is out of range",
        "no possible date and time matching input",
        "input is not enough for unique date and time",
    ];
    if CHRONO.contains(&message.as_str()) {
        format!("{message}: expected an RFC 3339 time such as 2030-01-01T00:00:00Z")
    } else {
        message
    }
}

/// `201 Created` needs a `Location`; this builds the header map for it.
pub fn location(path: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(path) {
        headers.insert(header::LOCATION, value);
    }
    headers
}
