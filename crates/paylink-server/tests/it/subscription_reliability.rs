//! The reliability promises, on both backends: two real workers and a `kill -9` of
//! one in the middle of a renewal run charge every due period exactly once (counted in the
//! processor's own ledger against the periods); a renewal never charges a canceled
//! subscription, even when the cancel races the worker; a year on the test clock for 1,000
//! subscriptions finishes and charges once per period. `attacks` tries the rest.

mod attacks;
mod support;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};

use paylink_domain::link::Interval;
use paylink_domain::subscription::Phase;
use paylink_domain::time::Timestamp;
use paylink_processors::Processor;

use crate::helpers::TestApp;
use support::*;

/// `both!` with the app's configuration tweaked (the processor's latency is the app's).
#[macro_export]
macro_rules! both_with {
    ($name:ident, $tweak:expr) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::TestApp::spawn_with(
                    paylink_store_sql::testing::Backend::Sqlite,
                    $tweak,
                )
                .await;
                super::$name(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let app = $crate::helpers::TestApp::spawn_with(
                    paylink_store_sql::testing::Backend::Postgres,
                    $tweak,
                )
                .await;
                super::$name(app).await;
            }
        }
    };
}

crate::both!(two_workers_and_a_kill_charge_each_due_period_once);

/// How long a worker's claim lasts: the processor timeout given to the workers (2 s) and
/// the engine's 5 s margin.
const LEASE: i64 = 7;

