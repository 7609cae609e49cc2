//! The pages of one checkout session (`/c/{id}?s=…`): the 3-D Secure challenge, and the
//! page of a session opened through the API (its `checkout_url`), where a customer sent
//! back from a failed challenge pays again.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

use paylink_domain::checkout::SessionStatus;
use paylink_domain::id::CheckoutSessionId;
use paylink_domain::link::PaymentMethodType;
use paylink_domain::money::Amount;
use paylink_domain::time::Timestamp;

use super::api::{PayMethodType, PaymentMethodIn};
use super::form::{card_from_form, field};
use super::furniture::{gone_page, Shell, When};
use super::pay::{authorize, authorize_with_link, pay, settle};
use crate::error::ApiError;
use crate::locale::{accept_language, Locale};
use crate::state::AppState;

// ---- 3-D Secure ----------------------------------------------------------------------

#[derive(Template)]
#[template(path = "authenticate.html")]
struct AuthenticatePage {
    shell: Shell,
    total: String,
    session_id: String,
    secret: String,
}

#[derive(serde::Deserialize)]
pub struct SecretQuery {
    s: String,
    /// Why the customer was sent back here (see [`error_message`]).
    error: Option<String>,
}

pub async fn authenticate_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<SecretQuery>,
) -> Result<Response, ApiError> {
    let id =
        CheckoutSessionId::parse(&id).ok_or_else(|| ApiError::not_found("checkout session"))?;
    let rec = authorize(&state, &id, &q.s).await?;
    if rec.attempt != paylink_domain::states::AttemptState::RequiresAction {
        let settings = state.public_settings(rec.tenant.merchant_id()).await?;
        return Ok(gone_page(
            StatusCode::GONE,
            Shell::of(&settings, rec.session.livemode),
            "Nothing to confirm",
            "This payment needs no confirmation.",
        ));
    }
    let settings = state.public_settings(rec.tenant.merchant_id()).await?;
    let locale = Locale::negotiate(
        accept_language(&headers).as_deref(),
        &settings.default_locale,
    );
    let page = AuthenticatePage {
        shell: Shell::of(&settings, rec.session.livemode),
        total: locale.money(rec.session.currency, rec.session.amount_total),
        session_id: id.to_string(),
        secret: q.s,
    };
    Ok(page.shell.respond(StatusCode::OK, page.render()))
}

#[derive(serde::Deserialize)]
pub struct Decision {
    s: String,
    decision: String,
}

pub async fn authenticate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(d): Form<Decision>,
) -> Result<Response, ApiError> {
    let id =
        CheckoutSessionId::parse(&id).ok_or_else(|| ApiError::not_found("checkout session"))?;
    let (rec, link) = authorize_with_link(&state, &id, &d.s).await?;
    // Back to this checkout's own page (what the customer entered is in the session), with
    // a code the page turns into words at the payment fields: never text from the URL.
    let back = |code: &str| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("s", &d.s).append_pair("error", code);
        format!("/c/{id}?{}", q.finish())
    };
    if let Some(result) = &rec.result {
        let body: serde_json::Value = serde_json::from_slice(&result.body).unwrap_or_default();
        let to = body
            .get("redirect_url")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| back("already_paid"));
        return Ok(Redirect::to(&to).into_response());
    }
    let reference = rec.attempt_reference.clone().unwrap_or_default();
    if rec.attempt != paylink_domain::states::AttemptState::RequiresAction
        || !state
            .store
            .claim_action(&id, rec.attempt_no, Timestamp::now())
            .await?
    {
        return Ok(Redirect::to(&back("not_pending")).into_response());
    }
    let outcome = state
        .processor
        .complete_action(&reference, d.decision == "approve")
        .await;
    let answer = settle(
        &state,
        &rec,
        &link,
        rec.attempt_no,
        PaymentMethodType::Card,
        outcome,
        None,
        &d.s,
        state.processor.name(),
    )
    .await?;
    if let Some(u) = answer.body.get("redirect_url").and_then(|v| v.as_str()) {
        return Ok(Redirect::to(u).into_response());
    }
    let code = answer
        .body
        .pointer("/error/decline_code")
        .or_else(|| answer.body.pointer("/decline_code"))
        .and_then(|v| v.as_str())
        .unwrap_or("authentication_failed")
        .to_owned();
    Ok(Redirect::to(&back(&code)).into_response())
}

