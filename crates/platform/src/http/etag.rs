//! Conditional GETs (RFC 9110 §13): every successful JSON answer to a GET carries an
//! `ETag`, a hash of its body, and a request whose `If-None-Match` names the current one is
//! answered `304 Not Modified` without the body. A dashboard that polls a link's statistics
//! every few seconds then downloads them only when they have changed, as GitHub's API
//! lets its clients do.
//!
//! The answer is still worked out in full: this saves the network and the client's
//! parsing, not the database. The tag is weak (`W/"…"`) because the compression layer
//! outside this one may send the same body encoded in different ways. Answers are private
//! to their caller (`Cache-Control: private, no-cache`): a browser may keep them but must
//! ask again each time, and no shared cache may keep them.

use axum::{
    body::{Body, HttpBody},
    extract::Request,
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

/// Bodies larger than this are sent without a tag, rather than held to be hashed.
const MAX_TAGGED_BODY: u64 = 1 << 20;

pub async fn conditional(request: Request, next: Next) -> Response {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let if_none_match = request.headers().get(header::IF_NONE_MATCH).cloned();
    let response = next.run(request).await;
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    // Only bodies already whole in memory (a streamed CSV export has no exact size).
    let size = response.body().size_hint().exact();
    if response.status() != StatusCode::OK || !json || size.is_none_or(|n| n > MAX_TAGGED_BODY) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_TAGGED_BODY as usize).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let digest = Sha256::digest(&bytes);
    let etag = HeaderValue::try_from(format!("W/\"{}\"", hex::encode(&digest[..16])))
        .expect("hex is a valid header value");
    parts
        .headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("private, no-cache"));
    let matched = if_none_match.is_some_and(|wanted| matches(&wanted, &etag));
    parts.headers.insert(header::ETAG, etag);
    if matched {
        parts.status = StatusCode::NOT_MODIFIED;
        drop_body_headers(&mut parts.headers);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Whether `If-None-Match` names `etag`: `*`, or a list of tags compared weakly (with or
/// without `W/`).
fn matches(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(wanted) = if_none_match.to_str() else {
        return false;
    };
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let current = opaque(etag.to_str().unwrap_or_default());
    wanted.trim() == "*" || wanted.split(',').any(|tag| opaque(tag) == current)
}

/// A 304 has no body, so nothing may describe one.
fn drop_body_headers(headers: &mut HeaderMap) {
    for name in [header::CONTENT_LENGTH, header::CONTENT_TYPE] {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_is_compared_weakly_and_as_a_list() {
        let etag = HeaderValue::from_static("W/\"abc\"");
        for wanted in ["W/\"abc\"", "\"abc\"", "\"x\", W/\"abc\"", "*"] {
            assert!(
                matches(&HeaderValue::from_static(wanted), &etag),
                "{wanted}"
            );
        }
        for wanted in ["W/\"abcd\"", "\"ab\"", ""] {
            assert!(
                !matches(&HeaderValue::from_static(wanted), &etag),
                "{wanted}"
            );
        }
    }
}
