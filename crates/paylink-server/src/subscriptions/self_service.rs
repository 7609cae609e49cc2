//! The customer's own page of a subscription (`/s/{token}`): the plan, where it stands,
//! the card, the payments, and two actions (change the card; cancel at the end of the
//! period, or undo that). Reached only through the signed link the e-mails carry: the
//! token is the capability, so an unknown or forged one is a plain 404 page.
//!
//! The actions are plain HTML forms (no script needed). Each page carries a form token
//! signed for this subscription with a one-time nonce and a time: a form from another
//! site is refused (`Origin`, `Sec-Fetch-Site`), and a form sent twice (a double click, a
//! replay) is answered once, through the merchant's idempotency keys (`{sub}:{nonce}`),
//! with the answer of the first. The card is saved with the processor under a key of the
//! subscription and the nonce, so it is saved once whatever happens.

use askama::Template;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

use paylink_domain::checkout::{CardDetails, PaymentStatus};
use paylink_domain::id::{random_base62, SubscriptionId};
use paylink_domain::subscription::SubscriptionStatus;
use paylink_domain::time::Timestamp;
use paylink_processors::{PaymentMethodData, ProcessorError, SaveMethodRequest, SaveOutcome};
use paylink_store::{IdempotencyBegin, IdempotencyScope, StoredResponse, SubscriptionRecord};

use super::mail;
use crate::checkout::furniture::{gone_page, Shell, When};
use crate::locale::{accept_language, Locale};
use crate::state::AppState;

/// What the page's form token signs: `{subscription}:{nonce}:{issued unix seconds}`.
const FORM_PURPOSE: &str = "subscription-self-service-form";

/// How long a page's forms may be sent (idempotency keys are kept longer).
const FORM_TTL_SECS: i64 = 2 * 3600;

/// How many of the subscription's payments the page lists.
const PAYMENTS_SHOWN: u32 = 24;

struct PaymentRow {
    date: When,
    amount: String,
    status: &'static str,
    receipt_url: Option<String>,
}

#[derive(Template)]
#[template(path = "subscription.html")]
struct SubscriptionPage {
    shell: Shell,
    /// The page's own path (`/s/{token}`): where its forms post.
    action: String,
    form: String,
    description: String,
    amount: String,
    every: String,
    status: String,
    status_class: &'static str,
    /// `(words before the date, the date, words after)`.
    schedule: Option<(String, When, String)>,
    card: Option<String>,
    payments: Vec<PaymentRow>,
    notice: Option<String>,
    error: Option<String>,
    past_due: bool,
    can_change_card: bool,
    can_cancel: bool,
    can_undo: bool,
    /// When a cancellation at the period's end takes effect.
    ends: Option<When>,
}

#[derive(serde::Deserialize)]
pub struct Shown {
    /// What the last action did, as a code (the page never shows text from its URL).
    m: Option<String>,
    /// A decline code, with `m=declined`.
    d: Option<String>,
}

fn missing() -> Response {
    gone_page(
        StatusCode::NOT_FOUND,
        Shell::plain(),
        "Subscription not found",
        "Check the link in your e-mail, or ask the seller for a new one.",
    )
}

/// The subscription a token names, if the token is this server's.
async fn load(state: &AppState, token: &str) -> Result<Option<SubscriptionRecord>, Response> {
    if token.len() > 256 || token.contains('\0') {
        return Ok(None);
    }
    let Some(id) = state
        .sealer
        .verify(mail::PURPOSE, token)
        .and_then(SubscriptionId::parse)
    else {
        return Ok(None);
    };
    match state.store.get_subscription_public(&id).await {
        Ok(r) => Ok(Some(r)),
        Err(paylink_store::StoreError::NotFound) => Ok(None),
        Err(e) => Err(crate::error::ApiError::from(e).into_response()),
    }
}

/// `GET /s/{token}`.
pub async fn page(
    State(state): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    q: Result<Query<Shown>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Path(token)) = token else {
        return missing();
    };
    let r = match load(&state, &token).await {
        Ok(Some(r)) => r,
        Ok(None) => return missing(),
        Err(res) => return res,
    };
    let (m, d) = match q {
        Ok(Query(q)) => (q.m, q.d),
        Err(_) => (None, None),
    };
    match render(&state, &r, &token, &headers, m.as_deref(), d.as_deref()).await {
        Ok(res) => res,
        Err(e) => e.into_response(),
    }
}

