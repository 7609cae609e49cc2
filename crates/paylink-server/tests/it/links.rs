//! Payment links over HTTP: every type, each validation rule, statuses and transitions.

use serde_json::{json, Value};

use crate::both;
use crate::helpers::TestApp;

both!(
    every_link_type,
    product_snapshot_is_frozen,
    validation_rules,
    amounts_and_bounds,
    redirects_and_payments_enabled,
    order_links,
    transitions_and_events,
    expiry_is_computed_on_read,
    rules_once_paid,
    list_filters,
    patch_updates_and_revalidates,
);

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn every_link_type(app: TestApp) {
    let custom = app.custom_link("Consulting hour", 15000).await;
    assert_eq!(custom["object"], "payment_link");
    assert!(custom["id"].as_str().unwrap().starts_with("plink_"));
    assert_eq!(
        (custom["type"].as_str(), custom["status"].as_str()),
        (Some("custom"), Some("active"))
    );
    assert_eq!(custom["line_items"][0]["name"], "Consulting hour");
    let slug = custom["slug"].as_str().unwrap();
    assert_eq!(custom["url"], format!("{}/l/{slug}", app.base));
    assert_eq!(custom["created_by"]["type"], "api_key");
    assert_eq!(custom["payment_method_types"], json!(["card"]));

    let lines = app
        .create(
            "/v1/payment_links",
            json!({"title": "Workshop", "slug": "workshop-2026", "line_items": [
                {"name": "Seat", "unit_amount": 5000, "quantity": 2, "adjustable_quantity": {"enabled": true, "minimum": 1, "maximum": 10}},
                {"name": "Lunch", "unit_amount": 1500, "hsa_fsa_eligible": false}
            ], "custom_fields": [{"key": "company", "label": "Company", "type": "text", "optional": true}],
               "collect": {"billing_address": true, "phone": true}, "payment_method_types": ["card", "wallet"],
               "payments_limit": 30, "reference_id": "inv-1", "metadata": {"campaign": "spring"}}),
        )
        .await;
    assert_eq!(
        (lines["slug"].as_str(), lines["payments_limit"].as_i64()),
        (Some("workshop-2026"), Some(30))
    );

    let prod = app.product("Tee", 2500).await;
    let products = app
        .create(
            "/v1/payment_links",
            json!({"title": "Tees", "line_items": [{"product_id": prod["id"], "quantity": 2}]}),
        )
        .await;
    assert_eq!(
        (products["type"].as_str(), products["currency"].as_str()),
        (Some("products"), Some("USD"))
    );

    let all = app
        .create(
            "/v1/payment_links",
            json!({"title": "Shop everything", "all_products": true}),
        )
        .await;
    assert_eq!(all["line_items"][0]["quantity"], 0);
    // A storefront in a currency with no active product is a state, not a shape: 422.
    app.post(
        "/v1/payment_links",
        json!({"title": "Shop in euros", "all_products": true, "currency": "eur"}),
    )
    .await
    .assert_error(422, "no_active_products");

    let donation = app
        .create(
            "/v1/payment_links",
            json!({"title": "Support us", "donation": {"minimum": 100, "maximum": 100000, "preset_amounts": [500, 1000, 2500], "default_amount": 1000}}),
        )
        .await;
    assert_eq!(donation["type"], "donation");
    assert_eq!(
        donation["donation"]["preset_amounts"],
        json!([500, 1000, 2500])
    );

    let sub = app
        .create(
            "/v1/payment_links",
            json!({"title": "Monthly box", "amount": 2900, "subscription": {"interval": "month", "interval_count": 1, "trial_period_days": 14}}),
        )
        .await;
    assert_eq!(
        (
            sub["type"].as_str(),
            sub["subscription"]["trial_period_days"].as_i64()
        ),
        (Some("subscription"), Some(14))
    );

    // Stablecoins: six decimal places.
    let usdc = app
        .create(
            "/v1/payment_links",
            json!({"title": "Crypto tip", "amount": 1_500_000, "currency": "usdc"}),
        )
        .await;
    assert_eq!(usdc["currency"], "USDC");

    let got = app.get(&format!("/v1/payment_links/{}", id(&lines))).await;
    assert_eq!(got.ok(200), &lines);
    let created = app
        .get("/v1/events?type=payment_link.created&limit=100")
        .await;
    assert_eq!(created.ok(200)["data"].as_array().unwrap().len(), 7);
}

