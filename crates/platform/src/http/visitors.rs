//! The stack of the apps' public routes (a short link's redirect, its pixel and password
//! form; later public pages and feeds), as one hand-written layer.
//!
//! They get what API requests get — a request id, problem+json errors, a caught panic, the
//! security headers, a timeout on a body that never arrives, a log line when they fail —
//! but in one future per request. The API's stack is a chain of middlewares, each a boxed
//! future and a cloned service per request; measured on the redirect, that chain halved the
//! requests served per second (see docs/BENCHMARKS.md), where this layer costs little more
//! than the answer itself. The body limit is set beside it (`DefaultBodyLimit`, a request
//! extension).

use std::{
    convert::Infallible,
    future::Future,
    panic::AssertUnwindSafe,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    extract::Request,
    http::{HeaderValue, Method},
    response::{IntoResponse, Response},
};
use futures_util::FutureExt;

use super::{
    RequestContext, problems,
    request::{X_REQUEST_ID, request_id},
    security,
};
use crate::error::AppError;

#[derive(Debug, Clone, Copy)]
pub struct VisitorLayer {
    /// For requests with a body; a GET is answered from what the head says.
    pub request_timeout: Duration,
}

impl<S> tower::Layer<S> for VisitorLayer {
    type Service = Visitor<S>;

    fn layer(&self, inner: S) -> Visitor<S> {
        Visitor {
            inner,
            request_timeout: self.request_timeout,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Visitor<S> {
    inner: S,
    request_timeout: Duration,
}

impl<S> tower::Service<Request> for Visitor<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let context = Arc::new(RequestContext::new(request_id(&req)));
        req.extensions_mut().insert(context.clone());
        let (method, uri) = (req.method().clone(), req.uri().clone());
        let answer = AssertUnwindSafe(self.inner.call(req)).catch_unwind();
        let timeout =
            (method != Method::GET && method != Method::HEAD).then_some(self.request_timeout);
        Box::pin(async move {
            let answered = match timeout {
                None => answer.await,
                Some(limit) => match tokio::time::timeout(limit, answer).await {
                    Ok(answered) => answered,
                    Err(_) => Ok(Ok(
                        axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response()
                    )),
                },
            };
            let response = match answered {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(_) => AppError::Internal(anyhow::anyhow!("handler panicked")).into_response(),
            };
            let status = response.status().as_u16();
            if status >= 500 {
                tracing::error!(request_id = %context.id, %method, status, "request failed");
            }
            // A redirect has no content for a browser to sniff, frame or run: the security
            // headers go on pages and errors, and the hot path skips seven header inserts.
            let mut response = if response.status().is_redirection() {
                response
            } else {
                security::apply(problems::finish(response, uri.path(), Some(&context)))
            };
            if let Ok(value) = HeaderValue::from_str(&context.id) {
                response.headers_mut().insert(X_REQUEST_ID.clone(), value);
            }
            Ok(response)
        })
    }
}
