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
use paylink_domain::checkout::{price, CheckoutSession, Choice, SessionStatus};
use paylink_domain::id::{base62, CheckoutSessionId};
use paylink_domain::link::{LinkType, PaymentLink, PaymentMethodType};
use paylink_domain::money::{Amount, Currency};
use paylink_domain::time::Timestamp;

use super::api::{
    in_currency, open_session_with, CardIn, CheckoutIn, PayMethodType, PaymentMethodIn,
};
use super::fields::{self, CardFields, FieldErrors};
use super::furniture::not_found_page;
use super::pages::{attribution, gone_for, render_link, Entered};
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
    let settings = state.public_settings(p.tenant.merchant_id()).await?;
    let language = accept_language(&headers);
    let locale = Locale::negotiate(language.as_deref(), &settings.default_locale);
    let (mut e, action) = read_form(&link, &fields, language, &locale, Timestamp::now());
    // With Stripe the card is typed on the session's page, into Stripe's own form.
    let stripe = crate::stripe::serves(&settings, link.livemode);
    if stripe {
        for id in ["card_number", "card_exp", "card_cvc"] {
            e.field_errors.remove(id);
        }
    }
    let get = |k: &str| field(&fields, k);
    // A storefront whose products or prices changed since the page was shown: show it
    // again as it is now, with nothing chosen, rather than charge what was not seen.
    let shown = in_currency(&link, e.currency).unwrap_or(Cow::Borrowed(&link));
    if link.all_products && get("catalog") != super::catalog_fingerprint(&shown) {
        e.quantities = None;
        e.field_errors.clear();
        return render_link(
            &state,
            &view,
            &e,
            Some("The products or prices on offer changed; check your order and pay again".into()),
            StatusCode::CONFLICT,
        )
        .await;
    }
    if action == "update" {
        let status = if e.field_errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        return render_link(&state, &view, &e, None, status).await;
    }
    if !e.field_errors.is_empty() {
        return render_link(&state, &view, &e, None, StatusCode::BAD_REQUEST).await;
    }
    let (number, exp, cvc) = (get("card_number"), get("card_exp"), get("card_cvc"));
    let wallet = action == "wallet" || action == "wallet_confirm";
    // The amount charged is the amount the customer saw: a cart that prices to another
    // total than the page showed (a preset picked without JavaScript, a quantity changed)
    // is shown again with its total, and nothing is charged until they confirm it.
    let choice = Choice {
        quantities: e.quantities.clone(),
        amount: e.amount,
    };
    let mut cart_total = None;
    if let Ok(cart) = price(&shown, &choice, &settings) {
        let total = cart.totals.amount_total;
        cart_total = Some(total);
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
    let method = if stripe {
        PaymentMethodIn {
            kind: PayMethodType::Stripe,
            card: None,
        }
    } else if wallet {
        PaymentMethodIn {
            kind: PayMethodType::Wallet,
            card: None,
        }
    } else {
        match card_from_form(&number, &exp, &cvc) {
            Ok(card) => PaymentMethodIn {
                kind: PayMethodType::Card,
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
    let existing = state.store.get_checkout(&id).await.ok();
    if let Some(rec) = &existing {
        // The page's session was opened by an earlier submit (a double click, or a retry
        // after a decline). It is paid only if it is this link's and for what this submit
        // asks; otherwise the page starts again with a new session, never charging the old
        // one's total or items or sending its receipt elsewhere.
        let ours = rec.tenant == p.tenant && rec.session.payment_link_id == link.id;
        let same = ours
            && same_order(
                &rec.session,
                &input,
                view.prefill.as_ref(),
                &shown,
                cart_total,
            );
        let restart = match rec.session.status {
            _ if !ours => Some("Check your order, then pay."),
            SessionStatus::Expired => Some("This checkout ended; check your order, then pay."),
            SessionStatus::Open if !same => {
                // Its hold goes back at once, so the new session can take it (the last use
                // of a limited link, the last item in stock) — unless it is being paid at
                // this moment: then that payment decides, and nothing new is offered.
                let ended = state
                    .store
                    .end_checkout(&rec.tenant, &rec.session.id, Timestamp::now())
                    .await?;
                if !ended {
                    let message = "Your previous payment is still being processed. Wait a moment, then reload this page to see how it ended.";
                    return render_link(
                        &state,
                        &view,
                        &e,
                        Some(message.into()),
                        StatusCode::CONFLICT,
                    )
                    .await;
                }
                Some("Your order changed since the last try, so it starts again: check it, then pay.")
            }
            _ => None,
        };
        if let Some(message) = restart {
            e.nonce = None;
            return render_link(
                &state,
                &view,
                &e,
                Some(message.into()),
                StatusCode::CONFLICT,
            )
            .await;
        }
    }
    if existing.is_none() {
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
    if stripe {
        // Opened and held: the session's page makes its PaymentIntent and shows Stripe's
        // Payment Element.
        let to = format!("/c/{id}?s={secret}");
        return Ok(axum::response::Redirect::to(&to).into_response());
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
            render_link(state, view, &e, None, status).await
        }
        None => render_link(state, view, &e, Some(err.message), status).await,
    }
}

/// A submitted form read against its link, as the page wrote it: what the customer
/// entered (quantities; a donation's amount in the customer's locale, `25,50` in German),
/// the action asked for (`update` when the page offers no way to pay as asked), and in
/// `field_errors` every problem by field id: the cart's only when the action is `update`,
/// all of them (contact, custom fields, addresses, card) otherwise. Pure: nothing is
/// opened or charged.
pub fn read_form(
    link: &PaymentLink,
    fields: &[(String, String)],
    accept_language: Option<String>,
    locale: &Locale,
    now: Timestamp,
) -> (Entered, String) {
    let get = |k: &str| field(fields, k);
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
        accept_language,
        card_exp: get("card_exp"),
        ..Entered::default()
    };
    let shown = in_currency(link, e.currency).unwrap_or(Cow::Borrowed(link));
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
            // A quantity the line does not allow is said at the line, and the page keeps
            // pricing the one it had (no line total from a number nobody may buy).
            let (min, max) = match l.adjustable_quantity {
                Some(a) if a.enabled => (a.minimum, a.maximum),
                _ => (l.quantity, l.quantity),
            };
            match q {
                Some(q) if (min..=max).contains(&q) => qs.push(q),
                Some(_) => {
                    qs.push(l.quantity);
                    problems.insert(
                        format!("q{i}"),
                        format!("Choose between {min} and {max} of {}.", l.name),
                    );
                }
                None => {
                    qs.push(l.quantity);
                    problems.insert(
                        format!("q{i}"),
                        format!("Enter how many {} you want.", l.name),
                    );
                }
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
    // What the page offers: a submit without a way to pay it (no button pressed, a wallet
    // on a card-only link) only shows the page again.
    let takes = |t: PaymentMethodType| link.payment_method_types.contains(&t);
    let action = match get("action").as_str() {
        "pay" | "" if takes(PaymentMethodType::Card) => "pay".to_owned(),
        "wallet" | "wallet_confirm" if takes(PaymentMethodType::Wallet) => get("action"),
        _ => "update".to_owned(),
    };
    if action != "update" {
        // Everything the customer typed, checked at once, before anything is opened or
        // charged.
        let (number, exp, cvc) = (get("card_number"), get("card_exp"), get("card_cvc"));
        let wallet = action == "wallet" || action == "wallet_confirm";
        let card = (!wallet).then(|| CardFields {
            number: &number,
            exp: &exp,
            cvc: &cvc,
        });
        let checked = fields::check(&shown, &e, card.as_ref(), &locale.countries(), now);
        for (id, message) in checked {
            problems.entry(id).or_insert(message);
        }
    }
    e.field_errors = problems;
    (e, action)
}

/// A submitted form's field, trimmed (empty when absent).
pub(super) fn field(fields: &[(String, String)], name: &str) -> String {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default()
}

/// Whether an open session is for the order a submit asks for: the same items and total
/// in the same currency, the same customer details (with the link's prefill where the form
/// left a field empty, as the session took them) and answers.
fn same_order(
    s: &CheckoutSession,
    input: &CheckoutIn,
    prefill: Option<&super::Prefill>,
    link: &paylink_domain::link::PaymentLink,
    total: Option<Amount>,
) -> bool {
    let place = |a: &Option<Address>| {
        a.as_ref().map(|a| {
            (
                a.line1.clone(),
                a.city.clone(),
                a.postal_code.clone(),
                a.country.clone(),
            )
        })
    };
    let answers: BTreeMap<&str, &str> = s
        .custom_fields
        .iter()
        .map(|f| (f.key.as_str(), f.value.as_str()))
        .collect();
    let given: BTreeMap<&str, &str> = input
        .custom_fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.trim()))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    // What was bought, line by line (a donation's one line is its amount, compared above).
    let items = |lines: Vec<(Option<&str>, &str, u32)>| -> Vec<(Option<String>, String, u32)> {
        lines
            .into_iter()
            .filter(|(_, _, q)| *q > 0)
            .map(|(p, n, q)| (p.map(str::to_owned), n.to_owned(), q))
            .collect()
    };
    let asked = input.quantities.as_ref().map(|qs| {
        items(
            link.line_items
                .iter()
                .zip(qs)
                .map(|(l, q)| {
                    (
                        l.product_id.as_ref().map(|p| p.as_str()),
                        l.name.as_str(),
                        *q,
                    )
                })
                .collect(),
        )
    });
    let held = items(
        s.line_items
            .iter()
            .map(|l| {
                (
                    l.product_id.as_ref().map(|p| p.as_str()),
                    l.name.as_str(),
                    l.quantity,
                )
            })
            .collect(),
    );
    let same_items = link.line_items.is_empty() || asked.as_ref() == Some(&held);
    let c = &s.customer;
    let email = input
        .email
        .clone()
        .or_else(|| prefill.and_then(|p| p.email.clone()));
    let name = input
        .name
        .clone()
        .or_else(|| prefill.and_then(|p| p.name.clone()));
    total == Some(s.amount_total)
        && same_items
        && s.currency == link.currency
        && c.email == email
        && c.name == name
        && c.phone == input.phone
        && place(&c.billing_address) == place(&input.billing_address)
        && place(&c.shipping_address) == place(&input.shipping_address)
        && answers == given
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

pub(crate) fn card_from_form(number: &str, exp: &str, cvc: &str) -> Result<CardIn, &'static str> {
    if number.is_empty() {
        return Err("Enter your card number");
    }
    let (month, year) = fields::expiry(exp).ok_or("Enter the expiry as MM/YY")?;
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
