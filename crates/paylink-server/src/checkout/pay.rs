//! Paying a checkout session, so that a customer is never charged twice.
//!
//! 1. The attempt is recorded (`processing`, with its number) before the processor is
//!    called; only one request at a time can hold it.
//! 2. The processor is called with the key `{session}:{attempt}`, so repeating the call
//!    can never make a second charge.
//! 3. The outcome is recorded in one transaction with everything it changes.
//!
//! If the process dies between 2 and 3, the attempt stays `processing`; the next pay
//! request after `attempt_stale_after_secs` resumes it under the same key, asking the
//! processor what happened before charging again. A completed session answers its first
//! result to every later request.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use paylink_domain::checkout::{
    order_of, CardDetails, Payment, PaymentMethodDetails, PaymentStatus,
};
use paylink_domain::email::Email;
use paylink_domain::event::{Event, EventType};
use paylink_domain::id::{random_base62, CheckoutSessionId, OrderId, PaymentId};
use paylink_domain::link::{PaymentLink, PaymentMethodType};
use paylink_domain::money::Amount;
use paylink_domain::settings::MerchantSettings;
use paylink_domain::time::Timestamp;
use paylink_processors::{
    CardSummary, ChargeOutcome, ChargeRequest, PaymentMethodData, ProcessorError,
};
use paylink_store::{
    AttemptClaim, CheckoutRecord, Completing, Completion, LinkConfig, NewSubscription, StoreError,
    StoredResponse,
};

use super::api::{
    secret_hash, status_of, NextAction, NextActionType, PayError, PayMethodType, PayOut, PayStatus,
    PaymentMethodIn,
};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A pay answer: what the customer is told, kept so that it can be replayed.
#[derive(Debug, Clone)]
pub struct PayAnswer {
    pub status: u16,
    pub body: serde_json::Value,
}

impl PayAnswer {
    fn stored(s: &StoredResponse) -> Self {
        Self {
            status: s.status,
            body: serde_json::from_slice(&s.body).unwrap_or_default(),
        }
    }

    pub fn into_response(self) -> Response {
        let mut res = (status_of(self.status), self.body.to_string()).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        res
    }

    /// `402 failed` with the decline's code and message.
    pub fn declined(code: &str) -> Self {
        Self {
            status: 402,
            body: body_of(failed(code, decline_message(code))),
        }
    }

    /// `requires_action`: the customer finishes the payment at `url`.
    pub fn requires_action(url: String) -> Self {
        Self {
            status: 200,
            body: body_of(PayOut {
                next_action: Some(NextAction {
                    kind: NextActionType::Redirect,
                    redirect_url: url,
                }),
                ..PayOut::of(PayStatus::RequiresAction)
            }),
        }
    }

    pub fn succeeded(&self) -> bool {
        self.body.get("status").and_then(|s| s.as_str()) == Some("succeeded")
    }
}

/// Loads a session and checks the customer's secret.
pub async fn authorize(
    state: &AppState,
    id: &CheckoutSessionId,
    secret: &str,
) -> ApiResult<CheckoutRecord> {
    let rec = state
        .store
        .get_checkout(id)
        .await
        .map_err(session_missing)?;
    check_secret(&rec, secret)?;
    Ok(rec)
}

/// [`authorize`], with the session's link as configured, in one read.
pub async fn authorize_with_link(
    state: &AppState,
    id: &CheckoutSessionId,
    secret: &str,
) -> ApiResult<(CheckoutRecord, PaymentLink)> {
    let (rec, link) = state
        .store
        .get_checkout_with_link(id)
        .await
        .map_err(session_missing)?;
    check_secret(&rec, secret)?;
    let LinkConfig(link) = link.ok_or(StoreError::NotFound)?;
    Ok((rec, link))
}

fn session_missing(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found("checkout session"),
        e => e.into(),
    }
}

/// The customer's secret against the session's hash, in constant time.
fn check_secret(rec: &CheckoutRecord, secret: &str) -> ApiResult<()> {
    let given = secret_hash(secret);
    let same = given.len() == rec.secret_hash.len()
        && given
            .bytes()
            .zip(rec.secret_hash.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return Err(ApiError::not_found("checkout session"));
    }
    Ok(())
}

