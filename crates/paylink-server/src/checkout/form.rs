//! The link page's form, submitted: `action=update` prices the cart again; `pay` and
//! `wallet` open the page's checkout session (named by the page's nonce, so a double submit
//! meets the same one) and pay it, never at another total than the page showed.

use std::borrow::Cow;
use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use paylink_domain::catalog::Address;
use paylink_domain::checkout::{price, Choice};
use paylink_domain::id::{base62, CheckoutSessionId};
use paylink_domain::link::{LinkType, PaymentMethodType};
use paylink_domain::money::{Amount, Currency};
use paylink_domain::time::Timestamp;

use super::api::{in_currency, open_session_with, CardIn, CheckoutIn, PaymentMethodIn};
use super::fields::{self, CardFields, FieldErrors};
use super::pages::{attribution, gone_for, not_found_page, render_link, Entered};
use super::pay::{pay, PayAnswer};
use super::LinkView;
use crate::error::ApiError;
use crate::locale::{accept_language, Locale};
use crate::state::AppState;

/// The hosted form: `action=update` re-prices; `pay`/`wallet` start the checkout and pay.
pub async fn submit(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let view = match LinkView::load(&state, &slug).await {
        Ok(v) => v,
        Err(e) if e.status == StatusCode::NOT_FOUND => return Ok(not_found_page()),
        Err(e) => return Err(e),
    };
    let p = &view.p;
    let link = p.link.value.clone();
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let prefixed = |prefix: &str| -> BTreeMap<String, String> {
        fields
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(prefix)
                    .map(|rest| (rest.to_owned(), v.trim().to_owned()))
            })
            .filter(|(_, v)| !v.is_empty())
            .collect()
    };
    let mut e = Entered {
        email: get("email"),
        name: get("name"),
        phone: get("phone"),
        custom: prefixed("cf_"),
        billing: prefixed("billing_"),
        shipping: prefixed("shipping_"),
        attribution: attribution(fields.iter().map(|(k, v)| (k, v))),
        amount_text: get("amount"),
        currency: Currency::parse(&get("currency")),
        nonce: Some(get("nonce")).filter(|n| {
            (16..=64).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric())
        }),
        accept_language: accept_language(&headers),
        card_exp: get("card_exp"),
        ..Entered::default()
    };
    let settings = state.public_settings(&p.tenant.merchant_id).await?;
    let locale = Locale::negotiate(e.accept_language.as_deref(), &settings.default_locale);
    // A storefront whose products or prices changed since the page was shown: show it
    // again as it is now, with nothing chosen, rather than charge what was not seen.
    let shown = in_currency(&link, e.currency).unwrap_or(Cow::Borrowed(&link));
    if link.all_products && get("catalog") != super::catalog_fingerprint(&shown) {
        return render_link(
            &state,
            &view,
            &e,
            Some("The products or prices on offer changed; check your order and pay again".into()),
            StatusCode::CONFLICT,
        )
        .await;
    }
    let mut problems = FieldErrors::new();
    if !link.line_items.is_empty() {
        let mut qs = Vec::with_capacity(link.line_items.len());
        for (i, l) in link.line_items.iter().enumerate() {
            let raw = get(&format!("q{i}"));
            let q = if raw.is_empty() {
                Some(l.quantity)
            } else {
                raw.parse::<u32>().ok()
            };
            qs.push(q.unwrap_or(l.quantity));
            if q.is_none() {
                problems.insert(
                    format!("q{i}"),
                    format!("Enter how many {} you want.", l.name),
                );
            }
        }
        e.quantities = Some(qs);
    }
    if link.kind == LinkType::Donation {
        e.amount = if !e.amount_text.is_empty() {
            // Read as the page wrote it: `25,50` is 25.50 to a German customer.
            let read = shown
                .currency
                .parse_major_in(&e.amount_text, locale.decimal_mark());
            if read.is_none() {
                let example = format!("25{}00", locale.decimal_mark());
                problems.insert(
                    "amount".into(),
                    format!("Enter the amount as a number, e.g. {example}."),
                );
            }
            read
        } else {
            get("preset").parse::<i64>().ok().and_then(Amount::new)
        };
    }
    let action = get("action");
    if action == "update" {
        let status = if problems.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        e.field_errors = problems;
        return render_link(&state, &view, &e, None, status).await;
    }
    // Everything the customer typed, checked at once, before anything is opened or charged.
    let (number, exp, cvc) = (get("card_number"), get("card_exp"), get("card_cvc"));
    let wallet = action == "wallet" || action == "wallet_confirm";
    let card = (!wallet).then(|| CardFields {
        number: &number,
        exp: &exp,
        cvc: &cvc,
    });
    let checked = fields::check(
        &shown,
        &e,
        card.as_ref(),
        &locale.countries(),
        Timestamp::now(),
    );
    for (id, message) in checked {
        problems.entry(id).or_insert(message);
    }
    if !problems.is_empty() {
        let summary = match problems.len() {
            1 => "Check the field marked below.".to_owned(),
            n => format!("Check the {n} fields marked below."),
        };
        e.field_errors = problems;
        return render_link(&state, &view, &e, Some(summary), StatusCode::BAD_REQUEST).await;
    }
    // The amount charged is the amount the customer saw: a cart that prices to another
    // total than the page showed (a preset picked without JavaScript, a quantity changed)
    // is shown again with its total, and nothing is charged until they confirm it.
    let choice = Choice {
        quantities: e.quantities.clone(),
        amount: e.amount,
    };
    if let Ok(cart) = price(&shown, &choice, &settings) {
        let total = cart.totals.amount_total;
        if get("shown_total").parse::<i64>().ok() != Some(total.minor()) {
            let message = format!(
                "Your total is now {}. Check it, then pay.",
                locale.money(shown.currency, total)
            );
            return render_link(&state, &view, &e, Some(message), StatusCode::OK).await;
        }
    }
    // A wallet pays only once the customer has confirmed the amount on the page.
    if action == "wallet" {
        e.confirm_wallet = true;
        return render_link(&state, &view, &e, None, StatusCode::OK).await;
    }
    let Some(nonce) = e.nonce.clone() else {
        return render_link(
            &state,
            &view,
            &e,
            Some("Your session expired; please try again".into()),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let method = if wallet {
        PaymentMethodIn {
            kind: PaymentMethodType::Wallet,
            card: None,
        }
    } else {
        match card_from_form(&number, &exp, &cvc) {
            Ok(card) => PaymentMethodIn {
                kind: PaymentMethodType::Card,
                card: Some(card),
            },
            Err(msg) => {
                e.field_errors.insert("card_exp".into(), msg.into());
                return render_link(&state, &view, &e, None, StatusCode::BAD_REQUEST).await;
            }
        }
    };
    // The nonce names this page's session: a second submit pays the same one.
    let (id, secret) = session_from_nonce(&nonce);
    if state.store.get_checkout(&id).await.is_err() {
        let address = |m: &BTreeMap<String, String>| {
            (!m.is_empty()).then(|| Address {
                line1: m.get("line1").cloned(),
                line2: None,
                city: m.get("city").cloned(),
                state: None,
                postal_code: m.get("postal_code").cloned(),
                country: m.get("country").map(|c| c.to_ascii_uppercase()),
            })
        };
        let input = CheckoutIn {
            quantities: e.quantities.clone(),
            amount: e.amount,
            currency: e.currency,
            email: Some(e.email.clone()).filter(|s| !s.is_empty()),
            name: Some(e.name.clone()).filter(|s| !s.is_empty()),
            phone: Some(e.phone.clone()).filter(|s| !s.is_empty()),
            billing_address: address(&e.billing),
            shipping_address: address(&e.shipping),
            custom_fields: e.custom.clone(),
        };
        if let Err(err) = open_session_with(
            &state,
            &slug,
            input,
            Some((id.clone(), secret.clone())),
            e.attribution.clone(),
        )
        .await
        {
            // A double click: the other submit opened this page's session a moment ago
            // (and may have paid it, closing the link or its order since), and paying it
            // below answers with that submit's outcome.
            let opened_meanwhile =
                err.code == "duplicate_object" || state.store.get_checkout(&id).await.is_ok();
            if !opened_meanwhile {
                if err.status == StatusCode::GONE {
                    return gone_for(&state, p, err.code).await;
                }
                return render_error(&state, &view, e, err).await;
            }
        }
    }
    match pay(&state, &id, &secret, method).await {
        Ok(answer) => follow(&state, &view, e, answer).await,
        Err(err) => render_error(&state, &view, e, err).await,
    }
}

/// The page again with an error the API gave: at its field when it concerns one.
async fn render_error(
    state: &AppState,
    view: &LinkView,
    mut e: Entered,
    err: ApiError,
) -> Result<Response, ApiError> {
    let status = err.status;
    match err.param.as_deref().and_then(fields::field_of) {
        Some(field) => {
            e.field_errors.insert(field, err.message);
            let summary = "Check the field marked below.".to_owned();
            render_link(state, view, &e, Some(summary), status).await
        }
        None => render_link(state, view, &e, Some(err.message), status).await,
    }
}

/// Where a pay answer takes the customer on the hosted page.
async fn follow(
    state: &AppState,
    view: &LinkView,
    mut e: Entered,
    answer: PayAnswer,
) -> Result<Response, ApiError> {
    let url = |key: &str| {
        answer
            .body
            .pointer(key)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    if answer.succeeded() {
        if let Some(u) = url("/redirect_url") {
            return Ok(Redirect::to(&u).into_response());
        }
    }
    if let Some(u) = url("/next_action/redirect_url") {
        return Ok(Redirect::to(&u).into_response());
    }
    // A declined card: said at the card, with what to do. The card's number and code are
    // gone from the page (a page never carries them), the rest is as typed.
    let message = url("/error/message").unwrap_or_else(|| "The payment failed".into());
    e.field_errors.insert(
        "card_number".into(),
        format!("{message}. Try another card."),
    );
    let summary = "The payment did not go through: nothing was charged.".to_owned();
    render_link(state, view, &e, Some(summary), StatusCode::PAYMENT_REQUIRED).await
}

pub(super) fn card_from_form(number: &str, exp: &str, cvc: &str) -> Result<CardIn, &'static str> {
    if number.is_empty() {
        return Err("Enter your card number");
    }
    let (m, y) = exp.split_once('/').ok_or("Enter the expiry as MM/YY")?;
    let month: u8 = m.trim().parse().map_err(|_| "Enter the expiry as MM/YY")?;
    let year: u16 = y.trim().parse().map_err(|_| "Enter the expiry as MM/YY")?;
    let year = if year < 100 { 2000 + year } else { year };
    Ok(CardIn {
        number: SecretString::from(number.to_owned()),
        exp_month: month,
        exp_year: year,
        cvc: SecretString::from(cvc.to_owned()),
    })
}

/// A session id and secret derived from the page's nonce (128 random bits).
pub(super) fn session_from_nonce(nonce: &str) -> (CheckoutSessionId, String) {
    let digest = |tag: &str| {
        let d = Sha256::digest(format!("{tag}:{nonce}").as_bytes());
        let mut b = [0u8; 16];
        b.copy_from_slice(d.get(..16).unwrap_or(&[0u8; 16]));
        base62(b)
    };
    (
        CheckoutSessionId::from_trusted(format!("cs_{}", digest("id"))),
        format!("cs_secret_{}", digest("secret")),
    )
}
