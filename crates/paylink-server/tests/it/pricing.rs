//! Tax: which rule decides a cart's pricing mode, and random carts priced the same on the
//! preview, at checkout and in the payment as an independent computation.

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::both;
use crate::helpers::TestApp;

both!(
    a_rate_s_own_inclusive_decides_without_a_mode,
    random_carts_match_an_independent_computation
);

async fn rate(app: &TestApp, percentage: &str, inclusive: bool) -> Value {
    app.create(
        "/v1/tax_rates",
        json!({"display_name": "VAT", "percentage": percentage, "inclusive": inclusive}),
    )
    .await
}

async fn product(app: &TestApp, amount: i64, currency: &str, rate: &Value) -> Value {
    app.create(
        "/v1/products",
        json!({"name": "Thing", "unit_amount": amount, "currency": currency, "tax_rate_id": rate["id"]}),
    )
    .await
}

/// `(subtotal, tax, total)` of a JSON object with those amounts.
fn amounts(v: &Value) -> (i64, i64, i64) {
    (
        v["amount_subtotal"].as_i64().unwrap(),
        v["amount_tax"].as_i64().unwrap(),
        v["amount_total"].as_i64().unwrap(),
    )
}

async fn a_rate_s_own_inclusive_decides_without_a_mode(app: TestApp) {
    // The merchant's default is exclusive; the rate says its prices include it.
    let vat = rate(&app, "20", true).await;
    let p = product(&app, 1200, "usd", &vat).await;
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Inclusive", "line_items": [{"product_id": p["id"]}], "tax": {"collect": true}}),
        )
        .await;
    assert_eq!(l["tax"]["pricing_mode"], "inclusive");
    let slug = l["slug"].as_str().unwrap();
    let preview = app.get(&format!("/api/public/links/{slug}")).await;
    assert_eq!(amounts(&preview.ok(200)["totals"]), (1200, 200, 1200));
    let s = app
        .start_checkout(slug, json!({"email": "v@example.com"}))
        .await;
    assert_eq!(amounts(s.ok(201)), (1200, 200, 1200));
    let paid = app.pay_card(&s.body, "4242424242424242").await;
    let pid = paid.ok(200)["payment_id"].as_str().unwrap().to_owned();
    let payment = app.get(&format!("/v1/payments/{pid}")).await;
    assert_eq!(
        (
            payment.body["amount"].as_i64(),
            payment.body["amount_tax"].as_i64()
        ),
        (Some(1200), Some(200))
    );
    let page = app
        .client
        .get(format!("{}/l/{slug}", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("12.00"), "the page shows the inclusive total");
    assert!(!page.contains("14.40"));

    // An explicit mode wins over the rate's.
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Exclusive", "line_items": [{"product_id": p["id"]}], "tax": {"collect": true, "pricing_mode": "exclusive"}}),
        )
        .await;
    let preview = app
        .get(&format!(
            "/api/public/links/{}",
            l["slug"].as_str().unwrap()
        ))
        .await;
    assert_eq!(amounts(&preview.ok(200)["totals"]), (1200, 240, 1440));

    // Rates that disagree need the link to say which.
    let sales = rate(&app, "8.25", false).await;
    let q = product(&app, 1000, "usd", &sales).await;
    app.post(
        "/v1/payment_links",
        json!({"title": "Mixed", "line_items": [{"product_id": p["id"]}, {"product_id": q["id"]}], "tax": {"collect": true}}),
    )
    .await
    .assert_error(400, "pricing_mode_required")
    .assert_param("tax.pricing_mode");

    // Orders follow the same rule.
    let o = app
        .create(
            "/v1/orders",
            json!({"line_items": [{"product_id": p["id"], "quantity": 2}]}),
        )
        .await;
    assert_eq!(o["pricing_mode"], "inclusive");
    assert_eq!(amounts(&o), (2400, 400, 2400));
}

/// Half-up tax of one line, computed apart from the server: exclusive adds
/// `amount × rate`, inclusive takes `amount − amount ÷ (1 + rate)`; `millionths` is the
/// percentage × 10 000.
fn expected_line(amount: i64, millionths: i64, inclusive: bool) -> (i64, i64, i64) {
    let (a, m) = (i128::from(amount), i128::from(millionths));
    if inclusive {
        let d = 1_000_000 + m;
        let net = (2 * a * 1_000_000 + d) / (2 * d);
        let tax = (a - net) as i64;
        (amount, tax, amount)
    } else {
        let tax = ((2 * a * m + 1_000_000) / 2_000_000) as i64;
        (amount, tax, amount + tax)
    }
}

const RATES: [(&str, i64); 8] = [
    ("20", 200_000),
    ("8.25", 82_500),
    ("7.5", 75_000),
    ("0.0001", 1),
    ("19", 190_000),
    ("5.5", 55_000),
    ("12.345", 123_450),
    ("100", 1_000_000),
];

async fn random_carts_match_an_independent_computation(app: TestApp) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(17);
    for cart in 0..12 {
        let currency = ["usd", "jpy", "kwd", "eur"][cart % 4];
        // Either the link says the mode, or its rates all say the same.
        let explicit = rng.random_bool(0.4).then(|| rng.random_bool(0.5));
        let rates_inclusive = rng.random_bool(0.5);
        let mut lines = Vec::new();
        let mut expected = (0i64, 0i64, 0i64);
        let mut per_line = Vec::new();
        for _ in 0..rng.random_range(1..=3) {
            let (pct, millionths) = RATES[rng.random_range(0..RATES.len())];
            let inclusive = match explicit {
                Some(_) => rng.random_bool(0.5),
                None => rates_inclusive,
            };
            let r = rate(&app, pct, inclusive).await;
            let unit = rng.random_range(1..200_000);
            let qty = rng.random_range(1..=5);
            let p = product(&app, unit, currency, &r).await;
            lines.push(json!({"product_id": p["id"], "quantity": qty}));
            per_line.push((unit * qty, millionths));
        }
        let mode_inclusive = explicit.unwrap_or(rates_inclusive);
        for (amount, millionths) in per_line {
            let (s, t, tot) = expected_line(amount, millionths, mode_inclusive);
            expected = (expected.0 + s, expected.1 + t, expected.2 + tot);
        }
        let mut tax = json!({"collect": true});
        if let Some(inc) = explicit {
            tax["pricing_mode"] = json!(if inc { "inclusive" } else { "exclusive" });
        }
        let l = app
            .create(
                "/v1/payment_links",
                json!({"title": format!("Cart {cart}"), "line_items": lines, "tax": tax}),
            )
            .await;
        let slug = l["slug"].as_str().unwrap();
        let preview = app.get(&format!("/api/public/links/{slug}")).await;
        assert_eq!(
            amounts(&preview.ok(200)["totals"]),
            expected,
            "cart {cart} preview"
        );
        let s = app
            .start_checkout(slug, json!({"email": "r@example.com"}))
            .await;
        assert_eq!(amounts(s.ok(201)), expected, "cart {cart} checkout");
        let paid = app.pay_card(&s.body, "4242424242424242").await;
        let pid = paid.ok(200)["payment_id"].as_str().unwrap().to_owned();
        let payment = app.get(&format!("/v1/payments/{pid}")).await;
        assert_eq!(
            (
                payment.body["amount"].as_i64().unwrap(),
                payment.body["amount_tax"].as_i64().unwrap()
            ),
            (expected.2, expected.1),
            "cart {cart} payment"
        );
    }
}
