//! Stripe against `localstripe`, a stateful fake Stripe (PyPI), started per test: keys,
//! checkout through a PaymentIntent, declines, 3-D Secure, refunds, signed webhooks,
//! reconciliation of a payment nobody recorded, and secrets that never lie in the
//! database in the clear. Both backends.
//!
//! Where localstripe differs from Stripe's documentation, the wrapper in
//! `scripts/localstripe/` follows the documentation (see its comments): a Payment Element
//! and `confirmPayment` in its Stripe.js, `Idempotency-Key`, declines on confirmation.

mod browser;
mod crash;
mod subscriptions;
mod webhooks;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::stripe_peer::LocalStripe;
use paylink_store_sql::testing::Backend;

pub const SK: &str = "sk_test_paylinkStripeTests4242";
pub const PK: &str = "pk_test_paylinkStripeTests4242";
pub const WHSEC: &str = "whsec_paylinkStripeTestSecret99";

/// Both backends, each test with its own localstripe: `stripe_both!(name)` runs
/// `async fn name(app: TestApp, peer: LocalStripe)`.
macro_rules! stripe_both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let (app, peer) = super::stripe_app(paylink_store_sql::testing::Backend::Sqlite).await;
                    super::$name(app, peer).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let (app, peer) = super::stripe_app(paylink_store_sql::testing::Backend::Postgres).await;
                    super::$name(app, peer).await;
                }
            }
        )*
    };
}
pub(crate) use stripe_both;

/// A server pointed at a fresh localstripe, with the merchant's test mode on Stripe.
pub async fn stripe_app(backend: Backend) -> (TestApp, LocalStripe) {
    let peer = LocalStripe::start().await;
    let (api, js) = (peer.base.clone(), peer.js_url());
    let app = TestApp::spawn_with(backend, move |c| {
        c.stripe_api_base = api;
        c.stripe_js_url = js;
        c.stripe_check_after_secs = 1;
        c.webhook_allow_networks = Some("127.0.0.0/8".into());
    })
    .await;
    let keys = app
        .call(
            Some(&app.key),
            Method::PUT,
            "/v1/processors/stripe",
            Some(json!({"mode": "test", "secret_key": SK, "publishable_key": PK, "webhook_secret": WHSEC})),
            None,
        )
        .await;
    keys.ok(200);
    app.patch("/v1/settings", json!({"processors": {"test": "stripe"}}))
        .await
        .ok(200);
    (app, peer)
}

/// A $25.00 link and a checkout of it: the session.
pub async fn checkout(app: &TestApp) -> Value {
    let link = app.custom_link("Stripe tote", 2500).await;
    let s = app
        .start_checkout(
            link["slug"].as_str().unwrap(),
            json!({"email": "buyer@example.com"}),
        )
        .await;
    s.ok(201).clone()
}

pub fn intent_secret(session: &Value) -> &str {
    session["stripe"]["payment_intent_client_secret"]
        .as_str()
        .unwrap()
}

pub fn intent_id(session: &Value) -> String {
    intent_secret(session)
        .split("_secret_")
        .next()
        .unwrap()
        .to_owned()
}

pub async fn pay_stripe(app: &TestApp, session: &Value) -> crate::helpers::Resp {
    app.call(
        None,
        Method::POST,
        &format!("/api/public/checkout_sessions/{}/pay", session["id"].as_str().unwrap()),
        Some(json!({"client_secret": session["client_secret"], "payment_method": {"type": "stripe"}})),
        None,
    )
    .await
}

pub async fn payments(app: &TestApp, status: &str) -> Vec<Value> {
    app.get(&format!("/v1/payments?status={status}"))
        .await
        .ok(200)["data"]
        .as_array()
        .unwrap()
        .clone()
}

