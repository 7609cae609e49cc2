//! Malformed input of every kind gets the contract's error object, never a panic or a leak.

use reqwest::Method;
use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

both!(
    malformed_bodies,
    bodies_on_routes_that_take_none,
    oversized_bodies,
    unknown_routes_and_methods,
    ids_of_the_wrong_shape,
    body_ids_say_which_kind_and_messages_are_spelled
);

async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    body: &'static str,
) -> crate::helpers::Resp {
    let r = app
        .client
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let raw = r.bytes().await.unwrap().to_vec();
    crate::helpers::Resp {
        status,
        headers,
        body: serde_json::from_slice(&raw).unwrap_or_default(),
        raw,
    }
}

async fn malformed_bodies(app: TestApp) {
    raw(&app, Method::POST, "/v1/products", "{not json")
        .await
        .assert_error(400, "invalid_json");
    raw(&app, Method::POST, "/v1/products", "[1, 2]")
        .await
        .assert_error(400, "parameter_invalid");
    raw(&app, Method::POST, "/v1/products", "\"text\"")
        .await
        .assert_error(400, "parameter_invalid");
    raw(
        &app,
        Method::POST,
        "/v1/products",
        "{\"name\": \"A\", \"unit_amount\": 1} trailing",
    )
    .await
    .assert_error(400, "invalid_json");
    raw(
        &app,
        Method::POST,
        "/v1/products",
        "{\"name\": \"A\", \"unit_amount\": 1, \"name\": \"B\"}",
    )
    .await
    .assert_error(400, "parameter_invalid");
    raw(&app, Method::POST, "/v1/products", "")
        .await
        .assert_error(400, "parameter_missing");
    // An object is never read from an array of its fields in order.
    raw(&app, Method::POST, "/v1/products", "[\"Mug\", 500]")
        .await
        .assert_error(400, "parameter_invalid");
    raw(
        &app,
        Method::POST,
        "/v1/products",
        "{\"name\": \"Mug\", \"unit_amount\": 500, \"inventory\": [3]}",
    )
    .await
    .assert_error(400, "parameter_invalid")
    .assert_param("inventory");
    let r = raw(
        &app,
        Method::POST,
        "/v1/payment_links",
        "{\"title\": \"Wrong\", \"line_items\": [{\"name\": \"a\", \"unit_amount\": \"ten\"}]}",
    )
    .await;
    r.assert_error(400, "parameter_invalid")
        .assert_param("line_items[0].unit_amount");
    let r = raw(
        &app,
        Method::POST,
        "/v1/payment_links",
        "{\"title\": 5, \"amount\": 1}",
    )
    .await;
    r.assert_error(400, "parameter_invalid")
        .assert_param("title");
    let r = raw(
        &app,
        Method::POST,
        "/v1/payment_links",
        "{\"title\": \"Nested\", \"amount\": 1, \"collect\": {\"phone\": true, \"fax\": true}}",
    )
    .await;
    r.assert_error(400, "parameter_unknown")
        .assert_param("collect.fax");
    let r = raw(
        &app,
        Method::PATCH,
        "/v1/settings",
        "{\"default_currency\": \"ZZZ\"}",
    )
    .await;
    r.assert_error(400, "parameter_invalid")
        .assert_param("default_currency");
    // Nothing leaked: no Rust type names or SQL in any message.
    let text = r.body.to_string();
    assert!(
        !text.contains("sqlx") && !text.contains("paylink_"),
        "{text}"
    );
}

/// An action or a delete documents no body: nothing or `{}` is taken, anything else is
/// refused as a body route refuses it, and the action does not happen.
async fn bodies_on_routes_that_take_none(app: TestApp) {
    let link = app.custom_link("Stays active", 100).await;
    let path = format!(
        "/v1/payment_links/{}/deactivate",
        link["id"].as_str().unwrap()
    );
    for (body, code) in [
        ("{\"reason\": \"x\"}", "parameter_unknown"),
        ("{not json", "invalid_json"),
        ("[[[[", "parameter_invalid"),
        ("[]", "parameter_invalid"),
    ] {
        let r = raw(&app, Method::POST, &path, body).await;
        r.assert_error(400, code);
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(!message.contains("NoBody"), "{message}");
    }
    let id = link["id"].as_str().unwrap();
    raw(
        &app,
        Method::DELETE,
        &format!("/v1/payment_links/{id}"),
        "{\"force\": true}",
    )
    .await
    .assert_error(400, "parameter_unknown");
    let now = app.get(&format!("/v1/payment_links/{id}")).await;
    assert_eq!(now.ok(200)["status"], "active");
    raw(&app, Method::POST, &path, "{}").await.ok(200);
    raw(
        &app,
        Method::POST,
        &format!("/v1/payment_links/{id}/activate"),
        "",
    )
    .await
    .ok(200);
}

