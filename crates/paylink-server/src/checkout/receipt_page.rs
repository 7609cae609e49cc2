//! The receipt page (`/r/{payment_id}?t={token}`): printable, shown to whoever holds the
//! receipt's token.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use paylink_domain::checkout::PaymentStatus;
use paylink_domain::id::PaymentId;
use paylink_domain::money::{Amount, Currency};

use super::pages::{brand, gone_page, html, secure};
use crate::error::ApiError;
use crate::state::AppState;

// ---- receipts ------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "receipt.html")]
struct ReceiptPage {
    brand_css: String,
    test_mode: bool,
    merchant: String,
    logo_url: Option<String>,
    confirmation: Option<String>,
    number: String,
    status: String,
    status_class: String,
    date: String,
    method: String,
    email: Option<String>,
    lines: Vec<(String, u32, String)>,
    tax: Option<String>,
    total: String,
    refunded: Option<String>,
    support_email: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct TokenQuery {
    t: Option<String>,
}

pub async fn receipt(
    State(state): State<AppState>,
    Path(id): Path<String>,
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
    let settings = state.public_settings(&tenant.merchant_id).await?;
    let link = state
        .store
        .get_payment_link(&tenant, &p.payment_link_id)
        .await
        .ok()
        .map(|v| v.value);
    let cur: Currency = p.currency;
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
    let (brand_css, style_hash) = brand(&settings);
    let page = ReceiptPage {
        brand_css,
        test_mode: !p.livemode,
        merchant: settings.business_name.clone(),
        logo_url: settings.logo_url.clone(),
        confirmation: link
            .and_then(|l| l.confirmation_message)
            .or_else(|| Some("Thank you! Your payment was received.".into())),
        number: p.receipt_number.clone().unwrap_or_default(),
        status: match p.status {
            PaymentStatus::Succeeded => "Paid",
            PaymentStatus::PartiallyRefunded => "Partially refunded",
            PaymentStatus::Refunded => "Refunded",
            PaymentStatus::Failed => "Failed",
        }
        .to_owned(),
        status_class: p.status.as_str().to_owned(),
        date: p
            .created_at
            .to_rfc3339()
            .replace('T', " ")
            .replace('Z', " UTC"),
        method,
        email: p.customer.email.clone(),
        lines: p
            .line_items
            .iter()
            .map(|l| (l.name.clone(), l.quantity, cur.format(l.amount_subtotal)))
            .collect(),
        tax: (p.amount_tax > Amount::ZERO).then(|| cur.format(p.amount_tax)),
        total: cur.format(p.amount),
        refunded: (p.amount_refunded > Amount::ZERO).then(|| cur.format(p.amount_refunded)),
        support_email: settings.support_email.clone(),
    };
    Ok(secure(
        html(StatusCode::OK, page.render()),
        style_hash.as_deref(),
        p.livemode,
    ))
}

fn receipt_missing() -> Response {
    gone_page(
        StatusCode::NOT_FOUND,
        "",
        "Receipt not found",
        "Check the link in your e-mail.",
        true,
    )
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
