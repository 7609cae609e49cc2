//! The holes an outside security probe found, each kept shut: replays across credentials,
//! secrets at rest, self-lockout, throttled guessing.

use reqwest::Method;
use serde_json::{json, Value};

use crate::both;
use crate::helpers::{Resp, TestApp};

both!(
    a_stored_answer_is_replayed_only_to_its_maker_with_the_scope,
    secrets_shown_once_are_never_kept_replayable,
    a_checkout_answer_is_replayed_but_kept_sealed,
    the_last_secret_key_of_a_mode_stays,
    api_keys_list_in_pages,
    failed_authentication_is_throttled_per_address,
    reading_payments_does_not_send_their_receipts,
);

/// E-mailing a receipt sends a customer's payment to an address the caller names: a key
/// that may only read payments may not (outside review, session 13).
async fn reading_payments_does_not_send_their_receipts(app: TestApp) {
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Receipts", "amount": 1500}),
        )
        .await;
    let (_, paid) = app.buy(l["slug"].as_str().unwrap()).await;
    let pid = paid.unwrap().body["payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let send = format!("/v1/payments/{pid}/receipt/send");
    let body = json!({"email": "someone@example.com"});
    let reader = restricted(&app, json!(["payments:read"])).await;
    app.call(
        Some(&reader),
        Method::GET,
        &format!("/v1/payments/{pid}"),
        None,
        None,
    )
    .await
    .ok(200);
    app.call(Some(&reader), Method::POST, &send, Some(body.clone()), None)
        .await
        .assert_error(403, "insufficient_permissions");
    let writer = restricted(&app, json!(["payments:write"])).await;
    app.call(Some(&writer), Method::POST, &send, Some(body), None)
        .await
        .ok(202);
}

async fn restricted(app: &TestApp, scopes: Value) -> String {
    let k = app
        .create(
            "/v1/api_keys",
            json!({"name": "r", "kind": "restricted", "scopes": scopes}),
        )
        .await;
    k["key"].as_str().unwrap().to_owned()
}

async fn second_secret(app: &TestApp) -> (String, String) {
    second_secret_with(app, &app.key).await
}

/// No part of `r` shows a full key or webhook secret.
#[track_caller]
fn shows_no_secret(r: &Resp) {
    let text = String::from_utf8_lossy(&r.raw);
    for p in ["sk_test_", "rk_test_", "sk_live_", "whsec_"] {
        assert!(!text.contains(p), "{p} in {text}");
    }
}

/// The same kind of server, allowed to keep webhook endpoints on this machine.
async fn hooks_allowed(app: TestApp) -> TestApp {
    let backend = app.backend;
    drop(app);
    TestApp::spawn_for_webhooks(backend).await
}

