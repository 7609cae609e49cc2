//! Paying a checkout session through Stripe.
//!
//! 1. The session gets one PaymentIntent, made once (Stripe `Idempotency-Key`
//!    `paylink_{session}`, kept per session, first one wins) for the amount due today, with
//!    our session's id in its metadata.
//! 2. The customer's browser confirms it with Stripe.js (the Payment Element; 3-D Secure
//!    is Stripe's `next_action`, run by Stripe.js). Card details go to Stripe only.
//! 3. Paylink records the payment only after it has read the PaymentIntent from Stripe
//!    itself and found it `succeeded`, for this session, amount and currency: whoever asks
//!    first (the page's pay call, Stripe's webhook, the worker's reconciliation) takes the
//!    session's attempt and records it; the others get the first answer.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use paylink_domain::checkout::CheckoutSession;
use paylink_domain::id::CheckoutSessionId;
use paylink_domain::link::{PaymentLink, PaymentMethodType};
use paylink_domain::money::Amount;
use paylink_domain::time::Timestamp;
use paylink_processors::stripe::{
    decline_code, saved_reference, stripe_amount, CallError, Intent, NewIntent, SetupIntent,
    META_SESSION,
};
use paylink_processors::{ChargeOutcome, SavedMethod};
use paylink_store::{CheckoutRecord, StripeIntent, Tenant};

use crate::checkout::pay::{authorize_with_link, expired, settle, take_turn, PayAnswer, Turn};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// What Stripe.js needs to show the Payment Element for a session.
#[derive(Serialize, Deserialize, utoipa::ToSchema, Clone, Debug)]
pub struct StripeSession {
    /// The PaymentIntent's client secret, for `stripe.elements({clientSecret})`.
    pub payment_intent_client_secret: String,
    pub publishable_key: String,
}

fn secret_context(id: &CheckoutSessionId) -> String {
    format!("stripe_intents:{id}")
}

/// Stripe could not be reached, or refused the call: what the customer is told. Nothing
/// was charged; the checkout is kept and the same call may be made again.
pub fn call_failed(e: CallError) -> ApiError {
    match e {
        CallError::Stripe { status: 401, .. } => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "processor_error",
            "processor_auth_failed",
            "The seller's Stripe account refused our keys; nothing was charged",
        ),
        CallError::Stripe { status, error } if status < 500 && status != 409 && status != 429 => {
            tracing::warn!(status, code = ?error.code, "Stripe refused a call");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "processor_error",
                "processor_refused",
                format!("Stripe refused the payment: {}", error.message),
            )
        }
        _ => {
            let mut e = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "processor_error",
                "processor_unavailable",
                "Stripe could not be reached; nothing was charged. Try again in a moment",
            );
            e.retry_after = Some(2);
            e
        }
    }
}

/// Stripe could not be read after the customer may have paid: never "nothing was
/// charged", for it may have been. The worker and Stripe's webhook record it when it was.
fn unconfirmed(e: CallError) -> ApiError {
    tracing::warn!(error = ?e, "reading a PaymentIntent from Stripe failed");
    let mut err = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "processor_error",
        "processor_unavailable",
        "We could not confirm your payment with Stripe yet. Do not pay again: reload this page in a moment",
    );
    err.retry_after = Some(5);
    err
}