/// What a code of `?m=` says: `(notice, error)`.
fn message(m: Option<&str>, d: Option<&str>) -> (Option<String>, Option<String>) {
    let ok = |s: &str| (Some(s.to_owned()), None);
    let err = |s: &str| (None, Some(s.to_owned()));
    match m.unwrap_or_default() {
        "" => (None, None),
        "card_updated" => ok("Your new card is saved: the next payments will be charged to it."),
        "card_updated_retry" => ok("Your new card is saved. The payment that failed will be tried again with it now; this page shows the result in a few minutes."),
        "canceling" => ok("Your subscription will end at the end of the current period. Nothing more will be charged. You can undo this until then."),
        "resumed" => ok("Your subscription continues: it renews as before."),
        "canceled" => ok("Your subscription is canceled: the failed payment will not be tried again, and nothing more will be charged."),
        "declined" => (
            None,
            Some(format!(
                "{}. Your card was not changed; try another card.",
                crate::checkout::pay::decline_message(d.unwrap_or_default())
            )),
        ),
        "card_number" => err("Enter your card number."),
        "card_exp" => err("Enter the expiry as MM/YY."),
        "card_invalid" => err("Check the card number and the security code, and try again."),
        "stale" => err("This page was open too long or had changed, so nothing was done. Check below and try again."),
        "busy" => err("Your subscription is being renewed right now. Nothing was changed; try again in a moment."),
        "unavailable" => err("The payment processor did not answer. Nothing was changed; try again in a moment."),
        "card_elsewhere" => err("Your card is kept by the seller's payment processor and cannot be changed here yet. Nothing was changed; contact the seller to update it."),
        "ended" => err("This subscription has ended: nothing can be changed."),
        _ => err("That cannot be changed now."),
    }
}

fn status_words(r: &SubscriptionRecord) -> (String, &'static str) {
    let s = &r.subscription;
    let words = match s.status {
        SubscriptionStatus::Trialing if s.cancel_at_period_end => "Free trial, then it ends",
        SubscriptionStatus::Trialing => "Free trial",
        SubscriptionStatus::Active if s.cancel_at_period_end => {
            "Active until the end of the period"
        }
        SubscriptionStatus::Active => "Active",
        SubscriptionStatus::PastDue => "Payment failed: we will try again",
        SubscriptionStatus::Unpaid => "Unpaid: renewals have stopped",
        SubscriptionStatus::Canceled => "Canceled",
    };
    let class = match s.status {
        SubscriptionStatus::Trialing | SubscriptionStatus::Active => "active",
        SubscriptionStatus::PastDue | SubscriptionStatus::Unpaid => "past_due",
        SubscriptionStatus::Canceled => "canceled",
    };
    (words.to_owned(), class)
}

async fn render(
    state: &AppState,
    r: &SubscriptionRecord,
    token: &str,
    headers: &HeaderMap,
    m: Option<&str>,
    d: Option<&str>,
) -> Result<Response, crate::error::ApiError> {
    let s = &r.subscription;
    let settings = state.public_settings(r.tenant.merchant_id()).await?;
    let locale = Locale::negotiate(
        accept_language(headers).as_deref(),
        &settings.default_locale,
    );
    let amount = locale.money(s.currency, s.amount);
    let payments = state
        .store
        .subscription_payments(&r.tenant, &s.id, PAYMENTS_SHOWN)
        .await?
        .into_iter()
        .map(|p| PaymentRow {
            date: When::date(p.created_at),
            amount: locale.money(p.currency, p.amount),
            status: match p.status {
                PaymentStatus::Succeeded if p.amount.minor() == 0 => "Trial started",
                PaymentStatus::Succeeded => "Paid",
                PaymentStatus::PartiallyRefunded => "Partially refunded",
                PaymentStatus::Refunded => "Refunded",
                PaymentStatus::Failed => "Failed",
            },
            receipt_url: p.receipt_url.clone(),
        })
        .collect();
    let ending = s.cancel_at_period_end && s.status != SubscriptionStatus::Canceled;
    let schedule = if let Some(at) = s.canceled_at {
        Some(("Canceled on".to_owned(), When::date(at), String::new()))
    } else if ending {
        s.current_period_end.map(|e| {
            (
                "Ends on".to_owned(),
                When::date(e),
                ". Nothing more will be charged.".to_owned(),
            )
        })
    } else if let Some(next) = s.next_charge_at {
        let what = match s.status {
            SubscriptionStatus::PastDue => format!("Next try to charge {amount}:"),
            SubscriptionStatus::Trialing => format!("The trial ends and {amount} is charged on"),
            _ => format!("Next charge of {amount} on"),
        };
        Some((what, When::date(next), String::new()))
    } else {
        None
    };
    let (notice, error) = message(m, d);
    let (status, status_class) = status_words(r);
    let open = matches!(
        s.status,
        SubscriptionStatus::Trialing | SubscriptionStatus::Active | SubscriptionStatus::PastDue
    );
    let page = SubscriptionPage {
        shell: Shell::of(&settings, s.livemode),
        action: format!("/s/{token}"),
        form: state.sealer.sign(
            FORM_PURPOSE,
            &format!("{}:{}:{}", s.id, random_base62(), Timestamp::now().unix()),
        ),
        description: s.description.clone(),
        amount,
        every: mail::every(s),
        status,
        status_class,
        schedule,
        card: s.payment_method.as_ref().map(card_words),
        payments,
        notice,
        error,
        past_due: s.status == SubscriptionStatus::PastDue,
        can_change_card: open,
        can_cancel: open && !s.cancel_at_period_end,
        can_undo: open && s.cancel_at_period_end,
        ends: s.current_period_end.filter(|_| ending).map(When::date),
    };
    Ok(page.shell.respond(StatusCode::OK, page.render()))
}

