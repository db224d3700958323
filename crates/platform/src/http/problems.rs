//! Makes every error response a problem+json: completes ours with `instance` and
//! `request_id`, and turns the bare ones that the framework and tower layers produce
//! (405 with `Allow`, a timeout's 503, a panic's 500) into problems too.

use std::sync::Arc;

use axum::{
    extract::Request,
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::RequestContext;
use crate::error::Problem;

pub async fn render(req: Request, next: Next) -> Response {
    // Kept as they are (a reference count each), made into text only for an error: most
    // answers are not.
    let uri = req.uri().clone();
    let context = req.extensions().get::<Arc<RequestContext>>().cloned();
    let response = next.run(req).await;
    finish(response, uri.path(), context.as_deref())
}

/// A response as it leaves: an error made a problem+json naming `path` and the request.
pub(crate) fn finish(response: Response, path: &str, context: Option<&RequestContext>) -> Response {
    let status = response.status();
    if status.is_success() || status.is_redirection() || status.is_informational() {
        return response;
    }

    let problem = match response.extensions().get::<Problem>() {
        Some(problem) => problem.clone(),
        // An error with a body of its own kind (an HTML page for a browser) is left as is.
        None if has_own_body(&response) => return response,
        None => {
            let mut problem = Problem::new(status);
            problem.detail = default_detail(status).map(str::to_owned);
            problem
        }
    };
    let problem = Problem {
        instance: Some(path.to_owned()),
        request_id: context.map(|c| c.id.clone()),
        ..problem
    };
    let (mut parts, _) = response.into_parts();
    let mut fresh = problem.into_response();
    // Keep what the original said besides its body: `Allow`, `Retry-After`, `WWW-Authenticate`.
    // Not what described the body it replaces: its length, type and encoding (the
    // compression layer inside this one may have gzipped it; the new body is plain).
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_ENCODING);
    parts.headers.remove(header::ETAG);
    for (name, value) in &parts.headers {
        fresh.headers_mut().entry(name).or_insert(value.clone());
    }
    fresh
}

fn has_own_body(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| !ct.starts_with("text/plain"))
}

fn default_detail(status: StatusCode) -> Option<&'static str> {
    Some(match status {
        StatusCode::NOT_FOUND => "No resource at this path.",
        StatusCode::METHOD_NOT_ALLOWED => "This resource does not support the method; see `Allow`.",
        StatusCode::SERVICE_UNAVAILABLE => "The server could not answer in time; retry shortly.",
        StatusCode::REQUEST_TIMEOUT => "The request took too long to arrive.",
        StatusCode::PAYLOAD_TOO_LARGE => "The request body is larger than this server accepts.",
        StatusCode::INTERNAL_SERVER_ERROR => "An unexpected error occurred; it has been logged.",
        _ => return None,
    })
}
