//! The customer side: public JSON, hosted pages, checkout sessions and payment.

pub mod api;
mod fields;
pub mod form;
pub mod furniture;
pub mod pages;
pub mod pay;
pub mod receipt_page;
pub mod session_pages;

use axum::http::StatusCode;
use serde::Serialize;

use std::collections::HashMap;

use paylink_domain::catalog::{OrderStatus, TaxRateSnapshot};
use paylink_domain::id::TaxRateId;
use paylink_domain::link::{LinkStatus, PaymentLink, Prefill};
use paylink_domain::settings::MerchantSettings;
use paylink_domain::time::Timestamp;
use paylink_store::{PublicLink, StockLevel};

use crate::error::ApiError;
use crate::state::AppState;

/// Why a link cannot be paid now: the 410 code and what the customer is told.
fn unavailable(
    p: &PublicLink,
    order: Option<OrderStatus>,
    now: Timestamp,
    stock: &[StockLevel],
) -> Option<&'static str> {
    let link = &p.link.value;
    if p.deleted {
        return Some("link_inactive");
    }
    // Whichever of its links paid it, an order is paid once.
    match order {
        Some(OrderStatus::Paid) => return Some("order_paid"),
        Some(OrderStatus::Canceled) => return Some("order_cancelled"),
        _ => {}
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
        "order_paid" => "This order has already been paid",
        "order_cancelled" => "This order was cancelled",
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

/// A link with the stock of its lines and its order's status, as one request sees them.
pub struct LinkView {
    pub p: PublicLink,
    /// Aligned with the link's lines.
    pub stock: Vec<StockLevel>,
    /// The status of the order an `order` link pays.
    pub order: Option<OrderStatus>,
    /// What the page fills in: the link's `prefill`, completed from its customer's.
    pub prefill: Option<Prefill>,
}

impl LinkView {
    /// Reads the link, its stock and its order from the database.
    pub async fn load(state: &AppState, slug: &str) -> Result<Self, ApiError> {
        let mut p = find(state, slug).await?;
        if p.link.value.all_products && !p.deleted {
            p.link.value.line_items = storefront(state, &p).await?;
        }
        let stock = line_stock(state, &p).await?;
        let order = match &p.link.value.order_id {
            Some(id) => match state.store.get_order(&p.tenant, id).await {
                Ok(o) => Some(o.status),
                Err(paylink_store::StoreError::NotFound) => Some(OrderStatus::Canceled),
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let prefill = prefill(state, &p).await?;
        Ok(Self {
            p,
            stock,
            order,
            prefill,
        })
    }

    /// Why the link cannot be paid at `now`, as the 410 code (see [`gone`]).
    pub fn unavailable(&self, now: Timestamp) -> Option<&'static str> {
        unavailable(&self.p, self.order, now, &self.stock)
    }
}

/// A storefront's (`all_products`) lines as the catalog is now: its active products in
/// the link's currency at their current prices, oldest first (the first 100), taxed with
/// the link's rate or else each product's own. A product whose own rate was deactivated
/// or removed is left out rather than shown untaxed. A checkout keeps the lines it started
/// with.
async fn storefront(
    state: &AppState,
    p: &PublicLink,
) -> Result<Vec<paylink_domain::link::LinkLineItem>, ApiError> {
    let link = &p.link.value;
    let page = paylink_store::Page {
        limit: 100,
        ..Default::default()
    };
    let active = paylink_store::ProductFilter { active: Some(true) };
    let products = state.store.list_products(&p.tenant, &active, &page).await?;
    // The link's own rate, when it has one: every line then carries it.
    let link_rate = link.tax.tax_rate_id.as_ref().and_then(|id| {
        link.line_items
            .iter()
            .find_map(|l| l.tax_rate.clone().filter(|r| &r.id == id))
    });
    let mut rates: HashMap<TaxRateId, Option<TaxRateSnapshot>> = HashMap::new();
    let mut lines = Vec::new();
    for prod in products.data.into_iter().rev() {
        if prod.currency != link.currency {
            continue;
        }
        let rate = match (&link_rate, &prod.tax_rate_id) {
            _ if !link.tax.collect => None,
            (Some(r), _) => Some(r.clone()),
            (None, None) => None,
            (None, Some(id)) => {
                if !rates.contains_key(id) {
                    let r = match state.store.get_tax_rate(&p.tenant, id).await {
                        Ok(r) if r.active => Some(TaxRateSnapshot::from(&r)),
                        Ok(_) | Err(paylink_store::StoreError::NotFound) => None,
                        Err(e) => return Err(e.into()),
                    };
                    rates.insert(id.clone(), r);
                }
                match rates.get(id).cloned().flatten() {
                    Some(r) => Some(r),
                    None => continue,
                }
            }
        };
        lines.push(crate::api::link_pricing::storefront_line(prod, rate));
    }
    Ok(lines)
}

/// What a storefront's page was priced from (its products, prices and rates), sent back
/// with its form: a submit priced from other lines than the customer saw is refused.
pub fn catalog_fingerprint(link: &PaymentLink) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for l in &link.line_items {
        let id = l.product_id.as_ref().map_or("", |p| p.as_str());
        let rate = l.tax_rate.as_ref().map(|r| r.percentage.to_string());
        h.update(format!(
            "{id}:{}:{};",
            l.unit_amount.minor(),
            rate.unwrap_or_default()
        ));
    }
    hex::encode(h.finalize().get(..12).unwrap_or_default())
}

/// The link's `prefill`, each field it leaves empty taken from the link's customer (an
/// order link's is its order's): the customer is never asked again what the merchant knows.
async fn prefill(state: &AppState, p: &PublicLink) -> Result<Option<Prefill>, ApiError> {
    let link = &p.link.value;
    let given = link.prefill.clone().unwrap_or_default();
    let customer = match &link.customer_id {
        Some(id) if given.email.is_none() || given.name.is_none() => {
            match state.store.get_customer(&p.tenant, id).await {
                Ok(c) => Some(c),
                Err(paylink_store::StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            }
        }
        _ => None,
    };
    let merged = Prefill {
        email: given
            .email
            .or_else(|| customer.as_ref().and_then(|c| c.email.clone())),
        name: given
            .name
            .or_else(|| customer.as_ref().and_then(|c| c.name.clone())),
    };
    Ok((merged.email.is_some() || merged.name.is_some()).then_some(merged))
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