/// The session's PaymentIntent for Stripe.js: made now if it has none yet.
pub async fn intent_for(
    state: &AppState,
    t: &Tenant,
    session: &CheckoutSession,
    description: &str,
) -> ApiResult<StripeSession> {
    let (client, creds) = super::client(state, t).await?;
    let open = |sealed: &str| {
        state
            .sealer
            .open(sealed, &secret_context(&session.id))
            .map_err(ApiError::internal)
    };
    if let Some((_, i)) = state.store.get_stripe_intent(&session.id).await? {
        return Ok(StripeSession {
            payment_intent_client_secret: open(&i.client_secret_sealed)?,
            publishable_key: creds.publishable_key,
        });
    }
    let merchant = t.merchant_id().to_string();
    let metadata = [
        (META_SESSION, session.id.as_str()),
        ("paylink_merchant", merchant.as_str()),
    ];
    let key = format!("paylink_{}", session.id);
    // A subscription keeps the card at Stripe, on a customer of its own, for renewals
    // charged off-session: a trial only saves it (a SetupIntent), else the first period's
    // PaymentIntent saves it too.
    let customer = match session.subscription {
        Some(_) => Some(
            client
                .create_customer(
                    session.customer.email.as_deref(),
                    &format!("{key}_customer"),
                )
                .await
                .map_err(call_failed)?,
        ),
        None => None,
    };
    let trial = customer.is_some() && session.amount_due_today() == Amount::ZERO;
    let (made, secret) = match &customer {
        Some(c) if trial => {
            let si = client
                .create_setup_intent(c, &metadata, &key)
                .await
                .map_err(call_failed)?;
            (si.id, si.client_secret)
        }
        _ => {
            let amount = stripe_amount(&session.currency, session.amount_due_today().minor())
                .ok_or_else(|| {
                    ApiError::conflict(
                        "currency_not_supported",
                        format!(
                            "Stripe cannot take {} in {} exactly; the seller must price it otherwise",
                            session.currency.format(session.amount_due_today()),
                            session.currency.code()
                        ),
                    )
                })?;
            let n = NewIntent {
                amount,
                currency: session.currency.code().to_ascii_lowercase(),
                description,
                metadata: &metadata,
                customer: customer.as_deref(),
                setup_future_usage: customer.is_some(),
                off_session: None,
            };
            let pi = client.create_intent(&n, &key).await.map_err(call_failed)?;
            (pi.id, pi.client_secret)
        }
    };
    let secret = secret
        .ok_or_else(|| ApiError::internal("Stripe answered an intent without its client secret"))?;
    let now = Timestamp::now();
    let kept = state
        .store
        .put_stripe_intent(
            t,
            &StripeIntent {
                checkout_session_id: session.id.clone(),
                intent_id: made,
                client_secret_sealed: state.sealer.seal(&secret, &secret_context(&session.id)),
                created_at: now,
                check_after: now.plus_seconds(state.config.stripe_check_after_secs),
            },
        )
        .await?;
    Ok(StripeSession {
        payment_intent_client_secret: open(&kept.client_secret_sealed)?,
        publishable_key: creds.publishable_key,
    })
}

/// `POST …/pay` with `payment_method: {type: "stripe"}`: reads the PaymentIntent from
/// Stripe and answers as for cards.
pub async fn pay(state: &AppState, id: &CheckoutSessionId, secret: &str) -> ApiResult<PayAnswer> {
    let (rec, link) = authorize_with_link(state, id, secret).await?;
    match take_turn(state, id).await? {
        Turn::Finished(answer) => Ok(answer),
        Turn::Ours { attempt_no, .. } => {
            settle_intent(state, &rec, &link, attempt_no, secret).await
        }
        Turn::Expired => {
            // Its PaymentIntent must take no money now; one that did after the end is
            // refunded, and the customer is told.
            let refunded = match state.store.get_stripe_intent(id).await? {
                Some((t, si)) => super::reconcile::ended(state, &t, &si)
                    .await
                    .is_ok_and(|e| e == super::reconcile::Ended::Refunded),
                None => false,
            };
            Err(expired(if refunded {
                "This checkout ended before your payment completed: the payment is refunded in full. Start again"
            } else {
                "This checkout expired; start again"
            }))
        }
    }
}

