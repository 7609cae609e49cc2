//! The dashboard's catalog forms over HTTP on both backends: a product with stock and an
//! image, tax rates, customers and orders; each with the API's rules and words, roles,
//! CSRF, the nonce that makes a form sent twice change once, and another merchant's ids.

use serde_json::Value;

use paylink_domain::access::Role;

use crate::both;
use crate::dashboard::Desk;
use crate::helpers::TestApp;

both!(products_and_tax_rates_are_made_and_changed_in_forms);

/// The id a `303` to `/dashboard/{what}/{id}` names.
pub(crate) fn id_in(location: &str, what: &str) -> String {
    let prefix = format!("/dashboard/{what}/");
    location
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{location} is not under {prefix}"))
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

/// The `shown` hidden field of an edit form's page, unescaped as a browser sends it.
pub(crate) fn shown_of(page: &str) -> String {
    let raw = page
        .split("name=\"shown\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no shown field: {page}"));
    let shown = raw
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    assert!(serde_json::from_str::<Value>(&shown).is_ok(), "{shown}");
    shown
}

pub(crate) async fn api_get(app: &TestApp, path: &str) -> Value {
    app.call(Some(&app.key), reqwest::Method::GET, path, None, None)
        .await
        .ok(200)
        .clone()
}

async fn products_and_tax_rates_are_made_and_changed_in_forms(app: TestApp) {
    let owner = Desk::signed_in(&app, Role::Owner, "owner@acme.example").await;
    // A tax rate, exactly as typed.
    let r = owner
        .post(
            "/dashboard/tax-rates",
            &[
                ("display_name", "VAT"),
                ("percentage", "8.25"),
                ("nonce", "rate-1"),
            ],
            true,
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.location.as_str()),
        (303, "/dashboard/tax-rates")
    );
    // Sent twice (a double click): one rate.
    let again = owner
        .post(
            "/dashboard/tax-rates",
            &[
                ("display_name", "VAT"),
                ("percentage", "8.25"),
                ("nonce", "rate-1"),
            ],
            true,
        )
        .await;
    assert_eq!(again.status, 303);
    let rates = api_get(&app, "/v1/tax_rates").await;
    assert_eq!(rates["data"].as_array().unwrap().len(), 1, "{rates}");
    assert_eq!(rates["data"][0]["percentage"], "8.25");
    let rate_id = rates["data"][0]["id"].as_str().unwrap().to_owned();
    let bad = owner
        .post(
            "/dashboard/tax-rates",
            &[
                ("display_name", "Odd"),
                ("percentage", "101"),
                ("nonce", "rate-2"),
            ],
            true,
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.page);
    assert!(bad.page.contains("id=\"error\"") && bad.page.contains("value=\"101\""));
    let page = owner.get("/dashboard/tax-rates").await;
    assert!(page.page.contains("8.25 %"), "{}", page.page);

    // A product: price typed in major units, stock tracked, the rate chosen, an image.
    let form = [
        ("name", "Notebook"),
        ("price", "12.50"),
        ("currency", "USD"),
        ("stock", "20"),
        ("tax_rate_id", rate_id.as_str()),
        ("image_url", "https://img.example/notebook.png"),
        ("nonce", "product-1"),
    ];
    let r = owner.post("/dashboard/products/new", &form, true).await;
    assert_eq!(r.status, 303, "{}", r.page);
    let id = id_in(&r.location, "products");
    assert_eq!(
        owner
            .post("/dashboard/products/new", &form, true)
            .await
            .location,
        r.location,
        "the same nonce makes the same product"
    );
    let p = api_get(&app, &format!("/v1/products/{id}")).await;
    assert_eq!(
        (
            p["unit_amount"].as_i64(),
            p["inventory"]["available"].as_i64()
        ),
        (Some(1250), Some(20))
    );
    assert_eq!(p["tax_rate_id"].as_str(), Some(rate_id.as_str()));
    assert_eq!(
        api_get(&app, "/v1/products").await["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A price with too many decimals, with the field marked and what was typed kept.
    let r = owner
        .post(
            "/dashboard/products/new",
            &[
                ("name", "Pen"),
                ("price", "1.234"),
                ("currency", "USD"),
                ("nonce", "p-2"),
            ],
            true,
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.page.contains("at most 2 decimals") && r.page.contains("aria-invalid"));
    // The product's page changes it; a stock not touched in the form is not sent, so sales
    // since the form was drawn are not undone.
    let page = owner.get(&format!("/dashboard/products/{id}")).await;
    assert!(page.page.contains("value=\"12.50\"") && page.page.contains("notebook.png"));
    app.patch(
        &format!("/v1/products/{id}"),
        serde_json::json!({"inventory": {"available": 17}}),
    )
    .await
    .ok(200);
    // What the page showed, as the form carries it.
    let shown = shown_of(&page.page);
    let shown_json: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown_json["stock"], "20");
    let r = owner
        .post(
            &format!("/dashboard/products/{id}"),
            &[
                ("name", "Notebook A5"),
                ("price", "13.00"),
                ("currency", "USD"),
                ("stock", "20"),
                ("shown", shown.as_str()),
                ("active", "on"),
            ],
            true,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.page);
    let p = api_get(&app, &format!("/v1/products/{id}")).await;
    assert_eq!(
        (
            p["name"].as_str(),
            p["unit_amount"].as_i64(),
            p["inventory"]["available"].as_i64()
        ),
        (Some("Notebook A5"), Some(1300), Some(17))
    );
    assert!(
        p["image_url"].is_null() && p["tax_rate_id"].is_null(),
        "emptied fields clear: {p}"
    );
    // Archived by unticking; stock no longer tracked when emptied.
    let r = owner
        .post(
            &format!("/dashboard/products/{id}"),
            &[
                ("name", "Notebook A5"),
                ("price", "13.00"),
                ("currency", "USD"),
                ("stock", ""),
            ],
            true,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.page);
    let p = api_get(&app, &format!("/v1/products/{id}")).await;
    assert_eq!(
        (p["active"].as_bool(), p["inventory"].is_null()),
        (Some(false), true)
    );

    // A product whose tax rate was archived keeps it when saved for its name: the page
    // offers the archived rate, and only what was changed is sent.
    let taxed = app
        .create(
            "/v1/products",
            serde_json::json!({"name": "Taxed", "unit_amount": 1000, "tax_rate_id": rate_id}),
        )
        .await;
    let taxed = taxed["id"].as_str().unwrap();
    app.patch(
        &format!("/v1/tax_rates/{rate_id}"),
        serde_json::json!({"active": false}),
    )
    .await
    .ok(200);
    let page = owner.get(&format!("/dashboard/products/{taxed}")).await;
    assert!(
        page.page
            .contains(&format!("<option value=\"{rate_id}\" selected>")),
        "{}",
        page.page
    );
    assert!(page.page.contains("archived"));
    let shown = shown_of(&page.page);
    let r = owner
        .post(
            &format!("/dashboard/products/{taxed}"),
            &[
                ("name", "Taxed renamed"),
                ("price", "10"),
                ("currency", "USD"),
                ("tax_rate_id", rate_id.as_str()),
                ("active", "on"),
                ("shown", shown.as_str()),
            ],
            true,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.page);
    let p = api_get(&app, &format!("/v1/products/{taxed}")).await;
    assert_eq!(
        (p["name"].as_str(), p["tax_rate_id"].as_str()),
        (Some("Taxed renamed"), Some(rate_id.as_str()))
    );
    // A viewer sees the product but no form to change it, and a forged change is refused.
    let viewer = Desk::signed_in(&app, Role::Viewer, "viewer@acme.example").await;
    let page = viewer.get(&format!("/dashboard/products/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.page.contains("disabled") && !page.page.contains("id=\"save\""));
    let r = viewer
        .post(
            &format!("/dashboard/products/{id}"),
            &[("name", "Mine"), ("price", "0.50"), ("currency", "USD")],
            true,
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.page);
    let r = viewer.get("/dashboard/products/new").await;
    assert_eq!(r.status, 403);
    let r = viewer
        .post(
            "/dashboard/tax-rates",
            &[("display_name", "X"), ("percentage", "1")],
            true,
        )
        .await;
    assert_eq!(r.status, 403);
    // Without the form token, nothing changes.
    let r = owner
        .post(
            &format!("/dashboard/products/{id}"),
            &[("name", "Forged"), ("price", "1.00"), ("currency", "USD")],
            false,
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        api_get(&app, &format!("/v1/products/{id}")).await["name"],
        "Notebook A5"
    );
    // Another merchant's product, and ids that are not ids, are not found.
    let other = app.other_merchant("Rival").await;
    let theirs = app
        .call(
            Some(&other),
            reqwest::Method::POST,
            "/v1/products",
            Some(serde_json::json!({"name": "Theirs", "unit_amount": 100})),
            None,
        )
        .await
        .ok(201)
        .clone();
    let theirs = theirs["id"].as_str().unwrap();
    assert_eq!(
        owner
            .get(&format!("/dashboard/products/{theirs}"))
            .await
            .status,
        404
    );
    let r = owner
        .post(
            &format!("/dashboard/products/{theirs}"),
            &[("name", "Mine"), ("price", "1.00"), ("currency", "USD")],
            true,
        )
        .await;
    assert_eq!(r.status, 404);
    // A NUL is refused at the edge, as everywhere.
    assert_eq!(owner.get("/dashboard/products/prod_a%00").await.status, 400);
    for bad in [
        "prod_a%2Fb",
        "prod_a%20b",
        "..%2Fsettings",
        "prod_a%3Fb",
        "prod_a%23b",
    ] {
        assert_eq!(
            owner
                .get(&format!("/dashboard/products/{bad}"))
                .await
                .status,
            404,
            "{bad}"
        );
    }
}

