//! Keyset (cursor) pagination: `?limit=` (default 20, at most 100) and an opaque `?cursor=`.
//!
//! The cursor is the sort key of the last item served, so that a page is one indexed range
//! scan however deep the client goes, and rows inserted meanwhile never shift a page (as
//! `OFFSET` would). It is base64url JSON: opaque to clients, easy to read when debugging.

use axum::{
    extract::{FromRequestParts, OriginalUri},
    http::{HeaderValue, header, request::Parts},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Serialize, de::DeserializeOwned};
use utoipa::{IntoParams, ToSchema};

use crate::error::{AppError, AppResult};

pub const DEFAULT_LIMIT: u64 = 20;
pub const MAX_LIMIT: u64 = 100;

/// The paging part of a list request. Other query parameters are left to the handler.
#[derive(Debug, Clone, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Pagination {
    /// Items per page, 1 to 100 (default 20).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 100)]
    pub limit: u64,
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<String>)]
    cursor: Option<String>,
    #[param(ignore)]
    path_and_query: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Pagination {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let mut limit = DEFAULT_LIMIT;
        let mut cursor = None;
        for (key, value) in form_pairs(parts.uri.query().unwrap_or_default()) {
            match key.as_str() {
                "limit" => {
                    limit = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| {
                            AppError::validation(
                                "limit",
                                format!("must be a whole number from 1 to {MAX_LIMIT}"),
                            )
                        })?;
                }
                "cursor" if !value.is_empty() => cursor = Some(value),
                _ => {}
            }
        }
        // The URI as the client sent it: inside a nested router `parts.uri` lacks the prefix.
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map_or(&parts.uri, |original| &original.0);
        let path_and_query = uri
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_default();
        Ok(Self {
            limit,
            cursor,
            path_and_query,
        })
    }
}

impl Pagination {
    /// The sort key to continue after, if the client sent a cursor.
    pub fn after<C: DeserializeOwned>(&self) -> AppResult<Option<C>> {
        let Some(cursor) = &self.cursor else {
            return Ok(None);
        };
        URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .map(Some)
            .ok_or_else(|| AppError::validation("cursor", "is not a cursor this server issued"))
    }

    /// How many rows to fetch: one more than the page, to learn whether there is a next one.
    pub fn fetch(&self) -> u64 {
        self.limit + 1
    }

    /// Builds the page from up to [`Self::fetch`] rows, with the cursor of its last item.
    pub fn page<T, C: Serialize>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> C) -> Page<T> {
        let more = rows.len() as u64 > self.limit;
        rows.truncate(self.limit as usize);
        let next_cursor = more
            .then(|| rows.last().map(|last| encode_cursor(&key(last))))
            .flatten();
        let next_link = next_cursor
            .as_deref()
            .map(|cursor| with_query_param(&self.path_and_query, "cursor", cursor));
        Page {
            items: rows,
            next_cursor,
            next_link,
        }
    }
}

fn encode_cursor<C: Serialize>(key: &C) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).expect("cursor keys serialise"))
}

/// One page of a list: `{ "items": [...], "next_cursor": ... }` and a `Link: rel="next"`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `?cursor=` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    #[serde(skip)]
    next_link: Option<String>,
}

impl<T> Page<T> {
    /// The same page of other items (a view of each row the page was cut from).
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
            next_link: self.next_link,
        }
    }
}

impl<T: Serialize> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        let link = self
            .next_link
            .as_deref()
            .and_then(|url| HeaderValue::from_str(&format!("<{url}>; rel=\"next\"")).ok());
        let mut response = axum::Json(self).into_response();
        if let Some(link) = link {
            response.headers_mut().insert(header::LINK, link);
        }
        response
    }
}

/// Decoded `key=value` pairs of a query string (malformed pairs are skipped).
fn form_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(query).unwrap_or_default()
}

/// `path?x=1&cursor=old` with `cursor=new` -> `path?x=1&cursor=new`. Cursors are base64url,
/// so they need no escaping.
fn with_query_param(path_and_query: &str, key: &str, value: &str) -> String {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut pairs: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some(key))
        .collect();
    let param = format!("{key}={value}");
    pairs.push(&param);
    format!("{path}?{}", pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pagination(uri: &str) -> AppResult<Pagination> {
        let (mut parts, _) = axum::http::Request::builder()
            .uri(uri)
            .body(())
            .unwrap()
            .into_parts();
        Pagination::from_request_parts(&mut parts, &()).await
    }

    #[tokio::test]
    async fn limits_are_capped_and_checked() {
        assert_eq!(pagination("/x").await.unwrap().limit, DEFAULT_LIMIT);
        assert_eq!(pagination("/x?limit=100").await.unwrap().limit, 100);
        for bad in ["/x?limit=0", "/x?limit=101", "/x?limit=ten"] {
            assert!(
                matches!(pagination(bad).await, Err(AppError::Validation(_))),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn pages_carry_a_cursor_that_round_trips() {
        let p = pagination("/api/v1/things?limit=2&q=a%20b&cursor=old")
            .await
            .unwrap();
        let page = p.page(vec![1, 2, 3], |n| (*n, "k"));
        assert_eq!(page.items, [1, 2]);
        let cursor = page.next_cursor.clone().unwrap();
        assert_eq!(
            page.next_link.as_deref(),
            Some(format!("/api/v1/things?limit=2&q=a%20b&cursor={cursor}").as_str())
        );

        let next = pagination(&format!("/api/v1/things?cursor={cursor}"))
            .await
            .unwrap();
        assert_eq!(
            next.after::<(i32, String)>().unwrap(),
            Some((2, "k".to_owned()))
        );

        let last = p.page(vec![1, 2], |n| *n);
        assert_eq!(last.next_cursor, None);

        let forged = pagination("/x?cursor=not-a-cursor").await.unwrap();
        assert!(forged.after::<i64>().is_err());
    }
}
