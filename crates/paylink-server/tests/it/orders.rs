//! Orders over HTTP.

use serde_json::json;

use crate::both;
use crate::helpers::TestApp;
use paylink_processors::Processor;

both!(
    orders_price_tax_and_cancel,
    order_validation,
    a_checkout_holds_its_order,
    a_cancelled_order_takes_no_payment,
    a_payment_makes_an_order,
    a_hold_never_outlives_its_checkout,
    a_stuck_payment_is_settled_by_the_worker
);

/// Two orders, each held by a checkout whose request died while paying and whose customer
/// never came back: once their time is up the worker asks the processor. The charge that
/// went through becomes its payment and pays its order; the one that never happened ends,
/// and its order is free for the other link.
async fn a_stuck_payment_is_settled_by_the_worker(app: TestApp) {
    let (never, never_slugs) = order_with_two_links(&app).await;
    let (charged, charged_slugs) = order_with_two_links(&app).await;
    let a = app
        .start_checkout(&never_slugs[0], json!({"email": "a@example.com"}))
        .await;
    let b = app
        .start_checkout(&charged_slugs[0], json!({"email": "b@example.com"}))
        .await;
    let (a, b) = (
        a.ok(201)["id"].as_str().unwrap().to_owned(),
        b.ok(201)["id"].as_str().unwrap().to_owned(),
    );
    // b's charge reached the processor before its request died.
    app.processor
        .charge(paylink_processors::ChargeRequest {
            idempotency_key: format!("{b}:1"),
            amount: paylink_domain::money::Amount::new(8000).unwrap(),
            currency: paylink_domain::money::Currency::USD,
            method: paylink_processors::PaymentMethodData::Wallet,
            hsa_fsa_eligible_amount: paylink_domain::money::Amount::ZERO,
            description: "Pay your repair".into(),
        })
        .await
        .unwrap();
    for id in [&a, &b] {
        app.sql(&format!(
            "UPDATE checkout_sessions SET attempt_no = 1, attempt_status = 'processing', \
             attempt_started_at = 1, expires_at = 2 WHERE id = '{id}'"
        ))
        .await;
    }
    // Stuck: the sweeper leaves them, the other links wait.
    app.start_checkout(&never_slugs[1], json!({"email": "c@example.com"}))
        .await
        .assert_error(409, "order_reserved");
    app.start_worker(|_| {});
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while app.get(&format!("/v1/orders/{charged}")).await.body["status"] != "paid" {
        assert!(
            std::time::Instant::now() < deadline,
            "the charged order stayed unpaid"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    loop {
        let s = app
            .start_checkout(&never_slugs[1], json!({"email": "c@example.com"}))
            .await;
        if s.status == 201 {
            break;
        }
        s.assert_error(409, "order_reserved");
        assert!(
            std::time::Instant::now() < deadline,
            "the order stayed held"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let payments = app.get("/v1/payments").await;
    let paid: Vec<_> = payments.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "succeeded")
        .collect();
    assert_eq!(paid.len(), 1);
    assert_eq!(paid[0]["order_id"], charged.as_str());
    assert_eq!(paid[0]["checkout_session_id"], b.as_str());
    assert_eq!(paid[0]["amount"], 8000);
    assert_eq!(
        app.get(&format!("/v1/orders/{never}")).await.body["status"],
        "unpaid"
    );
    let _ = charged_slugs;
}

/// However a checkout stopped being open, its order does not stay held by it.
async fn a_hold_never_outlives_its_checkout(app: TestApp) {
    let (_, slugs) = order_with_two_links(&app).await;
    let first = app
        .start_checkout(&slugs[0], json!({"email": "a@example.com"}))
        .await;
    first.ok(201);
    app.sql(&format!(
        "UPDATE checkout_sessions SET status = 'expired' WHERE id = '{}'",
        first.body["id"].as_str().unwrap()
    ))
    .await;
    let second = app
        .start_checkout(&slugs[1], json!({"email": "b@example.com"}))
        .await;
    let paid = app.pay_card(second.ok(201), "4242424242424242").await;
    assert_eq!(paid.ok(200)["status"], "succeeded");
}

/// Every payment through a link that pays no order makes a `paid` order of what was sold,
/// announced with the payment; a merchant can turn that off; an order link's payment pays
/// its order and makes none.
async fn a_payment_makes_an_order(app: TestApp) {
    let cust = app
        .create("/v1/customers", json!({"email": "o@example.com"}))
        .await;
    let rate = app
        .create(
            "/v1/tax_rates",
            json!({"display_name": "Tax", "percentage": "10"}),
        )
        .await;
    let p = app
        .create(
            "/v1/products",
            json!({"name": "Lamp", "unit_amount": 1000, "tax_rate_id": rate["id"]}),
        )
        .await;
    // Plain (one round trip) and with products (a transaction): both make the order.
    for body in [
        json!({"title": "Plain", "amount": 700, "customer_id": cust["id"]}),
        json!({"title": "Lamps", "line_items": [{"product_id": p["id"], "quantity": 2}], "tax": {"collect": true}, "customer_id": cust["id"]}),
    ] {
        let l = app.create("/v1/payment_links", body).await;
        let (_, paid) = app.buy(l["slug"].as_str().unwrap()).await;
        let pid = paid.unwrap().body["payment_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let payment = app.get(&format!("/v1/payments/{pid}")).await;
        let oid = payment.body["order_id"].as_str().unwrap().to_owned();
        let o = app.get(&format!("/v1/orders/{oid}")).await;
        let o = o.ok(200);
        assert_eq!(o["status"], "paid");
        assert_eq!(o["payment_id"], pid.as_str());
        assert_eq!(o["customer_id"], cust["id"]);
        assert_eq!(o["amount_total"], payment.body["amount"]);
        assert_eq!(o["amount_tax"], payment.body["amount_tax"]);
        assert_eq!(
            o["line_items"].as_array().unwrap().len(),
            payment.body["line_items"].as_array().unwrap().len()
        );
        for kind in ["order.created", "order.paid"] {
            let ev = app.get(&format!("/v1/events?type={kind}")).await;
            assert_eq!(ev.ok(200)["data"][0]["data"]["object"]["id"], oid.as_str());
        }
    }
    let lamps = app.get("/v1/orders?status=paid").await;
    let o = &lamps.ok(200)["data"][0];
    assert_eq!(
        (
            o["amount_subtotal"].as_i64(),
            o["amount_tax"].as_i64(),
            o["amount_total"].as_i64()
        ),
        (Some(2000), Some(200), Some(2200))
    );
    assert_eq!(o["line_items"][0]["tax_rate"]["percentage"], "10");

    // Paying an order makes no second one.
    let (order, slugs) = order_with_two_links(&app).await;
    let (_, paid) = app.buy(&slugs[0]).await;
    let pid = paid.unwrap().body["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.get(&format!("/v1/payments/{pid}")).await.body["order_id"],
        order.as_str()
    );
    let all = app.get("/v1/orders").await;
    assert_eq!(all.ok(200)["data"].as_array().unwrap().len(), 3);

    // Turned off.
    app.patch("/v1/settings", json!({"create_orders": false}))
        .await
        .ok(200);
    let l = app.custom_link("No order", 500).await;
    let (_, paid) = app.buy(l["slug"].as_str().unwrap()).await;
    let pid = paid.unwrap().body["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(app.get(&format!("/v1/payments/{pid}")).await.body["order_id"].is_null());
    assert_eq!(
        app.get("/v1/orders").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

async fn order_with_two_links(app: &TestApp) -> (String, Vec<String>) {
    let o = app
        .create(
            "/v1/orders",
            json!({"line_items": [{"name": "Repair", "unit_amount": 8000}]}),
        )
        .await;
    let mut slugs = Vec::new();
    for _ in 0..2 {
        let l = app
            .create(
                "/v1/payment_links",
                json!({"title": "Pay your repair", "order_id": o["id"]}),
            )
            .await;
        slugs.push(l["slug"].as_str().unwrap().to_owned());
    }
    (o["id"].as_str().unwrap().to_owned(), slugs)
}

/// While one customer checks out an order, its other link waits; when that checkout runs
/// out of time the order is free again; once paid, the order cannot be canceled.
async fn a_checkout_holds_its_order(app: TestApp) {
    let (order, slugs) = order_with_two_links(&app).await;
    let first = app
        .start_checkout(&slugs[0], json!({"email": "a@example.com"}))
        .await;
    first.ok(201);
    let held = app
        .start_checkout(&slugs[1], json!({"email": "b@example.com"}))
        .await;
    held.assert_error(409, "order_reserved");
    assert!(held.headers.get("retry-after").is_some());
    // The same link refuses too (its one use is held).
    assert_eq!(
        app.start_checkout(&slugs[0], json!({"email": "c@example.com"}))
            .await
            .status,
        409
    );
    // The first checkout runs out of time: the other link takes the order at once, without
    // waiting for the sweeper.
    app.sql(&format!(
        "UPDATE checkout_sessions SET expires_at = 1 WHERE id = '{}'",
        first.body["id"].as_str().unwrap()
    ))
    .await;
    let second = app
        .start_checkout(&slugs[1], json!({"email": "b@example.com"}))
        .await;
    second.ok(201);
    app.pay_card(&first.body, "4242424242424242")
        .await
        .assert_error(410, "checkout_session_expired");
    let paid = app.pay_card(&second.body, "4242424242424242").await;
    assert_eq!(paid.ok(200)["status"], "succeeded");
    let o = app.get(&format!("/v1/orders/{order}")).await;
    assert_eq!(o.body["status"], "paid");
    assert_eq!(o.body["payment_id"], paid.body["payment_id"]);
    app.post(&format!("/v1/orders/{order}/cancel"), json!({}))
        .await
        .assert_error(409, "invalid_state_transition");
    for slug in &slugs {
        app.start_checkout(slug, json!({"email": "late@example.com"}))
            .await
            .assert_error(410, "order_paid");
        let preview = app.get(&format!("/api/public/links/{slug}")).await;
        preview.assert_error(410, "order_paid");
    }
    assert_eq!(
        app.get("/v1/events?type=order.paid").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// Canceling an order ends the checkout that holds it (nothing is charged), and its links
/// refuse from then on; a checkout being paid at that moment keeps the order.
async fn a_cancelled_order_takes_no_payment(app: TestApp) {
    app.patch("/v1/settings", json!({"support_email": "help@acme.test"}))
        .await
        .ok(200);
    let (order, slugs) = order_with_two_links(&app).await;
    let open = app
        .start_checkout(&slugs[0], json!({"email": "a@example.com"}))
        .await;
    open.ok(201);
    // Being paid right now: the cancel waits for the payment's outcome.
    let sid = open.body["id"].as_str().unwrap().to_owned();
    app.sql(&format!(
        "UPDATE checkout_sessions SET attempt_status = 'processing' WHERE id = '{sid}'"
    ))
    .await;
    let busy = app
        .post(&format!("/v1/orders/{order}/cancel"), json!({}))
        .await;
    busy.assert_error(409, "order_being_paid");
    assert!(busy.headers.get("retry-after").is_some());
    app.sql(&format!(
        "UPDATE checkout_sessions SET attempt_status = NULL WHERE id = '{sid}'"
    ))
    .await;
    let c = app
        .post(&format!("/v1/orders/{order}/cancel"), json!({}))
        .await;
    assert_eq!(c.ok(200)["status"], "canceled");
    app.pay_card(&open.body, "4242424242424242")
        .await
        .assert_error(410, "checkout_session_expired");
    for slug in &slugs {
        app.assert_gone(slug, "order_cancelled", "was cancelled")
            .await;
        // The customer can ask the merchant.
        let contact = "href=\"mailto:help@acme.test\">Contact Acme</a>";
        app.assert_gone(slug, "order_cancelled", contact).await;
    }
    assert_eq!(
        app.get("/v1/payments").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    app.post(&format!("/v1/orders/{order}/cancel"), json!({}))
        .await
        .assert_error(409, "invalid_state_transition");
}

async fn orders_price_tax_and_cancel(app: TestApp) {
    let rate = app
        .create(
            "/v1/tax_rates",
            json!({"display_name": "Tax", "percentage": "8.25"}),
        )
        .await;
    let p = app
        .create(
            "/v1/products",
            json!({"name": "Lamp", "unit_amount": 1000, "tax_rate_id": rate["id"]}),
        )
        .await;
    let cust = app
        .create("/v1/customers", json!({"email": "b@example.com"}))
        .await;
    let o = app
        .create(
            "/v1/orders",
            json!({"customer_id": cust["id"], "line_items": [
                {"product_id": p["id"], "quantity": 3},
                {"name": "Shipping", "unit_amount": 500}
            ]}),
        )
        .await;
    // 3 × 10.00 taxed at 8.25 % (2.475 → 2.48), shipping untaxed.
    assert_eq!(o["status"], "unpaid");
    assert_eq!(
        (
            o["amount_subtotal"].as_i64(),
            o["amount_tax"].as_i64(),
            o["amount_total"].as_i64()
        ),
        (Some(3500), Some(248), Some(3748))
    );
    assert_eq!(o["line_items"][0]["name"], "Lamp");
    assert_eq!(o["line_items"][0]["tax_rate"]["percentage"], "8.25");
    let id = o["id"].as_str().unwrap();

    let events = app.get("/v1/events?type=order.created").await;
    assert_eq!(events.ok(200)["data"][0]["data"]["object"]["id"], id);

    let c = app
        .post(&format!("/v1/orders/{id}/cancel"), json!({}))
        .await;
    assert_eq!(c.ok(200)["status"], "canceled");
    app.post(&format!("/v1/orders/{id}/cancel"), json!({}))
        .await
        .assert_error(409, "invalid_state_transition");
    let listed = app.get("/v1/orders?status=canceled").await;
    assert_eq!(listed.ok(200)["data"][0]["id"], id);
    app.get("/v1/orders?status=lost")
        .await
        .assert_error(400, "parameter_invalid");
}

async fn order_validation(app: TestApp) {
    let eur = app
        .create(
            "/v1/products",
            json!({"name": "Croissant", "unit_amount": 200, "currency": "EUR"}),
        )
        .await;
    app.post("/v1/orders", json!({"line_items": []}))
        .await
        .assert_error(400, "parameter_invalid")
        .assert_param("line_items");
    app.post(
        "/v1/orders",
        json!({"line_items": [{"product_id": "prod_0000000000000000000000"}]}),
    )
    .await
    .assert_error(422, "product_not_found")
    .assert_param("line_items[0].product_id");
    app.post(
        "/v1/orders",
        json!({"currency": "usd", "line_items": [{"product_id": eur["id"]}]}),
    )
    .await
    .assert_error(422, "currency_mismatch");
    app.post(
        "/v1/orders",
        json!({"line_items": [{"name": "A", "unit_amount": 1, "quantity": 0}]}),
    )
    .await
    .assert_error(422, "quantity_invalid")
    .assert_param("line_items[0].quantity");
    app.post("/v1/orders", json!({"line_items": [{"name": "A"}]}))
        .await
        .assert_error(422, "parameter_required");
    app.post("/v1/orders", json!({"customer_id": "cus_0000000000000000000000", "line_items": [{"name": "A", "unit_amount": 1}]}))
        .await
        .assert_error(422, "customer_not_found");
    // Overflow is a clear 400, not a wrap or a 500.
    app.post("/v1/orders", json!({"line_items": [{"name": "A", "unit_amount": 999_999_999_999_999_i64, "quantity": 999_999}]}))
        .await
        .assert_error(400, "amount_too_large");
    assert_eq!(
        app.get("/v1/orders").await.ok(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}
