//! Orders over HTTP.

use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

both!(orders_price_tax_and_cancel, order_validation);

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
    .assert_error(400, "product_not_found")
    .assert_param("line_items[0].product_id");
    app.post(
        "/v1/orders",
        json!({"currency": "usd", "line_items": [{"product_id": eur["id"]}]}),
    )
    .await
    .assert_error(400, "currency_mismatch");
    app.post(
        "/v1/orders",
        json!({"line_items": [{"name": "A", "unit_amount": 1, "quantity": 0}]}),
    )
    .await
    .assert_error(400, "quantity_invalid")
    .assert_param("line_items[0].quantity");
    app.post("/v1/orders", json!({"line_items": [{"name": "A"}]}))
        .await
        .assert_error(400, "parameter_invalid");
    app.post("/v1/orders", json!({"customer_id": "cus_0000000000000000000000", "line_items": [{"name": "A", "unit_amount": 1}]}))
        .await
        .assert_error(400, "customer_not_found");
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
