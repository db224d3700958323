//! `/api/v1/me/notifications` (the inbox, its unread count and live stream) and
//! `/api/v1/me/preferences` (time zone, channels per kind, the ntfy topic).

use std::{collections::BTreeMap, convert::Infallible};

use axum::{
    extract::{Path, State},
    response::sse::{Event, KeepAlive, Sse},
};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, OnConflict},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    Channel, channels_of,
    entity::{notification, preferences},
    ntfy,
};
use crate::{
    auth::CurrentUser,
    error::{AppError, AppResult, Problem, Validator},
    http::{Json, Page, Pagination, Query, json::nullable},
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(unread_count))
        .routes(routes!(read_one))
        .routes(routes!(read_all))
        .routes(routes!(stream))
        .routes(routes!(get_preferences, update_preferences))
}

/// Something the platform or an app told the user.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Notification {
    pub id: i64,
    /// What it is about, such as `webhook.disabled`.
    pub kind: String,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When the user marked it read; `null` while unread.
    pub read_at: Option<DateTime<Utc>>,
}

impl From<notification::Model> for Notification {
    fn from(n: notification::Model) -> Self {
        Self {
            id: n.id,
            kind: n.kind,
            title: n.title,
            body: n.body,
            link: n.link,
            created_at: n.created_at,
            read_at: n.read_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxFilter {
    /// Only the unread ones.
    #[serde(default, deserialize_with = "crate::http::query::given")]
    pub unread: Option<bool>,
}

fn inbox(user: &CurrentUser) -> sea_orm::Select<notification::Entity> {
    notification::Entity::find().filter(notification::Column::UserId.eq(user.id))
}

/// The caller's notifications, newest first.
#[utoipa::path(
    get,
    path = "/me/notifications",
    operation_id = "list_notifications",
    tag = "notifications",
    params(Pagination, InboxFilter),
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "A page of notifications", body = Page<Notification>),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Pagination,
    Query(filter): Query<InboxFilter>,
) -> AppResult<Page<Notification>> {
    let mut query = inbox(&user);
    if let Some(before) = page.after::<i64>()? {
        query = query.filter(notification::Column::Id.lt(before));
    }
    if filter.unread == Some(true) {
        query = query.filter(notification::Column::ReadAt.is_null());
    }
    let rows = query
        .order_by_desc(notification::Column::Id)
        .limit(page.fetch())
        .all(&state.db)
        .await?;
    Ok(page.page(rows.into_iter().map(Notification::from).collect(), |n| n.id))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UnreadCount {
    pub unread: u64,
}

/// How many of the caller's notifications are unread.
#[utoipa::path(
    get,
    path = "/me/notifications/unread-count",
    operation_id = "count_unread_notifications",
    tag = "notifications",
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The count", body = UnreadCount),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn unread_count(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Json<UnreadCount>> {
    let unread = inbox(&user)
        .filter(notification::Column::ReadAt.is_null())
        .count(&state.db)
        .await?;
    Ok(Json(UnreadCount { unread }))
}

/// Marks one notification read.
#[utoipa::path(
    post,
    path = "/me/notifications/{id}/read",
    operation_id = "read_notification",
    tag = "notifications",
    params(("id" = i64, Path, description = "The notification's id")),
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The notification, read", body = Notification),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such notification of the caller's", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn read_one(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Json<Notification>> {
    notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(state.clock.now()))
        .filter(notification::Column::Id.eq(id))
        .filter(notification::Column::UserId.eq(user.id))
        .filter(notification::Column::ReadAt.is_null())
        .exec(&state.db)
        .await?;
    let found = inbox(&user)
        .filter(notification::Column::Id.eq(id))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(found.into()))
}

