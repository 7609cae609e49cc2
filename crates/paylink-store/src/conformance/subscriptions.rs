//! Subscriptions: written, read per tenant, listed with filters, claimed by one holder at a
//! time, changed only under the claim, with their payments.

use super::fixtures::{payment_of, session_of};
use super::*;
use paylink_domain::checkout::PaymentStatus;
use paylink_domain::subscription::{
    Subscription, SubscriptionState, SubscriptionStatus, Transition,
};

/// A monthly subscription of `l` that began at `began` (no trial): period 1 is due a month
/// later.
fn subscription_of(l: &PaymentLink, began: Timestamp) -> (Subscription, Transition) {
    let terms = SubscriptionTerms {
        interval: Interval::Month,
        interval_count: 1,
        trial_period_days: 0,
    };
    let t = SubscriptionState::checkout(&terms, began).unwrap();
    let s = session_of(l, began, 60);
    let mut sub = Subscription {
        id: SubscriptionId::generate(),
        payment_link_id: l.id.clone(),
        checkout_session_id: s.id.clone(),
        customer_id: None,
        customer: s.customer.clone(),
        status: SubscriptionStatus::Active,
        items: s.line_items.clone(),
        amount: s.amount_total,
        amount_tax: Amount::ZERO,
        currency: Currency::USD,
        interval: Interval::Month,
        interval_count: 1,
        current_period_start: None,
        current_period_end: None,
        trial_end: None,
        cancel_at_period_end: false,
        canceled_at: None,
        next_charge_at: None,
        latest_payment_id: None,
        payment_method: None,
        description: l.title.clone(),
        livemode: false,
        created_at: began,
    };
    sub.show(&t.state);
    (sub, t)
}

async fn insert(store: &dyn Store, t: &Tenant, l: &PaymentLink, began: Timestamp) -> Subscription {
    let (sub, tr) = subscription_of(l, began);
    let ev = Event::new(EventType::SubscriptionCreated, &sub, false, began);
    store
        .insert_subscription(
            t,
            &NewSubscription {
                subscription: &sub,
                state: &tr.state,
                method_ref: Some("pm_sim_ok_122099_x"),
                events: &[ev],
            },
        )
        .await
        .unwrap();
    sub
}

