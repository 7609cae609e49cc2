//! The customer side: public JSON, hosted pages, checkout sessions and payment.

pub mod api;
pub mod pages;
pub mod pay;

use axum::http::StatusCode;
use serde::Serialize;

use paylink_domain::link::{LinkStatus, PaymentLink};
use paylink_domain::settings::MerchantSettings;
use paylink_domain::time::Timestamp;
use paylink_store::{PublicLink, StockLevel};

use crate::error::ApiError;
use crate::state::AppState;

/// Why a link cannot be paid now: the 410 code and what the customer is told.
pub fn unavailable(p: &PublicLink, now: Timestamp, stock: &[StockLevel]) -> Option<&'static str> {
    let link = &p.link.value;
    if p.deleted {
        return Some("link_inactive");
    }
    match link.status_at(now) {
        LinkStatus::Inactive => return Some("link_inactive"),
        LinkStatus::Expired => return Some("link_expired"),
        LinkStatus::Paid => return Some("link_paid"),
        LinkStatus::Cancelled => return Some("link_cancelled"),
        LinkStatus::Active => {}
    }
    if link.opens_at.is_some_and(|o| o > now) {
        return Some("link_not_open");
    }
    if sold_out(link, stock) {
        return Some("sold_out");
    }
    None
}

/// Sold out: a line that must be bought cannot be, or every line is out of stock.
fn sold_out(link: &PaymentLink, stock: &[StockLevel]) -> bool {
    if stock.is_empty() {
        return false;
    }
    let units = |s: &StockLevel| s.available.map(|a| a + s.held);
    let required_missing = link.line_items.iter().zip(stock).any(|(l, s)| {
        let min = match l.adjustable_quantity {
            Some(a) if a.enabled => a.minimum,
            _ => l.quantity,
        };
        min > 0 && units(s).is_some_and(|u| u < i64::from(min))
    });
    let all_out = stock.iter().all(|s| units(s) == Some(0));
    required_missing || all_out
}

pub fn gone(code: &'static str, link: Option<&PaymentLink>) -> ApiError {
    let default = match code {
        "link_expired" => "This payment link has expired",
        "link_paid" => "This payment link has already been paid",
        "link_cancelled" => "This payment link was cancelled",
        "link_not_open" => "This payment link is not open yet",
        "sold_out" => "Sold out",
        _ => "This payment link is no longer active",
    };
    let message = link
        .and_then(|l| l.inactive_message.clone())
        .unwrap_or_else(|| default.to_owned());
    ApiError::new(StatusCode::GONE, "gone", code, message)
}

/// Stock levels aligned with the link's lines (`available: None` for untracked lines).
pub async fn line_stock(state: &AppState, p: &PublicLink) -> Result<Vec<StockLevel>, ApiError> {
    let ids: Vec<_> = p
        .link
        .value
        .line_items
        .iter()
        .filter_map(|l| l.product_id.clone())
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let levels = state.store.stock_levels(&p.tenant, &ids).await?;
    Ok(p.link
        .value
        .line_items
        .iter()
        .map(|l| {
            l.product_id
                .as_ref()
                .and_then(|id| levels.iter().find(|(p, _)| p == id).map(|(_, s)| *s))
                .unwrap_or(StockLevel {
                    available: None,
                    held: 0,
                })
        })
        .collect())
}

/// What the customer sees of the merchant.
#[derive(Serialize, utoipa::ToSchema, Clone)]
pub struct MerchantView {
    pub name: String,
    pub brand_color: Option<String>,
    pub logo_url: Option<String>,
    pub support_email: Option<String>,
}

impl From<&MerchantSettings> for MerchantView {
    fn from(s: &MerchantSettings) -> Self {
        Self {
            name: s.business_name.clone(),
            brand_color: s.brand_color.clone(),
            logo_url: s.logo_url.clone(),
            support_email: s.support_email.clone(),
        }
    }
}

/// A link with the stock of its lines, as one request sees them.
pub struct LinkView {
    pub p: PublicLink,
    /// Aligned with the link's lines.
    pub stock: Vec<StockLevel>,
}

impl LinkView {
    /// Reads the link and its stock from the database.
    pub async fn load(state: &AppState, slug: &str) -> Result<Self, ApiError> {
        let p = find(state, slug).await?;
        let stock = line_stock(state, &p).await?;
        Ok(Self { p, stock })
    }
}

/// Looks a link up by slug; unknown slugs are 404.
pub async fn find(state: &AppState, slug: &str) -> Result<PublicLink, ApiError> {
    if slug.len() > 64 {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "link_not_found",
            "No such payment link",
        ));
    }
    state.store.find_link_by_slug(slug).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "link_not_found",
            "No such payment link",
        )
    })
}
