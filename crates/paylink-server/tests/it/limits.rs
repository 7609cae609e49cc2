//! A link's `payments_limit` against checkouts in progress: what a merchant may change while
//! customers are paying, and what the link's status becomes.

use serde_json::{json, Value};

use crate::both;
use crate::helpers::TestApp;

both!(
    a_limit_leaves_room_for_held_checkouts,
    a_deactivated_link_stays_deactivated,
);

async fn limited_link(app: &TestApp, limit: u32) -> (String, String) {
    let l = app
        .create(
            "/v1/payment_links",
            json!({"title": "Seats", "amount": 700, "payments_limit": limit}),
        )
        .await;
    (
        l["id"].as_str().unwrap().to_owned(),
        l["slug"].as_str().unwrap().to_owned(),
    )
}

async fn hold(app: &TestApp, slug: &str) -> Value {
    let s = app
        .start_checkout(slug, json!({"email": "buyer@example.com"}))
        .await;
    s.ok(201).clone()
}

async fn paid_count(app: &TestApp, id: &str) -> (i64, String) {
    let l = app.get(&format!("/v1/payment_links/{id}")).await;
    (
        l.body["payments_count"].as_i64().unwrap(),
        l.body["status"].as_str().unwrap().to_owned(),
    )
}

/// Five customers hold a use of a ten-use link: the limit may not go below five, since
/// each of them may still pay, and none of them is refused at the pay button.
async fn a_limit_leaves_room_for_held_checkouts(app: TestApp) {
    let (id, slug) = limited_link(&app, 10).await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(hold(&app, &slug).await);
    }
    let path = format!("/v1/payment_links/{id}");
    for limit in [1, 2, 4] {
        let r = app.patch(&path, json!({"payments_limit": limit})).await;
        r.assert_error(409, "payments_limit_below_reserved");
        assert_eq!(r.body["error"]["param"], "payments_limit");
    }
    // The same, on an unlimited link gaining a limit (its holds count elsewhere).
    let (free_id, free_slug) = {
        let l = app.custom_link("Unlimited", 300).await;
        (
            l["id"].as_str().unwrap().to_owned(),
            l["slug"].as_str().unwrap().to_owned(),
        )
    };
    let free_held = [hold(&app, &free_slug).await, hold(&app, &free_slug).await];
    app.patch(
        &format!("/v1/payment_links/{free_id}"),
        json!({"payments_limit": 1}),
    )
    .await
    .assert_error(409, "payments_limit_below_reserved");
    for s in &free_held {
        assert_eq!(
            app.pay_card(s, "4242424242424242").await.ok(200)["status"],
            "succeeded"
        );
    }
    assert_eq!(paid_count(&app, &free_id).await.0, 2);

    // Exactly the holds fit; other edits of the link still go through.
    let r = app
        .patch(&path, json!({"payments_limit": 5, "title": "Last seats"}))
        .await;
    assert_eq!(r.ok(200)["payments_limit"], 5);
    // Nobody else gets in, and every holder pays.
    app.start_checkout(&slug, json!({"email": "late@example.com"}))
        .await
        .assert_error(409, "link_fully_reserved");
    for s in &held {
        assert_eq!(
            app.pay_card(s, "4242424242424242").await.ok(200)["status"],
            "succeeded"
        );
    }
    assert_eq!(paid_count(&app, &id).await, (5, "paid".to_owned()));
    // A limit may still not go below what was paid.
    app.patch(&path, json!({"payments_limit": 4}))
        .await
        .assert_error(422, "payments_limit_below_count");
    // An unrelated edit of a link whose uses are all paid is not refused.
    app.patch(&path, json!({"title": "Sold out"})).await.ok(200);
}

/// A merchant deactivates a single-use link while its customer is paying: the payment
/// completes it (`paid`), and raising the limit later brings back `inactive`, not `active`.
async fn a_deactivated_link_stays_deactivated(app: TestApp) {
    let (id, slug) = limited_link(&app, 1).await;
    let path = format!("/v1/payment_links/{id}");
    let s = hold(&app, &slug).await;
    app.post(&format!("{path}/deactivate"), json!({}))
        .await
        .ok(200);
    assert_eq!(
        app.pay_card(&s, "4242424242424242").await.ok(200)["status"],
        "succeeded"
    );
    assert_eq!(paid_count(&app, &id).await, (1, "paid".to_owned()));
    let r = app.patch(&path, json!({"payments_limit": 3})).await;
    assert_eq!(r.ok(200)["status"], "inactive");
    assert_eq!(paid_count(&app, &id).await, (1, "inactive".to_owned()));
    app.start_checkout(&slug, json!({"email": "late@example.com"}))
        .await
        .assert_error(410, "link_inactive");

    // An active link used up and raised again is active again, and sells.
    app.post(&format!("{path}/activate"), json!({}))
        .await
        .ok(200);
    for _ in 0..2 {
        let (_, paid) = app.buy(&slug).await;
        assert_eq!(paid.unwrap().ok(200)["status"], "succeeded");
    }
    assert_eq!(paid_count(&app, &id).await, (3, "paid".to_owned()));
    let r = app.patch(&path, json!({"payments_limit": 4})).await;
    assert_eq!(r.ok(200)["status"], "active");
    let (_, paid) = app.buy(&slug).await;
    assert_eq!(paid.unwrap().ok(200)["status"], "succeeded");
}
