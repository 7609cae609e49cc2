//! Running what is due on a subscription: renewals, retries, notices, the end.
//!
//! Whoever acts (the worker at the real time, a test clock up to the time it was asked
//! for) first claims the subscription, so only one does at a time. Then, one action at a
//! time: the domain says what is due ([`SubscriptionState::next_due`]); a charge goes to
//! the processor under the action's [`ChargeKey`](paylink_domain::subscription::ChargeKey);
//! the outcome is applied ([`SubscriptionState::apply`]) and written with its payment,
//! events and e-mails in one transaction, still under the claim. A process killed after
//! the processor answered leaves its claim to run out; the next claimer asks again with
//! the same key and is told the first outcome: a period is charged once.

use std::time::Duration;

use paylink_domain::checkout::{Payment, PaymentMethodDetails, PaymentStatus};
use paylink_domain::email::Email;
use paylink_domain::event::{Event, EventType};
use paylink_domain::id::{random_base62, PaymentId};
use paylink_domain::link::PaymentMethodType;
use paylink_domain::money::Amount;
use paylink_domain::subscription::{ChargeOutcome as Outcome, SubscriptionEvent};
pub use paylink_domain::subscription::{Due, DueAction};
use paylink_domain::time::Timestamp;
use paylink_processors::{ChargeOutcome, ProcessorError, SavedChargeRequest};
use paylink_store::{SubscriptionClaim, SubscriptionRecord, SubscriptionStep};

use crate::state::AppState;

/// The most actions one claim takes: a test clock advanced by years on a daily plan stops
/// here (and says so); the worker comes back for the rest.
pub const MAX_ACTIONS: usize = 2_000;

/// Whose time the actions are done at.
#[derive(Clone, Copy, Debug)]
pub enum Clock {
    /// The worker: what is due now, done now.
    Real,
    /// A test clock moving to `to`: each action at the time it fell due (or at the time of
    /// the one before, if later), as if the time had passed.
    AdvanceTo(Timestamp),
}

