//! Payments: the list (filters by status, link, customer and dates; cursor pages), a
//! payment's page (its lines, customer, fields and refunds), a refund in full or in part,
//! and the receipt sent again.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;
use serde_json::json;

use paylink_domain::checkout::Payment;
use paylink_domain::subscription::Subscription;

use super::client::{Api, Rows};
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
    customer: Option<String>,
    from: Option<String>,
    to: Option<String>,
    starting_after: Option<String>,
}

/// `YYYY-MM-DD` as typed in a date field, or `""` (a date the field cannot hold is no
/// filter, as an unknown status is none).
fn date(s: Option<&str>) -> String {
    let d = clean(s, 10);
    let ok = d.len() == 10
        && d.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if ok {
        d
    } else {
        String::new()
    }
}

#[derive(Template)]
#[template(path = "dashboard/payments.html")]
struct ListPage {
    shell: Shell,
    rows: Vec<Row>,
    status: String,
    link: String,
    customer: String,
    from: String,
    to: String,
    next: Option<String>,
    error: Option<String>,
    /// The filter the API's refusal names (its field is marked invalid).
    error_param: String,
}

const STATUSES: [&str; 4] = ["succeeded", "failed", "partially_refunded", "refunded"];

pub async fn list(
    v: Visit,
    Extension(api): Extension<Api>,
    Query(q): Query<ListQuery>,
) -> Response {
    let status = one_of(q.status.as_deref(), &STATUSES);
    let link = clean(q.payment_link_id.as_deref(), 64);
    let customer = clean(q.customer.as_deref(), 254);
    let (from, to) = (date(q.from.as_deref()), date(q.to.as_deref()));
    let after = clean(q.starting_after.as_deref(), 64);
    let filters = [
        ("status", status.as_str()),
        ("payment_link_id", link.as_str()),
        ("customer", customer.as_str()),
        ("from", from.as_str()),
        ("to", to.as_str()),
    ];
    // The dates are whole UTC days: from the first's midnight to the last's end.
    let gte = if from.is_empty() {
        String::new()
    } else {
        format!("{from}T00:00:00Z")
    };
    let lte = if to.is_empty() {
        String::new()
    } else {
        format!("{to}T23:59:59Z")
    };
    let mut pairs = vec![
        ("status", status.as_str()),
        ("payment_link_id", link.as_str()),
        ("customer", customer.as_str()),
        ("created[gte]", gte.as_str()),
        ("created[lte]", lte.as_str()),
    ];
    pairs.push(("starting_after", after.as_str()));
    let locale = Locale::negotiate(None, "en-US");
    let path = api_list("/v1/payments", &pairs);
    let Rows {
        rows,
        has_more,
        error,
        error_param,
    } = api
        .rows(&v.caller(), &path, |p: &Payment| row(&locale, p))
        .await;
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
            customer,
            from,
            to,
            next,
            error,
            error_param,
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
    /// What is left to refund, as money.
    left: String,
    /// The receipt form's idempotency key (one per page shown, like the refund's).
    receipt_nonce: String,
    /// The refund form's idempotency key: new with every page, so a refusal (a typo in
    /// the amount) never holds the next try, and nobody can guess it to block refunds.
    nonce: String,
    created: String,
    lines: Vec<Line>,
    may_refund: bool,
    /// Whether the receipt can be sent again: a payment the person may write, paid.
    may_resend: bool,
    /// What was said after the receipt was queued (or held).
    sent: Option<String>,
    error: Option<String>,
    /// The subscription the payment belongs to, and which of its payments it is
    /// (`renewal`, `first payment`; empty when the subscription could not be read).
    subscription: Option<(String, &'static str)>,
}

/// The payment's page; with the refusal of a refund, answered with its status.
async fn detail_page(
    v: &Visit,
    api: &Api,
    id: &str,
    error: Option<(StatusCode, String)>,
    sent: Option<String>,
) -> Response {
    let payment = match api
        .get::<Payment>(&v.caller(), &format!("/v1/payments/{id}"))
        .await
    {
        Ok(p) => p,
        Err(r) => return refused(v, &r),
    };
    let subscription = match &payment.subscription_id {
        Some(sub) => {
            let what = api
                .get::<Subscription>(&v.caller(), &format!("/v1/subscriptions/{sub}"))
                .await
                .map_or("", |s| {
                    if super::subscriptions::is_renewal(payment.created_at, &s) {
                        "renewal"
                    } else {
                        "first payment"
                    }
                });
            Some((sub.to_string(), what))
        }
        None => None,
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
            left: m(left),
            receipt_nonce: paylink_domain::id::random_base62(),
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
            may_resend: v.may("payments:write") && payment.status.as_str() != "failed",
            sent,
            error,
            subscription,
            payment,
        },
    )
}

#[derive(Deserialize, Default)]
pub struct DetailQuery {
    sent: Option<String>,
}

pub async fn detail(
    v: Visit,
    Extension(api): Extension<Api>,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    match super::id(&id) {
        Some(id) => {
            let sent = q.sent.as_deref().map(|s| match s {
                "held" => {
                    "The receipt is held in the outbox: this server has no SMTP server to send it."
                        .to_owned()
                }
                _ => "The receipt is on its way.".to_owned(),
            });
            detail_page(&v, &api, id, None, sent).await
        }
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
        return detail_page(
            &v,
            &api,
            &id,
            Some((StatusCode::UNPROCESSABLE_ENTITY, why)),
            None,
        )
        .await;
    };
    let reason = clean(Some(&f.reason), 50);
    let body = json!({
        "amount": amount.minor(),
        "reason": Some(reason).filter(|r| !r.is_empty()),
    });
    let nonce = super::forms::nonce(&f.nonce);
    let key = Some(nonce.as_str());
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
        Err(r) => detail_page(&v, &api, &id, Some((r.status, r.message)), None).await,
    }
}

#[derive(Deserialize)]
pub struct ResendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    nonce: String,
}

/// `POST /v1/payments/{id}/receipt/send` to the e-mail given at checkout; the form's nonce
/// is the idempotency key, so a double click sends one e-mail.
pub async fn resend_receipt(
    v: Visit,
    Extension(api): Extension<Api>,
    Path(id): Path<String>,
    Form(f): Form<ResendForm>,
) -> Response {
    if let Some(r) = v.forged(&f.csrf) {
        return r;
    }
    let Some(id) = super::id(&id).map(str::to_owned) else {
        return super::no_such(&v);
    };
    let nonce = super::forms::nonce(&f.nonce);
    let key = Some(nonce.as_str());
    match api
        .call(
            &v.caller(),
            Method::POST,
            &format!("/v1/payments/{id}/receipt/send"),
            Some(&json!({})),
            key,
        )
        .await
    {
        Ok(answer) => {
            let configured = answer
                .get("email_configured")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(true);
            let sent = if configured { "queued" } else { "held" };
            see_other(&format!("/dashboard/payments/{id}?sent={sent}"))
        }
        Err(r) => detail_page(&v, &api, &id, Some((r.status, r.message)), None).await,
    }
}
