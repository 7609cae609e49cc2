//! Subscriptions that renew: their calendar.

mod calendar;

pub use calendar::{day_of_month, period_end, BillingCycle, Period, LAST_UNIX};
