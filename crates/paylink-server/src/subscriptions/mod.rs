//! Subscriptions that renew: the worker's renewal run, cancellation, the test clock, and
//! the customer's card change, all through one claim-then-step path ([`engine`]).

pub mod engine;
pub mod mail;
pub mod self_service;
pub mod start;

use std::time::Duration;

use paylink_domain::id::SubscriptionId;
use paylink_domain::subscription::{SubscriptionRefusal, SubscriptionState};
use paylink_domain::time::Timestamp;
use paylink_store::{SubscriptionClaim, SubscriptionRecord, SubscriptionStep, Tenant};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use engine::{lease, Clock, Stopped};

/// The furthest one test clock advance goes (three years: a year of billing and more, in
/// a bounded number of steps even on a daily plan).
pub const MAX_ADVANCE_SECONDS: i64 = 1096 * 86_400;

/// How many subscriptions one worker renews at once (each waits on the processor).
pub const CONCURRENCY: usize = 64;

/// Renews what is due now with up to [`CONCURRENCY`] subscriptions under way, claiming
/// more as those finish (a window, not batches: the processor's wait of one overlaps the
/// writes of others), until nothing due is left unclaimed or `max` were run. Returns how
/// many subscriptions it ran.
pub async fn renew_due(state: &AppState, max: usize) -> anyhow::Result<usize> {
    let mut ran = 0;
    // Tasks of their own: a claim made meanwhile must not wait on a run that is not
    // polled (a run holding SQLite's writer while this task waited for it would never end).
    let mut running = tokio::task::JoinSet::new();
    let mut drained = false;
    loop {
        // Claim again when half the window is free.
        if !drained && running.len() <= CONCURRENCY / 2 && ran < max {
            let now = Timestamp::now();
            let want = (CONCURRENCY - running.len()).min(max - ran);
            let claims = match state
                .store
                .claim_due_subscriptions(
                    now,
                    now.plus_seconds(lease(state)),
                    u32::try_from(want).unwrap_or(64),
                )
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    // Those under way finish (their claims are theirs) before the error.
                    while running.join_next().await.is_some() {}
                    return Err(e.into());
                }
            };
            drained = claims.len() < want;
            ran += claims.len();
            for c in claims {
                let state = state.clone();
                running.spawn(async move { run_one(&state, c).await });
            }
        }
        if running.join_next().await.is_none() {
            break;
        }
    }
    Ok(ran)
}

/// Runs one claimed subscription for the worker, logging why it stopped early.
async fn run_one(state: &AppState, c: SubscriptionClaim) {
    let id = c.record.subscription.id.clone();
    match engine::run(state, c, Clock::Real).await {
        (_, None) | (_, Some(Stopped::TooMany)) => {}
        (_, Some(Stopped::Processor(code))) => {
            tracing::warn!(subscription.id = %id, code, "renewal postponed: the processor did not answer");
        }
        (_, Some(Stopped::ClaimLost)) => {
            tracing::warn!(subscription.id = %id, "a renewal's claim ran out; another process carries on");
        }
        (_, Some(Stopped::Failed(e))) => {
            tracing::error!(subscription.id = %id, error = %e, "a subscription's renewal failed");
        }
    }
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

/// Claims a subscription for a request that ends it, and the time it acts at. What fell
/// due before the request and a late worker has not done yet is not done now: a customer
/// who cancels is never charged at that moment. But a charge already made for it (by a
/// holder that died, or timed out, before recording it) is recorded first.
async fn claim_settled(
    state: &AppState,
    t: &Tenant,
    id: &SubscriptionId,
) -> ApiResult<(SubscriptionClaim, Timestamp)> {
    let mut claim = claim_for_request(state, t, id).await?;
    let at = now_for(&claim.record);
    match engine::record_made_charge(state, &claim, at).await {
        Ok(r) => claim.record = r,
        Err(s) => {
            let _ = state.store.release_subscription(&claim).await;
            return Err(stopped_error(s));
        }
    }
    // A period that ended with the subscription set to end has ended it, even if the
    // worker has not come yet: that is done now (dated at the period's end), and what
    // ended stays ended.
    let ending = claim.record.state.next_due(at);
    if let Some(
        due @ engine::Due {
            action: engine::DueAction::EndAtPeriodEnd,
            ..
        },
    ) = ending
    {
        let ended = claim
            .record
            .state
            .apply(&due, due.at, None, &Default::default());
        return match ended {
            Ok(tr) => {
                write_change(state, &claim, &tr.state, &tr.events, None, due.at).await?;
                Err(refusal_error(SubscriptionRefusal::Ended))
            }
            Err(r) => {
                let _ = state.store.release_subscription(&claim).await;
                Err(refusal_error(r))
            }
        };
    }
    Ok((claim, at))
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

/// Sets or clears `cancel_at_period_end`: a subscription set to end at its period's end
/// goes on when it is cleared before then.
pub async fn end_at_period_end(
    state: &AppState,
    t: &Tenant,
    id: &SubscriptionId,
    end: bool,
) -> ApiResult<SubscriptionRecord> {
    let (claim, at) = claim_settled(state, t, id).await?;
    match claim.record.state.set_cancel_at_period_end(end) {
        Ok(tr) => write_change(state, &claim, &tr.state, &tr.events, None, at).await,
        Err(r) => {
            let _ = state.store.release_subscription(&claim).await;
            Err(refusal_error(r))
        }
    }
}

/// Cancels now, or at the end of the period (`at_period_end`).
pub async fn cancel(
    state: &AppState,
    t: &Tenant,
    id: &SubscriptionId,
    at_period_end: bool,
) -> ApiResult<SubscriptionRecord> {
    let (claim, at) = claim_settled(state, t, id).await?;
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
    write_change(
        state,
        &claim,
        &transition.state,
        &transition.events,
        None,
        at,
    )
    .await
}

/// Moves a test-mode subscription's clock to `to`, doing everything due until then.
pub async fn advance(
    state: &AppState,
    t: &Tenant,
    id: &SubscriptionId,
    to: Timestamp,
) -> ApiResult<SubscriptionRecord> {
    let claim = claim_for_request(state, t, id).await?;
    let from = now_for(&claim.record);
    let refusal = if to < from {
        Some("`to` must not be before the subscription's current time")
    } else if to > from.plus_seconds(MAX_ADVANCE_SECONDS) {
        Some("A test clock moves at most three years at a time; advance in steps")
    } else {
        None
    };
    if let Some(message) = refusal {
        let _ = state.store.release_subscription(&claim).await;
        return Err(ApiError::invalid("parameter_invalid", "to", message));
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
    let (claim, at) = claim_settled(state, t, id).await?;
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
