//! Products, customers and tax rates over HTTP.

use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

both!(
    products_crud_and_archive,
    product_validation,
    customers_crud,
    tax_rates,
    pagination_edges
);

async fn products_crud_and_archive(app: TestApp) {
    let p = app
        .create(
            "/v1/products",
            json!({"name": "Mug", "unit_amount": 1200, "currency": "eur", "inventory": {"available": 5},
                   "hsa_fsa_eligible": true, "metadata": {"sku": "M-1"}}),
        )
        .await;
    assert_eq!(p["object"], "product");
    assert!(p["id"].as_str().unwrap().starts_with("prod_"));
    assert_eq!(
        (p["currency"].as_str(), p["inventory"]["available"].as_i64()),
        (Some("EUR"), Some(5))
    );
    let id = p["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/v1/products/{id}")).await.ok(200), &p);

    // PATCH: three-state fields, metadata merge, stock set explicitly.
    let u = app
        .patch(
            &format!("/v1/products/{id}"),
            json!({"description": "Big", "metadata": {"sku": "", "color": "red"}, "inventory": {"available": 9}}),
        )
        .await;
    let u = u.ok(200);
    assert_eq!(
        (
            u["description"].as_str(),
            u["inventory"]["available"].as_i64()
        ),
        (Some("Big"), Some(9))
    );
    assert_eq!(u["metadata"], json!({"color": "red"}));
    let u = app
        .patch(
            &format!("/v1/products/{id}"),
            json!({"description": null, "inventory": null}),
        )
        .await;
    assert_eq!(
        (
            u.body["description"].is_null(),
            u.body["inventory"].is_null()
        ),
        (true, true)
    );

    // DELETE archives.
    let d = app.delete(&format!("/v1/products/{id}")).await;
    assert_eq!(d.ok(200)["active"], false);
    let active = app.get("/v1/products?active=true").await;
    assert_eq!(active.ok(200)["data"].as_array().unwrap().len(), 0);
    let all = app.get("/v1/products").await;
    assert_eq!(all.ok(200)["data"][0]["id"], id);
    app.get("/v1/products/prod_doesnotexist000000000")
        .await
        .assert_error(404, "resource_missing");
    app.get("/v1/products/garbage")
        .await
        .assert_error(404, "resource_missing");
}

