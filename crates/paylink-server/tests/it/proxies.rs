//! Behind a reverse proxy: the client's address is read from forwarding headers only when
//! the peer is a trusted proxy, and then each customer has a limit and idempotency scope of
//! their own (issue 25).

use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

both!(
    forwarded_clients_are_told_apart_behind_a_trusted_proxy,
    forwarding_headers_from_anyone_else_are_ignored
);

/// A server whose public routes allow a burst of 2 per client.
async fn strict(app: TestApp, trusted: Option<&str>) -> TestApp {
    let backend = app.backend;
    drop(app);
    TestApp::spawn_with(backend, |c| {
        c.public_rate_limit_per_second = 1;
        c.public_rate_limit_burst = 2;
        c.trusted_proxies = trusted.map(str::to_owned);
    })
    .await
}

async fn preview(app: &TestApp, slug: &str, forwarded_for: &str) -> StatusCode {
    app.client
        .get(format!("{}/api/public/links/{slug}", app.base))
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .unwrap()
        .status()
}

async fn forwarded_clients_are_told_apart_behind_a_trusted_proxy(app: TestApp) {
    // The test client connects from 127.0.0.1: it plays the proxy.
    let app = strict(app, Some("127.0.0.0/8")).await;
    let link = app.custom_link("Behind nginx", 1500).await;
    let slug = link["slug"].as_str().unwrap();
    // Ten customers, one request each: nobody is limited for the others.
    for i in 0..10 {
        let status = preview(&app, slug, &format!("198.51.100.{i}")).await;
        assert_eq!(status, 200, "customer {i}");
    }
    // One customer alone meets the limit, whatever they put before the proxy's hop.
    let mut statuses = Vec::new();
    for i in 0..4 {
        statuses.push(preview(&app, slug, &format!("6.6.6.{i}, 203.0.113.5")).await);
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // Idempotency keys of the public side are each customer's own: the same key from two
    // customers starts two checkouts, and a retry by the first gets the first's again.
    let start = |ip: &'static str| {
        app.client
            .post(format!("{}/api/public/links/{slug}/checkout", app.base))
            .header("x-forwarded-for", ip)
            .header("idempotency-key", "same-key-for-both")
            .json(&json!({"email": "buyer@example.com"}))
            .send()
    };
    let a: serde_json::Value = start("192.0.2.10").await.unwrap().json().await.unwrap();
    let b: serde_json::Value = start("192.0.2.11").await.unwrap().json().await.unwrap();
    let a_again = start("192.0.2.10").await.unwrap();
    assert_eq!(a_again.headers()["idempotent-replayed"], "true");
    let a_again: serde_json::Value = a_again.json().await.unwrap();
    assert!(a["id"].is_string() && b["id"].is_string(), "{a} {b}");
    assert_ne!(a["id"], b["id"]);
    assert_eq!(a["id"], a_again["id"]);
}

async fn forwarding_headers_from_anyone_else_are_ignored(app: TestApp) {
    // No trusted proxies: a client cannot escape its limit by inventing addresses.
    let app = strict(app, None).await;
    let link = app.custom_link("Spoofed", 1500).await;
    let slug = link["slug"].as_str().unwrap();
    let mut statuses = Vec::new();
    for i in 0..4 {
        statuses.push(preview(&app, slug, &format!("198.51.100.{i}")).await);
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // Trusting some other network changes nothing for this peer either.
    let app = strict(app, Some("10.0.0.0/8")).await;
    let link = app.custom_link("Spoofed again", 1500).await;
    let slug = link["slug"].as_str().unwrap();
    let mut statuses = Vec::new();
    for i in 0..4 {
        statuses.push(preview(&app, slug, &format!("198.51.100.{i}")).await);
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}
