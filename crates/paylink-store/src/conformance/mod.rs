//! The storage story that every backend must pass, run by each backend's tests.
//!
//! It is test code, shipped in the library so that the SQLite and PostgreSQL tests call
//! the very same story (hence the allowances below).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;

use paylink_domain::catalog::{Inventory, Order, OrderStatus, Product};
use paylink_domain::event::{Event, EventType};
use paylink_domain::id::*;
use paylink_domain::link::*;
use paylink_domain::metadata::Metadata;
use paylink_domain::money::{Amount, Currency};
use paylink_domain::settings::MerchantSettings;
use paylink_domain::tax::PricingMode;
use paylink_domain::text::Slug;
use paylink_domain::time::Timestamp;

use crate::*;

mod attempt_rules;
mod attempts;
mod catalog;
mod checkout;
#[cfg(test)]
mod coverage;
mod fixtures;
mod housekeeping;
mod links;
mod merchants;
mod order_holds;
mod outbox;
mod payments;
mod processes;
mod races;
mod webhooks;
pub use processes::claims_of_dead_processes;

pub fn merchant(name: &str) -> Merchant {
    Merchant {
        id: MerchantId::generate(),
        name: name.to_owned(),
        email: format!("{}@example.com", name.to_lowercase()),
        password_hash: None,
        settings: MerchantSettings::new(name.to_owned(), None),
        version: 0,
        created_at: Timestamp::now(),
    }
}

pub fn key(m: &Merchant, livemode: bool, hash: &str) -> ApiKeyRecord {
    ApiKeyRecord {
        id: ApiKeyId::generate(),
        merchant_id: m.id.clone(),
        livemode,
        kind: KeyKind::Secret,
        name: "default".into(),
        scopes: vec![],
        key_hash: hash.to_owned(),
        masked: "sk_test_…abcd".into(),
        created_at: Timestamp::now(),
        revoked_at: None,
    }
}

pub fn product(t: &Tenant, name: &str, amount: i64, stock: Option<u32>) -> Product {
    Product {
        id: ProductId::generate(),
        name: name.to_owned(),
        description: None,
        image_url: None,
        unit_amount: Amount::new(amount).unwrap(),
        currency: Currency::USD,
        currency_options: Default::default(),
        tax_rate_id: None,
        hsa_fsa_eligible: false,
        inventory: stock.map(|available| Inventory { available }),
        active: true,
        metadata: Metadata::default(),
        livemode: t.livemode,
        created_at: Timestamp::now(),
        updated_at: Timestamp::now(),
    }
}

pub fn link(t: &Tenant, title: &str, slug: &str) -> PaymentLink {
    let now = Timestamp::now();
    PaymentLink {
        currency_options: Default::default(),
        id: PaymentLinkId::generate(),
        url: String::new(),
        slug: Slug::parse(slug, "slug").unwrap(),
        title: title.to_owned(),
        description: None,
        image_url: None,
        kind: LinkType::Custom,
        status: LinkStatus::Active,
        currency: Currency::USD,
        line_items: vec![LinkLineItem {
            product_id: None,
            name: title.to_owned(),
            image_url: None,
            unit_amount: Amount::new(1000).unwrap(),
            quantity: 1,
            adjustable_quantity: None,
            hsa_fsa_eligible: false,
            tax_rate: None,
            currency_options: Default::default(),
        }],
        all_products: false,
        donation: None,
        subscription: None,
        order_id: None,
        tax: LinkTax {
            collect: false,
            tax_rate_id: None,
            pricing_mode: PricingMode::Exclusive,
        },
        collect: Collect::default(),
        custom_fields: vec![],
        payment_method_types: vec![PaymentMethodType::Card],
        payments_limit: None,
        payments_count: 0,
        expires_at: None,
        opens_at: None,
        success_url: None,
        cancel_url: None,
        confirmation_message: None,
        inactive_message: None,
        customer_id: None,
        prefill: None,
        reference_id: None,
        metadata: Metadata::default(),
        stats: LinkStats::default(),
        created_by: CreatedBy {
            kind: CreatorType::ApiKey,
            id: "key_test".into(),
        },
        livemode: t.livemode,
        created_at: now,
        updated_at: now,
    }
}

fn page(limit: u32) -> Page {
    Page {
        limit,
        ..Page::default()
    }
}

fn all_links(now: Timestamp) -> LinkFilter {
    LinkFilter {
        status: None,
        kind: None,
        reference_id: None,
        customer_id: None,
        created: Created::default(),
        q: None,
        now,
    }
}

