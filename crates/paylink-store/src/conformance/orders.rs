//! Orders: created, listed, cancelled.

use super::*;

pub async fn orders(store: &dyn Store) {
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
