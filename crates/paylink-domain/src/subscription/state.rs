//! A subscription's billing state and the transitions between its statuses.

use serde::{Deserialize, Serialize};

use super::{BillingCycle, DunningPolicy, ExhaustedAction, SubscriptionStatus};
use crate::link::SubscriptionTerms;
use crate::time::Timestamp;

/// Where a subscription stands, with what each status needs to know and nothing more.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Phase {
    /// In the trial, which ends at the cycle's anchor.
    Trialing {
        /// `subscription.trial_will_end` has been sent.
        notified: bool,
    },
    /// `period` is paid.
    Active { period: u32 },
    /// `period`'s charge failed; retry `attempt` (1 for the first) is due at `retry_at`.
    PastDue {
        period: u32,
        attempt: u32,
        retry_at: Timestamp,
    },
    /// `period`'s retries ran out; nothing is charged.
    Unpaid { period: u32 },
    /// Ended at `at`; `period` is the last period billed (none when it ended in its trial).
    Canceled { at: Timestamp, period: Option<u32> },
}

/// The billing state of one subscription: everything the transitions read and write.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SubscriptionState {
    pub cycle: BillingCycle,
    /// When the trial began (its end is the cycle's anchor); `None` without a trial.
    pub trial_start: Option<Timestamp>,
    pub phase: Phase,
    /// Renew no more; end when the current period (or the trial) ends.
    pub cancel_at_period_end: bool,
}

/// What happened, for the outbox (the contract's `subscription.*` events).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum SubscriptionEvent {
    Created,
    TrialWillEnd,
    Renewed,
    PaymentFailed,
    Canceled,
}

impl From<SubscriptionEvent> for crate::event::EventType {
    fn from(e: SubscriptionEvent) -> Self {
        use crate::event::EventType as T;
        match e {
            SubscriptionEvent::Created => T::SubscriptionCreated,
            SubscriptionEvent::TrialWillEnd => T::SubscriptionTrialWillEnd,
            SubscriptionEvent::Renewed => T::SubscriptionRenewed,
            SubscriptionEvent::PaymentFailed => T::SubscriptionPaymentFailed,
            SubscriptionEvent::Canceled => T::SubscriptionCanceled,
        }
    }
}

impl SubscriptionEvent {
    /// The event type's name in the contract.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "subscription.created",
            Self::TrialWillEnd => "subscription.trial_will_end",
            Self::Renewed => "subscription.renewed",
            Self::PaymentFailed => "subscription.payment_failed",
            Self::Canceled => "subscription.canceled",
        }
    }
}

/// A transition made: the new state and the events to write with it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Transition {
    pub state: SubscriptionState,
    pub events: Vec<SubscriptionEvent>,
}

/// Why a transition cannot be made.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SubscriptionRefusal {
    /// The subscription is canceled: nothing happens to it any more.
    Ended,
    /// The action does not apply in this status.
    WrongStatus(SubscriptionStatus),
    /// The period or attempt is not the one due (done already, or never due).
    NotThisCharge,
    /// Its time has not come.
    NotYetDue,
    /// The subscription ends at the end of the period: nothing more is charged.
    EndsAtPeriodEnd,
    /// It does not end at the end of the period.
    NotEnding,
    /// Done already.
    AlreadyDone,
    /// The terms have no calendar (an interval count of 0) or it runs past 9999.
    OutOfCalendar,
    /// A charge was applied without its outcome.
    OutcomeMissing,
}

impl SubscriptionRefusal {
    /// A stable name, for logs and error codes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ended => "subscription_canceled",
            Self::WrongStatus(_) => "subscription_status",
            Self::NotThisCharge => "not_this_charge",
            Self::NotYetDue => "not_yet_due",
            Self::EndsAtPeriodEnd => "ends_at_period_end",
            Self::NotEnding => "not_ending",
            Self::AlreadyDone => "already_done",
            Self::OutOfCalendar => "out_of_calendar",
            Self::OutcomeMissing => "outcome_missing",
        }
    }
}

