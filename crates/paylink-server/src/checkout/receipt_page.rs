//! The receipt page (`/r/{payment_id}?t={token}`): printable, shown to whoever holds the
//! receipt's token.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use paylink_domain::checkout::PaymentStatus;
use paylink_domain::id::PaymentId;
use paylink_domain::money::{Amount, Currency};

use super::furniture::{gone_page, Shell, When};
use crate::error::ApiError;
use crate::locale::{accept_language, Locale};
use crate::state::AppState;

// ---- receipts ------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "receipt.html")]
struct ReceiptPage {
    shell: Shell,
    confirmation: Option<String>,
    /// The link's title: what was bought.
    title: Option<String>,
    number: String,
    status: String,
    status_class: String,
    date: When,
    /// `Paid with`, or `Card` for a trial's checkout (nothing was paid).
    method_label: &'static str,
    method: String,
    email: Option<String>,
    lines: Vec<(String, u32, String)>,
    /// Shown when tax is added to it.
    subtotal: Option<String>,
    tax: Option<String>,
    total: String,
    refunded: Option<String>,
    /// `(label, answer)` of the link's custom fields.
    custom_fields: Vec<(String, String)>,
    /// The shipping address, one line each.
    shipping: Vec<String>,
    /// A subscription's payment: what comes next (`Then $15.00 every month from` a day).
    next: Option<(String, Option<When>, String)>,
}

#[derive(serde::Deserialize)]
pub struct TokenQuery {
    t: Option<String>,
}

pub async fn receipt(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response, ApiError> {
    let Some(id) = PaymentId::parse(&id) else {
        return Ok(receipt_missing());
    };
    let Ok((tenant, p, token)) = state.store.get_payment_public(&id).await else {
        return Ok(receipt_missing());
    };
    let given = q.t.unwrap_or_default();
    let ok = token.as_deref().is_some_and(|t| {
        t.len() == given.len()
            && t.bytes()
                .zip(given.bytes())
                .fold(0u8, |a, (x, y)| a | (x ^ y))
                == 0
    });
    if !ok {
        return Ok(receipt_missing());
    }
    let settings = state.public_settings(tenant.merchant_id()).await?;
    let link = state
        .store
        .get_payment_link(&tenant, &p.payment_link_id)
        .await
        .ok()
        .map(|v| v.value);
    let cur: Currency = p.currency;
    let locale = Locale::negotiate(
        accept_language(&headers).as_deref(),
        &settings.default_locale,
    );
    let money = |a: Amount| locale.money(cur, a);
    let method = match &p.payment_method.card {
        Some(c) => format!(
            "{} •••• {} (exp. {:02}/{})",
            capitalise(&c.brand),
            c.last4,
            c.exp_month,
            c.exp_year % 100
        ),
        None => "Mobile wallet".to_owned(),
    };
    let title = link.as_ref().map(|l| l.title.clone());
    let subtotal = p
        .line_items
        .iter()
        .try_fold(Amount::ZERO, |a, l| a.checked_add(l.amount_subtotal))
        .filter(|s| p.amount_tax > Amount::ZERO && *s != p.amount);
    let next = match &p.subscription_id {
        Some(id) => match state.store.get_subscription_public(id).await {
            Ok(r) if r.tenant == tenant => crate::subscriptions::mail::next_after(&r, &p, &locale)
                .map(|n| (n.before, n.at.map(When::date), n.after)),
            _ => None,
        },
        None => None,
    };
    // A trial's checkout records a payment of nothing: it started the trial.
    let trial = p.subscription_id.is_some() && p.amount == Amount::ZERO;
    let page = ReceiptPage {
        next,
        shell: Shell::of(&settings, p.livemode),
        title,
        confirmation: link.and_then(|l| l.confirmation_message).or_else(|| {
            Some(match trial {
                true => "Thank you! Your free trial has started.".into(),
                false => "Thank you! Your payment was received.".into(),
            })
        }),
        number: p.receipt_number.clone().unwrap_or_default(),
        status: match p.status {
            PaymentStatus::Succeeded if trial => "Trial started",
            PaymentStatus::Succeeded => "Paid",
            PaymentStatus::PartiallyRefunded => "Partially refunded",
            PaymentStatus::Refunded => "Refunded",
            PaymentStatus::Failed => "Failed",
        }
        .to_owned(),
        status_class: p.status.as_str().to_owned(),
        date: When::of(p.created_at),
        method_label: if trial { "Card" } else { "Paid with" },
        method,
        email: p.customer.email.clone(),
        lines: p
            .line_items
            .iter()
            .map(|l| (l.name.clone(), l.quantity, money(l.amount_subtotal)))
            .collect(),
        subtotal: subtotal.map(money),
        tax: (p.amount_tax > Amount::ZERO).then(|| money(p.amount_tax)),
        total: money(p.amount),
        refunded: (p.amount_refunded > Amount::ZERO).then(|| money(p.amount_refunded)),
        custom_fields: p
            .custom_fields
            .iter()
            .map(|f| (f.label.clone(), f.value.clone()))
            .collect(),
        shipping: p
            .customer
            .shipping_address
            .as_ref()
            .map(|a| address_lines(a, &locale))
            .unwrap_or_default(),
    };
    Ok(page.shell.respond(StatusCode::OK, page.render()))
}

/// An address as lines to print: street, city with postal code, country by name.
fn address_lines(a: &paylink_domain::catalog::Address, locale: &Locale) -> Vec<String> {
    let place = [a.postal_code.as_deref(), a.city.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let country = a.country.as_deref().map(|code| {
        locale
            .countries()
            .iter()
            .find(|(c, _)| c == code)
            .map_or_else(|| code.to_owned(), |(_, name)| name.clone())
    });
    [
        a.line1.clone(),
        a.line2.clone(),
        Some(place),
        a.state.clone(),
        country,
    ]
    .into_iter()
    .flatten()
    .filter(|l| !l.is_empty())
    .collect()
}

fn receipt_missing() -> Response {
    gone_page(
        StatusCode::NOT_FOUND,
        Shell::plain(),
        "Receipt not found",
        "Check the link in your e-mail.",
    )
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
