//! `GET /v1/reports/payments`: what the mode's payments took over the last `days` UTC days
//! (today included), per currency and day (every day of the window, none left out), and
//! the links that took most. Amounts are gross minor units; refunds are beside them.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use serde::Serialize;

use paylink_domain::id::{PaymentLinkId, ProductId, WebhookEndpointId};
use paylink_domain::time::Timestamp;

use super::routes::{params, reg, route, Route};
use crate::auth::Access::Scope;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::json::{ok, Query};
use crate::state::AppState;

pub(super) fn routes() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            "/v1/reports/payments",
            "Payments",
            "What payments took over the last days, per currency and day, the top links and the funnel",
            Scope("payments:read"),
            200,
            reg::<PaymentsReportOut>,
            payments_report,
        )
        .query(params::<ReportQuery>)
        .errors(404, &["resource_missing"]),
        route(
            Method::GET,
            "/v1/reports/attention",
            "Payment links",
            "What needs attention: links expiring or selling out, low stock, failing webhook endpoints, held e-mails",
            Scope("payment_links:read"),
            200,
            reg::<AttentionOut>,
            attention_report,
        ),
    ]
}

#[derive(serde::Deserialize, Default, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// How many UTC days, today included: 1–366 (default 30).
    #[param(minimum = 1, maximum = 366)]
    pub days: Option<u32>,
    /// One link's payments only (then `top_links` is that link and `funnel` is null).
    pub payment_link_id: Option<PaymentLinkId>,
}