stripe_both!(a_payment_is_recorded_only_once_stripe_says_it_succeeded);
async fn a_payment_is_recorded_only_once_stripe_says_it_succeeded(app: TestApp, peer: LocalStripe) {
    // Keys are answered masked, never in full.
    let keys = app.get("/v1/processors/stripe").await;
    let shown = keys.ok(200).to_string();
    assert!(!shown.contains(SK) && !shown.contains(WHSEC), "{shown}");
    assert_eq!(keys.body["secret_key"], "sk_test_…4242");
    assert_eq!(
        keys.body["webhook_url"],
        format!("{}/webhooks/stripe/{}", app.base, app.merchant_id)
    );

    let session = checkout(&app).await;
    assert_eq!(session["processor"], "stripe");
    assert_eq!(session["stripe"]["publishable_key"], PK);
    let pi = peer
        .get(SK, &format!("/v1/payment_intents/{}", intent_id(&session)))
        .await;
    assert_eq!(pi["amount"], 2500);
    assert_eq!(pi["currency"], "usd");
    assert_eq!(pi["metadata"]["paylink_checkout_session"], session["id"]);

    // Card details are never taken for a seller on Stripe.
    app.pay_card(&session, "4242424242424242")
        .await
        .assert_error(400, "payment_method_not_allowed");
    // Nothing confirmed at Stripe yet: nothing recorded, on the browser's word or not.
    pay_stripe(&app, &session)
        .await
        .assert_error(409, "payment_not_confirmed");
    assert!(payments(&app, "succeeded").await.is_empty());

    let (status, confirmed) = peer
        .confirm(PK, intent_secret(&session), "4242424242424242")
        .await;
    assert_eq!(
        (status, confirmed["status"].as_str()),
        (200, Some("succeeded")),
        "{confirmed}"
    );
    let paid = pay_stripe(&app, &session).await;
    assert_eq!(paid.ok(200)["status"], "succeeded", "{}", paid.body);
    let again = pay_stripe(&app, &session).await;
    assert_eq!(again.body["payment_id"], paid.body["payment_id"]);
    let list = payments(&app, "succeeded").await;
    assert_eq!(list.len(), 1);
    let p = &list[0];
    assert_eq!(p["processor"], "stripe");
    assert_eq!(p["processor_reference"], intent_id(&session).as_str());
    assert_eq!(p["amount"], 2500);
    assert_eq!(p["payment_method"]["card"]["last4"], "4242");
    assert_eq!(p["disputed"], false);

    // A partial refund goes through Stripe's Refunds API.
    let id = p["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/v1/payments/{id}/refunds"),
            json!({"amount": 1000}),
        )
        .await;
    assert!(
        r.ok(201)["processor_reference"]
            .as_str()
            .unwrap()
            .starts_with("re_"),
        "{}",
        r.body
    );
    // An id, or the object (localstripe answers the object).
    let charge_id = confirmed["latest_charge"]
        .as_str()
        .or(confirmed["latest_charge"]["id"].as_str())
        .unwrap()
        .to_owned();
    let charge = peer.get(SK, &format!("/v1/charges/{charge_id}")).await;
    assert_eq!(charge["amount_refunded"], 1000, "{charge}");
    app.post(
        &format!("/v1/payments/{id}/refunds"),
        json!({"amount": 2000}),
    )
    .await
    .assert_error(422, "refund_exceeds_payment");
}

stripe_both!(declines_and_three_d_secure_are_stripes_answers);
async fn declines_and_three_d_secure_are_stripes_answers(app: TestApp, peer: LocalStripe) {
    let session = checkout(&app).await;
    // A card that attaches but is declined when charged.
    let (status, _) = peer
        .confirm(PK, intent_secret(&session), "4000000000000341")
        .await;
    assert_eq!(status, 402);
    let declined = pay_stripe(&app, &session).await;
    declined.assert_error(402, "card_declined");
    assert_eq!(declined.body["status"], "failed");
    // Asked again, the same decline is answered and recorded once.
    pay_stripe(&app, &session)
        .await
        .assert_error(402, "card_declined");
    assert_eq!(payments(&app, "failed").await.len(), 1);

    // The customer tries a card that asks for 3-D Secure: Stripe.js runs the challenge.
    let (status, pi) = peer
        .confirm(PK, intent_secret(&session), "4000002500003155")
        .await;
    assert_eq!(
        (status, pi["status"].as_str()),
        (200, Some("requires_action")),
        "{pi}"
    );
    let pending = pay_stripe(&app, &session).await;
    assert_eq!(pending.ok(200)["status"], "requires_action");
    let url = pending.body["next_action"]["redirect_url"]
        .as_str()
        .unwrap();
    assert!(
        url.contains(&format!("/c/{}", session["id"].as_str().unwrap())),
        "{url}"
    );
    assert!(payments(&app, "succeeded").await.is_empty());
    let done = peer.authenticate(PK, intent_secret(&session), true).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        pay_stripe(&app, &session).await.ok(200)["status"],
        "succeeded"
    );
    assert_eq!(payments(&app, "succeeded").await.len(), 1);

    // A failed challenge is a decline.
    let other = checkout(&app).await;
    peer.confirm(PK, intent_secret(&other), "4000002500003155")
        .await;
    peer.authenticate(PK, intent_secret(&other), false).await;
    pay_stripe(&app, &other)
        .await
        .assert_error(402, "authentication_failed");
}