async fn product_snapshot_is_frozen(app: TestApp) {
    let p = app.product("Poster", 1000).await;
    let link = app
        .create(
            "/v1/payment_links",
            json!({"title": "Poster sale", "line_items": [{"product_id": p["id"]}]}),
        )
        .await;
    app.patch(
        &format!("/v1/products/{}", id(&p)),
        json!({"name": "Renamed", "unit_amount": 9999}),
    )
    .await
    .ok(200);
    let after = app.get(&format!("/v1/payment_links/{}", id(&link))).await;
    assert_eq!(after.ok(200)["line_items"][0]["name"], "Poster");
    assert_eq!(after.body["line_items"][0]["unit_amount"], 1000);
    // An archived product cannot start a new link.
    app.delete(&format!("/v1/products/{}", id(&p)))
        .await
        .ok(200);
    app.post(
        "/v1/payment_links",
        json!({"title": "Again", "line_items": [{"product_id": p["id"]}]}),
    )
    .await
    .assert_error(400, "product_inactive");
}

async fn validation_rules(app: TestApp) {
    let ok = || json!({"title": "Valid title", "amount": 1000});
    let with = |k: &str, v: Value| {
        let mut b = ok();
        b[k] = v;
        b
    };
    let line = json!({"name": "Item", "unit_amount": 100});
    let field = |k: &str| json!({"key": k, "label": "L", "type": "text"});
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            with("title", json!("ab")),
            400,
            "parameter_invalid",
            "title",
        ),
        (
            with("title", json!("x".repeat(101))),
            400,
            "parameter_invalid",
            "title",
        ),
        (json!({"amount": 100}), 400, "parameter_missing", "title"),
        (
            with("description", json!("d".repeat(501))),
            400,
            "parameter_invalid",
            "description",
        ),
        (with("slug", json!("UPPER")), 400, "slug_invalid", "slug"),
        (with("slug", json!("ab")), 400, "slug_invalid", "slug"),
        (with("slug", json!("a_b_c")), 400, "slug_invalid", "slug"),
        (with("slug", json!("-abc")), 400, "slug_invalid", "slug"),
        (
            json!({"title": "Lines", "line_items": []}),
            422,
            "parameter_required",
            "line_items",
        ),
        (
            json!({"title": "Lines", "line_items": vec![line.clone(); 21]}),
            400,
            "parameter_invalid",
            "line_items",
        ),
        (
            json!({"title": "Lines", "line_items": [{"name": "x", "unit_amount": 1, "quantity": 0}]}),
            422,
            "quantity_invalid",
            "line_items[0].quantity",
        ),
        (
            json!({"title": "Lines", "line_items": [{"name": "x", "unit_amount": 1, "adjustable_quantity": {"enabled": true, "minimum": 5, "maximum": 2}}]}),
            422,
            "parameters_inconsistent",
            "line_items[0].adjustable_quantity",
        ),
        (
            json!({"title": "Both", "amount": 1, "line_items": [line.clone()]}),
            422,
            "parameters_exclusive",
            "amount",
        ),
        (
            with(
                "custom_fields",
                json!([
                    field("a"),
                    field("b"),
                    field("c"),
                    field("d"),
                    field("e"),
                    field("f")
                ]),
            ),
            400,
            "parameter_invalid",
            "custom_fields",
        ),
        (
            with("custom_fields", json!([field("a"), field("a")])),
            422,
            "parameters_inconsistent",
            "custom_fields[1].key",
        ),
        (
            with(
                "custom_fields",
                json!([{"key": "size", "label": "Size", "type": "dropdown"}]),
            ),
            422,
            "parameters_inconsistent",
            "custom_fields[0].options",
        ),
        (
            with(
                "custom_fields",
                json!([{"key": "bad key", "label": "L", "type": "text"}]),
            ),
            400,
            "parameter_invalid",
            "custom_fields[0].key",
        ),
        (
            with(
                "custom_fields",
                json!([{"key": "k", "label": "L", "type": "color"}]),
            ),
            400,
            "parameter_invalid",
            "custom_fields[0].type",
        ),
        (
            with("payment_method_types", json!([])),
            400,
            "parameter_invalid",
            "payment_method_types",
        ),
        (
            with("payment_method_types", json!(["card", "card"])),
            422,
            "parameters_inconsistent",
            "payment_method_types",
        ),
        (
            with("payments_limit", json!(0)),
            400,
            "parameter_invalid",
            "payments_limit",
        ),
        (
            with("expires_at", json!("2020-01-01T00:00:00Z")),
            422,
            "expires_at_in_past",
            "expires_at",
        ),
        (
            with("expires_at", json!("next tuesday")),
            400,
            "parameter_invalid",
            "expires_at",
        ),
        (
            json!({"title": "Window", "amount": 100, "opens_at": "2099-02-01T00:00:00Z", "expires_at": "2099-01-01T00:00:00Z"}),
            422,
            "parameters_inconsistent",
            "opens_at",
        ),
        (
            with("prefill", json!({"email": "nope"})),
            400,
            "email_invalid",
            "prefill.email",
        ),
        (
            with("metadata", json!({"k".repeat(41): "v"})),
            400,
            "parameter_invalid",
            "metadata[kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk]",
        ),
        (
            with("customer_id", json!("cus_0000000000000000000000")),
            422,
            "customer_not_found",
            "customer_id",
        ),
        (
            with("customer_id", json!("plink_0000000000000000000000")),
            400,
            "parameter_invalid",
            "customer_id",
        ),
        (
            json!({"title": "Prod", "line_items": [{"product_id": "prod_0000000000000000000000"}]}),
            422,
            "product_not_found",
            "line_items[0].product_id",
        ),
        (
            json!({"title": "Prod", "type": "products", "line_items": [{"name": "x", "unit_amount": 1}]}),
            422,
            "parameter_required",
            "line_items[0].product_id",
        ),
        (
            json!({"title": "Donate", "donation": {"minimum": 500, "maximum": 100}}),
            422,
            "parameters_inconsistent",
            "donation.minimum",
        ),
        (
            json!({"title": "Donate", "donation": {"preset_amounts": [100, 200, 300, 400, 500, 600]}}),
            400,
            "parameter_invalid",
            "donation.preset_amounts",
        ),
        (
            json!({"title": "Donate", "donation": {"minimum": 100, "maximum": 1000, "preset_amounts": [5000]}}),
            422,
            "parameters_inconsistent",
            "donation.preset_amounts[0]",
        ),
        (
            json!({"title": "Donate", "donation": {"minimum": 100, "maximum": 1000, "default_amount": 50}}),
            422,
            "parameters_inconsistent",
            "donation.default_amount",
        ),
        (
            json!({"title": "Donate", "type": "donation"}),
            422,
            "parameter_required",
            "donation",
        ),
        (
            json!({"title": "Sub", "amount": 100, "subscription": {"interval": "month", "interval_count": 37}}),
            422,
            "parameters_inconsistent",
            "subscription.interval_count",
        ),
        (
            json!({"title": "Sub", "amount": 100, "subscription": {"interval": "year", "interval_count": 4}}),
            422,
            "parameters_inconsistent",
            "subscription.interval_count",
        ),
        (
            json!({"title": "Sub", "amount": 100, "subscription": {"interval": "day", "interval_count": 0}}),
            400,
            "parameter_invalid",
            "subscription.interval_count",
        ),
        (
            json!({"title": "Sub", "amount": 100, "subscription": {"interval": "week", "trial_period_days": 731}}),
            400,
            "parameter_invalid",
            "subscription.trial_period_days",
        ),
        (
            json!({"title": "Sub", "amount": 100, "subscription": {"interval": "fortnight"}}),
            400,
            "parameter_invalid",
            "subscription.interval",
        ),
        (
            json!({"title": "Typo", "amount": 100, "titel": "x"}),
            400,
            "parameter_unknown",
            "titel",
        ),
    ];
    for (body, status, code, param) in cases {
        let r = app.post("/v1/payment_links", body.clone()).await;
        assert_eq!(r.status.as_u16(), status, "{body} → {}", r.body);
        assert_eq!(r.body["error"]["code"], code, "{body} → {}", r.body);
        assert_eq!(r.body["error"]["param"], param, "{body} → {}", r.body);
    }
    // The largest valid values pass.
    app.create("/v1/payment_links", with("title", json!("x".repeat(100))))
        .await;
    app.create(
        "/v1/payment_links",
        json!({"title": "Max lines", "line_items": vec![line; 20]}),
    )
    .await;
    let five: Vec<_> = ["a", "b", "c", "d", "e"].iter().map(|k| field(k)).collect();
    app.create("/v1/payment_links", with("custom_fields", json!(five)))
        .await;

    // Slugs are unique.
    app.create("/v1/payment_links", with("slug", json!("taken-slug")))
        .await;
    let r = app
        .post("/v1/payment_links", with("slug", json!("taken-slug")))
        .await;
    r.assert_error(409, "slug_taken").assert_param("slug");
    let other = app.other_merchant("Other").await;
    let r = app
        .call(
            Some(&other),
            reqwest::Method::POST,
            "/v1/payment_links",
            Some(with("slug", json!("taken-slug"))),
            None,
        )
        .await;
    r.assert_error(409, "slug_taken");
}

