//! The buyer picks the currency: links priced in several currencies, on the page, in the
//! preview, at checkout, in the payment and in the link's takings.

use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

both!(
    a_fixed_amount_link_is_paid_in_the_buyer_s_currency,
    lines_and_products_carry_their_prices,
    the_page_switches_currency
);

async fn a_fixed_amount_link_is_paid_in_the_buyer_s_currency(app: TestApp) {
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Ticket", "amount": 1000, "currency_options": {"EUR": {"amount": 900}, "JPY": {"amount": 1500}}}),
        )
        .await;
    assert_eq!(
        l["currency_options"],
        json!({"EUR": {"amount": 900}, "JPY": {"amount": 1500}})
    );
    let slug = l["slug"].as_str().unwrap();
    let preview = app.get(&format!("/api/public/links/{slug}")).await;
    assert_eq!(preview.ok(200)["currencies"], json!(["USD", "EUR", "JPY"]));
    assert_eq!(preview.body["totals"]["amount_total"], 1000);
    let eur = app
        .get(&format!("/api/public/links/{slug}?currency=EUR"))
        .await;
    assert_eq!(
        (
            eur.ok(200)["currency"].as_str(),
            eur.body["totals"]["amount_total"].as_i64()
        ),
        (Some("EUR"), Some(900))
    );
    app.get(&format!("/api/public/links/{slug}?currency=GBP"))
        .await
        .assert_error(400, "currency_not_offered")
        .assert_param("currency");
    app.start_checkout(slug, json!({"email": "c@example.com", "currency": "GBP"}))
        .await
        .assert_error(400, "currency_not_offered");
    let mut takings = Vec::new();
    for (cur, amount) in [("eur", 900), ("JPY", 1500), ("usd", 1000), ("EUR", 900)] {
        let s = app
            .start_checkout(slug, json!({"email": "c@example.com", "currency": cur}))
            .await;
        let s = s.ok(201).clone();
        assert_eq!(
            (s["currency"].as_str().unwrap(), s["amount_total"].as_i64()),
            (cur.to_uppercase().as_str(), Some(amount))
        );
        let paid = app.pay_card(&s, "4242424242424242").await;
        let pid = paid.ok(200)["payment_id"].as_str().unwrap().to_owned();
        let p = app.get(&format!("/v1/payments/{pid}")).await;
        assert_eq!(
            (
                p.body["currency"].as_str().unwrap(),
                p.body["amount"].as_i64()
            ),
            (cur.to_uppercase().as_str(), Some(amount))
        );
        takings.push(pid);
    }
    // The link's own takings stay in its currency; each currency is summed apart.
    let got = app
        .get(&format!("/v1/payment_links/{}", l["id"].as_str().unwrap()))
        .await;
    let stats = &got.ok(200)["stats"];
    assert_eq!(stats["payments_count"], 4);
    assert_eq!(stats["amount_collected"], 1000);
    assert_eq!(
        stats["currencies"],
        json!({
            "EUR": {"payments_count": 2, "amount_collected": 1800},
            "JPY": {"payments_count": 1, "amount_collected": 1500},
            "USD": {"payments_count": 1, "amount_collected": 1000}
        })
    );
    // Merchant bounds apply per currency.
    app.patch(
        "/v1/settings",
        json!({"amount_bounds": {"EUR": {"minimum": 1000, "maximum": 100000}}}),
    )
    .await
    .ok(200);
    app.post(
        "/v1/payment_links",
        json!({"title": "Too cheap", "amount": 1000, "currency_options": {"EUR": {"amount": 900}}}),
    )
    .await
    .assert_error(422, "amount_out_of_bounds")
    .assert_param("currency_options.EUR");
    // Codes: known, upper case, not the base again; not for donations.
    for (options, status, code) in [
        (json!({"eur": {"amount": 900}}), 400, "currency_invalid"),
        (json!({"XYZ": {"amount": 900}}), 400, "currency_invalid"),
        (
            json!({"USD": {"amount": 900}}),
            422,
            "parameters_inconsistent",
        ),
    ] {
        app.post(
            "/v1/payment_links",
            json!({"title": "Codes", "amount": 1000, "currency_options": options}),
        )
        .await
        .assert_error(status, code);
    }
    app.post(
        "/v1/payment_links",
        json!({"title": "Give", "donation": {"minimum": 100, "maximum": 1000}, "currency_options": {"EUR": {"amount": 900}}}),
    )
    .await
    .assert_error(422, "parameter_required")
    .assert_param("currency_options");
}

