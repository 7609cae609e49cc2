//! Processors: a merchant's credentials per mode, replaced whole; the PaymentIntent of a
//! session (the first one kept), taken by one worker at a time when due; declines and Stripe
//! events noted once; a payment disputed once, with its one event.

use std::collections::BTreeSet;

use paylink_domain::checkout::Payment;
use paylink_domain::event::{Event, EventType};
use paylink_domain::id::*;
use paylink_domain::link::PaymentLink;

use super::fixtures::*;
use super::{link, merchant, page};
use crate::*;

/// This part's epoch (see `fixtures`).
const E: i64 = 200_000_000;

fn credentials(publishable: &str, updated: i64) -> ProcessorCredentials {
    ProcessorCredentials {
        processor: "stripe".into(),
        publishable_key: publishable.into(),
        sealed: format!("sealed:{publishable}"),
        masked_secret_key: "sk_test_…4242".into(),
        masked_webhook_secret: "whsec_…abcd".into(),
        updated_at: at(updated),
    }
}

fn intent(s: &CheckoutSessionId, pi: &str, check_after: i64) -> StripeIntent {
    StripeIntent {
        checkout_session_id: s.clone(),
        intent_id: pi.into(),
        client_secret_sealed: format!("sealed:{pi}_secret"),
        created_at: at(E),
        check_after: at(check_after),
    }
}

/// The sessions of the intents, in the order given.
fn sessions(due: &[(Tenant, StripeIntent)]) -> Vec<&CheckoutSessionId> {
    due.iter().map(|(_, i)| &i.checkout_session_id).collect()
}

pub async fn processors(store: &dyn Store) {
    let m = merchant("Processors");
    store.create_merchant(&m, &[]).await.unwrap();
    let a = Tenant::of_merchant(&m, false);
    let live = Tenant::of_merchant(&m, true);
    let b = super::tenant(store, "processors-other").await;

    credentials_per_tenant(store, &a, &live, &b).await;

    let l = link(&a, "Stripe paid", "stripe-paid");
    store.insert_payment_link(&a, &l, &[], None).await.unwrap();
    let lb = link(&b, "Stripe paid too", "stripe-paid-other");
    store.insert_payment_link(&b, &lb, &[], None).await.unwrap();
    let mut s = Vec::new();
    for _ in 0..6 {
        s.push(open(store, &a, &l, at(E), 86_400).await.unwrap().id);
    }
    let sb = open(store, &b, &lb, at(E), 86_400).await.unwrap().id;

    intents(store, &a, &b, &s, &sb).await;
    stripe_events(store, &a, &b).await;
    disputes(store, &a, &b, &l).await;
}

async fn credentials_per_tenant(store: &dyn Store, a: &Tenant, live: &Tenant, b: &Tenant) {
    assert_eq!(
        store.get_processor_credentials(a, "stripe").await.unwrap(),
        None
    );
    let first = credentials("pk_test_one", E);
    store.put_processor_credentials(a, &first).await.unwrap();
    assert_eq!(
        store.get_processor_credentials(a, "stripe").await.unwrap(),
        Some(first)
    );
    // Set again: replaced whole.
    let second = ProcessorCredentials {
        masked_secret_key: "sk_test_…9999".into(),
        masked_webhook_secret: "whsec_…wxyz".into(),
        ..credentials("pk_test_two", E + 1)
    };
    store.put_processor_credentials(a, &second).await.unwrap();
    assert_eq!(
        store.get_processor_credentials(a, "stripe").await.unwrap(),
        Some(second.clone())
    );
    // The other mode, another merchant and another processor see none of them.
    for (t, processor) in [(live, "stripe"), (b, "stripe"), (a, "adyen")] {
        assert_eq!(
            store.get_processor_credentials(t, processor).await.unwrap(),
            None,
            "{t:?} {processor}"
        );
    }
    let live_keys = credentials("pk_live_one", E + 2);
    store
        .put_processor_credentials(live, &live_keys)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_processor_credentials(live, "stripe")
            .await
            .unwrap(),
        Some(live_keys)
    );
    assert_eq!(
        store.get_processor_credentials(a, "stripe").await.unwrap(),
        Some(second)
    );
}

