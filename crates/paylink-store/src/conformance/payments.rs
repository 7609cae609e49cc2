//! Payments after the fact: refunds within what was paid, undone when the processor
//! refuses them; the payment list and a link's takings; a link with payments kept as sold.

use paylink_domain::checkout::{PaymentStatus, Refund};
use paylink_domain::event::EventType;
use paylink_domain::id::*;
use paylink_domain::money::{Amount, Currency};

use super::fixtures::*;
use super::{merchant, page};
use crate::*;
use paylink_domain::checkout::Payment;

/// This part's epoch (see `fixtures`).
const E: i64 = 500_000_000;

fn refund(p: &Payment, amount: i64) -> Refund {
    Refund {
        id: RefundId::generate(),
        payment_id: p.id.clone(),
        amount: Amount::new(amount).unwrap(),
        currency: p.currency,
        reason: Some("requested_by_customer".into()),
        status: "succeeded".into(),
        processor_reference: String::new(),
        livemode: p.livemode,
        created_at: at(E + 500),
    }
}

async fn state(store: &dyn Store, t: &Tenant, p: &Payment) -> (PaymentStatus, i64) {
    let got = store.get_payment(t, &p.id).await.unwrap();
    (got.status, got.amount_refunded.minor())
}

pub async fn refunds_and_takings(store: &dyn Store) {
    let m = merchant("Refunds");
    store.create_merchant(&m, &[]).await.unwrap();
    let t = Tenant::of_merchant(&m, false);
    let other = super::tenant(store, "Refunds-other").await;
    let l = product_link(&t, "refunds-link", &[], None);
    store.insert_payment_link(&t, &l, &[], None).await.unwrap();

    let s = open(store, &t, &l, at(E), 600).await.unwrap();
    let p1 = pay(store, &t, &l, &s, at(E + 1)).await;
    let s = open(store, &t, &l, at(E + 10), 600).await.unwrap();
    let p2 = pay(store, &t, &l, &s, at(E + 11)).await;
    // A payment in another currency, and a declined one.
    let s = open(store, &t, &l, at(E + 20), 600).await.unwrap();
    let (_, _, n) = store
        .claim_fresh_attempt(&s.id, &secret_of(&s), at(E + 21))
        .await
        .unwrap()
        .unwrap();
    let mut declined = payment_of(&s, None, at(E + 21));
    declined.status = PaymentStatus::Failed;
    store
        .end_attempt(&s.id, n, Some(&declined), &[])
        .await
        .unwrap();
    let (rec, _, n) = store
        .claim_fresh_attempt(&s.id, &secret_of(&s), at(E + 22))
        .await
        .unwrap()
        .unwrap();
    let mut euro = Paid::of(&l, &rec.session, at(E + 22));
    euro.payment.currency = Currency::parse("EUR").unwrap();
    let mut completing = euro.completing(&l, &rec.session, n);
    completing.collected = Amount::ZERO;
    let Completion::Recorded(p3) = store.complete_checkout(&t, &completing).await.unwrap() else {
        panic!("not recorded")
    };

    // Partial, too much, the rest, then nothing left.
    let r1 = refund(&p1, 300);
    let after = store.insert_refund(&t, &r1).await.unwrap();
    assert_eq!(
        (
            after.id.clone(),
            after.status,
            after.amount_refunded.minor()
        ),
        (p1.id.clone(), PaymentStatus::PartiallyRefunded, 300)
    );
    assert_eq!(
        state(store, &t, &p1).await,
        (PaymentStatus::PartiallyRefunded, 300)
    );
    let refunded = EventFilter {
        kind: Some(EventType::PaymentRefunded.as_str().into()),
        ..EventFilter::default()
    };
    let ev = store.list_events(&t, &refunded, &page(10)).await.unwrap();
    assert_eq!(ev.data.len(), 1);
    assert_eq!(ev.data[0].data.object["refund"]["id"], r1.id.as_str());
    assert!(matches!(
        store.insert_refund(&t, &refund(&p1, 701)).await,
        Err(StoreError::Conflict(Conflict::RefundExceedsPayment))
    ));
    let r2 = refund(&p1, 700);
    store.insert_refund(&t, &r2).await.unwrap();
    assert_eq!(state(store, &t, &p1).await, (PaymentStatus::Refunded, 1000));
    assert!(matches!(
        store.insert_refund(&t, &refund(&p1, 1)).await,
        Err(StoreError::Conflict(Conflict::PaymentNotRefundable))
    ));
    assert!(matches!(
        store.insert_refund(&t, &refund(&declined, 1)).await,
        Err(StoreError::Conflict(Conflict::PaymentNotRefundable))
    ));
    // Another merchant's payment, or none, is not found; its refunds are not undone here.
    for (tenant, p) in [(&other, &p2), (&t, &payment_of(&s, None, at(E)))] {
        assert!(matches!(
            store.insert_refund(tenant, &refund(p, 1)).await,
            Err(StoreError::NotFound)
        ));
    }
    store.revert_refund(&other, &r2).await.unwrap();
    assert_eq!(state(store, &t, &p1).await, (PaymentStatus::Refunded, 1000));

    // The processor refused them: undone, once each.
    store.revert_refund(&t, &r2).await.unwrap();
    assert_eq!(
        state(store, &t, &p1).await,
        (PaymentStatus::PartiallyRefunded, 300)
    );
    store.revert_refund(&t, &r2).await.unwrap();
    assert_eq!(
        state(store, &t, &p1).await,
        (PaymentStatus::PartiallyRefunded, 300)
    );
    store.revert_refund(&t, &r1).await.unwrap();
    assert_eq!(state(store, &t, &p1).await, (PaymentStatus::Succeeded, 0));

    // Takings per currency: refunded payments count, declined ones do not.
    store.insert_refund(&t, &refund(&p2, 1000)).await.unwrap();
    assert_eq!(
        store.link_takings(&t, &l.id).await.unwrap(),
        vec![("EUR".into(), 1, 1000), ("USD".into(), 2, 2000)]
    );
    // The report of a window: per day and currency, gross and refunded, declined left out;
    // payments before the window are not in it; the links that took most.
    let day = (E + 1) / 86_400;
    let report = store.payments_report(&t, at(E), None, 5).await.unwrap();
    assert_eq!(
        report.days,
        vec![
            DayTotal {
                day,
                currency: "EUR".into(),
                count: 1,
                amount: 1000,
                refunded: 0
            },
            DayTotal {
                day,
                currency: "USD".into(),
                count: 2,
                amount: 2000,
                refunded: 1000
            },
        ]
    );
    assert_eq!(
        report.top_links,
        vec![
            LinkTotal {
                payment_link_id: l.id.clone(),
                currency: "USD".into(),
                count: 2,
                amount: 2000
            },
            LinkTotal {
                payment_link_id: l.id.clone(),
                currency: "EUR".into(),
                count: 1,
                amount: 1000
            },
        ]
    );
    let later = store.payments_report(&t, at(E + 5), None, 1).await.unwrap();
    assert_eq!(later.days[1].count, 1, "p1 is before the window: {later:?}");
    assert_eq!(later.top_links.len(), 1);
    let none = |r: PaymentsReport| {
        assert!(r.days.is_empty() && r.top_links.is_empty(), "{r:?}");
        assert_eq!(r.funnel.map(|f| f.payments), Some(0), "{r:?}");
    };
    none(
        store
            .payments_report(&t, at(E + 30), None, 5)
            .await
            .unwrap(),
    );
    none(store.payments_report(&other, at(E), None, 5).await.unwrap());
    // The funnel's payments are the window's, declined left out; a link's report is the
    // link's payments alone, without a funnel.
    assert_eq!(report.funnel.map(|f| f.payments), Some(3));
    let of_link = store
        .payments_report(&t, at(E), Some(&l.id), 5)
        .await
        .unwrap();
    assert_eq!((of_link.days, of_link.funnel), (report.days.clone(), None));
    let of_another = store
        .payments_report(&t, at(E), Some(&PaymentLinkId::generate()), 5)
        .await
        .unwrap();
    assert!(of_another.days.is_empty() && of_another.top_links.is_empty());
    assert!(store.link_takings(&other, &l.id).await.unwrap().is_empty());
    let live = Tenant::of_merchant(&m, true);
    assert!(store.link_takings(&live, &l.id).await.unwrap().is_empty());

    payment_lists(store, &t, &other, [&p1, &p2, &declined, &*p3]).await;
    sold_links_stay(store, &t, &l).await;
}