impl SubscriptionState {
    /// The subscription a checkout on a link with `terms` makes at `now`, with the
    /// `subscription.created` event. Without a trial the checkout's own payment paid period
    /// 0 (the key of that charge would be period 0, attempt 0); with one nothing is charged
    /// and period 0 starts when the trial ends.
    pub fn checkout(
        terms: &SubscriptionTerms,
        now: Timestamp,
    ) -> Result<Transition, SubscriptionRefusal> {
        let trial_secs = i64::from(terms.trial_period_days) * 86_400;
        let anchor = now.plus_seconds(trial_secs);
        let cycle = BillingCycle::new(anchor, terms.interval, terms.interval_count)
            .ok_or(SubscriptionRefusal::OutOfCalendar)?;
        // Period 0 must end in the calendar, or nothing could ever be billed.
        cycle.period(0).ok_or(SubscriptionRefusal::OutOfCalendar)?;
        let (trial_start, phase) = if trial_secs > 0 {
            (Some(now), Phase::Trialing { notified: false })
        } else {
            (None, Phase::Active { period: 0 })
        };
        Ok(Transition {
            state: Self {
                cycle,
                trial_start,
                phase,
                cancel_at_period_end: false,
            },
            events: vec![SubscriptionEvent::Created],
        })
    }

    pub fn status(&self) -> SubscriptionStatus {
        match self.phase {
            Phase::Trialing { .. } => SubscriptionStatus::Trialing,
            Phase::Active { .. } => SubscriptionStatus::Active,
            Phase::PastDue { .. } => SubscriptionStatus::PastDue,
            Phase::Unpaid { .. } => SubscriptionStatus::Unpaid,
            Phase::Canceled { .. } => SubscriptionStatus::Canceled,
        }
    }

    /// When the trial ends (the anchor), for a subscription that had one.
    pub fn trial_end(&self) -> Option<Timestamp> {
        self.trial_start.map(|_| self.cycle.anchor())
    }

    pub fn canceled_at(&self) -> Option<Timestamp> {
        match self.phase {
            Phase::Canceled { at, .. } => Some(at),
            _ => None,
        }
    }

    /// The period last billed (paid, being retried, or unpaid); `None` before the first.
    pub fn period(&self) -> Option<u32> {
        match self.phase {
            Phase::Trialing { .. } => None,
            Phase::Active { period } | Phase::PastDue { period, .. } | Phase::Unpaid { period } => {
                Some(period)
            }
            Phase::Canceled { period, .. } => period,
        }
    }

    /// `current_period_start` and `current_period_end`: the trial while in it, else the
    /// period last billed. `None` past 9999.
    pub fn current_period(&self) -> Option<(Timestamp, Timestamp)> {
        match self.period() {
            Some(n) => self.cycle.period(n).map(|p| (p.start, p.end)),
            None => Some((
                self.trial_start.unwrap_or(self.cycle.anchor()),
                self.cycle.anchor(),
            )),
        }
    }

    /// When the customer is next charged, if nothing changes (for pages and e-mails).
    pub fn next_charge_at(&self) -> Option<Timestamp> {
        if self.cancel_at_period_end && !matches!(self.phase, Phase::PastDue { .. }) {
            return None;
        }
        match self.phase {
            Phase::Trialing { .. } => Some(self.cycle.anchor()),
            Phase::Active { period } => self.cycle.period(period.checked_add(1)?).map(|p| p.start),
            // Not when the subscription ends before the retry.
            Phase::PastDue { retry_at, .. } => {
                let (_, end) = self.current_period()?;
                (!self.cancel_at_period_end || retry_at < end).then_some(retry_at)
            }
            Phase::Unpaid { .. } | Phase::Canceled { .. } => None,
        }
    }

    fn with(&self, phase: Phase, events: Vec<SubscriptionEvent>) -> Transition {
        Transition {
            state: Self { phase, ..*self },
            events,
        }
    }