stripe_both!(a_payment_nobody_recorded_is_reconciled_by_the_worker);
async fn a_payment_nobody_recorded_is_reconciled_by_the_worker(app: TestApp, peer: LocalStripe) {
    // No webhook and no pay call: Stripe took the money and nobody told us (the browser
    // closed, the server died before recording).
    let session = checkout(&app).await;
    let unpaid = checkout(&app).await;
    peer.confirm(PK, intent_secret(&session), "4242424242424242")
        .await;
    let (api, js) = (peer.base.clone(), peer.js_url());
    app.start_worker(move |c| {
        c.stripe_api_base = api;
        c.stripe_js_url = js;
        c.stripe_check_after_secs = 1;
    });
    let mut found = Vec::new();
    for _ in 0..150 {
        found = payments(&app, "succeeded").await;
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        found.len(),
        1,
        "the worker recorded the payment Stripe took"
    );
    assert_eq!(
        found[0]["processor_reference"],
        intent_id(&session).as_str()
    );
    // The page's late call gets the same payment; nothing is recorded twice.
    let late = pay_stripe(&app, &session).await;
    assert_eq!(late.ok(200)["payment_id"], found[0]["id"]);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(payments(&app, "succeeded").await.len(), 1);
    // The other checkout, never paid, is left alone until it ends.
    let pi = peer
        .get(SK, &format!("/v1/payment_intents/{}", intent_id(&unpaid)))
        .await;
    assert_eq!(pi["status"], "requires_payment_method");
}

stripe_both!(live_mode_takes_stripe_keys_from_an_owner_only);
async fn live_mode_takes_stripe_keys_from_an_owner_only(app: TestApp, _peer: LocalStripe) {
    // A live link needs a live processor.
    let live = app.live_key().await;
    let link = json!({"title": "Live", "amount": 1000});
    app.call(
        Some(&live),
        Method::POST,
        "/v1/payment_links",
        Some(link.clone()),
        None,
    )
    .await
    .assert_error(409, "payments_not_enabled");
    // A test key cannot set live keys or choose live's processor.
    let live_keys = json!({"mode": "live", "secret_key": "sk_live_paylinkTests4242", "publishable_key": "pk_live_paylinkTests4242", "webhook_secret": WHSEC});
    app.call(
        Some(&app.key),
        Method::PUT,
        "/v1/processors/stripe",
        Some(live_keys.clone()),
        None,
    )
    .await
    .assert_error(403, "insufficient_permissions");
    app.patch(
        "/v1/settings",
        json!({"processors": {"test": "stripe", "live": "stripe"}}),
    )
    .await
    .assert_error(422, "processor_not_available");
    // Keys of the wrong kind are refused.
    let wrong =
        json!({"mode": "live", "secret_key": SK, "publishable_key": PK, "webhook_secret": WHSEC});
    app.call(
        Some(&live),
        Method::PUT,
        "/v1/processors/stripe",
        Some(wrong),
        None,
    )
    .await
    .assert_error(422, "parameters_inconsistent");
    let short = json!({"mode": "live", "secret_key": "sk_live_x", "publishable_key": PK, "webhook_secret": WHSEC});
    app.call(
        Some(&live),
        Method::PUT,
        "/v1/processors/stripe",
        Some(short),
        None,
    )
    .await
    .assert_error(400, "parameter_invalid");
    let nul = json!({"mode": "test", "secret_key": "sk_test_abc\u{0}defghij", "publishable_key": PK, "webhook_secret": WHSEC});
    app.call(
        Some(&app.key),
        Method::PUT,
        "/v1/processors/stripe",
        Some(nul),
        None,
    )
    .await
    .assert_error(400, "parameter_invalid");
    // The live secret key (an owner's) sets them, chooses Stripe, and live links work.
    app.call(
        Some(&live),
        Method::PUT,
        "/v1/processors/stripe",
        Some(live_keys),
        None,
    )
    .await
    .ok(200);
    app.call(
        Some(&live),
        Method::PATCH,
        "/v1/settings",
        Some(json!({"processors": {"test": "stripe", "live": "stripe"}})),
        None,
    )
    .await
    .ok(200);
    app.call(
        Some(&live),
        Method::POST,
        "/v1/payment_links",
        Some(link),
        None,
    )
    .await
    .ok(201);
    // Another merchant sees none of it.
    let other = app.other_merchant("Other").await;
    app.call(
        Some(&other),
        Method::GET,
        "/v1/processors/stripe",
        None,
        None,
    )
    .await
    .assert_error(404, "resource_missing");
}

stripe_both!(no_stripe_secret_is_stored_in_the_clear);
async fn no_stripe_secret_is_stored_in_the_clear(app: TestApp, peer: LocalStripe) {
    let session = checkout(&app).await;
    peer.confirm(PK, intent_secret(&session), "4242424242424242")
        .await;
    pay_stripe(&app, &session).await.ok(200);
    let pi_secret = intent_secret(&session).to_owned();
    let dump = crate::stripe::browser::database_dump(&app).await;
    for secret in [SK, WHSEC, pi_secret.as_str()] {
        assert!(
            !dump.contains(secret),
            "{secret} lies in the database in the clear"
        );
    }
    // The dump did read the tables (the publishable key is public and kept plain).
    assert!(dump.contains(PK), "the dump holds the credentials' row");
}
