//! Attacks on the engine's one-at-a-time promise: advances of one subscription at once,
//! an advance while the worker renews, cancels of a canceled subscription, and `paylink
//! serve` killed in the middle of an advance.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};

use paylink_domain::link::Interval;
use paylink_domain::time::Timestamp;

use super::support::*;
use crate::helpers::{free_port, wait_up, TestApp};

/// `POST …/test_clock/advance` to `to`: its status and body.
async fn advance_raw(app: &TestApp, id: &str, to: Timestamp) -> (u16, Value) {
    let r = app
        .post(
            &format!("/v1/subscriptions/{id}/test_clock/advance"),
            json!({"to": to.to_rfc3339()}),
        )
        .await;
    (r.status.as_u16(), r.body)
}

crate::both_with!(advances_of_one_subscription_at_once_charge_once, |c| {
    c.simulated_processor_latency_ms = 30;
});

async fn advances_of_one_subscription_at_once_charge_once(app: TestApp) {
    let link = plan(&app, "month").await;
    let now = Timestamp::now();
    // Four advances to the same time at once: each waits for the one under way (or is
    // told the subscription is busy), and twelve periods are charged once.
    let s = seed_one(&app, &link, Interval::Month, now, 0).await;
    let to = s.period_start(12).plus_seconds(3600);
    let answers =
        futures_util::future::join_all((0..4).map(|_| advance_raw(&app, &s.id, to))).await;
    let mut ok = 0;
    for (status, body) in &answers {
        match status {
            200 => {
                ok += 1;
                assert_eq!(
                    body["current_period_start"],
                    s.period_start(12).to_rfc3339()
                );
            }
            409 => assert_eq!(body["error"]["code"], "subscription_busy", "{body}"),
            _ => panic!("{status} {body}"),
        }
    }
    assert!(ok >= 1, "{answers:?}");
    assert_eq!(app.processor.charges_made(), 12);

    // Half a year and a year at once: whichever comes second finds the other done.
    let s2 = seed_one(&app, &link, Interval::Month, now, 1).await;
    let half = s2.period_start(6).plus_seconds(3600);
    let full = s2.period_start(12).plus_seconds(3600);
    let ((h, hb), (f, fb)) = futures_util::future::join(
        advance_raw(&app, &s2.id, half),
        advance_raw(&app, &s2.id, full),
    )
    .await;
    // The half year is refused once the clock is past it.
    assert!(
        h == 200 || (h == 400 && hb["error"]["code"] == "parameter_invalid") || h == 409,
        "{h} {hb}"
    );
    if f != 200 {
        assert_eq!(f, 409, "{fb}");
        assert_eq!(advance_raw(&app, &s2.id, full).await.0, 200);
    }
    assert_eq!(app.processor.charges_made(), 24);
    let expected: BTreeSet<String> = [&s, &s2]
        .iter()
        .flat_map(|s| s.keys_due(to.max(full)))
        .collect();
    assert_payments_match(&expected, &payments(&app).await);
}

crate::both_with!(an_advance_while_the_worker_renews_charges_once, |c| {
    c.simulated_processor_latency_ms = 50;
});