    /// The refusal for a subscription that is over.
    fn refuse_if_ended(&self) -> Result<(), SubscriptionRefusal> {
        match self.phase {
            Phase::Canceled { .. } => Err(SubscriptionRefusal::Ended),
            _ => Ok(()),
        }
    }

    /// Checks that renewing `period` at `now` is the renewal due.
    fn check_renewal(&self, period: u32, now: Timestamp) -> Result<(), SubscriptionRefusal> {
        self.refuse_if_ended()?;
        let expected = match self.phase {
            Phase::Trialing { .. } => 0,
            Phase::Active { period } => period
                .checked_add(1)
                .ok_or(SubscriptionRefusal::OutOfCalendar)?,
            _ => return Err(SubscriptionRefusal::WrongStatus(self.status())),
        };
        if period != expected {
            return Err(SubscriptionRefusal::NotThisCharge);
        }
        if self.cancel_at_period_end {
            return Err(SubscriptionRefusal::EndsAtPeriodEnd);
        }
        let p = self
            .cycle
            .period(period)
            .ok_or(SubscriptionRefusal::OutOfCalendar)?;
        if now < p.start {
            return Err(SubscriptionRefusal::NotYetDue);
        }
        Ok(())
    }

    /// `period`'s renewal (or the first charge after the trial) was paid at `now`.
    pub fn renewal_succeeded(
        &self,
        period: u32,
        now: Timestamp,
    ) -> Result<Transition, SubscriptionRefusal> {
        self.check_renewal(period, now)?;
        Ok(self.with(Phase::Active { period }, vec![SubscriptionEvent::Renewed]))
    }

    /// `period`'s renewal failed at `now`: `past_due`, with the first retry scheduled.
    pub fn renewal_failed(
        &self,
        period: u32,
        now: Timestamp,
        policy: &DunningPolicy,
    ) -> Result<Transition, SubscriptionRefusal> {
        self.check_renewal(period, now)?;
        let dunning = self.with(
            Phase::PastDue {
                period,
                attempt: 0,
                retry_at: now,
            },
            vec![],
        );
        dunning.state.schedule_retry(period, 1, now, policy)
    }

    /// After try `attempt - 1` of `period` failed at `now`: retry `attempt`, or the end of
    /// the retries.
    fn schedule_retry(
        &self,
        period: u32,
        attempt: u32,
        now: Timestamp,
        policy: &DunningPolicy,
    ) -> Result<Transition, SubscriptionRefusal> {
        match policy.schedule.retry_at(attempt, now) {
            Some(retry_at) => Ok(self.with(
                Phase::PastDue {
                    period,
                    attempt,
                    retry_at,
                },
                vec![SubscriptionEvent::PaymentFailed],
            )),
            None => {
                let mut t = self.retries_exhausted(now, policy.on_exhausted)?;
                t.events.insert(0, SubscriptionEvent::PaymentFailed);
                Ok(t)
            }
        }
    }

    /// Checks that retry `attempt` of `period` at `now` is the retry due.
    fn check_retry(
        &self,
        period: u32,
        attempt: u32,
        now: Timestamp,
    ) -> Result<(), SubscriptionRefusal> {
        self.refuse_if_ended()?;
        let Phase::PastDue {
            period: p,
            attempt: a,
            retry_at,
        } = self.phase
        else {
            return Err(SubscriptionRefusal::WrongStatus(self.status()));
        };
        if (period, attempt) != (p, a) {
            return Err(SubscriptionRefusal::NotThisCharge);
        }
        // A retry that fell due before a period ending with `cancel_at_period_end` is
        // still made when a late worker gets to it after the end: it is owed for a period
        // the customer had, and the test clock, which makes it on time, agrees.
        if now < retry_at {
            return Err(SubscriptionRefusal::NotYetDue);
        }
        Ok(())
    }