/// What a code in a checkout page's `?error=` tells the customer (unknown codes say the
/// payment failed): the page never shows text from its URL.
fn error_message(code: &str) -> String {
    let what = match code {
        "already_paid" => return "This checkout is already paid.".to_owned(),
        "not_pending" => {
            return "This confirmation is no longer pending; pay again below.".to_owned()
        }
        _ => super::pay::decline_message(code),
    };
    format!("{what}. Try again, or use another card.")
}

// ---- the page of an API-created session (`checkout_url`) -----------------------------

#[derive(Template)]
#[template(path = "session.html")]
struct SessionPage {
    shell: Shell,
    title: String,
    error: Option<String>,
    lines: Vec<(String, u32, String)>,
    tax: Option<String>,
    total: String,
    /// What paying charges today (nothing during a subscription's free trial).
    due_today: String,
    /// A subscription's `every month`, with the day of the first charge after a free trial.
    recurring: Option<(String, Option<When>)>,
    trial: bool,
    session_id: String,
    secret: String,
    accepts_card: bool,
    accepts_wallet: bool,
    /// A wallet payment was asked for: confirm its amount first.
    confirm_wallet: bool,
    /// With Stripe: Stripe.js's URL, the Payment Element's keys, and where a redirecting
    /// payment method comes back to.
    stripe: Option<(String, crate::stripe::checkout::StripeSession, String)>,
    /// Stripe serves this checkout but could not be asked: only the error is shown.
    stripe_down: bool,
}

async fn render_session(
    state: &AppState,
    id: &CheckoutSessionId,
    secret: &str,
    accept_language: Option<&str>,
    error: Option<String>,
    confirm_wallet: bool,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let (rec, link) = authorize_with_link(state, id, secret).await?;
    if let Some(result) = &rec.result {
        let body: serde_json::Value = serde_json::from_slice(&result.body).unwrap_or_default();
        if let Some(u) = body.get("redirect_url").and_then(|v| v.as_str()) {
            return Ok(Redirect::to(u).into_response());
        }
    }
    let settings = state.public_settings(rec.tenant.merchant_id()).await?;
    let s = &rec.session;
    if s.status == SessionStatus::Expired {
        // Ended (its time ran out, or the customer started again): nothing to pay here.
        return Ok(gone_page(
            StatusCode::GONE,
            Shell::of(&settings, s.livemode),
            "This checkout has ended",
            "Nothing was charged. Go back to the seller's page to start again.",
        ));
    }
    let mut error = error;
    let serves = crate::stripe::serves(&settings, s.livemode);
    let stripe = if serves {
        match crate::stripe::checkout::intent_for(state, &rec.tenant, s, &link.title).await {
            Ok(st) => Some((
                state.config.stripe_js_url.clone(),
                st,
                format!("{}/c/{}?s={}", state.public_url, id, secret),
            )),
            // Stripe is down, or refuses: the checkout is kept; reloading tries again.
            Err(e) => {
                error = Some(format!("{} (reload this page to try again)", e.message));
                None
            }
        }
    } else {
        None
    };
    let cur = s.currency;
    let locale = Locale::negotiate(accept_language, &settings.default_locale);
    let money = |a: Amount| locale.money(cur, a);
    let page = SessionPage {
        shell: Shell::of(&settings, s.livemode),
        title: link.title.clone(),
        error,
        lines: s
            .line_items
            .iter()
            .map(|l| (l.name.clone(), l.quantity, money(l.amount_subtotal)))
            .collect(),
        tax: (s.amount_tax > Amount::ZERO).then(|| money(s.amount_tax)),
        total: money(s.amount_total),
        due_today: money(s.amount_due_today()),
        recurring: s.subscription.map(|t| {
            let every = crate::subscriptions::mail::every_of(t.interval, t.interval_count);
            let first = (t.trial_period_days > 0).then(|| {
                When::date(Timestamp::now().plus_seconds(i64::from(t.trial_period_days) * 86_400))
            });
            (every, first)
        }),
        trial: s.amount_due_today() == Amount::ZERO && s.subscription.is_some(),
        session_id: id.to_string(),
        secret: secret.to_owned(),
        accepts_card: link.payment_method_types.contains(&PaymentMethodType::Card),
        // A wallet payment cannot be kept for renewals: a recurring link takes cards.
        accepts_wallet: link.subscription.is_none()
            && link
                .payment_method_types
                .contains(&PaymentMethodType::Wallet),
        confirm_wallet,
        stripe_down: serves && stripe.is_none(),
        stripe,
    };
    let with_stripe = page.stripe.is_some();
    let res = page.shell.respond(status, page.render());
    if with_stripe {
        let c = &state.config;
        return Ok(super::furniture::allow_stripe(
            res,
            &c.stripe_js_url,
            &c.stripe_api_base,
        ));
    }
    Ok(res)
}

