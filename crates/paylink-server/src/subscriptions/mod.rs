//! Subscriptions that renew: the worker's renewal run, cancellation, the test clock, and
//! the customer's card change, all through one claim-then-step path ([`engine`]).

pub mod engine;
pub mod mail;
pub mod self_service;
pub mod start;

use std::time::Duration;

use futures_util::StreamExt;

use paylink_domain::id::SubscriptionId;
use paylink_domain::subscription::{SubscriptionRefusal, SubscriptionState};
use paylink_domain::time::Timestamp;
use paylink_store::{SubscriptionClaim, SubscriptionRecord, SubscriptionStep, Tenant};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use engine::{lease, Clock, Stopped};

/// How many subscriptions one worker renews at once (each waits on the processor).
pub const CONCURRENCY: usize = 64;

/// Renews what is due now, a batch at a time, until nothing due is left unclaimed or
/// `max_batches` were done. Returns how many subscriptions it ran.
pub async fn renew_due(state: &AppState, max_batches: usize) -> anyhow::Result<usize> {
    let mut ran = 0;
    for _ in 0..max_batches {
        let now = Timestamp::now();
        let limit = u32::try_from(CONCURRENCY).unwrap_or(64);
        let claims = state
            .store
            .claim_due_subscriptions(now, now.plus_seconds(lease(state)), limit)
            .await?;
        let n = claims.len();
        futures_util::stream::iter(claims)
            .for_each_concurrent(CONCURRENCY, |c| async move {
                let id = c.record.subscription.id.clone();
                match engine::run(state, c, Clock::Real).await {
                    (_, None) => {}
                    (_, Some(Stopped::Processor(code))) => {
                        tracing::warn!(subscription.id = %id, code, "renewal postponed: the processor did not answer");
                    }
                    (_, Some(Stopped::ClaimLost)) => {
                        tracing::warn!(subscription.id = %id, "a renewal's claim ran out; another process carries on");
                    }
                    (_, Some(Stopped::TooMany)) => {}
                    (_, Some(Stopped::Failed(e))) => {
                        tracing::error!(subscription.id = %id, error = %e, "a subscription's renewal failed");
                    }
                }
            })
            .await;
        ran += n;
        if n < CONCURRENCY {
            break;
        }
    }
    Ok(ran)
}

