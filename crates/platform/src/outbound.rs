//! Outbound HTTP: how the platform calls third-party APIs (OAuth providers today).
//!
//! One [`reqwest::Client`] is built at start and shared through [`crate::AppState`]: it
//! holds the connection pool, so calls to the same host reuse connections. Every call is
//! bounded — connecting, and the whole exchange — so that a slow or dead third party costs
//! a request a few seconds and an answer of 502/503, not a worker held until the client
//! gives up. The bounds are below the server's own request timeout on purpose: the handler
//! then answers with a problem that names the third party, rather than the generic 503.
//!
//! TLS is rustls with the `ring` provider, the one sqlx already uses, so the binary carries
//! one TLS stack (no aws-lc, no OpenSSL); certificates are checked against the operating
//! system's roots.

use std::time::Duration;

use crate::error::AppError;

/// Time allowed to open a connection (TCP and TLS handshake).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for a whole call: connecting, sending, and reading the full response.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Redirects followed before giving up; APIs rarely redirect, and a loop must end.
pub const MAX_REDIRECTS: usize = 5;
/// Sent on every call. GitHub's API refuses requests without a `User-Agent`, and a named
/// client lets a provider's operators tell us apart (and reach us) if we misbehave.
pub const USER_AGENT: &str = concat!("capstone/", env!("CARGO_PKG_VERSION"));

/// Makes `ring` the process's rustls provider, if no provider was chosen yet. reqwest is
/// built without a provider of its own (its default would pull in aws-lc), so this must run
/// before any client is built; [`builder`] does it. Calling it again is harmless.
pub fn install_crypto_provider() {
    // `Err` means a provider is installed already, which is all we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client builder with the platform's bounds and identity, for a caller that needs to
/// change something (a shorter timeout, say) before building.
pub fn builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
}

/// The platform's shared client.
pub fn client() -> reqwest::Result<reqwest::Client> {
    builder().build()
}

/// What a handler answers when a call to `service` failed: 503 with `Retry-After` when the
/// service could not be reached in time (likely to pass), 502 when it answered with
/// something unusable. The cause is logged here; the client learns only which service
/// failed, never the URL or the error text (which may carry tokens).
pub fn failure(service: &str, err: &reqwest::Error) -> AppError {
    let cause = describe(err);
    if err.is_timeout() || err.is_connect() {
        tracing::warn!(service, error = cause, "third-party service unreachable");
        AppError::Unavailable {
            detail: format!("{service} did not answer in time; try again shortly.").into(),
            retry_after: Duration::from_secs(5),
        }
    } else {
        tracing::warn!(service, error = cause, "third-party service failed");
        AppError::BadGateway(format!(
            "{service} gave an unexpected answer; try again later."
        ))
    }
}

/// The error's text and its sources, with the URL shortened to where it went: a query
/// string can carry secrets.
fn describe(err: &reqwest::Error) -> String {
    use std::error::Error;
    let mut message = err.to_string();
    if let Some(url) = err.url() {
        message = message.replace(url.as_str(), &redacted(url));
    }
    let mut source = err.source();
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    message
}

/// `scheme://host[:port]/path`, without the query (where secrets go) or credentials.
fn redacted(url: &reqwest::Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown.push_str(url.path());
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_client_with_tls_and_no_aws_lc() {
        // Building is where reqwest sets up TLS: without an installed provider it panics.
        client().expect("a client");
        assert!(USER_AGENT.starts_with("capstone/"));
    }

    #[tokio::test]
    async fn an_unreachable_service_is_503_and_names_only_the_service() {
        // Port 9 (discard) on loopback: nothing listens there, so the connection is refused.
        let err = client()
            .unwrap()
            .get("http://127.0.0.1:9/token?client_secret=hunter2")
            .send()
            .await
            .unwrap_err();
        let failure = failure("GitHub", &err);
        assert_eq!(failure.status(), 503);
        let shown = failure.to_string();
        assert!(
            shown.contains("GitHub") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert!(!describe(&err).contains("hunter2"), "{}", describe(&err));
    }
}