async fn lines_and_products_carry_their_prices(app: TestApp) {
    // Custom lines: each with its price in EUR; lines must agree on the currencies.
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Two lines", "line_items": [
                {"name": "A", "unit_amount": 1000, "quantity": 2, "currency_options": {"EUR": {"unit_amount": 950}}},
                {"name": "B", "unit_amount": 500, "currency_options": {"EUR": {"unit_amount": 450}}}
            ]}),
        )
        .await;
    assert_eq!(l["currency_options"], json!({"EUR": {"amount": 2350}}));
    let s = app
        .start_checkout(
            l["slug"].as_str().unwrap(),
            json!({"email": "l@example.com", "currency": "EUR"}),
        )
        .await;
    assert_eq!(s.ok(201)["amount_total"], 2350);
    app.post(
        "/v1/payment_links",
        json!({"title": "Disagree", "line_items": [
            {"name": "A", "unit_amount": 1000, "currency_options": {"EUR": {"unit_amount": 950}}},
            {"name": "B", "unit_amount": 500}
        ]}),
    )
    .await
    .assert_error(422, "parameters_inconsistent")
    .assert_param("line_items[1].currency_options");

    // Products: their prices per currency, taxed the same in each.
    let rate = app
        .create(
            "/v1/tax_rates",
            json!({"display_name": "VAT", "percentage": "20", "inclusive": false}),
        )
        .await;
    let p = app
        .create(
            "/v1/products",
            json!({"name": "Mug", "unit_amount": 1200, "tax_rate_id": rate["id"], "currency_options": {"GBP": {"unit_amount": 1000}}}),
        )
        .await;
    assert_eq!(p["currency_options"], json!({"GBP": {"unit_amount": 1000}}));
    app.post(
        "/v1/products",
        json!({"name": "Bad", "unit_amount": 1200, "currency_options": {"usd": {"unit_amount": 1}}}),
    )
    .await
    .assert_error(400, "currency_invalid");
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Mugs", "line_items": [{"product_id": p["id"], "quantity": 3}], "tax": {"collect": true}}),
        )
        .await;
    assert_eq!(l["currency_options"], json!({"GBP": {"amount": 3000}}));
    let gbp = app
        .get(&format!(
            "/api/public/links/{}?currency=GBP",
            l["slug"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        (
            gbp.ok(200)["totals"]["amount_subtotal"].as_i64(),
            gbp.body["totals"]["amount_tax"].as_i64(),
            gbp.body["line_items"][0]["unit_amount"].as_i64()
        ),
        (Some(3000), Some(600), Some(1000))
    );
    app.post(
        "/v1/payment_links",
        json!({"title": "Mugs", "line_items": [{"product_id": p["id"], "currency_options": {"GBP": {"unit_amount": 1}}}]}),
    )
    .await
    .assert_error(422, "parameters_exclusive")
    .assert_param("line_items[0].currency_options");
}

async fn the_page_switches_currency(app: TestApp) {
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Ticket", "amount": 1000, "currency_options": {"EUR": {"amount": 900}}}),
        )
        .await;
    let slug = l["slug"].as_str().unwrap();
    let get = |path: String| {
        let client = app.client.clone();
        async move { client.get(path).send().await.unwrap().text().await.unwrap() }
    };
    let usd = get(format!("{}/l/{slug}", app.base)).await;
    assert!(
        usd.contains(&format!("href=\"/l/{slug}?currency=EUR\"")),
        "{usd}"
    );
    assert!(usd.contains("$10.00"));
    let eur = get(format!("{}/l/{slug}?currency=EUR", app.base)).await;
    assert!(eur.contains("€9.00") && !eur.contains("$10.00"), "{eur}");
    assert!(eur.contains("name=\"currency\" value=\"EUR\""));
    let at = eur.find("name=\"nonce\" value=\"").unwrap() + 20;
    let nonce = eur[at..].split('"').next().unwrap().to_owned();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirects
        .post(format!("{}/l/{slug}", app.base))
        .form(&[
            ("nonce", nonce.as_str()),
            ("currency", "EUR"),
            ("shown_total", "900"),
            ("email", "page@example.com"),
            ("card_number", "4242424242424242"),
            ("card_exp", "12/30"),
            ("card_cvc", "123"),
            ("action", "pay"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let p = app.get("/v1/payments").await;
    assert_eq!(
        (
            p.ok(200)["data"][0]["currency"].as_str(),
            p.body["data"][0]["amount"].as_i64()
        ),
        (Some("EUR"), Some(900))
    );
}
