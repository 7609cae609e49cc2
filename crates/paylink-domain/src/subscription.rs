//! Subscriptions that renew: their statuses, their calendar, and every transition between
//! statuses as a pure function of the subscription's state and the time.
//!
//! A subscription bills periods numbered from its *anchor* ([`BillingCycle`]): period 0
//! starts at the checkout without a trial, at the trial's end with one. Nothing here reads
//! a clock: a worker (or a test clock) asks [`SubscriptionState::due`] what is due at a
//! time, performs the first action (charging the processor with the action's
//! [`ChargeKey`] if it is a charge), and applies the outcome with
//! [`SubscriptionState::apply`] at the time it was done; it repeats until nothing is due.
//! A test clock advancing to `to` applies each action at the time it fell due, or at the
//! time of the action before if that is later (periods that began while an earlier one
//! was being retried fall due when it is settled), so a year of billing is computed
//! exactly as if it had been lived.
//!
//! The rules:
//!
//! - A renewal charges period `k + 1` at its start, once: after it succeeds or fails, the
//!   next action concerns another period or a retry. While a period is being dunned
//!   (`past_due`) the next period waits: when a retry succeeds late, the periods that began
//!   meanwhile are due at once, each charged once.
//! - A failed charge is retried on the merchant's [`RetrySchedule`], each wait counted from
//!   the try before; when the last retry fails the subscription is `canceled` or `unpaid`
//!   ([`ExhaustedAction`]).
//! - `cancel_at_period_end` stops every renewal and ends the subscription when the current
//!   period (or the trial) ends; a dunned period's retries go on until then.
//! - A `canceled` or `unpaid` subscription has nothing due, never a charge.
//! - `subscription.trial_will_end` is due three days before the trial ends (at the start of
//!   a shorter trial), unless the subscription will end with its trial.

mod calendar;
mod due;
mod dunning;
mod record;
mod state;
#[cfg(test)]
mod tests;

pub use calendar::{day_of_month, period_end, BillingCycle, Period, LAST_UNIX};
pub use due::{ChargeOutcome, Due, DueAction};
pub use dunning::{ChargeKey, DunningPolicy, ExhaustedAction, RetrySchedule};
pub use record::Subscription;
pub use state::{Phase, SubscriptionEvent, SubscriptionRefusal, SubscriptionState, Transition};

use serde::{Deserialize, Serialize};

/// How long before a trial ends the customer is told that the first charge is coming.
pub const TRIAL_WILL_END_NOTICE_SECONDS: i64 = 3 * 86_400;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// In its free trial: nothing charged yet.
    Trialing,
    /// The current period is paid.
    Active,
    /// The current period's charge failed and is being retried.
    PastDue,
    /// Ended: nothing is ever charged again.
    Canceled,
    /// Retries ran out and the merchant keeps the subscription: nothing is charged until
    /// someone acts.
    Unpaid,
}

impl SubscriptionStatus {
    pub const ALL: [SubscriptionStatus; 5] = [
        Self::Trialing,
        Self::Active,
        Self::PastDue,
        Self::Canceled,
        Self::Unpaid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trialing => "trialing",
            Self::Active => "active",
            Self::PastDue => "past_due",
            Self::Canceled => "canceled",
            Self::Unpaid => "unpaid",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}
