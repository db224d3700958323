//! `/api/v1/webhooks`: a user's webhooks, their test ping and their delivery log.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    entity::{
        delivery::{self, Outcome},
        webhook,
    },
    signature::Secret,
};
use crate::{
    auth::{CurrentUser, Owned, find_owned},
    error::{AppResult, Problem, Validator},
    http::{Json, Page, Pagination, location},
    state::AppState,
};

/// How long the secret before a rotation keeps signing beside the new one.
const ROTATION_OVERLAP: TimeDelta = TimeDelta::hours(24);

impl Owned for webhook::Entity {
    fn owner_column() -> webhook::Column {
        webhook::Column::OwnerId
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get_one, update, delete))
        .routes(routes!(test))
        .routes(routes!(deliveries))
}

/// A webhook as its owner sees it; the secret only when it is made or rotated.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub description: Option<String>,
    /// The event types sent, such as `link.created`.
    pub events: Vec<String>,
    /// `false` once disabled, by its owner or after a day of failed deliveries.
    pub enabled: bool,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    /// Since when every delivery has failed.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `whsec_…`: the signing secret, shown in the answer that made it and never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<webhook::Model> for Webhook {
    fn from(hook: webhook::Model) -> Self {
        Self {
            events: hook.events(),
            enabled: hook.disabled_at.is_none(),
            id: hook.id,
            url: hook.url,
            description: hook.description,
            disabled_reason: hook.disabled_reason,
            failing_since: hook.failing_since,
            created_at: hook.created_at,
            updated_at: hook.updated_at,
            secret: None,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewWebhook {
    /// Where events are POSTed: an http(s) URL reaching a public address.
    pub url: String,
    /// The event types wanted, at least one.
    pub events: Vec<String>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// Empty to remove it.
    pub description: Option<String>,
    /// `true` enables a disabled webhook again (its failures forgotten); `false` disables it.
    pub enabled: Option<bool>,
    /// `true` makes a new secret, shown in the answer; the old one keeps signing beside it
    /// for 24 hours so that receivers can switch without losing an event.
    pub rotate_secret: Option<bool>,
}

/// Checks the fields a create or change sets; returns the URL as parsed.
async fn check(
    state: &AppState,
    v: &mut Validator,
    url: Option<&str>,
    events: Option<&[String]>,
    description: Option<&str>,
) -> Option<String> {
    let mut checked = None;
    if let Some(url) = url {
        if url.len() > 2048 {
            v.error("url", "must be at most 2048 characters");
        } else {
            match crate::outbound::check_destination(url, state.webhooks.allow_private()).await {
                Ok(parsed) => checked = Some(String::from(parsed)),
                Err(message) => v.error("url", message),
            }
        }
    }
    if let Some(events) = events {
        if events.is_empty() {
            v.error("events", "must name at least one event type");
        }
        if let Some(unknown) = events.iter().find(|e| !state.webhooks.knows(e)) {
            v.error(
                "events",
                format!(
                    "{unknown:?} is not an event type; known: {}",
                    state.webhooks.types().join(", ")
                ),
            );
        }
    }
    if description.is_some_and(|d| d.chars().count() > 200) {
        v.error("description", "must be at most 200 characters");
    }
    checked
}

fn events_json(events: &[String]) -> String {
    let mut unique: Vec<&String> = events.iter().collect();
    unique.sort();
    unique.dedup();
    serde_json::to_string(&unique).expect("strings serialise")
}

fn non_empty(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// Registers a webhook; the answer holds its secret, shown this once.
#[utoipa::path(
    post,
    path = "/webhooks",
    operation_id = "create_webhook",
    tag = "webhooks",
    request_body = NewWebhook,
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "Created, with its secret", body = Webhook,
            headers(("location" = String, description = "The new webhook"))),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(input): Json<NewWebhook>,
) -> AppResult<impl IntoResponse> {
    let mut v = Validator::new();
    let url = check(
        &state,
        &mut v,
        Some(&input.url),
        Some(&input.events),
        input.description.as_deref(),
    )
    .await;
    v.finish()?;
    let secret = Secret::generate();
    let now = state.clock.now();
    let created = webhook::ActiveModel {
        owner_id: Set(user.id),
        url: Set(url.expect("checked")),
        description: Set(non_empty(input.description.as_deref())),
        events: Set(events_json(&input.events)),
        secret: Set(secret.expose().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&state.db)
    .await?;
    let path = format!("/api/v1/webhooks/{}", created.id);
    let mut answer = Webhook::from(created);
    answer.secret = Some(secret.expose().to_owned());
    Ok((StatusCode::CREATED, location(&path), Json(answer)))
}

/// The caller's webhooks, oldest first.
#[utoipa::path(
    get,
    path = "/webhooks",
    operation_id = "list_webhooks",
    tag = "webhooks",
    params(Pagination),
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "A page of webhooks", body = Page<Webhook>),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Pagination,
) -> AppResult<Page<Webhook>> {
    let mut query = webhook::Entity::owned_by(&user);
    if let Some(after) = page.after::<i64>()? {
        query = query.filter(webhook::Column::Id.gt(after));
    }
    let rows = query
        .order_by_asc(webhook::Column::Id)
        .limit(page.fetch())
        .all(&state.db)
        .await?;
    Ok(page.page(rows.into_iter().map(Webhook::from).collect(), |w| w.id))
}

