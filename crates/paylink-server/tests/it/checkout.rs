//! The customer side over HTTP: preview, checkout, every test card, refunds, receipts.

use reqwest::Method;
use serde_json::{json, Value};

use crate::both;
use crate::helpers::TestApp;

both!(
    purchase_records_payment_stats_and_events,
    every_test_card,
    gone_reasons,
    reservations_hold_and_release,
    a_limit_set_later_counts_earlier_checkouts,
    checkout_prices_the_link_as_it_is_now,
    receipt_numbers_count_up_on_every_path,
    paying_twice_charges_once,
    crash_between_charge_and_record_is_reconciled,
    refunds_never_exceed_the_payment,
    order_links_mark_the_order_paid,
    donations_tax_and_hsa,
    payments_are_per_merchant,
);

async fn link(app: &TestApp, body: Value) -> (String, String) {
    let l = app.create("/v1/payment_links", body).await;
    (
        l["id"].as_str().unwrap().to_owned(),
        l["slug"].as_str().unwrap().to_owned(),
    )
}

/// Receipt numbers count up per merchant whichever way a payment is recorded: a plain
/// link's in one round trip (on SQLite the number is taken inside it and written into the
/// payment and its event there), a link with stock or a limit in a transaction. The
/// number in the `payment.succeeded` event is the payment's. Past R-999999 the numbers
/// grow a digit instead of wrapping or being cut.
async fn receipt_numbers_count_up_on_every_path(app: TestApp) {
    let plain = app.custom_link("Consulting", 9000).await;
    let limited = app
        .create(
            "/v1/payment_links",
            json!({"title": "Seat", "amount": 500, "payments_limit": 10}),
        )
        .await;
    let mut paid = Vec::new();
    for l in [&plain, &limited, &plain, &plain, &limited] {
        let (s, p) = app.buy(l["slug"].as_str().unwrap()).await;
        s.ok(201);
        let p = p.unwrap();
        paid.push(p.ok(200)["payment_id"].as_str().unwrap().to_owned());
    }
    let events = app.get("/v1/events?limit=100&type=payment.succeeded").await;
    let events = events.ok(200)["data"].as_array().unwrap().clone();
    for (i, id) in paid.iter().enumerate() {
        let p = app.get(&format!("/v1/payments/{id}")).await;
        let want = format!("R-{:06}", i + 1);
        assert_eq!(p.ok(200)["receipt_number"], want.as_str(), "payment {i}");
        let e = events
            .iter()
            .find(|e| e["data"]["object"]["id"] == id.as_str())
            .unwrap_or_else(|| panic!("no payment.succeeded for {id}"));
        assert_eq!(e["data"]["object"], p.body, "event of payment {i}");
    }
    // The merchant's counter (a column on SQLite, a sequence on PostgreSQL) near a million.
    match app.store.dialect() {
        paylink_store_sql::Dialect::Sqlite => {
            app.sql("UPDATE merchants SET receipt_seq = 999998").await
        }
        paylink_store_sql::Dialect::Postgres => {
            app.sql("SELECT setval(paylink_receipts(id)::regclass, 999998) FROM merchants")
                .await
        }
    }
    for (l, want) in [
        (&plain, "R-999999"),
        (&limited, "R-1000000"),
        (&plain, "R-1000001"),
    ] {
        let (s, p) = app.buy(l["slug"].as_str().unwrap()).await;
        s.ok(201);
        let id = p.unwrap().ok(200)["payment_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let p = app.get(&format!("/v1/payments/{id}")).await;
        assert_eq!(p.ok(200)["receipt_number"], want);
        let events = app.get("/v1/events?limit=1&type=payment.succeeded").await;
        assert_eq!(events.ok(200)["data"][0]["data"]["object"], p.body);
    }
}

async fn purchase_records_payment_stats_and_events(app: TestApp) {
    let prod = app
        .create(
            "/v1/products",
            json!({"name": "Mug", "unit_amount": 1500, "inventory": {"available": 10}}),
        )
        .await;
    let (id, slug) = link(
        &app,
        json!({"title": "Mugs", "line_items": [{"product_id": prod["id"], "quantity": 1, "adjustable_quantity": {"enabled": true, "maximum": 5}}],
               "custom_fields": [{"key": "engraving", "label": "Engraving", "type": "text"}],
               "success_url": "https://shop.example.com/thanks?cs={CHECKOUT_SESSION_ID}&p={PAYMENT_ID}"}),
    )
    .await;
    let preview = app
        .call(
            None,
            Method::GET,
            &format!("/api/public/links/{slug}"),
            None,
            None,
        )
        .await;
    let pv = preview.ok(200);
    assert_eq!(
        (pv["title"].as_str(), pv["merchant"]["name"].as_str()),
        (Some("Mugs"), Some("Acme"))
    );
    assert_eq!(
        (
            pv["totals"]["amount_total"].as_i64(),
            pv["line_items"][0]["available"].as_i64()
        ),
        (Some(1500), Some(10))
    );

    let s = app
        .start_checkout(&slug, json!({"quantities": [3], "email": "ada@example.com", "name": "Ada", "custom_fields": {"engraving": "ADA"}}))
        .await;
    let s = s.ok(201).clone();
    assert!(s["id"].as_str().unwrap().starts_with("cs_"));
    assert_eq!(
        (s["status"].as_str(), s["amount_total"].as_i64()),
        (Some("open"), Some(4500))
    );
    assert!(s["client_secret"].as_str().unwrap().len() > 20);
    // Stock is held while the customer pays.
    assert_eq!(
        app.get(&format!("/v1/products/{}", prod["id"].as_str().unwrap()))
            .await
            .body["inventory"]["available"],
        7
    );

    let paid = app.pay_card(&s, "4242 4242 4242 4242").await;
    let paid = paid.ok(200).clone();
    assert_eq!(paid["status"], "succeeded");
    assert_eq!(
        paid["redirect_url"],
        format!(
            "https://shop.example.com/thanks?cs={}&p={}",
            s["id"].as_str().unwrap(),
            paid["payment_id"].as_str().unwrap()
        )
    );
    let pid = paid["payment_id"].as_str().unwrap();
    let p = app.get(&format!("/v1/payments/{pid}")).await;
    let p = p.ok(200);
    assert_eq!(
        (
            p["status"].as_str(),
            p["amount"].as_i64(),
            p["receipt_number"].as_str()
        ),
        (Some("succeeded"), Some(4500), Some("R-000001"))
    );
    assert_eq!(
        p["payment_method"]["card"],
        json!({"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2099})
    );
    assert_eq!(
        (
            p["customer"]["email"].as_str(),
            p["custom_fields"][0]["value"].as_str()
        ),
        (Some("ada@example.com"), Some("ADA"))
    );
    assert_eq!(p["line_items"][0]["quantity"], 3);
    assert_eq!(p["receipt_url"], paid["receipt_url"]);

    let l = app.get(&format!("/v1/payment_links/{id}")).await;
    assert_eq!(
        l.body["stats"],
        json!({"views": 1, "checkouts_started": 1, "payments_count": 1, "amount_collected": 4500})
    );
    assert_eq!(
        app.get(&format!("/v1/products/{}", prod["id"].as_str().unwrap()))
            .await
            .body["inventory"]["available"],
        7
    );
    let mine = app.get(&format!("/v1/payment_links/{id}/payments")).await;
    assert_eq!(mine.ok(200)["data"][0]["id"], pid);
    let events = app.get("/v1/events?limit=5").await;
    let kinds: Vec<_> = events.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds[..4],
        [
            "order.paid",
            "order.created",
            "checkout_session.completed",
            "payment.succeeded"
        ]
    );
    // The full card number and CVC are stored nowhere.
    for table in [
        "payments",
        "checkout_sessions",
        "events",
        "idempotency_keys",
    ] {
        let rows: Vec<(String,)> =
            sqlx::query_as(&format!("SELECT CAST(data AS TEXT) FROM {table}"))
                .fetch_all(app.store.pool())
                .await
                .unwrap_or_default();
        for (row,) in rows {
            assert!(
                !row.contains("4242424242424242") && !row.contains("4242 4242 4242 4242"),
                "{table}: {row}"
            );
        }
    }
    // Deleting a link with payments is refused; its payments stay.
    app.delete(&format!("/v1/payment_links/{id}"))
        .await
        .assert_error(409, "payment_link_has_payments");
}

async fn every_test_card(app: TestApp) {
    let (_, slug) = link(&app, json!({"title": "Cards", "amount": 1000})).await;
    let s = app
        .start_checkout(&slug, json!({"email": "c@example.com"}))
        .await
        .ok(201)
        .clone();
    for (card, code) in [
        ("4000000000000002", "card_declined"),
        ("4000000000009995", "insufficient_funds"),
        ("4000000000000119", "processing_error"),
    ] {
        let r = app.pay_card(&s, card).await;
        assert_eq!(r.status, 402, "{card}: {}", r.body);
        assert_eq!(
            (r.body["status"].as_str(), r.body["decline_code"].as_str()),
            (Some("failed"), Some(code))
        );
    }
    assert_eq!(
        app.pay_card(&s, "4000000000000119").await.body["retryable"],
        true
    );
    app.pay_card(&s, "4242424242424241")
        .await
        .assert_error(400, "invalid_card_number")
        .assert_param("payment_method.card.number");
    // Declines are recorded as failed payments, with events.
    let failed = app.get("/v1/payments?status=failed").await;
    assert_eq!(failed.ok(200)["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.get("/v1/events?type=payment.failed").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // The session stays open: another card pays it.
    let ok = app.pay_card(&s, "5555555555554444").await;
    assert_eq!(ok.ok(200)["status"], "succeeded");
    let p = app
        .get(&format!(
            "/v1/payments/{}",
            ok.body["payment_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(p.body["payment_method"]["card"]["brand"], "mastercard");

    // 3-D Secure: the answer points to the challenge page.
    let s = app
        .start_checkout(&slug, json!({"email": "c@example.com"}))
        .await
        .ok(201)
        .clone();
    let r = app.pay_card(&s, "4000000000003220").await;
    assert_eq!(r.ok(200)["status"], "requires_action");
    assert!(r.body["next_action"]["redirect_url"]
        .as_str()
        .unwrap()
        .contains("/authenticate"));
    // Wallets are refused unless the link accepts them.
    let body = json!({"client_secret": s["client_secret"], "payment_method": {"type": "wallet"}});
    let r = app
        .call(
            None,
            Method::POST,
            &format!(
                "/api/public/checkout_sessions/{}/pay",
                s["id"].as_str().unwrap()
            ),
            Some(body),
            None,
        )
        .await;
    r.assert_error(400, "payment_method_not_allowed");
    // The same on a fresh session, which stays free to pay with a card.
    let fresh = app
        .start_checkout(&slug, json!({"email": "f@example.com"}))
        .await
        .ok(201)
        .clone();
    let body =
        json!({"client_secret": fresh["client_secret"], "payment_method": {"type": "wallet"}});
    let path = format!(
        "/api/public/checkout_sessions/{}/pay",
        fresh["id"].as_str().unwrap()
    );
    app.call(None, Method::POST, &path, Some(body), None)
        .await
        .assert_error(400, "payment_method_not_allowed");
    assert_eq!(
        app.pay_card(&fresh, "4242424242424242").await.ok(200)["status"],
        "succeeded"
    );
    let (_, wslug) = link(
        &app,
        json!({"title": "Wallets", "amount": 700, "payment_method_types": ["wallet"]}),
    )
    .await;
    let ws = app
        .start_checkout(&wslug, json!({"email": "w@example.com"}))
        .await
        .ok(201)
        .clone();
    let body = json!({"client_secret": ws["client_secret"], "payment_method": {"type": "wallet"}});
    let r = app
        .call(
            None,
            Method::POST,
            &format!(
                "/api/public/checkout_sessions/{}/pay",
                ws["id"].as_str().unwrap()
            ),
            Some(body),
            None,
        )
        .await;
    assert_eq!(r.ok(200)["status"], "succeeded");
    // A wrong client secret is as good as no session.
    let bad = json!({"client_secret": "cs_secret_wrong", "payment_method": {"type": "wallet"}});
    let r = app
        .call(
            None,
            Method::POST,
            &format!(
                "/api/public/checkout_sessions/{}/pay",
                ws["id"].as_str().unwrap()
            ),
            Some(bad),
            None,
        )
        .await;
    r.assert_error(404, "resource_missing");
}

async fn gone_reasons(app: TestApp) {
    let preview = |slug: String| {
        let app = &app;
        async move {
            app.call(
                None,
                Method::GET,
                &format!("/api/public/links/{slug}"),
                None,
                None,
            )
            .await
        }
    };
    preview("no-such-link".into())
        .await
        .assert_error(404, "link_not_found");
    let (id, slug) = link(
        &app,
        json!({"title": "Gone", "amount": 100, "inactive_message": "Back next week"}),
    )
    .await;
    app.post(&format!("/v1/payment_links/{id}/deactivate"), json!({}))
        .await
        .ok(200);
    let r = preview(slug.clone()).await;
    r.assert_error(410, "link_inactive");
    assert_eq!(r.body["error"]["message"], "Back next week");
    app.start_checkout(&slug, json!({"email": "a@example.com"}))
        .await
        .assert_error(410, "link_inactive");
    app.post(&format!("/v1/payment_links/{id}/cancel"), json!({}))
        .await
        .ok(200);
    preview(slug).await.assert_error(410, "link_cancelled");

    let (id, slug) = link(
        &app,
        json!({"title": "Old", "amount": 100, "expires_at": "2099-01-01T00:00:00Z"}),
    )
    .await;
    app.sql(&format!(
        "UPDATE payment_links SET expires_at = 1000 WHERE id = '{id}'"
    ))
    .await;
    preview(slug).await.assert_error(410, "link_expired");
    let (_, slug) = link(
        &app,
        json!({"title": "Soon", "amount": 100, "opens_at": "2099-01-01T00:00:00Z"}),
    )
    .await;
    preview(slug).await.assert_error(410, "link_not_open");
    let (id, slug) = link(&app, json!({"title": "Deleted", "amount": 100})).await;
    app.delete(&format!("/v1/payment_links/{id}")).await.ok(200);
    preview(slug).await.assert_error(410, "link_inactive");
    let (_, slug) = link(
        &app,
        json!({"title": "Once", "amount": 100, "payments_limit": 1}),
    )
    .await;
    let (_, paid) = app.buy(&slug).await;
    assert_eq!(paid.unwrap().ok(200)["status"], "succeeded");
    preview(slug.clone()).await.assert_error(410, "link_paid");
    app.start_checkout(&slug, json!({"email": "a@example.com"}))
        .await
        .assert_error(410, "link_paid");
    let prod = app
        .create(
            "/v1/products",
            json!({"name": "Rare", "unit_amount": 100, "inventory": {"available": 0}}),
        )
        .await;
    let (_, slug) = link(
        &app,
        json!({"title": "Rare", "line_items": [{"product_id": prod["id"]}]}),
    )
    .await;
    preview(slug.clone()).await.assert_error(410, "sold_out");
    app.start_checkout(&slug, json!({"email": "a@example.com"}))
        .await
        .assert_error(410, "sold_out");
}

async fn reservations_hold_and_release(app: TestApp) {
    let (id, slug) = link(
        &app,
        json!({"title": "Single seat", "amount": 100, "payments_limit": 1}),
    )
    .await;
    let first = app
        .start_checkout(&slug, json!({"email": "a@example.com"}))
        .await
        .ok(201)
        .clone();
    let r = app
        .start_checkout(&slug, json!({"email": "b@example.com"}))
        .await;
    r.assert_error(409, "link_fully_reserved");
    let retry: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=1800).contains(&retry), "{retry}");
    // The hold ends with the session's time; the worker releases it and says so.
    app.sql(&format!(
        "UPDATE checkout_sessions SET expires_at = 1000 WHERE id = '{}'",
        first["id"].as_str().unwrap()
    ))
    .await;
    paylink_server::worker::round(app.store.as_ref(), &app.base).await;
    let expired = app.get("/v1/events?type=checkout_session.expired").await;
    assert_eq!(
        expired.ok(200)["data"][0]["data"]["object"]["id"],
        first["id"]
    );
    app.pay_card(&first, "4242424242424242")
        .await
        .assert_error(410, "checkout_session_expired");
    let second = app
        .start_checkout(&slug, json!({"email": "b@example.com"}))
        .await
        .ok(201)
        .clone();
    assert_eq!(
        app.pay_card(&second, "4242424242424242").await.ok(200)["status"],
        "succeeded"
    );
    assert_eq!(
        app.get(&format!("/v1/payment_links/{id}")).await.body["status"],
        "paid"
    );
    assert_eq!(
        app.get("/v1/events?type=payment_link.paid").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Stock: held, then released by expiry even without the worker (on the next checkout).
    let prod = app
        .create(
            "/v1/products",
            json!({"name": "Last one", "unit_amount": 100, "inventory": {"available": 1}}),
        )
        .await;
    let (_, slug) = link(
        &app,
        json!({"title": "Last", "line_items": [{"product_id": prod["id"]}]}),
    )
    .await;
    let held = app
        .start_checkout(&slug, json!({"email": "a@example.com"}))
        .await
        .ok(201)
        .clone();
    app.start_checkout(&slug, json!({"email": "b@example.com"}))
        .await
        .assert_error(409, "stock_reserved");
    app.sql(&format!(
        "UPDATE checkout_sessions SET expires_at = 1000 WHERE id = '{}'",
        held["id"].as_str().unwrap()
    ))
    .await;
    let s = app
        .start_checkout(&slug, json!({"email": "b@example.com"}))
        .await
        .ok(201)
        .clone();
    assert_eq!(
        app.pay_card(&s, "4242424242424242").await.ok(200)["status"],
        "succeeded"
    );
    let p = app
        .get(&format!("/v1/products/{}", prod["id"].as_str().unwrap()))
        .await;
    assert_eq!(p.body["inventory"]["available"], 0);
    app.start_checkout(&slug, json!({"email": "c@example.com"}))
        .await
        .assert_error(410, "sold_out");
}

/// Purchases of a link without a limit are counted apart from the link's row (the store's
/// `counters`); a limit set later, deleting, and the figures all still see them.
async fn a_limit_set_later_counts_earlier_checkouts(app: TestApp) {
    let (id, slug) = link(&app, json!({"title": "Open edition", "amount": 700})).await;
    let path = format!("/v1/payment_links/{id}");
    let mut held = Vec::new();
    for email in ["a@example.com", "b@example.com"] {
        held.push(
            app.start_checkout(&slug, json!({ "email": email }))
                .await
                .ok(201)
                .clone(),
        );
    }
    assert_eq!(
        app.pay_card(&held[0], "4242424242424242").await.ok(200)["status"],
        "succeeded"
    );
    let l = app.get(&path).await;
    assert_eq!(
        l.ok(200)["stats"],
        json!({"views": 0, "checkouts_started": 2, "payments_count": 1, "amount_collected": 700})
    );
    assert_eq!(l.body["payments_count"], 1);
    app.delete(&path)
        .await
        .assert_error(409, "payment_link_has_payments");

    // One paid and one held: a limit of 2 leaves no room for a third customer.
    app.patch(&path, json!({"payments_limit": 0}))
        .await
        .assert_error(400, "parameter_invalid");
    let p = app.patch(&path, json!({"payments_limit": 2})).await;
    assert_eq!(p.ok(200)["status"], "active");
    app.start_checkout(&slug, json!({"email": "c@example.com"}))
        .await
        .assert_error(409, "link_fully_reserved");
    // The held checkout still pays, and that payment uses the link up.
    assert_eq!(
        app.pay_card(&held[1], "4242424242424242").await.ok(200)["status"],
        "succeeded"
    );
    let l = app.get(&path).await;
    assert_eq!(
        (
            l.ok(200)["status"].as_str(),
            l.body["payments_count"].as_i64(),
            l.body["stats"]["amount_collected"].as_i64()
        ),
        (Some("paid"), Some(2), Some(1400))
    );
    let paid = app.get("/v1/events?type=payment_link.paid").await;
    let paid = paid.ok(200)["data"].as_array().unwrap();
    assert_eq!(paid.len(), 1);
    assert_eq!(paid[0]["data"]["object"]["id"], id.as_str());
    app.start_checkout(&slug, json!({"email": "d@example.com"}))
        .await
        .assert_error(410, "link_paid");
    app.patch(&path, json!({"payments_limit": 1}))
        .await
        .assert_error(422, "payments_limit_below_count");

    // The store has the last word, whatever the server last read: a limit it has not seen
    // (set behind its back here) still refuses, and the refused checkout leaves no trace.
    let (id, slug) = link(&app, json!({"title": "Quietly limited", "amount": 200})).await;
    let s = app
        .start_checkout(&slug, json!({"email": "f@example.com"}))
        .await
        .ok(201)
        .clone();
    app.pay_card(&s, "4242424242424242").await.ok(200);
    app.sql(&format!(
        "UPDATE payment_links SET payments_limit = 1 WHERE id = '{id}'"
    ))
    .await;
    app.start_checkout(&slug, json!({"email": "g@example.com"}))
        .await
        .assert_error(410, "link_paid");
    let (sessions,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM checkout_sessions WHERE payment_link_id = $1")
            .bind(&id)
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert_eq!(sessions, 1);
    let l = app.get(&format!("/v1/payment_links/{id}")).await;
    assert_eq!(l.ok(200)["stats"]["checkouts_started"], 1);

    // The same when the limit comes between a checkout and its payment (the server read
    // the link without one): the payment counts on the link's row, under the limit, and
    // uses the link up, with its event.
    let (id, slug) = link(
        &app,
        json!({"title": "Limited while paying", "amount": 400}),
    )
    .await;
    let s = app
        .start_checkout(&slug, json!({"email": "h@example.com"}))
        .await
        .ok(201)
        .clone();
    app.sql(&format!(
        "UPDATE payment_links SET payments_limit = 1 WHERE id = '{id}'"
    ))
    .await;
    assert_eq!(
        app.pay_card(&s, "4242424242424242").await.ok(200)["status"],
        "succeeded"
    );
    let l = app.get(&format!("/v1/payment_links/{id}")).await;
    assert_eq!(
        (
            l.ok(200)["status"].as_str(),
            l.body["payments_count"].as_i64(),
            l.body["stats"]["amount_collected"].as_i64()
        ),
        (Some("paid"), Some(1), Some(400))
    );
    let (on_shards,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM link_counters WHERE link_id = $1 AND payments_count <> 0",
    )
    .bind(&id)
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    assert_eq!(on_shards, 0, "a limited link's payment counts on its row");
    let paid = app.get("/v1/events?type=payment_link.paid").await;
    let paid = paid.ok(200)["data"].as_array().unwrap();
    assert_eq!(
        paid.iter()
            .filter(|e| e["data"]["object"]["id"] == id.as_str())
            .count(),
        1
    );
    let payments = app.get(&format!("/v1/payments?payment_link_id={id}")).await;
    assert_eq!(payments.ok(200)["data"].as_array().unwrap().len(), 1);

    // A link can be deleted once nothing is paid or held on it, wherever that was counted:
    // a hold taken without a limit and released by expiry.
    let (id, slug) = link(&app, json!({"title": "Briefly held", "amount": 300})).await;
    let path = format!("/v1/payment_links/{id}");
    let s = app
        .start_checkout(&slug, json!({"email": "e@example.com"}))
        .await
        .ok(201)
        .clone();
    app.delete(&path)
        .await
        .assert_error(409, "payment_link_has_payments");
    app.sql(&format!(
        "UPDATE checkout_sessions SET expires_at = 1000 WHERE id = '{}'",
        s["id"].as_str().unwrap()
    ))
    .await;
    paylink_server::worker::round(app.store.as_ref(), &app.base).await;
    app.delete(&path).await.ok(200);
}

/// A checkout may start from the link the pages cached, but it is always priced from the
/// link as it is now: a change this process did not see (another instance's, made here
/// behind its back) is read before the session opens.
async fn checkout_prices_the_link_as_it_is_now(app: TestApp) {
    let (id, slug) = link(&app, json!({"title": "Poster", "amount": 700})).await;
    let path = format!("/api/public/links/{slug}");
    let preview = || app.call(None, Method::GET, &path, None, None);
    assert_eq!(preview().await.ok(200)["totals"]["amount_total"], 700);
    let s = app
        .start_checkout(&slug, json!({"email": "a@example.com"}))
        .await
        .ok(201)
        .clone();
    assert_eq!(s["amount_total"], 700);

    // The price changes elsewhere: the cached view still shows the old one for a while,
    // but the checkout charges the new one.
    app.sql(&format!(
        "UPDATE payment_links SET data = replace(data, '\"unit_amount\":700', '\"unit_amount\":900'), \
         version = version + 1 WHERE id = '{id}'"
    ))
    .await;
    assert_eq!(preview().await.ok(200)["totals"]["amount_total"], 700);
    let s = app
        .start_checkout(&slug, json!({"email": "b@example.com"}))
        .await
        .ok(201)
        .clone();
    assert_eq!(s["amount_total"], 900);
    // Having noticed, the pages show the new price too.
    assert_eq!(preview().await.ok(200)["totals"]["amount_total"], 900);
    assert_eq!(
        app.pay_card(&s, "4242424242424242").await.ok(200)["status"],
        "succeeded"
    );

    // Deactivated elsewhere: refused with the link's real reason, and nothing held.
    app.sql(&format!(
        "UPDATE payment_links SET status = 'inactive', version = version + 1 WHERE id = '{id}'"
    ))
    .await;
    app.start_checkout(&slug, json!({"email": "c@example.com"}))
        .await
        .assert_error(410, "link_inactive");
    let l = app.get(&format!("/v1/payment_links/{id}")).await;
    assert_eq!(
        (
            l.ok(200)["stats"]["checkouts_started"].as_i64(),
            l.body["stats"]["payments_count"].as_i64(),
            l.body["stats"]["amount_collected"].as_i64()
        ),
        (Some(2), Some(1), Some(900))
    );
}

async fn paying_twice_charges_once(app: TestApp) {
    let (_, slug) = link(&app, json!({"title": "Twice", "amount": 2500})).await;
    let s = app
        .start_checkout(&slug, json!({"email": "a@example.com"}))
        .await
        .ok(201)
        .clone();
    let a = app.pay_card(&s, "4242424242424242").await;
    let b = app.pay_card(&s, "4242424242424242").await;
    assert_eq!(a.raw, b.raw);
    assert_eq!(app.processor.charges_made(), 1);
    // At once, from many clients: one charge, one answer.
    let s = app
        .start_checkout(&slug, json!({"email": "a@example.com"}))
        .await
        .ok(201)
        .clone();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (client, base, s) = (app.client.clone(), app.base.clone(), s.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"client_secret": s["client_secret"], "payment_method": {"type": "card", "card": {"number": "4242424242424242", "exp_month": 1, "exp_year": 2099, "cvc": "999"}}});
            let r = client.post(format!("{base}/api/public/checkout_sessions/{}/pay", s["id"].as_str().unwrap())).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }));
    }
    let mut answers = std::collections::HashSet::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
        answers.insert(body);
    }
    assert_eq!(answers.len(), 1);
    assert_eq!(app.processor.charges_made(), 2);
    assert_eq!(
        app.get("/v1/payments?status=succeeded").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

async fn crash_between_charge_and_record_is_reconciled(app: TestApp) {
    use paylink_processors::{ChargeRequest, PaymentMethodData, Processor};
    let (_, slug) = link(&app, json!({"title": "Crash", "amount": 900})).await;
    let s = app
        .start_checkout(&slug, json!({"email": "a@example.com"}))
        .await
        .ok(201)
        .clone();
    let id = paylink_domain::id::CheckoutSessionId::parse(s["id"].as_str().unwrap()).unwrap();
    // A server records the attempt and charges, then dies before recording the outcome.
    let store: &dyn paylink_store::Store = app.store.as_ref();
    let claim = store
        .begin_attempt(&id, paylink_domain::time::Timestamp::now(), 30)
        .await
        .unwrap();
    assert_eq!(
        claim,
        paylink_store::AttemptClaim::Claimed { attempt_no: 1 }
    );
    let charged = app
        .processor
        .charge(ChargeRequest {
            idempotency_key: format!("{id}:1"),
            amount: paylink_domain::money::Amount::new(900).unwrap(),
            currency: paylink_domain::money::Currency::USD,
            method: PaymentMethodData::Wallet,
            hsa_fsa_eligible_amount: paylink_domain::money::Amount::ZERO,
            description: "crash".into(),
        })
        .await
        .unwrap();
    assert!(matches!(
        charged,
        paylink_processors::ChargeOutcome::Succeeded { .. }
    ));
    // While the attempt is fresh, a retry waits for it rather than charging again.
    let busy = app.pay_card(&s, "4242424242424242").await;
    busy.assert_error(409, "payment_in_progress");
    // Later, the retry reconciles with the processor under the same key.
    app.sql(&format!("UPDATE checkout_sessions SET attempt_started_at = attempt_started_at - 300 WHERE id = '{id}'")).await;
    let r = app.pay_card(&s, "4242424242424242").await;
    assert_eq!(r.ok(200)["status"], "succeeded");
    assert_eq!(
        app.processor.charges_made(),
        1,
        "the customer was charged twice"
    );
    assert_eq!(
        app.get("/v1/payments").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

async fn refunds_never_exceed_the_payment(app: TestApp) {
    let (_, slug) = link(&app, json!({"title": "Refundable", "amount": 5000})).await;
    let (_, paid) = app.buy(&slug).await;
    let pid = paid.unwrap().body["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/payments/{pid}/refunds");
    let r = app
        .post(
            &path,
            json!({"amount": 2000, "reason": "requested_by_customer"}),
        )
        .await;
    assert_eq!(
        (r.ok(201)["object"].as_str(), r.body["amount"].as_i64()),
        (Some("refund"), Some(2000))
    );
    assert_eq!(
        app.get(&format!("/v1/payments/{pid}")).await.body["status"],
        "partially_refunded"
    );
    app.post(&path, json!({"amount": 3001}))
        .await
        .assert_error(422, "refund_exceeds_payment");
    app.post(&path, json!({"amount": 0}))
        .await
        .assert_error(400, "amount_invalid");
    app.post(&path, json!({"reason": "bored"}))
        .await
        .assert_error(400, "parameter_invalid");
    let rest = app.post(&path, json!({})).await;
    assert_eq!(rest.ok(201)["amount"], 3000);
    let p = app.get(&format!("/v1/payments/{pid}")).await;
    assert_eq!(
        (
            p.body["status"].as_str(),
            p.body["amount_refunded"].as_i64()
        ),
        (Some("refunded"), Some(5000))
    );
    app.post(&path, json!({"amount": 1}))
        .await
        .assert_error(409, "payment_not_refundable");
    // "The rest" of a payment refunded in full is not an empty refund: it is refused for
    // what the payment is, not for the amount.
    app.post(&path, json!({}))
        .await
        .assert_error(409, "payment_not_refundable");
    app.post(&path, json!({"amount": 0}))
        .await
        .assert_error(409, "payment_not_refundable");
    assert_eq!(
        app.get("/v1/events?type=payment.refunded").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Racing refunds cannot over-refund.
    let (_, paid) = app.buy(&slug).await;
    let pid = paid.unwrap().body["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (client, base, key, pid) = (
            app.client.clone(),
            app.base.clone(),
            app.key.clone(),
            pid.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(format!("{base}/v1/payments/{pid}/refunds"))
                .bearer_auth(key)
                .json(&json!({"amount": 2000}))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        if status == 201 {
            ok += 1;
        } else {
            // Each loser says what is left after the winners, not what it read before them.
            assert_eq!(
                (status, body["error"]["message"].as_str()),
                (422, Some("At most 10.00 USD can still be refunded")),
                "{body}"
            );
        }
    }
    assert_eq!(ok, 2);
    let p = app.get(&format!("/v1/payments/{pid}")).await;
    assert_eq!(
        (
            p.body["amount"].as_i64(),
            p.body["amount_refunded"].as_i64()
        ),
        (Some(5000), Some(4000))
    );
}

async fn order_links_mark_the_order_paid(app: TestApp) {
    let o = app
        .create(
            "/v1/orders",
            json!({"line_items": [{"name": "Invoice 7", "unit_amount": 12000}]}),
        )
        .await;
    let (id, slug) = link(&app, json!({"title": "Invoice 7", "order_id": o["id"]})).await;
    let (_, paid) = app.buy(&slug).await;
    let paid = paid.unwrap();
    let order = app
        .get(&format!("/v1/orders/{}", o["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        (
            order.body["status"].as_str(),
            order.body["payment_id"].clone()
        ),
        (Some("paid"), paid.body["payment_id"].clone())
    );
    assert_eq!(
        app.get(&format!("/v1/payment_links/{id}")).await.body["status"],
        "paid"
    );
    assert_eq!(
        app.get("/v1/events?type=order.paid").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

async fn donations_tax_and_hsa(app: TestApp) {
    let (_, slug) = link(&app, json!({"title": "Give", "donation": {"minimum": 500, "maximum": 10000, "preset_amounts": [1000, 2500]}})).await;
    app.start_checkout(&slug, json!({"email": "d@example.com", "amount": 499}))
        .await
        .assert_error(422, "amount_out_of_bounds");
    app.start_checkout(&slug, json!({"email": "d@example.com"}))
        .await
        .assert_error(400, "parameter_missing")
        .assert_param("amount");
    let s = app
        .start_checkout(&slug, json!({"email": "d@example.com", "amount": 2500}))
        .await;
    assert_eq!(s.ok(201)["amount_total"], 2500);
    app.start_checkout(&slug, json!({"email": "not-an-email", "amount": 2500}))
        .await
        .assert_error(400, "email_invalid");

    let rate = app
        .create(
            "/v1/tax_rates",
            json!({"display_name": "Tax", "percentage": "8.25"}),
        )
        .await;
    let (_, slug) = link(&app, json!({"title": "Taxed", "amount": 1000, "tax": {"collect": true, "tax_rate_id": rate["id"]}})).await;
    let s = app
        .start_checkout(&slug, json!({"email": "t@example.com"}))
        .await;
    assert_eq!(
        (
            s.ok(201)["amount_tax"].as_i64(),
            s.body["amount_total"].as_i64()
        ),
        (Some(83), Some(1083))
    );

    let brace = app
        .create(
            "/v1/products",
            json!({"name": "Knee brace", "unit_amount": 4000, "hsa_fsa_eligible": true}),
        )
        .await;
    let candy = app
        .create("/v1/products", json!({"name": "Candy", "unit_amount": 300}))
        .await;
    let (_, slug) = link(
        &app,
        json!({"title": "Pharmacy", "line_items": [
            {"product_id": brace["id"]},
            {"product_id": candy["id"], "quantity": 0, "adjustable_quantity": {"enabled": true, "minimum": 0, "maximum": 3}}]}),
    )
    .await;
    let pv = app
        .call(
            None,
            Method::GET,
            &format!("/api/public/links/{slug}"),
            None,
            None,
        )
        .await;
    assert_eq!(pv.ok(200)["hsa_fsa_amount"], 4000);
    let mixed = app
        .start_checkout(
            &slug,
            json!({"email": "h@example.com", "quantities": [1, 2]}),
        )
        .await
        .ok(201)
        .clone();
    let r = app.pay_card(&mixed, "4000056655665556").await;
    assert_eq!(
        (r.status.as_u16(), r.body["decline_code"].as_str()),
        (402, Some("hsa_fsa_ineligible"))
    );
    let eligible = app
        .start_checkout(
            &slug,
            json!({"email": "h@example.com", "quantities": [1, 0]}),
        )
        .await
        .ok(201)
        .clone();
    assert_eq!(
        app.pay_card(&eligible, "4000056655665556").await.ok(200)["status"],
        "succeeded"
    );
    app.start_checkout(
        &slug,
        json!({"email": "h@example.com", "quantities": [1, 4]}),
    )
    .await
    .assert_error(422, "quantity_invalid");
    app.start_checkout(
        &slug,
        json!({"email": "h@example.com", "quantities": [2, 0]}),
    )
    .await
    .assert_error(422, "quantity_invalid");
}

async fn payments_are_per_merchant(app: TestApp) {
    let (_, slug) = link(&app, json!({"title": "Mine", "amount": 100})).await;
    let (_, paid) = app.buy(&slug).await;
    let pid = paid.unwrap().body["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = app.other_merchant("Nosy").await;
    app.call(
        Some(&other),
        Method::GET,
        &format!("/v1/payments/{pid}"),
        None,
        None,
    )
    .await
    .assert_error(404, "resource_missing");
    app.call(
        Some(&other),
        Method::POST,
        &format!("/v1/payments/{pid}/refunds"),
        Some(json!({})),
        None,
    )
    .await
    .assert_error(404, "resource_missing");
    let r = app
        .call(Some(&other), Method::GET, "/v1/payments", None, None)
        .await;
    assert_eq!(r.ok(200)["data"].as_array().unwrap().len(), 0);
    let rk = app
        .create(
            "/v1/api_keys",
            json!({"name": "links", "kind": "restricted", "scopes": ["payment_links:read"]}),
        )
        .await;
    app.call(
        Some(rk["key"].as_str().unwrap()),
        Method::GET,
        "/v1/payments",
        None,
        None,
    )
    .await
    .assert_error(403, "insufficient_permissions");
}

/// On PostgreSQL, paying finds its session by id, not through `checkout_sessions_expiry`
/// (the partial index of open sessions by expiry, for the expirer). On a fresh database the
/// planner costs that index below the id's, and a plan cached then read every open session,
/// and every dead version of one, on each claim and completion. The payments here run past
/// the five custom plans after which PostgreSQL caches a generic one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_pays_find_their_session_by_id() {
    let app = TestApp::spawn(paylink_store_sql::testing::Backend::Postgres).await;
    let (_, slug) = link(&app, json!({"title": "Tea", "amount": 400})).await;
    for _ in 0..12 {
        let (s, p) = app.buy(&slug).await;
        s.ok(201);
        p.unwrap().ok(200);
    }
    // Backends report their counts as they exit: close the store's connections, wait until
    // they are gone, then read the counts.
    app.store.close().await;
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.db_url)
        .await
        .unwrap();
    let mut others = i64::MAX;
    for _ in 0..100 {
        others = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if others == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(others, 0, "the store's connections did not close");
    let scans = "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = $1";
    let by_id: i64 = sqlx::query_scalar(scans)
        .bind("checkout_sessions_id_key")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let by_expiry: i64 = sqlx::query_scalar(scans)
        .bind("checkout_sessions_expiry")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(by_id >= 24, "{by_id} lookups by id for 12 payments");
    assert_eq!(by_expiry, 0);
}
