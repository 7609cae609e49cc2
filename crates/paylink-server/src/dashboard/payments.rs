//! Payments: the list (status and link filters, cursor pages), a payment's page (its lines,
//! customer, fields and refunds) and a refund, in full or in part.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;
use serde_json::json;

use paylink_domain::checkout::Payment;

use super::client::{Api, Page};
use super::view::{api_list, clean, money, one_of, query, when};
use super::{page, refused, see_other, Shell, Visit};
use crate::locale::Locale;

/// A payment as a row of a list.
pub struct Row {
    pub id: String,
    pub amount: String,
    pub status: &'static str,
    pub customer: String,
    pub link_id: String,
    pub created: String,
}

pub fn row(locale: &Locale, p: &Payment) -> Row {
    Row {
        id: p.id.to_string(),
        amount: money(locale, p.currency, p.amount),
        status: p.status.as_str(),
        customer: p
            .customer
            .email
            .clone()
            .or_else(|| p.customer.name.clone())
            .unwrap_or_default(),
        link_id: p.payment_link_id.to_string(),
        created: when(p.created_at),
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    status: Option<String>,
    payment_link_id: Option<String>,
    starting_after: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard/payments.html")]
struct ListPage {
    shell: Shell,
    rows: Vec<Row>,
    status: String,
    link: String,
    next: Option<String>,
    error: Option<String>,
}

const STATUSES: [&str; 4] = ["succeeded", "failed", "partially_refunded", "refunded"];

pub async fn list(
    v: Visit,
    Extension(api): Extension<Api>,
    Query(q): Query<ListQuery>,
) -> Response {
    let status = one_of(q.status.as_deref(), &STATUSES);
    let link = clean(q.payment_link_id.as_deref(), 64);
    let after = clean(q.starting_after.as_deref(), 64);
    let filters = [
        ("status", status.as_str()),
        ("payment_link_id", link.as_str()),
    ];
    let mut pairs = filters.to_vec();
    pairs.push(("starting_after", after.as_str()));
    let locale = Locale::negotiate(None, "en-US");
    let path = api_list("/v1/payments", &pairs);
    let (rows, has_more, error) = match api.get::<Page<Payment>>(&v.caller(), &path).await {
        Ok(p) => (
            p.data.iter().map(|p| row(&locale, p)).collect::<Vec<_>>(),
            p.has_more,
            None,
        ),
        Err(r) => (Vec::new(), false, Some(r.message)),
    };
    let next = rows.last().filter(|_| has_more).map(|r| {
        let mut pairs = filters.to_vec();
        pairs.push(("starting_after", r.id.as_str()));
        format!("/dashboard/payments{}", query(&pairs))
    });
    page(
        StatusCode::OK,
        &ListPage {
            shell: v.shell("Payments", "payments"),
            rows,
            status,
            link,
            next,
            error,
        },
    )
}

/// A line of a payment, as shown.
pub struct Line {
    pub name: String,
    pub quantity: u32,
    pub amount: String,
}

#[derive(Template)]
#[template(path = "dashboard/payment.html")]
struct DetailPage {
    shell: Shell,
    payment: Payment,
    amount: String,
    refunded: String,
    tax: String,
    refundable: String,
    /// The refund form's idempotency key: new with every page, so a refusal (a typo in
    /// the amount) never holds the next try, and nobody can guess it to block refunds.
    nonce: String,
    created: String,
    lines: Vec<Line>,
    may_refund: bool,
    error: Option<String>,
}

/// The payment's page; with the refusal of a refund, answered with its status.
async fn detail_page(
    v: &Visit,
    api: &Api,
    id: &str,
    error: Option<(StatusCode, String)>,
) -> Response {
    let payment = match api
        .get::<Payment>(&v.caller(), &format!("/v1/payments/{id}"))
        .await
    {
        Ok(p) => p,
        Err(r) => return refused(v, &r),
    };
    let locale = Locale::negotiate(None, "en-US");
    let m = |a| money(&locale, payment.currency, a);
    let left = payment
        .amount
        .checked_sub(payment.amount_refunded)
        .unwrap_or(payment.amount);
    let (status, error) = match error {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    page(
        status,
        &DetailPage {
            shell: v.shell(format!("Payment {id}"), "payments"),
            amount: m(payment.amount),
            refunded: m(payment.amount_refunded),
            tax: m(payment.amount_tax),
            refundable: payment.currency.major(left),
            nonce: paylink_domain::id::random_base62(),
            created: when(payment.created_at),
            lines: payment
                .line_items
                .iter()
                .map(|l| Line {
                    name: l.name.clone(),
                    quantity: l.quantity,
                    amount: m(l.amount_subtotal),
                })
                .collect(),
            may_refund: v.may("refunds:write") && left.minor() > 0,
            error,
            payment,
        },
    )
}

pub async fn detail(v: Visit, Extension(api): Extension<Api>, Path(id): Path<String>) -> Response {
    match super::id(&id) {
        Some(id) => detail_page(&v, &api, id, None).await,
        None => super::no_such(&v),
    }
}

#[derive(Deserialize)]
pub struct RefundForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    nonce: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
}

/// `POST /v1/payments/{id}/refunds` with the amount typed (in major units) and a reason.
pub async fn refund(
    v: Visit,
    Extension(api): Extension<Api>,
    Path(id): Path<String>,
    Form(f): Form<RefundForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let Some(id) = super::id(&id).map(str::to_owned) else {
        return super::no_such(&v);
    };
    let payment = match api
        .get::<Payment>(&v.caller(), &format!("/v1/payments/{id}"))
        .await
    {
        Ok(p) => p,
        Err(r) => return refused(&v, &r),
    };
    let Some(amount) = payment.currency.parse_major(f.amount.trim()) else {
        let why = format!(
            "Enter the amount to refund in {}, such as {}",
            payment.currency.code(),
            payment.currency.major(payment.amount)
        );
        return detail_page(&v, &api, &id, Some((StatusCode::UNPROCESSABLE_ENTITY, why))).await;
    };
    let reason = clean(Some(&f.reason), 50);
    let body = json!({
        "amount": amount.minor(),
        "reason": Some(reason).filter(|r| !r.is_empty()),
    });
    let nonce: String = f.nonce.chars().take(64).collect();
    let key = (!nonce.is_empty()).then_some(nonce.as_str());
    match api
        .call(
            &v.caller(),
            Method::POST,
            &format!("/v1/payments/{id}/refunds"),
            Some(&body),
            key,
        )
        .await
    {
        Ok(_) => see_other(&format!("/dashboard/payments/{id}")),
        Err(r) => detail_page(&v, &api, &id, Some((r.status, r.message))).await,
    }
}