/// One of the caller's webhooks.
#[utoipa::path(
    get,
    path = "/webhooks/{id}",
    operation_id = "get_webhook",
    tag = "webhooks",
    params(("id" = i64, Path, description = "The webhook's id")),
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The webhook", body = Webhook),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook of the caller's", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_one(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<Webhook>> {
    let hook = find_owned::<webhook::Entity>(&state.db, id, &user).await?;
    Ok(Json(hook.into()))
}

/// Changes a webhook: its URL, events, description, whether it is enabled, or its secret.
#[utoipa::path(
    patch,
    path = "/webhooks/{id}",
    operation_id = "update_webhook",
    tag = "webhooks",
    params(("id" = i64, Path, description = "The webhook's id")),
    request_body = WebhookChanges,
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The changed webhook (with `secret` after a rotation)", body = Webhook),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook of the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Json(input): Json<WebhookChanges>,
) -> AppResult<Json<Webhook>> {
    let hook = find_owned::<webhook::Entity>(&state.db, id, &user).await?;
    let mut v = Validator::new();
    let url = check(
        &state,
        &mut v,
        input.url.as_deref(),
        input.events.as_deref(),
        input.description.as_deref(),
    )
    .await;
    v.finish()?;
    let now = state.clock.now();
    let mut changes = hook.clone().into_active_model();
    if let Some(url) = url {
        changes.url = Set(url);
    }
    if let Some(events) = &input.events {
        changes.events = Set(events_json(events));
    }
    if input.description.is_some() {
        changes.description = Set(non_empty(input.description.as_deref()));
    }
    match input.enabled {
        Some(true) => {
            changes.disabled_at = Set(None);
            changes.disabled_reason = Set(None);
            changes.failing_since = Set(None);
        }
        Some(false) if hook.disabled_at.is_none() => {
            changes.disabled_at = Set(Some(now));
            changes.disabled_reason = Set(Some("disabled by its owner".into()));
        }
        _ => {}
    }
    let rotated = (input.rotate_secret == Some(true)).then(Secret::generate);
    if let Some(secret) = &rotated {
        changes.previous_secret = Set(Some(hook.secret.clone()));
        changes.previous_secret_until = Set(Some(now + ROTATION_OVERLAP));
        changes.secret = Set(secret.expose().to_owned());
    }
    changes.updated_at = Set(now);
    let updated = changes.update(&state.db).await?;
    let mut answer = Webhook::from(updated);
    answer.secret = rotated.map(|s| s.expose().to_owned());
    Ok(Json(answer))
}

/// Deletes a webhook; deliveries still queued for it are dropped.
#[utoipa::path(
    delete,
    path = "/webhooks/{id}",
    operation_id = "delete_webhook",
    tag = "webhooks",
    params(("id" = i64, Path, description = "The webhook's id")),
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook of the caller's", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    let hook = find_owned::<webhook::Entity>(&state.db, id, &user).await?;
    webhook::Entity::delete_by_id(hook.id)
        .exec(&state.db)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a test ping was queued as.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Ping {
    /// The `webhook-id` the ping is sent with.
    pub message_id: String,
}

/// Sends a `webhook.test` event to the webhook, whatever events it wants.
#[utoipa::path(
    post,
    path = "/webhooks/{id}/test",
    operation_id = "test_webhook",
    tag = "webhooks",
    params(("id" = i64, Path, description = "The webhook's id")),
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 202, description = "Queued; see its deliveries", body = Ping),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook of the caller's", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn test(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<(StatusCode, Json<Ping>)> {
    let hook = find_owned::<webhook::Entity>(&state.db, id, &user).await?;
    let tx = state.db.begin().await?;
    let message_id = state.webhooks.ping(&tx, hook.id).await?;
    tx.commit().await?;
    state.webhooks.committed();
    Ok((StatusCode::ACCEPTED, Json(Ping { message_id })))
}

/// One attempt at delivering an event.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    pub id: i64,
    /// The `webhook-id` header: the same on every attempt of one event.
    pub message_id: String,
    pub event_type: String,
    /// 1 for the first attempt.
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    pub duration_ms: i32,
    /// The receiver's status, if it answered.
    pub response_status: Option<i16>,
    pub error: Option<String>,
    pub outcome: Outcome,
}

impl From<delivery::Model> for Delivery {
    fn from(d: delivery::Model) -> Self {
        Self {
            id: d.id,
            message_id: d.message_id,
            event_type: d.event_type,
            attempt: d.attempt,
            attempted_at: d.attempted_at,
            duration_ms: d.duration_ms,
            response_status: d.response_status,
            error: d.error,
            outcome: d.outcome,
        }
    }
}

/// The webhook's delivery attempts, newest first.
#[utoipa::path(
    get,
    path = "/webhooks/{id}/deliveries",
    operation_id = "list_webhook_deliveries",
    tag = "webhooks",
    params(("id" = i64, Path, description = "The webhook's id"), Pagination),
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "A page of attempts", body = Page<Delivery>),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook of the caller's", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn deliveries(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    page: Pagination,
) -> AppResult<Page<Delivery>> {
    let hook = find_owned::<webhook::Entity>(&state.db, id, &user).await?;
    let mut query = delivery::Entity::find().filter(delivery::Column::WebhookId.eq(hook.id));
    if let Some(before) = page.after::<i64>()? {
        query = query.filter(delivery::Column::Id.lt(before));
    }
    let rows = query
        .order_by_desc(delivery::Column::Id)
        .limit(page.fetch())
        .all(&state.db)
        .await?;
    Ok(page.page(rows.into_iter().map(Delivery::from).collect(), |d| d.id))
}