fn method_data(
    link: &PaymentLink,
    kind: PaymentMethodType,
    m: PaymentMethodIn,
) -> ApiResult<PaymentMethodData> {
    if link.subscription.is_some() && kind == PaymentMethodType::Wallet {
        return Err(ApiError::invalid(
            "payment_method_not_reusable",
            "payment_method.type",
            "A subscription is paid by card: renewals charge the card kept at checkout",
        ));
    }
    if !link.payment_method_types.contains(&kind) {
        return Err(ApiError::invalid(
            "payment_method_not_allowed",
            "payment_method.type",
            "This payment link does not accept that payment method",
        ));
    }
    match (kind, m.card) {
        (PaymentMethodType::Card, Some(c)) => Ok(PaymentMethodData::Card {
            number: c.number,
            exp_month: c.exp_month,
            exp_year: c.exp_year,
            cvc: c.cvc,
        }),
        (PaymentMethodType::Card, None) => Err(ApiError::invalid(
            "parameter_required",
            "payment_method.card",
            "Card details are required",
        )),
        (PaymentMethodType::Wallet, None) => Ok(PaymentMethodData::Wallet),
        (PaymentMethodType::Wallet, Some(_)) => Err(ApiError::invalid(
            "parameters_exclusive",
            "payment_method.card",
            "A wallet payment takes no card details",
        )),
    }
}

pub async fn pay(
    state: &AppState,
    id: &CheckoutSessionId,
    secret: &str,
    method: PaymentMethodIn,
) -> ApiResult<PayAnswer> {
    let kind = match method.kind {
        PayMethodType::Stripe => return crate::stripe::checkout::pay(state, id, secret).await,
        PayMethodType::Card => PaymentMethodType::Card,
        PayMethodType::Wallet => PaymentMethodType::Wallet,
    };
    // The usual case, a fresh session paid once, claims its attempt in the same statement
    // that reads it. Anything else (a wrong secret, an attempt under way or waiting for the
    // customer, a closed session) takes the steps below, which say why.
    if let Some((rec, link, attempt_no)) = state
        .store
        .claim_fresh_attempt(id, &secret_hash(secret), Timestamp::now())
        .await?
    {
        let checked = link
            .ok_or_else(|| ApiError::from(StoreError::NotFound))
            .and_then(|LinkConfig(link)| Ok((method_data(&link, kind, method)?, link)));
        let (data, link) = match checked {
            Ok(ok) => ok,
            Err(e) => {
                // Nothing was charged: the session is free for another try.
                state.store.end_attempt(id, attempt_no, None, &[]).await?;
                return Err(e);
            }
        };
        return charge(state, &rec, &link, attempt_no, kind, data, secret, false).await;
    }
    let (rec, link) = authorize_with_link(state, id, secret).await?;
    let data = method_data(&link, kind, method)?;
    match take_turn(state, id).await? {
        Turn::Finished(answer) => Ok(answer),
        Turn::Expired => Err(expired("This checkout expired; start again")),
        Turn::Ours { attempt_no, resume } => {
            charge(state, &rec, &link, attempt_no, kind, data, secret, resume).await
        }
    }
}

/// What a pay request may do with a session, once any request holding it has finished.
pub enum Turn {
    /// Paid already: the first answer.
    Finished(PayAnswer),
    /// The session ended; its holds are released.
    Expired,
    /// The attempt is this request's; `resume` when a dead request left it.
    Ours { attempt_no: i64, resume: bool },
}

/// Takes the session's attempt, waiting up to 10 s while another request pays it (then
/// `409 payment_in_progress`, with `Retry-After`).
pub async fn take_turn(state: &AppState, id: &CheckoutSessionId) -> ApiResult<Turn> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match state
            .store
            .begin_attempt(id, Timestamp::now(), state.config.attempt_stale_after_secs)
            .await?
        {
            AttemptClaim::Finished(s) => return Ok(Turn::Finished(PayAnswer::stored(&s))),
            AttemptClaim::Expired => return Ok(Turn::Expired),
            AttemptClaim::Claimed { attempt_no } => {
                return Ok(Turn::Ours {
                    attempt_no,
                    resume: false,
                })
            }
            AttemptClaim::Resume { attempt_no } => {
                return Ok(Turn::Ours {
                    attempt_no,
                    resume: true,
                })
            }
            AttemptClaim::Busy if tokio::time::Instant::now() < deadline => {
                // Another request is paying this session: wait for its answer.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            AttemptClaim::Busy => {
                let mut e = ApiError::conflict(
                    "payment_in_progress",
                    "This checkout is being paid right now",
                );
                e.retry_after = Some(1);
                return Err(e);
            }
        }
    }
}

