//! The background worker's periodic jobs.

use paylink_domain::id::MerchantId;
use paylink_domain::time::Timestamp;
use paylink_store::{IdempotencyBegin, IdempotencyScope, Store, Tenant};

use crate::both;
use crate::helpers::TestApp;

both!(a_worker_round_purges_expired_idempotency_keys);

async fn a_worker_round_purges_expired_idempotency_keys(app: TestApp) {
    let t = Tenant::stored(MerchantId::parse(&app.merchant_id).unwrap(), false);
    let store: &dyn Store = app.store.as_ref();
    let long_ago = Timestamp::now().plus_seconds(-(25 * 3600));
    assert_eq!(
        store
            .idempotency_begin(&IdempotencyScope::of(&t), "old", "fp", long_ago)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    assert_eq!(
        store
            .idempotency_begin(&IdempotencyScope::of(&t), "fresh", "fp", Timestamp::now())
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    paylink_server::worker::round(store, "http://x").await;
    let (old, fresh): (i64, i64) = sqlx::query_as(
        "SELECT SUM(CASE WHEN key = 'old' THEN 1 ELSE 0 END), SUM(CASE WHEN key = 'fresh' THEN 1 ELSE 0 END) FROM idempotency_keys",
    )
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    assert_eq!((old, fresh), (0, 1));
}

both!(payment_link_expired_is_emitted_exactly_once);

async fn payment_link_expired_is_emitted_exactly_once(app: TestApp) {
    let mut ids = Vec::new();
    for i in 0..5 {
        let l = app.create("/v1/payment_links", serde_json::json!({"title": format!("Ends {i}"), "amount": 100, "expires_at": "2099-01-01T00:00:00Z"})).await;
        ids.push(l["id"].as_str().unwrap().to_owned());
    }
    app.custom_link("Never ends", 100).await;
    app.sql(&format!(
        "UPDATE payment_links SET expires_at = 1000 WHERE id IN ('{}')",
        ids.join("','")
    ))
    .await;
    // Four workers at once, twice over.
    for _ in 0..2 {
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let store = app.store.clone();
            let base = app.base.clone();
            tasks.push(tokio::spawn(async move {
                paylink_server::worker::round(store.as_ref(), &base).await
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }
    let events = app
        .get("/v1/events?type=payment_link.expired&limit=100")
        .await;
    let data = events.ok(200)["data"].as_array().unwrap();
    assert_eq!(data.len(), 5, "exactly one event per expired link");
    let mut seen: Vec<_> = data
        .iter()
        .map(|e| e["data"]["object"]["id"].as_str().unwrap().to_owned())
        .collect();
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids);
    assert!(data
        .iter()
        .all(|e| e["data"]["object"]["status"] == "expired"));
}
