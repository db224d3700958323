//! Response headers that make browsers treat our answers safely by default.

use axum::http::{HeaderName, HeaderValue, header};

/// For API responses: no content of ours may be framed, sniffed or run as a page.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// For our small HTML pages (a short link gone, its password form): inline styles only, no
/// scripts, forms posted back here, never framed.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";
/// For the docs page, which runs the (self-hosted) Swagger UI: its scripts are files of ours,
/// never inline; its styles include inline ones (checked in headless Chromium).
pub const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
     script-src 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The headers, each set only when the route did not set its own.
const HEADERS: [(HeaderName, &str); 6] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::CONTENT_SECURITY_POLICY, API_CSP),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
    (
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    ),
];

/// Adds the headers a response lacks. One function for `tower::util::MapResponseLayer`
/// rather than a layer per header: every layer is one more boxed service per request, which
/// the redirect's hot path pays for.
pub fn apply<B>(mut response: axum::http::Response<B>) -> axum::http::Response<B> {
    let headers = response.headers_mut();
    for (name, value) in &HEADERS {
        if !headers.contains_key(name) {
            headers.insert(name.clone(), HeaderValue::from_static(value));
        }
    }
    response
}