/// Subscriptions due now are renewed by the worker while each is advanced a year: whoever
/// holds the claim acts, and every period is charged once.
async fn an_advance_while_the_worker_renews_charges_once(app: TestApp) {
    let link = plan(&app, "month").await;
    let now = Timestamp::now();
    let subs = seed(&app, &link, Interval::Month, 40, |_| {
        now.plus_seconds(-40 * DAY)
    })
    .await;
    let to = now.plus_seconds(365 * DAY);
    let expected: BTreeSet<String> = subs.iter().flat_map(|s| s.keys_due(to)).collect();
    app.start_worker(|_| {});
    let answers: Vec<(u16, Value)> = futures_util::stream::iter(&subs)
        .map(|s| {
            let app = &app;
            async move {
                loop {
                    let (status, body) = advance_raw(app, &s.id, to).await;
                    if status != 409 {
                        return (status, body);
                    }
                }
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
    }
    // The worker's rounds go on a little: nothing more.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(app.processor.charges_made(), expected.len() as u64);
    assert_payments_match(&expected, &payments(&app).await);
}

crate::both!(a_canceled_subscription_stays_canceled);

/// Two cancels at once: one cancels, the other is told it is canceled already. Then every
/// way of changing it again is refused or does nothing, and nothing is charged.
async fn a_canceled_subscription_stays_canceled(app: TestApp) {
    let link = plan(&app, "month").await;
    let now = Timestamp::now();
    // Period 1 is due (no worker runs): a cancel does not charge it first.
    let s = seed_one(&app, &link, Interval::Month, now.plus_seconds(-40 * DAY), 0).await;
    let cancel = |body: Value| {
        let app = &app;
        let path = format!("/v1/subscriptions/{}/cancel", s.id);
        async move { app.post(&path, body).await }
    };
    let (x, y) = futures_util::future::join(cancel(json!({})), cancel(json!({}))).await;
    let (won, lost) = if x.status == 200 { (x, y) } else { (y, x) };
    let canceled = won.ok(200).clone();
    assert_eq!(canceled["status"], "canceled", "{canceled}");
    lost.assert_error(409, "subscription_canceled");
    assert_eq!(app.processor.charges_made(), 0);

    cancel(json!({}))
        .await
        .assert_error(409, "subscription_canceled");
    cancel(json!({"at_period_end": true}))
        .await
        .assert_error(409, "subscription_canceled");
    cancel(json!({"at_period_end": false}))
        .await
        .assert_error(409, "subscription_canceled");
    // Another merchant cannot see it, let alone cancel it.
    let rival = app.other_merchant("Rival").await;
    let r = app
        .call(
            Some(&rival),
            Method::POST,
            &format!("/v1/subscriptions/{}/cancel", s.id),
            Some(json!({})),
            None,
        )
        .await;
    r.assert_error(404, "resource_missing");
    // A year on the test clock: still canceled, nothing charged.
    let (status, body) = advance_raw(&app, &s.id, now.plus_seconds(365 * DAY)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "canceled");
    assert_eq!(body["canceled_at"], canceled["canceled_at"]);
    assert_eq!(app.processor.charges_made(), 0);
    let after = app.get(&format!("/v1/subscriptions/{}", s.id)).await;
    assert_eq!(after.ok(200), &canceled);
    assert_eq!(events_of_type(&app, "subscription.canceled").await, 1);
    assert!(payments(&app).await.is_empty());
}

/// `paylink serve` on the app's database, the processor taking 300 ms a call and timing
/// out after 1 s (a claim lasts 6 s).
fn serve(
    app: &TestApp,
    port: u16,
    ledger: &std::path::Path,
    log: &std::path::Path,
) -> crate::helpers::Process {
    let bind = format!("127.0.0.1:{port}");
    paylink(
        app,
        ledger,
        log,
        &[
            ("PAYLINK_SIMULATED_PROCESSOR_LATENCY_MS", "300"),
            ("PAYLINK_PROCESSOR_TIMEOUT_MS", "1000"),
        ],
        &["serve", "--no-worker", "--bind", &bind],
    )
}

/// `POST …/test_clock/advance` to the real binary at `base`.
async fn advance_at(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    id: &str,
    to: Timestamp,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(format!("{base}/v1/subscriptions/{id}/test_clock/advance"))
        .bearer_auth(key)
        .json(&json!({"to": to.to_rfc3339()}))
        .send()
        .await
}

/// Kills the server once `n` charges are in the ledger, 40 ms after the last: its charge
/// is made, its answer (150 ms later) not heard.
async fn kill_after_charges(
    server: &mut crate::helpers::Process,
    ledger_path: &std::path::Path,
    n: usize,
) {
    let begun = Instant::now();
    while ledger(ledger_path).len() < n {
        assert!(begun.elapsed() < Duration::from_secs(30), "no charges");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(40)).await;
    server.kill();
}

crate::both!(a_server_killed_during_an_advance_charges_once_when_advanced_again);

async fn a_server_killed_during_an_advance_charges_once_when_advanced_again(app: TestApp) {
    let link = plan(&app, "month").await;
    let s = seed_one(&app, &link, Interval::Month, Timestamp::now(), 0).await;
    let to = s.period_start(12).plus_seconds(3600);
    let expected: BTreeSet<String> = s.keys_due(to).into_iter().collect();
    let ledger_file = TempFile::new("advance-ledger");
    let logs = [TempFile::new("serve-1.log"), TempFile::new("serve-2.log")];
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = serve(&app, port, &ledger_file.0, &logs[0].0);
    wait_up(&client, &base).await;
    let first = {
        let (c, b, k, id) = (client.clone(), base.clone(), app.key.clone(), s.id.clone());
        tokio::spawn(async move { advance_at(&c, &b, &k, &id, to).await })
    };
    kill_after_charges(&mut server, &ledger_file.0, 4).await;
    let killed = Instant::now();
    assert!(
        first.await.unwrap().is_err(),
        "the advance's answer was lost"
    );
    let charged = ledger(&ledger_file.0).len();
    let paid = payments(&app).await.len();
    assert!(charged < 12, "the advance was over before the kill");
    assert_eq!(
        paid + 1,
        charged,
        "the last charge is made but not recorded"
    );

    // Started again and asked again: the claim left by the dead process runs out, then the
    // same keys are asked again, and the processor answers what it did.
    let _server = serve(&app, port, &ledger_file.0, &logs[1].0);
    wait_up(&client, &base).await;
    let answer: Value = loop {
        let r = advance_at(&client, &base, &app.key, &s.id, to)
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        if status == 200 {
            break body;
        }
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["error"]["code"], "subscription_busy", "{body}");
        assert!(killed.elapsed() < Duration::from_secs(30));
    };
    let waited = killed.elapsed();
    assert!(
        waited >= Duration::from_secs(4),
        "advanced again {waited:?} after the kill, while the dead process's claim held"
    );
    assert_eq!(
        answer["current_period_start"],
        s.period_start(12).to_rfc3339(),
        "{answer}"
    );
    assert_once_each(&expected, &ledger(&ledger_file.0), &payments(&app).await);
    // Once more: nothing to do.
    let again = advance_at(&client, &base, &app.key, &s.id, to)
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(ledger(&ledger_file.0).len(), 12);
}

crate::both!(a_cancel_after_a_cut_advance_is_not_before_its_renewals);

/// An advance cut short (here by a `kill -9`; a processor timeout does the same) has billed
/// periods months ahead: a cancel after it must not be dated before the renewals it keeps.
async fn a_cancel_after_a_cut_advance_is_not_before_its_renewals(app: TestApp) {
    let link = plan(&app, "month").await;
    let s = seed_one(&app, &link, Interval::Month, Timestamp::now(), 0).await;
    let to = s.period_start(12).plus_seconds(3600);
    let ledger_file = TempFile::new("cut-ledger");
    let logs = [TempFile::new("cut-1.log"), TempFile::new("cut-2.log")];
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = serve(&app, port, &ledger_file.0, &logs[0].0);
    wait_up(&client, &base).await;
    let first = {
        let (c, b, k, id) = (client.clone(), base.clone(), app.key.clone(), s.id.clone());
        tokio::spawn(async move { advance_at(&c, &b, &k, &id, to).await })
    };
    kill_after_charges(&mut server, &ledger_file.0, 4).await;
    let _ = first.await;
    let _server = serve(&app, port, &ledger_file.0, &logs[1].0);
    wait_up(&client, &base).await;
    let canceled: Value = loop {
        let r = client
            .post(format!("{base}/v1/subscriptions/{}/cancel", s.id))
            .bearer_auth(&app.key)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        if status == 200 {
            break body;
        }
        assert_eq!(status, 409, "{body}");
    };
    let paid = payments(&app).await;
    let last = paid.iter().map(|p| p.created_at).max().unwrap();
    let at = Timestamp::parse(canceled["canceled_at"].as_str().unwrap()).unwrap();
    let start = Timestamp::parse(canceled["current_period_start"].as_str().unwrap()).unwrap();
    assert!(
        at.unix() >= last && at >= start,
        "canceled at {at:?}, before its period ({start:?}) and its last renewal ({last}): {canceled}"
    );
}

crate::both!(a_charge_its_holder_never_recorded_is_recorded_before_a_cancel);

/// A renewal charged at the processor whose worker died (or timed out) before recording it:
/// the cancel that comes next asks the processor under the renewal's key, records the
/// payment first, and only then cancels. Nothing is charged by the cancel itself.
async fn a_charge_its_holder_never_recorded_is_recorded_before_a_cancel(app: TestApp) {
    use paylink_processors::{Processor, SavedChargeRequest};
    let link = plan(&app, "month").await;
    let now = Timestamp::now();
    let s = seed_one(&app, &link, Interval::Month, now.plus_seconds(-40 * DAY), 7).await;
    let key = s.keys_due(now).pop().unwrap();
    // The worker's call, as it reached the processor before the worker died.
    app.processor
        .charge_saved(SavedChargeRequest {
            idempotency_key: key.clone(),
            amount: paylink_domain::money::Amount::new(PRICE).unwrap(),
            currency: paylink_domain::money::Currency::USD,
            method: saved_ok(7),
            description: "Plan".into(),
        })
        .await
        .unwrap();
    assert_eq!(app.processor.charges_made(), 1);
    let c = app
        .post(&format!("/v1/subscriptions/{}/cancel", s.id), json!({}))
        .await;
    let canceled = c.ok(200).clone();
    assert_eq!(canceled["status"], "canceled");
    assert_eq!(app.processor.charges_made(), 1);
    let paid = payments(&app).await;
    assert_eq!(paid.len(), 1, "{paid:?}");
    assert_eq!(
        canceled["latest_payment_id"].as_str(),
        Some(paid[0].id.as_str())
    );
    assert_eq!(events_of_type(&app, "subscription.renewed").await, 1);
}
