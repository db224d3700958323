//! Response headers that make browsers treat our answers safely by default.

use axum::http::{HeaderName, HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

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

/// The layers, each setting its header only when the route did not set its own.
pub fn headers() -> impl IntoIterator<Item = SetResponseHeaderLayer<HeaderValue>> {
    [
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
    ]
    .map(|(name, value)| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    })
}
