//! Subscriptions through the API: checkout makes them, the test clock runs them through
//! trials, renewals, dunning and cancellation, on both backends.

use serde_json::{json, Value};

use crate::both;
use crate::helpers::TestApp;

/// A monthly link of `amount` with `trial` days of trial; its slug.
pub async fn monthly(app: &TestApp, amount: i64, trial: u32) -> String {
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Monthly box", "amount": amount,
                   "subscription": {"interval": "month", "trial_period_days": trial}}),
        )
        .await;
    l["slug"].as_str().unwrap().to_owned()
}

/// Subscribes through the link with `card`; the checkout session and the pay answer.
pub async fn subscribe(app: &TestApp, slug: &str, card: &str) -> (Value, Value) {
    let s = app
        .start_checkout(slug, json!({"email": "subscriber@example.com"}))
        .await;
    let session = s.ok(201).clone();
    let paid = app.pay_card(&session, card).await;
    (session, paid.body)
}

/// The merchant's only subscription.
pub async fn only_subscription(app: &TestApp) -> Value {
    let l = app.get("/v1/subscriptions").await;
    let data = l.ok(200)["data"].as_array().unwrap().clone();
    assert_eq!(data.len(), 1, "{data:?}");
    data[0].clone()
}

pub async fn advance(app: &TestApp, id: &str, to: &str) -> Value {
    app.post(
        &format!("/v1/subscriptions/{id}/test_clock/advance"),
        json!({"to": to}),
    )
    .await
    .ok(200)
    .clone()
}

