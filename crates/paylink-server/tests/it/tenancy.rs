//! Another merchant's ids, and the other mode's, are "not found" on every route.

use reqwest::Method;
use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

both!(other_merchant_sees_404_everywhere, test_and_live_never_meet);

async fn other_merchant_sees_404_everywhere(app: TestApp) {
    let prod = app.product("Secret", 100).await;
    let cust = app
        .create("/v1/customers", json!({"email": "x@example.com"}))
        .await;
    let rate = app
        .create(
            "/v1/tax_rates",
            json!({"display_name": "T", "percentage": "5"}),
        )
        .await;
    let order = app
        .create(
            "/v1/orders",
            json!({"line_items": [{"name": "A", "unit_amount": 100}]}),
        )
        .await;
    let link = app.custom_link("Private", 100).await;
    let (_, paid) = app.buy(link["slug"].as_str().unwrap()).await;
    let payment = paid.unwrap().body["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let hook = app
        .create(
            "/v1/webhook_endpoints",
            json!({"url": "https://93.184.216.34/hooks", "enabled_events": ["*"]}),
        )
        .await;
    let event = app.get("/v1/events?limit=1").await.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = app
        .create("/v1/api_keys", json!({"name": "ci", "kind": "secret"}))
        .await;
    let member = crate::accounts::member(
        &app,
        None,
        paylink_domain::access::Role::Viewer,
        "viewer@acme.example",
    )
    .await;
    // Keys change the team in live mode only.
    let live = app.live_key().await;
    let invitation = app
        .call(
            Some(&live),
            Method::POST,
            "/v1/team/invitations",
            Some(json!({"email": "new@acme.example", "role": "viewer"})),
            None,
        )
        .await
        .ok(201)
        .clone();
    let plan = crate::subscriptions::monthly(&app, 900, 0).await;
    crate::subscriptions::subscribe(&app, &plan, "4242424242424242").await;
    let sub = crate::subscriptions::only_subscription(&app).await;
    let ids = [
        ("subscriptions", sub["id"].as_str().unwrap()),
        ("members", member.as_str()),
        ("invitations", invitation["id"].as_str().unwrap()),
        ("products", prod["id"].as_str().unwrap()),
        ("customers", cust["id"].as_str().unwrap()),
        ("tax_rates", rate["id"].as_str().unwrap()),
        ("orders", order["id"].as_str().unwrap()),
        ("payment_links", link["id"].as_str().unwrap()),
        ("events", event.as_str()),
        ("api_keys", key["id"].as_str().unwrap()),
        ("payments", payment.as_str()),
        ("webhook_endpoints", hook["id"].as_str().unwrap()),
    ];
    let other = app.other_merchant("Intruder").await;
    let mut checked = 0;
    for route in paylink_server::api::routes::table() {
        // A person's own sessions: a key has none (`accounts.rs` covers them).
        if !route.path.contains("{id}") || route.path.starts_with("/v1/me/") {
            continue;
        }
        // The collection the id belongs to (`team/members/{id}`: members).
        let resource = route
            .path
            .split("/{id}")
            .next()
            .and_then(|p| p.rsplit('/').next())
            .unwrap();
        let id = ids
            .iter()
            .find(|(r, _)| *r == resource)
            .unwrap_or_else(|| panic!("no fixture for {resource}"))
            .1;
        let path = route.path.replace("{id}", id);
        let method = Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
        // A body the route takes (one it would refuse is refused before any lookup).
        let body = (method != Method::GET && method != Method::DELETE).then(|| {
            match (resource, route.path.ends_with("/advance"), &method) {
                (_, true, _) => json!({"to": "2099-01-01T00:00:00Z"}),
                ("subscriptions", _, &Method::PATCH) => json!({"cancel_at_period_end": true}),
                _ => json!({}),
            }
        });
        let r = app
            .call(Some(&other), method.clone(), &path, body, None)
            .await;
        r.assert_error(404, "resource_missing");
        checked += 1;
    }
    assert!(checked >= 27, "only {checked} routes checked");
    // Cross-merchant references inside bodies are not found either.
    let r = app
        .call(
            Some(&other),
            Method::POST,
            "/v1/payment_links",
            Some(json!({"title": "Steal", "line_items": [{"product_id": prod["id"]}]})),
            None,
        )
        .await;
    r.assert_error(422, "product_not_found");
    let r = app
        .call(
            Some(&other),
            Method::POST,
            "/v1/payment_links",
            Some(json!({"title": "Steal", "order_id": order["id"]})),
            None,
        )
        .await;
    r.assert_error(422, "order_not_found");
    // Lists are per merchant, and the owner still sees everything.
    let r = app
        .call(Some(&other), Method::GET, "/v1/payment_links", None, None)
        .await;
    assert_eq!(r.ok(200)["data"].as_array().unwrap().len(), 0);
    app.get(&format!(
        "/v1/payment_links/{}",
        link["id"].as_str().unwrap()
    ))
    .await
    .ok(200);
}

async fn test_and_live_never_meet(app: TestApp) {
    let test_link = app.custom_link("Test only", 100).await;
    // A live key is minted for the same merchant (as an operator would).
    let live = app.live_key().await;
    let r = app
        .call(
            Some(&live),
            Method::GET,
            &format!("/v1/payment_links/{}", test_link["id"].as_str().unwrap()),
            None,
            None,
        )
        .await;
    r.assert_error(404, "resource_missing");
    let r = app
        .call(Some(&live), Method::GET, "/v1/payment_links", None, None)
        .await;
    assert_eq!(r.ok(200)["data"].as_array().unwrap().len(), 0);
    // No live processor is built in: live links cannot be created.
    let r = app
        .call(
            Some(&live),
            Method::POST,
            "/v1/payment_links",
            Some(json!({"title": "Live", "amount": 100})),
            None,
        )
        .await;
    r.assert_error(409, "payments_not_enabled");
    let p = app
        .call(
            Some(&live),
            Method::POST,
            "/v1/products",
            Some(json!({"name": "Live", "unit_amount": 1})),
            None,
        )
        .await;
    assert_eq!(p.ok(201)["livemode"], true);
    // A test key cannot mint a live key.
    app.post(
        "/v1/api_keys",
        json!({"name": "x", "kind": "secret", "livemode": true}),
    )
    .await
    .assert_error(403, "insufficient_permissions");
}