/// The window's funnel: the mode's link views, checkouts started and payments (declined
/// ones left out). Views are counted by UTC day as the view counts are saved (every few
/// seconds), from the version that keeps them on; checkouts and payments from their rows.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FunnelOut {
    pub views: i64,
    pub checkouts_started: i64,
    pub payments: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DayOut {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    pub count: i64,
    pub amount: i64,
    pub amount_refunded: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CurrencyOut {
    pub currency: String,
    pub count: i64,
    pub amount: i64,
    pub amount_refunded: i64,
    /// Every day of the window, oldest first.
    pub daily: Vec<DayOut>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TopLinkOut {
    pub payment_link_id: PaymentLinkId,
    pub title: String,
    pub currency: String,
    pub count: i64,
    pub amount: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PaymentsReportOut {
    #[schema(value_type = String, example = "payments_report")]
    pub object: &'static str,
    pub days: u32,
    /// The window's first instant (midnight UTC).
    pub since: Timestamp,
    /// Per currency, by amount taken (largest first).
    pub currencies: Vec<CurrencyOut>,
    /// Up to five links, by amount taken.
    pub top_links: Vec<TopLinkOut>,
    /// Null for one link's report.
    pub funnel: Option<FunnelOut>,
    pub livemode: bool,
}

const DAY: i64 = 86_400;

/// `YYYY-MM-DD` of a day counted from 1970-01-01.
fn date_of(day: i64) -> String {
    Timestamp::from_unix(day.saturating_mul(DAY))
        .to_rfc3339()
        .chars()
        .take(10)
        .collect()
}

pub async fn payments_report(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let days = q.days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(ApiError::invalid(
            "parameter_invalid",
            "days",
            "`days` must be between 1 and 366",
        ));
    }
    let today = Timestamp::now().unix().div_euclid(DAY);
    let first = today - i64::from(days) + 1;
    let since = Timestamp::from_unix(first * DAY);
    let t = &auth.tenant;
    if let Some(l) = &q.payment_link_id {
        // Another merchant's link, or the other mode's, is no link here.
        state
            .store
            .get_payment_link(t, l)
            .await
            .map_err(super::not_found_as("payment link"))?;
    }
    let report = state
        .store
        .payments_report(t, since, q.payment_link_id.as_ref(), 5)
        .await?;
    let mut by_currency: BTreeMap<String, CurrencyOut> = BTreeMap::new();
    for d in &report.days {
        let c = by_currency
            .entry(d.currency.clone())
            .or_insert_with(|| CurrencyOut {
                currency: d.currency.clone(),
                count: 0,
                amount: 0,
                amount_refunded: 0,
                daily: (first..=today)
                    .map(|day| DayOut {
                        date: date_of(day),
                        count: 0,
                        amount: 0,
                        amount_refunded: 0,
                    })
                    .collect(),
            });
        let slot = usize::try_from(d.day - first).ok();
        if let Some(out) = slot.and_then(|i| c.daily.get_mut(i)) {
            out.count += d.count;
            out.amount = out.amount.saturating_add(d.amount);
            out.amount_refunded = out.amount_refunded.saturating_add(d.refunded);
        }
        c.count += d.count;
        c.amount = c.amount.saturating_add(d.amount);
        c.amount_refunded = c.amount_refunded.saturating_add(d.refunded);
    }
    let mut currencies: Vec<CurrencyOut> = by_currency.into_values().collect();
    currencies.sort_by(|a, b| b.amount.cmp(&a.amount).then(a.currency.cmp(&b.currency)));
    let mut top_links = Vec::new();
    for l in report.top_links {
        // A link deleted since is still named by its id.
        let title = match state.store.get_payment_link(t, &l.payment_link_id).await {
            Ok(v) => v.value.title,
            Err(_) => String::new(),
        };
        top_links.push(TopLinkOut {
            payment_link_id: l.payment_link_id,
            title,
            currency: l.currency,
            count: l.count,
            amount: l.amount,
        });
    }
    Ok(ok(&PaymentsReportOut {
        object: "payments_report",
        days,
        since,
        currencies,
        top_links,
        funnel: report.funnel.map(|f| FunnelOut {
            views: f.views,
            checkouts_started: f.checkouts_started,
            payments: f.payments,
        }),
        livemode: t.livemode(),
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LinkUsesOut {
    pub payment_link_id: PaymentLinkId,
    pub title: String,
    pub expires_at: Option<Timestamp>,
    pub payments_limit: Option<i64>,
    pub payments_count: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LowStockOut {
    pub product_id: ProductId,
    pub name: String,
    pub inventory_available: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EndpointTroubleOut {
    pub webhook_endpoint_id: WebhookEndpointId,
    pub url: String,
    /// `disabled` (by the merchant, or after failing for too long) or `failing`.
    pub state: String,
    pub failing_since: Option<Timestamp>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AttentionOut {
    #[schema(value_type = String, example = "attention_report")]
    pub object: &'static str,
    /// Active links expiring within 7 days, soonest first (up to five).
    pub expiring_links: Vec<LinkUsesOut>,
    /// Active links with a `payments_limit` and a fifth or less of it left (up to five).
    pub selling_out_links: Vec<LinkUsesOut>,
    /// Active products with 5 units or fewer in stock (up to five).
    pub low_stock_products: Vec<LowStockOut>,
    /// Disabled or failing webhook endpoints (up to five; empty without `webhooks:read`).
    pub webhook_endpoints: Vec<EndpointTroubleOut>,
    /// E-mails held in the outbox because no SMTP server is configured (counted up to 100).
    pub held_emails: i64,
    pub livemode: bool,
}

/// Cheap at any size: every list is read from an index of its own with a small limit, and
/// the merchant's millions of links are never summed (see docs/architecture.md).
pub async fn attention_report(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let t = &auth.tenant;
    let now = Timestamp::now();
    let horizon = Timestamp::from_unix(now.unix().saturating_add(7 * DAY));
    let a = state.store.attention(t, now, horizon, 5, 5).await?;
    let mut titles = Vec::new();
    for l in a.expiring.iter().chain(&a.selling_out) {
        let title = match state.store.get_payment_link(t, &l.payment_link_id).await {
            Ok(v) => v.value.title,
            Err(_) => String::new(),
        };
        titles.push(LinkUsesOut {
            payment_link_id: l.payment_link_id.clone(),
            title,
            expires_at: l.expires_at,
            payments_limit: l.payments_limit,
            payments_count: l.payments_count,
        });
    }
    let selling_out_links = titles.split_off(a.expiring.len());
    let mut low_stock_products = Vec::new();
    for (id, left) in a.low_stock {
        let name = match state.store.get_product(t, &id).await {
            Ok(p) => p.name,
            Err(_) => String::new(),
        };
        low_stock_products.push(LowStockOut {
            product_id: id,
            name,
            inventory_available: left,
        });
    }
    let webhook_endpoints = if auth.has_scope("webhooks:read") {
        a.endpoints
            .into_iter()
            .map(|e| EndpointTroubleOut {
                webhook_endpoint_id: e.id,
                url: e.url,
                state: if e.disabled { "disabled" } else { "failing" }.to_owned(),
                failing_since: e.failing_since,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(ok(&AttentionOut {
        object: "attention_report",
        expiring_links: titles,
        selling_out_links,
        low_stock_products,
        webhook_endpoints,
        held_emails: a.held_emails,
        livemode: t.livemode(),
    }))
}
