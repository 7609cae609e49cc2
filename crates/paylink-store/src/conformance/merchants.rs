//! Merchants and their keys, beyond `merchants_and_keys` in `mod.rs`: a merchant created
//! with its keys or not at all, settings guarded by version, restricted keys, and two
//! revocations racing for the last secret key.

use paylink_domain::time::Timestamp;

use super::fixtures::both;
use super::*;
use super::{key, merchant, page};

pub async fn keys_and_settings(store: &dyn Store) {
    let before = store.count_merchants().await.unwrap();
    let m = merchant("Keyholder");
    let k1 = key(&m, false, "hash-keyholder-1");
    let restricted = ApiKeyRecord {
        kind: KeyKind::Restricted,
        name: "reader".into(),
        scopes: vec!["payment_links:read".into()],
        ..key(&m, false, "hash-keyholder-r")
    };
    store
        .create_merchant(&m, &[k1.clone(), restricted.clone()])
        .await
        .unwrap();
    assert_eq!(store.count_merchants().await.unwrap(), before + 1);
    // Created whole or not at all.
    let lost = key(&m, true, "hash-keyholder-lost");
    assert!(matches!(
        store.create_merchant(&m, std::slice::from_ref(&lost)).await,
        Err(StoreError::Conflict(Conflict::DuplicateObject))
    ));
    assert!(store
        .find_api_key("hash-keyholder-lost")
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.count_merchants().await.unwrap(), before + 1);
    assert_eq!(
        store.find_api_key("hash-keyholder-r").await.unwrap(),
        Some(restricted.clone())
    );
    let t = Tenant::of_key(&k1);
    assert_eq!(t, Tenant::of_merchant(&m, false));

    // A restricted key is not a secret key: revoking it never leaves the mode without one,
    // and it does not stand in for the last secret key.
    let revoked = store
        .revoke_api_key(&t, &restricted.id, Timestamp::now())
        .await
        .unwrap();
    assert_eq!(revoked.kind, KeyKind::Restricted);
    let r2 = ApiKeyRecord {
        kind: KeyKind::Restricted,
        ..key(&m, false, "hash-keyholder-r2")
    };
    store.insert_api_key(&r2).await.unwrap();
    assert!(matches!(
        store.revoke_api_key(&t, &k1.id, Timestamp::now()).await,
        Err(StoreError::Conflict(Conflict::LastSecretKey))
    ));
    // Two revocations racing for the last two secret keys leave one.
    let k2 = key(&m, false, "hash-keyholder-2");
    store.insert_api_key(&k2).await.unwrap();
    let (x, y) = both(
        store.revoke_api_key(&t, &k1.id, Timestamp::now()),
        store.revoke_api_key(&t, &k2.id, Timestamp::now()),
    )
    .await;
    let refused = [&x, &y]
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Conflict(Conflict::LastSecretKey))))
        .count();
    assert_eq!((refused, x.is_ok() || y.is_ok()), (1, true), "{x:?} {y:?}");
    let left = if x.is_ok() { &k2 } else { &k1 };
    assert_eq!(
        store.find_api_key(&left.key_hash).await.unwrap().as_ref(),
        Some(left)
    );
    // Revoked keys stay listed, with when.
    let listed = store.list_api_keys(&t, &page(10)).await.unwrap().data;
    assert_eq!(listed.len(), 4);
    let revoked_ids = listed
        .iter()
        .filter(|k| k.revoked_at.is_some())
        .map(|k| k.id.clone())
        .collect::<Vec<_>>();
    assert_eq!(revoked_ids.len(), 2);
    assert!(revoked_ids.contains(&restricted.id));

    // Settings: each write moves the version on; a write from an older read is refused.
    let mut s = m.settings.clone();
    s.business_name = "Keyholder Ltd".into();
    let v1 = store.update_settings(&m.id, &s, 0).await.unwrap();
    s.business_name = "Keyholder plc".into();
    let v2 = store.update_settings(&m.id, &s, v1.version).await.unwrap();
    assert_eq!((v1.version, v2.version), (1, 2));
    s.business_name = "Stale".into();
    assert!(matches!(
        store.update_settings(&m.id, &s, v1.version).await,
        Err(StoreError::Conflict(Conflict::ConcurrentUpdate))
    ));
    let got = store.get_merchant(&m.id).await.unwrap();
    assert_eq!(
        (got.settings.business_name.as_str(), got.version),
        ("Keyholder plc", 2)
    );
    assert_eq!(got, v2);
}