async fn a_stored_answer_is_replayed_only_to_its_maker_with_the_scope(app: TestApp) {
    let app = hooks_allowed(app).await;
    let reader = restricted(&app, json!(["payment_links:read"])).await;
    let (_, other_secret) = second_secret(&app).await;
    let body = json!({"name": "deploy", "kind": "secret"});
    let first = app
        .call(
            Some(&app.key),
            Method::POST,
            "/v1/api_keys",
            Some(body.clone()),
            Some("mint-1"),
        )
        .await;
    assert!(first.ok(201)["key"]
        .as_str()
        .unwrap()
        .starts_with("sk_test_"));
    // A restricted key sending the same request with the same key is refused for what it
    // is, before any stored answer is looked at.
    let r = app
        .call(
            Some(&reader),
            Method::POST,
            "/v1/api_keys",
            Some(body.clone()),
            Some("mint-1"),
        )
        .await;
    r.assert_error(403, "insufficient_permissions");
    assert!(r.headers.get("idempotent-replayed").is_none());
    shows_no_secret(&r);
    // Another secret key of the same merchant may make the request, but the key is not its.
    let r = app
        .call(
            Some(&other_secret),
            Method::POST,
            "/v1/api_keys",
            Some(body),
            Some("mint-1"),
        )
        .await;
    r.assert_error(422, "idempotency_key_reused");
    shows_no_secret(&r);

    // The same for a webhook endpoint's rotation.
    let ep = app
        .create(
            "/v1/webhook_endpoints",
            json!({"url": "http://127.0.0.1:9/hook", "enabled_events": ["*"]}),
        )
        .await;
    let rotate = format!(
        "/v1/webhook_endpoints/{}/rotate_secret",
        ep["id"].as_str().unwrap()
    );
    let first = app
        .call(
            Some(&app.key),
            Method::POST,
            &rotate,
            Some(json!({})),
            Some("rot-1"),
        )
        .await;
    assert!(first.ok(200)["secret"]
        .as_str()
        .unwrap()
        .starts_with("whsec_"));
    let hooks_reader = restricted(&app, json!(["webhooks:read"])).await;
    app.call(
        Some(&hooks_reader),
        Method::POST,
        &rotate,
        Some(json!({})),
        Some("rot-1"),
    )
    .await
    .assert_error(403, "insufficient_permissions");
    let hooks_writer = restricted(&app, json!(["webhooks:write"])).await;
    let r = app
        .call(
            Some(&hooks_writer),
            Method::POST,
            &rotate,
            Some(json!({})),
            Some("rot-1"),
        )
        .await;
    r.assert_error(422, "idempotency_key_reused");
    shows_no_secret(&r);

    // Answers without secrets still replay byte for byte to their maker.
    let p = json!({"name": "Mug", "unit_amount": 900, "currency": "usd"});
    let a = app
        .call(
            Some(&app.key),
            Method::POST,
            "/v1/products",
            Some(p.clone()),
            Some("prod-1"),
        )
        .await;
    let b = app
        .call(
            Some(&app.key),
            Method::POST,
            "/v1/products",
            Some(p.clone()),
            Some("prod-1"),
        )
        .await;
    assert_eq!((a.status, a.raw.clone()), (b.status, b.raw.clone()));
    assert_eq!(b.headers["idempotent-replayed"], "true");
    let writer = restricted(&app, json!(["products:write"])).await;
    app.call(
        Some(&writer),
        Method::POST,
        "/v1/products",
        Some(p),
        Some("prod-1"),
    )
    .await
    .assert_error(422, "idempotency_key_reused");
}

/// Every stored idempotent answer, as text.
async fn stored_answers(app: &TestApp) -> Vec<String> {
    let rows: Vec<(Option<Vec<u8>>,)> =
        sqlx::query_as("SELECT response_body FROM idempotency_keys")
            .fetch_all(app.store.pool())
            .await
            .unwrap();
    rows.into_iter()
        .filter_map(|r| r.0)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect()
}

async fn secrets_shown_once_are_never_kept_replayable(app: TestApp) {
    let app = hooks_allowed(app).await;
    let mut shown = Vec::new();
    let key = app
        .call(
            Some(&app.key),
            Method::POST,
            "/v1/api_keys",
            Some(json!({"name": "ci", "kind": "restricted", "scopes": ["payments:read"]})),
            Some("once-key"),
        )
        .await;
    shown.push(key.ok(201)["key"].as_str().unwrap().to_owned());
    let ep = app
        .call(
            Some(&app.key),
            Method::POST,
            "/v1/webhook_endpoints",
            Some(json!({"url": "http://127.0.0.1:9/hook", "enabled_events": ["*"]})),
            Some("once-ep"),
        )
        .await;
    shown.push(ep.ok(201)["secret"].as_str().unwrap().to_owned());
    let ep_id = ep.body["id"].as_str().unwrap().to_owned();
    let rot = app
        .call(
            Some(&app.key),
            Method::POST,
            &format!("/v1/webhook_endpoints/{ep_id}/rotate_secret"),
            Some(json!({"overlap_seconds": 3600})),
            Some("once-rot"),
        )
        .await;
    shown.push(rot.ok(200)["secret"].as_str().unwrap().to_owned());

    // A retry by the same caller is told the secret is not kept, and which object it was.
    for (path, body, idem, id) in [
        (
            "/v1/api_keys".to_owned(),
            json!({"name": "ci", "kind": "restricted", "scopes": ["payments:read"]}),
            "once-key",
            key.body["id"].as_str().unwrap().to_owned(),
        ),
        (
            "/v1/webhook_endpoints".to_owned(),
            json!({"url": "http://127.0.0.1:9/hook", "enabled_events": ["*"]}),
            "once-ep",
            ep_id.clone(),
        ),
        (
            format!("/v1/webhook_endpoints/{ep_id}/rotate_secret"),
            json!({"overlap_seconds": 3600}),
            "once-rot",
            ep_id.clone(),
        ),
    ] {
        let r = app
            .call(Some(&app.key), Method::POST, &path, Some(body), Some(idem))
            .await;
        r.assert_error(409, "idempotency_secret_not_replayable");
        assert_eq!(r.headers["idempotent-replayed"], "true");
        assert!(r.body["error"]["message"].as_str().unwrap().contains(&id));
        shows_no_secret(&r);
    }

    // Nothing stored holds them: not the kept answers, not the endpoint's row.
    let answers = stored_answers(&app).await;
    assert!(answers.len() >= 3);
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT secret, previous_secret FROM webhook_endpoints")
            .fetch_all(app.store.pool())
            .await
            .unwrap();
    let at_rest: Vec<String> = answers
        .into_iter()
        .chain(rows.into_iter().flat_map(|(a, b)| [Some(a), b]).flatten())
        .collect();
    for text in &at_rest {
        for p in ["sk_test_", "rk_test_", "whsec_"] {
            assert!(!text.contains(p), "{p} at rest: {text}");
        }
        for s in &shown {
            assert!(!text.contains(&s[6..]), "a shown secret at rest: {text}");
        }
    }
}

