//! Checkout sessions: the holds they take on a link's uses and on stock, the refusals, and
//! how holds end (expiry, the merchant ending a session, a new customer meeting an expired
//! hold). Attempts and completion are in `attempts.rs`.

use paylink_domain::checkout::SessionStatus;
use paylink_domain::event::EventType;
use paylink_domain::id::*;
use paylink_domain::link::LinkStatus;

use super::fixtures::*;
use super::{merchant, product};
use crate::*;

/// This part's epoch (see `fixtures`).
const E: i64 = 800_000_000;

pub async fn holds_and_refusals(store: &dyn Store) {
    let m = merchant("Holds");
    store.create_merchant(&m, &[]).await.unwrap();
    let (t, live) = (
        Tenant::of_merchant(&m, false),
        Tenant::of_merchant(&m, true),
    );
    let other = super::tenant(store, "Holds-other").await;

    let p = product(&t, "Mug", 700, Some(2));
    let untracked = product(&t, "Sticker", 100, None);
    store.insert_product(&t, &p).await.unwrap();
    store.insert_product(&t, &untracked).await.unwrap();
    // Stock as checkouts see it: the tenant's products only, unknown ones left out.
    let levels = store
        .stock_levels(
            &t,
            &[p.id.clone(), untracked.id.clone(), ProductId::generate()],
        )
        .await
        .unwrap();
    assert_eq!(
        levels,
        vec![
            (
                p.id.clone(),
                StockLevel {
                    available: Some(2),
                    held: 0
                }
            ),
            (
                untracked.id.clone(),
                StockLevel {
                    available: None,
                    held: 0
                }
            ),
        ]
    );
    for stranger in [&other, &live] {
        assert!(store
            .stock_levels(stranger, std::slice::from_ref(&p.id))
            .await
            .unwrap()
            .is_empty());
    }

    // A link selling the mug, two uses at most; a plain link with one use.
    let mugs = product_link(&t, "holds-mugs", &[&p], Some(2));
    store
        .insert_payment_link(&t, &mugs, &[], None)
        .await
        .unwrap();
    let once = product_link(&t, "holds-once", &[], Some(1));
    store
        .insert_payment_link(&t, &once, &[], None)
        .await
        .unwrap();
    assert_eq!(store.next_hold_expiry(&mugs.id).await.unwrap(), None);

    // A session holds a use and the stock it needs.
    let s1 = open(store, &t, &mugs, at(E), 600).await.unwrap();
    assert_eq!(stock(store, &t, &p.id).await, (Some(1), 1));
    let public = store
        .find_link_by_slug("holds-mugs")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (&public.tenant, public.reserved, public.deleted),
        (&t, 1, false)
    );
    assert_eq!(
        store.next_hold_expiry(&mugs.id).await.unwrap(),
        Some(at(E + 600))
    );
    let rec = store.get_checkout(&s1.id).await.unwrap();
    assert_eq!(rec.tenant, t);
    assert_eq!(rec.session, s1);
    assert_eq!(rec.secret_hash, secret_of(&s1));
    assert_eq!(
        (
            rec.attempt_no,
            rec.attempt.as_stored(),
            rec.attempt_reference.clone()
        ),
        (0, None, None)
    );
    assert!(rec.result.is_none());
    let (rec, config) = store.get_checkout_with_link(&s1.id).await.unwrap();
    assert_eq!(rec.session.id, s1.id);
    let LinkConfig(l) = config.expect("the session's link");
    assert_eq!((l.id, l.status), (mugs.id.clone(), LinkStatus::Active));
    for missing in [
        store
            .get_checkout(&CheckoutSessionId::generate())
            .await
            .err(),
        store
            .get_checkout_with_link(&CheckoutSessionId::generate())
            .await
            .err(),
    ] {
        assert!(matches!(missing, Some(StoreError::NotFound)));
    }

    // The last unit held by another customer: `stock_reserved`, with the time to retry.
    let s2 = open(store, &t, &mugs, at(E + 10), 600).await.unwrap();
    assert_eq!(stock(store, &t, &p.id).await, (Some(0), 2));
    assert_eq!(
        store.next_hold_expiry(&mugs.id).await.unwrap(),
        Some(at(E + 600))
    );
    assert!(matches!(
        open(store, &t, &mugs, at(E + 20), 600).await,
        Err(StoreError::Conflict(Conflict::StockReserved))
    ));
    // The last use held: `link_fully_reserved`.
    let s3 = open(store, &t, &once, at(E), 600).await.unwrap();
    assert!(matches!(
        open(store, &t, &once, at(E + 30), 600).await,
        Err(StoreError::Conflict(Conflict::LinkFullyReserved))
    ));
    assert_eq!(
        store.next_hold_expiry(&once.id).await.unwrap(),
        Some(at(E + 600))
    );
    // A hold that ran out is released before a new one is taken.
    let s4 = open(store, &t, &once, at(E + 601), 600).await.unwrap();
    assert_eq!(
        store.get_checkout(&s3.id).await.unwrap().session.status,
        SessionStatus::Expired
    );
    assert_eq!(
        store
            .find_link_by_slug("holds-once")
            .await
            .unwrap()
            .unwrap()
            .reserved,
        1
    );

    // A limit set below the uses open checkouts hold is refused (each may still be paid);
    // exactly the holds fit.
    let free = product_link(&t, "holds-free", &[], None);
    store
        .insert_payment_link(&t, &free, &[], None)
        .await
        .unwrap();
    for n in 0..2 {
        open(store, &t, &free, at(E + n), 10_000).await.unwrap();
    }
    let current = store.get_payment_link(&t, &free.id).await.unwrap();
    let mut limited = current.value.clone();
    limited.payments_limit = Some(1);
    assert!(matches!(
        store
            .update_payment_link(&t, &limited, current.version, false, &[])
            .await,
        Err(StoreError::Conflict(Conflict::PaymentsLimitBelowReserved))
    ));
    limited.payments_limit = Some(2);
    store
        .update_payment_link(&t, &limited, current.version, false, &[])
        .await
        .unwrap();
    assert!(matches!(
        open(store, &t, &free, at(E + 5), 10_000).await,
        Err(StoreError::Conflict(Conflict::LinkFullyReserved))
    ));

    // Nothing left to sell, a link closed to buyers, a link changed since it was read.
    let gone = product(&t, "Rare", 900, Some(0));
    store.insert_product(&t, &gone).await.unwrap();
    let rare = product_link(&t, "holds-rare", &[&gone], None);
    store
        .insert_payment_link(&t, &rare, &[], None)
        .await
        .unwrap();
    assert!(matches!(
        open(store, &t, &rare, at(E), 600).await,
        Err(StoreError::Conflict(Conflict::SoldOut))
    ));
    let mut paused = product_link(&t, "holds-paused", &[], None);
    paused.status = LinkStatus::Inactive;
    let mut lapsed = product_link(&t, "holds-lapsed", &[], None);
    lapsed.expires_at = Some(at(E - 1));
    let plain = product_link(&t, "holds-plain", &[], None);
    for l in [&paused, &lapsed, &plain] {
        store.insert_payment_link(&t, l, &[], None).await.unwrap();
    }
    for l in [&paused, &lapsed] {
        assert!(matches!(
            open(store, &t, l, at(E), 600).await,
            Err(StoreError::Conflict(Conflict::LinkInactive))
        ));
    }
    // Another merchant, or the other mode, cannot open a session on the link.
    for stranger in [&other, &live] {
        let s = session_of(&plain, at(E), 600);
        assert!(store
            .start_checkout(stranger, &new_checkout(&plain, &s, at(E)))
            .await
            .is_err());
        assert!(matches!(
            store.get_checkout(&s.id).await,
            Err(StoreError::NotFound)
        ));
    }
    let version = store.get_payment_link(&t, &plain.id).await.unwrap().version;
    let changed = session_of(&plain, at(E), 3000);
    let c = NewCheckout {
        link_version: Some(version + 5),
        ..new_checkout(&plain, &changed, at(E))
    };
    assert!(matches!(
        store.start_checkout(&t, &c).await,
        Err(StoreError::Conflict(Conflict::LinkChanged))
    ));
    let on_plain = session_of(&plain, at(E), 3000);
    let c = NewCheckout {
        link_version: Some(version),
        ..new_checkout(&plain, &on_plain, at(E))
    };
    store.start_checkout(&t, &c).await.unwrap();
    // Another merchant's session, on its own link, ends in the same sweeps.
    let theirs = product_link(&other, "holds-theirs", &[], Some(3));
    store
        .insert_payment_link(&other, &theirs, &[], None)
        .await
        .unwrap();
    let s_other = open(store, &other, &theirs, at(E), 600).await.unwrap();
    let plain_started = store.get_payment_link(&t, &plain.id).await.unwrap();
    assert_eq!(plain_started.value.stats.checkouts_started, 1);
    // A session on a link with a limit counts as started too.
    assert_eq!(
        store
            .get_payment_link(&t, &once.id)
            .await
            .unwrap()
            .value
            .stats
            .checkouts_started,
        2
    );

    // Expiry: sessions past their time, every merchant's, their holds given back.
    assert_eq!(store.expire_checkouts(at(E + 605), 100).await.unwrap(), 2);
    assert_eq!(
        store
            .get_checkout(&s_other.id)
            .await
            .unwrap()
            .session
            .status,
        SessionStatus::Expired
    );
    assert_eq!(
        store.get_checkout(&s1.id).await.unwrap().session.status,
        SessionStatus::Expired
    );
    assert_eq!(stock(store, &t, &p.id).await, (Some(1), 1));
    assert_eq!(
        store
            .find_link_by_slug("holds-mugs")
            .await
            .unwrap()
            .unwrap()
            .reserved,
        1
    );

    // The merchant ends a session before its time: its own, in its mode, once.
    for stranger in [&other, &live] {
        assert!(!store
            .end_checkout(stranger, &s2.id, at(E + 606))
            .await
            .unwrap());
    }
    assert!(store.end_checkout(&t, &s2.id, at(E + 606)).await.unwrap());
    assert!(!store.end_checkout(&t, &s2.id, at(E + 606)).await.unwrap());
    assert!(!store
        .end_checkout(&t, &CheckoutSessionId::generate(), at(E + 606))
        .await
        .unwrap());
    assert_eq!(
        store.get_checkout(&s2.id).await.unwrap().session.status,
        SessionStatus::Expired
    );
    assert_eq!(stock(store, &t, &p.id).await, (Some(2), 0));
    assert_eq!(store.next_hold_expiry(&mugs.id).await.unwrap(), None);
    assert_eq!(
        store
            .find_link_by_slug("holds-mugs")
            .await
            .unwrap()
            .unwrap()
            .reserved,
        0
    );
    // Each ended session wrote its `checkout_session.expired` (s3, s1, s2).
    let expired = event_kinds(store, &t)
        .await
        .into_iter()
        .filter(|k| *k == EventType::CheckoutSessionExpired)
        .count();
    assert_eq!(expired, 3);

    // `limit` bounds a sweep; the open plain session and s4 remain.
    assert_eq!(store.expire_checkouts(at(E + 5000), 1).await.unwrap(), 1);
    assert_eq!(store.expire_checkouts(at(E + 5000), 1).await.unwrap(), 1);
    assert_eq!(store.expire_checkouts(at(E + 5000), 1).await.unwrap(), 0);
    assert_eq!(
        store.get_checkout(&s4.id).await.unwrap().session.status,
        SessionStatus::Expired
    );
    assert_eq!(
        store
            .find_link_by_slug("holds-once")
            .await
            .unwrap()
            .unwrap()
            .reserved,
        0
    );
    assert_eq!(
        store
            .find_link_by_slug("holds-plain")
            .await
            .unwrap()
            .unwrap()
            .reserved,
        0
    );
    // A session outlives its link: read without it once the link is deleted.
    store
        .delete_payment_link(&t, &plain.id, at(E + 5001), &[])
        .await
        .unwrap();
    let (rec, config) = store.get_checkout_with_link(&on_plain.id).await.unwrap();
    assert_eq!(rec.session.status, SessionStatus::Expired);
    assert!(config.is_none());

    stuck_sessions(store, &t, &once).await;
}