async fn payment_lists(store: &dyn Store, t: &Tenant, other: &Tenant, all: [&Payment; 4]) {
    let [p1, p2, declined, p3] = all;
    let ids = |l: Listed<Payment>| l.data.into_iter().map(|p| p.id).collect::<Vec<_>>();
    let list = |f: PaymentFilter, p: Page| async move { store.list_payments(t, &f, &p).await };
    let everything = vec![
        p3.id.clone(),
        declined.id.clone(),
        p2.id.clone(),
        p1.id.clone(),
    ];
    assert_eq!(
        ids(list(PaymentFilter::default(), page(10)).await.unwrap()),
        everything
    );
    for (status, want) in [
        ("succeeded", vec![p3.id.clone(), p1.id.clone()]),
        ("refunded", vec![p2.id.clone()]),
        ("failed", vec![declined.id.clone()]),
    ] {
        let f = PaymentFilter {
            status: Some(status.into()),
            ..PaymentFilter::default()
        };
        assert_eq!(ids(list(f, page(10)).await.unwrap()), want);
    }
    let by_link = PaymentFilter {
        payment_link_id: Some(PaymentLinkId::generate()),
        ..PaymentFilter::default()
    };
    assert!(ids(list(by_link, page(10)).await.unwrap()).is_empty());
    let by_link = PaymentFilter {
        payment_link_id: Some(p1.payment_link_id.clone()),
        ..PaymentFilter::default()
    };
    assert_eq!(ids(list(by_link, page(10)).await.unwrap()).len(), 4);
    let created = PaymentFilter {
        created: Created {
            gte: Some(at(E + 10)),
            lte: Some(at(E + 21)),
        },
        ..PaymentFilter::default()
    };
    assert_eq!(
        ids(list(created, page(10)).await.unwrap()),
        vec![declined.id.clone(), p2.id.clone()]
    );
    // By the customer's e-mail, without case; another merchant's list has none of them.
    let by = |e: &str| PaymentFilter {
        customer_email: Some(e.into()),
        ..PaymentFilter::default()
    };
    let theirs: Vec<_> = everything
        .iter()
        .filter(|id| {
            all.iter()
                .any(|p| &p.id == *id && p.customer.email.as_deref() == Some("buyer@example.com"))
        })
        .cloned()
        .collect();
    assert!(!theirs.is_empty());
    assert_eq!(
        ids(list(by("BUYER@Example.com"), page(10)).await.unwrap()),
        theirs
    );
    assert!(ids(list(by("nobody@example.com"), page(10)).await.unwrap()).is_empty());
    assert!(store
        .list_payments(other, &by("buyer@example.com"), &page(10))
        .await
        .unwrap()
        .data
        .is_empty());
    // Pages, both ways; a cursor of another merchant's is not a cursor here.
    let first = list(PaymentFilter::default(), page(3)).await.unwrap();
    assert!(first.has_more);
    assert_eq!(ids(first), everything[..3].to_vec());
    let after = Page {
        limit: 3,
        starting_after: Some(declined.id.to_string()),
        ending_before: None,
    };
    let rest = list(PaymentFilter::default(), after.clone()).await.unwrap();
    assert!(!rest.has_more);
    assert_eq!(ids(rest), everything[2..].to_vec());
    let before = Page {
        limit: 1,
        starting_after: None,
        ending_before: Some(p2.id.to_string()),
    };
    let back = list(PaymentFilter::default(), before).await.unwrap();
    assert!(back.has_more);
    assert_eq!(ids(back), vec![declined.id.clone()]);
    assert!(matches!(
        store
            .list_payments(other, &PaymentFilter::default(), &after)
            .await,
        Err(StoreError::InvalidCursor)
    ));
    assert!(store
        .list_payments(other, &PaymentFilter::default(), &page(10))
        .await
        .unwrap()
        .data
        .is_empty());
}

/// A link with payments keeps what it sold: its content cannot change where the change
/// requires none, and it cannot be deleted.
async fn sold_links_stay(store: &dyn Store, t: &Tenant, l: &paylink_domain::link::PaymentLink) {
    let current = store.get_payment_link(t, &l.id).await.unwrap();
    let mut changed = current.value.clone();
    changed.title = "Renamed".into();
    assert!(matches!(
        store
            .update_payment_link(t, &changed, current.version, true, &[])
            .await,
        Err(StoreError::Conflict(Conflict::PaymentLinkHasPayments))
    ));
    store
        .update_payment_link(t, &changed, current.version, false, &[])
        .await
        .unwrap();
    assert_eq!(
        store.get_payment_link(t, &l.id).await.unwrap().value.title,
        "Renamed"
    );
    assert!(matches!(
        store.delete_payment_link(t, &l.id, at(E + 900), &[]).await,
        Err(StoreError::Conflict(Conflict::PaymentLinkHasPayments))
    ));
    assert!(store.get_payment_link(t, &l.id).await.is_ok());
}
