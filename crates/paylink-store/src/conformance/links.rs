//! Payment links as the public pages and the worker meet them: found by slug (deleted ones
//! too), their views counted, and `payment_link.expired` emitted once per link.

use paylink_domain::event::EventType;
use paylink_domain::id::*;
use paylink_domain::link::LinkStatus;

use super::fixtures::*;
use super::*;
use super::{link, merchant, page};

/// This part's epoch (see `fixtures`).
const E: i64 = 900_000_000;

const PUBLIC_URL: &str = "https://pay.example";

pub async fn public_links_views_and_expiry(store: &dyn Store) {
    let m = merchant("Viewer");
    store.create_merchant(&m, &[]).await.unwrap();
    let t = Tenant::of_merchant(&m, false);
    let live = Tenant::of_merchant(&m, true);

    // By slug: whose it is, with its counters and version, deleted or not.
    let one = link(&t, "One", "views-one");
    let two = link(&live, "Two", "views-two");
    store
        .insert_payment_link(&t, &one, &[], None)
        .await
        .unwrap();
    store
        .insert_payment_link(&live, &two, &[], None)
        .await
        .unwrap();
    let found = store.find_link_by_slug("views-one").await.unwrap().unwrap();
    assert_eq!(found.tenant, t);
    assert_eq!(
        found.link,
        store.get_payment_link(&t, &one.id).await.unwrap()
    );
    assert_eq!((found.deleted, found.reserved), (false, 0));
    assert_eq!(
        store
            .find_link_by_slug("views-two")
            .await
            .unwrap()
            .unwrap()
            .tenant,
        live
    );
    assert!(store
        .find_link_by_slug("views-none")
        .await
        .unwrap()
        .is_none());

    // Views add up, several links in one call.
    store
        .add_views(&[
            (one.id.clone(), 3),
            (two.id.clone(), 1),
            (one.id.clone(), 2),
        ])
        .await
        .unwrap();
    store.add_views(&[]).await.unwrap();
    let views = |v: &paylink_domain::link::PaymentLink| v.stats.views;
    assert_eq!(
        views(&store.get_payment_link(&t, &one.id).await.unwrap().value),
        5
    );
    assert_eq!(
        views(&store.get_payment_link(&live, &two.id).await.unwrap().value),
        1
    );
    let listed = store
        .list_payment_links(
            &t,
            &super::all_links(paylink_domain::time::Timestamp::now()),
            &page(10),
        )
        .await
        .unwrap();
    assert_eq!(listed.data.iter().map(views).collect::<Vec<_>>(), vec![5]);
    // A link for one customer, found by that customer.
    let mut theirs = link(&t, "For Ada", "views-ada");
    theirs.customer_id = Some(CustomerId::generate());
    store
        .insert_payment_link(&t, &theirs, &[], None)
        .await
        .unwrap();
    let for_ada = LinkFilter {
        customer_id: theirs.customer_id.clone(),
        ..super::all_links(paylink_domain::time::Timestamp::now())
    };
    let found = store
        .list_payment_links(&t, &for_ada, &page(10))
        .await
        .unwrap();
    assert_eq!(
        found.data.into_iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![theirs.id.clone()]
    );
    assert_eq!(
        store
            .find_link_by_slug("views-one")
            .await
            .unwrap()
            .unwrap()
            .link
            .value
            .stats
            .views,
        5
    );

    // A deleted link is still found by its slug (to answer 410), marked deleted.
    store
        .delete_payment_link(&live, &two.id, at(E), &[])
        .await
        .unwrap();
    let gone = store.find_link_by_slug("views-two").await.unwrap().unwrap();
    assert!(gone.deleted);
    assert_eq!(gone.link.value.id, two.id);

    expiry_events(store, &t).await;
}

/// `payment_link.expired`, once per link that passed its `expires_at` while open to
/// buyers, whatever the number of workers.
async fn expiry_events(store: &dyn Store, t: &Tenant) {
    let expiring = |slug: &str, status: LinkStatus, at_: i64| {
        let mut l = link(t, slug, slug);
        l.status = status;
        l.expires_at = Some(at(at_));
        l
    };
    let first = expiring("expiring-first", LinkStatus::Active, E + 10);
    let paused = expiring("expiring-paused", LinkStatus::Inactive, E + 20);
    let cancelled = expiring("expiring-cancelled", LinkStatus::Cancelled, E + 5);
    let deleted = expiring("expiring-deleted", LinkStatus::Active, E + 5);
    let later = expiring("expiring-later", LinkStatus::Active, E + 1000);
    for l in [&first, &paused, &cancelled, &deleted, &later] {
        store.insert_payment_link(t, l, &[], None).await.unwrap();
    }
    store
        .delete_payment_link(t, &deleted.id, at(E), &[])
        .await
        .unwrap();

    assert_eq!(
        store
            .emit_expired_links(at(E + 9), 100, PUBLIC_URL)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .emit_expired_links(at(E + 15), 100, PUBLIC_URL)
            .await
            .unwrap(),
        1
    );
    let expired = EventFilter {
        kind: Some(EventType::PaymentLinkExpired.as_str().into()),
        ..EventFilter::default()
    };
    let ev = store
        .list_events(t, &expired, &page(10))
        .await
        .unwrap()
        .data;
    assert_eq!(ev.len(), 1);
    let object = &ev[0].data.object;
    assert_eq!(
        (&object["id"], &object["status"], &object["url"]),
        (
            &serde_json::json!(first.id.as_str()),
            &serde_json::json!("expired"),
            &serde_json::json!("https://pay.example/l/expiring-first")
        )
    );
    assert_eq!(ev[0].created_at, at(E + 15));
    // Two workers at once: one of them emits it.
    let (x, y) = both(
        store.emit_expired_links(at(E + 30), 100, PUBLIC_URL),
        store.emit_expired_links(at(E + 30), 100, PUBLIC_URL),
    )
    .await;
    assert_eq!(x.unwrap() + y.unwrap(), 1);
    assert_eq!(
        store
            .emit_expired_links(at(E + 30), 100, PUBLIC_URL)
            .await
            .unwrap(),
        0
    );
    // `limit` bounds one call; the rest wait for the next.
    let last = expiring("expiring-last", LinkStatus::Active, E + 1001);
    store
        .insert_payment_link(t, &last, &[], None)
        .await
        .unwrap();
    for n in [1, 1, 0] {
        assert_eq!(
            store
                .emit_expired_links(at(E + 2000), 1, PUBLIC_URL)
                .await
                .unwrap(),
            n
        );
    }
    let ids: Vec<PaymentLinkId> = store
        .list_events(t, &expired, &page(10))
        .await
        .unwrap()
        .data
        .iter()
        .map(|e| PaymentLinkId::from_trusted(e.data.object["id"].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        ids,
        vec![
            last.id.clone(),
            later.id.clone(),
            paused.id.clone(),
            first.id.clone()
        ]
    );
}

pub async fn payment_links(store: &dyn Store) {
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
