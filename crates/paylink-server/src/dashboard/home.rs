//! The home page: what the mode's payments took over 7, 30 or 90 days, per currency, as a
//! chart a day; the links that took most; and the newest payments and links.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;

use paylink_domain::checkout::Payment;
use paylink_domain::link::PaymentLink;
use paylink_domain::money::{Amount, Currency};

use super::chart::{bars, Bar};
use super::client::{Api, Page};
use super::{links, page, payments, Shell, Visit};
use crate::locale::Locale;

/// A currency's takings over the window.
pub struct Takings {
    pub currency: String,
    /// The window's first and last days, under the chart.
    pub first: String,
    pub last: String,
    pub total: String,
    pub count: i64,
    pub refunded: String,
    pub chart: String,
    /// The chart's days as text (date, amount, payments), for whoever cannot see it.
    pub days: Vec<(String, String, i64)>,
}

pub struct TopLink {
    pub id: String,
    pub title: String,
    pub amount: String,
    pub count: i64,
}

#[derive(Template)]
#[template(path = "dashboard/home.html")]
struct HomePage {
    shell: Shell,
    days: u32,
    takings: Vec<Takings>,
    /// Why the takings could not be read (shown instead of "no payments").
    report_error: Option<String>,
    top: Vec<TopLink>,
    payments: Vec<payments::Row>,
    links: Vec<links::Row>,
    may_create: bool,
}

#[derive(Deserialize, Default)]
pub struct HomeQuery {
    days: Option<String>,
}

/// `minor` units of `code` as the locale writes them (a code we do not know, or a sum past
/// what an amount holds, as plain digits and the code).
fn money_of(locale: &Locale, code: &str, minor: i64) -> String {
    match (Currency::parse(code), Amount::new(minor)) {
        (Some(c), Some(a)) => locale.money(c, a),
        _ => format!("{minor} {code}"),
    }
}

/// The report as the API answers it (the fields this page shows).
#[derive(Deserialize, Default)]
struct Report {
    currencies: Vec<CurrencyIn>,
    top_links: Vec<TopIn>,
}

#[derive(Deserialize)]
struct CurrencyIn {
    currency: String,
    count: i64,
    amount: i64,
    amount_refunded: i64,
    daily: Vec<DayIn>,
}

#[derive(Deserialize)]
struct DayIn {
    date: String,
    count: i64,
    amount: i64,
}

#[derive(Deserialize)]
struct TopIn {
    payment_link_id: String,
    title: String,
    currency: String,
    count: i64,
    amount: i64,
}

fn takings(locale: &Locale, c: &CurrencyIn) -> Takings {
    let code = c.currency.as_str();
    let daily: Vec<Bar> = c
        .daily
        .iter()
        .map(|d| Bar {
            label: format!(
                "{}: {} ({} payment{})",
                d.date,
                money_of(locale, code, d.amount),
                d.count,
                if d.count == 1 { "" } else { "s" }
            ),
            value: d.amount,
        })
        .collect();
    let total = money_of(locale, code, c.amount);
    let day = |d: Option<&DayIn>| d.map(|d| d.date.clone()).unwrap_or_default();
    let days = c
        .daily
        .iter()
        .filter(|d| d.count > 0)
        .map(|d| (d.date.clone(), money_of(locale, code, d.amount), d.count))
        .collect();
    Takings {
        currency: code.to_owned(),
        first: day(c.daily.first()),
        last: day(c.daily.last()),
        chart: bars(&format!("Takings in {code} a day; {total} in all"), &daily),
        total,
        count: c.count,
        refunded: money_of(locale, code, c.amount_refunded),
        days,
    }
}

pub async fn home(
    v: Visit,
    Extension(api): Extension<Api>,
    Query(q): Query<HomeQuery>,
) -> Response {
    let days: u32 = match q.days.as_deref() {
        Some("7") => 7,
        Some("90") => 90,
        _ => 30,
    };
    let locale = Locale::negotiate(None, "en-US");
    let who = v.caller();
    let report_path = format!("/v1/reports/payments?days={days}");
    let (report, p, l) = tokio::join!(
        api.get::<Report>(&who, &report_path),
        api.get::<Page<Payment>>(&who, "/v1/payments?limit=5"),
        api.get::<Page<PaymentLink>>(&who, "/v1/payment_links?limit=5"),
    );
    let (report, report_error) = match report {
        Ok(r) => (r, None),
        Err(r) => (Report::default(), Some(r.message)),
    };
    let takings = report
        .currencies
        .iter()
        .map(|c| takings(&locale, c))
        .collect();
    let top = report
        .top_links
        .into_iter()
        .map(|l| TopLink {
            amount: money_of(&locale, &l.currency, l.amount),
            id: l.payment_link_id,
            title: l.title,
            count: l.count,
        })
        .collect();
    page(
        StatusCode::OK,
        &HomePage {
            shell: v.shell("Home", "home"),
            days,
            takings,
            report_error,
            top,
            payments: p
                .map(|p| p.data.iter().map(|x| payments::row(&locale, x)).collect())
                .unwrap_or_default(),
            links: l
                .map(|l| l.data.iter().map(|x| links::row(&locale, x)).collect())
                .unwrap_or_default(),
            may_create: v.may("payment_links:write"),
        },
    )
}