async fn amounts_and_bounds(app: TestApp) {
    app.patch(
        "/v1/settings",
        json!({"amount_bounds": {"usd": {"minimum": 50, "maximum": 100000}}}),
    )
    .await
    .ok(200);
    app.post(
        "/v1/payment_links",
        json!({"title": "Too cheap", "amount": 49}),
    )
    .await
    .assert_error(422, "amount_out_of_bounds")
    .assert_param("line_items[0].unit_amount");
    app.post("/v1/payment_links", json!({"title": "Too dear", "line_items": [{"name": "a", "unit_amount": 60000, "quantity": 2}]}))
        .await
        .assert_error(422, "amount_out_of_bounds");
    app.create(
        "/v1/payment_links",
        json!({"title": "Just right", "amount": 100000}),
    )
    .await;
    app.post(
        "/v1/payment_links",
        json!({"title": "Donate", "donation": {"minimum": 10}}),
    )
    .await
    .assert_error(422, "amount_out_of_bounds")
    .assert_param("donation.minimum");
    // Donation bounds default to the merchant's.
    let d = app
        .create(
            "/v1/payment_links",
            json!({"title": "Donate", "donation": {}}),
        )
        .await;
    assert_eq!(
        (
            d["donation"]["minimum"].as_i64(),
            d["donation"]["maximum"].as_i64()
        ),
        (Some(50), Some(100000))
    );
    // Other currencies keep the default bounds.
    app.create(
        "/v1/payment_links",
        json!({"title": "Yen", "amount": 1, "currency": "jpy"}),
    )
    .await;
    // Overflow of a total is a 400, never a wrap.
    app.post("/v1/payment_links", json!({"title": "Huge", "currency": "eur", "line_items": [{"name": "a", "unit_amount": 999_999_999_999_999_i64, "quantity": 999}]}))
        .await
        .assert_error(400, "amount_too_large");
    // Exclusive tax on top; inclusive tax inside.
    let rate = app
        .create(
            "/v1/tax_rates",
            json!({"display_name": "VAT", "percentage": "20", "inclusive": true}),
        )
        .await;
    let l = app
        .create("/v1/payment_links", json!({"title": "Taxed", "amount": 1200, "tax": {"collect": true, "tax_rate_id": rate["id"]}}))
        .await;
    assert_eq!(
        (
            l["tax"]["pricing_mode"].as_str(),
            l["line_items"][0]["tax_rate"]["percentage"].as_str()
        ),
        (Some("inclusive"), Some("20"))
    );
    app.post("/v1/payment_links", json!({"title": "Taxed", "amount": 100, "tax": {"collect": true, "tax_rate_id": "txr_0000000000000000000000"}}))
        .await
        .assert_error(422, "tax_rate_not_found");
}

