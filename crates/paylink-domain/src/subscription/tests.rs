//! The subscription state machine, run as a worker or a test clock would run it.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use crate::id::SubscriptionId;
use crate::link::{Interval, SubscriptionTerms};
use crate::time::Timestamp;

const DAY: i64 = 86_400;

fn at(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn terms(interval: Interval, interval_count: u32, trial_period_days: u32) -> SubscriptionTerms {
    SubscriptionTerms {
        interval,
        interval_count,
        trial_period_days,
    }
}

fn start(t: SubscriptionTerms, now: Timestamp) -> SubscriptionState {
    let tr = SubscriptionState::checkout(&t, now).unwrap();
    assert_eq!(tr.events, [SubscriptionEvent::Created]);
    tr.state
}

fn policy(schedule: &str, on_exhausted: ExhaustedAction) -> DunningPolicy {
    DunningPolicy {
        schedule: RetrySchedule::parse(schedule).unwrap(),
        on_exhausted,
    }
}

/// One step of a run: the action, when it fell due, and the charge's outcome.
#[derive(Clone, Debug)]
struct Step {
    due: Due,
    /// When it was applied.
    done: Timestamp,
    outcome: Option<ChargeOutcome>,
    events: Vec<SubscriptionEvent>,
}

/// Runs everything due up to `to` as a test clock does: each action applied at the time
/// it fell due (or at the time of the action before, if later), charges answered by
/// `charge`.
fn run(
    mut s: SubscriptionState,
    to: Timestamp,
    policy: &DunningPolicy,
    mut charge: impl FnMut(u32, u32) -> ChargeOutcome,
) -> (SubscriptionState, Vec<Step>) {
    let mut steps = Vec::new();
    for _ in 0..100_000 {
        let due = s.due(to);
        let Some(first) = due.first().copied() else {
            return (s, steps);
        };
        // In order, and never in the future.
        assert!(due.windows(2).all(|w| w[0].at <= w[1].at), "{due:?}");
        assert!(due.iter().all(|d| d.at <= to));
        let clock = steps
            .last()
            .map_or(first.at, |st: &Step| st.done.max(first.at));
        let outcome = first.action.charge().map(|(p, a)| charge(p, a));
        let t = s.apply(&first, clock, outcome, policy).unwrap();
        steps.push(Step {
            due: first,
            done: clock,
            outcome,
            events: t.events.clone(),
        });
        s = t.state;
    }
    panic!("the run did not settle");
}

fn charges(steps: &[Step]) -> Vec<(u32, u32, ChargeOutcome)> {
    steps
        .iter()
        .filter_map(|st| {
            let (p, a) = st.due.action.charge()?;
            Some((p, a, st.outcome?))
        })
        .collect()
}

#[test]
fn statuses_are_snake_case() {
    for s in SubscriptionStatus::ALL {
        assert_eq!(
            serde_json::to_value(s).unwrap(),
            serde_json::json!(s.as_str())
        );
        assert_eq!(SubscriptionStatus::parse(s.as_str()), Some(s));
    }
    assert_eq!(SubscriptionStatus::PastDue.as_str(), "past_due");
    assert_eq!(SubscriptionStatus::parse("cancelled"), None);
}

#[test]
fn checkout_without_a_trial_has_paid_period_zero() {
    let now = at("2025-01-31T09:00:00Z");
    let s = start(terms(Interval::Month, 1, 0), now);
    assert_eq!(s.status(), SubscriptionStatus::Active);
    assert_eq!(s.trial_end(), None);
    assert_eq!(s.current_period(), Some((now, at("2025-02-28T09:00:00Z"))));
    assert_eq!(s.next_charge_at(), Some(at("2025-02-28T09:00:00Z")));
    assert!(s.due(at("2025-02-28T08:59:59Z")).is_empty());
    assert_eq!(
        s.due(at("2025-12-31T00:00:00Z")),
        [Due {
            at: at("2025-02-28T09:00:00Z"),
            action: DueAction::Renew { period: 1 }
        }],
        "one renewal at a time: the next depends on its outcome"
    );
}

#[test]
fn a_trial_charges_nothing_until_it_ends_and_warns_three_days_before() {
    let now = at("2025-03-01T12:00:00Z");
    let s = start(terms(Interval::Month, 1, 14), now);
    assert_eq!(s.status(), SubscriptionStatus::Trialing);
    let end = at("2025-03-15T12:00:00Z");
    assert_eq!(s.trial_end(), Some(end));
    assert_eq!(s.current_period(), Some((now, end)));
    assert_eq!(s.next_charge_at(), Some(end));
    assert!(s.due(at("2025-03-12T11:59:59Z")).is_empty());
    let notice = Due {
        at: at("2025-03-12T12:00:00Z"),
        action: DueAction::TrialWillEnd,
    };
    assert_eq!(s.due(at("2025-03-12T12:00:00Z")), [notice]);
    let first = Due {
        at: end,
        action: DueAction::Renew { period: 0 },
    };
    assert_eq!(s.due(end), [notice, first]);

    let p = DunningPolicy::default();
    let t = s.apply(&notice, notice.at, None, &p).unwrap();
    assert_eq!(t.events, [SubscriptionEvent::TrialWillEnd]);
    assert_eq!(
        t.state.trial_will_end(notice.at),
        Err(SubscriptionRefusal::AlreadyDone)
    );
    assert_eq!(t.state.due(end), [first]);
    let t = t
        .state
        .apply(&first, end, Some(ChargeOutcome::Succeeded), &p)
        .unwrap();
    assert_eq!(t.events, [SubscriptionEvent::Renewed]);
    assert_eq!(t.state.status(), SubscriptionStatus::Active);
    assert_eq!(
        t.state.current_period(),
        Some((end, at("2025-04-15T12:00:00Z")))
    );
    assert_eq!(t.state.trial_end(), Some(end), "the trial is remembered");
}

#[test]
fn a_short_trial_warns_at_once_and_one_ending_with_the_trial_not_at_all() {
    let now = at("2025-03-01T00:00:00Z");
    let s = start(terms(Interval::Week, 1, 2), now);
    assert_eq!(s.trial_will_end_at(), now);
    assert_eq!(
        s.next_due(now).map(|d| d.action),
        Some(DueAction::TrialWillEnd)
    );
    let s = s.set_cancel_at_period_end(true).unwrap().state;
    assert!(s.due(now).is_empty());
    assert_eq!(s.next_charge_at(), None);
    let end = now.plus_seconds(2 * DAY);
    assert_eq!(
        s.due(end.plus_seconds(10 * DAY)),
        [Due {
            at: end,
            action: DueAction::EndAtPeriodEnd
        }]
    );
    let t = s.end_at_period_end(end).unwrap();
    assert_eq!(t.events, [SubscriptionEvent::Canceled]);
    assert_eq!(t.state.canceled_at(), Some(end));
    assert_eq!(t.state.period(), None, "nothing was ever billed");
}

#[test]
fn renewals_are_refused_out_of_turn() {
    let now = at("2025-01-01T00:00:00Z");
    let s = start(terms(Interval::Month, 1, 0), now);
    let feb = at("2025-02-01T00:00:00Z");
    assert_eq!(
        s.renewal_succeeded(1, feb.plus_seconds(-1)),
        Err(SubscriptionRefusal::NotYetDue)
    );
    assert_eq!(
        s.renewal_succeeded(0, feb),
        Err(SubscriptionRefusal::NotThisCharge)
    );
    assert_eq!(
        s.renewal_succeeded(2, feb),
        Err(SubscriptionRefusal::NotThisCharge)
    );
    let s = s.renewal_succeeded(1, feb).unwrap().state;
    assert_eq!(
        s.renewal_succeeded(1, feb),
        Err(SubscriptionRefusal::NotThisCharge),
        "a period is renewed once"
    );
    assert_eq!(
        s.retry_succeeded(1, 1, feb),
        Err(SubscriptionRefusal::WrongStatus(SubscriptionStatus::Active))
    );
    let ending = s.set_cancel_at_period_end(true).unwrap().state;
    assert_eq!(
        ending.renewal_succeeded(2, at("2025-03-01T00:00:00Z")),
        Err(SubscriptionRefusal::EndsAtPeriodEnd)
    );
    assert_eq!(
        ending.end_at_period_end(at("2025-02-28T23:59:59Z")),
        Err(SubscriptionRefusal::NotYetDue)
    );
    assert_eq!(
        s.end_at_period_end(at("2025-03-01T00:00:00Z")),
        Err(SubscriptionRefusal::NotEnding)
    );
    let resumed = ending.set_cancel_at_period_end(false).unwrap().state;
    assert_eq!(resumed, s);

    let canceled = s.cancel_now(feb).unwrap();
    assert_eq!(canceled.events, [SubscriptionEvent::Canceled]);
    let c = canceled.state;
    assert_eq!(c.status(), SubscriptionStatus::Canceled);
    assert_eq!(c.period(), Some(1));
    assert_eq!(c.next_charge_at(), None);
    let later = at("2030-01-01T00:00:00Z");
    assert!(c.due(later).is_empty());
    assert_eq!(
        c.renewal_succeeded(2, later),
        Err(SubscriptionRefusal::Ended)
    );
    assert_eq!(c.cancel_now(later), Err(SubscriptionRefusal::Ended));
    assert_eq!(
        c.set_cancel_at_period_end(true),
        Err(SubscriptionRefusal::Ended)
    );
    let d = Due {
        at: later,
        action: DueAction::Renew { period: 2 },
    };
    assert_eq!(
        s.apply(&d, later, None, &DunningPolicy::default()),
        Err(SubscriptionRefusal::OutcomeMissing)
    );
}

#[test]
fn dunning_follows_the_schedule_then_cancels_or_marks_unpaid() {
    let now = at("2025-01-01T00:00:00Z");
    let s = start(terms(Interval::Month, 1, 0), now);
    let feb = at("2025-02-01T00:00:00Z");
    for (action, status, last_events) in [
        (
            ExhaustedAction::Cancel,
            SubscriptionStatus::Canceled,
            vec![
                SubscriptionEvent::PaymentFailed,
                SubscriptionEvent::Canceled,
            ],
        ),
        (
            ExhaustedAction::MarkUnpaid,
            SubscriptionStatus::Unpaid,
            vec![SubscriptionEvent::PaymentFailed],
        ),
    ] {
        let p = policy("1d,3d,5d", action);
        let (end, steps) = run(s, at("2025-03-01T00:00:00Z"), &p, |_, _| {
            ChargeOutcome::Failed
        });
        let times: Vec<(DueAction, Timestamp)> =
            steps.iter().map(|st| (st.due.action, st.due.at)).collect();
        assert_eq!(
            times,
            [
                (DueAction::Renew { period: 1 }, feb),
                (
                    DueAction::Retry {
                        period: 1,
                        attempt: 1
                    },
                    feb.plus_seconds(DAY)
                ),
                (
                    DueAction::Retry {
                        period: 1,
                        attempt: 2
                    },
                    feb.plus_seconds(4 * DAY)
                ),
                (
                    DueAction::Retry {
                        period: 1,
                        attempt: 3
                    },
                    feb.plus_seconds(9 * DAY)
                ),
            ]
        );
        assert!(steps
            .iter()
            .take(3)
            .all(|st| st.events == [SubscriptionEvent::PaymentFailed]));
        assert_eq!(steps.last().unwrap().events, last_events);
        assert_eq!(end.status(), status);
        assert_eq!(end.period(), Some(1));
        assert!(end.due(at("2099-01-01T00:00:00Z")).is_empty());
        assert_eq!(end.next_charge_at(), None);
    }
}

#[test]
fn a_late_recovery_charges_the_periods_missed_once_each() {
    // Daily billing with retries days apart: period 1 fails, its second retry succeeds
    // on day 5, and periods 2–5, which began meanwhile, are then due one after another.
    let now = at("2025-01-01T00:00:00Z");
    let s = start(terms(Interval::Day, 1, 0), now);
    let p = policy("1d,3d", ExhaustedAction::Cancel);
    let mut tries = 0;
    let (end, steps) = run(s, at("2025-01-06T00:00:00Z"), &p, |_, _| {
        tries += 1;
        if tries <= 2 {
            ChargeOutcome::Failed
        } else {
            ChargeOutcome::Succeeded
        }
    });
    let got: Vec<(u32, u32, ChargeOutcome)> = charges(&steps);
    use ChargeOutcome::*;
    assert_eq!(
        got,
        [
            (1, 0, Failed),
            (1, 1, Failed),
            (1, 2, Succeeded),
            (2, 0, Succeeded),
            (3, 0, Succeeded),
            (4, 0, Succeeded),
            (5, 0, Succeeded),
        ]
    );
    assert_eq!(end.phase, Phase::Active { period: 5 });
}

#[test]
fn canceling_at_period_end_while_past_due_ends_at_the_period_end() {
    let now = at("2025-01-01T00:00:00Z");
    let s = start(terms(Interval::Week, 1, 0), now);
    let p = policy("2d,4d", ExhaustedAction::MarkUnpaid);
    let week = now.plus_seconds(7 * DAY);
    let s = s
        .renewal_failed(1, week, &p)
        .unwrap()
        .state
        .set_cancel_at_period_end(true)
        .unwrap()
        .state;
    assert_eq!(s.next_charge_at(), Some(week.plus_seconds(2 * DAY)));
    let (end, steps) = run(s, at("2025-12-31T00:00:00Z"), &p, |_, _| {
        ChargeOutcome::Failed
    });
    // The first retry (day 9) falls before the period's end (day 14); the second (day 13)
    // too; the schedule then runs out and the merchant's setting says unpaid.
    assert_eq!(charges(&steps).len(), 2);
    assert_eq!(end.status(), SubscriptionStatus::Unpaid);

    let p = policy("1w,1w", ExhaustedAction::MarkUnpaid);
    let s2 = start(terms(Interval::Week, 1, 0), now)
        .renewal_failed(1, week, &p)
        .unwrap()
        .state
        .set_cancel_at_period_end(true)
        .unwrap()
        .state;
    let (end, steps) = run(s2, at("2025-12-31T00:00:00Z"), &p, |_, _| {
        ChargeOutcome::Failed
    });
    assert_eq!(s2.next_charge_at(), None);
    let actions: Vec<DueAction> = steps.iter().map(|st| st.due.action).collect();
    assert_eq!(
        actions,
        [DueAction::EndAtPeriodEnd],
        "the end (day 14) comes no later than the retry (day 7 + 7)"
    );
    assert_eq!(end.canceled_at(), Some(week.plus_seconds(7 * DAY)));
}

#[test]
fn unpaid_can_only_be_canceled() {
    let now = at("2025-01-01T00:00:00Z");
    let p = policy("1h", ExhaustedAction::MarkUnpaid);
    let s = start(terms(Interval::Month, 1, 0), now);
    let feb = at("2025-02-01T00:00:00Z");
    let s = s.renewal_failed(1, feb, &p).unwrap().state;
    let s = s
        .retry_failed(1, 1, feb.plus_seconds(3600), &p)
        .unwrap()
        .state;
    assert_eq!(s.status(), SubscriptionStatus::Unpaid);
    assert!(s.due(at("2030-01-01T00:00:00Z")).is_empty());
    assert_eq!(
        s.set_cancel_at_period_end(true),
        Err(SubscriptionRefusal::WrongStatus(SubscriptionStatus::Unpaid))
    );
    assert_eq!(
        s.cancel_now(feb).unwrap().state.status(),
        SubscriptionStatus::Canceled
    );
}

#[test]
fn checkout_refuses_a_calendar_without_periods() {
    assert_eq!(
        SubscriptionState::checkout(&terms(Interval::Month, 0, 0), at("2025-01-01T00:00:00Z")),
        Err(SubscriptionRefusal::OutOfCalendar)
    );
    assert_eq!(
        SubscriptionState::checkout(&terms(Interval::Year, 1, 0), at("9999-06-01T00:00:00Z")),
        Err(SubscriptionRefusal::OutOfCalendar)
    );
    // Near the end of the calendar, renewals simply stop.
    let s = start(terms(Interval::Month, 1, 0), at("9999-11-01T00:00:00Z"));
    let (end, steps) = run(
        s,
        at("9999-12-31T23:59:59Z"),
        &DunningPolicy::default(),
        |_, _| ChargeOutcome::Succeeded,
    );
    assert!(
        charges(&steps).is_empty(),
        "the next period would end in 10000"
    );
    assert_eq!(end.next_charge_at(), None);
}

fn interval_strategy() -> impl Strategy<Value = Interval> {
    prop_oneof![
        Just(Interval::Day),
        Just(Interval::Week),
        Just(Interval::Month),
        Just(Interval::Year),
    ]
}

fn terms_strategy() -> impl Strategy<Value = SubscriptionTerms> {
    (
        interval_strategy(),
        1u32..=3,
        prop_oneof![Just(0u32), 1u32..=30],
    )
        .prop_map(|(interval, count, trial)| {
            let count = count.min(SubscriptionTerms::max_count(interval));
            terms(interval, count, trial)
        })
}

/// From 2000 to 2099, to the second.
fn time_strategy() -> impl Strategy<Value = Timestamp> {
    (946_684_800i64..4_102_444_800).prop_map(Timestamp::from_unix)
}

fn policy_strategy() -> impl Strategy<Value = DunningPolicy> {
    (prop::collection::vec(1i64..=30, 1..=4), any::<bool>()).prop_map(|(days, unpaid)| {
        let text: Vec<String> = days.iter().map(|d| format!("{d}d")).collect();
        policy(
            &text.join(","),
            if unpaid {
                ExhaustedAction::MarkUnpaid
            } else {
                ExhaustedAction::Cancel
            },
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn exactly_one_renewal_per_elapsed_period(
        t in terms_strategy(),
        now in time_strategy(),
        days in 0i64..800,
    ) {
        let s = start(t, now);
        let to = now.plus_seconds(days * DAY);
        let (end, steps) = run(s, to, &DunningPolicy::default(), |_, _| ChargeOutcome::Succeeded);
        let got: Vec<u32> = charges(&steps).iter().map(|(p, _, _)| *p).collect();
        // Every period that has begun by `to` (period 0 is paid at checkout without a
        // trial), in order, once, each charged at its start.
        let first = if t.trial_period_days > 0 { 0 } else { 1 };
        let expected: Vec<u32> = (first..)
            .take_while(|k| s.cycle.period_start(*k).is_some_and(|a| a <= to))
            .collect();
        prop_assert_eq!(&got, &expected);
        for st in steps.iter().filter(|st| st.due.action.charge().is_some()) {
            let (k, _) = st.due.action.charge().unwrap();
            prop_assert_eq!(Some(st.due.at), s.cycle.period_start(k));
        }
        let notices = steps.iter().filter(|st| st.due.action == DueAction::TrialWillEnd).count();
        let warned = t.trial_period_days > 0 && s.trial_will_end_at() <= to;
        prop_assert_eq!(notices, usize::from(warned));
        if let Some(&last) = expected.last() {
            prop_assert_eq!(end.phase, Phase::Active { period: last });
            let (a, b) = end.current_period().unwrap();
            prop_assert!(a <= to && to < b);
        }
        prop_assert!(end.due(to).is_empty());
    }

    #[test]
    fn retries_follow_the_schedule_and_exhaustion_lands_in_the_setting(
        t in terms_strategy(),
        now in time_strategy(),
        p in policy_strategy(),
    ) {
        let s = start(t, now);
        let first = s.cycle.period_start(if t.trial_period_days > 0 { 0 } else { 1 }).unwrap();
        let to = first.plus_seconds(4 * 30 * DAY);
        let (end, steps) = run(s, to, &p, |_, _| ChargeOutcome::Failed);
        let got = charges(&steps);
        let period = if t.trial_period_days > 0 { 0 } else { 1 };
        let expected: Vec<(u32, u32, ChargeOutcome)> = (0..=p.schedule.retries())
            .map(|a| (period, a, ChargeOutcome::Failed))
            .collect();
        prop_assert_eq!(got, expected);
        let tries: Vec<Timestamp> = steps
            .iter()
            .filter(|st| st.due.action.charge().is_some())
            .map(|st| st.due.at)
            .collect();
        for (i, w) in tries.windows(2).enumerate() {
            let wait = p.schedule.wait_before(u32::try_from(i).unwrap() + 1).unwrap();
            prop_assert_eq!(w[1], w[0].plus_seconds(wait));
        }
        let status = match p.on_exhausted {
            ExhaustedAction::Cancel => SubscriptionStatus::Canceled,
            ExhaustedAction::MarkUnpaid => SubscriptionStatus::Unpaid,
        };
        prop_assert_eq!(end.status(), status);
        prop_assert!(end.due(Timestamp::from_unix(LAST_UNIX)).is_empty());
    }

    #[test]
    fn nothing_is_charged_after_a_cancel_and_every_key_is_used_once(
        t in terms_strategy(),
        now in time_strategy(),
        p in policy_strategy(),
        outcomes in prop::collection::vec(any::<bool>(), 1..64),
        cancel_after in 0i64..400,
        at_period_end in any::<bool>(),
    ) {
        let s = start(t, now);
        let mut i = 0;
        let mut charge = |_, _| {
            i += 1;
            if outcomes.get(i % outcomes.len()).copied().unwrap_or(true) {
                ChargeOutcome::Succeeded
            } else {
                ChargeOutcome::Failed
            }
        };
        let cancel_at = now.plus_seconds(cancel_after * DAY);
        let (mid, before) = run(s, cancel_at, &p, &mut charge);
        let to = cancel_at.plus_seconds(400 * DAY);
        let id = SubscriptionId::parse("sub_0123456789ABCDEFGHIJKL").unwrap();
        let mut keys = BTreeSet::new();
        let mut paid: BTreeMap<u32, u32> = BTreeMap::new();
        let mut check = |steps: &[Step]| -> Result<(), TestCaseError> {
            for st in steps {
                if let Some(key) = st.due.action.charge_key(&id) {
                    prop_assert!(keys.insert(key.clone()), "{} used twice", key);
                }
                if let (Some((k, _)), Some(ChargeOutcome::Succeeded)) = (st.due.action.charge(), st.outcome) {
                    *paid.entry(k).or_default() += 1;
                }
            }
            Ok(())
        };
        check(&before)?;
        if mid.status() == SubscriptionStatus::Canceled {
            prop_assert!(mid.due(to).is_empty());
            return Ok(());
        }
        if at_period_end && mid.status() != SubscriptionStatus::Unpaid {
            let ending = mid.set_cancel_at_period_end(true).unwrap().state;
            // Past the period's end and any retries of it.
            let (_, period_end) = mid.current_period().unwrap();
            let to = period_end.plus_seconds(200 * DAY);
            let (end, after) = run(ending, to, &p, &mut charge);
            check(&after)?;
            // Only retries of the period already billed; never a new period.
            let billed = mid.period();
            for (k, _, _) in charges(&after) {
                prop_assert_eq!(Some(k), billed);
            }
            prop_assert!(matches!(
                end.status(),
                SubscriptionStatus::Canceled | SubscriptionStatus::Unpaid
            ));
            if let Some(c) = end.canceled_at() {
                prop_assert!(c <= period_end);
            }
        } else {
            let canceled = mid.cancel_now(cancel_at).unwrap().state;
            prop_assert!(canceled.due(to).is_empty());
            prop_assert_eq!(canceled.next_charge_at(), None);
        }
        prop_assert!(paid.values().all(|n| *n == 1), "{:?}", paid);
    }

    #[test]
    fn advancing_in_steps_is_advancing_at_once(
        t in terms_strategy(),
        now in time_strategy(),
        p in policy_strategy(),
        outcomes in prop::collection::vec(any::<bool>(), 1..32),
        mid_days in 0i64..400,
        more_days in 0i64..400,
    ) {
        // A test clock moved twice ends where one moved once. (Nothing due before the first
        // stop is left for the second: every action up to it was applied.) The processor's
        // answer depends on the charge, not on when the clock moved.
        let charge = |period: u32, attempt: u32| {
            let i = usize::try_from(period * 7 + attempt).unwrap() % outcomes.len();
            if outcomes[i] { ChargeOutcome::Succeeded } else { ChargeOutcome::Failed }
        };
        let s = start(t, now);
        let mid = now.plus_seconds(mid_days * DAY);
        let to = mid.plus_seconds(more_days * DAY);
        let (at_once, all) = run(s, to, &p, charge);
        let (half, mut steps) = run(s, mid, &p, charge);
        let (in_steps, rest) = run(half, to, &p, charge);
        steps.extend(rest);
        prop_assert_eq!(at_once, in_steps);
        let key = |st: &Step| (st.due, st.done, st.outcome, st.events.clone());
        prop_assert_eq!(
            all.iter().map(key).collect::<Vec<_>>(),
            steps.iter().map(key).collect::<Vec<_>>()
        );
    }
}

/// Each subscription event is an event type of the contract, under the same name.
#[test]
fn subscription_events_are_event_types() {
    use crate::event::EventType;
    for e in [
        SubscriptionEvent::Created,
        SubscriptionEvent::TrialWillEnd,
        SubscriptionEvent::Renewed,
        SubscriptionEvent::PaymentFailed,
        SubscriptionEvent::Canceled,
    ] {
        assert_eq!(EventType::from(e).as_str(), e.as_str());
        assert_eq!(EventType::parse(e.as_str()), Some(EventType::from(e)));
    }
}

/// A stored cycle is checked when read back: a count of 0 (periods that never advance, each
/// due at once) or an anchor out of the calendar is refused, not charged in a loop.
#[test]
fn a_stored_cycle_is_checked_when_read() {
    let good = BillingCycle::new(Timestamp::from_unix(1_700_000_000), Interval::Month, 1).unwrap();
    let json = serde_json::to_value(good).unwrap();
    assert_eq!(
        serde_json::from_value::<BillingCycle>(json.clone()).unwrap(),
        good
    );
    let mut zero = json.clone();
    zero["interval_count"] = serde_json::json!(0);
    assert!(serde_json::from_value::<BillingCycle>(zero).is_err());
}
