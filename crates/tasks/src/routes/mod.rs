//! The tasks API, under `/api/v1`. Every route needs an authenticated user, and reaches a
//! project only through the caller's membership of it (see [`crate::access`]).

mod activity;
mod comments;
mod feeds;
mod files;
mod filters;
mod labels;
mod members;
mod projects;
mod reminders;
mod settings;
mod tasks;
mod trash;

use std::sync::Arc;

use axum::Extension;
use platform::AppState;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::TasksState;

/// Schemas the operations name only through their query parameters.
#[derive(OpenApi)]
#[openapi(components(schemas(
    crate::search::Sort,
    crate::search::LabelMode,
    crate::model::Status,
    files::ExportFormat
)))]
struct Schemas;

pub fn router(app: Arc<TasksState>) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(Schemas::openapi())
        .routes(routes!(projects::list, projects::create))
        .routes(routes!(projects::get, projects::update, projects::delete))
        .routes(routes!(projects::restore))
        .routes(routes!(members::list, members::add))
        .routes(routes!(members::update, members::remove))
        .routes(routes!(activity::list))
        .routes(routes!(tasks::create, tasks::list_in_project))
        .routes(routes!(tasks::list))
        .routes(routes!(tasks::bulk))
        .routes(routes!(tasks::today))
        .routes(routes!(tasks::upcoming))
        .routes(routes!(tasks::get, tasks::update, tasks::delete))
        .routes(routes!(tasks::restore))
        .routes(routes!(tasks::list_occurrences))
        .routes(routes!(tasks::skip_occurrence))
        .routes(routes!(comments::list, comments::add))
        .routes(routes!(comments::delete))
        .routes(routes!(reminders::list, reminders::add))
        .routes(routes!(reminders::delete))
        .routes(routes!(reminders::snooze))
        .routes(routes!(reminders::acknowledge))
        .routes(routes!(trash::list))
        .routes(routes!(labels::list, labels::create))
        .routes(routes!(labels::update, labels::delete))
        .routes(routes!(settings::get, settings::update))
        .routes(routes!(feeds::list, feeds::create))
        .routes(routes!(feeds::revoke))
        .routes(routes!(filters::list, filters::create))
        .routes(routes!(filters::update, filters::delete))
        .routes(routes!(filters::tasks))
        .routes(routes!(files::export_project))
        .routes(routes!(files::import_into))
        .layer(Extension(app))
}
