//! Subscriptions that renew: their calendar, and the dunning of failed renewals.

mod calendar;
mod dunning;

pub use calendar::{day_of_month, period_end, BillingCycle, Period, LAST_UNIX};
pub use dunning::{ChargeKey, DunningPolicy, ExhaustedAction, RetrySchedule};
