//! The worker's look at PaymentIntents nobody told us about: a browser that confirmed with
//! Stripe and closed before calling us, a process killed between Stripe's success and our
//! record, a lost webhook. Each open PaymentIntent is read from Stripe
//! `stripe_check_after_secs` after it was made and again at that pace; a succeeded one is
//! recorded exactly as the pay call would have (the session's attempt decides who records).
//! When its session has ended unpaid, the PaymentIntent is cancelled at Stripe so that it
//! can no longer take money; one that succeeded after its session ended (its hold on the
//! link and stock gone) is refunded in full, and said so in the log.

use paylink_domain::time::Timestamp;
use paylink_processors::stripe::CallError;
use paylink_store::{StripeIntent, Tenant};

use super::checkout::Looked;

use crate::state::AppState;

/// One round: up to 50 due PaymentIntents. Returns how many were closed.
pub async fn round(state: &AppState) -> anyhow::Result<usize> {
    let now = Timestamp::now();
    let next = now.plus_seconds(state.config.stripe_check_after_secs.max(1));
    let due = state.store.due_stripe_intents(now, next, 50).await?;
    let mut closed = 0;
    for (t, si) in due {
        match one(state, &t, &si).await {
            Ok(true) => closed += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(checkout_session.id = %si.checkout_session_id, error = %e, "reconciling a Stripe payment failed; trying again later");
            }
        }
    }
    Ok(closed)
}

/// One due intent, looked at as the webhook would ([`super::checkout::look`]): `true` when
/// it needs no more looks.
async fn one(state: &AppState, t: &Tenant, si: &StripeIntent) -> anyhow::Result<bool> {
    let id = &si.checkout_session_id;
    let looked = super::checkout::look(state, t, id)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    Ok(match looked {
        Looked::Recorded => {
            tracing::warn!(checkout_session.id = %id, "a Stripe payment nobody recorded was found and recorded");
            true
        }
        Looked::Closed => true,
        Looked::Busy | Looked::Open => false,
    })
}

/// What became of the PaymentIntent of a session that ended unpaid.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// Cancelled at Stripe (or already): it can take no money.
    Canceled,
    /// It had succeeded after the session ended: refunded in full.
    Refunded,
    /// Neither yet (Stripe is still processing it, or did not answer): looked at again.
    StillOpen,
}

/// The session ended unpaid: its PaymentIntent must not take money any more. Closed only
/// once that is certain.
pub async fn ended(state: &AppState, t: &Tenant, si: &StripeIntent) -> anyhow::Result<Ended> {
    let id = &si.checkout_session_id;
    let (client, _) = super::client(state, t)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let status = if si.intent_id.starts_with("seti_") {
        // A SetupIntent takes no money: cancelled or not (one that succeeded only saved a
        // card at Stripe for a subscription that never started), there is nothing to undo.
        let _ = client.cancel_setup_intent(&si.intent_id).await;
        "canceled".to_owned()
    } else {
        match client.cancel_intent(&si.intent_id).await {
            Ok(i) => i.status,
            Err(CallError::Stripe { status, .. }) if status < 500 && status != 429 => {
                // Stripe refuses to cancel a PaymentIntent that succeeded (or was cancelled).
                let intent = client
                    .retrieve_intent(&si.intent_id)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                if intent.status == "succeeded" {
                    let refund = client
                        .refund(&intent.id, intent.amount, &format!("paylink_ended_{id}"))
                        .await;
                    match refund {
                        Ok(_) => {}
                        // Refused for good (refunded already in the merchant's Stripe
                        // dashboard, disputed): nothing more for us to do but say so.
                        Err(CallError::Stripe { status, error })
                            if status < 500 && status != 429 =>
                        {
                            tracing::error!(checkout_session.id = %id, payment_intent = %intent.id, code = ?error.code, "a Stripe payment that succeeded after its checkout ended could not be refunded: refund it at Stripe");
                            state.store.close_stripe_intent(id).await?;
                            return Ok(Ended::StillOpen);
                        }
                        Err(e) => anyhow::bail!("{e:?}"),
                    }
                    tracing::warn!(checkout_session.id = %id, payment_intent = %intent.id, "a Stripe payment succeeded after its checkout ended: refunded in full");
                    state.store.close_stripe_intent(id).await?;
                    return Ok(Ended::Refunded);
                }
                intent.status
            }
            Err(e) => anyhow::bail!("{e:?}"),
        }
    };
    if status == "canceled" {
        state.store.close_stripe_intent(id).await?;
        return Ok(Ended::Canceled);
    }
    Ok(Ended::StillOpen)
}