async fn redirects_and_payments_enabled(app: TestApp) {
    let link = |url: &str| json!({"title": "Redirects", "amount": 100, "success_url": url});
    app.create(
        "/v1/payment_links",
        link("https://shop.example.com/thanks?cs={CHECKOUT_SESSION_ID}"),
    )
    .await;
    app.create("/v1/payment_links", link("http://localhost:3000/ok"))
        .await;
    for bad in [
        "http://shop.example.com/thanks",
        "ftp://x.com",
        "javascript:alert(1)",
        "https://user@evil.com/",
        "/relative",
    ] {
        app.post("/v1/payment_links", link(bad))
            .await
            .assert_error(422, "invalid_redirect_url")
            .assert_param("success_url");
    }
    app.patch(
        "/v1/settings",
        json!({"redirect_allowlist": ["shop.example.com"]}),
    )
    .await
    .ok(200);
    app.post("/v1/payment_links", link("https://evil.example.net/x"))
        .await
        .assert_error(422, "invalid_redirect_url");
    app.create("/v1/payment_links", link("https://SHOP.example.com/x"))
        .await;
    let cancel =
        json!({"title": "Redirects", "amount": 100, "cancel_url": "https://elsewhere.org/"});
    app.post("/v1/payment_links", cancel)
        .await
        .assert_error(422, "invalid_redirect_url")
        .assert_param("cancel_url");

    // Without a processor for the mode, links cannot be created.
    app.patch(
        "/v1/settings",
        json!({"processors": {"test": null, "live": null}}),
    )
    .await
    .ok(200);
    app.post(
        "/v1/payment_links",
        json!({"title": "No processor", "amount": 100}),
    )
    .await
    .assert_error(409, "payments_not_enabled");
    app.patch(
        "/v1/settings",
        json!({"processors": {"test": "simulated", "live": null}}),
    )
    .await
    .ok(200);
    app.create(
        "/v1/payment_links",
        json!({"title": "Processor back", "amount": 100}),
    )
    .await;
    app.patch(
        "/v1/settings",
        json!({"processors": {"test": "simulated", "live": "simulated"}}),
    )
    .await
    .assert_error(422, "processor_not_available");
}

