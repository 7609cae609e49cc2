//! Payment links: the list (search, filters, cursor pages), a link's page (its URL, QR
//! code, numbers, payments and actions). The forms that create and change one are in
//! [`super::link_form`] and [`super::link_edit`].

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use paylink_domain::checkout::Payment;
use paylink_domain::link::PaymentLink;
use paylink_domain::money::Amount;

use super::client::{Api, Page, Refusal, Rows};
use super::view::{api_list, clean, money, one_of, pager, when};
use super::{page, problem, refused, see_other, Shell, Visit};
use crate::locale::Locale;
use crate::state::AppState;

/// A link as a row of the list.
pub struct Row {
    pub id: String,
    pub title: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub price: String,
    pub payments: u32,
    pub collected: String,
    pub created: String,
}

pub fn row(locale: &Locale, l: &PaymentLink) -> Row {
    let price = l.line_items.first().map_or_else(
        || match l.kind.as_str() {
            "donation" => "Donor chooses".to_owned(),
            _ => "—".to_owned(),
        },
        |first| {
            let more = if l.line_items.len() > 1 {
                format!(" + {} more", l.line_items.len() - 1)
            } else {
                String::new()
            };
            format!("{}{more}", money(locale, l.currency, first.unit_amount))
        },
    );
    Row {
        id: l.id.to_string(),
        title: l.title.clone(),
        kind: l.kind.as_str(),
        status: l.status.as_str(),
        price,
        payments: l.payments_count,
        collected: Amount::new(l.stats.amount_collected)
            .map_or_else(String::new, |a| money(locale, l.currency, a)),
        created: when(l.created_at),
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    q: Option<String>,
    status: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    starting_after: Option<String>,
    ending_before: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard/links.html")]
struct ListPage {
    shell: Shell,
    rows: Vec<Row>,
    q: String,
    status: String,
    kind: String,
    next: Option<String>,
    previous: Option<String>,
    may_create: bool,
    error: Option<String>,
}

const STATUSES: [&str; 5] = ["active", "inactive", "expired", "paid", "cancelled"];
const TYPES: [&str; 5] = ["custom", "products", "donation", "subscription", "order"];

pub async fn list(
    v: Visit,
    Extension(api): Extension<Api>,
    Query(q): Query<ListQuery>,
) -> Response {
    let search = clean(q.q.as_deref(), 100);
    let status = one_of(q.status.as_deref(), &STATUSES);
    let kind = one_of(q.kind.as_deref(), &TYPES);
    let after = clean(q.starting_after.as_deref(), 64);
    let before = clean(q.ending_before.as_deref(), 64);
    let filters = [
        ("q", search.as_str()),
        ("status", status.as_str()),
        ("type", kind.as_str()),
    ];
    let mut pairs = filters.to_vec();
    pairs.extend([
        ("starting_after", after.as_str()),
        ("ending_before", before.as_str()),
    ]);
    let path = api_list("/v1/payment_links", &pairs);
    let locale = Locale::negotiate(None, "en-US");
    let Rows {
        rows,
        has_more,
        error,
        ..
    } = api
        .rows(&v.caller(), &path, |l: &PaymentLink| row(&locale, l))
        .await;
    let (next, previous) = pager(
        "/dashboard/links",
        &filters,
        (
            rows.first().map(|r| r.id.as_str()),
            rows.last().map(|r| r.id.as_str()),
        ),
        (&after, &before),
        has_more,
    );
    page(
        StatusCode::OK,
        &ListPage {
            shell: v.shell("Payment links", "links"),
            may_create: v.may("payment_links:write"),
            rows,
            q: search,
            status,
            kind,
            next,
            previous,
            error,
        },
    )
}

#[derive(Template)]
#[template(path = "dashboard/link.html")]
struct DetailPage {
    shell: Shell,
    link: PaymentLink,
    price: String,
    collected: String,
    conversion: String,
    created: String,
    payments: Vec<super::payments::Row>,
    may_write: bool,
    sent: Option<u32>,
    send_to: String,
    send_message: String,
    /// The send form's idempotency key.
    nonce: String,
    error: Option<String>,
    /// Its payments a day over 30 days, per currency (`home::link_chart`).
    chart: Vec<super::home::Takings>,
    /// A recurring link's subscriptions: how many are active and in their trial.
    subscriptions: Option<(String, String)>,
    /// How often a recurring link's price recurs (`every month`).
    cadence: String,
}

#[derive(Deserialize, Default)]
pub struct DetailQuery {
    /// How many addresses the link was just sent to (anything else is ignored, not refused).
    sent: Option<String>,
}

pub async fn detail(
    v: Visit,
    Extension(api): Extension<Api>,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    let Some(id) = super::id(&id).map(str::to_owned) else {
        return super::no_such(&v);
    };
    let sent = q
        .sent
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| (1..=50).contains(n));
    let notice = Notice {
        sent,
        ..Notice::default()
    };
    detail_page(&v, &api, &id, notice).await
}

/// What the link's page says above its sections: that it was just sent by e-mail, or why a
/// form on it was refused.
#[derive(Default)]
pub struct Notice {
    pub sent: Option<u32>,
    pub error: Option<Refusal>,
    /// The send form as typed, when it was refused.
    pub to: String,
    pub message: String,
}

/// The link's page.
pub(super) async fn detail_page(v: &Visit, api: &Api, id: &str, notice: Notice) -> Response {
    let link = match api
        .get::<PaymentLink>(&v.caller(), &format!("/v1/payment_links/{id}"))
        .await
    {
        Ok(l) => l,
        Err(r) => return refused(v, &r),
    };
    let locale = Locale::negotiate(None, "en-US");
    let payments = api
        .get::<Page<Payment>>(
            &v.caller(),
            &format!("/v1/payment_links/{id}/payments?limit=10"),
        )
        .await
        .map(|p| {
            p.data
                .iter()
                .map(|p| super::payments::row(&locale, p))
                .collect()
        })
        .unwrap_or_default();
    let chart = super::home::link_chart(api, v, id).await;
    let subscriptions = match link.subscription {
        Some(_) => super::subscriptions::counts(v, api, id).await,
        None => None,
    };
    let cadence = link.subscription.map_or_else(String::new, |t| {
        super::subscriptions::cadence(t.interval, t.interval_count)
    });
    let r = row(&locale, &link);
    let s = &link.stats;
    let conversion = if s.views > 0 {
        // Shown to one decimal; the counts are exact integers.
        format!(
            "{:.1} %",
            (s.payments_count as f64) * 100.0 / (s.views as f64)
        )
    } else {
        "—".to_owned()
    };
    page(
        notice.error.as_ref().map_or(StatusCode::OK, |r| r.status),
        &DetailPage {
            shell: v.shell(link.title.clone(), "links"),
            sent: notice.sent,
            send_to: notice.to,
            send_message: notice.message,
            nonce: paylink_domain::id::random_base62(),
            error: notice.error.map(|r| r.message),
            may_write: v.may("payment_links:write"),
            price: r.price,
            collected: r.collected,
            created: r.created,
            conversion,
            payments,
            chart,
            subscriptions,
            cadence,
            link,
        },
    )
}

/// The link's QR code (SVG), through the API as the person (test or live alike).
pub async fn qr(v: Visit, Extension(api): Extension<Api>, Path(id): Path<String>) -> Response {
    let Some(id) = super::id(&id).map(str::to_owned) else {
        return super::no_such(&v);
    };
    match api
        .raw(&v.caller(), &format!("/v1/payment_links/{id}/qr.svg"))
        .await
    {
        Ok(svg) => {
            let mut res = svg.into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("image/svg+xml"),
            );
            crate::checkout::furniture::secure(res, None, true)
        }
        Err(r) => refused(&v, &r),
    }
}

/// Activate, deactivate, cancel or delete: the API's own rules and messages.
pub async fn act(
    v: Visit,
    Extension(api): Extension<Api>,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<super::TokenForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let Some(id) = super::id(&id).map(str::to_owned) else {
        return super::no_such(&v);
    };
    let (method, path) = match action.as_str() {
        "activate" | "deactivate" | "cancel" => {
            (Method::POST, format!("/v1/payment_links/{id}/{action}"))
        }
        "delete" => (Method::DELETE, format!("/v1/payment_links/{id}")),
        _ => return problem(&v, StatusCode::NOT_FOUND, "There is no such action."),
    };
    match api.call(&v.caller(), method, &path, None, None).await {
        Ok(_) if action == "delete" => see_other("/dashboard/links"),
        Ok(_) => see_other(&format!("/dashboard/links/{id}")),
        Err(r) => refused(&v, &r),
    }
}

pub(super) async fn default_currency(state: &AppState, v: &Visit) -> String {
    state.public_settings(&v.merchant_id).await.map_or_else(
        |_| "USD".to_owned(),
        |s| s.default_currency.code().to_owned(),
    )
}
