//! `GET /api/v1/links/{id}/qr?format=svg|png&size=&error_correction=&color=&background=`:
//! a QR code of the short link, in the size, format, error correction and colours asked for.

use std::sync::Arc;

use axum::{
    Extension,
    extract::{Path, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use platform::{
    AppError, AppResult, AppState,
    auth::{CurrentUser, find_owned},
    error::{Problem, Validator},
    http::Query,
};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    LinksState,
    entities::link,
    qr::{self, ErrorCorrection, Format, Rgb, Style},
};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QrQuery {
    /// `svg` (default) or `png`.
    pub format: Option<String>,
    /// Width and height in pixels, 64 to 2048 (default 300).
    pub size: Option<u32>,
    /// `L`, `M` (default), `Q` or `H`: the share of the code that can be damaged or covered
    /// and still read, about 7, 15, 25 or 30%. Higher levels make a denser code.
    pub error_correction: Option<String>,
    /// The code's colour, six hex digits with or without `#` (default `000000`).
    pub color: Option<String>,
    /// The background's colour (default `ffffff`). It must differ from `color` by a
    /// contrast of at least 3:1 for cameras to read the code.
    pub background: Option<String>,
}

impl QrQuery {
    /// The format, size and style asked for, or a 422 naming every bad parameter.
    fn parse(&self) -> AppResult<(Format, u32, Style)> {
        let mut v = Validator::new();
        // Where a parameter is bad its error is recorded and `finish` below returns it, so
        // the default standing in for it is never used.
        let format = v
            .check(
                "format",
                match self.format.as_deref() {
                    None | Some("svg") => Ok(Format::Svg),
                    Some("png") => Ok(Format::Png),
                    Some(_) => Err("must be svg or png".to_owned()),
                },
            )
            .unwrap_or(Format::Svg);
        let size = self.size.unwrap_or(300);
        if !(qr::MIN_SIZE..=qr::MAX_SIZE).contains(&size) {
            v.error(
                "size",
                format!("must be from {} to {}", qr::MIN_SIZE, qr::MAX_SIZE),
            );
        }
        let mut style = Style::default();
        if let Some(letter) = &self.error_correction {
            style.error_correction = v
                .check("error_correction", ErrorCorrection::parse(letter))
                .unwrap_or_default();
        }
        let color = self.color.as_deref().map_or(Ok(style.color), Rgb::parse);
        let background = self
            .background
            .as_deref()
            .map_or(Ok(style.background), Rgb::parse);
        match (color, background) {
            (Ok(color), Ok(background)) if color.contrast(background) < Style::MIN_CONTRAST => {
                v.error(
                    "color",
                    format!(
                        "is too close to the background for a camera to read the code \
                         (contrast {:.1}:1, at least {:.0}:1 needed)",
                        color.contrast(background),
                        Style::MIN_CONTRAST
                    ),
                );
            }
            (color, background) => {
                style.color = v.check("color", color).unwrap_or(style.color);
                style.background = v
                    .check("background", background)
                    .unwrap_or(style.background);
            }
        }
        v.finish()?;
        Ok((format, size, style))
    }
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
        (status = 422, description = "Unknown format or level, size out of range, or colours that are not hex or too alike", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn qr_code(
    State(state): State<AppState>,
    Extension(links): Extension<Arc<LinksState>>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Query(query): Query<QrQuery>,
) -> AppResult<Response> {
    let (format, size, style) = query.parse()?;
    let link = find_owned::<link::Entity>(&state.db, id, &user).await?;
    let url = links.domains.short_url(&link.domain, &link.slug);
    let image = qr::render(&url, format, size, style)
        .map_err(|e| AppError::validation("size", e.to_string()))?;
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
