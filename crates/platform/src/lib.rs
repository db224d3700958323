//! The Capstone platform: what the links, jobs and tasks apps all stand on.
//!
//! An app depends on this crate and never on another app, and shows the server the face
//! of [`app::App`]. It gets a database pool ([`db`]),
//! one error type that renders as problem+json ([`error`]), the HTTP conventions
//! ([`http`]), accounts and authentication ([`auth`]), logs and metrics
//! ([`observability`]), background workers ([`background`]), the durable job queue
//! ([`jobs`]) and its [`clock`], signed [`webhooks`], [`notify`] (inbox, mail, preferences), the server ([`server`]) and what instances share
//! through Redis ([`shared`]).

pub mod app;
pub mod auth;
pub mod background;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod jobs;
pub mod mail;
pub mod migrations;
pub mod notify;
pub mod observability;
pub mod outbound;
pub mod paths;
pub mod server;
pub mod shared;
pub mod state;
pub mod webhooks;

pub use config::Config;
pub use error::{AppError, AppResult};
pub use state::AppState;

/// The platform's routes under `/api/v1`: accounts, sign-in, administration, webhooks.
pub fn api(state: &AppState) -> utoipa_axum::router::OpenApiRouter<AppState> {
    auth::router(state)
        .merge(jobs::admin::router(state))
        .merge(webhooks::routes::router())
        .merge(notify::routes::router())
}
