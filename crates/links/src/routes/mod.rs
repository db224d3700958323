//! The links API, under `/api/v1`. Every route needs an authenticated owner (the orphan
//! visits, which belong to no one, an administrator).

mod bulk;
mod domains;
mod links;
mod live;
mod orphans;
mod qr;
mod stats;
mod tags;

use std::sync::Arc;

use axum::{Extension, extract::DefaultBodyLimit};
use platform::AppState;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::LinksState;

/// Schemas the operations name only through their query parameters, which utoipa does not
/// collect by itself.
#[derive(OpenApi)]
#[openapi(components(schemas(crate::store::Sort, crate::store::TagMode)))]
struct Schemas;

pub fn router(links: Arc<LinksState>) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(Schemas::openapi())
        .routes(routes!(links::create, links::list))
        .routes(routes!(links::get, links::update, links::delete))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(bulk::create_many))
                .layer(DefaultBodyLimit::max(bulk::BODY_LIMIT)),
        )
        .routes(routes!(domains::list))
        .routes(routes!(domains::stats))
        .routes(routes!(tags::list))
        .routes(routes!(tags::rename, tags::delete))
        .routes(routes!(stats::link_stats))
        .routes(routes!(stats::tag_stats))
        .routes(routes!(stats::account_stats))
        .routes(routes!(stats::ranking))
        .routes(routes!(stats::clicks, stats::delete_clicks))
        .routes(routes!(live::live_clicks))
        .routes(routes!(qr::qr_code))
        .routes(routes!(orphans::list, orphans::delete))
        .routes(routes!(orphans::stats))
        .layer(Extension(links))
}