/// `410 checkout_session_expired`, saying `message`.
pub fn expired(message: &str) -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        "gone",
        "checkout_session_expired",
        message,
    )
}

#[allow(clippy::too_many_arguments)]
async fn charge(
    state: &AppState,
    rec: &CheckoutRecord,
    link: &PaymentLink,
    attempt_no: i64,
    kind: PaymentMethodType,
    data: PaymentMethodData,
    secret: &str,
    resume: bool,
) -> ApiResult<PayAnswer> {
    let settings = state.public_settings(rec.tenant.merchant_id()).await?;
    if crate::stripe::serves(&settings, rec.session.livemode) {
        // Card details never reach Paylink for a seller on Stripe: Stripe.js takes them.
        state
            .store
            .end_attempt(&rec.session.id, attempt_no, None, &[])
            .await?;
        return Err(ApiError::invalid(
            "payment_method_not_allowed",
            "payment_method.type",
            "This seller takes payments through Stripe: confirm with Stripe.js, then pay with `{\"type\": \"stripe\"}`",
        ));
    }
    if rec.session.livemode {
        // The simulated processor serves test mode only: a live session is never "paid"
        // through it, whatever the settings say now.
        state
            .store
            .end_attempt(&rec.session.id, attempt_no, None, &[])
            .await?;
        return Err(live_not_enabled());
    }
    let key = attempt_key(&rec.session.id, attempt_no);
    let timeout = Duration::from_millis(state.config.processor_timeout_ms);
    let processor = state.processor.clone();
    let request = ChargeRequest {
        idempotency_key: key.clone(),
        amount: rec.session.amount_total,
        currency: rec.session.currency,
        method: data,
        hsa_fsa_eligible_amount: rec.session.hsa_fsa_amount,
        description: link.title.clone(),
    };
    let terms = rec.session.subscription.or(link.subscription);
    let call = async {
        if resume {
            tracing::warn!(checkout_session.id = %rec.session.id, attempt = attempt_no, "resuming an attempt left processing");
        }
        if let Some(terms) = &terms {
            // A subscription keeps the card for its renewals.
            let (method, description) = (request.method, request.description);
            return crate::subscriptions::start::save_and_charge(
                state,
                rec,
                &description,
                terms,
                &key,
                method,
                resume,
            )
            .await;
        }
        if resume {
            if let Some(known) = processor.find_charge(&key).await? {
                return Ok((known, None));
            }
        }
        processor.charge(request).await.map(|o| (o, None))
    };
    let outcome = match tokio::time::timeout(timeout, call).await {
        Ok(o) => o,
        Err(_) => {
            // We cannot know whether it charged: the attempt stays `processing` and the
            // next request reconciles it under the same key.
            tracing::warn!(checkout_session.id = %rec.session.id, "processor timed out");
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "processor_error",
                "processor_timeout",
                "The payment processor did not answer in time; try again in a moment",
            ));
        }
    };
    let (outcome, saved) = match outcome {
        Ok((o, saved)) => (Ok(o), saved),
        Err(e) => (Err(e), None),
    };
    let name = state.processor.name();
    settle(
        state, rec, link, attempt_no, kind, outcome, saved, secret, name,
    )
    .await
}

/// A live checkout without Stripe serving live mode.
pub fn live_not_enabled() -> ApiError {
    ApiError::conflict(
        "payments_not_enabled",
        "No payment processor is set up for live mode",
    )
}

fn card_details(card: &Option<CardSummary>) -> Option<CardDetails> {
    card.as_ref().map(|c| CardDetails {
        brand: c.brand.as_str().to_owned(),
        last4: c.last4.clone(),
        exp_month: c.exp_month,
        exp_year: c.exp_year,
    })
}