/// Under the session's attempt `attempt_no`: reads the PaymentIntent from Stripe and
/// records what it says (a payment, a decline), or lets the attempt go.
pub async fn settle_intent(
    state: &AppState,
    rec: &CheckoutRecord,
    link: &PaymentLink,
    attempt_no: i64,
    secret: &str,
) -> ApiResult<PayAnswer> {
    let id = &rec.session.id;
    let release = || async { state.store.end_attempt(id, attempt_no, None, &[]).await };
    let read = async {
        let (_, si) = state.store.get_stripe_intent(id).await?.ok_or_else(|| {
            ApiError::conflict(
                "payment_not_confirmed",
                "This checkout has no Stripe payment yet: open its page to pay",
            )
        })?;
        let (client, _) = super::client(state, &rec.tenant).await?;
        let intent = if si.intent_id.starts_with("seti_") {
            let setup = client
                .retrieve_setup_intent(&si.intent_id)
                .await
                .map_err(unconfirmed)?;
            as_intent(setup, &rec.session)
        } else {
            client
                .retrieve_intent(&si.intent_id)
                .await
                .map_err(unconfirmed)?
        };
        check_ours(&intent, &rec.session)?;
        Ok::<_, ApiError>((client, intent))
    };
    let (client, intent) = match read.await {
        Ok(r) => r,
        // Stripe did not answer: it may have the money. The attempt stays `processing`, so
        // the session cannot end meanwhile (an ended session's intent is refunded), and
        // whoever comes next after `attempt_stale_after_secs` (the customer, the webhook,
        // the worker) asks Stripe again.
        Err(e) if e.code == "processor_unavailable" => return Err(e),
        Err(e) => {
            release().await?;
            return Err(e);
        }
    };
    let mut saved = None;
    let outcome = match intent.status.as_str() {
        "succeeded" => {
            let card = match intent.payment_method_id() {
                Some(pm) => client.card_of(pm).await.ok().flatten(),
                None => None,
            };
            if rec.session.subscription.is_some() && card.is_none() {
                // A subscription starts with the card its renewals charge, or not yet; the
                // attempt stays `processing` for the next one to ask again (as above).
                return Err(unconfirmed(CallError::Unreachable));
            }
            // A subscription's card, kept at Stripe for the renewals.
            if let (Some(_), Some(cus), Some(pm), Some(card)) = (
                rec.session.subscription,
                intent.customer_id(),
                intent.payment_method_id(),
                &card,
            ) {
                saved = Some(SavedMethod {
                    reference: saved_reference(cus, pm),
                    card: card.clone(),
                });
            }
            ChargeOutcome::Succeeded {
                reference: intent.id.clone(),
                card,
            }
        }
        "requires_payment_method" | "canceled" if intent.last_payment_error.is_some() => {
            let error = intent.last_payment_error.clone().unwrap_or_default();
            let key = error
                .charge
                .clone()
                .or_else(|| intent.payment_method_id().map(str::to_owned))
                .unwrap_or_else(|| error.message.clone());
            let code = decline_code(&error);
            if !state.store.note_stripe_failure(id, &key).await? {
                // This decline was recorded already: answer it, record nothing more.
                release().await?;
                return Ok(PayAnswer::declined(code));
            }
            ChargeOutcome::Declined { code, card: None }
        }
        "requires_action" => {
            release().await?;
            let url = format!("{}/c/{}?s={}", state.public_url, id, secret);
            return Ok(PayAnswer::requires_action(url));
        }
        "processing" => {
            release().await?;
            let mut e = ApiError::conflict(
                "payment_processing",
                "Stripe is still processing this payment; ask again in a moment",
            );
            e.retry_after = Some(2);
            return Err(e);
        }
        _ => {
            release().await?;
            return Err(ApiError::conflict(
                "payment_not_confirmed",
                "The payment was not confirmed with Stripe yet",
            ));
        }
    };
    let paid = matches!(outcome, ChargeOutcome::Succeeded { .. });
    // What Stripe was asked for is the session's terms, whatever the link says now (a
    // donation made recurring while this checkout was open is paid as it was opened).
    let mut as_opened = link.clone();
    as_opened.subscription = rec.session.subscription;
    let answer = settle(
        state,
        rec,
        &as_opened,
        attempt_no,
        PaymentMethodType::Card,
        Ok(outcome),
        saved,
        secret,
        super::STRIPE,
    )
    .await?;
    if paid {
        state.store.close_stripe_intent(id).await?;
    }
    Ok(answer)
}

