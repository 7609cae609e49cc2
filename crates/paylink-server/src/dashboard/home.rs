//! The home page: what needs attention, the mode's funnel (views, checkouts started,
//! payments) and what its payments took over 7, 30 or 90 days, per currency, as a chart a
//! day; the links that took most; and the newest payments and links.
//!
//! Every figure comes from a report route that reads a few rows a day or a few index
//! entries (`/v1/reports/payments`, `/v1/reports/attention`), never the merchant's links
//! one by one: the page costs the same at a thousand links as at a million.

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
use super::view::when;
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

/// The window's funnel, as shown: counts and the share of the step before.
pub struct FunnelView {
    pub views: i64,
    pub checkouts: i64,
    pub payments: i64,
    pub started: String,
    pub paid: String,
    pub overall: String,
}

/// `part` of `whole` to one decimal (`—` of nothing).
fn share(part: i64, whole: i64) -> String {
    if whole > 0 {
        // Shown to one decimal; the counts are exact integers.
        format!("{:.1} %", (part as f64) * 100.0 / (whole as f64))
    } else {
        "—".to_owned()
    }
}

/// Something to fix, and where.
pub struct Attention {
    pub text: String,
    pub href: String,
    pub kind: &'static str,
}

#[derive(Deserialize, Default)]
struct FunnelIn {
    views: i64,
    checkouts_started: i64,
    payments: i64,
}

#[derive(Deserialize)]
struct LinkUsesIn {
    payment_link_id: String,
    title: String,
    expires_at: Option<paylink_domain::time::Timestamp>,
    payments_limit: Option<i64>,
    payments_count: i64,
}

#[derive(Deserialize)]
struct LowStockIn {
    name: String,
    inventory_available: i64,
}

#[derive(Deserialize)]
struct EndpointIn {
    url: String,
    state: String,
}

#[derive(Deserialize)]
struct AttentionIn {
    expiring_links: Vec<LinkUsesIn>,
    selling_out_links: Vec<LinkUsesIn>,
    low_stock_products: Vec<LowStockIn>,
    webhook_endpoints: Vec<EndpointIn>,
    held_emails: i64,
}

fn attention(a: AttentionIn) -> Vec<Attention> {
    let name = |l: &LinkUsesIn| {
        if l.title.is_empty() {
            l.payment_link_id.clone()
        } else {
            format!("“{}”", l.title)
        }
    };
    let link = |l: &LinkUsesIn| format!("/dashboard/links/{}", l.payment_link_id);
    let mut items = Vec::new();
    for l in &a.expiring_links {
        items.push(Attention {
            text: format!(
                "{} expires {}",
                name(l),
                l.expires_at.map(when).unwrap_or_default()
            ),
            href: link(l),
            kind: "expiring",
        });
    }
    for l in &a.selling_out_links {
        let left = l
            .payments_limit
            .unwrap_or(0)
            .saturating_sub(l.payments_count);
        items.push(Attention {
            text: format!(
                "{} has {left} of its {} uses left",
                name(l),
                l.payments_limit.unwrap_or(0)
            ),
            href: link(l),
            kind: "selling-out",
        });
    }
    for p in &a.low_stock_products {
        items.push(Attention {
            text: format!("“{}” has {} in stock", p.name, p.inventory_available),
            href: "/dashboard/products".to_owned(),
            kind: "low-stock",
        });
    }
    for e in &a.webhook_endpoints {
        let what = if e.state == "disabled" {
            "is disabled"
        } else {
            "is failing to take events"
        };
        items.push(Attention {
            text: format!("The webhook endpoint {} {what}", e.url),
            href: "/dashboard/developers#hooks-heading".to_owned(),
            kind: "webhook",
        });
    }
    if a.held_emails > 0 {
        let n = if a.held_emails >= 100 {
            "100 or more e-mails are".to_owned()
        } else if a.held_emails == 1 {
            "1 e-mail is".to_owned()
        } else {
            format!("{} e-mails are", a.held_emails)
        };
        items.push(Attention {
            text: format!(
                "{n} held: this server has no SMTP server to send them (its operator sets one); GET /v1/emails?status=held lists them"
            ),
            href: "/dashboard/developers#keys-heading".to_owned(),
            kind: "emails",
        });
    }
    items
}

#[derive(Template)]
#[template(path = "dashboard/home.html")]
struct HomePage {
    shell: Shell,
    days: u32,
    funnel: Option<FunnelView>,
    attention: Vec<Attention>,
    /// Why what needs attention could not be read.
    attention_error: Option<String>,
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
    funnel: Option<FunnelIn>,
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

/// A link's payments a day over the last 30 days, per currency (empty when it has none or
/// the report cannot be read: the link's page shows its numbers anyway).
pub async fn link_chart(api: &Api, v: &Visit, link_id: &str) -> Vec<Takings> {
    let locale = Locale::negotiate(None, "en-US");
    let path = format!("/v1/reports/payments?days=30&payment_link_id={link_id}");
    match api.get::<Report>(&v.caller(), &path).await {
        Ok(r) => r.currencies.iter().map(|c| takings(&locale, c)).collect(),
        Err(_) => Vec::new(),
    }
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
    let (report, needs, p, l) = tokio::join!(
        api.get::<Report>(&who, &report_path),
        api.get::<AttentionIn>(&who, "/v1/reports/attention"),
        api.get::<Page<Payment>>(&who, "/v1/payments?limit=5"),
        api.get::<Page<PaymentLink>>(&who, "/v1/payment_links?limit=5"),
    );
    let (mut report, report_error) = match report {
        Ok(r) => (r, None),
        Err(r) => (Report::default(), Some(r.message)),
    };
    let (attention, attention_error) = match needs {
        Ok(a) => (attention(a), None),
        Err(r) => (Vec::new(), Some(r.message)),
    };
    let funnel = report.funnel.take().map(|f| FunnelView {
        started: share(f.checkouts_started, f.views),
        paid: share(f.payments, f.checkouts_started),
        overall: share(f.payments, f.views),
        views: f.views,
        checkouts: f.checkouts_started,
        payments: f.payments,
    });
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
            funnel,
            attention,
            attention_error,
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
