//! Paying a session: attempts claimed, waiting for the customer's action, declined, taken
//! over when left behind, and the successful charge recorded once with everything it
//! changes (payment and receipt number, session, link counters, stock, order, events,
//! receipt e-mail).

use paylink_domain::checkout::{PaymentStatus, SessionStatus};
use paylink_domain::event::{Event, EventType};
use paylink_domain::id::*;
use paylink_domain::link::{LinkStatus, PaymentLink};

use super::fixtures::*;
use super::{merchant, page, product};
use crate::*;

/// This part's epoch (see `fixtures`).
const E: i64 = 700_000_000;

pub async fn attempts_and_completion(store: &dyn Store) {
    let m = merchant("Attempts");
    store.create_merchant(&m, &[]).await.unwrap();
    let t = Tenant::of_merchant(&m, false);
    let other = super::tenant(store, "Attempts-other").await;
    let p = product(&t, "Lamp", 1500, Some(3));
    store.insert_product(&t, &p).await.unwrap();
    let lamps = product_link(&t, "attempts-lamps", &[&p], Some(2));
    store
        .insert_payment_link(&t, &lamps, &[], None)
        .await
        .unwrap();

    let s = open(store, &t, &lamps, at(E), 600).await.unwrap();
    // A fresh attempt needs the session's secret, and an open, unexpired session.
    assert!(store
        .claim_fresh_attempt(&s.id, "wrong", at(E + 1))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .claim_fresh_attempt(&s.id, &secret_of(&s), at(E + 600))
        .await
        .unwrap()
        .is_none());
    let (rec, config, attempt_no) = store
        .claim_fresh_attempt(&s.id, &secret_of(&s), at(E + 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(attempt_no, 1);
    assert_eq!((rec.session.id.clone(), rec.attempt_no), (s.id.clone(), 1));
    assert_eq!(rec.attempt.as_stored(), Some("processing"));
    assert_eq!(config.unwrap().0.id, lamps.id);
    // One attempt at a time.
    assert!(store
        .claim_fresh_attempt(&s.id, &secret_of(&s), at(E + 2))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store.begin_attempt(&s.id, at(E + 2), 30).await.unwrap(),
        AttemptClaim::Busy
    );

    // 3-D Secure: the attempt waits for the customer, who takes it back once. Word about
    // another attempt changes nothing.
    store
        .attempt_requires_action(&s.id, 7, "other_ref")
        .await
        .unwrap();
    assert_eq!(
        store.get_checkout(&s.id).await.unwrap().attempt.as_stored(),
        Some("processing")
    );
    store
        .attempt_requires_action(&s.id, 1, "3ds_ref")
        .await
        .unwrap();
    let rec = store.get_checkout(&s.id).await.unwrap();
    assert_eq!(
        (rec.attempt.as_stored(), rec.attempt_reference.as_deref()),
        (Some("requires_action"), Some("3ds_ref"))
    );
    assert!(store
        .claim_fresh_attempt(&s.id, &secret_of(&s), at(E + 3))
        .await
        .unwrap()
        .is_none());
    assert!(!store.claim_action(&s.id, 2, at(E + 3)).await.unwrap());
    assert!(store.claim_action(&s.id, 1, at(E + 3)).await.unwrap());
    assert!(!store.claim_action(&s.id, 1, at(E + 3)).await.unwrap());
    // Left `processing` past the staleness bound (its request died): resumed, same number.
    assert_eq!(
        store.begin_attempt(&s.id, at(E + 34), 30).await.unwrap(),
        AttemptClaim::Resume { attempt_no: 1 }
    );
    assert_eq!(
        store.begin_attempt(&s.id, at(E + 35), 30).await.unwrap(),
        AttemptClaim::Busy
    );

    // Declined: a failed payment with its event; the session stays open for another try.
    let mut declined = payment_of(&s, None, at(E + 36));
    declined.status = PaymentStatus::Failed;
    declined.failure_code = Some("card_declined".into());
    let failed = Event::new(EventType::PaymentFailed, &declined, false, at(E + 36));
    store
        .end_attempt(&s.id, 1, Some(&declined), std::slice::from_ref(&failed))
        .await
        .unwrap();
    let got = store.get_payment(&t, &declined.id).await.unwrap();
    assert_eq!(
        (got.status, got.failure_code.as_deref()),
        (PaymentStatus::Failed, Some("card_declined"))
    );
    assert_eq!(store.get_event(&t, &failed.id).await.unwrap(), failed);
    let rec = store.get_checkout(&s.id).await.unwrap();
    assert_eq!(
        (rec.session.status, rec.attempt.as_stored(), rec.attempt_no),
        (SessionStatus::Open, None, 1)
    );
    assert_eq!(
        store.begin_attempt(&s.id, at(E + 37), 30).await.unwrap(),
        AttemptClaim::Claimed { attempt_no: 2 }
    );
    // A late word about attempt 1 changes nothing of attempt 2.
    let late = payment_of(&s, None, at(E + 38));
    store.end_attempt(&s.id, 1, Some(&late), &[]).await.unwrap();
    assert!(matches!(
        store.get_payment(&t, &late.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.get_checkout(&s.id).await.unwrap().attempt.as_stored(),
        Some("processing")
    );

    // The charge succeeds: everything it changes, in one go.
    assert_eq!(stock(store, &t, &p.id).await, (Some(2), 1));
    let paid = Paid::of(&lamps, &s, at(E + 40));
    let done = store
        .complete_checkout(&t, &paid.completing(&lamps, &s, 2))
        .await
        .unwrap();
    let Completion::Recorded(payment) = done else {
        panic!("not recorded")
    };
    assert_eq!(payment.id, paid.payment.id);
    assert_eq!(payment.receipt_number.as_deref(), Some("R-000001"));
    assert_eq!(store.get_payment(&t, &payment.id).await.unwrap(), *payment);
    for stranger in [&other, &Tenant::of_merchant(&m, true)] {
        assert!(matches!(
            store.get_payment(stranger, &payment.id).await,
            Err(StoreError::NotFound)
        ));
    }
    let (owner, public, token) = store.get_payment_public(&payment.id).await.unwrap();
    assert_eq!((owner, public), (t.clone(), *payment.clone()));
    assert_eq!(token, Some(format!("tok{}", s.id)));
    assert!(matches!(
        store.get_payment_public(&PaymentId::generate()).await,
        Err(StoreError::NotFound)
    ));
    let rec = store.get_checkout(&s.id).await.unwrap();
    assert_eq!(
        (
            rec.session.status,
            rec.session.payment_id.clone(),
            rec.attempt.as_stored()
        ),
        (SessionStatus::Complete, Some(payment.id.clone()), None)
    );
    assert_eq!(rec.result, Some(paid.answer.clone()));
    // The held unit is sold; the use is paid.
    assert_eq!(stock(store, &t, &p.id).await, (Some(2), 0));
    let l = store.get_payment_link(&t, &lamps.id).await.unwrap().value;
    assert_eq!(
        (
            l.payments_count,
            l.stats.payments_count,
            l.stats.amount_collected,
            l.status
        ),
        (1, 1, 1500, LinkStatus::Active)
    );
    assert_eq!(reserved(store, "attempts-lamps").await, 0);
    let order = paid.order.as_ref().unwrap();
    assert_eq!(
        store.get_order(&t, &order.id).await.unwrap().payment_id,
        Some(payment.id.clone())
    );
    // Its events, with the declined attempt's before them.
    let mut kinds = event_kinds(store, &t).await;
    assert_eq!(kinds.pop(), Some(EventType::PaymentFailed));
    kinds.sort_by_key(|k| k.as_str());
    assert_eq!(
        kinds,
        vec![
            EventType::CheckoutSessionCompleted,
            EventType::OrderCreated,
            EventType::OrderPaid,
            EventType::PaymentSucceeded,
        ]
    );
    let receipts = store
        .list_emails(&t, Some("held"), true, &page(10))
        .await
        .unwrap()
        .data;
    assert_eq!(
        receipts.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        vec![paid.receipt.id.clone()]
    );
    assert_eq!(receipts[0].related_id, payment.id.to_string());

    // Recorded once: a second completion, a new attempt, the merchant ending it.
    assert!(matches!(
        store
            .complete_checkout(&t, &paid.completing(&lamps, &s, 2))
            .await
            .unwrap(),
        Completion::AlreadyComplete(a) if a == paid.answer
    ));
    assert_eq!(
        store.begin_attempt(&s.id, at(E + 41), 30).await.unwrap(),
        AttemptClaim::Finished(paid.answer.clone())
    );
    assert!(!store.end_checkout(&t, &s.id, at(E + 41)).await.unwrap());
    assert!(matches!(
        store
            .begin_attempt(&CheckoutSessionId::generate(), at(E), 30)
            .await,
        Err(StoreError::NotFound)
    ));

    // The second payment uses the link up: `paid`, with its event.
    let s2 = open(store, &t, &lamps, at(E + 50), 600).await.unwrap();
    let second = pay(store, &t, &lamps, &s2, at(E + 51)).await;
    assert_eq!(second.receipt_number.as_deref(), Some("R-000002"));
    let l = store.get_payment_link(&t, &lamps.id).await.unwrap().value;
    assert_eq!(
        (l.payments_count, l.status, l.paid_from),
        (2, LinkStatus::Paid, Some(LinkStatus::Active))
    );
    let only_paid = EventFilter {
        kind: Some("payment_link.paid".into()),
        ..EventFilter::default()
    };
    let paid_events = store
        .list_events(&t, &only_paid, &page(10))
        .await
        .unwrap()
        .data;
    assert_eq!(paid_events.len(), 1);
    assert_eq!(
        paid_events[0].data.object["url"],
        "https://pay.example/l/paid"
    );
    assert_eq!(stock(store, &t, &p.id).await, (Some(1), 0));
    // Used up: refused as used up (a paid link is not "inactive": the server answers
    // `link_paid`).
    assert!(matches!(
        open(store, &t, &lamps, at(E + 60), 600).await,
        Err(StoreError::Conflict(Conflict::LinkUsedUp))
    ));

    plain_completions(store, &m, &t).await;
    expired_on_paying(store, &t, &p).await;
}

async fn reserved(store: &dyn Store, slug: &str) -> i64 {
    store
        .find_link_by_slug(slug)
        .await
        .unwrap()
        .unwrap()
        .reserved
}

/// A link without a limit, selling no stock: its completions take the one-statement path.
async fn plain_completions(store: &dyn Store, m: &Merchant, t: &Tenant) {
    let plain = product_link(t, "attempts-plain", &[], None);
    store
        .insert_payment_link(t, &plain, &[], None)
        .await
        .unwrap();
    let s = open(store, t, &plain, at(E + 100), 600).await.unwrap();
    assert_eq!(reserved(store, "attempts-plain").await, 1);
    let third = pay(store, t, &plain, &s, at(E + 101)).await;
    assert_eq!(third.receipt_number.as_deref(), Some("R-000003"));
    assert_eq!(store.get_payment(t, &third.id).await.unwrap(), third);
    let l = store.get_payment_link(t, &plain.id).await.unwrap().value;
    assert_eq!(
        (
            l.payments_count,
            l.stats.amount_collected,
            l.stats.checkouts_started
        ),
        (1, 1000, 1)
    );
    assert_eq!(reserved(store, "attempts-plain").await, 0);
    assert_eq!(
        store.get_checkout(&s.id).await.unwrap().session.status,
        SessionStatus::Complete
    );

    // Not at the session's attempt, or after the session ended: `checkout_not_open`, and
    // nothing is recorded.
    let s = open(store, t, &plain, at(E + 110), 600).await.unwrap();
    let (rec, _, attempt_no) = store
        .claim_fresh_attempt(&s.id, &secret_of(&s), at(E + 111))
        .await
        .unwrap()
        .unwrap();
    let wrong = Paid::of(&plain, &rec.session, at(E + 112));
    // Another merchant cannot record it.
    let stranger = super::tenant(store, "Attempts-stranger").await;
    assert!(store
        .complete_checkout(
            &stranger,
            &wrong.completing(&plain, &rec.session, attempt_no)
        )
        .await
        .is_err());
    assert!(matches!(
        store
            .complete_checkout(t, &wrong.completing(&plain, &rec.session, attempt_no + 4))
            .await,
        Err(StoreError::Conflict(Conflict::CheckoutNotOpen))
    ));
    store
        .end_attempt(&s.id, attempt_no, None, &[])
        .await
        .unwrap();
    assert!(store.end_checkout(t, &s.id, at(E + 113)).await.unwrap());
    let late = Paid::of(&plain, &rec.session, at(E + 114));
    assert!(matches!(
        store
            .complete_checkout(t, &late.completing(&plain, &rec.session, attempt_no))
            .await,
        Err(StoreError::Conflict(Conflict::CheckoutNotOpen))
    ));
    for p in [&wrong.payment, &late.payment] {
        assert!(matches!(
            store.get_payment(t, &p.id).await,
            Err(StoreError::NotFound)
        ));
    }
    assert_eq!(
        store
            .get_payment_link(t, &plain.id)
            .await
            .unwrap()
            .value
            .payments_count,
        1
    );
    // Receipt numbers count up per merchant.
    let s = open(store, t, &plain, at(E + 120), 600).await.unwrap();
    let fourth = pay(store, t, &plain, &s, at(E + 121)).await;
    assert!(fourth.receipt_number > third.receipt_number);
    let n = store
        .list_payments(
            t,
            &PaymentFilter {
                status: Some("succeeded".into()),
                ..PaymentFilter::default()
            },
            &page(100),
        )
        .await
        .unwrap()
        .data
        .len();
    assert_eq!(n, 4);
    let b = merchant(&format!("{}-b", m.name));
    store.create_merchant(&b, &[]).await.unwrap();
    let tb = Tenant::of_merchant(&b, false);
    let theirs = product_link(&tb, "attempts-theirs", &[], None);
    store
        .insert_payment_link(&tb, &theirs, &[], None)
        .await
        .unwrap();
    let s = open(store, &tb, &theirs, at(E + 130), 600).await.unwrap();
    let first = pay(store, &tb, &theirs, &s, at(E + 131)).await;
    assert_eq!(first.receipt_number.as_deref(), Some("R-000001"));
}

/// A pay request meeting a session past its time finds it expired, its holds given back.
async fn expired_on_paying(store: &dyn Store, t: &Tenant, p: &paylink_domain::catalog::Product) {
    let spare: PaymentLink = product_link(t, "attempts-spare", &[p], Some(5));
    store
        .insert_payment_link(t, &spare, &[], None)
        .await
        .unwrap();
    let s = open(store, t, &spare, at(E + 200), 10).await.unwrap();
    assert_eq!(stock(store, t, &p.id).await, (Some(0), 1));
    assert_eq!(
        store.begin_attempt(&s.id, at(E + 300), 30).await.unwrap(),
        AttemptClaim::Expired
    );
    assert_eq!(
        store.get_checkout(&s.id).await.unwrap().session.status,
        SessionStatus::Expired
    );
    assert_eq!(stock(store, t, &p.id).await, (Some(1), 0));
    assert_eq!(reserved(store, "attempts-spare").await, 0);
    assert_eq!(
        store.begin_attempt(&s.id, at(E + 301), 30).await.unwrap(),
        AttemptClaim::Expired
    );
    // A fresh session's first attempt, claimed without the fast path.
    let s = open(store, t, &spare, at(E + 400), 600).await.unwrap();
    assert_eq!(
        store.begin_attempt(&s.id, at(E + 401), 30).await.unwrap(),
        AttemptClaim::Claimed { attempt_no: 1 }
    );
    store.end_attempt(&s.id, 1, None, &[]).await.unwrap();
    assert!(store.end_checkout(t, &s.id, at(E + 402)).await.unwrap());
    assert_eq!(stock(store, t, &p.id).await, (Some(1), 0));
}