/// Why running a subscription stopped before everything due was done.
#[derive(Debug)]
pub enum Stopped {
    /// The processor could not be reached or did not answer in time: nothing was decided,
    /// the same key is asked again next time.
    Processor(&'static str),
    /// Someone else took the claim (it ran out): they carry on.
    ClaimLost,
    /// [`MAX_ACTIONS`] were done.
    TooMany,
    Failed(anyhow::Error),
}

/// How long a claim lasts past each action's start: the processor's timeout and a margin.
pub fn lease(state: &AppState) -> i64 {
    let timeout = state.config.processor_timeout_ms.div_ceil(1000);
    i64::try_from(timeout).unwrap_or(60).saturating_add(5)
}

/// Does what is due on a claimed subscription, one action at a time, and lets go of the
/// claim. Returns the record as it stands after, and why it stopped early if it did.
pub async fn run(
    state: &AppState,
    mut claim: SubscriptionClaim,
    clock: Clock,
) -> (SubscriptionRecord, Option<Stopped>) {
    let mut last = match clock {
        Clock::Real => Timestamp::now(),
        Clock::AdvanceTo(_) => claim.record.clock.unwrap_or_else(Timestamp::now),
    };
    let mut stopped = None;
    let mut done = 0;
    let mut released = false;
    loop {
        let horizon = match clock {
            Clock::Real => Timestamp::now(),
            Clock::AdvanceTo(to) => to,
        };
        let Some(due) = claim.record.state.next_due(horizon) else {
            break;
        };
        if done >= MAX_ACTIONS {
            stopped = Some(Stopped::TooMany);
            break;
        }
        let at = match clock {
            Clock::Real => Timestamp::now(),
            Clock::AdvanceTo(_) => due.at.max(last),
        };
        // A test clock keeps up with each action, so an advance cut short (a processor
        // timeout, a crash) leaves the subscription's time where its billing stands.
        let clock_now = matches!(clock, Clock::AdvanceTo(_)).then_some(at);
        // The worker lets go of the claim with the last action (one commit less).
        let release_by = matches!(clock, Clock::Real).then_some(horizon);
        let how = Writing {
            clock: clock_now,
            release_by,
        };
        match act(state, &claim, &due, at, how, None).await {
            Ok((record, true)) => {
                claim.record = record;
                released = true;
                break;
            }
            Ok((record, false)) => claim.record = record,
            Err(e) => {
                stopped = Some(e);
                break;
            }
        }
        last = at;
        done += 1;
    }
    // The test clock's time is kept, so that the next advance starts from it.
    let clock_at = match (clock, &stopped) {
        (Clock::AdvanceTo(to), None) => Some(to),
        _ => None,
    };
    // After a processor that did not answer, the claim is kept until it runs out: a charge
    // the processor may still complete is not raced by a cancel, which asks about it after.
    let unsure = matches!(stopped, Some(Stopped::ClaimLost | Stopped::Processor(_)));
    if !released && !unsure {
        let r = match clock_at {
            Some(to) => finish(state, &claim, to).await.map(|()| {
                claim.record.clock = Some(to);
            }),
            None => state
                .store
                .release_subscription(&claim)
                .await
                .map_err(anyhow::Error::from),
        };
        if let Err(e) = r {
            tracing::warn!(subscription.id = %claim.record.subscription.id, error = %e, "letting go of a subscription failed");
        }
    }
    (claim.record, stopped)
}

/// Lets go of the claim, writing the test clock's new time.
async fn finish(state: &AppState, claim: &SubscriptionClaim, to: Timestamp) -> anyhow::Result<()> {
    let r = &claim.record;
    let step = SubscriptionStep {
        subscription: &r.subscription,
        state: &r.state,
        method_ref: None,
        clock: Some(to),
        payment: None,
        receipt_token: None,
        events: &[],
        emails: &[],
        keep_until: None,
    };
    state.store.record_subscription_step(claim, &step).await?;
    Ok(())
}

/// Before a request changes a claimed subscription: the charge due that an earlier holder
/// may have made without living to record it (a processor that timed out, a crash, a
/// database that stalled past the claim) is looked up under its key, never made, and
/// recorded if the processor knows it. The record after, or as it was.
pub async fn record_made_charge(
    state: &AppState,
    claim: &SubscriptionClaim,
    at: Timestamp,
) -> Result<SubscriptionRecord, Stopped> {
    let r = &claim.record;
    let Some(due) = r.state.next_due(at) else {
        return Ok(r.clone());
    };
    let Some(key) = due.action.charge_key(&r.subscription.id) else {
        return Ok(r.clone());
    };
    let timeout = Duration::from_millis(state.config.processor_timeout_ms);
    let processor = crate::stripe::processor_keeping(state, &r.tenant, r.method_ref.as_deref())
        .await
        .map_err(|_| Stopped::Processor("processor_unavailable"))?;
    let lookup = async {
        match r.method_ref.as_deref() {
            Some(m) => processor.find_saved_charge(key.as_str(), m).await,
            None => processor.find_charge(key.as_str()).await,
        }
    };
    let known = match tokio::time::timeout(timeout, lookup).await {
        Ok(Ok(known)) => known,
        Ok(Err(_)) | Err(_) => return Err(Stopped::Processor("processor_unavailable")),
    };
    match known {
        Some(outcome) => {
            tracing::warn!(subscription.id = %r.subscription.id, key = %key, "a charge made before the last holder of the subscription could record it is recorded now");
            let at = due.at.max(at.min(Timestamp::now()));
            let how = Writing {
                clock: None,
                release_by: None,
            };
            act(state, claim, &due, at, how, Some(outcome))
                .await
                .map(|(r, _)| r)
        }
        None => Ok(r.clone()),
    }
}

/// How an action's step is written.
#[derive(Clone, Copy)]
struct Writing {
    /// The test clock's time, if moving one.
    clock: Option<Timestamp>,
    /// Let go of the claim with the step if nothing more is due by then.
    release_by: Option<Timestamp>,
}

/// One action, done at `at` and written as `how` says; the record after it, and whether
/// the claim was let go. A charge goes to the processor unless its outcome is `known`
/// already.
async fn act(
    state: &AppState,
    claim: &SubscriptionClaim,
    due: &Due,
    at: Timestamp,
    how: Writing,
    known: Option<ChargeOutcome>,
) -> Result<(SubscriptionRecord, bool), Stopped> {
    let clock = how.clock;
    let r = &claim.record;
    let settings = state
        .public_settings(r.tenant.merchant_id())
        .await
        .map_err(|e| Stopped::Failed(anyhow::anyhow!("{e}")))?;
    let key = due.action.charge_key(&r.subscription.id);
    let charged = match (&key, known) {
        (Some(_), Some(k)) => Some(k),
        (Some(key), None) => {
            // The claim is checked and kept for the whole call in one write just before it:
            // a holder that stalled past its claim (which a cancel may have taken) charges
            // nothing.
            let now = Timestamp::now();
            let held = state
                .store
                .renew_subscription_claim(claim, now, now.plus_seconds(lease(state)))
                .await
                .map_err(|e| Stopped::Failed(e.into()))?;
            if !held {
                return Err(Stopped::ClaimLost);
            }
            Some(charge(state, r, key.as_str()).await?)
        }
        (None, _) => None,
    };
    let outcome = charged.as_ref().map(|c| match c {
        ChargeOutcome::Succeeded { .. } => Outcome::Succeeded,
        _ => Outcome::Failed,
    });
    let transition = r
        .state
        .apply(due, at, outcome, &settings.dunning())
        .map_err(|e| Stopped::Failed(anyhow::anyhow!("refused: {}", e.as_str())))?;
    let mut sub = r.subscription.clone();
    sub.show(&transition.state);
    let release = how
        .release_by
        .is_some_and(|by| transition.state.next_due(by).is_none());
    let payment = charged
        .as_ref()
        .map(|c| payment_of(state, r, c, at))
        .transpose()
        .map_err(Stopped::Failed)?;
    let receipt_token = payment
        .as_ref()
        .filter(|p| p.status == PaymentStatus::Succeeded)
        .map(|_| random_base62());
    let payment = payment.map(|mut p| {
        if let Some(t) = &receipt_token {
            p.receipt_url = Some(format!("{}/r/{}?t={t}", state.public_url, p.id));
        }
        sub.latest_payment_id = Some(p.id.clone());
        p
    });
    let livemode = r.tenant.livemode();
    let events = events_of(&transition.events, &sub, livemode, at);
    let mut emails = Vec::new();
    if let Some(p) = &payment {
        if let (Some(to), true, PaymentStatus::Succeeded) =
            (&p.customer.email, settings.email_receipts, p.status)
        {
            emails.push(Email::receipt_of(p, to, state.outbox_status(), at));
        }
    }
    // Retries that ran out and ended it: the payment-failed message says so, alone.
    let failed_and_ended = transition
        .events
        .contains(&SubscriptionEvent::PaymentFailed);
    for e in &transition.events {
        if failed_and_ended && *e == SubscriptionEvent::Canceled {
            continue;
        }
        if let Some(m) = super::mail::notice(state, &settings, &sub, &transition.state, *e, at) {
            emails.push(m);
        }
    }
    let step = SubscriptionStep {
        subscription: &sub,
        state: &transition.state,
        method_ref: None,
        clock,
        payment: payment.as_ref(),
        receipt_token: receipt_token.as_deref(),
        events: &events,
        emails: &emails,
        keep_until: (!release).then(|| Timestamp::now().plus_seconds(lease(state))),
    };
    match state.store.record_subscription_step(claim, &step).await {
        Ok(_) => {}
        Err(paylink_store::StoreError::Conflict(_)) => {
            // The next holder asks the processor under the same key and records it then
            // (a cancel too: `record_made_charge`).
            if let Some(key) = &key {
                tracing::error!(subscription.id = %sub.id, key = %key, "a subscription's claim ran out between its charge and its record");
            }
            return Err(Stopped::ClaimLost);
        }
        Err(e) => return Err(Stopped::Failed(e.into())),
    }
    if let Some(p) = &payment {
        tracing::info!(subscription.id = %sub.id, payment.id = %p.id, status = p.status.as_str(), amount = p.amount.minor(), "subscription charged");
    }
    let after = SubscriptionRecord {
        subscription: sub,
        state: transition.state,
        clock: clock.or(r.clock),
        ..r.clone()
    };
    Ok((after, release))
}

/// Charges the saved method off-session under `key`. A processor that refuses the
/// method outright (unknown, not reusable) is a decline: the customer is asked for a new
/// card, as after any decline.
async fn charge(
    state: &AppState,
    r: &SubscriptionRecord,
    key: &str,
) -> Result<ChargeOutcome, Stopped> {
    let Some(method) = r.method_ref.clone() else {
        return Ok(ChargeOutcome::Declined {
            code: "payment_method_missing",
            card: None,
        });
    };
    let req = SavedChargeRequest {
        idempotency_key: key.to_owned(),
        amount: r.subscription.amount,
        currency: r.subscription.currency,
        method,
        description: r.subscription.description.clone(),
    };
    let timeout = Duration::from_millis(state.config.processor_timeout_ms);
    let processor = crate::stripe::processor_keeping(state, &r.tenant, Some(&req.method))
        .await
        .map_err(|_| Stopped::Processor("processor_unavailable"))?;
    match tokio::time::timeout(timeout, processor.charge_saved(req)).await {
        Err(_) => Err(Stopped::Processor("processor_timeout")),
        Ok(Err(ProcessorError::Retryable(code))) => Err(Stopped::Processor(code)),
        Ok(Err(ProcessorError::Invalid(code))) => Ok(ChargeOutcome::Declined { code, card: None }),
        Ok(Ok(ChargeOutcome::RequiresAction { .. })) => Ok(ChargeOutcome::Declined {
            code: "authentication_required",
            card: None,
        }),
        Ok(Ok(o)) => Ok(o),
    }
}

/// The payment a renewal or retry made.
fn payment_of(
    state: &AppState,
    r: &SubscriptionRecord,
    outcome: &ChargeOutcome,
    at: Timestamp,
) -> anyhow::Result<Payment> {
    let s = &r.subscription;
    let (status, failure_code, reference) = match outcome {
        ChargeOutcome::Succeeded { reference, .. } => {
            (PaymentStatus::Succeeded, None, Some(reference.clone()))
        }
        ChargeOutcome::Declined { code, .. } => {
            (PaymentStatus::Failed, Some((*code).to_owned()), None)
        }
        ChargeOutcome::RequiresAction { .. } => {
            anyhow::bail!("an off-session charge asked for action")
        }
    };
    Ok(Payment {
        id: PaymentId::generate(),
        payment_link_id: s.payment_link_id.clone(),
        checkout_session_id: s.checkout_session_id.clone(),
        order_id: None,
        subscription_id: Some(s.id.clone()),
        amount: s.amount,
        amount_tax: s.amount_tax,
        amount_refunded: Amount::ZERO,
        currency: s.currency,
        status,
        failure_code,
        customer: s.customer.clone(),
        custom_fields: Vec::new(),
        attribution: Default::default(),
        line_items: s.items.clone(),
        payment_method: PaymentMethodDetails {
            kind: PaymentMethodType::Card,
            card: s.payment_method.clone(),
        },
        processor: match r.method_ref.as_deref() {
            Some(m) if m.starts_with("cus_") => crate::stripe::STRIPE.to_owned(),
            _ => state.processor.name().to_owned(),
        },
        processor_reference: reference,
        hsa_fsa_amount: Amount::ZERO,
        receipt_number: None,
        receipt_url: None,
        disputed: false,
        livemode: r.tenant.livemode(),
        created_at: at,
    })
}

/// The events a transition makes, as the outbox writes them.
pub fn events_of(
    events: &[SubscriptionEvent],
    sub: &paylink_domain::subscription::Subscription,
    livemode: bool,
    at: Timestamp,
) -> Vec<Event> {
    events
        .iter()
        .map(|e| Event::new(EventType::from(*e), sub, livemode, at))
        .collect()
}
