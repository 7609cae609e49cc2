//! A checkout that starts a subscription: the card is saved with the processor for the
//! renewals, the first period is charged to the saved card unless there is a trial, and
//! the subscription is written with the checkout's payment.

use paylink_domain::checkout::{CardDetails, Payment};
use paylink_domain::event::Event;
use paylink_domain::id::SubscriptionId;
use paylink_domain::link::{PaymentLink, SubscriptionTerms};
use paylink_domain::money::Amount;
use paylink_domain::subscription::{Subscription, SubscriptionState, SubscriptionStatus};
use paylink_domain::time::Timestamp;
use paylink_processors::{
    ChargeOutcome, PaymentMethodData, ProcessorError, SaveMethodRequest, SaveOutcome,
    SavedChargeRequest, SavedMethod,
};
use paylink_store::CheckoutRecord;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Saves the customer's card under `key` (the attempt's) and, without a trial, charges the
/// first period to it under the same key the attempt's charge would have: a repeat of the
/// attempt (a resumed request, the worker settling it) asks about the same charge. A trial
/// charges nothing: the outcome is a success with no reference.
pub async fn save_and_charge(
    state: &AppState,
    rec: &CheckoutRecord,
    description: &str,
    terms: &SubscriptionTerms,
    key: &str,
    method: PaymentMethodData,
    resume: bool,
) -> Result<(ChargeOutcome, Option<SavedMethod>), ProcessorError> {
    let saved = match state
        .processor
        .save_method(SaveMethodRequest {
            idempotency_key: format!("{key}:save"),
            method,
        })
        .await?
    {
        SaveOutcome::Saved(m) => m,
        SaveOutcome::Declined { code, card } => {
            return Ok((ChargeOutcome::Declined { code, card }, None))
        }
    };
    if terms.trial_period_days > 0 {
        let card = Some(saved.card.clone());
        return Ok((
            ChargeOutcome::Succeeded {
                reference: String::new(),
                card,
            },
            Some(saved),
        ));
    }
    let known = match resume {
        true => state.processor.find_charge(key).await?,
        false => None,
    };
    let outcome = match known {
        Some(o) => o,
        None => {
            state
                .processor
                .charge_saved(SavedChargeRequest {
                    idempotency_key: key.to_owned(),
                    amount: rec.session.amount_total,
                    currency: rec.session.currency,
                    method: saved.reference.clone(),
                    description: description.to_owned(),
                })
                .await?
        }
    };
    // The saved method knows the card; an off-session answer may not say it again.
    let card = Some(saved.card.clone());
    let outcome = match outcome {
        ChargeOutcome::Succeeded { reference, .. } => ChargeOutcome::Succeeded { reference, card },
        ChargeOutcome::Declined { code, .. } => ChargeOutcome::Declined { code, card },
        ChargeOutcome::RequiresAction { .. } => ChargeOutcome::Declined {
            code: "authentication_required",
            card,
        },
    };
    Ok((outcome, Some(saved)))
}

/// The subscription a paid checkout starts, and its `subscription.created` event. The
/// checkout's payment `p` becomes the subscription's first (on a trial, a payment of 0
/// that records the card and sends the receipt saying what comes).
pub fn begin(
    rec: &CheckoutRecord,
    link: &PaymentLink,
    terms: &SubscriptionTerms,
    p: &mut Payment,
    card: Option<CardDetails>,
    now: Timestamp,
) -> ApiResult<(Subscription, SubscriptionState, Vec<Event>)> {
    let s = &rec.session;
    let transition = SubscriptionState::checkout(terms, now).map_err(|_| {
        ApiError::invalid(
            "parameter_invalid",
            "subscription",
            "This subscription's calendar runs past the year 9999",
        )
    })?;
    let trial = terms.trial_period_days > 0;
    let id = SubscriptionId::generate();
    p.subscription_id = Some(id.clone());
    if trial {
        p.amount = Amount::ZERO;
        p.amount_tax = Amount::ZERO;
        p.hsa_fsa_amount = Amount::ZERO;
        p.processor_reference = None;
    }
    let mut sub = Subscription {
        id,
        payment_link_id: link.id.clone(),
        checkout_session_id: s.id.clone(),
        customer_id: link.customer_id.clone(),
        customer: s.customer.clone(),
        status: SubscriptionStatus::Active,
        items: s.line_items.clone(),
        amount: s.amount_total,
        amount_tax: s.amount_tax,
        currency: s.currency,
        interval: terms.interval,
        interval_count: terms.interval_count,
        current_period_start: None,
        current_period_end: None,
        trial_end: None,
        cancel_at_period_end: false,
        canceled_at: None,
        next_charge_at: None,
        latest_payment_id: (!trial).then(|| p.id.clone()),
        payment_method: card,
        description: link.title.clone(),
        livemode: s.livemode,
        created_at: now,
    };
    sub.show(&transition.state);
    let events = super::engine::events_of(&transition.events, &sub, s.livemode, now);
    Ok((sub, transition.state, events))
}
