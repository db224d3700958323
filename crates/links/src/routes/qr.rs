//! `GET /api/v1/links/{id}/qr?format=svg|png&size=`: a QR code of the short link.

use axum::{
    extract::{Path, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use platform::{
    AppError, AppResult, AppState,
    auth::{CurrentUser, find_owned},
    error::Problem,
    http::Query,
};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    entities::link,
    qr::{self, Format},
};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QrQuery {
    /// `svg` (default) or `png`.
    pub format: Option<String>,
    /// Width and height in pixels, 64 to 2048 (default 300).
    pub size: Option<u32>,
}

/// A QR code that opens the short link.
#[utoipa::path(
    get,
    path = "/links/{id}/qr",
    tag = "links",
    params(("id" = i64, Path), QrQuery),
    security(("basic" = []), ("bearer" = []), ("session" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The image: `image/svg+xml` or `image/png`", content_type = "image/svg+xml"),
        (status = 404, description = "No such link of yours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown format or size out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn qr_code(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(query): Query<QrQuery>,
) -> AppResult<Response> {
    let format = match query.format.as_deref() {
        None | Some("svg") => Format::Svg,
        Some("png") => Format::Png,
        Some(_) => return Err(AppError::validation("format", "must be svg or png")),
    };
    let size = query.size.unwrap_or(300);
    if !(qr::MIN_SIZE..=qr::MAX_SIZE).contains(&size) {
        return Err(AppError::validation(
            "size",
            format!("must be from {} to {}", qr::MIN_SIZE, qr::MAX_SIZE),
        ));
    }
    let link = find_owned::<link::Entity>(&state.db, id, &user).await?;
    let url = format!("{}/{}", state.config.public_url(), link.slug);
    let image =
        qr::render(&url, format, size).map_err(|e| AppError::validation("size", e.to_string()))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=3600"),
            ),
        ],
        image,
    )
        .into_response())
}