async fn oversized_bodies(app: TestApp) {
    let big = json!({"title": "Big", "amount": 1, "description": "x".repeat(70 * 1024)});
    let r = app.post("/v1/payment_links", big.clone()).await;
    r.assert_error(413, "body_too_large");
    // The rest of the body is never read: the connection ends, and the answer says so.
    assert_eq!(r.headers["connection"], "close");
    let r = app
        .call(
            Some(&app.key),
            Method::POST,
            "/v1/payment_links",
            Some(big),
            Some("big-one"),
        )
        .await;
    r.assert_error(413, "body_too_large");
    // Just under the limit parses (and fails validation on its own merits).
    let near = json!({"title": "Near", "amount": 1, "description": "x".repeat(60 * 1024)});
    app.post("/v1/payment_links", near)
        .await
        .assert_error(400, "parameter_invalid")
        .assert_param("description");
}

async fn unknown_routes_and_methods(app: TestApp) {
    app.get("/v1/nothing_here")
        .await
        .assert_error(404, "route_not_found");
    app.get("/definitely/not")
        .await
        .assert_error(404, "route_not_found");
    app.call(
        Some(&app.key),
        Method::PUT,
        "/v1/products",
        Some(json!({})),
        None,
    )
    .await
    .assert_error(405, "method_not_allowed");
    let h = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(h.status(), 200);
}

async fn ids_of_the_wrong_shape(app: TestApp) {
    for path in [
        "/v1/payment_links/x",
        "/v1/payment_links/prod_0000000000000000000000",
        "/v1/payment_links/plink_%27%20OR%201=1",
    ] {
        app.get(path).await.assert_error(404, "resource_missing");
    }
    let long = format!("/v1/products/{}", "a".repeat(5000));
    app.get(&long).await.assert_error(404, "resource_missing");
}

/// An id in a body that starts right but is the wrong length or alphabet is "not a valid
/// product id", at its field; one of the wrong kind says what was expected; a well-formed
/// unknown id keeps its `*_not_found`. Transition refusals are spelled out.
async fn body_ids_say_which_kind_and_messages_are_spelled(app: TestApp) {
    for bad in [
        "prod_short",
        "prod_00000000000000000000!!",
        "prod_000000000000000000000000000",
    ] {
        let r = app
            .post(
                "/v1/payment_links",
                json!({"title": "Ids", "line_items": [{"product_id": bad}]}),
            )
            .await;
        r.assert_error(400, "parameter_invalid")
            .assert_param("line_items[0].product_id");
        let m = r.body["error"]["message"].as_str().unwrap();
        assert!(m.contains("not a valid product id"), "{m}");
        assert!(!m.contains("expected an id starting with"), "{m}");
    }
    let r = app
        .post(
            "/v1/payment_links",
            json!({"title": "Ids", "line_items": [{"product_id": "cus_0000000000000000000000"}]}),
        )
        .await;
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("starting with `prod_`"));
    app.post(
        "/v1/payment_links",
        json!({"title": "Ids", "line_items": [{"product_id": "prod_0000000000000000000000"}]}),
    )
    .await
    .assert_error(422, "product_not_found")
    .assert_param("line_items[0].product_id");

    let l = app.custom_link("Spelled", 100).await;
    let id = l["id"].as_str().unwrap();
    app.post(&format!("/v1/payment_links/{id}/cancel"), json!({}))
        .await
        .ok(200);
    for (action, word) in [
        ("activate", "activated"),
        ("deactivate", "deactivated"),
        ("cancel", "cancelled"),
    ] {
        let r = app
            .post(&format!("/v1/payment_links/{id}/{action}"), json!({}))
            .await;
        r.assert_error(409, "invalid_state_transition");
        let m = r.body["error"]["message"].as_str().unwrap();
        assert!(m.ends_with(&format!("cannot be {word}")), "{m}");
    }
}