/// `Visa •••• 4242, expires 12/34`.
fn card_words(c: &CardDetails) -> String {
    let mut brand = c.brand.clone();
    if let Some(first) = brand.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    format!(
        "{brand} •••• {}, expires {:02}/{:02}",
        c.last4,
        c.exp_month,
        c.exp_year % 100
    )
}

/// Whether a form was sent from a page of this server: browsers say where a form came
/// from (`Sec-Fetch-Site`, `Origin`; a page with `no-referrer` sends `Origin: null`).
fn same_site(state: &AppState, headers: &HeaderMap) -> bool {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site") {
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    match get(header::ORIGIN.as_str()) {
        None | Some("null") => true,
        Some(o) => state.public_url.trim_end_matches('/') == o,
    }
}

fn field(fields: &[(String, String)], name: &str) -> String {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default()
}

/// `POST /s/{token}`: one of the page's actions, then back to the page (303) saying what
/// happened.
pub async fn act(
    State(state): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let Ok(Path(token)) = token else {
        return missing();
    };
    let r = match load(&state, &token).await {
        Ok(Some(r)) => r,
        Ok(None) => return missing(),
        Err(res) => return res,
    };
    if !same_site(&state, &headers) {
        return gone_page(
            StatusCode::FORBIDDEN,
            Shell::plain(),
            "Form refused",
            "This form was sent from another site. Open the link in your e-mail and try again.",
        );
    }
    let back = |code: &str| Redirect::to(&format!("/s/{token}?m={code}")).into_response();
    let fields = form.map(|Form(f)| f).unwrap_or_default();
    let Some(nonce) = form_nonce(&state, &r, &field(&fields, "f")) else {
        return back("stale");
    };
    let action = field(&fields, "action");
    if !["card", "cancel", "undo"].contains(&action.as_str()) {
        return back("refused");
    }
    // One answer per form: a second submit of it gets the first's.
    let scope = IdempotencyScope::of(&r.tenant);
    let key = format!("self_service:{}:{nonce}", r.subscription.id);
    let now = Timestamp::now();
    match state
        .store
        .idempotency_begin(&scope, &key, &action, now)
        .await
    {
        Ok(IdempotencyBegin::Started) => {}
        Ok(IdempotencyBegin::Replay(answer)) => {
            let code = String::from_utf8(answer.body).unwrap_or_default();
            return Redirect::to(&format!("/s/{token}?{code}")).into_response();
        }
        Ok(_) => return back("stale"),
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    }
    let (query, keep) = match action.as_str() {
        "card" => change_card(&state, &r, &fields, &nonce).await,
        "cancel" => cancel(&state, &r, true).await,
        _ => cancel(&state, &r, false).await,
    };
    let stored = StoredResponse {
        status: 303,
        body: query.clone().into_bytes(),
    };
    let done = match keep {
        true => state.store.idempotency_finish(&scope, &key, &stored).await,
        // Nothing happened (the processor or the claim was busy): the form may be sent again.
        false => state.store.idempotency_release(&scope, &key).await,
    };
    if let Err(e) = done {
        tracing::warn!(error = %e, "recording a self-service answer failed");
    }
    Redirect::to(&format!("/s/{token}?{query}")).into_response()
}

