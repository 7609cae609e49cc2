//! Merchants and their keys, beyond `merchants_and_keys` in `mod.rs`: a merchant created
//! with its keys or not at all, settings guarded by version, restricted keys, and two
//! revocations racing for the last secret key.

use paylink_domain::time::Timestamp;

use super::fixtures::both;
use super::{key, merchant, page};
use crate::*;

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
