//! What is due on a subscription at a time, and applying it.

use super::{
    ChargeKey, DunningPolicy, Phase, SubscriptionRefusal, SubscriptionState, Transition,
    TRIAL_WILL_END_NOTICE_SECONDS,
};
use crate::id::SubscriptionId;
use crate::time::Timestamp;

/// Something due on a subscription.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DueAction {
    /// Send `subscription.trial_will_end`.
    TrialWillEnd,
    /// Charge `period` (the first charge after a trial, or a renewal).
    Renew { period: u32 },
    /// Retry `period`'s failed charge, the `attempt`-th time.
    Retry { period: u32, attempt: u32 },
    /// End the subscription: its period ended with `cancel_at_period_end`.
    EndAtPeriodEnd,
}

impl DueAction {
    /// The charge this action makes: its period and attempt (0 for the renewal).
    pub fn charge(self) -> Option<(u32, u32)> {
        match self {
            Self::Renew { period } => Some((period, 0)),
            Self::Retry { period, attempt } => Some((period, attempt)),
            Self::TrialWillEnd | Self::EndAtPeriodEnd => None,
        }
    }

    /// The processor idempotency key of the charge this action makes.
    pub fn charge_key(self, subscription: &SubscriptionId) -> Option<ChargeKey> {
        self.charge()
            .map(|(period, attempt)| ChargeKey::new(subscription, period, attempt))
    }
}

/// An action and the time it fell due.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Due {
    pub at: Timestamp,
    pub action: DueAction,
}

/// What the processor answered to a charge.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ChargeOutcome {
    Succeeded,
    Failed,
}

impl SubscriptionState {
    /// The actions due at `now`, in the order they fell due, up to and including the first
    /// charge or the end: what comes after a charge depends on its outcome, so apply the
    /// first action and ask again. Empty when nothing is due, and always for a `canceled`
    /// or `unpaid` subscription.
    pub fn due(&self, now: Timestamp) -> Vec<Due> {
        let mut out = Vec::new();
        let end = self.current_period().map(|(_, end)| end);
        let ending = |out: &mut Vec<Due>| {
            if let Some(end) = end.filter(|end| *end <= now) {
                out.push(Due {
                    at: end,
                    action: DueAction::EndAtPeriodEnd,
                });
            }
        };
        match self.phase {
            Phase::Canceled { .. } | Phase::Unpaid { .. } => {}
            Phase::Trialing { notified } => {
                let trial_end = self.cycle.anchor();
                if !notified && !self.cancel_at_period_end {
                    let at = self.trial_will_end_at();
                    if at <= now {
                        out.push(Due {
                            at,
                            action: DueAction::TrialWillEnd,
                        });
                    }
                }
                if self.cancel_at_period_end {
                    ending(&mut out);
                } else if trial_end <= now {
                    out.push(Due {
                        at: trial_end,
                        action: DueAction::Renew { period: 0 },
                    });
                }
            }
            Phase::Active { period } => {
                if self.cancel_at_period_end {
                    ending(&mut out);
                } else if let Some(at) = period
                    .checked_add(1)
                    .and_then(|next| self.cycle.period(next))
                    .map(|p| p.start)
                    .filter(|at| *at <= now)
                {
                    out.push(Due {
                        at,
                        action: DueAction::Renew {
                            period: period.saturating_add(1),
                        },
                    });
                }
            }
            Phase::PastDue {
                period,
                attempt,
                retry_at,
            } => {
                let ends_first = self.cancel_at_period_end && end.is_some_and(|e| e <= retry_at);
                if ends_first {
                    ending(&mut out);
                } else if retry_at <= now {
                    out.push(Due {
                        at: retry_at,
                        action: DueAction::Retry { period, attempt },
                    });
                }
            }
        }
        out
    }

    /// The first action due at `now`.
    pub fn next_due(&self, now: Timestamp) -> Option<Due> {
        self.due(now).into_iter().next()
    }

    /// When `subscription.trial_will_end` is due: three days before the trial ends, or
    /// when it began if it is shorter.
    pub fn trial_will_end_at(&self) -> Timestamp {
        let at = self
            .cycle
            .anchor()
            .plus_seconds(-TRIAL_WILL_END_NOTICE_SECONDS);
        self.trial_start.map_or(at, |start| at.max(start))
    }

    /// Applies a due action done at `now`, with the processor's answer if it was a charge.
    pub fn apply(
        &self,
        due: &Due,
        now: Timestamp,
        outcome: Option<ChargeOutcome>,
        policy: &DunningPolicy,
    ) -> Result<Transition, SubscriptionRefusal> {
        match (due.action, outcome) {
            (DueAction::TrialWillEnd, _) => self.trial_will_end(now),
            (DueAction::EndAtPeriodEnd, _) => self.end_at_period_end(now),
            (DueAction::Renew { period }, Some(ChargeOutcome::Succeeded)) => {
                self.renewal_succeeded(period, now)
            }
            (DueAction::Renew { period }, Some(ChargeOutcome::Failed)) => {
                self.renewal_failed(period, now, policy)
            }
            (DueAction::Retry { period, attempt }, Some(ChargeOutcome::Succeeded)) => {
                self.retry_succeeded(period, attempt, now)
            }
            (DueAction::Retry { period, attempt }, Some(ChargeOutcome::Failed)) => {
                self.retry_failed(period, attempt, now, policy)
            }
            (DueAction::Renew { .. } | DueAction::Retry { .. }, None) => {
                Err(SubscriptionRefusal::OutcomeMissing)
            }
        }
    }
}
