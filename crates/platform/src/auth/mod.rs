//! Accounts and authentication.

pub mod password;
pub mod register;
pub mod user;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::server::AppState;

/// The auth routes, relative to `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(register::register))
}