fn new_payment(
    rec: &CheckoutRecord,
    link: &PaymentLink,
    kind: PaymentMethodType,
    card: &Option<CardSummary>,
    processor: &str,
) -> Payment {
    let s = &rec.session;
    Payment {
        id: PaymentId::generate(),
        payment_link_id: link.id.clone(),
        checkout_session_id: s.id.clone(),
        order_id: link.order_id.clone(),
        subscription_id: None,
        amount: s.amount_total,
        amount_tax: s.amount_tax,
        amount_refunded: Amount::ZERO,
        currency: s.currency,
        status: PaymentStatus::Succeeded,
        failure_code: None,
        customer: s.customer.clone(),
        custom_fields: s.custom_fields.clone(),
        attribution: s.attribution.clone(),
        line_items: s.line_items.clone(),
        payment_method: PaymentMethodDetails {
            kind,
            card: card_details(card),
        },
        processor: processor.to_owned(),
        processor_reference: None,
        hsa_fsa_amount: s.hsa_fsa_amount,
        receipt_number: None,
        receipt_url: None,
        disputed: false,
        livemode: s.livemode,
        created_at: Timestamp::now(),
    }
}

/// The receipt e-mail of a payment, queued with it (held in the outbox without SMTP) and
/// composed when it is sent, or none when the customer gave no address or the merchant
/// sends no receipts.
fn receipt(state: &AppState, settings: &MerchantSettings, p: &Payment) -> Option<Email> {
    let (Some(to), true) = (&p.customer.email, settings.email_receipts) else {
        return None;
    };
    Some(Email::receipt_of(
        p,
        to,
        state.outbox_status(),
        Timestamp::now(),
    ))
}

/// The processor's idempotency key of a session's payment attempt: a retry of the attempt
/// (a resumed request, the worker) asks about the same charge.
pub fn attempt_key(session: &CheckoutSessionId, attempt_no: i64) -> String {
    format!("{session}:{attempt_no}")
}

/// Where the customer goes after paying: the link's `success_url` with
/// `{CHECKOUT_SESSION_ID}` and `{PAYMENT_ID}` filled in (ids are URL-safe), or the receipt.
pub fn redirect_url(
    link: &PaymentLink,
    session: &CheckoutSessionId,
    payment: &PaymentId,
    receipt_url: &str,
) -> String {
    match &link.success_url {
        Some(u) => u
            .replace("{CHECKOUT_SESSION_ID}", session.as_str())
            .replace("{PAYMENT_ID}", payment.as_str()),
        None => receipt_url.to_owned(),
    }
}

