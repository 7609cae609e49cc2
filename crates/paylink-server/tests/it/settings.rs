//! Merchant settings.

use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

both!(settings_round_trip_and_validation);

async fn settings_round_trip_and_validation(app: TestApp) {
    let s = app.get("/v1/settings").await;
    let s = s.ok(200);
    assert_eq!(
        (s["object"].as_str(), s["business_name"].as_str()),
        (Some("settings"), Some("Acme"))
    );
    assert_eq!(
        (
            s["default_currency"].as_str(),
            s["checkout_session_ttl"].as_str()
        ),
        (Some("USD"), Some("30m"))
    );
    let u = app
        .patch(
            "/v1/settings",
            json!({"business_name": "Acme Ltd", "brand_color": "#112233", "logo_url": "https://cdn.example.com/logo.png",
                   "default_currency": "gbp", "pricing_mode": "inclusive", "default_link_expiry": "15d",
                   "checkout_session_ttl": "45m", "redirect_allowlist": ["Shop.Example.com"],
                   "amount_bounds": {"gbp": {"minimum": 30, "maximum": 500000}}}),
        )
        .await;
    let u = u.ok(200);
    assert_eq!(
        (
            u["default_currency"].as_str(),
            u["redirect_allowlist"][0].as_str()
        ),
        (Some("GBP"), Some("shop.example.com"))
    );
    assert_eq!(u["amount_bounds"]["GBP"]["minimum"], 30);
    assert_eq!(app.get("/v1/settings").await.ok(200), u);
    // New products use the default currency.
    assert_eq!(
        app.create("/v1/products", json!({"name": "Scone", "unit_amount": 300}))
            .await["currency"],
        "GBP"
    );
    let bad = [
        (json!({"brand_color": "red"}), "brand_color"),
        (json!({"logo_url": "http://x.com/l.png"}), "logo_url"),
        (json!({"support_email": "nope"}), "support_email"),
        (
            json!({"default_link_expiry": "15 days"}),
            "default_link_expiry",
        ),
        (
            json!({"checkout_session_ttl": "5s"}),
            "checkout_session_ttl",
        ),
        (
            json!({"checkout_session_ttl": "2d"}),
            "checkout_session_ttl",
        ),
        (
            json!({"redirect_allowlist": ["https://x.com"]}),
            "redirect_allowlist[0]",
        ),
        (
            json!({"amount_bounds": {"usd": {"minimum": 500, "maximum": 100}}}),
            "amount_bounds[usd]",
        ),
        (
            json!({"amount_bounds": {"ZZZ": {"minimum": 1, "maximum": 2}}}),
            "amount_bounds[ZZZ]",
        ),
        (json!({"business_name": ""}), "business_name"),
        (json!({"pricing_mode": "sometimes"}), "pricing_mode"),
    ];
    for (body, param) in bad {
        let r = app.patch("/v1/settings", body.clone()).await;
        // A minimum above its maximum is well formed, and inconsistent.
        let status = if param == "amount_bounds[usd]" {
            422
        } else {
            400
        };
        assert_eq!(r.status, status, "{body} → {}", r.body);
        assert_eq!(r.body["error"]["param"], param, "{body} → {}", r.body);
    }
    // Failed updates changed nothing; clearing with null works.
    let cleared = app
        .patch(
            "/v1/settings",
            json!({"brand_color": null, "default_link_expiry": null}),
        )
        .await;
    assert!(
        cleared.ok(200)["brand_color"].is_null() && cleared.body["default_link_expiry"].is_null()
    );
    assert_eq!(cleared.body["business_name"], "Acme Ltd");
}