/// A SetupIntent read as the PaymentIntent of nothing due today (a trial): the same
/// statuses, the card to keep, no amount.
fn as_intent(s: SetupIntent, session: &CheckoutSession) -> Intent {
    Intent {
        id: s.id,
        status: s.status,
        amount: 0,
        currency: session.currency.code().to_ascii_lowercase(),
        client_secret: None,
        metadata: s.metadata,
        latest_charge: None,
        payment_method: s.payment_method,
        customer: s.customer,
        last_payment_error: s.last_setup_error,
        livemode: false,
    }
}

/// A PaymentIntent is believed only for the session it names, at its amount and currency:
/// the amount the customer saw is the amount recorded.
fn check_ours(i: &Intent, s: &CheckoutSession) -> ApiResult<()> {
    let due = if i.id.starts_with("seti_") {
        Some(0)
    } else {
        stripe_amount(&s.currency, s.amount_due_today().minor())
    };
    let ours = i.metadata.get(META_SESSION).map(String::as_str) == Some(s.id.as_str())
        && Some(i.amount) == due
        && i.currency.eq_ignore_ascii_case(s.currency.code());
    if ours {
        return Ok(());
    }
    tracing::error!(checkout_session.id = %s.id, payment_intent = %i.id, "a PaymentIntent does not match its session");
    Err(ApiError::new(
        StatusCode::BAD_GATEWAY,
        "processor_error",
        "processor_mismatch",
        "Stripe's payment does not match this checkout; nothing was recorded",
    ))
}

/// What a look at a session's intent did ([`look`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Looked {
    /// A payment Stripe took was recorded now.
    Recorded,
    /// Nothing more to look at: recorded before, or the session ended and its intent is
    /// cancelled (or refunded).
    Closed,
    /// Another request holds the session's attempt right now.
    Busy,
    /// Not paid yet (or Stripe could not say): looked at again later.
    Open,
}

/// Records what the session's intent says now, unless someone else is doing so or did;
/// an ended session's intent is cancelled, or refunded if it took money after the end. The
/// webhook and the worker's reconciliation both look this way. `tenant`: the only tenant
/// whose session it may be (the webhook's signer).
pub async fn look(state: &AppState, tenant: &Tenant, id: &CheckoutSessionId) -> ApiResult<Looked> {
    let (rec, link) = match state.store.get_checkout_with_link(id).await {
        Ok(found) => found,
        Err(paylink_store::StoreError::NotFound) => return Ok(Looked::Closed),
        Err(e) => return Err(e.into()),
    };
    if &rec.tenant != tenant {
        return Ok(Looked::Closed);
    }
    if rec.session.status == paylink_domain::checkout::SessionStatus::Complete {
        state.store.close_stripe_intent(id).await?;
        return Ok(Looked::Closed);
    }
    let now = Timestamp::now();
    match state
        .store
        .begin_attempt(id, now, state.config.attempt_stale_after_secs)
        .await?
    {
        paylink_store::AttemptClaim::Finished(_) => {
            state.store.close_stripe_intent(id).await?;
            Ok(Looked::Closed)
        }
        paylink_store::AttemptClaim::Busy => Ok(Looked::Busy),
        paylink_store::AttemptClaim::Claimed { attempt_no }
        | paylink_store::AttemptClaim::Resume { attempt_no } => {
            let Some(link) = link else {
                state.store.end_attempt(id, attempt_no, None, &[]).await?;
                return Ok(Looked::Open);
            };
            match settle_intent(state, &rec, &link.0, attempt_no, "").await {
                Ok(answer) if answer.succeeded() => Ok(Looked::Recorded),
                Ok(_) => Ok(Looked::Open),
                // Not confirmed yet, still processing: the page or a later look finishes.
                Err(e) if e.status.is_client_error() => Ok(Looked::Open),
                Err(e) => Err(e),
            }
        }
        paylink_store::AttemptClaim::Expired => {
            let Some((t, si)) = state.store.get_stripe_intent(id).await? else {
                return Ok(Looked::Closed);
            };
            match super::reconcile::ended(state, &t, &si).await {
                Ok(super::reconcile::Ended::StillOpen) => Ok(Looked::Open),
                Ok(_) => Ok(Looked::Closed),
                Err(e) => Err(ApiError::internal(e)),
            }
        }
    }
}
