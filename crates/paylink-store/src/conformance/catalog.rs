//! Customers and tax rates: kept per tenant (merchant and mode), written whole, listed
//! newest first in pages with their filters. (Products are in `mod.rs`.)

use std::collections::BTreeMap;

use paylink_domain::catalog::{Address, Customer, TaxRate};
use paylink_domain::id::*;
use paylink_domain::metadata::Metadata;
use paylink_domain::tax::TaxPercentage;
use paylink_domain::time::Timestamp;

use super::*;
use super::{merchant, page};

fn customer(t: &Tenant, email: Option<&str>) -> Customer {
    let now = Timestamp::now();
    Customer {
        id: CustomerId::generate(),
        email: email.map(str::to_owned),
        name: Some("Ada".into()),
        phone: None,
        address: Some(Address {
            city: Some("Lyon".into()),
            country: Some("FR".into()),
            ..Address::default()
        }),
        metadata: Metadata::parse(BTreeMap::from([("crm".into(), "42".into())])).unwrap(),
        livemode: t.livemode(),
        created_at: now,
        updated_at: now,
    }
}

fn tax_rate(t: &Tenant, name: &str, pct: &str, active: bool) -> TaxRate {
    let now = Timestamp::now();
    TaxRate {
        id: TaxRateId::generate(),
        display_name: name.into(),
        percentage: TaxPercentage::parse(pct).unwrap(),
        inclusive: false,
        active,
        metadata: Metadata::default(),
        livemode: t.livemode(),
        created_at: now,
        updated_at: now,
    }
}