/// Runs the whole story against `store`, a fresh empty database.
pub async fn story(store: &dyn Store) {
    merchants_and_keys(store).await;
    catalog_tenancy_and_pages(store).await;
    payment_links(store).await;
    idempotency(store).await;
    orders(store).await;
    merchants::keys_and_settings(store).await;
    catalog::customers(store).await;
    catalog::tax_rates(store).await;
    // From here on, each part's epoch is earlier than the last's (see `fixtures`).
    links::public_links_views_and_expiry(store).await;
    checkout::holds_and_refusals(store).await;
    races::races(store).await;
    attempts::attempts_and_completion(store).await;
    attempt_rules::attempt_rules(store).await;
    order_holds::order_holds(store).await;
    payments::refunds_and_takings(store).await;
    webhooks::endpoints_and_deliveries(store).await;
    outbox::emails_outbox(store).await;
    housekeeping::purged_keys(store).await;
    housekeeping::this_process(store).await;
}

async fn merchants_and_keys(store: &dyn Store) {
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

async fn tenant(store: &dyn Store, name: &str) -> Tenant {
    let m = merchant(name);
    store.create_merchant(&m, &[]).await.unwrap();
    Tenant::of_merchant(&m, false)
}

async fn catalog_tenancy_and_pages(store: &dyn Store) {
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

async fn payment_links(store: &dyn Store) {
    let a = tenant(store, "Links").await;
    let b = tenant(store, "Other").await;
    let now = Timestamp::now();
    let mut l = link(&a, "Summer 100% sale", "summer-sale");
    l.reference_id = Some("ref-1".into());
    let created = Event::new(EventType::PaymentLinkCreated, &l, false, now);
    store
        .insert_payment_link(&a, &l, std::slice::from_ref(&created), None)
        .await
        .unwrap();
    // Slugs are unique across every merchant.
    let clash = link(&b, "Clash", "summer-sale");
    assert!(matches!(
        store.insert_payment_link(&b, &clash, &[], None).await,
        Err(StoreError::Conflict(Conflict::SlugTaken))
    ));
    // A failed insert writes none of its events.
    assert!(store
        .list_events(&b, &EventFilter::default(), &page(10))
        .await
        .unwrap()
        .data
        .is_empty());

    let got = store.get_payment_link(&a, &l.id).await.unwrap();
    assert_eq!(got.value, l);
    assert!(matches!(
        store.get_payment_link(&b, &l.id).await,
        Err(StoreError::NotFound)
    ));

    // Version-guarded updates.
    let mut changed = got.value.clone();
    changed.title = "Summer sale".into();
    store
        .update_payment_link(&a, &changed, got.version, true, &[])
        .await
        .unwrap();
    assert!(matches!(
        store
            .update_payment_link(&a, &changed, got.version, true, &[])
            .await,
        Err(StoreError::Conflict(Conflict::ConcurrentUpdate))
    ));
    assert!(matches!(
        store
            .update_payment_link(&b, &changed, got.version + 1, true, &[])
            .await,
        Err(StoreError::NotFound)
    ));
    let mut expired = changed.clone();
    expired.status = LinkStatus::Expired;
    assert!(store
        .update_payment_link(&a, &expired, got.version + 1, false, &[])
        .await
        .is_err());

    // Filters: status computed from expires_at, type, reference, title search.
    let mut old = link(&a, "Old offer", "old-offer");
    old.expires_at = Some(now.plus_seconds(-10));
    store
        .insert_payment_link(&a, &old, &[], None)
        .await
        .unwrap();
    let mut inactive = link(&a, "Paused 50_50", "paused");
    inactive.status = LinkStatus::Inactive;
    store
        .insert_payment_link(&a, &inactive, &[], None)
        .await
        .unwrap();
    assert_eq!(
        slugs(store, &a, all_links(now)).await,
        vec!["paused", "old-offer", "summer-sale"]
    );
    assert_eq!(
        slugs(
            store,
            &a,
            LinkFilter {
                status: Some(LinkStatus::Expired),
                ..all_links(now)
            }
        )
        .await,
        vec!["old-offer"]
    );
    assert_eq!(
        slugs(
            store,
            &a,
            LinkFilter {
                status: Some(LinkStatus::Active),
                ..all_links(now)
            }
        )
        .await,
        vec!["summer-sale"]
    );
    assert_eq!(
        slugs(
            store,
            &a,
            LinkFilter {
                status: Some(LinkStatus::Inactive),
                ..all_links(now)
            }
        )
        .await,
        vec!["paused"]
    );
    assert_eq!(
        slugs(
            store,
            &a,
            LinkFilter {
                reference_id: Some("ref-1".into()),
                ..all_links(now)
            }
        )
        .await,
        vec!["summer-sale"]
    );
    assert_eq!(
        slugs(
            store,
            &a,
            LinkFilter {
                q: Some("SUMMER".into()),
                ..all_links(now)
            }
        )
        .await,
        vec!["summer-sale"]
    );
    // `%` and `_` are literal characters in a search, not wildcards.
    assert_eq!(
        slugs(
            store,
            &a,
            LinkFilter {
                q: Some("0_5".into()),
                ..all_links(now)
            }
        )
        .await,
        vec!["paused"]
    );
    assert!(slugs(
        store,
        &a,
        LinkFilter {
            q: Some("%".into()),
            ..all_links(now)
        }
    )
    .await
    .is_empty());
    assert!(slugs(
        store,
        &a,
        LinkFilter {
            kind: Some(LinkType::Donation),
            ..all_links(now)
        }
    )
    .await
    .is_empty());
    let future = Created {
        gte: Some(now.plus_seconds(3600)),
        lte: None,
    };
    assert!(slugs(
        store,
        &a,
        LinkFilter {
            created: future,
            ..all_links(now)
        }
    )
    .await
    .is_empty());

    // Delete: gone from every read, events written with it, slug stays taken.
    let deleted = Event::new(EventType::PaymentLinkDeleted, &l, false, now);
    store
        .delete_payment_link(&a, &l.id, now, std::slice::from_ref(&deleted))
        .await
        .unwrap();
    assert!(matches!(
        store.get_payment_link(&a, &l.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_payment_link(&a, &l.id, now, &[]).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        slugs(store, &a, all_links(now)).await,
        vec!["paused", "old-offer"]
    );
    let reuse = link(&a, "Reuse", "summer-sale");
    assert!(matches!(
        store.insert_payment_link(&a, &reuse, &[], None).await,
        Err(StoreError::Conflict(Conflict::SlugTaken))
    ));

    let events = store
        .list_events(&a, &EventFilter::default(), &page(10))
        .await
        .unwrap();
    let kinds: Vec<_> = events.data.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![EventType::PaymentLinkDeleted, EventType::PaymentLinkCreated]
    );
    assert_eq!(store.get_event(&a, &created.id).await.unwrap(), created);
    assert!(matches!(
        store.get_event(&b, &created.id).await,
        Err(StoreError::NotFound)
    ));
    let only = EventFilter {
        kind: Some("payment_link.created".into()),
        ..EventFilter::default()
    };
    assert_eq!(
        store
            .list_events(&a, &only, &page(10))
            .await
            .unwrap()
            .data
            .len(),
        1
    );
}

async fn slugs(store: &dyn Store, t: &Tenant, f: LinkFilter) -> Vec<String> {
    let listed = store.list_payment_links(t, &f, &page(100)).await.unwrap();
    listed
        .data
        .into_iter()
        .map(|l| l.slug.as_str().to_owned())
        .collect()
}

async fn idempotency(store: &dyn Store) {
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

async fn orders(store: &dyn Store) {
    let a = tenant(store, "Orders").await;
    let now = Timestamp::now();
    let order = Order {
        id: OrderId::generate(),
        customer_id: None,
        line_items: vec![],
        currency: Currency::USD,
        pricing_mode: PricingMode::Exclusive,
        amount_subtotal: Amount::new(500).unwrap(),
        amount_tax: Amount::ZERO,
        amount_total: Amount::new(500).unwrap(),
        status: OrderStatus::Unpaid,
        payment_id: None,
        metadata: Metadata::parse(BTreeMap::from([("k".into(), "v".into())])).unwrap(),
        livemode: false,
        created_at: now,
        updated_at: now,
    };
    let ev = Event::new(EventType::OrderCreated, &order, false, now);
    store.insert_order(&a, &order, &[ev]).await.unwrap();
    // Another merchant's order is not found; the order's own merchant cancels it once.
    let b = tenant(store, "orders-other").await;
    assert!(matches!(
        store.cancel_order(&b, &order.id, now).await,
        Err(StoreError::NotFound)
    ));
    let canceled = store.cancel_order(&a, &order.id, now).await.unwrap();
    assert_eq!(canceled.status, OrderStatus::Canceled);
    assert!(matches!(
        store.cancel_order(&a, &order.id, now).await,
        Err(StoreError::Conflict(Conflict::OrderCancelled))
    ));
    assert_eq!(
        store.get_order(&a, &order.id).await.unwrap().status,
        OrderStatus::Canceled
    );
    let canceled_only = OrderFilter {
        status: Some("canceled".into()),
        customer_id: None,
    };
    assert_eq!(
        store
            .list_orders(&a, &canceled_only, &page(10))
            .await
            .unwrap()
            .data
            .len(),
        1
    );
    assert_eq!(
        store
            .list_events(&a, &EventFilter::default(), &page(10))
            .await
            .unwrap()
            .data
            .len(),
        1
    );
}
