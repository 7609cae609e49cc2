//! `GET /v1/reports/payments`: what the mode's payments took over the last `days` UTC days
//! (today included), per currency and day (every day of the window, none left out), and
//! the links that took most. Amounts are gross minor units; refunds are beside them.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use serde::Serialize;

use paylink_domain::id::PaymentLinkId;
use paylink_domain::time::Timestamp;

use super::routes::{params, reg, route, Route};
use crate::auth::Access::Scope;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::json::{ok, Query};
use crate::state::AppState;

pub(super) fn routes() -> Vec<Route> {
    vec![route(
        Method::GET,
        "/v1/reports/payments",
        "Payments",
        "What payments took over the last days, per currency and day, and the top links",
        Scope("payments:read"),
        200,
        reg::<PaymentsReportOut>,
        payments_report,
    )
    .query(params::<ReportQuery>)]
}

#[derive(serde::Deserialize, Default, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// How many UTC days, today included: 1–366 (default 30).
    #[param(minimum = 1, maximum = 366)]
    pub days: Option<u32>,
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
    let report = state.store.payments_report(t, since, 5).await?;
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
        livemode: t.livemode(),
    }))
}
