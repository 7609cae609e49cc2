//! What the worker and the health check ask of the store: which backend this is, and old
//! idempotency keys forgotten.

use super::fixtures::at;
use crate::*;

/// The backend names itself, and this process can write that it is alive.
pub async fn this_process(store: &dyn Store) {
    assert!(
        matches!(store.backend(), "sqlite" | "postgres"),
        "{}",
        store.backend()
    );
    store
        .heartbeat(paylink_domain::time::Timestamp::now())
        .await
        .unwrap();
}

/// `purge_idempotency_keys` forgets the keys created before its cutoff, every merchant's
/// and the customer side's, and no others. The keys here date from 1970 (no other part's
/// do), so the counts are exact.
pub async fn purged_keys(store: &dyn Store) {
    let a = IdempotencyScope::of(&super::tenant(store, "Purge").await);
    let b = IdempotencyScope::Client("192.0.2.7".parse().unwrap());
    assert_eq!(
        store
            .idempotency_begin(&a, "old", "fp", at(1000))
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    let answered = IdempotentAnswer {
        key: "answered".into(),
        fingerprint: "fp".into(),
        response: StoredResponse {
            status: 400,
            body: b"{}".to_vec(),
        },
        now: at(1500),
    };
    assert!(store.idempotency_record(&b, &answered).await.unwrap());
    assert_eq!(
        store
            .idempotency_begin(&b, "newer", "fp", at(2000))
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    let recent = paylink_domain::time::Timestamp::now();
    assert_eq!(
        store
            .idempotency_begin(&a, "recent", "fp", recent)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );

    assert_eq!(store.purge_idempotency_keys(at(1000)).await.unwrap(), 0);
    assert_eq!(store.purge_idempotency_keys(at(1600)).await.unwrap(), 2);
    assert!(!store.idempotency_known(&a, "old", at(1000)).await.unwrap());
    assert!(!store
        .idempotency_known(&b, "answered", at(1500))
        .await
        .unwrap());
    assert!(store
        .idempotency_known(&b, "newer", at(2000))
        .await
        .unwrap());
    // Forgotten: the key is free for a new request.
    assert_eq!(
        store
            .idempotency_begin(&a, "old", "fp2", at(1700))
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    assert_eq!(store.purge_idempotency_keys(at(2500)).await.unwrap(), 2);
    assert_eq!(store.purge_idempotency_keys(at(2500)).await.unwrap(), 0);
    assert!(store.idempotency_known(&a, "recent", recent).await.unwrap());
}