async fn two_workers_and_a_kill_charge_each_due_period_once(app: TestApp) {
    let link = plan(&app, "month").await;
    let now = Timestamp::now();
    // 240 with period 1 due; 60 with periods 1, 2 and 3 due (begun 100 days ago).
    let subs = seed(&app, &link, Interval::Month, 300, |i| {
        now.plus_seconds(if i % 5 == 0 { -100 * DAY } else { -40 * DAY })
    })
    .await;
    let expected: BTreeSet<String> = subs.iter().flat_map(|s| s.keys_due(now)).collect();
    assert_eq!(expected.len(), 240 + 60 * 3);
    // Nothing else begins for weeks: the periods due are those.
    assert!(subs
        .iter()
        .all(|s| s.keys_due(now.plus_seconds(5 * DAY)).len() == s.keys_due(now).len()));

    let ledger_file = TempFile::new("renewals-ledger");
    let logs = [
        TempFile::new("worker-a.log"),
        TempFile::new("worker-b.log"),
        TempFile::new("worker-c.log"),
    ];
    // 250 ms a charge, 64 at a time per worker: the run takes a few seconds.
    let env = [
        ("PAYLINK_WORKER_TICK_MS", "200"),
        ("PAYLINK_PROCESSOR_TIMEOUT_MS", "2000"),
        ("PAYLINK_SIMULATED_PROCESSOR_LATENCY_MS", "250"),
    ];
    let ledger_path = ledger_file.0.as_path();
    let mut a = paylink(&app, ledger_path, &logs[0].0, &env, &["worker"]);
    let _b = paylink(&app, ledger_path, &logs[1].0, &env, &["worker"]);

    // Killed once a fifth of the periods are paid, in the middle of its charges.
    let begun = Instant::now();
    while payment_count(&app).await < (expected.len() / 5) as i64 {
        assert!(
            begun.elapsed() < Duration::from_secs(30) && a.0.try_wait().unwrap().is_none(),
            "the workers renewed nothing: {}",
            std::fs::read_to_string(&logs[0].0).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.kill();
    let killed = Instant::now();
    let killed_unix = Timestamp::now().unix();
    // What the dead process sent before it died is written still (PostgreSQL commits a
    // transaction whose COMMIT it received): a moment before looking.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let paid_then: HashSet<String> = payments(&app).await.into_iter().map(|p| p.id).collect();
    let charged_then = ledger(ledger_path);
    let held = claims(&app).await;
    assert!(
        paid_then.len() < expected.len(),
        "the run was over before the kill"
    );
    // A third worker comes up in its place (it reads the ledger the dead one wrote).
    let _c = paylink(&app, ledger_path, &logs[2].0, &env, &["worker"]);

    // Three seconds on, the claims taken before the kill and still held unchanged on
    // subscriptions still due are the dead worker's: the live ones finish a claim in ~1 s.
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(killed.elapsed())).await;
    let now3 = Timestamp::now();
    let due3: HashSet<String> = due_ids(&app, now3).await;
    let dead: HashMap<String, i64> = claims(&app)
        .await
        .into_iter()
        .filter(|(id, c)| held.get(id) == Some(c) && due3.contains(id))
        .map(|(id, (_, until))| (id, until))
        .collect();
    assert!(
        !dead.is_empty(),
        "the killed worker held no claim on anything still due ({} claims at the kill)",
        held.len()
    );
    assert!(dead.values().all(|until| *until >= now3.unix()));

    // Everything due is renewed by the others, once the dead worker's claims ran out.
    while still_due(&app, Timestamp::now()).await > 0 {
        assert!(
            killed.elapsed() < Duration::from_secs(LEASE as u64 + 20),
            "still due {:?} after the kill: {}",
            killed.elapsed(),
            std::fs::read_to_string(&logs[1].0).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let done_after = killed.elapsed();
    // A few more rounds: nothing else is charged.
    tokio::time::sleep(Duration::from_millis(800)).await;

    let charged = ledger(ledger_path);
    let paid = payments(&app).await;
    assert_once_each(&expected, &charged, &paid);
    assert_eq!(
        events_of_type(&app, "subscription.renewed").await,
        expected.len() as i64
    );
    assert_eq!(
        events_of_type(&app, "payment.succeeded").await,
        expected.len() as i64
    );
    // Each ends active in its last due period.
    let states = states(&app).await;
    for s in &subs {
        let state = &states[&s.id];
        assert_eq!(
            state.phase,
            Phase::Active {
                period: s.keys_due(now).len() as u32
            },
            "{}",
            s.id
        );
    }
    // Claims are let go, but for the dead worker's on subscriptions it finished (its
    // last step keeps the claim; nothing is due to take it over): they just run out.
    let dead_tokens: HashSet<&String> = held.values().map(|(t, _)| t).collect();
    let left = claims(&app).await;
    assert!(
        left.values().all(|(t, _)| dead_tokens.contains(t)),
        "claims of live workers left: {left:?}"
    );

    // The dead worker's claims ran out before anyone took them over, and were taken over
    // within a few seconds of running out.
    for (id, until) in &dead {
        let first = paid
            .iter()
            .filter(|p| p.subscription == *id && p.created_at > killed_unix)
            .map(|p| p.created_at)
            .min()
            .expect("a subscription still due was renewed after the kill");
        let all: Vec<_> = paid
            .iter()
            .filter(|p| p.subscription == *id)
            .map(|p| (p.created_at, paid_then.contains(&p.id)))
            .collect();
        assert!(
            first > *until,
            "{id} renewed at {first}, while the dead worker's claim ran until {until} \
             (killed at {}, checked at {}, its payments {all:?})",
            killed_unix,
            now3.unix()
        );
        assert!(
            first <= until + 5,
            "{id} renewed at {first}, long after the claim ran out at {until}"
        );
    }
    // Charges the dead worker made but never recorded: asked again, not made again.
    let recorded: HashSet<String> = paid
        .iter()
        .filter(|p| paid_then.contains(&p.id))
        .filter_map(|p| p.reference.clone())
        .collect();
    let in_doubt = charged_then
        .iter()
        .filter(|c| !recorded.contains(&c.reference))
        .count();
    eprintln!(
        "{:?}: killed after {} payments ({} charges, {in_doubt} not yet recorded), {} claims \
         of the dead worker, all renewed {done_after:?} after the kill",
        app.backend,
        paid_then.len(),
        charged_then.len(),
        dead.len()
    );
}

/// The subscriptions with something due at `now`.
async fn due_ids(app: &TestApp, now: Timestamp) -> HashSet<String> {
    let rows: Vec<(String,)> = sqlx::query_as(&format!(
        "SELECT id FROM subscriptions WHERE next_due_at <= {}",
        now.unix()
    ))
    .fetch_all(app.store.pool())
    .await
    .unwrap();
    rows.into_iter().map(|(id,)| id).collect()
}

both_with!(
    a_cancel_racing_the_worker_is_never_followed_by_a_charge,
    |c| {
        c.simulated_processor_latency_ms = 200;
    }
);

/// A cancel's answer and when it came.
struct Canceled {
    at_period_end: bool,
    answer: Value,
    status: u16,
    answered: Timestamp,
}

/// Subscriptions whose next period begins over the next few seconds are canceled (now or
/// at the period's end) while the worker renews them. Whatever the order, a cancel answered
/// `200` is final: the subscription has exactly the payments its answer shows (the renewal
/// of a period that began before the cancel, or none), the processor made exactly those
/// charges, and nothing is charged after.
async fn a_cancel_racing_the_worker_is_never_followed_by_a_charge(app: TestApp) {
    let link = plan(&app, "day").await;
    let now = Timestamp::now();
    let n = 120;
    // Period 1 begins between 1 s ago and 4 s from now.
    let offset = |i: usize| (i % 6) as i64 - 1;
    let subs = seed(&app, &link, Interval::Day, n, |i| {
        now.plus_seconds(offset(i) - DAY)
    })
    .await;
    for (i, s) in subs.iter().enumerate() {
        assert_eq!(s.period_start(1), now.plus_seconds(offset(i)));
    }
    app.start_worker(|_| {});
    // Cancels spread over 5 s; a third of them at the period's end.
    let answers: Vec<Canceled> = futures_util::stream::iter(subs.iter().enumerate())
        .map(|(i, s)| {
            let app = &app;
            async move {
                let wait = (i as u64 * 397) % 5_000;
                tokio::time::sleep(Duration::from_millis(wait)).await;
                let at_period_end = i % 3 == 0;
                let r = app
                    .post(
                        &format!("/v1/subscriptions/{}/cancel", s.id),
                        json!({"at_period_end": at_period_end}),
                    )
                    .await;
                Canceled {
                    at_period_end,
                    answer: r.body,
                    status: r.status.as_u16(),
                    answered: Timestamp::now(),
                }
            }
        })
        .buffered(n)
        .collect()
        .await;
    // The periods of those ending at the period's end are over: the worker ends them.
    let settle = Instant::now();
    while still_due(&app, Timestamp::now()).await > 0 {
        assert!(settle.elapsed() < Duration::from_secs(20), "not settled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A few more rounds of the worker.
    tokio::time::sleep(Duration::from_millis(1_000)).await;

    let paid = payments(&app).await;
    // What the processor knows of periods 1 and 2 of each (asked 120 at a time: each
    // question takes its latency).
    let keys: Vec<String> = subs
        .iter()
        .flat_map(|s| [format!("{}:p1:a0", s.id), format!("{}:p2:a0", s.id)])
        .collect();
    let known: HashMap<String, bool> = futures_util::stream::iter(keys)
        .map(|k| {
            let p = app.processor.clone();
            async move {
                let known = p.find_charge(&k).await.unwrap().is_some();
                (k, known)
            }
        })
        .buffer_unordered(120)
        .collect()
        .await;
    let (mut renewed_first, mut never) = (0, 0);
    let mut charged_keys = 0;
    for (s, c) in subs.iter().zip(&answers) {
        let a = &c.answer;
        assert_eq!(c.status, 200, "{a}");
        let mine: Vec<_> = paid.iter().filter(|p| p.subscription == s.id).collect();
        // The period the answer shows as billed: 1 if it renewed before the cancel.
        let shown = if a["current_period_start"] == s.period_start(1).to_rfc3339() {
            1
        } else {
            assert_eq!(
                a["current_period_start"],
                s.period_start(0).to_rfc3339(),
                "{a}"
            );
            0
        };
        assert_eq!(
            mine.len(),
            shown,
            "{} payments vs its cancel's answer {a}",
            s.id
        );
        if let Some(p) = mine.first() {
            renewed_first += 1;
            assert_eq!(a["latest_payment_id"], p.id.as_str(), "{a}");
            assert_eq!(p.status, "succeeded");
        } else {
            never += 1;
            assert_eq!(a["latest_payment_id"], Value::Null, "{a}");
        }
        if c.at_period_end {
            assert_eq!(a["cancel_at_period_end"], true, "{a}");
            assert_eq!(a["status"], "active", "{a}");
            assert_eq!(a["next_charge_at"], Value::Null, "{a}");
            let later = app.get(&format!("/v1/subscriptions/{}", s.id)).await;
            let later = later.ok(200);
            assert_eq!(
                later["latest_payment_id"], a["latest_payment_id"],
                "{later}"
            );
            if shown == 0 {
                // Its period ended: it ended then, without a renewal.
                assert_eq!(later["status"], "canceled", "{later}");
                // When the worker came to it, once the period was over.
                let end = Timestamp::parse(a["current_period_end"].as_str().unwrap()).unwrap();
                let ended = Timestamp::parse(later["canceled_at"].as_str().unwrap()).unwrap();
                assert!(ended >= end && ended.unix() <= end.unix() + 3, "{later}");
            } else {
                assert_eq!(later["status"], "active", "{later}");
                assert_eq!(later["cancel_at_period_end"], true, "{later}");
            }
        } else {
            assert_eq!(a["status"], "canceled", "{a}");
            let at = Timestamp::parse(a["canceled_at"].as_str().unwrap()).unwrap();
            assert!(at <= c.answered, "{a}");
            if shown == 1 {
                assert!(mine[0].created_at <= at.unix(), "{a}");
            }
        }
        // A renewal is of a period that began before the cancel was answered.
        if shown == 1 {
            assert!(s.period_start(1) <= c.answered, "{a}");
            assert!(mine[0].created_at <= c.answered.unix(), "{a}");
        }
        // The processor charged exactly what the payments show: nothing hidden.
        for period in 1..=2u32 {
            let key = format!("{}:p{period}:a0", s.id);
            let known = known[&key];
            assert_eq!(known, period <= shown as u32, "{key}");
            charged_keys += usize::from(known);
        }
    }
    assert_eq!(app.processor.charges_made(), paid.len() as u64);
    assert_eq!(charged_keys, paid.len());
    eprintln!(
        "{:?}: {renewed_first} renewed before their cancel, {never} never renewed",
        app.backend
    );
    assert!(
        renewed_first > 0 && never > 0,
        "the cancels did not race the renewals: {renewed_first} renewed, {never} not"
    );
}

both_with!(a_year_on_the_test_clock_for_a_thousand_subscriptions, |c| {
    c.rate_limit_per_second = 10_000;
    c.rate_limit_burst = 10_000;
});

/// 1,000 monthly subscriptions, each advanced a year through the API, 8 at a time: every
/// advance answers, and the processor's charges, the periods billed and the renewal
/// payments are the same number.
async fn a_year_on_the_test_clock_for_a_thousand_subscriptions(app: TestApp) {
    let link = plan(&app, "month").await;
    let now = Timestamp::now();
    let seeding = Instant::now();
    let subs = seed(&app, &link, Interval::Month, 1_000, |_| now).await;
    let seeded_in = seeding.elapsed();
    // An hour past the start of period 12: twelve renewals each.
    let to = subs[0].period_start(12).plus_seconds(3600);
    let expected: BTreeSet<String> = subs.iter().flat_map(|s| s.keys_due(to)).collect();
    assert_eq!(expected.len(), 12_000);
    let started = Instant::now();
    let answers: Vec<(u16, Value)> = futures_util::stream::iter(&subs)
        .map(|s| {
            let app = &app;
            async move {
                let r = app
                    .post(
                        &format!("/v1/subscriptions/{}/test_clock/advance", s.id),
                        json!({"to": to.to_rfc3339()}),
                    )
                    .await;
                (r.status.as_u16(), r.body)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let took = started.elapsed();
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["status"], "active", "{body}");
    }
    let paid = payments(&app).await;
    assert_eq!(app.processor.charges_made(), 12_000);
    assert_payments_match(&expected, &paid);
    // The periods billed, as the subscriptions show them.
    let billed: u64 = states(&app)
        .await
        .values()
        .map(|s| u64::from(s.period().unwrap()))
        .sum();
    assert_eq!(billed, 12_000);
    assert_eq!(events_of_type(&app, "subscription.renewed").await, 12_000);
    eprintln!(
        "{:?}: 1,000 subscriptions seeded in {seeded_in:?}, a year advanced in {took:?} \
         ({:.0} renewals/s)",
        app.backend,
        12_000.0 / took.as_secs_f64()
    );
    assert!(
        took < Duration::from_secs(120),
        "a year for 1,000 subscriptions took {took:?}"
    );
}
