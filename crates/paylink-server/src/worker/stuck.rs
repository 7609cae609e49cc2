//! Payment attempts that nobody finished. A request that dies while the processor is
//! charging (a timeout, a crash, `kill -9`) leaves its attempt `processing`, and the next
//! pay request of that session reconciles it. When the customer never comes back, its
//! session would hold its link's use, its stock and its order for ever: once the session is
//! past its time, the worker asks the processor what became of the attempt, under the
//! attempt's own key, and records that: a charge that went through becomes the payment it
//! is (receipt, order, events, as if the customer had stayed); one that never happened
//! ends the attempt, and the sweeper then ends the session and gives its holds back.

use paylink_domain::link::PaymentMethodType;
use paylink_domain::time::Timestamp;
use paylink_processors::ChargeOutcome;
use paylink_store::{AttemptClaim, LinkConfig};

use crate::checkout::pay::{self, attempt_key};
use crate::state::AppState;

/// Settles up to a batch of stuck attempts; returns how many it settled.
pub async fn settle_all(state: &AppState) -> anyhow::Result<usize> {
    let now = Timestamp::now();
    let stale = state.config.attempt_stale_after_secs;
    let stuck = state
        .store
        .stuck_attempts(now, now.plus_seconds(-stale), 32)
        .await?;
    let mut settled = 0;
    for id in &stuck {
        // Claimed as a takeover of the stale attempt, so no pay request runs it meanwhile.
        let AttemptClaim::Resume { attempt_no } = state
            .store
            .begin_attempt(id, Timestamp::now(), stale)
            .await?
        else {
            continue;
        };
        let (rec, link) = state.store.get_checkout_with_link(id).await?;
        let Some(LinkConfig(link)) = link else {
            tracing::error!(checkout_session.id = %id, "a stuck payment attempt's link was deleted");
            continue;
        };
        // A Stripe session's attempt only reads its PaymentIntent: read it again and record
        // what Stripe says (never the simulated processor's "no charge").
        if state.store.get_stripe_intent(id).await?.is_some() {
            match crate::stripe::checkout::settle_intent(state, &rec, &link, attempt_no, "").await {
                Ok(a) if a.succeeded() => settled += 1,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(checkout_session.id = %id, error = %e.message, "settling a stuck Stripe attempt failed")
                }
            }
            continue;
        }
        let outcome = match state
            .processor
            .find_charge(&attempt_key(id, attempt_no))
            .await
        {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(checkout_session.id = %id, error = ?e, "asking the processor about a stuck attempt failed");
                continue;
            }
        };
        match outcome {
            None => {
                // Never charged: the session is free to end.
                state.store.end_attempt(id, attempt_no, None, &[]).await?;
            }
            Some(o) => {
                let kind = match &o {
                    ChargeOutcome::Succeeded { card: None, .. }
                    | ChargeOutcome::Declined { card: None, .. } => PaymentMethodType::Wallet,
                    _ => PaymentMethodType::Card,
                };
                // Nobody is waiting for the answer; the payment, its receipt and its events
                // are what count.
                if let Err(e) = pay::settle(
                    state,
                    &rec,
                    &link,
                    attempt_no,
                    kind,
                    Ok(o),
                    None,
                    "",
                    state.processor.name(),
                )
                .await
                {
                    tracing::warn!(checkout_session.id = %id, error = %e.message, "settling a stuck attempt failed");
                    continue;
                }
            }
        }
        tracing::warn!(checkout_session.id = %id, attempt = attempt_no, "a stuck payment attempt was settled with the processor");
        settled += 1;
    }
    Ok(settled)
}