/// The nonce of a form token made by this page for this subscription, recently.
fn form_nonce(state: &AppState, r: &SubscriptionRecord, f: &str) -> Option<String> {
    let value = state.sealer.verify(FORM_PURPOSE, f)?;
    let mut parts = value.split(':');
    let (sub, nonce, issued) = (parts.next()?, parts.next()?, parts.next()?);
    let issued: i64 = issued.parse().ok()?;
    let age = Timestamp::now().unix() - issued;
    (sub == r.subscription.id.as_str() && (-60..=FORM_TTL_SECS).contains(&age))
        .then(|| nonce.to_owned())
}

/// The query an action's outcome sends the page, and whether it is the form's answer for
/// good (`false`: nothing happened and the form may be sent again).
type Outcome = (String, bool);

fn code(c: &str) -> String {
    format!("m={c}")
}

async fn change_card(
    state: &AppState,
    r: &SubscriptionRecord,
    fields: &[(String, String)],
    nonce: &str,
) -> Outcome {
    // Only the simulated processor takes card details here, and only in test mode: a card
    // kept at Stripe (or any live subscription) is never replaced by one the simulated
    // processor "saved", which would renew without money.
    let at_stripe = r
        .method_ref
        .as_deref()
        .is_some_and(|m| m.starts_with("cus_"));
    let settings = state.public_settings(r.tenant.merchant_id()).await;
    let stripe_mode = settings.is_ok_and(|s| crate::stripe::serves(&s, r.tenant.livemode()));
    if at_stripe || stripe_mode || r.tenant.livemode() {
        return (code("card_elsewhere"), true);
    }
    let card = match crate::checkout::form::card_from_form(
        &field(fields, "card_number"),
        &field(fields, "card_exp"),
        &field(fields, "card_cvc"),
    ) {
        Ok(c) => c,
        Err(msg) if msg.contains("number") => return (code("card_number"), false),
        Err(_) => return (code("card_exp"), false),
    };
    let saved = state
        .processor
        .save_method(SaveMethodRequest {
            idempotency_key: format!("{}:card:{nonce}", r.subscription.id),
            method: PaymentMethodData::Card {
                number: card.number,
                exp_month: card.exp_month,
                exp_year: card.exp_year,
                cvc: card.cvc,
            },
        })
        .await;
    let saved = match saved {
        Ok(SaveOutcome::Saved(m)) => m,
        Ok(SaveOutcome::Declined { code: d, .. }) => {
            return (format!("m=declined&d={d}"), true);
        }
        Err(ProcessorError::Invalid(_)) => return (code("card_invalid"), true),
        Err(ProcessorError::Retryable(_)) => return (code("unavailable"), false),
    };
    let details = CardDetails {
        brand: saved.card.brand.as_str().to_owned(),
        last4: saved.card.last4.clone(),
        exp_month: saved.card.exp_month,
        exp_year: saved.card.exp_year,
    };
    let past_due = r.subscription.status == SubscriptionStatus::PastDue;
    let t = &r.tenant;
    match super::change_card(state, t, &r.subscription.id, &saved.reference, details).await {
        Ok(_) if past_due => (code("card_updated_retry"), true),
        Ok(_) => (code("card_updated"), true),
        Err(e) => refused(&e),
    }
}

async fn cancel(state: &AppState, r: &SubscriptionRecord, at_period_end: bool) -> Outcome {
    if r.subscription.status == SubscriptionStatus::Canceled {
        return (code("ended"), true);
    }
    // Cancel twice, undo twice: the second does nothing and says what the first did.
    if r.subscription.cancel_at_period_end == at_period_end {
        return (
            code(if at_period_end {
                "canceling"
            } else {
                "resumed"
            }),
            true,
        );
    }
    // While a failed payment is being retried, cancelling stops the retries now: the
    // period it would pay for is the one the customer is leaving.
    if at_period_end && r.subscription.status == SubscriptionStatus::PastDue {
        return match super::cancel(state, &r.tenant, &r.subscription.id, false).await {
            Ok(_) => (code("canceled"), true),
            Err(e) => refused(&e),
        };
    }
    let done = match at_period_end {
        true => super::cancel(state, &r.tenant, &r.subscription.id, true)
            .await
            .map(drop),
        false => super::end_at_period_end(state, &r.tenant, &r.subscription.id, false)
            .await
            .map(drop),
    };
    match done {
        Ok(()) if at_period_end => (code("canceling"), true),
        Ok(()) => (code("resumed"), true),
        Err(e) => refused(&e),
    }
}

fn refused(e: &crate::error::ApiError) -> Outcome {
    match e.code {
        "subscription_busy" => (code("busy"), false),
        "processor_unavailable" => (code("unavailable"), false),
        "subscription_canceled" => (code("ended"), true),
        _ => (code("refused"), true),
    }
}
