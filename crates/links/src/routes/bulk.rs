//! `POST /api/v1/links/bulk`: up to 1,000 links in one request, each created or refused on
//! its own, with a report per item.

use std::sync::Arc;

use axum::{Extension, extract::State, http::StatusCode};
use platform::{
    AppResult, AppState,
    auth::CurrentUser,
    error::{FieldError, Problem, Validator},
    http::Json,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::links::{Created, create_link};
use crate::{
    LinksState,
    api::{Check, Link, NewLink},
    store,
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
#[utoipa::path(
    post,
    path = "/links/bulk",
    tag = "links",
    request_body = BulkRequest,
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "What was created and what failed, per item", body = BulkReport),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No items, or more than 1,000", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_many(
    State(state): State<AppState>,
    Extension(links): Extension<Arc<LinksState>>,
    user: CurrentUser,
    Json(input): Json<BulkRequest>,
) -> AppResult<(StatusCode, Json<BulkReport>)> {
    if input.items.is_empty() || input.items.len() > MAX_ITEMS {
        return Err(platform::AppError::validation(
            "items",
            format!("must hold 1 to {MAX_ITEMS} links"),
        ));
    }
    let public_url = state.config.public_url();
    let mut results = Vec::with_capacity(input.items.len());
    for (index, item) in input.items.into_iter().enumerate() {
        let mut v = Validator::new();
        let at = format!("items[{index}].");
        let valid = item.validate(&mut Check { v: &mut v, at: &at });
        let outcome = match valid {
            None => Err(v.into_errors()),
            Some(valid) => create_link(&state, &links, user.id, valid)
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
                    link: Some(store::view(&state.db, link, &public_url).await?),
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