async fn order_links(app: TestApp) {
    let cust = app
        .create("/v1/customers", json!({"email": "c@example.com"}))
        .await;
    let order = app
        .create("/v1/orders", json!({"customer_id": cust["id"], "line_items": [{"name": "Repair", "unit_amount": 8000}]}))
        .await;
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Pay your repair", "order_id": order["id"]}),
        )
        .await;
    assert_eq!(
        (l["type"].as_str(), l["payments_limit"].as_i64()),
        (Some("order"), Some(1))
    );
    assert_eq!(
        (
            l["customer_id"].clone(),
            l["line_items"][0]["unit_amount"].as_i64()
        ),
        (cust["id"].clone(), Some(8000))
    );
    app.post(
        "/v1/payment_links",
        json!({"title": "Pay order", "order_id": order["id"], "payments_limit": 2}),
    )
    .await
    .assert_error(422, "invalid_payments_limit_for_order_link")
    .assert_param("payments_limit");
    app.post(
        "/v1/payment_links",
        json!({"title": "Pay order", "order_id": "ord_0000000000000000000000"}),
    )
    .await
    .assert_error(422, "order_not_found")
    .assert_param("order_id");
    app.post(
        "/v1/payment_links",
        json!({"title": "Pay order", "order_id": order["id"], "currency": "eur"}),
    )
    .await
    .assert_error(422, "currency_mismatch");
    app.patch(
        &format!("/v1/payment_links/{}", id(&l)),
        json!({"payments_limit": 5}),
    )
    .await
    .assert_error(422, "invalid_payments_limit_for_order_link");
    app.post(&format!("/v1/orders/{}/cancel", id(&order)), json!({}))
        .await
        .ok(200);
    app.post(
        "/v1/payment_links",
        json!({"title": "Pay order", "order_id": order["id"]}),
    )
    .await
    .assert_error(409, "order_not_payable");
    // Currency mismatch between products and the link.
    let eur = app
        .create(
            "/v1/products",
            json!({"name": "Wine", "unit_amount": 900, "currency": "eur"}),
        )
        .await;
    app.post(
        "/v1/payment_links",
        json!({"title": "Wine", "currency": "usd", "line_items": [{"product_id": eur["id"]}]}),
    )
    .await
    .assert_error(422, "currency_mismatch")
    .assert_param("line_items[0].product_id");
}

async fn transitions_and_events(app: TestApp) {
    let l = app.custom_link("Transitions", 500).await;
    let path = format!("/v1/payment_links/{}", id(&l));
    let d = app.post(&format!("{path}/deactivate"), json!({})).await;
    assert_eq!(d.ok(200)["status"], "inactive");
    // Already inactive: no change, no second event.
    app.post(&format!("{path}/deactivate"), json!({}))
        .await
        .ok(200);
    let a = app.post(&format!("{path}/activate"), json!({})).await;
    assert_eq!(a.ok(200)["status"], "active");
    let c = app.post(&format!("{path}/cancel"), json!({})).await;
    assert_eq!(c.ok(200)["status"], "cancelled");
    for action in ["activate", "deactivate", "cancel"] {
        app.post(&format!("{path}/{action}"), json!({}))
            .await
            .assert_error(409, "invalid_state_transition");
    }
    let events = app.get("/v1/events?limit=10").await;
    let kinds: Vec<_> = events.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "payment_link.cancelled",
            "payment_link.activated",
            "payment_link.deactivated",
            "payment_link.created"
        ]
    );
    let first = &events.body["data"][0];
    assert_eq!(first["data"]["object"]["status"], "cancelled");
    let ev = app
        .get(&format!("/v1/events/{}", first["id"].as_str().unwrap()))
        .await;
    assert_eq!(ev.ok(200), first);
}

