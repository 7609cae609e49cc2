//! Stripe's webhooks: signed by localstripe or by the test with Stripe's scheme; forged,
//! stale and other merchants' refused; disputes and refunds made at Stripe, once.

use reqwest::Method;
use serde_json::{json, Value};

use super::{checkout, intent_id, intent_secret, payments, stripe_app, stripe_both, PK, SK, WHSEC};
use crate::helpers::TestApp;
use crate::stripe_peer::{stripe_signature, LocalStripe};

stripe_both!(stripe_webhooks_are_verified_deduplicated_and_acted_on);
async fn stripe_webhooks_are_verified_deduplicated_and_acted_on(app: TestApp, peer: LocalStripe) {
    let url = format!("{}/webhooks/stripe/{}", app.base, app.merchant_id);
    peer.register_webhook("paylink", &url, WHSEC).await;
    let session = checkout(&app).await;
    // The customer confirms and closes the tab: Stripe's signed event records the payment.
    peer.confirm(PK, intent_secret(&session), "4242424242424242")
        .await;
    let mut found = Vec::new();
    for _ in 0..100 {
        found = payments(&app, "succeeded").await;
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(found.len(), 1, "the webhook recorded the payment");
    let payment_id = found[0]["id"].as_str().unwrap().to_owned();

    let post = |body: String, sig: String| {
        let client = app.client.clone();
        let url = url.clone();
        async move {
            let res = client
                .post(&url)
                .header("Stripe-Signature", sig)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let now = paylink_domain::time::Timestamp::now().unix();
    let dispute = json!({
        "id": "evt_dispute_1", "object": "event", "type": "charge.dispute.created", "livemode": false,
        "data": {"object": {"id": "dp_1", "object": "dispute", "payment_intent": intent_id(&session), "amount": 2500}}
    })
    .to_string();
    // Forged, stale, or for another merchant: refused, nothing changes.
    let (s, b) = post(
        dispute.clone(),
        stripe_signature("whsec_other", now, &dispute),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("signature_invalid"))
    );
    let (s, _) = post(
        dispute.clone(),
        stripe_signature(WHSEC, now - 301, &dispute),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = post(dispute.clone(), format!("t={now},v1=00")).await;
    assert_eq!(s, 400);
    let other = app.other_merchant("Other").await;
    let other_id = app
        .call(Some(&other), Method::GET, "/v1/settings", None, None)
        .await
        .body["merchant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = app
        .client
        .post(format!("{}/webhooks/stripe/{other_id}", app.base))
        .header("Stripe-Signature", stripe_signature(WHSEC, now, &dispute))
        .body(dispute.clone())
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(s, 400);
    let p = app.get(&format!("/v1/payments/{payment_id}")).await;
    assert_eq!(p.body["disputed"], false);

    // Signed: the payment is disputed and the merchant told, once however often it comes.
    let (s, b) = post(dispute.clone(), stripe_signature(WHSEC, now, &dispute)).await;
    assert_eq!((s, b["duplicate"].as_bool()), (200, Some(false)), "{b}");
    let (s, b) = post(dispute.clone(), stripe_signature(WHSEC, now, &dispute)).await;
    assert_eq!((s, b["duplicate"].as_bool()), (200, Some(true)), "{b}");
    let p = app.get(&format!("/v1/payments/{payment_id}")).await;
    assert_eq!(p.body["disputed"], true);
    let events = app.get("/v1/events?type=payment.disputed").await;
    assert_eq!(
        events.ok(200)["data"].as_array().unwrap().len(),
        1,
        "{}",
        events.body
    );

    // A refund made in Stripe's dashboard is mirrored, for what we did not know of.
    peer.post(
        SK,
        "/v1/refunds",
        &[("payment_intent", &intent_id(&session)), ("amount", "700")],
        None,
    )
    .await;
    let refunded = json!({
        "id": "evt_refund_1", "object": "event", "type": "charge.refunded", "livemode": false,
        "data": {"object": {"id": "ch_x", "object": "charge", "payment_intent": intent_id(&session),
                 "amount": 2500, "amount_refunded": 700, "refunds": {"data": [{"id": "re_dash"}]}}}
    })
    .to_string();
    let (s, _) = post(refunded.clone(), stripe_signature(WHSEC, now, &refunded)).await;
    assert_eq!(s, 200);
    let p = app.get(&format!("/v1/payments/{payment_id}")).await;
    assert_eq!(p.body["amount_refunded"], 700);
    let again = json!({
        "id": "evt_refund_2", "object": "event", "type": "charge.refunded", "livemode": false,
        "data": {"object": {"id": "ch_x", "object": "charge", "payment_intent": intent_id(&session),
                 "amount": 2500, "amount_refunded": 700, "refunds": {"data": [{"id": "re_dash"}]}}}
    })
    .to_string();
    post(again.clone(), stripe_signature(WHSEC, now, &again)).await;
    let p = app.get(&format!("/v1/payments/{payment_id}")).await;
    assert_eq!(p.body["amount_refunded"], 700, "a refund is mirrored once");
}
