//! Per-request context and the middleware that tracks every request: it assigns the request
//! id, opens the span every log line of the request is recorded in, and, once the response
//! is ready, writes the one access-log line and the request metrics.
//!
//! Requests outside the API and the platform's own routes are a visitor's (a path no route
//! knows here; the apps' public routes, such as a short link's redirect, have a layer of
//! their own, `super::visitors`): they get a request id, and a log line only when they fail
//! (5xx). Their record is the app's own (an orphan visit, a stored click), and at tens of
//! thousands a second a span, a log line and a histogram each would cost more than the
//! answer itself.

use std::{
    sync::{
        Arc, LazyLock, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use axum::{
    extract::{MatchedPath, Request},
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};
use tracing::Instrument;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What the platform knows about the request in flight; in the request extensions.
#[derive(Debug)]
pub struct RequestContext {
    pub id: String,
    /// Set by authentication once the caller is known, for the access log.
    user_id: OnceLock<i64>,
}

impl RequestContext {
    pub(crate) fn new(id: String) -> Self {
        Self {
            id,
            user_id: OnceLock::new(),
        }
    }

    pub fn set_user(&self, user_id: i64) {
        let _ = self.user_id.set(user_id);
        tracing::Span::current().record("user_id", user_id);
    }

    pub fn user_id(&self) -> Option<i64> {
        self.user_id.get().copied()
    }
}

/// Keeps the client's `x-request-id` when it is sane (1–64 characters of `[A-Za-z0-9._:-]`,
/// so it cannot forge log lines or blow up log storage), makes a new one otherwise.
pub(crate) fn request_id(req: &Request) -> String {
    req.headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(new_id)
}

/// A fresh id: this process's random prefix and a count, unique without a call to the
/// system's random source per request.
fn new_id() -> String {
    static PROCESS: LazyLock<String> = LazyLock::new(|| uuid::Uuid::new_v4().simple().to_string());
    static COUNT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{:x}",
        &PROCESS[..16],
        COUNT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Paths of the API and of the platform's own routes: tracked in full.
fn tracked_in_full(path: &str) -> bool {
    path.starts_with("/api/")
        || path.starts_with("/docs")
        || matches!(path, "/healthz" | "/readyz" | "/metrics" | "/openapi.json")
}

/// The outermost middleware; see the module docs.
pub async fn track(mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let context = Arc::new(RequestContext {
        id: request_id(&req),
        user_id: OnceLock::new(),
    });
    req.extensions_mut().insert(context.clone());
    if !tracked_in_full(req.uri().path()) {
        return for_visitor(req, next, context).await;
    }
    let id = &context.id;

    let method = req.method().clone();
    // The route template, never the raw path, so that labels stay few and no ids or slugs
    // end up in metrics.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        route = %route,
        user_id = tracing::field::Empty,
    );

    let mut response = next.run(req).instrument(span.clone()).await;

    let latency = start.elapsed();
    let status = response.status().as_u16();
    crate::observability::metrics::record_request(method.as_str(), &route, status, latency);
    span.in_scope(|| {
        let latency_ms = latency.as_secs_f64() * 1000.0;
        let user_id = context.user_id();
        if status >= 500 {
            tracing::error!(status, latency_ms, user_id, "request failed");
        } else {
            tracing::info!(status, latency_ms, user_id, "request");
        }
    });
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
    response
}

/// A visitor's request: see the module docs.
async fn for_visitor(req: Request, next: Next, context: Arc<RequestContext>) -> Response {
    let method = req.method().clone();
    let mut response = next.run(req).await;
    let status = response.status().as_u16();
    if status >= 500 {
        tracing::error!(request_id = %context.id, %method, status, "request failed");
    }
    if let Ok(value) = HeaderValue::from_str(&context.id) {
        response.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_header(value: &str) -> Request {
        Request::builder()
            .header("x-request-id", value)
            .body(axum::body::Body::empty())
            .unwrap()
    }

    #[test]
    fn keeps_sane_ids_and_replaces_others() {
        assert_eq!(request_id(&with_header("abc-123_x.y:z")), "abc-123_x.y:z");
        let replaced = request_id(&with_header("evil\" injected=1"));
        assert_ne!(replaced, "evil\" injected=1");
        assert_ne!(request_id(&with_header(&"a".repeat(65))), "a".repeat(65));
        assert_ne!(new_id(), new_id(), "each id is new");
    }
}