async fn expiry_is_computed_on_read(app: TestApp) {
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Flash sale", "amount": 500, "expires_at": "2099-01-01T00:00:00Z"}),
        )
        .await;
    let path = format!("/v1/payment_links/{}", id(&l));
    // Time passes (no sweeper runs): the link reads expired at once.
    app.sql(&format!(
        "UPDATE payment_links SET expires_at = 1000 WHERE id = '{}'",
        id(&l)
    ))
    .await;
    assert_eq!(app.get(&path).await.ok(200)["status"], "expired");
    let listed = app.get("/v1/payment_links?status=expired").await;
    assert_eq!(listed.ok(200)["data"][0]["id"], l["id"]);
    assert_eq!(
        app.get("/v1/payment_links?status=active").await.ok(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    app.post(&format!("{path}/activate"), json!({}))
        .await
        .assert_error(409, "invalid_state_transition");
    app.post(&format!("{path}/deactivate"), json!({}))
        .await
        .assert_error(409, "invalid_state_transition");
    // Extending the expiry revives it; cancelling an expired link is allowed.
    let revived = app
        .patch(&path, json!({"expires_at": "2099-06-01T00:00:00Z"}))
        .await;
    assert_eq!(revived.ok(200)["status"], "active");
    app.sql(&format!(
        "UPDATE payment_links SET expires_at = 1000 WHERE id = '{}'",
        id(&l)
    ))
    .await;
    assert_eq!(
        app.post(&format!("{path}/cancel"), json!({})).await.ok(200)["status"],
        "cancelled"
    );
    // The merchant's default expiry applies to links without one.
    app.patch("/v1/settings", json!({"default_link_expiry": "15d"}))
        .await
        .ok(200);
    let d = app.custom_link("Defaults", 100).await;
    assert!(d["expires_at"].as_str().is_some());
}

async fn rules_once_paid(app: TestApp) {
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Limited", "amount": 500, "payments_limit": 3}),
        )
        .await;
    let lid = id(&l);
    let path = format!("/v1/payment_links/{lid}");
    // Two payments recorded (checkout will do this through the API).
    app.sql(&format!(
        "UPDATE payment_links SET payments_count = 2, version = version + 1 WHERE id = '{lid}'"
    ))
    .await;
    app.patch(&path, json!({"amount": 900}))
        .await
        .assert_error(409, "payment_link_has_payments");
    app.patch(&path, json!({"tax": {"collect": false}}))
        .await
        .assert_error(409, "payment_link_has_payments");
    app.patch(&path, json!({"payments_limit": 1}))
        .await
        .assert_error(422, "payments_limit_below_count");
    let p = app
        .patch(
            &path,
            json!({"title": "Still editable", "payments_limit": 2}),
        )
        .await;
    assert_eq!(
        (p.ok(200)["title"].as_str(), p.body["status"].as_str()),
        (Some("Still editable"), Some("paid"))
    );
    app.post(&format!("{path}/activate"), json!({}))
        .await
        .assert_error(409, "invalid_state_transition");
    let again = app.patch(&path, json!({"payments_limit": 10})).await;
    assert_eq!(again.ok(200)["status"], "active");
    app.delete(&path)
        .await
        .assert_error(409, "payment_link_has_payments");
    assert_eq!(app.get(&path).await.ok(200)["payments_count"], 2);
}

