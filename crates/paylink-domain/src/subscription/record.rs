//! The subscription as the API shows it, kept beside its billing state.

use serde::{Deserialize, Serialize};

use super::{Phase, SubscriptionState, SubscriptionStatus};
use crate::checkout::{CardDetails, CheckoutLine, CustomerDetails};
use crate::id::{CheckoutSessionId, CustomerId, PaymentId, PaymentLinkId, SubscriptionId};
use crate::link::Interval;
use crate::money::{Amount, Currency};
use crate::time::Timestamp;

/// A subscription (`sub_`): what recurs, for whom, and where its billing stands. Its
/// status and dates are read off its [`SubscriptionState`] ([`Subscription::show`]), which
/// the store keeps beside it; nothing here is set by hand.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "object", rename = "subscription")]
pub struct Subscription {
    pub id: SubscriptionId,
    pub payment_link_id: PaymentLinkId,
    /// The checkout that started it.
    pub checkout_session_id: CheckoutSessionId,
    /// The catalog customer of the link, when it names one.
    pub customer_id: Option<CustomerId>,
    /// Who subscribed, as given at checkout.
    pub customer: CustomerDetails,
    pub status: SubscriptionStatus,
    /// What each period charges for (the checkout's lines).
    pub items: Vec<CheckoutLine>,
    /// Charged every period, tax included.
    pub amount: Amount,
    pub amount_tax: Amount,
    pub currency: Currency,
    pub interval: Interval,
    pub interval_count: u32,
    /// The trial while in it, else the period last billed.
    pub current_period_start: Option<Timestamp>,
    pub current_period_end: Option<Timestamp>,
    pub trial_end: Option<Timestamp>,
    pub cancel_at_period_end: bool,
    pub canceled_at: Option<Timestamp>,
    /// When the customer is next charged if nothing changes (a renewal or a retry).
    pub next_charge_at: Option<Timestamp>,
    pub latest_payment_id: Option<PaymentId>,
    /// The saved card renewals charge.
    pub payment_method: Option<CardDetails>,
    /// The link's title when the subscription began: what the customer signed up for.
    pub description: String,
    pub livemode: bool,
    pub created_at: Timestamp,
}

impl Subscription {
    /// Sets what the object shows of `state`: status, periods, trial, cancellation, next
    /// charge.
    pub fn show(&mut self, state: &SubscriptionState) {
        self.status = state.status();
        let period = state.current_period();
        self.current_period_start = period.map(|p| p.0);
        self.current_period_end = period.map(|p| p.1);
        self.trial_end = state.trial_end();
        self.cancel_at_period_end = state.cancel_at_period_end;
        self.canceled_at = state.canceled_at();
        self.next_charge_at = state.next_charge_at();
    }
}

impl SubscriptionState {
    /// When something is next due, whatever the time: the worker looks at the
    /// subscription again then. `None` once nothing ever will be (canceled, unpaid).
    pub fn next_due_at(&self) -> Option<Timestamp> {
        self.next_due(Timestamp::from_unix(super::LAST_UNIX))
            .map(|d| d.at)
    }

    /// The customer gave a new card: a period being retried is tried again at once, and
    /// the retries count on from there.
    pub fn card_updated(&self, now: Timestamp) -> SubscriptionState {
        match self.phase {
            Phase::PastDue {
                period,
                attempt,
                retry_at,
            } if retry_at > now => SubscriptionState {
                phase: Phase::PastDue {
                    period,
                    attempt,
                    retry_at: now,
                },
                ..*self
            },
            _ => *self,
        }
    }
}
