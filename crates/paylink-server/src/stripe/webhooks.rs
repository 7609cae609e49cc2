//! `POST /webhooks/stripe/{merchant_id}`: what Stripe tells a merchant's Paylink.
//!
//! The `Stripe-Signature` is checked against the merchant's signing secrets (test and live:
//! the one that verifies decides the mode, and the event must say the same mode) with a
//! five-minute tolerance. Each event is handled once (its id is remembered per merchant,
//! after it was handled, and every handling is idempotent anyway), and nothing in it is
//! believed that Stripe cannot be asked again: a payment is recorded only from the
//! PaymentIntent read back from Stripe.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use secrecy::ExposeSecret;
use serde::Deserialize;

use paylink_domain::checkout::{Payment, Refund};
use paylink_domain::event::{Event, EventType};
use paylink_domain::id::{CheckoutSessionId, MerchantId, RefundId, SubscriptionId};
use paylink_domain::money::Amount;
use paylink_domain::time::Timestamp;
use paylink_processors::stripe::{from_stripe_amount, id_of, signature, META_KEY, META_SESSION};
use paylink_store::{StoreError, Tenant};

use crate::error::{ApiError, ApiResult};
use crate::json;
use crate::state::AppState;

#[derive(Deserialize)]
struct StripeEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    livemode: bool,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    object: serde_json::Value,
}

