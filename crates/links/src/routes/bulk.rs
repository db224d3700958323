//! `POST /api/v1/links/bulk`: up to 1,000 links in one request, each created or refused on
//! its own, with a report per item. The links come as JSON, or as a CSV file: one exported
//! by `GET /api/v1/links?format=csv`, or any with a header row naming its columns.

use std::sync::Arc;

use axum::{
    Extension,
    extract::{FromRequest, Request, State},
    http::{HeaderMap, StatusCode, header},
};
use platform::{
    AppError, AppResult, AppState,
    auth::CurrentUser,
    error::{FieldError, Problem, Validator},
    http::{Json, json::read_body},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::lifecycle::{self, Created};
use crate::{
    LinksState,
    api::{Check, Link, NewLink},
    link_csv, store,
};

pub const MAX_ITEMS: usize = 1_000;

/// The largest body this route reads, above the API's `body_limit_bytes` (1 MiB by
/// default): 1,000 links with addresses of 2,000 characters each, a title and a few tags
/// come to about 3 MB. Past this, 413.
pub const BODY_LIMIT: usize = 4 << 20;

#[derive(Debug, Deserialize, ToSchema)]
pub struct BulkRequest {
    /// 1 to 1,000 links, as for `POST /api/v1/links`.
    pub items: Vec<NewLink>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResult {
    /// Position of the item in the request.
    pub index: usize,
    /// `created`, `existing` (found by `find_if_exists`) or `failed`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkReport {
    pub created: usize,
    /// Items answered with an existing link (`find_if_exists`).
    pub existing: usize,
    pub failed: usize,
    pub results: Vec<BulkResult>,
}

/// Creates many links. Each item succeeds or fails by itself (a taken slug fails only its
/// item); the answer lists what happened to every item, in order.
///
/// Or send a CSV file (`Content-Type: text/csv`) with a header row. Its columns are read by
/// name, in any order: `target_url` (required), `slug`, `domain`, `title`, `tags`
/// (separated by `|`), `redirect_status`, `forward_query` (`true` or `false`),
/// `valid_from`, `valid_until`, `max_clicks` and `password`; others (such as an export's
/// `id` and `click_count`) are left alone, and an empty cell is no value. Item 0 is the
/// first row after the header.
#[utoipa::path(
    post,
    path = "/links/bulk",
    tag = "links",
    request_body(content(
        (BulkRequest = "application/json"),
        (String = "text/csv", example = "target_url,slug,tags\nhttps://example.com/spring,spring,promo|2027\n"),
    )),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "What was created and what failed, per item", body = BulkReport),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "A body over 4 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither JSON nor CSV", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No items, more than 1,000, or a CSV file without a `target_url` column", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_many(
    State(state): State<AppState>,
    Extension(links): Extension<Arc<LinksState>>,
    user: CurrentUser,
    request: Request,
) -> AppResult<(StatusCode, Json<BulkReport>)> {
    let items: Vec<Result<NewLink, Vec<FieldError>>> = if is_csv(request.headers()) {
        link_csv::read(&read_body(request, &state).await?, MAX_ITEMS)?
    } else {
        let Json(input) = Json::<BulkRequest>::from_request(request, &state)
            .await
            .map_err(|err| match err {
                AppError::UnsupportedMediaType(_) => AppError::UnsupportedMediaType(
                    "Expected a body with `Content-Type: application/json` or `text/csv`.".into(),
                ),
                other => other,
            })?;
        input.items.into_iter().map(Ok).collect()
    };
    if items.is_empty() || items.len() > MAX_ITEMS {
        return Err(AppError::validation(
            "items",
            format!("must hold 1 to {MAX_ITEMS} links"),
        ));
    }
    let mut results = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let mut v = Validator::new();
        let at = format!("items[{index}].");
        let valid = item.map(|item| {
            item.validate(&mut Check {
                v: &mut v,
                at: &at,
                domains: &links.domains,
            })
        });
        let outcome = match valid {
            Err(errors) => Err(errors
                .into_iter()
                .map(|e| FieldError::new(format!("{at}{}", e.field), e.message))
                .collect()),
            Ok(None) => Err(v.into_errors()),
            Ok(Some(valid)) => lifecycle::create(&state, &links, user.id, valid)
                .await
                .map_err(|err| {
                    store::item_errors(err)
                        .into_iter()
                        .map(|e| FieldError::new(format!("{at}{}", e.field), e.message))
                        .collect()
                }),
        };
        results.push(match outcome {
            Ok(created) => {
                let (status, link) = match created {
                    Created::New(link) => ("created", link),
                    Created::Existing(link) => ("existing", link),
                };
                BulkResult {
                    index,
                    status,
                    link: Some(store::view(&state.db, link, &links.domains).await?),
                    errors: None,
                }
            }
            Err(errors) => BulkResult {
                index,
                status: "failed",
                link: None,
                errors: Some(errors),
            },
        });
    }
    let count = |status| results.iter().filter(|r| r.status == status).count();
    let report = BulkReport {
        created: count("created"),
        existing: count("existing"),
        failed: count("failed"),
        results,
    };
    Ok((StatusCode::OK, Json(report)))
}

/// `text/csv`, with or without parameters.
fn is_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("text/csv"))
}