pub async fn customers(store: &dyn Store) {
    let m = merchant("Customers");
    store.create_merchant(&m, &[]).await.unwrap();
    let (t, live) = (
        Tenant::of_merchant(&m, false),
        Tenant::of_merchant(&m, true),
    );
    let other = super::tenant(store, "Customers-other").await;

    let ada = customer(&t, Some("ada@example.com"));
    let bob = customer(&t, Some("bob@example.com"));
    let anon = customer(&t, None);
    let twin = customer(&t, Some("ada@example.com"));
    for c in [&ada, &bob, &anon, &twin] {
        store.insert_customer(&t, c).await.unwrap();
    }
    assert!(matches!(
        store.insert_customer(&t, &ada).await,
        Err(StoreError::Conflict(Conflict::DuplicateObject))
    ));
    let in_live = customer(&live, Some("ada@example.com"));
    store.insert_customer(&live, &in_live).await.unwrap();
    assert_eq!(store.get_customer(&t, &ada.id).await.unwrap(), ada);
    for stranger in [&other, &live] {
        assert!(matches!(
            store.get_customer(stranger, &ada.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.update_customer(stranger, &ada).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.delete_customer(stranger, &ada.id).await,
            Err(StoreError::NotFound)
        ));
    }

    let ids = |l: Listed<Customer>| l.data.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let by_email = |e: &str| CustomerFilter {
        email: Some(e.into()),
    };
    assert_eq!(
        ids(store
            .list_customers(&t, &by_email("ada@example.com"), &page(10))
            .await
            .unwrap()),
        vec![twin.id.clone(), ada.id.clone()]
    );
    assert_eq!(
        ids(store
            .list_customers(&live, &by_email("ada@example.com"), &page(10))
            .await
            .unwrap()),
        vec![in_live.id.clone()]
    );
    let first = store
        .list_customers(&t, &CustomerFilter::default(), &page(3))
        .await
        .unwrap();
    assert!(first.has_more);
    assert_eq!(
        ids(first),
        vec![twin.id.clone(), anon.id.clone(), bob.id.clone()]
    );
    let after = Page {
        limit: 3,
        starting_after: Some(bob.id.to_string()),
        ending_before: None,
    };
    let rest = store
        .list_customers(&t, &CustomerFilter::default(), &after)
        .await
        .unwrap();
    assert!(!rest.has_more);
    assert_eq!(ids(rest), vec![ada.id.clone()]);
    let before = Page {
        limit: 3,
        starting_after: None,
        ending_before: Some(anon.id.to_string()),
    };
    assert_eq!(
        ids(store
            .list_customers(&t, &CustomerFilter::default(), &before)
            .await
            .unwrap()),
        vec![twin.id.clone()]
    );
    for stranger in [&other, &live] {
        assert!(matches!(
            store
                .list_customers(stranger, &CustomerFilter::default(), &after)
                .await,
            Err(StoreError::InvalidCursor)
        ));
    }

    // Written whole, the e-mail filter following; deleted once, and gone from every read.
    let mut renamed = bob.clone();
    renamed.email = Some("robert@example.com".into());
    renamed.name = None;
    renamed.address = None;
    store.update_customer(&t, &renamed).await.unwrap();
    assert_eq!(store.get_customer(&t, &bob.id).await.unwrap(), renamed);
    assert!(store
        .list_customers(&t, &by_email("bob@example.com"), &page(10))
        .await
        .unwrap()
        .data
        .is_empty());
    assert_eq!(
        ids(store
            .list_customers(&t, &by_email("robert@example.com"), &page(10))
            .await
            .unwrap()),
        vec![bob.id.clone()]
    );
    store.delete_customer(&t, &anon.id).await.unwrap();
    assert!(matches!(
        store.get_customer(&t, &anon.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_customer(&t, &anon.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.update_customer(&t, &anon).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        ids(store
            .list_customers(&t, &CustomerFilter::default(), &page(10))
            .await
            .unwrap()),
        vec![twin.id.clone(), bob.id.clone(), ada.id.clone()]
    );
    assert!(store.get_customer(&live, &in_live.id).await.is_ok());
}

pub async fn tax_rates(store: &dyn Store) {
    let m = merchant("Taxes");
    store.create_merchant(&m, &[]).await.unwrap();
    let (t, live) = (
        Tenant::of_merchant(&m, false),
        Tenant::of_merchant(&m, true),
    );
    let other = super::tenant(store, "Taxes-other").await;

    let vat = tax_rate(&t, "VAT", "20", true);
    let reduced = tax_rate(&t, "Reduced VAT", "5.5", true);
    let old = tax_rate(&t, "Old VAT", "19.6", false);
    for r in [&vat, &reduced, &old] {
        store.insert_tax_rate(&t, r).await.unwrap();
    }
    assert!(matches!(
        store.insert_tax_rate(&t, &vat).await,
        Err(StoreError::Conflict(Conflict::DuplicateObject))
    ));
    assert_eq!(store.get_tax_rate(&t, &reduced.id).await.unwrap(), reduced);
    for stranger in [&other, &live] {
        assert!(matches!(
            store.get_tax_rate(stranger, &vat.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.update_tax_rate(stranger, &vat).await,
            Err(StoreError::NotFound)
        ));
        assert!(store
            .list_tax_rates(stranger, &TaxRateFilter::default(), &page(10))
            .await
            .unwrap()
            .data
            .is_empty());
    }

    let ids = |l: Listed<TaxRate>| l.data.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let active = |a: bool| TaxRateFilter { active: Some(a) };
    assert_eq!(
        ids(store
            .list_tax_rates(&t, &active(true), &page(10))
            .await
            .unwrap()),
        vec![reduced.id.clone(), vat.id.clone()]
    );
    assert_eq!(
        ids(store
            .list_tax_rates(&t, &active(false), &page(10))
            .await
            .unwrap()),
        vec![old.id.clone()]
    );
    let first = store
        .list_tax_rates(&t, &TaxRateFilter::default(), &page(2))
        .await
        .unwrap();
    assert!(first.has_more);
    let after = Page {
        limit: 2,
        starting_after: Some(reduced.id.to_string()),
        ending_before: None,
    };
    let rest = store
        .list_tax_rates(&t, &TaxRateFilter::default(), &after)
        .await
        .unwrap();
    assert!(!rest.has_more);
    assert_eq!(ids(rest), vec![vat.id.clone()]);
    let before = Page {
        limit: 2,
        starting_after: None,
        ending_before: Some(vat.id.to_string()),
    };
    assert_eq!(
        ids(store
            .list_tax_rates(&t, &TaxRateFilter::default(), &before)
            .await
            .unwrap()),
        vec![old.id.clone(), reduced.id.clone()]
    );
    assert!(matches!(
        store
            .list_tax_rates(&other, &TaxRateFilter::default(), &after)
            .await,
        Err(StoreError::InvalidCursor)
    ));

    // Written whole; the `active` filter follows.
    let mut retired = vat.clone();
    retired.active = false;
    retired.display_name = "VAT (retired)".into();
    store.update_tax_rate(&t, &retired).await.unwrap();
    assert_eq!(store.get_tax_rate(&t, &vat.id).await.unwrap(), retired);
    assert_eq!(
        ids(store
            .list_tax_rates(&t, &active(false), &page(10))
            .await
            .unwrap()),
        vec![old.id.clone(), vat.id.clone()]
    );
    let unknown = tax_rate(&t, "Nowhere", "1", true);
    assert!(matches!(
        store.update_tax_rate(&t, &unknown).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.get_tax_rate(&t, &TaxRateId::generate()).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn catalog_tenancy_and_pages(store: &dyn Store) {
    let a = tenant(store, "Alpha").await;
    let b = tenant(store, "Beta").await;
    let a_live = Tenant::stored(a.merchant_id().clone(), true);

    let mut ids = Vec::new();
    for i in 0..5 {
        let p = product(&a, &format!("P{i}"), 100 + i, Some(10));
        store.insert_product(&a, &p).await.unwrap();
        ids.push(p.id);
    }
    let first = store.get_product(&a, &ids[0]).await.unwrap();
    assert_eq!(
        (first.name.as_str(), first.inventory),
        ("P0", Some(Inventory { available: 10 }))
    );
    // Another merchant, or the other mode, sees nothing.
    assert!(matches!(
        store.get_product(&b, &ids[0]).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.get_product(&a_live, &ids[0]).await,
        Err(StoreError::NotFound)
    ));
    assert!(store
        .list_products(&b, &ProductFilter::default(), &page(10))
        .await
        .unwrap()
        .data
        .is_empty());
    assert!(matches!(
        store.update_product(&b, &first, false).await,
        Err(StoreError::NotFound)
    ));

    // Newest first, with cursors both ways.
    let p1 = store
        .list_products(&a, &ProductFilter::default(), &page(2))
        .await
        .unwrap();
    assert_eq!(
        p1.data.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
        vec![ids[4].clone(), ids[3].clone()]
    );
    assert!(p1.has_more);
    let after = Page {
        limit: 2,
        starting_after: Some(ids[3].to_string()),
        ending_before: None,
    };
    let p2 = store
        .list_products(&a, &ProductFilter::default(), &after)
        .await
        .unwrap();
    assert_eq!(
        p2.data.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
        vec![ids[2].clone(), ids[1].clone()]
    );
    assert!(p2.has_more);
    let last = Page {
        limit: 2,
        starting_after: Some(ids[1].to_string()),
        ending_before: None,
    };
    let p3 = store
        .list_products(&a, &ProductFilter::default(), &last)
        .await
        .unwrap();
    assert_eq!(p3.data.len(), 1);
    assert!(!p3.has_more);
    let before = Page {
        limit: 2,
        starting_after: None,
        ending_before: Some(ids[1].to_string()),
    };
    let p4 = store
        .list_products(&a, &ProductFilter::default(), &before)
        .await
        .unwrap();
    assert_eq!(
        p4.data.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
        vec![ids[3].clone(), ids[2].clone()]
    );
    assert!(p4.has_more);
    // A cursor from another merchant is not a cursor here.
    let foreign = Page {
        limit: 2,
        starting_after: Some(ids[1].to_string()),
        ending_before: None,
    };
    assert!(matches!(
        store
            .list_products(&b, &ProductFilter::default(), &foreign)
            .await,
        Err(StoreError::InvalidCursor)
    ));

    // Updates keep stock unless asked; filters see `active`.
    let mut p = first.clone();
    p.active = false;
    p.inventory = Some(Inventory { available: 99 });
    store.update_product(&a, &p, false).await.unwrap();
    let got = store.get_product(&a, &p.id).await.unwrap();
    assert_eq!(
        (got.active, got.inventory),
        (false, Some(Inventory { available: 10 }))
    );
    store.update_product(&a, &p, true).await.unwrap();
    assert_eq!(
        store.get_product(&a, &p.id).await.unwrap().inventory,
        Some(Inventory { available: 99 })
    );
    let active = store
        .list_products(&a, &ProductFilter { active: Some(true) }, &page(100))
        .await
        .unwrap();
    assert_eq!(active.data.len(), 4);
    let inactive = store
        .list_products(
            &a,
            &ProductFilter {
                active: Some(false),
            },
            &page(100),
        )
        .await
        .unwrap();
    assert_eq!(inactive.data.len(), 1);
}