/// The subscription's payments, oldest first: (amount, status).
pub async fn payments_of(app: &TestApp, sub: &str) -> Vec<(i64, String)> {
    let l = app.get("/v1/payments?limit=100").await;
    let mut out: Vec<(i64, String)> = l.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["subscription_id"] == sub)
        .map(|p| {
            (
                p["amount"].as_i64().unwrap(),
                p["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.reverse();
    out
}

/// Event types of the merchant's events that name `sub`, oldest first.
pub async fn events_of(app: &TestApp, sub: &str) -> Vec<String> {
    let l = app.get("/v1/events?limit=100").await;
    let mut out: Vec<String> = l.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["data"]["object"]["id"] == sub || e["data"]["object"]["subscription_id"] == sub
        })
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    out.reverse();
    out
}

async fn a_trial_then_a_year_of_renewals(app: TestApp) {
    let slug = monthly(&app, 1500, 14).await;
    let (session, paid) = subscribe(&app, &slug, "4242424242424242").await;
    assert_eq!(session["amount_due_today"], 0);
    assert_eq!(session["amount_total"], 1500);
    assert_eq!(paid["status"], "succeeded", "{paid}");
    // Nothing was charged: the card was kept.
    assert_eq!(app.processor.charges_made(), 0);
    let sub = only_subscription(&app).await;
    let id = sub["id"].as_str().unwrap().to_owned();
    assert_eq!(sub["status"], "trialing");
    assert_eq!(sub["amount"], 1500);
    assert_eq!(sub["payment_method"]["last4"], "4242");
    assert_eq!(sub["next_charge_at"], sub["trial_end"]);
    assert_eq!(payments_of(&app, &id).await, vec![(0, "succeeded".into())]);

    // A day after the trial: the first period is charged.
    let trial_end = sub["trial_end"].as_str().unwrap();
    let t = paylink_domain::time::Timestamp::parse(trial_end).unwrap();
    let after = advance(&app, &id, &t.plus_seconds(86_400).to_rfc3339()).await;
    assert_eq!(after["status"], "active", "{after}");
    assert_eq!(after["current_period_start"], trial_end);
    assert_eq!(app.processor.charges_made(), 1);
    // A year on: twelve more periods began, each charged once.
    let year = t.plus_seconds(366 * 86_400 - 3600).to_rfc3339();
    let after = advance(&app, &id, &year).await;
    assert_eq!(after["status"], "active");
    assert_eq!(app.processor.charges_made(), 13);
    let pays = payments_of(&app, &id).await;
    assert_eq!(pays.len(), 14);
    assert!(pays[1..].iter().all(|p| *p == (1500, "succeeded".into())));
    let evs = events_of(&app, &id).await;
    let count = |t: &str| evs.iter().filter(|e| *e == t).count();
    assert_eq!(count("subscription.created"), 1, "{evs:?}");
    assert_eq!(count("subscription.trial_will_end"), 1, "{evs:?}");
    assert_eq!(count("subscription.renewed"), 13, "{evs:?}");
    // Advancing to the same time again does nothing; going back is refused.
    advance(&app, &id, &year).await;
    assert_eq!(app.processor.charges_made(), 13);
    app.post(
        &format!("/v1/subscriptions/{id}/test_clock/advance"),
        json!({"to": trial_end}),
    )
    .await
    .assert_error(400, "parameter_invalid");
}

async fn a_card_that_starts_failing_is_dunned_then_canceled(app: TestApp) {
    let slug = monthly(&app, 900, 7).await;
    let (_, paid) = subscribe(&app, &slug, "4000000000000341").await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    let sub = only_subscription(&app).await;
    let id = sub["id"].as_str().unwrap().to_owned();
    let t = paylink_domain::time::Timestamp::parse(sub["trial_end"].as_str().unwrap()).unwrap();
    let after = advance(&app, &id, &t.plus_seconds(3600).to_rfc3339()).await;
    assert_eq!(after["status"], "past_due", "{after}");
    // Retries after 1, 3 and 5 days, each failing; then the end.
    let after = advance(&app, &id, &t.plus_seconds(10 * 86_400).to_rfc3339()).await;
    assert_eq!(after["status"], "canceled", "{after}");
    let pays = payments_of(&app, &id).await;
    assert_eq!(pays.len(), 5, "{pays:?}");
    assert!(pays[1..].iter().all(|p| p.1 == "failed"));
    let evs = events_of(&app, &id).await;
    let count = |t: &str| evs.iter().filter(|e| *e == t).count();
    assert_eq!(count("subscription.payment_failed"), 4, "{evs:?}");
    assert_eq!(count("subscription.canceled"), 1, "{evs:?}");
    // Nothing is ever charged again.
    advance(&app, &id, &t.plus_seconds(400 * 86_400).to_rfc3339()).await;
    assert_eq!(payments_of(&app, &id).await.len(), 5);
}

async fn cancel_now_and_at_period_end(app: TestApp) {
    let slug = monthly(&app, 2000, 0).await;
    let (session, paid) = subscribe(&app, &slug, "4242424242424242").await;
    assert_eq!(session["amount_due_today"], 2000);
    assert_eq!(paid["status"], "succeeded");
    let sub = only_subscription(&app).await;
    let id = sub["id"].as_str().unwrap().to_owned();
    assert_eq!(sub["status"], "active");
    assert_eq!(app.processor.charges_made(), 1);
    let end = sub["current_period_end"].as_str().unwrap().to_owned();
    let c = app
        .post(
            &format!("/v1/subscriptions/{id}/cancel"),
            json!({"at_period_end": true}),
        )
        .await;
    assert_eq!(c.ok(200)["cancel_at_period_end"], true);
    assert_eq!(c.body["status"], "active");
    assert_eq!(c.body["next_charge_at"], Value::Null);
    // Taken back, then set again.
    let k = app
        .patch(
            &format!("/v1/subscriptions/{id}"),
            json!({"cancel_at_period_end": false}),
        )
        .await;
    assert_eq!(k.ok(200)["cancel_at_period_end"], false);
    assert_eq!(k.body["next_charge_at"], end.as_str());
    app.patch(&format!("/v1/subscriptions/{id}"), json!({}))
        .await
        .assert_error(400, "parameter_missing");
    app.patch(
        &format!("/v1/subscriptions/{id}"),
        json!({"cancel_at_period_end": true}),
    )
    .await
    .ok(200);
    let t = paylink_domain::time::Timestamp::parse(&end).unwrap();
    let after = advance(&app, &id, &t.plus_seconds(60).to_rfc3339()).await;
    assert_eq!(after["status"], "canceled");
    assert_eq!(after["canceled_at"], end.as_str());
    assert_eq!(app.processor.charges_made(), 1);
    app.post(&format!("/v1/subscriptions/{id}/cancel"), json!({}))
        .await
        .assert_error(409, "subscription_canceled");
    app.patch(
        &format!("/v1/subscriptions/{id}"),
        json!({"cancel_at_period_end": false}),
    )
    .await
    .assert_error(409, "subscription_canceled");

    // Another one, canceled at once.
    let (_, _) = subscribe(&app, &slug, "4242424242424242").await;
    let l = app.get("/v1/subscriptions?status=active").await;
    let other = l.ok(200)["data"][0]["id"].as_str().unwrap().to_owned();
    let c = app
        .post(&format!("/v1/subscriptions/{other}/cancel"), json!({}))
        .await;
    assert_eq!(c.ok(200)["status"], "canceled");
    let l = app.get("/v1/subscriptions?status=canceled").await;
    assert_eq!(l.ok(200)["data"].as_array().unwrap().len(), 2);
}

async fn the_test_clock_is_test_mode_s_and_the_merchant_s_own(app: TestApp) {
    let slug = monthly(&app, 500, 0).await;
    subscribe(&app, &slug, "4242424242424242").await;
    let id = only_subscription(&app).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Another merchant sees no such subscription.
    let other = app.other_merchant("Rival").await;
    let r = app
        .call(
            Some(&other),
            reqwest::Method::GET,
            &format!("/v1/subscriptions/{id}"),
            None,
            None,
        )
        .await;
    r.assert_error(404, "resource_missing");
    let r = app
        .call(
            Some(&other),
            reqwest::Method::POST,
            &format!("/v1/subscriptions/{id}/cancel"),
            Some(json!({})),
            None,
        )
        .await;
    r.assert_error(404, "resource_missing");
    // A wallet cannot be kept for renewals: refused before anything is charged.
    let s = app
        .start_checkout(&slug, json!({"email": "w@example.com"}))
        .await;
    let session = s.ok(201).clone();
    let w = app
        .call(
            None,
            reqwest::Method::POST,
            &format!(
                "/api/public/checkout_sessions/{}/pay",
                session["id"].as_str().unwrap()
            ),
            Some(json!({"client_secret": session["client_secret"], "payment_method": {"type": "wallet"}})),
            None,
        )
        .await;
    w.assert_error(400, "payment_method_not_reusable");
    assert_eq!(app.processor.charges_made(), 1);
    // Live mode has no test clock.
    let live = app.live_key().await;
    let r = app
        .call(
            Some(&live),
            reqwest::Method::POST,
            &format!("/v1/subscriptions/{id}/test_clock/advance"),
            Some(json!({"to": "2099-01-01T00:00:00Z"})),
            None,
        )
        .await;
    r.assert_error(400, "test_clock_live_mode");
    // Odd input.
    for (bad, code) in [
        (json!({"to": "yesterday"}), "parameter_invalid"),
        (json!({"to": 5}), "parameter_invalid"),
        (
            json!({"to": "2099-01-01T00:00:00Z\u{0}"}),
            "parameter_invalid",
        ),
        (json!({"to": "2199-01-01T00:00:00Z"}), "parameter_invalid"),
        (json!({}), "parameter_missing"),
    ] {
        app.post(&format!("/v1/subscriptions/{id}/test_clock/advance"), bad)
            .await
            .assert_error(400, code);
    }
    app.get("/v1/subscriptions/sub_nope%00")
        .await
        .assert_error(400, "parameter_invalid");
    app.get("/v1/subscriptions/sub_nope")
        .await
        .assert_error(404, "resource_missing");
    app.get("/v1/subscriptions?status=paused")
        .await
        .assert_error(400, "parameter_invalid");
}

async fn a_recurring_donation_recurs_the_chosen_amount(app: TestApp) {
    // A one-off donation link made recurring by an edit; a custom link cannot be.
    let once = app
        .create(
            "/v1/payment_links",
            json!({"title": "Gift", "donation": {"minimum": 500, "maximum": 100000}}),
        )
        .await;
    let edited = app
        .patch(
            &format!("/v1/payment_links/{}", once["id"].as_str().unwrap()),
            json!({"subscription": {"interval": "year"}}),
        )
        .await;
    assert_eq!(edited.ok(200)["type"], "donation");
    assert_eq!(edited.body["subscription"]["interval"], "year");
    let custom = app.custom_link("Tea", 400).await;
    app.patch(
        &format!("/v1/payment_links/{}", custom["id"].as_str().unwrap()),
        json!({"subscription": {"interval": "year"}}),
    )
    .await
    .assert_error(422, "parameters_exclusive");
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Monthly gift", "donation": {"minimum": 500, "maximum": 100000},
                   "subscription": {"interval": "month"}}),
        )
        .await;
    assert_eq!(l["type"], "donation");
    let s = app
        .start_checkout(
            l["slug"].as_str().unwrap(),
            json!({"email": "donor@example.com", "amount": 1234}),
        )
        .await;
    let session = s.ok(201).clone();
    assert_eq!(session["amount_due_today"], 1234);
    let paid = app.pay_card(&session, "4242424242424242").await;
    assert_eq!(paid.body["status"], "succeeded");
    let sub = only_subscription(&app).await;
    assert_eq!(sub["amount"], 1234);
    let id = sub["id"].as_str().unwrap();
    let t = paylink_domain::time::Timestamp::parse(sub["current_period_end"].as_str().unwrap())
        .unwrap();
    advance(&app, id, &t.plus_seconds(60).to_rfc3339()).await;
    assert_eq!(
        payments_of(&app, id).await,
        vec![(1234, "succeeded".into()), (1234, "succeeded".into())]
    );
}