/// Marks every notification of the caller's read.
#[utoipa::path(
    post,
    path = "/me/notifications/read-all",
    operation_id = "read_all_notifications",
    tag = "notifications",
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "None left unread", body = UnreadCount),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn read_all(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Json<UnreadCount>> {
    notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(state.clock.now()))
        .filter(notification::Column::UserId.eq(user.id))
        .filter(notification::Column::ReadAt.is_null())
        .exec(&state.db)
        .await?;
    Ok(Json(UnreadCount { unread: 0 }))
}

/// New notifications as they arrive, as server-sent events (`event: notification`, the
/// notification as `data`), until the client or the server goes.
#[utoipa::path(
    get,
    path = "/me/notifications/stream",
    operation_id = "stream_notifications",
    tag = "notifications",
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "An event stream", content_type = "text/event-stream"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stream(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let me = user.id;
    // A stream over the broadcast itself, not a task feeding it: when the client goes, the
    // stream is dropped and nothing is left waiting.
    let start = (
        state.notify.subscribe(),
        state.db.clone(),
        state.shutdown.clone(),
    );
    let events = futures_util::stream::unfold(start, move |(mut news, db, stop)| async move {
        loop {
            let (to, id) = tokio::select! {
                next = news.recv() => match next {
                    Ok(new) => new,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return None,
                },
                () = stop.cancelled() => return None,
            };
            if to != me {
                continue;
            }
            if let Ok(Some(found)) = notification::Entity::find_by_id(id).one(&db).await {
                let data = serde_json::to_string(&Notification::from(found)).unwrap_or_default();
                let event = Event::default()
                    .event("notification")
                    .id(id.to_string())
                    .data(data);
                return Some((Ok(event), (news, db, stop)));
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// A user's notification settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Preferences {
    /// IANA time zone name, such as `Europe/Paris` (default `UTC`): reminders and digests
    /// are at local times in it.
    pub time_zone: String,
    /// For each kind of notification, the channels it goes to: the user's choice, or the
    /// kind's default.
    pub channels: BTreeMap<String, Vec<Channel>>,
    /// Where the `ntfy` channel pushes; `null` until set (a kind sent to `ntfy` then goes
    /// only to its other channels).
    pub ntfy: Option<NtfyView>,
}

/// The caller's ntfy topic, as shown: the token never is.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NtfyView {
    /// The topic URL, such as `https://ntfy.sh/my-topic`.
    pub url: String,
    /// Whether an access token is stored (it is sent with every push, never shown).
    pub token_set: bool,
}

/// Where to push by [ntfy](https://docs.ntfy.sh/publish/).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NtfySettings {
    /// The full topic URL: an ntfy server (`https://ntfy.sh` or your own, also under a
    /// path) and a topic of 1 to 64 letters, digits, `-` or `_`, such as
    /// `https://ntfy.sh/my-topic`. It must reach a public address unless the server allows
    /// private ones.
    pub url: String,
    /// An access token (`tk_…`) for a protected topic, sent as `Authorization: Bearer`.
    /// Absent or `null`: none. The settings are replaced whole, so a change of URL that
    /// keeps the token gives it again: a token never follows a URL it was not given with.
    pub token: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PreferenceChanges {
    pub time_zone: Option<String>,
    /// Kinds to change, each with the channels it should go to (`[]` for none).
    pub channels: Option<BTreeMap<String, Vec<Channel>>>,
    /// The ntfy topic, replacing the one set (token included); `null` removes it, and
    /// pushes stop, queued ones included; absent leaves it as it is.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NtfySettings>)]
    pub ntfy: Option<Option<NtfySettings>>,
}

async fn current(state: &AppState, user: i64) -> AppResult<Preferences> {
    let stored = preferences::Entity::find_by_id(user).one(&state.db).await?;
    let chosen = stored.as_ref().map(channels_of).unwrap_or_default();
    let mut channels: BTreeMap<String, Vec<Channel>> = state
        .notify
        .kinds()
        .into_iter()
        .map(|(kind, defaults)| (kind.to_owned(), defaults))
        .collect();
    channels.extend(chosen);
    let ntfy = stored.as_ref().and_then(|p| {
        p.ntfy_url.clone().map(|url| NtfyView {
            url,
            token_set: p.ntfy_token.is_some(),
        })
    });
    Ok(Preferences {
        time_zone: stored.map_or_else(|| "UTC".to_owned(), |p| p.time_zone),
        channels,
        ntfy,
    })
}

/// The caller's time zone and channels per kind of notification.
#[utoipa::path(
    get,
    path = "/me/preferences",
    operation_id = "get_preferences",
    tag = "notifications",
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The preferences", body = Preferences),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_preferences(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Json<Preferences>> {
    Ok(Json(current(&state, user.id).await?))
}

/// Changes the caller's time zone, channels or ntfy topic; what is not named stays as it is.
#[utoipa::path(
    patch,
    path = "/me/preferences",
    operation_id = "update_preferences",
    tag = "notifications",
    request_body = PreferenceChanges,
    security(("basic" = []), ("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The preferences", body = Preferences),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown zone or kind, or an ntfy URL or token that will not do (`ntfy.url`, `ntfy.token`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_preferences(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(input): Json<PreferenceChanges>,
) -> AppResult<Json<Preferences>> {
    let mut v = Validator::new();
    if let Some(zone) = &input.time_zone
        && zone.parse::<chrono_tz::Tz>().is_err()
    {
        v.error(
            "time_zone",
            "is not an IANA time zone name, such as Europe/Paris",
        );
    }
    let kinds = state.notify.kinds();
    if let Some(unknown) = input
        .channels
        .iter()
        .flat_map(BTreeMap::keys)
        .find(|k| !kinds.contains_key(k.as_str()))
    {
        v.error(
            "channels",
            format!("{unknown:?} is not a kind of notification"),
        );
    }
    // `Some(None)`: remove; `Some(Some(..))`: the checked URL and the token.
    let mut ntfy_change = None;
    match &input.ntfy {
        None => {}
        Some(None) => ntfy_change = Some((None, None)),
        Some(Some(settings)) => {
            let url = v.check(
                "ntfy.url",
                ntfy::check_url(&settings.url, state.config.allow_private_outbound).await,
            );
            if let Some(token) = &settings.token {
                v.check("ntfy.token", ntfy::check_token(token));
            }
            ntfy_change = Some((url, settings.token.clone()));
        }
    }
    v.finish()?;
    let before = current(&state, user.id).await?;
    let stored = preferences::Entity::find_by_id(user.id)
        .one(&state.db)
        .await?;
    let mut chosen = stored.as_ref().map(channels_of).unwrap_or_default();
    for (kind, mut channels) in input.channels.unwrap_or_default() {
        channels.sort();
        channels.dedup();
        chosen.insert(kind, channels);
    }
    let (ntfy_url, ntfy_token) = ntfy_change.unwrap_or_else(|| {
        stored
            .map(|p| (p.ntfy_url, p.ntfy_token))
            .unwrap_or_default()
    });
    let row = preferences::ActiveModel {
        user_id: Set(user.id),
        time_zone: Set(input.time_zone.unwrap_or(before.time_zone)),
        channels: Set(serde_json::to_string(&chosen).expect("channels serialise")),
        updated_at: Set(state.clock.now()),
        ntfy_url: Set(ntfy_url),
        ntfy_token: Set(ntfy_token),
    };
    preferences::Entity::insert(row)
        .on_conflict(
            OnConflict::column(preferences::Column::UserId)
                .update_columns([
                    preferences::Column::TimeZone,
                    preferences::Column::Channels,
                    preferences::Column::UpdatedAt,
                    preferences::Column::NtfyUrl,
                    preferences::Column::NtfyToken,
                ])
                .to_owned(),
        )
        .exec(&state.db)
        .await?;
    Ok(Json(current(&state, user.id).await?))
}
