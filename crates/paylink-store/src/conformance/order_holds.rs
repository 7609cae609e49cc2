//! Orders paid at most once: a checkout on any of an order's links holds the order, a
//! cancellation ends that checkout unless it is being paid, and the payment marks the
//! order paid. Also the order list's filters and pages.

use paylink_domain::catalog::{Order, OrderStatus};
use paylink_domain::checkout::SessionStatus;
use paylink_domain::event::{Event, EventType};
use paylink_domain::id::*;
use paylink_domain::link::PaymentLink;
use paylink_domain::metadata::Metadata;
use paylink_domain::money::{Amount, Currency};
use paylink_domain::tax::PricingMode;

use super::fixtures::*;
use super::{merchant, page};
use crate::*;

/// This part's epoch (see `fixtures`).
const E: i64 = 600_000_000;

fn order(customer: Option<&CustomerId>, livemode: bool) -> Order {
    let now = at(E);
    Order {
        id: OrderId::generate(),
        customer_id: customer.cloned(),
        line_items: vec![],
        currency: Currency::USD,
        pricing_mode: PricingMode::Exclusive,
        amount_subtotal: Amount::new(1000).unwrap(),
        amount_tax: Amount::ZERO,
        amount_total: Amount::new(1000).unwrap(),
        status: OrderStatus::Unpaid,
        payment_id: None,
        metadata: Metadata::default(),
        livemode,
        created_at: now,
        updated_at: now,
    }
}

/// A link that pays order `o`.
async fn link_for(store: &dyn Store, t: &Tenant, slug: &str, o: &OrderId) -> PaymentLink {
    let mut l = product_link(t, slug, &[], None);
    l.order_id = Some(o.clone());
    store.insert_payment_link(t, &l, &[], None).await.unwrap();
    l
}

async fn status(store: &dyn Store, t: &Tenant, o: &Order) -> OrderStatus {
    store.get_order(t, &o.id).await.unwrap().status
}

pub async fn order_holds(store: &dyn Store) {
    let m = merchant("Holder");
    store.create_merchant(&m, &[]).await.unwrap();
    let t = Tenant::of_merchant(&m, false);
    let other = super::tenant(store, "Holder-other").await;

    // One checkout at a time, on whichever of the order's links.
    let o1 = order(None, false);
    store
        .insert_order(
            &t,
            &o1,
            &[Event::new(EventType::OrderCreated, &o1, false, at(E))],
        )
        .await
        .unwrap();
    assert!(matches!(
        store.insert_order(&t, &o1, &[]).await,
        Err(StoreError::Conflict(Conflict::DuplicateObject))
    ));
    let a = link_for(store, &t, "holder-a", &o1.id).await;
    let b = link_for(store, &t, "holder-b", &o1.id).await;
    let s1 = open(store, &t, &a, at(E), 600).await.unwrap();
    for l in [&a, &b] {
        assert!(matches!(
            open(store, &t, l, at(E + 1), 600).await,
            Err(StoreError::Conflict(Conflict::OrderReserved))
        ));
    }
    // Cancelling ends the checkout that holds it; then nobody can open one.
    assert!(matches!(
        store.cancel_order(&other, &o1.id, at(E + 2)).await,
        Err(StoreError::NotFound)
    ));
    let canceled = store.cancel_order(&t, &o1.id, at(E + 2)).await.unwrap();
    assert_eq!(
        (canceled.id.clone(), canceled.status),
        (o1.id.clone(), OrderStatus::Canceled)
    );
    assert_eq!(
        store.get_checkout(&s1.id).await.unwrap().session.status,
        SessionStatus::Expired
    );
    assert!(matches!(
        open(store, &t, &b, at(E + 3), 600).await,
        Err(StoreError::Conflict(Conflict::OrderCancelled))
    ));

    // Being paid: the cancellation is refused, and the payment pays the order.
    let o2 = order(None, false);
    store.insert_order(&t, &o2, &[]).await.unwrap();
    let c = link_for(store, &t, "holder-c", &o2.id).await;
    let s2 = open(store, &t, &c, at(E + 10), 600).await.unwrap();
    let (rec, _, attempt_no) = store
        .claim_fresh_attempt(&s2.id, &secret_of(&s2), at(E + 11))
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        store.cancel_order(&t, &o2.id, at(E + 12)).await,
        Err(StoreError::Conflict(Conflict::OrderBeingPaid))
    ));
    assert_eq!(status(store, &t, &o2).await, OrderStatus::Unpaid);
    let paid = Paid::of(&c, &rec.session, at(E + 13));
    assert!(paid.order.is_none());
    let Completion::Recorded(payment) = store
        .complete_checkout(&t, &paid.completing(&c, &rec.session, attempt_no))
        .await
        .unwrap()
    else {
        panic!("not recorded")
    };
    let got = store.get_order(&t, &o2.id).await.unwrap();
    assert_eq!(
        (got.status, got.payment_id),
        (OrderStatus::Paid, Some(payment.id.clone()))
    );
    let paid_events = EventFilter {
        kind: Some("order.paid".into()),
        ..EventFilter::default()
    };
    let ev = store
        .list_events(&t, &paid_events, &page(10))
        .await
        .unwrap();
    assert_eq!(ev.data.len(), 1);
    assert_eq!(ev.data[0].data.object["id"], o2.id.as_str());
    assert!(matches!(
        open(store, &t, &c, at(E + 14), 600).await,
        Err(StoreError::Conflict(Conflict::OrderPaid))
    ));
    assert!(matches!(
        store.cancel_order(&t, &o2.id, at(E + 14)).await,
        Err(StoreError::Conflict(Conflict::OrderPaid))
    ));

    // A hold that ran out is given back to the next customer, on another of its links.
    let o3 = order(None, false);
    store.insert_order(&t, &o3, &[]).await.unwrap();
    let d = link_for(store, &t, "holder-d", &o3.id).await;
    let e = link_for(store, &t, "holder-e", &o3.id).await;
    let s3 = open(store, &t, &d, at(E + 20), 10).await.unwrap();
    let s4 = open(store, &t, &e, at(E + 31), 600).await.unwrap();
    assert_eq!(
        store.get_checkout(&s3.id).await.unwrap().session.status,
        SessionStatus::Expired
    );
    // The merchant ends it: the order is free again.
    assert!(store.end_checkout(&t, &s4.id, at(E + 32)).await.unwrap());
    let s5 = open(store, &t, &d, at(E + 33), 600).await.unwrap();
    assert!(store.end_checkout(&t, &s5.id, at(E + 34)).await.unwrap());

    // An order that is not the link's merchant's, or no order at all.
    let theirs = order(None, false);
    store.insert_order(&other, &theirs, &[]).await.unwrap();
    for (slug, id) in [
        ("holder-theirs", theirs.id.clone()),
        ("holder-none", OrderId::generate()),
    ] {
        let l = link_for(store, &t, slug, &id).await;
        assert!(matches!(
            open(store, &t, &l, at(E + 40), 600).await,
            Err(StoreError::Conflict(Conflict::OrderNotFound))
        ));
    }
    assert_eq!(status(store, &other, &theirs).await, OrderStatus::Unpaid);

    order_lists(store, &t, &other, [&o1, &o2, &o3], &paid).await;
}