/// A session being paid is never ended under its payment; once past its time with the
/// attempt still `processing`, the worker finds it stuck.
async fn stuck_sessions(store: &dyn Store, t: &Tenant, once: &paylink_domain::link::PaymentLink) {
    let start = E + 6000;
    let s = open(store, t, once, at(start), 600).await.unwrap();
    let (_, _, attempt_no) = store
        .claim_fresh_attempt(&s.id, &secret_of(&s), at(start + 1))
        .await
        .unwrap()
        .unwrap();
    assert!(!store.end_checkout(t, &s.id, at(start + 2)).await.unwrap());
    let after = at(start + 700);
    assert_eq!(store.expire_checkouts(after, 100).await.unwrap(), 0);
    assert!(store
        .stuck_attempts(at(start + 10), at(start + 5), 10)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .stuck_attempts(after, at(start), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .stuck_attempts(after, at(start + 5), 10)
            .await
            .unwrap(),
        vec![s.id.clone()]
    );
    // Settled without a charge: the session is open again, and then expires.
    store
        .end_attempt(&s.id, attempt_no, None, &[])
        .await
        .unwrap();
    assert!(store
        .stuck_attempts(after, at(start + 5), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.expire_checkouts(after, 100).await.unwrap(), 1);
    // A session waiting for the customer's action is not being paid: it expires.
    let s = open(store, t, once, at(start + 800), 600).await.unwrap();
    let (_, _, attempt_no) = store
        .claim_fresh_attempt(&s.id, &secret_of(&s), at(start + 801))
        .await
        .unwrap()
        .unwrap();
    store
        .attempt_requires_action(&s.id, attempt_no, "3ds")
        .await
        .unwrap();
    let after = at(start + 1500);
    assert!(store
        .stuck_attempts(after, after, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.expire_checkouts(after, 100).await.unwrap(), 1);
    assert_eq!(
        store.get_checkout(&s.id).await.unwrap().session.status,
        SessionStatus::Expired
    );
    assert_eq!(
        store
            .find_link_by_slug("holds-once")
            .await
            .unwrap()
            .unwrap()
            .reserved,
        0
    );
}