pub async fn receive(
    State(state): State<AppState>,
    Path(merchant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let merchant = MerchantId::parse(&merchant).ok_or_else(|| ApiError::not_found("merchant"))?;
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let now = Timestamp::now().unix();
    // The body names its mode; only that mode's secret is tried (and the body is believed
    // for nothing else until it verifies).
    #[derive(Deserialize)]
    struct Mode {
        #[serde(default)]
        livemode: bool,
    }
    let livemode = serde_json::from_slice::<Mode>(&body)
        .map(|m| m.livemode)
        .unwrap_or(false);
    let t = Tenant::stored(merchant.clone(), livemode);
    let verified = match super::credentials(&state, &t).await? {
        Some(c) => signature::verify(
            header,
            &body,
            c.webhook_secret.expose_secret(),
            now,
            signature::TOLERANCE_SECS,
        )
        .is_ok(),
        None => false,
    };
    let tenant = verified.then_some(t);
    let Some(t) = tenant else {
        return Err(ApiError::invalid(
            "signature_invalid",
            "Stripe-Signature",
            "The Stripe-Signature header does not verify with this merchant's signing secret (or is older than 5 minutes)",
        ));
    };
    let event: StripeEvent = serde_json::from_slice(&body)
        .map_err(|_| ApiError::invalid("parameter_invalid", "body", "Not a Stripe event"))?;
    if event.livemode != t.livemode() {
        return Err(ApiError::invalid(
            "parameter_invalid",
            "livemode",
            "The event's mode is not the mode of the secret that signed it",
        ));
    }
    if state.store.stripe_event_seen(&merchant, &event.id).await? {
        return Ok(received(true));
    }
    let object = &event.data.object;
    match event.kind.as_str() {
        "payment_intent.succeeded"
        | "payment_intent.payment_failed"
        | "setup_intent.succeeded"
        | "setup_intent.setup_failed" => {
            let session = object
                .get("metadata")
                .and_then(|m| m.get(META_SESSION))
                .and_then(|s| s.as_str())
                .and_then(CheckoutSessionId::parse);
            if let Some(id) = session {
                settle_session(&state, &t, &id).await?;
            }
        }
        "charge.refunded" => refunded(&state, &t, object).await?,
        "charge.dispute.created" => disputed(&state, &t, object).await?,
        // Everything else Stripe sends is not ours to act on.
        _ => {}
    }
    state
        .store
        .record_stripe_event(&merchant, &event.id, Timestamp::now())
        .await?;
    tracing::info!(merchant.id = %merchant, stripe.event = %event.id, kind = %event.kind, "Stripe event handled");
    Ok(received(false))
}

fn received(duplicate: bool) -> Response {
    json::ok(&serde_json::json!({"received": true, "duplicate": duplicate}))
}

/// Records what the session's PaymentIntent says now ([`super::checkout::look`]), for the
/// merchant and mode whose secret signed the event. Errors reach Stripe as a 5xx, and
/// Stripe sends the event again later; so does a session someone else is reading now.
pub async fn settle_session(state: &AppState, t: &Tenant, id: &CheckoutSessionId) -> ApiResult<()> {
    if super::checkout::look(state, t, id).await? == super::checkout::Looked::Busy {
        let mut e = ApiError::conflict("payment_in_progress", "Being recorded; send it again");
        e.retry_after = Some(5);
        return Err(e);
    }
    Ok(())
}

/// The payment a charge (or dispute) belongs to: through its PaymentIntent's session.
async fn payment_of(
    state: &AppState,
    t: &Tenant,
    object: &serde_json::Value,
) -> ApiResult<Option<Payment>> {
    let Some(pi) = id_of(object.get("payment_intent")) else {
        return Ok(None);
    };
    let (client, _) = super::client(state, t).await?;
    let intent = client
        .retrieve_intent(pi)
        .await
        .map_err(super::checkout::call_failed)?;
    // A renewal's PaymentIntent names its subscription's charge key
    // (`{sub}:p{period}:a{try}`): the payment is among that subscription's.
    if let Some(sub) = intent
        .metadata
        .get(META_KEY)
        .and_then(|k| k.split(':').next())
        .and_then(SubscriptionId::parse)
    {
        let found = match state.store.subscription_payments(t, &sub, 1_000).await {
            Ok(ps) => ps,
            Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        return Ok(found
            .into_iter()
            .find(|p| p.processor_reference.as_deref() == Some(intent.id.as_str())));
    }
    let Some(id) = intent
        .metadata
        .get(META_SESSION)
        .and_then(|s| CheckoutSessionId::parse(s))
    else {
        return Ok(None);
    };
    let rec = match state.store.get_checkout(&id).await {
        Ok(r) if &r.tenant == t => r,
        Ok(_) | Err(StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let Some(pid) = rec.session.payment_id else {
        return Ok(None);
    };
    let p = state.store.get_payment(t, &pid).await?;
    // Only the PaymentIntent that paid it speaks for the payment.
    Ok((p.processor_reference.as_deref() == Some(intent.id.as_str())).then_some(p))
}

/// A refund made at Stripe (its dashboard, or ours whose answer was lost) that we have not
/// recorded: recorded for the difference, so the payment says what Stripe says.
async fn refunded(state: &AppState, t: &Tenant, charge: &serde_json::Value) -> ApiResult<()> {
    let Some(p) = payment_of(state, t, charge).await? else {
        return Ok(());
    };
    let at_stripe = charge
        .get("amount_refunded")
        .and_then(|v| v.as_i64())
        .and_then(|a| from_stripe_amount(&p.currency, a))
        .and_then(Amount::new)
        .unwrap_or(Amount::ZERO);
    let Some(missing) = at_stripe
        .checked_sub(p.amount_refunded)
        .filter(|m| *m > Amount::ZERO)
    else {
        return Ok(());
    };
    let reference = charge
        .get("refunds")
        .and_then(|r| r.get("data"))
        .and_then(|d| d.get(0))
        .and_then(|r| r.get("id"))
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_owned();
    let r = Refund {
        id: RefundId::generate(),
        payment_id: p.id.clone(),
        amount: missing,
        currency: p.currency,
        reason: Some("made_at_stripe".into()),
        status: "succeeded".into(),
        processor_reference: reference,
        livemode: t.livemode(),
        created_at: Timestamp::now(),
    };
    match state.store.insert_refund(t, &r).await {
        Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The customer disputed a payment with their bank: the payment says so, and the merchant
/// gets `payment.disputed`, once.
async fn disputed(state: &AppState, t: &Tenant, dispute: &serde_json::Value) -> ApiResult<()> {
    let Some(mut p) = payment_of(state, t, dispute).await? else {
        return Ok(());
    };
    p.disputed = true;
    let ev = Event::new(
        EventType::PaymentDisputed,
        &p,
        t.livemode(),
        Timestamp::now(),
    );
    state.store.mark_payment_disputed(t, &p.id, &ev).await?;
    Ok(())
}