async fn intents(
    store: &dyn Store,
    a: &Tenant,
    b: &Tenant,
    s: &[CheckoutSessionId],
    sb: &CheckoutSessionId,
) {
    assert_eq!(store.get_stripe_intent(&s[0]).await.unwrap(), None);
    // The first intent of a session is kept, and returned to whoever raced it.
    let i0 = intent(&s[0], "pi_zero", E + 10);
    assert_eq!(store.put_stripe_intent(a, &i0).await.unwrap(), i0);
    assert_eq!(
        store
            .put_stripe_intent(a, &intent(&s[0], "pi_zero_again", E + 1))
            .await
            .unwrap(),
        i0
    );
    assert_eq!(
        store.get_stripe_intent(&s[0]).await.unwrap(),
        Some((a.clone(), i0.clone()))
    );
    // Not for another tenant's session.
    assert!(matches!(
        store
            .put_stripe_intent(b, &intent(&s[1], "pi_not_theirs", E))
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.get_stripe_intent(&s[1]).await.unwrap(), None);

    // Due: s1 at E+5, sb (another merchant's) at E+7, s0 at E+10, s2 at E+20; s3 later;
    // s4 early but closed.
    for (session, pi, check_after) in [
        (&s[1], "pi_one", E + 5),
        (&s[2], "pi_two", E + 20),
        (&s[3], "pi_three", E + 1000),
        (&s[4], "pi_four", E + 1),
    ] {
        store
            .put_stripe_intent(a, &intent(session, pi, check_after))
            .await
            .unwrap();
    }
    let ib = intent(sb, "pi_other", E + 7);
    store.put_stripe_intent(b, &ib).await.unwrap();
    store.close_stripe_intent(&s[4]).await.unwrap();
    store.close_stripe_intent(&s[4]).await.unwrap();

    // Earliest first, up to the limit, each with its tenant, moved to `next`.
    let (now, next) = (at(E + 100), at(E + 500));
    let due = store.due_stripe_intents(now, next, 2).await.unwrap();
    assert_eq!(sessions(&due), [&s[1], sb]);
    assert_eq!(
        due.iter().map(|(t, _)| t).collect::<Vec<_>>(),
        [a, b],
        "tenants"
    );
    assert!(due.iter().all(|(_, i)| i.check_after == next));
    assert_eq!(due[1].1.intent_id, ib.intent_id);
    let due = store.due_stripe_intents(now, next, 10).await.unwrap();
    assert_eq!(sessions(&due), [&s[0], &s[2]]);
    assert!(store
        .due_stripe_intents(now, next, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.get_stripe_intent(&s[1]).await.unwrap().unwrap().1,
        StripeIntent {
            check_after: next,
            ..intent(&s[1], "pi_one", E + 5)
        }
    );

    // Two workers at once never take the same one; between them and a third round, every
    // due one is taken once (s0, s1, s2 and sb at E+500, s3 at E+1000).
    let (now, next) = (at(E + 1000), at(E + 2000));
    let (x, y) = both(
        store.due_stripe_intents(now, next, 2),
        store.due_stripe_intents(now, next, 2),
    )
    .await;
    let (x, y) = (x.unwrap(), y.unwrap());
    let rest = store.due_stripe_intents(now, next, 10).await.unwrap();
    let mut taken = BTreeSet::new();
    for id in sessions(&x)
        .into_iter()
        .chain(sessions(&y))
        .chain(sessions(&rest))
    {
        assert!(taken.insert(id.clone()), "{id} taken twice");
    }
    let expected: BTreeSet<_> = [&s[0], &s[1], &s[2], &s[3], sb]
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(taken, expected);
    assert!(x.len() <= 2 && y.len() <= 2);

    // Closed: never due again, still readable.
    store.close_stripe_intent(&s[0]).await.unwrap();
    let due = store
        .due_stripe_intents(at(E + 5000), at(E + 6000), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 4);
    assert!(!sessions(&due).contains(&&s[0]));
    assert_eq!(
        store
            .get_stripe_intent(&s[0])
            .await
            .unwrap()
            .unwrap()
            .1
            .intent_id,
        "pi_zero"
    );

    // One decline is noted once; a different one is news, and so is the first again.
    assert!(store
        .note_stripe_failure(&s[1], "ch_declined")
        .await
        .unwrap());
    assert!(!store
        .note_stripe_failure(&s[1], "ch_declined")
        .await
        .unwrap());
    assert!(store
        .note_stripe_failure(&s[1], "pm_other_card")
        .await
        .unwrap());
    assert!(store
        .note_stripe_failure(&s[1], "ch_declined")
        .await
        .unwrap());
    // Per session; none noted for a session without an intent.
    assert!(store
        .note_stripe_failure(&s[2], "ch_declined")
        .await
        .unwrap());
    assert!(!store
        .note_stripe_failure(&s[5], "ch_declined")
        .await
        .unwrap());
}

async fn stripe_events(store: &dyn Store, a: &Tenant, b: &Tenant) {
    let (ma, mb) = (a.merchant_id(), b.merchant_id());
    assert!(!store.stripe_event_seen(ma, "evt_1").await.unwrap());
    store.record_stripe_event(ma, "evt_1", at(E)).await.unwrap();
    store
        .record_stripe_event(ma, "evt_1", at(E + 1))
        .await
        .unwrap();
    assert!(store.stripe_event_seen(ma, "evt_1").await.unwrap());
    // Per merchant.
    assert!(!store.stripe_event_seen(ma, "evt_2").await.unwrap());
    assert!(!store.stripe_event_seen(mb, "evt_1").await.unwrap());
    store.record_stripe_event(mb, "evt_1", at(E)).await.unwrap();
    assert!(store.stripe_event_seen(mb, "evt_1").await.unwrap());
}

async fn disputes(store: &dyn Store, a: &Tenant, b: &Tenant, l: &PaymentLink) {
    let s = open(store, a, l, at(E + 10), 600).await.unwrap();
    let p = pay(store, a, l, &s, at(E + 11)).await;
    let before = store.get_payment(a, &p.id).await.unwrap();
    assert!(!before.disputed);
    let disputed = EventFilter {
        kind: Some(EventType::PaymentDisputed.as_str().into()),
        ..EventFilter::default()
    };
    let event = |at_: i64| {
        let mut d = before.clone();
        d.disputed = true;
        Event::new(EventType::PaymentDisputed, &d, false, at(at_))
    };

    // Another tenant's payment, or none, is not found, and nothing is written.
    for (t, id) in [(b, &p.id), (a, &PaymentId::generate())] {
        assert!(matches!(
            store.mark_payment_disputed(t, id, &event(E + 12)).await,
            Err(StoreError::NotFound)
        ));
    }
    assert!(store
        .list_events(b, &disputed, &page(10))
        .await
        .unwrap()
        .data
        .is_empty());

    let first = event(E + 20);
    assert!(store.mark_payment_disputed(a, &p.id, &first).await.unwrap());
    assert!(!store
        .mark_payment_disputed(a, &p.id, &event(E + 21))
        .await
        .unwrap());
    // Only that field changed.
    let after = store.get_payment(a, &p.id).await.unwrap();
    assert_eq!(
        after,
        Payment {
            disputed: true,
            ..before
        }
    );
    let written = store.list_events(a, &disputed, &page(10)).await.unwrap();
    assert_eq!(
        written.data.iter().map(|e| &e.id).collect::<Vec<_>>(),
        [&first.id]
    );
    assert_eq!(
        store.get_event(a, &first.id).await.unwrap().kind,
        first.kind
    );
}
