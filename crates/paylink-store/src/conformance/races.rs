//! The guards hold when two requests race: the last use or unit goes to one customer, an
//! order to one checkout, an attempt to one request, and a charge is recorded once.

use paylink_domain::catalog::{Order, OrderStatus};
use paylink_domain::id::OrderId;
use paylink_domain::metadata::Metadata;
use paylink_domain::money::{Amount, Currency};
use paylink_domain::tax::PricingMode;

use super::fixtures::*;
use super::{merchant, product};
use crate::*;

/// This part's epoch (see `fixtures`).
const E: i64 = 750_000_000;

/// Exactly one of two results is `Ok`; the other is refused with `conflict`.
fn one_wins<T: std::fmt::Debug>(x: &StoreResult<T>, y: &StoreResult<T>, conflict: Conflict) {
    let won = [x, y].iter().filter(|r| r.is_ok()).count();
    let refused = [x, y]
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Conflict(c)) if *c == conflict))
        .count();
    assert_eq!((won, refused), (1, 1), "{x:?} and {y:?}");
}

pub async fn races(store: &dyn Store) {
    let m = merchant("Racer");
    store.create_merchant(&m, &[]).await.unwrap();
    let t = Tenant::of_merchant(&m, false);

    // The last use of a link.
    let once = product_link(&t, "race-once", &[], Some(1));
    store
        .insert_payment_link(&t, &once, &[], None)
        .await
        .unwrap();
    let (x, y) = both(
        open(store, &t, &once, at(E), 600),
        open(store, &t, &once, at(E), 600),
    )
    .await;
    one_wins(&x, &y, Conflict::LinkFullyReserved);

    // The last unit of a product.
    let p = product(&t, "Last one", 500, Some(1));
    store.insert_product(&t, &p).await.unwrap();
    let last = product_link(&t, "race-last", &[&p], None);
    store
        .insert_payment_link(&t, &last, &[], None)
        .await
        .unwrap();
    let (x, y) = both(
        open(store, &t, &last, at(E), 600),
        open(store, &t, &last, at(E), 600),
    )
    .await;
    one_wins(&x, &y, Conflict::StockReserved);
    assert_eq!(stock(store, &t, &p.id).await, (Some(0), 1));

    // Links without a limit take every customer, counted on the side.
    let plain = product_link(&t, "race-plain", &[], None);
    store
        .insert_payment_link(&t, &plain, &[], None)
        .await
        .unwrap();
    let (x, y) = both(
        open(store, &t, &plain, at(E), 600),
        open(store, &t, &plain, at(E), 600),
    )
    .await;
    let (s1, s2) = (x.unwrap(), y.unwrap());
    let public = store
        .find_link_by_slug("race-plain")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (public.reserved, public.link.value.stats.checkouts_started),
        (2, 2)
    );

    // One order, two of its links.
    let o = Order {
        id: OrderId::generate(),
        customer_id: None,
        line_items: vec![],
        currency: Currency::USD,
        pricing_mode: PricingMode::Exclusive,
        amount_subtotal: Amount::new(1000).unwrap(),
        amount_tax: Amount::ZERO,
        amount_total: Amount::new(1000).unwrap(),
        status: OrderStatus::Unpaid,
        payment_id: None,
        metadata: Metadata::default(),
        livemode: false,
        created_at: at(E),
        updated_at: at(E),
    };
    store.insert_order(&t, &o, &[]).await.unwrap();
    let mut a = product_link(&t, "race-order-a", &[], None);
    a.order_id = Some(o.id.clone());
    let mut b = product_link(&t, "race-order-b", &[], None);
    b.order_id = Some(o.id.clone());
    for l in [&a, &b] {
        store.insert_payment_link(&t, l, &[], None).await.unwrap();
    }
    let (x, y) = both(
        open(store, &t, &a, at(E), 600),
        open(store, &t, &b, at(E), 600),
    )
    .await;
    one_wins(&x, &y, Conflict::OrderReserved);

    // Two pay requests for one session: one attempt.
    let secret = secret_of(&s1);
    let (x, y) = both(
        store.claim_fresh_attempt(&s1.id, &secret, at(E + 1)),
        store.claim_fresh_attempt(&s1.id, &secret, at(E + 1)),
    )
    .await;
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(
        usize::from(x.is_some()) + usize::from(y.is_some()),
        1,
        "{x:?} {y:?}"
    );
    assert!(store
        .claim_fresh_attempt(&s1.id, &secret, at(E + 1))
        .await
        .unwrap()
        .is_none());
    let (rec, _, attempt_no) = x.or(y).unwrap();

    // The same charge recorded twice at once (a retry racing its first try): once.
    let paid = Paid::of(&plain, &rec.session, at(E + 2));
    let c = paid.completing(&plain, &rec.session, attempt_no);
    let (x, y) = both(
        store.complete_checkout(&t, &c),
        store.complete_checkout(&t, &c),
    )
    .await;
    let (x, y) = (x.unwrap(), y.unwrap());
    let recorded = [&x, &y]
        .iter()
        .filter(|r| matches!(r, Completion::Recorded(_)))
        .count();
    let replayed = [&x, &y]
        .iter()
        .filter(|r| matches!(r, Completion::AlreadyComplete(a) if *a == paid.answer))
        .count();
    assert_eq!((recorded, replayed), (1, 1), "{x:?} {y:?}");
    let l = store.get_payment_link(&t, &plain.id).await.unwrap().value;
    assert_eq!((l.payments_count, l.stats.amount_collected), (1, 1000));

    // And two different sessions of the link paid at once: both count.
    let (x, y) = both(
        async {
            let s = open(store, &t, &plain, at(E + 3), 600).await.unwrap();
            pay(store, &t, &plain, &s, at(E + 4)).await
        },
        pay(store, &t, &plain, &s2, at(E + 4)),
    )
    .await;
    assert_ne!(x.receipt_number, y.receipt_number);
    let public = store
        .find_link_by_slug("race-plain")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((public.reserved, public.link.value.payments_count), (0, 3));
}