async fn a_checkout_answer_is_replayed_but_kept_sealed(app: TestApp) {
    let link = app.custom_link("Sealed", 500).await;
    let slug = link["slug"].as_str().unwrap();
    let path = format!("/api/public/links/{slug}/checkout");
    let body = json!({"email": "buyer@example.com"});
    let a = app
        .call(None, Method::POST, &path, Some(body.clone()), Some("co-1"))
        .await;
    let secret = a.ok(201)["client_secret"].as_str().unwrap().to_owned();
    // The customer's retry gets the same session and secret.
    let b = app
        .call(None, Method::POST, &path, Some(body), Some("co-1"))
        .await;
    assert_eq!((a.status, &a.raw), (b.status, &b.raw));
    assert_eq!(b.headers["idempotent-replayed"], "true");
    // At rest it is sealed.
    let answers = stored_answers(&app).await;
    assert_eq!(answers.len(), 1);
    assert!(answers[0].starts_with("enc1:"), "{}", answers[0]);
    assert!(!answers[0].contains(&secret));
    // The kept answer pays like the first one.
    app.pay_card(&b.body, "4242424242424242").await.ok(200);
}

async fn the_last_secret_key_of_a_mode_stays(app: TestApp) {
    let keys = app.get("/v1/api_keys").await;
    let own = keys.body["data"][0]["id"].as_str().unwrap().to_owned();
    let r = app.delete(&format!("/v1/api_keys/{own}")).await;
    r.assert_error(409, "last_secret_key");
    // The key still works.
    app.get("/v1/products").await.ok(200);
    // Restricted keys are revoked freely.
    let rk = app
        .create(
            "/v1/api_keys",
            json!({"name": "r", "kind": "restricted", "scopes": ["payments:read"]}),
        )
        .await;
    app.delete(&format!("/v1/api_keys/{}", rk["id"].as_str().unwrap()))
        .await
        .ok(200);
    // With a second secret key, either may go, but not both: even racing, one stays.
    let (mut a_id, mut a_key) = (own, app.key.clone());
    for round in 0..4 {
        let (b_id, b_key) = second_secret_with(&app, &a_key).await;
        let (path_a, path_b) = (
            format!("/v1/api_keys/{a_id}"),
            format!("/v1/api_keys/{b_id}"),
        );
        let (ra, rb) = tokio::join!(
            app.call(Some(&b_key), Method::DELETE, &path_a, None, None),
            app.call(Some(&a_key), Method::DELETE, &path_b, None, None),
        );
        let statuses = [ra.status.as_u16(), rb.status.as_u16()];
        // The loser is refused as the last key (or, if the winner's revocation came first
        // and took its own caller's key, as unauthenticated).
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "round {round}: {statuses:?} {} {}",
            ra.body,
            rb.body
        );
        if statuses[0] == 200 {
            (a_id, a_key) = (b_id, b_key);
        }
        let active: Vec<Value> = app_keys(&app, &a_key)
            .await
            .into_iter()
            .filter(|k| k["kind"] == "secret" && k["revoked_at"].is_null())
            .collect();
        assert_eq!(active.len(), 1, "round {round}");
        assert_eq!(active[0]["id"], a_id.as_str());
        app.call(
            Some(&a_key),
            Method::DELETE,
            &format!("/v1/api_keys/{a_id}"),
            None,
            None,
        )
        .await
        .assert_error(409, "last_secret_key");
    }
}

