//! Keys: hashed at rest, shown once, scoped, revocable at once.

use reqwest::Method;
use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

both!(
    keys_are_shown_once_and_revoked_at_once,
    scopes_are_enforced,
    authentication_errors,
    rate_limit_per_key
);

async fn keys_are_shown_once_and_revoked_at_once(app: TestApp) {
    let k = app
        .create("/v1/api_keys", json!({"name": "deploy", "kind": "secret"}))
        .await;
    let secret = k["key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sk_test_"));
    assert!(k["masked"]
        .as_str()
        .unwrap()
        .ends_with(&secret[secret.len() - 4..]));
    // The database holds only the hash.
    let row: (String,) = sqlx::query_as("SELECT key_hash FROM api_keys WHERE id = $1")
        .bind(k["id"].as_str().unwrap())
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_ne!(row.0, secret);
    assert_eq!(row.0, paylink_server::auth::hash_key(&secret));
    let listed = app.get("/v1/api_keys").await;
    let text = String::from_utf8(listed.raw.clone()).unwrap();
    assert!(!text.contains(&secret) && listed.body["data"].as_array().unwrap().len() == 2);
    assert!(listed.body["data"][0]["key"].is_null());
    // The new key works, then is revoked at once.
    app.call(Some(&secret), Method::GET, "/v1/products", None, None)
        .await
        .ok(200);
    let r = app
        .delete(&format!("/v1/api_keys/{}", k["id"].as_str().unwrap()))
        .await;
    assert_eq!(r.ok(200)["deleted"], true);
    app.call(Some(&secret), Method::GET, "/v1/products", None, None)
        .await
        .assert_error(401, "api_key_invalid");
    app.delete(&format!("/v1/api_keys/{}", k["id"].as_str().unwrap()))
        .await
        .assert_error(404, "resource_missing");
    app.post(
        "/v1/api_keys",
        json!({"name": "r", "kind": "restricted", "scopes": ["everything"]}),
    )
    .await
    .assert_error(400, "parameter_invalid")
    .assert_param("scopes[0]");
    app.post("/v1/api_keys", json!({"name": "r", "kind": "restricted"}))
        .await
        .assert_error(422, "parameter_required");
    app.post(
        "/v1/api_keys",
        json!({"name": "s", "kind": "secret", "scopes": ["products:read"]}),
    )
    .await
    .assert_error(422, "parameters_exclusive");
}

async fn scopes_are_enforced(app: TestApp) {
    let link = app.custom_link("Scoped", 100).await;
    let rk = app
        .create("/v1/api_keys", json!({"name": "reader", "kind": "restricted", "scopes": ["payment_links:read", "products:write"]}))
        .await;
    let rk = rk["key"].as_str().unwrap().to_owned();
    assert!(rk.starts_with("rk_test_"));
    let call = |m: Method, p: String, b: Option<serde_json::Value>| {
        let rk = rk.clone();
        let app = &app;
        async move { app.call(Some(&rk), m, &p, b, None).await }
    };
    call(Method::GET, "/v1/payment_links".into(), None)
        .await
        .ok(200);
    call(
        Method::GET,
        format!("/v1/payment_links/{}", link["id"].as_str().unwrap()),
        None,
    )
    .await
    .ok(200);
    call(
        Method::POST,
        "/v1/payment_links".into(),
        Some(json!({"title": "Nope", "amount": 1})),
    )
    .await
    .assert_error(403, "insufficient_permissions");
    call(
        Method::POST,
        format!("/v1/payment_links/{}/cancel", link["id"].as_str().unwrap()),
        None,
    )
    .await
    .assert_error(403, "insufficient_permissions");
    // Write implies read.
    call(Method::GET, "/v1/products".into(), None).await.ok(200);
    call(
        Method::POST,
        "/v1/products".into(),
        Some(json!({"name": "Ok", "unit_amount": 1})),
    )
    .await
    .ok(201);
    call(Method::GET, "/v1/customers".into(), None)
        .await
        .assert_error(403, "insufficient_permissions");
    call(Method::PATCH, "/v1/settings".into(), Some(json!({})))
        .await
        .assert_error(403, "insufficient_permissions");
    call(Method::GET, "/v1/events".into(), None)
        .await
        .assert_error(403, "insufficient_permissions");
    // Restricted keys cannot manage keys.
    call(Method::GET, "/v1/api_keys".into(), None)
        .await
        .assert_error(403, "insufficient_permissions");
    call(
        Method::POST,
        "/v1/api_keys".into(),
        Some(json!({"name": "x", "kind": "secret"})),
    )
    .await
    .assert_error(403, "insufficient_permissions");
    let e = call(Method::GET, "/v1/customers".into(), None).await;
    assert_eq!(e.body["error"]["type"], "permission_error");
}

async fn authentication_errors(app: TestApp) {
    app.call(None, Method::GET, "/v1/products", None, None)
        .await
        .assert_error(401, "api_key_missing");
    let e = app
        .call(
            Some("sk_test_wrong"),
            Method::GET,
            "/v1/products",
            None,
            None,
        )
        .await;
    e.assert_error(401, "api_key_invalid");
    assert_eq!(e.body["error"]["type"], "authentication_error");
    // A real key with the wrong prefix is refused too.
    let swapped = app.key.replacen("sk_test_", "sk_live_", 1);
    app.call(Some(&swapped), Method::GET, "/v1/products", None, None)
        .await
        .assert_error(401, "api_key_invalid");
    let r = app
        .client
        .get(format!("{}/v1/products", app.base))
        .header("Authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

async fn rate_limit_per_key(app: TestApp) {
    let backend = app.backend;
    drop(app);
    // A server with a tiny limit, to see the 429.
    let app = crate::helpers::TestApp::spawn_with(backend, |c| {
        c.rate_limit_per_second = 1;
        c.rate_limit_burst = 3;
    })
    .await;
    let mut limited = None;
    for _ in 0..10 {
        let r = app.get("/v1/products").await;
        if r.status == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("the limit was never reached");
    r.assert_error(429, "rate_limit_exceeded");
    assert_eq!(r.body["error"]["type"], "rate_limit_error");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry));
    // Another key is not affected.
    let other = app.other_merchant("Calm").await;
    app.call(Some(&other), Method::GET, "/v1/products", None, None)
        .await
        .ok(200);
}