/// Records a processor outcome and makes the customer's answer. On a subscription link,
/// `saved` is the card kept for the renewals (`None` when the worker settles an attempt
/// it cannot know the card of: the first renewal then asks the customer for one).
#[allow(clippy::too_many_arguments)]
pub async fn settle(
    state: &AppState,
    rec: &CheckoutRecord,
    link: &PaymentLink,
    attempt_no: i64,
    kind: PaymentMethodType,
    outcome: Result<ChargeOutcome, ProcessorError>,
    saved: Option<paylink_processors::SavedMethod>,
    secret: &str,
    processor: &str,
) -> ApiResult<PayAnswer> {
    let id = &rec.session.id;
    let t = &rec.tenant;
    match outcome {
        Ok(ChargeOutcome::Succeeded { reference, card }) => {
            let mut p = new_payment(rec, link, kind, &card, processor);
            p.processor_reference = Some(reference);
            let terms = rec.session.subscription.or(link.subscription);
            let now = p.created_at;
            let started = match &terms {
                Some(terms) => Some(crate::subscriptions::start::begin(
                    rec,
                    link,
                    terms,
                    &mut p,
                    card_details(&card),
                    now,
                )?),
                None => None,
            };
            // Orders are the one list of what was sold: a payment that pays no order makes
            // one, unless the merchant turned that off (a trial sells nothing yet).
            let settings = state.public_settings(t.merchant_id()).await?;
            let sells = p.amount > Amount::ZERO || terms.is_none();
            let new_order = (p.order_id.is_none() && settings.create_orders && sells).then(|| {
                let o = order_of(
                    &p,
                    OrderId::generate(),
                    link.customer_id.clone(),
                    link.tax.pricing_mode,
                );
                p.order_id = Some(o.id.clone());
                o
            });
            let receipt_token = random_base62();
            let receipt_url = format!("{}/r/{}?t={receipt_token}", state.public_url, p.id);
            p.receipt_url = Some(receipt_url.clone());
            let body = body_of(PayOut {
                payment_id: Some(p.id.clone()),
                redirect_url: Some(redirect_url(link, id, &p.id, &receipt_url)),
                receipt_url: Some(receipt_url.clone()),
                ..PayOut::of(PayStatus::Succeeded)
            });
            let stored = StoredResponse {
                status: 200,
                body: body.to_string().into_bytes(),
            };
            let receipt = receipt(state, &settings, &p);
            let link_url = format!("{}/l/{}", state.public_url, link.slug.as_str());
            let completing = Completing {
                session: &rec.session,
                attempt_no,
                payment: &p,
                response: &stored,
                receipt_token: Some(&receipt_token),
                link_url: &link_url,
                link_limited: link.payments_limit.is_some(),
                new_order: new_order.as_ref(),
                subscription: started.as_ref().map(|(sub, st, events)| NewSubscription {
                    subscription: sub,
                    state: st,
                    method_ref: saved.as_ref().map(|m| m.reference.as_str()),
                    events,
                }),
                receipt: receipt.as_ref(),
                collected: if p.currency == link.currency {
                    p.amount
                } else {
                    Amount::ZERO
                },
            };
            match state.store.complete_checkout(t, &completing).await? {
                Completion::Recorded(p) => {
                    // Pages show a limited link's uses and its products' stock: those changed.
                    // Nothing they show of any other link depends on its payments.
                    if link.line_items.iter().any(|l| l.product_id.is_some()) {
                        state.links_cache.forget_all();
                    } else if link.payments_limit.is_some() {
                        state.links_cache.forget(link.slug.as_str());
                    }
                    tracing::info!(payment.id = %p.id, checkout_session.id = %id, amount = p.amount.minor(), "payment succeeded");
                    Ok(PayAnswer { status: 200, body })
                }
                Completion::AlreadyComplete(first) => Ok(PayAnswer::stored(&first)),
            }
        }
        Ok(ChargeOutcome::Declined { code, card }) => {
            let mut p = new_payment(rec, link, kind, &card, processor);
            p.status = PaymentStatus::Failed;
            p.failure_code = Some(code.to_owned());
            let ev = Event::new(EventType::PaymentFailed, &p, t.livemode(), p.created_at);
            state
                .store
                .end_attempt(id, attempt_no, Some(&p), &[ev])
                .await?;
            Ok(PayAnswer::declined(code))
        }
        Ok(ChargeOutcome::RequiresAction { reference, .. }) => {
            state
                .store
                .attempt_requires_action(id, attempt_no, &reference)
                .await?;
            let url = format!("{}/c/{}/authenticate?s={}", state.public_url, id, secret);
            Ok(PayAnswer::requires_action(url))
        }
        Err(ProcessorError::Invalid(code)) => {
            state.store.end_attempt(id, attempt_no, None, &[]).await?;
            let message = match code {
                "invalid_card_number" => "The card number is not valid",
                "invalid_expiry" => "The expiry date is not valid",
                "invalid_cvc" => "The security code is not valid",
                _ => "The payment details are not valid",
            };
            let param = match code {
                "invalid_expiry" => "payment_method.card.exp_month",
                "invalid_cvc" => "payment_method.card.cvc",
                _ => "payment_method.card.number",
            };
            Err(ApiError::invalid(code, param, message))
        }
        Err(ProcessorError::Retryable(code)) => {
            // A retryable error means nothing was charged: the session is free to try again.
            state.store.end_attempt(id, attempt_no, None, &[]).await?;
            let body = body_of(PayOut {
                retryable: Some(true),
                ..failed(code, "The payment could not be processed; please try again")
            });
            Ok(PayAnswer { status: 402, body })
        }
    }
}

/// A declined payment's answer.
fn failed(code: &str, message: &str) -> PayOut {
    PayOut {
        decline_code: Some(code.to_owned()),
        error: Some(PayError {
            kind: "processor_error".into(),
            code: code.to_owned(),
            message: message.to_owned(),
            param: None,
        }),
        ..PayOut::of(PayStatus::Failed)
    }
}

/// An answer as it is sent and kept: the document's `PayOut`, nothing else.
fn body_of(out: PayOut) -> serde_json::Value {
    serde_json::to_value(out).unwrap_or_default()
}

pub fn decline_message(code: &str) -> &'static str {
    match code {
        "insufficient_funds" => "Your card has insufficient funds",
        "expired_card" => "Your card has expired",
        "hsa_fsa_ineligible" => "This HSA/FSA card can only pay for eligible items",
        "authentication_failed" => "The card's authentication failed",
        _ => "Your card was declined",
    }
}