pub async fn subscriptions(store: &dyn Store) {
    let a = tenant(store, "Subscriber").await;
    let b = tenant(store, "subscriber-other").await;
    let l = link(&a, "Box", "monthly-box-sub");
    let now = Timestamp::now();
    let due = insert(store, &a, &l, now.plus_seconds(-40 * 86_400)).await;
    let later = insert(store, &a, &l, now).await;

    // Read per tenant; another merchant's is not found; the public read names the tenant.
    let r = store.get_subscription(&a, &due.id).await.unwrap();
    assert_eq!(r.subscription, due);
    assert_eq!(r.method_ref.as_deref(), Some("pm_sim_ok_122099_x"));
    assert_eq!(r.clock, None);
    assert!(matches!(
        store.get_subscription(&b, &due.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.get_subscription_public(&due.id).await.unwrap().tenant,
        a
    );
    let twice = subscription_of(&l, now);
    let mut dup = twice.0.clone();
    dup.id = due.id.clone();
    assert!(matches!(
        store
            .insert_subscription(
                &a,
                &NewSubscription {
                    subscription: &dup,
                    state: &twice.1.state,
                    method_ref: None,
                    events: &[],
                },
            )
            .await,
        Err(StoreError::Conflict(Conflict::DuplicateObject))
    ));

    // Lists: newest first, filtered.
    let all = store
        .list_subscriptions(&a, &SubscriptionFilter::default(), &page(10))
        .await
        .unwrap();
    assert_eq!(
        all.data.iter().map(|s| &s.id).collect::<Vec<_>>(),
        [&later.id, &due.id]
    );
    let f = SubscriptionFilter {
        status: Some(SubscriptionStatus::Canceled),
        ..Default::default()
    };
    assert!(store
        .list_subscriptions(&a, &f, &page(10))
        .await
        .unwrap()
        .data
        .is_empty());
    let f = SubscriptionFilter {
        payment_link_id: Some(l.id.clone()),
        customer_id: Some(CustomerId::generate()),
        ..Default::default()
    };
    assert!(store
        .list_subscriptions(&a, &f, &page(10))
        .await
        .unwrap()
        .data
        .is_empty());
    assert!(store
        .list_subscriptions(&b, &SubscriptionFilter::default(), &page(10))
        .await
        .unwrap()
        .data
        .is_empty());

    // Only the due one is claimed, once; while held, nobody else claims it.
    let until = now.plus_seconds(30);
    let claimed = store.claim_due_subscriptions(now, until, 10).await.unwrap();
    let ids: Vec<_> = claimed.iter().map(|c| &c.record.subscription.id).collect();
    assert_eq!(ids, [&due.id]);
    assert!(store
        .claim_due_subscriptions(now, until, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .claim_subscription(&a, &due.id, now, until)
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        store.claim_subscription(&b, &due.id, now, until).await,
        Err(StoreError::NotFound)
    ));
    let held = claimed.into_iter().next().unwrap();

    // A step under the claim: the renewal's payment takes a receipt number, with its events.
    let st = &held.record.state;
    let d = st.next_due(now).unwrap();
    let tr = st
        .apply(
            &d,
            now,
            Some(paylink_domain::subscription::ChargeOutcome::Succeeded),
            &Default::default(),
        )
        .unwrap();
    let mut sub = held.record.subscription.clone();
    sub.show(&tr.state);
    let mut p = payment_of(&session_of(&l, now, 60), None, now);
    p.subscription_id = Some(sub.id.clone());
    sub.latest_payment_id = Some(p.id.clone());
    let ev = Event::new(EventType::SubscriptionRenewed, &sub, false, now);
    let step = SubscriptionStep {
        subscription: &sub,
        state: &tr.state,
        method_ref: Some("pm_sim_ok_122099_y"),
        clock: Some(now.plus_seconds(5)),
        payment: Some(&p),
        receipt_token: Some("tok"),
        events: &[ev],
        emails: &[],
        keep_until: Some(until),
    };
    let paid = store
        .record_subscription_step(&held, &step)
        .await
        .unwrap()
        .unwrap();
    assert!(paid.receipt_number.is_some());
    // A failed try is recorded without a number.
    let mut failed = payment_of(&session_of(&l, now, 60), None, now);
    failed.subscription_id = Some(sub.id.clone());
    failed.status = PaymentStatus::Failed;
    let step = SubscriptionStep {
        payment: Some(&failed),
        events: &[],
        method_ref: None,
        clock: None,
        keep_until: None,
        ..step
    };
    let f = store
        .record_subscription_step(&held, &step)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f.receipt_number, None);
    // The claim was let go: a step with it is refused, and nothing is written.
    assert!(matches!(
        store.record_subscription_step(&held, &step).await,
        Err(StoreError::Conflict(Conflict::ConcurrentUpdate))
    ));
    let pays = store.subscription_payments(&a, &sub.id, 10).await.unwrap();
    assert_eq!(
        pays.iter().map(|p| &p.id).collect::<Vec<_>>(),
        [&failed.id, &p.id]
    );
    assert!(store
        .subscription_payments(&b, &sub.id, 10)
        .await
        .unwrap()
        .is_empty());
    let r = store.get_subscription(&a, &due.id).await.unwrap();
    assert_eq!(r.state, tr.state);
    assert_eq!(r.subscription.status, SubscriptionStatus::Active);
    assert_eq!(r.method_ref.as_deref(), Some("pm_sim_ok_122099_y"));
    assert_eq!(r.clock, Some(now.plus_seconds(5)));
    // Nothing more is due now: nothing to claim.
    assert!(store
        .claim_due_subscriptions(now, until, 10)
        .await
        .unwrap()
        .is_empty());

    // A claim let go without a change can be taken again; one that ran out, too.
    let c = store
        .claim_subscription(&a, &later.id, now, now.plus_seconds(1))
        .await
        .unwrap()
        .unwrap();
    store.release_subscription(&c).await.unwrap();
    let c = store
        .claim_subscription(&a, &later.id, now, now.plus_seconds(1))
        .await
        .unwrap()
        .unwrap();
    let taken = store
        .claim_subscription(&a, &later.id, now.plus_seconds(2), now.plus_seconds(30))
        .await
        .unwrap()
        .unwrap();
    // The first holder's claim is gone: it cannot be kept, and its release changes nothing
    // of the new one's; the new holder keeps its own, until it runs out.
    assert!(!store
        .renew_subscription_claim(&c, now.plus_seconds(2), now.plus_seconds(60))
        .await
        .unwrap());
    assert!(store
        .renew_subscription_claim(&taken, now.plus_seconds(2), now.plus_seconds(31))
        .await
        .unwrap());
    assert!(!store
        .renew_subscription_claim(&taken, now.plus_seconds(32), now.plus_seconds(60))
        .await
        .unwrap());
    store.release_subscription(&c).await.unwrap();
    assert!(store
        .claim_subscription(&a, &later.id, now.plus_seconds(3), now.plus_seconds(30))
        .await
        .unwrap()
        .is_none());
    store.release_subscription(&taken).await.unwrap();
}