async fn second_secret_with(app: &TestApp, key: &str) -> (String, String) {
    let k = app
        .call(
            Some(key),
            Method::POST,
            "/v1/api_keys",
            Some(json!({"name": "two", "kind": "secret"})),
            None,
        )
        .await;
    let k = k.ok(201);
    (
        k["id"].as_str().unwrap().to_owned(),
        k["key"].as_str().unwrap().to_owned(),
    )
}

async fn app_keys(app: &TestApp, key: &str) -> Vec<Value> {
    app.call(Some(key), Method::GET, "/v1/api_keys?limit=100", None, None)
        .await
        .ok(200)["data"]
        .as_array()
        .unwrap()
        .clone()
}

async fn api_keys_list_in_pages(app: TestApp) {
    let mut ids = vec![app.get("/v1/api_keys").await.body["data"][0]["id"].clone()];
    for i in 0..3 {
        let k = app
            .create(
                "/v1/api_keys",
                json!({"name": format!("k{i}"), "kind": "restricted", "scopes": ["payments:read"]}),
            )
            .await;
        ids.push(k["id"].clone());
    }
    ids.reverse();
    let page = app.get("/v1/api_keys?limit=2").await;
    let page = page.ok(200);
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(page["has_more"], true);
    assert_eq!(page["data"][0]["id"], ids[0]);
    let next = app
        .get(&format!(
            "/v1/api_keys?limit=2&starting_after={}",
            ids[1].as_str().unwrap()
        ))
        .await;
    let next = next.ok(200);
    assert_eq!(
        next["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["id"].clone())
            .collect::<Vec<_>>(),
        ids[2..].to_vec()
    );
    assert_eq!(next["has_more"], false);
    let back = app
        .get(&format!(
            "/v1/api_keys?limit=1&ending_before={}",
            ids[1].as_str().unwrap()
        ))
        .await;
    assert_eq!(back.ok(200)["data"][0]["id"], ids[0]);
    app.get("/v1/api_keys?starting_after=garbage")
        .await
        .assert_error(422, "invalid_cursor");
    // Another merchant's key id is no cursor here.
    let other = app.other_merchant("Elsewhere").await;
    let theirs = app_keys(&app, &other).await;
    app.get(&format!(
        "/v1/api_keys?starting_after={}",
        theirs[0]["id"].as_str().unwrap()
    ))
    .await
    .assert_error(422, "invalid_cursor");
    app.get("/v1/api_keys?limit=0")
        .await
        .assert_error(400, "parameter_invalid");
    app.get("/v1/api_keys?limit=101")
        .await
        .assert_error(400, "parameter_invalid");
    app.get("/v1/api_keys?color=red")
        .await
        .assert_error(400, "parameter_unknown");
}

async fn failed_authentication_is_throttled_per_address(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_with(backend, |c| c.auth_failures_per_minute = 5).await;
    let guess = |k: String| {
        let app = &app;
        async move {
            app.call(Some(&k), Method::GET, "/v1/products", None, None)
                .await
        }
    };
    for i in 0..5 {
        guess(format!("sk_test_guess{i}"))
            .await
            .assert_error(401, "api_key_invalid");
    }
    let r = guess("sk_test_guess5".into()).await;
    r.assert_error(429, "rate_limit_exceeded");
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=12).contains(&wait), "{wait}");
    // Guessing goes on being refused, a missing key too...
    guess("sk_test_guess6".into())
        .await
        .assert_error(429, "rate_limit_exceeded");
    app.call(None, Method::GET, "/v1/products", None, None)
        .await
        .assert_error(429, "rate_limit_exceeded");
    // ...but a right key is let through, even from this address (one shared with an
    // attacker, behind a NAT, never locks the merchant out).
    app.call(Some(&app.key), Method::GET, "/v1/products", None, None)
        .await
        .ok(200);
    // Another address is not locked out: the merchant goes on working.
    let elsewhere = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let r = elsewhere
        .get(format!("{}/v1/products", app.base))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Successful calls from a fresh address never count against it.
    for _ in 0..20 {
        let r = elsewhere
            .get(format!("{}/v1/products", app.base))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}
