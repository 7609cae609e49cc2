//! QR codes of payment links, as SVG and PNG: error correction M, a 4-module quiet zone,
//! and a `size` in pixels (64–2048, default 512).

use axum::extract::State;
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use qrcode::{EcLevel, QrCode};

use paylink_domain::id::PaymentLinkId;

use super::not_found_as;
use super::path::PathId;
use super::routes::{params, reg, route, Route};
use crate::auth::Access::Scope;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::json::Query;
use crate::state::AppState;

/// The routes of this module's handlers (see [`super::routes`]).
pub(super) fn routes() -> Vec<Route> {
    let tag = "Payment links";
    vec![
        route(
            Method::GET,
            "/v1/payment_links/{id}/qr.svg",
            tag,
            "The link's QR code as SVG",
            Scope("payment_links:read"),
            200,
            reg::<String>,
            svg,
        )
        .image("image/svg+xml")
        .query(params::<QrQuery>),
        route(
            Method::GET,
            "/v1/payment_links/{id}/qr.png",
            tag,
            "The link's QR code as PNG",
            Scope("payment_links:read"),
            200,
            reg::<String>,
            png,
        )
        .image("image/png")
        .query(params::<QrQuery>),
    ]
}

const QUIET_ZONE: usize = 4;

#[derive(serde::Deserialize, Default, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QrQuery {
    /// Width and height in pixels, 64–2048 (default 512).
    #[param(minimum = 64, maximum = 2048)]
    pub size: Option<u32>,
}

async fn link_url(
    state: &AppState,
    auth: &Auth,
    id: &PaymentLinkId,
    q: &QrQuery,
) -> ApiResult<(String, u32)> {
    let link = state
        .store
        .get_payment_link(&auth.tenant, id)
        .await
        .map_err(not_found_as("payment link"))?
        .value;
    let size = q.size.unwrap_or(512);
    if !(64..=2048).contains(&size) {
        return Err(ApiError::invalid(
            "parameter_invalid",
            "size",
            "`size` must be between 64 and 2048",
        ));
    }
    Ok((
        format!("{}/l/{}", state.public_url, link.slug.as_str()),
        size,
    ))
}

fn code(url: &str) -> ApiResult<QrCode> {
    QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).map_err(ApiError::internal)
}

fn image(content_type: &'static str, body: Vec<u8>) -> Response {
    let mut res = body.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    res
}

pub async fn svg(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<QrQuery>,
    PathId(id): PathId<PaymentLinkId>,
) -> ApiResult<Response> {
    let (url, size) = link_url(&state, &auth, &id, &q).await?;
    let svg = code(&url)?
        .render::<qrcode::render::svg::Color<'_>>()
        .quiet_zone(true)
        .min_dimensions(size, size)
        .max_dimensions(size, size)
        .build();
    // The renderer rounds to whole modules; the vector image scales to exactly `size`.
    let drawn = svg
        .split("width=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or("0")
        .to_owned();
    let svg = svg.replacen(
        &format!("width=\"{drawn}\" height=\"{drawn}\""),
        &format!("width=\"{size}\" height=\"{size}\""),
        1,
    );
    Ok(image("image/svg+xml", svg.into_bytes()))
}

pub async fn png(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<QrQuery>,
    PathId(id): PathId<PaymentLinkId>,
) -> ApiResult<Response> {
    let (url, size) = link_url(&state, &auth, &id, &q).await?;
    Ok(image("image/png", render_png(&code(&url)?, size)?))
}

/// Draws the code into a greyscale bitmap of `size`×`size` pixels (whole pixels per module,
/// centred) and encodes it as PNG.
pub fn render_png(code: &QrCode, size: u32) -> ApiResult<Vec<u8>> {
    let modules = code.width() + 2 * QUIET_ZONE;
    let side = usize::try_from(size).map_err(ApiError::internal)?;
    let scale = (side / modules).max(1);
    let offset = side.saturating_sub(modules * scale) / 2;
    let colors = code.to_colors();
    let mut pixels = vec![255u8; side * side];
    for (i, c) in colors.iter().enumerate() {
        if *c != qrcode::Color::Dark {
            continue;
        }
        let (mx, my) = (i % code.width() + QUIET_ZONE, i / code.width() + QUIET_ZONE);
        for dy in 0..scale {
            let row = offset + my * scale + dy;
            let start = row * side + offset + mx * scale;
            if let Some(run) = pixels.get_mut(start..start + scale) {
                run.fill(0);
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, size, size);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(ApiError::internal)?;
        w.write_image_data(&pixels).map_err(ApiError::internal)?;
    }
    Ok(out)
}