/// The test clock's events reach a webhook endpoint at once (dated at the clock's times),
/// signed; none is held back until its date comes.
async fn test_clock_events_are_delivered_now_and_signed(
    backend: paylink_store_sql::testing::Backend,
) {
    use crate::webhooks::{endpoint, verifies, Receiver};
    let app = TestApp::spawn_for_webhooks(backend).await;
    app.start_worker(|_| {});
    let rx = Receiver::start().await;
    let (_, secret) = endpoint(
        &app,
        &rx.url,
        json!([
            "subscription.created",
            "subscription.trial_will_end",
            "subscription.renewed",
            "payment.succeeded"
        ]),
    )
    .await;
    let slug = monthly(&app, 700, 3).await;
    subscribe(&app, &slug, "4242424242424242").await;
    let sub = only_subscription(&app).await;
    let id = sub["id"].as_str().unwrap();
    let t = paylink_domain::time::Timestamp::parse(sub["trial_end"].as_str().unwrap()).unwrap();
    advance(&app, id, &t.plus_seconds(40 * 86_400).to_rfc3339()).await;
    // created, trial_will_end, two renewals with their payments, and the trial's payment.
    let got = rx.wait_for(7).await;
    assert!(got.iter().all(|r| verifies(&secret, r)));
    let types: Vec<String> = got
        .iter()
        .map(|r| {
            serde_json::from_str::<Value>(&r.body).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    for t in ["subscription.created", "subscription.trial_will_end"] {
        assert_eq!(types.iter().filter(|x| *x == t).count(), 1, "{types:?}");
    }
    assert_eq!(
        types
            .iter()
            .filter(|x| *x == "subscription.renewed")
            .count(),
        2,
        "{types:?}"
    );
    assert_eq!(
        types.iter().filter(|x| *x == "payment.succeeded").count(),
        3,
        "{types:?}"
    );
}

mod test_clock_events_are_delivered_now_and_signed {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::test_clock_events_are_delivered_now_and_signed(
            paylink_store_sql::testing::Backend::Sqlite,
        )
        .await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::test_clock_events_are_delivered_now_and_signed(
            paylink_store_sql::testing::Backend::Postgres,
        )
        .await;
    }
}

/// The merchant's dunning settings: two retries a day apart, then `unpaid` (kept, charging
/// nothing, not ended); odd schedules are refused with the API's words.
async fn dunning_follows_the_merchant_s_settings(app: TestApp) {
    for bad in [
        "0d",
        "1d,,2d",
        "31d",
        "1d,1d,1d,1d,1d,1d,1d,1d,1d,1d,1d",
        "1m",
        "1d\u{0}",
    ] {
        app.patch("/v1/settings", json!({"subscription_retry_schedule": bad}))
            .await
            .assert_error(400, "parameter_invalid");
    }
    let s = app
        .patch(
            "/v1/settings",
            json!({"subscription_retry_schedule": "1d, 2d", "subscription_exhausted_action": "mark_unpaid"}),
        )
        .await;
    assert_eq!(s.ok(200)["subscription_retry_schedule"], "1d,2d");
    assert_eq!(s.body["subscription_exhausted_action"], "mark_unpaid");
    let slug = monthly(&app, 1100, 1).await;
    subscribe(&app, &slug, "4000000000000341").await;
    let sub = only_subscription(&app).await;
    let id = sub["id"].as_str().unwrap().to_owned();
    let t = paylink_domain::time::Timestamp::parse(sub["trial_end"].as_str().unwrap()).unwrap();
    let after = advance(&app, &id, &t.plus_seconds(60).to_rfc3339()).await;
    assert_eq!(after["status"], "past_due");
    assert_eq!(
        after["next_charge_at"],
        // A day after the renewal failed, which was when the trial ended.
        t.plus_seconds(86_400).to_rfc3339().as_str()
    );
    let after = advance(&app, &id, &t.plus_seconds(4 * 86_400).to_rfc3339()).await;
    assert_eq!(after["status"], "unpaid", "{after}");
    assert_eq!(after["next_charge_at"], Value::Null);
    // Three tries (the renewal and two retries), then nothing, for months.
    advance(&app, &id, &t.plus_seconds(200 * 86_400).to_rfc3339()).await;
    let pays = payments_of(&app, &id).await;
    assert_eq!(pays.len(), 4, "{pays:?}");
    assert_eq!(
        events_of(&app, &id)
            .await
            .iter()
            .filter(|e| *e == "subscription.canceled")
            .count(),
        0
    );
    // Filters: by status, link and customer.
    let l = app.get("/v1/subscriptions?status=unpaid").await;
    assert_eq!(l.ok(200)["data"].as_array().unwrap().len(), 1);
    let cus = format!("cus_{}", "0".repeat(22));
    let l = app
        .get(&format!("/v1/subscriptions?customer_id={cus}"))
        .await;
    assert!(l.ok(200)["data"].as_array().unwrap().is_empty());
    // An unpaid subscription is canceled now, not at a period's end.
    app.patch(
        &format!("/v1/subscriptions/{id}"),
        json!({"cancel_at_period_end": true}),
    )
    .await
    .assert_error(409, "subscription_status");
    let c = app
        .post(&format!("/v1/subscriptions/{id}/cancel"), json!({}))
        .await;
    assert_eq!(c.ok(200)["status"], "canceled");
}

both!(
    dunning_follows_the_merchant_s_settings,
    a_trial_then_a_year_of_renewals,
    a_card_that_starts_failing_is_dunned_then_canceled,
    cancel_now_and_at_period_end,
    the_test_clock_is_test_mode_s_and_the_merchant_s_own,
    a_recurring_donation_recurs_the_chosen_amount,
);