    /// Retry `attempt` of `period` was paid at `now`: `active` again.
    pub fn retry_succeeded(
        &self,
        period: u32,
        attempt: u32,
        now: Timestamp,
    ) -> Result<Transition, SubscriptionRefusal> {
        self.check_retry(period, attempt, now)?;
        Ok(self.with(Phase::Active { period }, vec![SubscriptionEvent::Renewed]))
    }

    /// Retry `attempt` of `period` failed at `now`: the next retry, or the end of them.
    pub fn retry_failed(
        &self,
        period: u32,
        attempt: u32,
        now: Timestamp,
        policy: &DunningPolicy,
    ) -> Result<Transition, SubscriptionRefusal> {
        self.check_retry(period, attempt, now)?;
        let next = attempt
            .checked_add(1)
            .ok_or(SubscriptionRefusal::OutOfCalendar)?;
        self.schedule_retry(period, next, now, policy)
    }

    /// A `past_due` subscription's retries ran out at `now`: `canceled` (with
    /// `subscription.canceled`) or `unpaid`, as the merchant chose.
    pub fn retries_exhausted(
        &self,
        now: Timestamp,
        action: ExhaustedAction,
    ) -> Result<Transition, SubscriptionRefusal> {
        self.refuse_if_ended()?;
        let Phase::PastDue { period, .. } = self.phase else {
            return Err(SubscriptionRefusal::WrongStatus(self.status()));
        };
        Ok(match action {
            ExhaustedAction::Cancel => self.with(
                Phase::Canceled {
                    at: now,
                    period: Some(period),
                },
                vec![SubscriptionEvent::Canceled],
            ),
            ExhaustedAction::MarkUnpaid => self.with(Phase::Unpaid { period }, vec![]),
        })
    }

    /// Cancels now: nothing more is charged, retries stop.
    pub fn cancel_now(&self, now: Timestamp) -> Result<Transition, SubscriptionRefusal> {
        self.refuse_if_ended()?;
        Ok(self.with(
            Phase::Canceled {
                at: now,
                period: self.period(),
            },
            vec![SubscriptionEvent::Canceled],
        ))
    }

    /// Sets or clears `cancel_at_period_end` (no event: the change shows on the object).
    /// An `unpaid` subscription has no period that will end: cancel it now instead.
    pub fn set_cancel_at_period_end(
        &self,
        cancel: bool,
    ) -> Result<Transition, SubscriptionRefusal> {
        self.refuse_if_ended()?;
        if let Phase::Unpaid { .. } = self.phase {
            return Err(SubscriptionRefusal::WrongStatus(self.status()));
        }
        Ok(Transition {
            state: Self {
                cancel_at_period_end: cancel,
                ..*self
            },
            events: vec![],
        })
    }

    /// The period (or the trial) ended at `now` with `cancel_at_period_end`: `canceled`.
    pub fn end_at_period_end(&self, now: Timestamp) -> Result<Transition, SubscriptionRefusal> {
        self.refuse_if_ended()?;
        if let Phase::Unpaid { .. } = self.phase {
            return Err(SubscriptionRefusal::WrongStatus(self.status()));
        }
        if !self.cancel_at_period_end {
            return Err(SubscriptionRefusal::NotEnding);
        }
        let (_, end) = self
            .current_period()
            .ok_or(SubscriptionRefusal::OutOfCalendar)?;
        if now < end {
            return Err(SubscriptionRefusal::NotYetDue);
        }
        self.cancel_now(now)
    }

    /// `subscription.trial_will_end` was sent at `now`.
    pub fn trial_will_end(&self, now: Timestamp) -> Result<Transition, SubscriptionRefusal> {
        self.refuse_if_ended()?;
        let Phase::Trialing { notified } = self.phase else {
            return Err(SubscriptionRefusal::WrongStatus(self.status()));
        };
        if notified {
            return Err(SubscriptionRefusal::AlreadyDone);
        }
        if now < self.trial_will_end_at() {
            return Err(SubscriptionRefusal::NotYetDue);
        }
        Ok(self.with(
            Phase::Trialing { notified: true },
            vec![SubscriptionEvent::TrialWillEnd],
        ))
    }
}