both!(customers_and_orders_are_made_in_forms);

async fn customers_and_orders_are_made_in_forms(app: TestApp) {
    let owner = Desk::signed_in(&app, Role::Owner, "owner@acme.example").await;
    let form = [
        ("email", "ana@example.com"),
        ("name", "Ana Lima"),
        ("nonce", "cus-1"),
    ];
    let r = owner.post("/dashboard/customers/new", &form, true).await;
    assert_eq!(r.status, 303, "{}", r.page);
    let cus = id_in(&r.location, "customers");
    assert_eq!(
        owner
            .post("/dashboard/customers/new", &form, true)
            .await
            .location,
        r.location
    );
    let bad = owner
        .post(
            "/dashboard/customers/new",
            &[("email", "not-an-address"), ("nonce", "cus-2")],
            true,
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.page);
    assert!(bad.page.contains("aria-invalid") && bad.page.contains("value=\"not-an-address\""));
    let r = owner
        .post(
            &format!("/dashboard/customers/{cus}"),
            &[
                ("email", "ana@example.com"),
                ("name", ""),
                ("phone", "+351 912 345 678"),
            ],
            true,
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.page);
    let c = api_get(&app, &format!("/v1/customers/{cus}")).await;
    assert!(
        c["name"].is_null() && c["phone"] == "+351 912 345 678",
        "{c}"
    );
    // An order for them: a catalog line and a typed one, exact in minor units.
    let product = app
        .create(
            "/v1/products",
            serde_json::json!({"name": "Mug", "unit_amount": 900}),
        )
        .await;
    let page = owner
        .get(&format!("/dashboard/orders/new?customer={cus}"))
        .await;
    assert!(page
        .page
        .contains(&format!("<option value=\"{cus}\" selected>")));
    let pid = product["id"].as_str().unwrap();
    let order_form = [
        ("customer_id", cus.as_str()),
        ("currency", "USD"),
        ("product_1", pid),
        ("quantity_1", "2"),
        ("name_2", "Gift wrap"),
        ("price_2", "2.50"),
        ("quantity_2", "1"),
        ("nonce", "ord-1"),
    ];
    let r = owner.post("/dashboard/orders/new", &order_form, true).await;
    assert_eq!(r.status, 303, "{}", r.page);
    let oid = id_in(&r.location, "orders");
    assert_eq!(
        owner
            .post("/dashboard/orders/new", &order_form, true)
            .await
            .location,
        r.location
    );
    let o = api_get(&app, &format!("/v1/orders/{oid}")).await;
    assert_eq!(
        (o["amount_total"].as_i64(), o["customer_id"].as_str()),
        (Some(2050), Some(cus.as_str()))
    );
    let page = owner.get(&format!("/dashboard/orders/{oid}")).await;
    assert!(page.page.contains("$20.50") && page.page.contains("Gift wrap"));
    assert!(page
        .page
        .contains(&format!("/dashboard/links/new?type=order&amp;order={oid}")));
    let start = owner
        .get(&format!("/dashboard/links/new?type=order&order={oid}"))
        .await;
    assert!(start
        .page
        .contains(&format!("<option value=\"{oid}\" selected>")));
    assert!(owner
        .get(&format!("/dashboard/customers/{cus}"))
        .await
        .page
        .contains(&oid));
    let r = owner
        .post(
            "/dashboard/orders/new",
            &[
                ("currency", "USD"),
                ("name_1", "Odd"),
                ("price_1", "1.001"),
                ("nonce", "ord-2"),
            ],
            true,
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.page.contains("price in USD with at most 2 decimals"),
        "{}",
        r.page
    );
    let r = owner
        .post(
            "/dashboard/orders/new",
            &[("currency", "USD"), ("nonce", "ord-3")],
            true,
        )
        .await;
    assert_eq!(r.status, 422);
    // Cancelled; a second cancel answers the API's conflict.
    let r = owner
        .post(&format!("/dashboard/orders/{oid}/cancel"), &[], true)
        .await;
    assert_eq!(r.status, 303, "{}", r.page);
    assert_eq!(
        api_get(&app, &format!("/v1/orders/{oid}")).await["status"],
        "canceled"
    );
    let r = owner
        .post(&format!("/dashboard/orders/{oid}/cancel"), &[], true)
        .await;
    assert_eq!(r.status, 409, "{}", r.page);
    // A viewer reads but changes nothing; another merchant's ids are not found.
    let viewer = Desk::signed_in(&app, Role::Viewer, "viewer@acme.example").await;
    assert_eq!(
        viewer
            .get(&format!("/dashboard/customers/{cus}"))
            .await
            .status,
        200
    );
    assert_eq!(viewer.get("/dashboard/customers/new").await.status, 403);
    assert_eq!(viewer.get("/dashboard/orders/new").await.status, 403);
    let r = viewer
        .post(
            &format!("/dashboard/customers/{cus}"),
            &[("email", "me@example.com")],
            true,
        )
        .await;
    assert_eq!(r.status, 403);
    let r = viewer
        .post("/dashboard/orders/new", &order_form, true)
        .await;
    assert_eq!(r.status, 403);
    let rival = app.other_merchant("Rival").await;
    let theirs = app
        .call(
            Some(&rival),
            reqwest::Method::POST,
            "/v1/customers",
            Some(serde_json::json!({"email": "x@rival.example"})),
            None,
        )
        .await
        .ok(201)
        .clone();
    let t = theirs["id"].as_str().unwrap();
    assert_eq!(
        owner.get(&format!("/dashboard/customers/{t}")).await.status,
        404
    );
    assert_eq!(
        owner
            .post(
                &format!("/dashboard/customers/{t}"),
                &[("email", "mine@example.com")],
                true
            )
            .await
            .status,
        404
    );
    let r = owner
        .post(
            "/dashboard/orders/new",
            &[
                ("customer_id", t),
                ("currency", "USD"),
                ("name_1", "X"),
                ("price_1", "1"),
                ("nonce", "ord-4"),
            ],
            true,
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.status);
    // Without the form token, nothing.
    let r = owner
        .post(&format!("/dashboard/orders/{oid}/cancel"), &[], false)
        .await;
    assert_eq!(r.status, 403);
}
