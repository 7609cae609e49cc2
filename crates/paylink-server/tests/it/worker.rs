//! The background worker's periodic jobs.

use paylink_domain::id::MerchantId;
use paylink_domain::time::Timestamp;
use paylink_store::{IdempotencyBegin, Store, Tenant};

use crate::both;
use crate::helpers::TestApp;

both!(a_worker_round_purges_expired_idempotency_keys);

async fn a_worker_round_purges_expired_idempotency_keys(app: TestApp) {
    let t = Tenant {
        merchant_id: MerchantId::parse(&app.merchant_id).unwrap(),
        livemode: false,
    };
    let store: &dyn Store = app.store.as_ref();
    let long_ago = Timestamp::now().plus_seconds(-(25 * 3600));
    assert_eq!(
        store
            .idempotency_begin(&t, "old", "fp", long_ago)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    assert_eq!(
        store
            .idempotency_begin(&t, "fresh", "fp", Timestamp::now())
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    paylink_server::worker::round(store).await;
    let (old, fresh): (i64, i64) = sqlx::query_as(
        "SELECT SUM(CASE WHEN key = 'old' THEN 1 ELSE 0 END), SUM(CASE WHEN key = 'fresh' THEN 1 ELSE 0 END) FROM idempotency_keys",
    )
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    assert_eq!((old, fresh), (0, 1));
}