async fn list_filters(app: TestApp) {
    let cust = app
        .create("/v1/customers", json!({"email": "f@example.com"}))
        .await;
    let a = app
        .create(
            "/v1/payment_links",
            json!({"title": "Spring Sale 50%", "amount": 100, "reference_id": "r-1"}),
        )
        .await;
    let b = app
        .create(
            "/v1/payment_links",
            json!({"title": "Donate", "donation": {}, "customer_id": cust["id"]}),
        )
        .await;
    let c = app.custom_link("Winter_sale", 100).await;
    app.post(
        &format!("/v1/payment_links/{}/deactivate", id(&c)),
        json!({}),
    )
    .await
    .ok(200);
    let ids = |r: &crate::helpers::Resp| -> Vec<String> {
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(&app.get("/v1/payment_links").await),
        vec![id(&c), id(&b), id(&a)]
    );
    assert_eq!(
        ids(&app.get("/v1/payment_links?type=donation").await),
        vec![id(&b)]
    );
    assert_eq!(
        ids(&app.get("/v1/payment_links?status=inactive").await),
        vec![id(&c)]
    );
    assert_eq!(
        ids(&app.get("/v1/payment_links?reference_id=r-1").await),
        vec![id(&a)]
    );
    assert_eq!(
        ids(&app
            .get(&format!("/v1/payment_links?customer_id={}", id(&cust)))
            .await),
        vec![id(&b)]
    );
    assert_eq!(
        ids(&app.get("/v1/payment_links?q=sale").await),
        vec![id(&c), id(&a)]
    );
    assert_eq!(
        ids(&app.get("/v1/payment_links?q=50%25").await),
        vec![id(&a)]
    );
    assert_eq!(ids(&app.get("/v1/payment_links?q=r_s").await), vec![id(&c)]);
    assert_eq!(
        ids(&app
            .get("/v1/payment_links?created%5Bgte%5D=2099-01-01T00:00:00Z")
            .await)
        .len(),
        0
    );
    assert_eq!(
        ids(&app
            .get("/v1/payment_links?created%5Blte%5D=2099-01-01T00:00:00Z")
            .await)
        .len(),
        3
    );
    app.get("/v1/payment_links?status=lost")
        .await
        .assert_error(400, "parameter_invalid")
        .assert_param("status");
    app.get("/v1/payment_links?type=gift")
        .await
        .assert_error(400, "parameter_invalid")
        .assert_param("type");
    app.get("/v1/payment_links?created%5Bgte%5D=yesterday")
        .await
        .assert_error(400, "parameter_invalid")
        .assert_param("created[gte]");
}

async fn patch_updates_and_revalidates(app: TestApp) {
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Editable", "amount": 500, "description": "Old"}),
        )
        .await;
    let path = format!("/v1/payment_links/{}", id(&l));
    let p = app
        .patch(&path, json!({"title": "Edited", "description": null, "amount": 700, "metadata": {"a": "1"}, "slug": "edited-link"}))
        .await;
    let p = p.ok(200);
    assert_eq!(
        (p["title"].as_str(), p["description"].is_null()),
        (Some("Edited"), true)
    );
    assert_eq!(
        (
            p["line_items"][0]["unit_amount"].as_i64(),
            p["slug"].as_str()
        ),
        (Some(700), Some("edited-link"))
    );
    // The whole link is validated again after a PATCH.
    app.patch(&path, json!({"title": "no"}))
        .await
        .assert_error(400, "parameter_invalid")
        .assert_param("title");
    app.patch(
        &path,
        json!({"opens_at": "2099-01-01T00:00:00Z", "expires_at": "2098-01-01T00:00:00Z"}),
    )
    .await
    .assert_error(422, "parameters_inconsistent");
    app.patch(&path, json!({"slug": "Bad Slug"}))
        .await
        .assert_error(400, "slug_invalid");
    app.custom_link("Other", 100).await;
    app.create(
        "/v1/payment_links",
        json!({"title": "Taken", "amount": 100, "slug": "taken-one"}),
    )
    .await;
    app.patch(&path, json!({"slug": "taken-one"}))
        .await
        .assert_error(409, "slug_taken");
    app.patch(&path, json!({"bogus": 1}))
        .await
        .assert_error(400, "parameter_unknown");
    // A failed PATCH changed nothing.
    assert_eq!(app.get(&path).await.ok(200)["title"], "Edited");
    let updated = app.get("/v1/events?type=payment_link.updated").await;
    assert_eq!(updated.ok(200)["data"].as_array().unwrap().len(), 1);
    // Delete: gone from the API, an event says so.
    let d = app.delete(&path).await;
    assert_eq!(
        d.ok(200),
        &json!({"id": id(&l), "object": "payment_link", "deleted": true})
    );
    app.get(&path).await.assert_error(404, "resource_missing");
    app.patch(&path, json!({"title": "Ghost"}))
        .await
        .assert_error(404, "resource_missing");
    let deleted = app.get("/v1/events?type=payment_link.deleted").await;
    assert_eq!(deleted.ok(200)["data"][0]["data"]["object"]["id"], l["id"]);
}
