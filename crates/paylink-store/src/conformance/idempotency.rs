//! Idempotency keys: claimed once per scope, replayed, refused when reused with another
//! body, taken over when stale, forgotten after the retention period.

use super::*;

pub async fn idempotency(store: &dyn Store) {
    let a = tenant(store, "Idem").await;
    let b = tenant(store, "Idem2").await;
    let now = Timestamp::now();
    assert_eq!(
        store
            .idempotency_begin(&IdempotencyScope::of(&a), "k1", "fp1", now)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    assert_eq!(
        store
            .idempotency_begin(&IdempotencyScope::of(&a), "k1", "fp1", now)
            .await
            .unwrap(),
        IdempotencyBegin::InFlight
    );
    assert_eq!(
        store
            .idempotency_begin(&IdempotencyScope::of(&a), "k1", "fp2", now)
            .await
            .unwrap(),
        IdempotencyBegin::Mismatch
    );
    // Keys are scoped to merchant and mode.
    assert_eq!(
        store
            .idempotency_begin(&IdempotencyScope::of(&b), "k1", "fp1", now)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    let a_live = Tenant::stored(a.merchant_id().clone(), true);
    assert_eq!(
        store
            .idempotency_begin(&IdempotencyScope::of(&a_live), "k1", "fp1", now)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );

    let resp = StoredResponse {
        status: 201,
        body: br#"{"id":"x","emoji":"\u00e9"}"#.to_vec(),
    };
    store
        .idempotency_finish(&IdempotencyScope::of(&a), "k1", &resp)
        .await
        .unwrap();
    assert_eq!(
        store
            .idempotency_begin(&IdempotencyScope::of(&a), "k1", "fp1", now)
            .await
            .unwrap(),
        IdempotencyBegin::Replay(resp)
    );
    // Released keys can be used again; finished ones are not released.
    store
        .idempotency_release(&IdempotencyScope::of(&b), "k1")
        .await
        .unwrap();
    assert_eq!(
        store
            .idempotency_begin(&IdempotencyScope::of(&b), "k1", "fp9", now)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    // A claim left by a crashed request is taken over after its lock expires.
    assert_eq!(
        store
            .idempotency_begin(&IdempotencyScope::of(&a), "k2", "fp", now)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    let later = now.plus_seconds(120);
    assert_eq!(
        store
            .idempotency_begin(&IdempotencyScope::of(&a), "k2", "fp", later)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    // After 24 hours a key is forgotten.
    let tomorrow = now.plus_seconds(25 * 3600);
    assert_eq!(
        store
            .idempotency_begin(&IdempotencyScope::of(&a), "k1", "other", tomorrow)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );

    // An answer written with its change: the key is known and replays; a second change
    // with the same key is refused whole.
    assert!(!store
        .idempotency_known(&IdempotencyScope::of(&a), "k3", now)
        .await
        .unwrap());
    let answer = IdempotentAnswer {
        key: "k3".into(),
        fingerprint: "fp3".into(),
        response: StoredResponse {
            status: 201,
            body: br#"{"id":"plink_1"}"#.to_vec(),
        },
        now,
    };
    let first = link(&a, "Answered", "answered-once");
    store
        .insert_payment_link(&a, &first, &[], Some(&answer))
        .await
        .unwrap();
    assert!(store
        .idempotency_known(&IdempotencyScope::of(&a), "k3", now)
        .await
        .unwrap());
    assert!(!store
        .idempotency_known(&IdempotencyScope::of(&b), "k3", now)
        .await
        .unwrap());
    assert!(!store
        .idempotency_known(&IdempotencyScope::of(&a), "k3", tomorrow)
        .await
        .unwrap());
    let second = link(&a, "Answered twice", "answered-twice");
    assert!(matches!(
        store
            .insert_payment_link(&a, &second, &[], Some(&answer))
            .await,
        Err(StoreError::Conflict(Conflict::IdempotencyKeyInUse))
    ));
    assert!(matches!(
        store.get_payment_link(&a, &second.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .idempotency_begin(&IdempotencyScope::of(&a), "k3", "fp3", now)
            .await
            .unwrap(),
        IdempotencyBegin::Replay(answer.response.clone())
    );
    // Recording an answer without a change leaves an existing key alone.
    let refused = IdempotentAnswer {
        key: "k3".into(),
        fingerprint: "fp4".into(),
        response: StoredResponse {
            status: 400,
            body: b"{}".to_vec(),
        },
        now,
    };
    assert!(!store
        .idempotency_record(&IdempotencyScope::of(&a), &refused)
        .await
        .unwrap());
    assert_eq!(
        store
            .idempotency_begin(&IdempotencyScope::of(&a), "k3", "fp3", now)
            .await
            .unwrap(),
        IdempotencyBegin::Replay(answer.response.clone())
    );
    let k4 = IdempotentAnswer {
        key: "k4".into(),
        ..refused
    };
    assert!(store
        .idempotency_record(&IdempotencyScope::of(&a), &k4)
        .await
        .unwrap());
    assert_eq!(
        store
            .idempotency_begin(&IdempotencyScope::of(&a), "k4", "fp4", now)
            .await
            .unwrap(),
        IdempotencyBegin::Replay(k4.response.clone())
    );
    // After the retention period a key is forgotten: a new answer or change takes it over.
    let later = IdempotentAnswer {
        now: tomorrow,
        fingerprint: "fp5".into(),
        ..k4
    };
    assert!(store
        .idempotency_record(&IdempotencyScope::of(&a), &later)
        .await
        .unwrap());
    assert_eq!(
        store
            .idempotency_begin(&IdempotencyScope::of(&a), "k4", "fp5", tomorrow)
            .await
            .unwrap(),
        IdempotencyBegin::Replay(later.response.clone())
    );
    let third = link(&a, "Answered after a day", "answered-later");
    let k3_later = IdempotentAnswer {
        now: tomorrow,
        ..answer.clone()
    };
    store
        .insert_payment_link(&a, &third, &[], Some(&k3_later))
        .await
        .unwrap();
    assert!(store.get_payment_link(&a, &third.id).await.is_ok());
    // A retry with a known key and the first one's slug is refused on the key.
    let retried = PaymentLink {
        id: PaymentLinkId::generate(),
        ..third.clone()
    };
    assert!(matches!(
        store
            .insert_payment_link(&a, &retried, &[], Some(&k3_later))
            .await,
        Err(StoreError::Conflict(Conflict::IdempotencyKeyInUse))
    ));
}