async fn product_validation(app: TestApp) {
    let cases = [
        (json!({"unit_amount": 1}), "parameter_missing", "name"),
        (
            json!({"name": "", "unit_amount": 1}),
            "parameter_invalid",
            "name",
        ),
        (
            json!({"name": "x".repeat(251), "unit_amount": 1}),
            "parameter_invalid",
            "name",
        ),
        (
            json!({"name": "X", "unit_amount": -1}),
            "parameter_invalid",
            "unit_amount",
        ),
        (
            json!({"name": "X", "unit_amount": 1.5}),
            "parameter_invalid",
            "unit_amount",
        ),
        (
            json!({"name": "X", "unit_amount": 1_000_000_000_000_000_i64}),
            "parameter_invalid",
            "unit_amount",
        ),
        (
            json!({"name": "X", "unit_amount": 1, "currency": "xyz"}),
            "parameter_invalid",
            "currency",
        ),
        (
            json!({"name": "X", "unit_amount": 1, "image_url": "http://x.com/a.png"}),
            "url_invalid",
            "image_url",
        ),
        (
            json!({"name": "X", "unit_amount": 1, "tax_rate_id": "txr_0000000000000000000000"}),
            "tax_rate_not_found",
            "tax_rate_id",
        ),
        (
            json!({"name": "X", "unit_amount": 1, "inventory": {"available": 1_000_000}}),
            "parameter_invalid",
            "inventory.available",
        ),
        (
            json!({"name": "X", "unit_amount": 1, "inventory": {"count": 1}}),
            "parameter_unknown",
            "inventory.count",
        ),
    ];
    for (body, code, param) in cases {
        let r = app.post("/v1/products", body.clone()).await;
        let status = if code.ends_with("_not_found") {
            422
        } else {
            400
        };
        r.assert_error(status, code).assert_param(param);
    }
    let many: serde_json::Map<_, _> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    app.post(
        "/v1/products",
        json!({"name": "X", "unit_amount": 1, "metadata": many}),
    )
    .await
    .assert_error(400, "parameter_invalid")
    .assert_param("metadata");
    app.post(
        "/v1/products",
        json!({"name": "X", "unit_amount": 1, "metadata": {"k": "v".repeat(501)}}),
    )
    .await
    .assert_error(400, "parameter_invalid");
    // Nothing was half-written by the failures.
    assert_eq!(
        app.get("/v1/products").await.ok(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

async fn customers_crud(app: TestApp) {
    let c = app
        .create(
            "/v1/customers",
            json!({"email": "ada@example.com", "name": "Ada", "phone": "+44 20 7946 0000",
                   "address": {"line1": "1 Main St", "city": "London", "country": "GB"}}),
        )
        .await;
    let id = c["id"].as_str().unwrap();
    assert!(id.starts_with("cus_"));
    let u = app
        .patch(
            &format!("/v1/customers/{id}"),
            json!({"name": null, "phone": "555 0100"}),
        )
        .await;
    assert_eq!(
        (u.ok(200)["name"].is_null(), u.body["phone"].as_str()),
        (true, Some("555 0100"))
    );
    let found = app.get("/v1/customers?email=ada@example.com").await;
    assert_eq!(found.ok(200)["data"][0]["id"], id);
    app.post("/v1/customers", json!({"email": "not-an-email"}))
        .await
        .assert_error(400, "email_invalid")
        .assert_param("email");
    app.post("/v1/customers", json!({"address": {"country": "gbr"}}))
        .await
        .assert_error(400, "parameter_invalid")
        .assert_param("address.country");
    app.post("/v1/customers", json!({"phone": "call me"}))
        .await
        .assert_error(400, "phone_invalid");
    let d = app.delete(&format!("/v1/customers/{id}")).await;
    assert_eq!(
        d.ok(200),
        &json!({"id": id, "object": "customer", "deleted": true})
    );
    app.get(&format!("/v1/customers/{id}"))
        .await
        .assert_error(404, "resource_missing");
    app.delete(&format!("/v1/customers/{id}"))
        .await
        .assert_error(404, "resource_missing");
}

async fn tax_rates(app: TestApp) {
    let r = app
        .create(
            "/v1/tax_rates",
            json!({"display_name": "VAT", "percentage": "20", "inclusive": true}),
        )
        .await;
    assert_eq!(
        (r["percentage"].as_str(), r["inclusive"].as_bool()),
        (Some("20"), Some(true))
    );
    let id = r["id"].as_str().unwrap();
    let exact = app
        .create(
            "/v1/tax_rates",
            json!({"display_name": "Sales tax", "percentage": "8.2500"}),
        )
        .await;
    assert_eq!(exact["percentage"], "8.25");
    for bad in ["101", "8.12345", "-1", "abc", "1e2"] {
        app.post(
            "/v1/tax_rates",
            json!({"display_name": "X", "percentage": bad}),
        )
        .await
        .assert_error(400, "parameter_invalid")
        .assert_param("percentage");
    }
    app.post(
        "/v1/tax_rates",
        json!({"display_name": "X", "percentage": 8.25}),
    )
    .await
    .assert_error(400, "parameter_invalid");
    app.patch(&format!("/v1/tax_rates/{id}"), json!({"percentage": "5"}))
        .await
        .assert_error(422, "parameter_immutable")
        .assert_param("percentage");
    let u = app
        .patch(
            &format!("/v1/tax_rates/{id}"),
            json!({"active": false, "display_name": "Old VAT"}),
        )
        .await;
    assert_eq!(u.ok(200)["active"], false);
    let active = app.get("/v1/tax_rates?active=true").await;
    assert_eq!(active.ok(200)["data"].as_array().unwrap().len(), 1);
}

async fn pagination_edges(app: TestApp) {
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            app.product(&format!("P{i}"), 100).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let page = app.get("/v1/products?limit=2").await;
    let page = page.ok(200);
    assert_eq!(page["object"], "list");
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        (page["data"][0]["id"].as_str(), page["has_more"].as_bool()),
        (Some(ids[4].as_str()), Some(true))
    );
    let next = app
        .get(&format!("/v1/products?limit=2&starting_after={}", ids[3]))
        .await;
    assert_eq!(next.ok(200)["data"][0]["id"], ids[2]);
    let last = app
        .get(&format!("/v1/products?limit=10&starting_after={}", ids[1]))
        .await;
    assert_eq!(
        (
            last.ok(200)["data"].as_array().unwrap().len(),
            last.body["has_more"].as_bool()
        ),
        (1, Some(false))
    );
    let prev = app
        .get(&format!("/v1/products?limit=2&ending_before={}", ids[1]))
        .await;
    let prev_ids: Vec<_> = prev.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(prev_ids, vec![ids[3].clone(), ids[2].clone()]);
    let exact = app.get("/v1/products?limit=5").await;
    assert_eq!(exact.ok(200)["has_more"], false);
    for bad in ["limit=0", "limit=101", "limit=-1", "limit=abc"] {
        app.get(&format!("/v1/products?{bad}"))
            .await
            .assert_error(400, "parameter_invalid")
            .assert_param("limit");
    }
    app.get("/v1/products?starting_after=prod_0000000000000000000000")
        .await
        .assert_error(422, "invalid_cursor");
    app.get(&format!(
        "/v1/products?starting_after={}&ending_before={}",
        ids[1], ids[3]
    ))
    .await
    .assert_error(422, "parameters_exclusive");
    app.get("/v1/products?colour=red")
        .await
        .assert_error(400, "parameter_unknown")
        .assert_param("colour");
    app.get("/v1/products?active=maybe")
        .await
        .assert_error(400, "parameter_invalid");
}
