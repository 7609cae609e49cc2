//! Subscriptions through Stripe: a trial saves the card on a SetupIntent, renewals are
//! charged off-session once per period, a card that declines later starts dunning.

use serde_json::{json, Value};

use super::{intent_secret, pay_stripe, payments, stripe_app, stripe_both, PK, SK};
use crate::helpers::TestApp;
use crate::stripe_peer::LocalStripe;

/// Saves a card on a SetupIntent as Stripe.js's `confirmSetup` does (localstripe takes the
/// card on its own confirm route with the publishable key).
async fn confirm_setup(peer: &LocalStripe, secret: &str, card: &str) -> Value {
    let id = secret.split("_secret_").next().unwrap();
    reqwest::Client::new()
        .post(format!("{}/v1/setup_intents/{id}/confirm", peer.base))
        .json(
            &json!({"key": PK, "client_secret": secret, "use_stripe_sdk": true,
            "payment_method_data": {"type": "card",
                "card": {"number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

stripe_both!(subscriptions_renew_off_session_through_stripe);
async fn subscriptions_renew_off_session_through_stripe(app: TestApp, peer: LocalStripe) {
    use crate::subscriptions::{advance, monthly, only_subscription};
    // A trial saves the card (a SetupIntent), charging nothing.
    let slug = monthly(&app, 1500, 14).await;
    let s = app
        .start_checkout(&slug, json!({"email": "subscriber@example.com"}))
        .await;
    let session = s.ok(201).clone();
    assert_eq!(session["amount_due_today"], 0);
    let secret = intent_secret(&session).to_owned();
    assert!(secret.starts_with("seti_"), "{secret}");
    let saved = confirm_setup(&peer, &secret, "4242424242424242").await;
    assert_eq!(saved["status"], "succeeded", "{saved}");
    let paid = pay_stripe(&app, &session).await;
    assert_eq!(paid.ok(200)["status"], "succeeded", "{}", paid.body);
    let sub = only_subscription(&app).await;
    assert_eq!(sub["status"], "trialing");
    let id = sub["id"].as_str().unwrap().to_owned();

    // Two months on: two renewals, charged off-session at Stripe, each once.
    let to = paylink_domain::time::Timestamp::now()
        .plus_seconds(75 * 86_400)
        .to_rfc3339();
    let after = advance(&app, &id, &to).await;
    assert_eq!(after["status"], "active", "{after}");
    let renewals: Vec<Value> = payments(&app, "succeeded")
        .await
        .into_iter()
        .filter(|p| p["amount"] == 1500)
        .collect();
    assert_eq!(renewals.len(), 2, "{renewals:?}");
    for p in &renewals {
        assert_eq!(p["processor"], "stripe");
        let pi = peer
            .get(
                SK,
                &format!(
                    "/v1/payment_intents/{}",
                    p["processor_reference"].as_str().unwrap()
                ),
            )
            .await;
        assert_eq!(
            (pi["status"].as_str(), pi["amount"].as_i64()),
            (Some("succeeded"), Some(1500))
        );
        assert!(
            pi["metadata"]["paylink_key"]
                .as_str()
                .unwrap()
                .starts_with(&id),
            "{pi}"
        );
    }
    // Stripe holds one charge per renewal key: the one recorded (found by Stripe's search,
    // as the worker finds a charge a dead holder made).
    let mut keys = Vec::new();
    for p in &renewals {
        let pi = peer
            .get(
                SK,
                &format!(
                    "/v1/payment_intents/{}",
                    p["processor_reference"].as_str().unwrap()
                ),
            )
            .await;
        keys.push(pi["metadata"]["paylink_key"].as_str().unwrap().to_owned());
    }
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 2, "two periods, two keys: {keys:?}");
    for key in &keys {
        let r = app
            .client
            .get(format!("{}/v1/payment_intents/search", peer.base))
            .bearer_auth(SK)
            .query(&[("query", format!("metadata['paylink_key']:'{key}'"))])
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(
            r["data"].as_array().unwrap().len(),
            1,
            "one charge for {key} at Stripe"
        );
    }

    // A card that saves but declines off-session: the renewal fails, dunning starts.
    let slug = monthly(&app, 900, 7).await;
    let session = app
        .start_checkout(&slug, json!({"email": "late@example.com"}))
        .await
        .ok(201)
        .clone();
    confirm_setup(&peer, intent_secret(&session), "4000000000000341").await;
    pay_stripe(&app, &session).await.ok(200);
    let subs = app.get("/v1/subscriptions?status=trialing").await;
    let late = subs.ok(200)["data"][0]["id"].as_str().unwrap().to_owned();
    let to = paylink_domain::time::Timestamp::now()
        .plus_seconds(8 * 86_400)
        .to_rfc3339();
    let after = advance(&app, &late, &to).await;
    assert_eq!(after["status"], "past_due", "{after}");
}

/// A renewal charged at Stripe by a worker that died before recording it is found again
/// under its key (never charged twice), at once after the charge: from the customer's
/// listing, which Stripe keeps consistent (its search may lag a write by a minute).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_charged_but_not_recorded_is_found_under_its_key() {
    use paylink_processors::stripe::{StripeClient, StripeProcessor};
    use paylink_processors::{ChargeOutcome, Processor, SavedChargeRequest};
    let peer = LocalStripe::start().await;
    let (_, customer) = peer
        .post(SK, "/v1/customers", &[("email", "r@example.com")], None)
        .await;
    let cus = customer["id"].as_str().unwrap();
    let (_, pm) = peer
        .post(
            SK,
            "/v1/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", "4242424242424242"),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2034"),
                ("card[cvc]", "123"),
            ],
            None,
        )
        .await;
    let method = format!("{cus}/{}", pm["id"].as_str().unwrap());
    let stripe = StripeProcessor {
        client: StripeClient::new(
            StripeClient::http(std::time::Duration::from_secs(5)),
            &peer.base,
            SK.to_owned().into(),
        ),
    };
    let key = "sub_0000000000000000000001:p2:a1";
    assert_eq!(stripe.find_saved_charge(key, &method).await.unwrap(), None);
    let charge = || SavedChargeRequest {
        idempotency_key: key.to_owned(),
        amount: paylink_domain::money::Amount::new(1500).unwrap(),
        currency: paylink_domain::money::Currency::parse("usd").unwrap(),
        method: method.clone(),
        description: "Monthly box".into(),
    };
    let made = stripe.charge_saved(charge()).await.unwrap();
    let ChargeOutcome::Succeeded { reference, .. } = &made else {
        panic!("{made:?}")
    };
    // Found at once, as made; another key finds nothing.
    assert_eq!(
        stripe.find_saved_charge(key, &method).await.unwrap(),
        Some(made.clone())
    );
    assert_eq!(
        stripe
            .find_saved_charge("sub_0000000000000000000001:p3:a1", &method)
            .await
            .unwrap(),
        None
    );
    // Charged again under the same key: Stripe answers the first charge, no second one.
    let again = stripe.charge_saved(charge()).await.unwrap();
    assert_eq!(again, made);
    let listed = peer
        .get(SK, &format!("/v1/payment_intents?customer={cus}"))
        .await;
    let data = listed["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{listed}");
    assert_eq!(data[0]["id"], reference.as_str());
}
