//! Idempotency-Key: replay byte for byte, mismatch, in flight, and racing duplicates.

use reqwest::Method;
use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

both!(
    replays_byte_for_byte,
    key_reused_with_other_body,
    racing_requests_make_one_object,
    errors_are_replayed_but_keys_are_scoped
);

async fn replays_byte_for_byte(app: TestApp) {
    let body = json!({"title": "Once only", "amount": 1000});
    let first = app
        .call(
            Some(&app.key),
            Method::POST,
            "/v1/payment_links",
            Some(body.clone()),
            Some("key-1"),
        )
        .await;
    first.ok(201);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let second = app
        .call(
            Some(&app.key),
            Method::POST,
            "/v1/payment_links",
            Some(body),
            Some("key-1"),
        )
        .await;
    assert_eq!(second.status, 201);
    assert_eq!(second.headers["idempotent-replayed"], "true");
    assert_eq!(second.raw, first.raw);
    assert_eq!(
        app.get("/v1/payment_links").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // PATCH and DELETE take keys too.
    let path = format!("/v1/payment_links/{}", first.body["id"].as_str().unwrap());
    let p1 = app
        .call(
            Some(&app.key),
            Method::PATCH,
            &path,
            Some(json!({"title": "Renamed"})),
            Some("key-2"),
        )
        .await;
    let p2 = app
        .call(
            Some(&app.key),
            Method::PATCH,
            &path,
            Some(json!({"title": "Renamed"})),
            Some("key-2"),
        )
        .await;
    assert_eq!(
        (
            p1.raw.clone(),
            p2.headers["idempotent-replayed"].to_str().unwrap()
        ),
        (p2.raw, "true")
    );
    let d1 = app
        .call(Some(&app.key), Method::DELETE, &path, None, Some("key-3"))
        .await;
    let d2 = app
        .call(Some(&app.key), Method::DELETE, &path, None, Some("key-3"))
        .await;
    assert_eq!(
        (d1.status.as_u16(), d2.status.as_u16(), d1.raw),
        (200, 200, d2.raw)
    );
    let too_long = "k".repeat(256);
    app.call(
        Some(&app.key),
        Method::POST,
        "/v1/products",
        Some(json!({"name": "A", "unit_amount": 1})),
        Some(&too_long),
    )
    .await
    .assert_error(400, "idempotency_key_invalid");
}

async fn key_reused_with_other_body(app: TestApp) {
    app.call(
        Some(&app.key),
        Method::POST,
        "/v1/products",
        Some(json!({"name": "A", "unit_amount": 1})),
        Some("same"),
    )
    .await
    .ok(201);
    let r = app
        .call(
            Some(&app.key),
            Method::POST,
            "/v1/products",
            Some(json!({"name": "B", "unit_amount": 1})),
            Some("same"),
        )
        .await;
    r.assert_error(422, "idempotency_key_reused");
    assert_eq!(r.body["error"]["type"], "idempotency_error");
    let r = app
        .call(
            Some(&app.key),
            Method::POST,
            "/v1/customers",
            Some(json!({"name": "A", "unit_amount": 1})),
            Some("same"),
        )
        .await;
    r.assert_error(422, "idempotency_key_reused");
}

async fn racing_requests_make_one_object(app: TestApp) {
    let body = json!({"title": "Raced", "amount": 1000});
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let client = app.client.clone();
        let url = format!("{}/v1/payment_links", app.base);
        let key = app.key.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(key)
                .header("Idempotency-Key", "race")
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let replayed = r.headers().contains_key("idempotent-replayed");
            let v: serde_json::Value = r.json().await.unwrap();
            (status, replayed, v)
        }));
    }
    let mut ids = std::collections::HashSet::new();
    let mut fresh = 0;
    for t in tasks {
        let (status, replayed, v) = t.await.unwrap();
        match status {
            201 => {
                ids.insert(v["id"].as_str().unwrap().to_owned());
                if !replayed {
                    fresh += 1;
                }
            }
            409 => assert_eq!(v["error"]["code"], "idempotency_key_in_use"),
            other => panic!("unexpected {other}: {v}"),
        }
    }
    assert_eq!((fresh, ids.len()), (1, 1));
    // The losers wrote their link and its event before their key failed (on SQLite, often
    // in the same group commit as the winner): none of that stayed.
    for path in ["/v1/payment_links", "/v1/events?type=payment_link.created"] {
        let listed = app.get(path).await;
        assert_eq!(
            listed.ok(200)["data"].as_array().unwrap().len(),
            1,
            "{path}"
        );
    }
}

async fn errors_are_replayed_but_keys_are_scoped(app: TestApp) {
    let bad = json!({"title": "x", "amount": 1});
    let a = app
        .call(
            Some(&app.key),
            Method::POST,
            "/v1/payment_links",
            Some(bad.clone()),
            Some("err"),
        )
        .await;
    a.assert_error(400, "parameter_invalid");
    let b = app
        .call(
            Some(&app.key),
            Method::POST,
            "/v1/payment_links",
            Some(bad),
            Some("err"),
        )
        .await;
    assert_eq!(
        (
            b.raw.clone(),
            b.headers["idempotent-replayed"].to_str().unwrap()
        ),
        (a.raw, "true")
    );
    // Another merchant's identical key is its own.
    let other = app.other_merchant("Second").await;
    let body = json!({"name": "Theirs", "unit_amount": 5});
    let mine = app
        .call(
            Some(&app.key),
            Method::POST,
            "/v1/products",
            Some(body.clone()),
            Some("shared"),
        )
        .await;
    let theirs = app
        .call(
            Some(&other),
            Method::POST,
            "/v1/products",
            Some(body),
            Some("shared"),
        )
        .await;
    assert_ne!(mine.ok(201)["id"], theirs.ok(201)["id"]);
    assert!(theirs.headers.get("idempotent-replayed").is_none());
}
