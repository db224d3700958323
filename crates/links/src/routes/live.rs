//! `GET /api/v1/links/{id}/clicks/live`: a link's clicks as they are stored, as
//! server-sent events, for a dashboard that shows visits as they happen (as Shlink's web
//! client does over its real-time updates).
//!
//! Clicks arrive once their batch is written, so a fraction of a second to a few seconds
//! after the visit; from every instance when Redis is configured (see [`crate::live`]).

use std::{convert::Infallible, sync::Arc};

use axum::{
    Extension,
    extract::{Path, State},
    response::sse::{Event, KeepAlive, Sse},
};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt, stream};
use platform::{
    AppResult, AppState,
    auth::{CurrentUser, find_owned},
    error::Problem,
};
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa::ToSchema;

use crate::{LinksState, entities::link, live::LiveClick};

/// One click, as the `click` event's data.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveClickEvent<'a> {
    pub clicked_at: DateTime<Utc>,
    pub is_bot: bool,
    pub browser: &'a str,
    pub os: &'a str,
    pub device: &'a str,
    pub referrer_host: Option<&'a str>,
    pub country: Option<&'a str>,
    pub language: Option<&'a str>,
}

impl<'a> From<&'a LiveClick> for LiveClickEvent<'a> {
    fn from(c: &'a LiveClick) -> Self {
        Self {
            clicked_at: c.at,
            is_bot: c.is_bot,
            browser: &c.browser,
            os: &c.os,
            device: &c.device,
            referrer_host: c.referrer_host.as_deref(),
            country: c.country.as_deref(),
            language: c.language.as_deref(),
        }
    }
}

/// A link's clicks as they are stored: `text/event-stream` with a `click` event per click
/// (data: `LiveClickEvent`), a `lagged` event with the number of batches missed if the
/// client reads too slowly, and a comment every 15 s to keep proxies from closing the
/// connection. The stream ends when the server stops.
#[utoipa::path(
    get,
    path = "/links/{id}/clicks/live",
    tag = "links",
    params(("id" = i64, Path)),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Server-sent events, one `click` event per click", content_type = "text/event-stream", body = LiveClickEvent),
        (status = 404, description = "No such link of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn live_clicks(
    State(state): State<AppState>,
    Extension(links): Extension<Arc<LinksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let link = find_owned::<link::Entity>(&state.db, id, &user).await?;
    // `watching` keeps the link watched for as long as the stream lives.
    let (batches, watching) = links.live.subscribe(link.id).await;
    let events = stream::unfold(
        (batches, watching),
        move |(mut batches, watching)| async move {
            let events = match batches.recv().await {
                Ok(batch) => batch
                    .iter()
                    .filter(|click| click.link_id == link.id)
                    .map(|click| {
                        let data = serde_json::to_string(&LiveClickEvent::from(click))
                            .expect("a click serialises");
                        Event::default().event("click").data(data)
                    })
                    .collect(),
                Err(RecvError::Lagged(missed)) => {
                    vec![Event::default().event("lagged").data(missed.to_string())]
                }
                Err(RecvError::Closed) => return None,
            };
            Some((stream::iter(events), (batches, watching)))
        },
    )
    .flatten()
    .map(Ok)
    // A graceful stop waits for responses in flight: this one ends with it.
    .take_until(state.shutdown.clone().cancelled_owned());
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