pub async fn merchants_and_keys(store: &dyn Store) {
    let m = merchant("Acme");
    let k = key(&m, false, "hash-acme-test");
    store
        .create_merchant(&m, std::slice::from_ref(&k))
        .await
        .unwrap();
    assert_eq!(store.get_merchant(&m.id).await.unwrap(), m);
    assert!(matches!(
        store.get_merchant(&MerchantId::generate()).await,
        Err(StoreError::NotFound)
    ));

    let found = store.find_api_key("hash-acme-test").await.unwrap().unwrap();
    assert_eq!(found, k);
    assert!(store.find_api_key("nope").await.unwrap().is_none());
    // The same hash cannot be stored twice.
    let dup = key(&m, true, "hash-acme-test");
    assert!(matches!(
        store.insert_api_key(&dup).await,
        Err(StoreError::Conflict(_))
    ));

    let other = key(&m, true, "hash-acme-live");
    store.insert_api_key(&other).await.unwrap();
    let (test, live) = (
        Tenant::of_merchant(&m, false),
        Tenant::of_merchant(&m, true),
    );
    let all = Page {
        limit: 100,
        ..Page::default()
    };
    let keys = store.list_api_keys(&live, &all).await.unwrap();
    assert_eq!(
        keys.data.iter().map(|k| k.id.clone()).collect::<Vec<_>>(),
        vec![other.id.clone()]
    );
    // Keys list in pages like every other list, newest first.
    let second = key(&m, false, "hash-acme-test-2");
    store.insert_api_key(&second).await.unwrap();
    let first_page = store
        .list_api_keys(
            &test,
            &Page {
                limit: 1,
                ..Page::default()
            },
        )
        .await
        .unwrap();
    assert!(first_page.has_more && first_page.data[0].id == second.id);
    let next = store
        .list_api_keys(
            &test,
            &Page {
                limit: 1,
                starting_after: Some(second.id.to_string()),
                ending_before: None,
            },
        )
        .await
        .unwrap();
    assert!(!next.has_more && next.data[0].id == k.id);
    assert!(matches!(
        store
            .list_api_keys(
                &test,
                &Page {
                    limit: 1,
                    starting_after: Some(other.id.to_string()),
                    ending_before: None,
                },
            )
            .await,
        Err(StoreError::InvalidCursor)
    ));

    // The last active secret key of a mode cannot be revoked; with two, one can.
    assert!(matches!(
        store
            .revoke_api_key(&live, &other.id, Timestamp::now())
            .await,
        Err(StoreError::Conflict(Conflict::LastSecretKey))
    ));
    let spare = key(&m, true, "hash-acme-live-2");
    store.insert_api_key(&spare).await.unwrap();
    // Revocation is immediate, and a second revocation finds nothing.
    let revoked = store
        .revoke_api_key(&live, &other.id, Timestamp::now())
        .await
        .unwrap();
    assert!(revoked.revoked_at.is_some());
    assert!(store
        .find_api_key("hash-acme-live")
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        store
            .revoke_api_key(&live, &other.id, Timestamp::now())
            .await,
        Err(StoreError::NotFound)
    ));
    // A key of the other mode is not found through this one.
    assert!(matches!(
        store
            .revoke_api_key(&test, &spare.id, Timestamp::now())
            .await,
        Err(StoreError::NotFound)
    ));
    // Another merchant cannot revoke Acme's key.
    let b = merchant("Bravo");
    store.create_merchant(&b, &[]).await.unwrap();
    let bravo = Tenant::of_merchant(&b, false);
    assert!(matches!(
        store.revoke_api_key(&bravo, &k.id, Timestamp::now()).await,
        Err(StoreError::NotFound)
    ));

    // Settings updates are guarded by version.
    let mut s = m.settings.clone();
    s.business_name = "Acme Inc".into();
    let updated = store.update_settings(&m.id, &s, 0).await.unwrap();
    assert_eq!(
        (updated.settings.business_name.as_str(), updated.version),
        ("Acme Inc", 1)
    );
    assert!(matches!(
        store.update_settings(&m.id, &s, 0).await,
        Err(StoreError::Conflict(Conflict::ConcurrentUpdate))
    ));
    assert!(store.count_merchants().await.unwrap() >= 2);
}
