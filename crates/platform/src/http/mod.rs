//! HTTP conventions shared by every route: JSON in and out, problem+json errors, pagination,
//! per-request context, and the middleware stack around the whole router.

pub mod json;
pub mod pagination;
pub mod problems;
pub mod request;
pub mod security;

pub use json::Json;
pub use pagination::{Page, Pagination};
pub use request::RequestContext;

use axum::http::{HeaderMap, HeaderValue, header};

/// `201 Created` needs a `Location`; this builds the header map for it.
pub fn location(path: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(path) {
        headers.insert(header::LOCATION, value);
    }
    headers
}