pub async fn session_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<SecretQuery>,
) -> Result<Response, ApiError> {
    let id =
        CheckoutSessionId::parse(&id).ok_or_else(|| ApiError::not_found("checkout session"))?;
    let error = q.error.as_deref().map(error_message);
    let lang = accept_language(&headers);
    render_session(
        &state,
        &id,
        &q.s,
        lang.as_deref(),
        error,
        false,
        StatusCode::OK,
    )
    .await
}

pub async fn session_submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let id =
        CheckoutSessionId::parse(&id).ok_or_else(|| ApiError::not_found("checkout session"))?;
    let get = |k: &str| field(&fields, k);
    let secret = get("s");
    let lang = accept_language(&headers);
    let lang = lang.as_deref();
    // A wallet pays only once the customer has confirmed the amount.
    if get("action") == "wallet" {
        return render_session(&state, &id, &secret, lang, None, true, StatusCode::OK).await;
    }
    let method = if get("action") == "wallet_confirm" {
        PaymentMethodIn {
            kind: PayMethodType::Wallet,
            card: None,
        }
    } else {
        match card_from_form(&get("card_number"), &get("card_exp"), &get("card_cvc")) {
            Ok(card) => PaymentMethodIn {
                kind: PayMethodType::Card,
                card: Some(card),
            },
            Err(msg) => {
                return render_session(
                    &state,
                    &id,
                    &secret,
                    lang,
                    Some(msg.into()),
                    false,
                    StatusCode::BAD_REQUEST,
                )
                .await
            }
        }
    };
    match pay(&state, &id, &secret, method).await {
        Ok(answer) => {
            let url = |key: &str| {
                answer
                    .body
                    .pointer(key)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            if let Some(u) = url("/redirect_url")
                .filter(|_| answer.succeeded())
                .or_else(|| url("/next_action/redirect_url"))
            {
                return Ok(Redirect::to(&u).into_response());
            }
            let message = url("/error/message").unwrap_or_else(|| "The payment failed".into());
            render_session(
                &state,
                &id,
                &secret,
                lang,
                Some(message),
                false,
                StatusCode::PAYMENT_REQUIRED,
            )
            .await
        }
        Err(e) if e.status == StatusCode::NOT_FOUND => Err(e),
        Err(e) => {
            let status = e.status;
            render_session(&state, &id, &secret, lang, Some(e.message), false, status).await
        }
    }
}