/// Claims a subscription for a request, waiting a little while a renewal holds it (the
/// charge under way decides first; the request then acts on what it left).
pub async fn claim_for_request(
    state: &AppState,
    t: &Tenant,
    id: &SubscriptionId,
) -> ApiResult<SubscriptionClaim> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = Timestamp::now();
        let until = now.plus_seconds(lease(state));
        match state.store.claim_subscription(t, id, now, until).await {
            Ok(Some(c)) => return Ok(c),
            Ok(None) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(None) => {
                let mut e = ApiError::conflict(
                    "subscription_busy",
                    "The subscription is being renewed right now; try again in a moment",
                );
                e.retry_after = Some(u64::try_from(lease(state)).unwrap_or(30));
                return Err(e);
            }
            Err(paylink_store::StoreError::NotFound) => {
                return Err(ApiError::not_found("subscription"))
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The time a request acts at: the subscription's test clock, if it was moved past now.
pub fn now_for(r: &SubscriptionRecord) -> Timestamp {
    let now = Timestamp::now();
    r.clock.map_or(now, |c| c.max(now))
}

/// Brings a claimed subscription up to its time first (what was due before the request
/// happens before it), so the request acts on where the subscription really stands.
async fn caught_up(
    state: &AppState,
    claim: SubscriptionClaim,
) -> ApiResult<(SubscriptionClaim, Timestamp)> {
    let at = now_for(&claim.record);
    if claim.record.state.next_due(at).is_none() {
        return Ok((claim, at));
    }
    let token = claim.token.clone();
    let clock = match claim.record.clock {
        Some(c) if c > Timestamp::now() => Clock::AdvanceTo(c),
        _ => Clock::Real,
    };
    let t = claim.record.tenant.clone();
    let id = claim.record.subscription.id.clone();
    let (_, stopped) = engine::run(state, claim, clock).await;
    if let Some(s) = stopped {
        return Err(stopped_error(s));
    }
    let again = claim_for_request(state, &t, &id).await?;
    drop(token);
    Ok((again, at))
}

/// An answer for a run that stopped early.
fn stopped_error(s: Stopped) -> ApiError {
    match s {
        Stopped::Processor(_) => ApiError::new(
            axum::http::StatusCode::BAD_GATEWAY,
            "processor_error",
            "processor_unavailable",
            "The payment processor did not answer; try again in a moment",
        ),
        Stopped::ClaimLost => ApiError::conflict(
            "subscription_busy",
            "The subscription is being renewed right now; try again in a moment",
        ),
        Stopped::TooMany => ApiError::invalid(
            "parameter_invalid",
            "to",
            "That is too far ahead in one step; advance in shorter steps",
        ),
        Stopped::Failed(e) => ApiError::internal(e),
    }
}

/// Why a subscription cannot change as asked, in the API's words.
pub fn refusal_error(r: SubscriptionRefusal) -> ApiError {
    let message = match r {
        SubscriptionRefusal::Ended => "The subscription is canceled",
        SubscriptionRefusal::WrongStatus(_) => {
            "The subscription's status does not allow that; cancel it now instead"
        }
        _ => "The subscription cannot change that way now",
    };
    ApiError::conflict(
        match r {
            SubscriptionRefusal::Ended => "subscription_canceled",
            _ => "subscription_status",
        },
        message,
    )
}

/// Writes a change made by a request (not a charge) and lets go of the claim.
async fn write_change(
    state: &AppState,
    claim: &SubscriptionClaim,
    next: &SubscriptionState,
    events: &[paylink_domain::subscription::SubscriptionEvent],
    method: Option<(&str, paylink_domain::checkout::CardDetails)>,
    at: Timestamp,
) -> ApiResult<SubscriptionRecord> {
    let r = &claim.record;
    let mut sub = r.subscription.clone();
    sub.show(next);
    if let Some((_, card)) = &method {
        sub.payment_method = Some(card.clone());
    }
    let settings = state.public_settings(r.tenant.merchant_id()).await?;
    let evs = engine::events_of(events, &sub, r.tenant.livemode(), at);
    let emails: Vec<_> = events
        .iter()
        .filter_map(|e| mail::notice(state, &settings, &sub, next, *e, at))
        .collect();
    let step = SubscriptionStep {
        subscription: &sub,
        state: next,
        method_ref: method.as_ref().map(|(m, _)| *m),
        clock: None,
        payment: None,
        receipt_token: None,
        events: &evs,
        emails: &emails,
        keep_until: None,
    };
    state.store.record_subscription_step(claim, &step).await?;
    Ok(SubscriptionRecord {
        subscription: sub,
        state: *next,
        method_ref: method.map(|(m, _)| m.to_owned()).or(r.method_ref.clone()),
        ..r.clone()
    })
}

/// Cancels now, or at the end of the period (`at_period_end`; `false` again undoes that).
pub async fn cancel(
    state: &AppState,
    t: &Tenant,
    id: &SubscriptionId,
    at_period_end: bool,
) -> ApiResult<SubscriptionRecord> {
    let claim = claim_for_request(state, t, id).await?;
    let (claim, at) = match caught_up(state, claim).await {
        Ok(ok) => ok,
        Err(e) => return Err(e),
    };
    let t = if at_period_end {
        claim.record.state.set_cancel_at_period_end(true)
    } else {
        claim.record.state.cancel_now(at)
    };
    let transition = match t {
        Ok(t) => t,
        Err(r) => {
            let _ = state.store.release_subscription(&claim).await;
            return Err(refusal_error(r));
        }
    };
    write_change(state, &claim, &transition.state, &transition.events, None, at).await
}

/// Moves a test-mode subscription's clock to `to`, doing everything due until then.
pub async fn advance(
    state: &AppState,
    t: &Tenant,
    id: &SubscriptionId,
    to: Timestamp,
) -> ApiResult<SubscriptionRecord> {
    let claim = claim_for_request(state, t, id).await?;
    if to < now_for(&claim.record) {
        let _ = state.store.release_subscription(&claim).await;
        return Err(ApiError::invalid(
            "parameter_invalid",
            "to",
            "`to` must not be before the subscription's current time",
        ));
    }
    match engine::run(state, claim, Clock::AdvanceTo(to)).await {
        (r, None) => Ok(r),
        (_, Some(s)) => Err(stopped_error(s)),
    }
}

/// The customer gave a new card (already saved with the processor): renewals charge it,
/// and a period being retried is tried again now.
pub async fn change_card(
    state: &AppState,
    t: &Tenant,
    id: &SubscriptionId,
    method_ref: &str,
    card: paylink_domain::checkout::CardDetails,
) -> ApiResult<SubscriptionRecord> {
    let claim = claim_for_request(state, t, id).await?;
    let at = now_for(&claim.record);
    if matches!(
        claim.record.state.phase,
        paylink_domain::subscription::Phase::Canceled { .. }
    ) {
        let _ = state.store.release_subscription(&claim).await;
        return Err(refusal_error(SubscriptionRefusal::Ended));
    }
    let next = claim.record.state.card_updated(at);
    let r = write_change(state, &claim, &next, &[], Some((method_ref, card)), at).await?;
    // A retry now due is made by the worker's next round; the page says so.
    Ok(r)
}