async fn order_lists(
    store: &dyn Store,
    t: &Tenant,
    other: &Tenant,
    [o1, o2, o3]: [&Order; 3],
    paid: &Paid,
) {
    let live = Tenant::stored(t.merchant_id().clone(), true);
    let customer = CustomerId::generate();
    let o4 = order(Some(&customer), false);
    store.insert_order(t, &o4, &[]).await.unwrap();
    let in_live = order(None, true);
    store.insert_order(&live, &in_live, &[]).await.unwrap();
    for stranger in [other, &live] {
        assert!(matches!(
            store.get_order(stranger, &o1.id).await,
            Err(StoreError::NotFound)
        ));
    }
    assert_eq!(store.get_order(&live, &in_live.id).await.unwrap(), in_live);
    assert_eq!(store.get_order(t, &o4.id).await.unwrap(), o4);

    let ids = |l: Listed<Order>| l.data.into_iter().map(|o| o.id).collect::<Vec<_>>();
    // The paid one is the order `o2`: the completion made none of its own.
    assert!(paid.order.is_none());
    let everything = store
        .list_orders(t, &OrderFilter::default(), &page(10))
        .await
        .unwrap();
    assert_eq!(
        ids(everything),
        vec![o4.id.clone(), o3.id.clone(), o2.id.clone(), o1.id.clone()]
    );
    for (status, want) in [
        ("unpaid", vec![o4.id.clone(), o3.id.clone()]),
        ("paid", vec![o2.id.clone()]),
        ("canceled", vec![o1.id.clone()]),
    ] {
        let f = OrderFilter {
            status: Some(status.into()),
            customer_id: None,
        };
        assert_eq!(
            ids(store.list_orders(t, &f, &page(10)).await.unwrap()),
            want
        );
    }
    let theirs = OrderFilter {
        status: None,
        customer_id: Some(customer),
    };
    assert_eq!(
        ids(store.list_orders(t, &theirs, &page(10)).await.unwrap()),
        vec![o4.id.clone()]
    );
    let first = store
        .list_orders(t, &OrderFilter::default(), &page(2))
        .await
        .unwrap();
    assert!(first.has_more);
    let after = Page {
        limit: 2,
        starting_after: Some(o3.id.to_string()),
        ending_before: None,
    };
    let rest = store
        .list_orders(t, &OrderFilter::default(), &after)
        .await
        .unwrap();
    assert!(!rest.has_more);
    assert_eq!(ids(rest), vec![o2.id.clone(), o1.id.clone()]);
    let before = Page {
        limit: 1,
        starting_after: None,
        ending_before: Some(o2.id.to_string()),
    };
    let back = store
        .list_orders(t, &OrderFilter::default(), &before)
        .await
        .unwrap();
    assert!(back.has_more);
    assert_eq!(ids(back), vec![o3.id.clone()]);
    for stranger in [other, &live] {
        assert!(matches!(
            store
                .list_orders(stranger, &OrderFilter::default(), &after)
                .await,
            Err(StoreError::InvalidCursor)
        ));
    }
    assert_eq!(
        ids(store
            .list_orders(&live, &OrderFilter::default(), &page(10))
            .await
            .unwrap()),
        vec![in_live.id.clone()]
    );
}
