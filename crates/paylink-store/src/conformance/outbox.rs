//! The outboxes: e-mails queued with their events, claimed by one sender at a time, sent,
//! retried or given up; and the events every change wrote, read back by id and in pages.

use std::collections::BTreeSet;

use paylink_domain::email::{Email, EmailStatus};
use paylink_domain::event::{Event, EventType};
use paylink_domain::id::*;

use super::fixtures::*;
use super::{link, merchant, page};
use crate::*;

/// This part's epoch (see `fixtures`).
const E: i64 = 300_000_000;

fn email(t: &Tenant, to: &str, status: EmailStatus, when: i64) -> Email {
    Email {
        id: EmailId::generate(),
        kind: "payment_link".into(),
        related_id: PaymentLinkId::generate().to_string(),
        to: to.into(),
        subject: "Your payment link".into(),
        text_body: "Pay here: https://pay.example/l/x".into(),
        html_body: "<p>Pay here</p>".into(),
        qr_url: Some("https://pay.example/l/x".into()),
        status,
        attempts: 0,
        last_error: None,
        livemode: t.livemode(),
        created_at: at(when),
    }
}

async fn emails(store: &dyn Store, t: &Tenant, status: Option<&str>) -> Vec<EmailId> {
    store
        .list_emails(t, status, true, &page(100))
        .await
        .unwrap()
        .data
        .into_iter()
        .map(|e| e.id)
        .collect()
}

async fn claim(store: &dyn Store, now: i64, limit: i64) -> Vec<Email> {
    store.claim_emails(at(now), limit, 60).await.unwrap()
}

pub async fn emails_outbox(store: &dyn Store) {
    let m = merchant("Mailer");
    store.create_merchant(&m, &[]).await.unwrap();
    let (t, live) = (
        Tenant::of_merchant(&m, false),
        Tenant::of_merchant(&m, true),
    );
    let other = super::tenant(store, "Mailer-other").await;

    // Queued with the event they cause, all or nothing.
    let e1 = email(&t, "a@example.com", EmailStatus::Pending, E);
    let e2 = email(&t, "b@example.com", EmailStatus::Pending, E + 1);
    let e3 = email(&t, "c@example.com", EmailStatus::Held, E + 2);
    let sent = Event::new(
        EventType::PaymentLinkSent,
        &serde_json::json!({"recipients": ["a@example.com", "b@example.com"]}),
        false,
        at(E),
    );
    store
        .queue_emails(
            &t,
            &[e1.clone(), e2.clone(), e3.clone()],
            std::slice::from_ref(&sent),
        )
        .await
        .unwrap();
    assert_eq!(store.get_event(&t, &sent.id).await.unwrap(), sent);
    let e4 = email(&live, "d@example.com", EmailStatus::Pending, E + 3);
    store
        .queue_emails(&live, std::slice::from_ref(&e4), &[])
        .await
        .unwrap();
    let e5 = email(&t, "e@example.com", EmailStatus::Pending, E + 4);
    let lost = Event::new(EventType::PaymentLinkSent, &e5, false, at(E + 4));
    assert!(store
        .queue_emails(&t, &[e5.clone(), e1.clone()], std::slice::from_ref(&lost))
        .await
        .is_err());
    assert!(matches!(
        store.get_event(&t, &lost.id).await,
        Err(StoreError::NotFound)
    ));

    // Listed newest first, by status, per tenant and mode, in pages.
    let listed = store.list_emails(&t, None, true, &page(10)).await.unwrap();
    assert_eq!(listed.data, vec![e3.clone(), e2.clone(), e1.clone()]);
    assert_eq!(
        emails(store, &t, Some("pending")).await,
        vec![e2.id.clone(), e1.id.clone()]
    );
    assert_eq!(emails(store, &t, Some("held")).await, vec![e3.id.clone()]);
    assert_eq!(emails(store, &live, None).await, vec![e4.id.clone()]);
    assert!(emails(store, &other, None).await.is_empty());
    let first = store.list_emails(&t, None, true, &page(1)).await.unwrap();
    assert!(first.has_more);
    let after = Page {
        limit: 1,
        starting_after: Some(e3.id.to_string()),
        ending_before: None,
    };
    let next = store.list_emails(&t, None, true, &after).await.unwrap();
    assert!(next.has_more && next.data[0].id == e2.id);
    let before = Page {
        limit: 5,
        starting_after: None,
        ending_before: Some(e1.id.to_string()),
    };
    let back = store.list_emails(&t, None, true, &before).await.unwrap();
    assert_eq!(
        back.data.into_iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![e3.id.clone(), e2.id.clone()]
    );
    for stranger in [&other, &live] {
        assert!(matches!(
            store.list_emails(stranger, None, true, &after).await,
            Err(StoreError::InvalidCursor)
        ));
    }
    // A person's account mail (a reset, an invitation) is listed only when asked for.
    let mut reset = email(&t, "f@example.com", EmailStatus::Held, E + 5);
    reset.kind = "password_reset".into();
    let mut invite = email(&t, "g@example.com", EmailStatus::Held, E + 6);
    invite.kind = "invitation".into();
    store
        .queue_emails(&t, &[reset.clone(), invite.clone()], &[])
        .await
        .unwrap();
    let all = store.list_emails(&t, None, true, &page(10)).await.unwrap();
    assert_eq!(all.data.len(), 5);
    let shown = store.list_emails(&t, None, false, &page(10)).await.unwrap();
    assert_eq!(shown.data, vec![e3.clone(), e2.clone(), e1.clone()]);
    let held = store
        .list_emails(&t, Some("held"), false, &page(10))
        .await
        .unwrap();
    assert_eq!(held.data, vec![e3.clone()]);

    // Claimed when due, every merchant's, never by two senders at once; held ones never.
    assert!(claim(store, E - 1, 10).await.is_empty());
    let (x, y) = both(claim(store, E + 10, 2), claim(store, E + 10, 2)).await;
    let ids = |v: &[Email]| v.iter().map(|e| e.id.clone()).collect::<BTreeSet<_>>();
    assert!(ids(&x).is_disjoint(&ids(&y)), "{x:?} and {y:?}");
    let mut claimed: Vec<Email> = x.into_iter().chain(y).collect();
    claimed.extend(claim(store, E + 10, 10).await);
    assert_eq!(
        ids(&claimed),
        BTreeSet::from([e1.id.clone(), e2.id.clone(), e4.id.clone()])
    );
    let e4_claimed = claimed.iter().find(|e| e.id == e4.id).unwrap();
    assert_eq!(*e4_claimed, e4);
    assert!(claim(store, E + 11, 10).await.is_empty());

    // Sent (as composed then); failed with a retry; sent as queued.
    let mut composed = e1.clone();
    composed.subject = "Your payment link, composed".into();
    store
        .finish_email(&e1.id, None, None, Some(&composed))
        .await
        .unwrap();
    store
        .finish_email(&e2.id, Some("451 try later"), Some(at(E + 100)), Some(&e2))
        .await
        .unwrap();
    store.finish_email(&e4.id, None, None, None).await.unwrap();
    let got = store
        .list_emails(&t, Some("sent"), true, &page(10))
        .await
        .unwrap();
    assert_eq!(got.data.len(), 1);
    assert_eq!(
        (
            got.data[0].subject.as_str(),
            got.data[0].status,
            got.data[0].attempts
        ),
        ("Your payment link, composed", EmailStatus::Sent, 1)
    );
    let live_sent = store
        .list_emails(&live, None, true, &page(10))
        .await
        .unwrap();
    assert_eq!(
        (live_sent.data[0].status, &live_sent.data[0].subject),
        (EmailStatus::Sent, &e4.subject)
    );
    assert!(claim(store, E + 99, 10).await.is_empty());
    let retry = claim(store, E + 100, 10).await;
    assert_eq!(retry.len(), 1);
    assert_eq!(
        (
            retry[0].id.clone(),
            retry[0].attempts,
            retry[0].last_error.as_deref()
        ),
        (e2.id.clone(), 1, Some("451 try later"))
    );
    store
        .finish_email(&e2.id, Some("550 no such user"), None, None)
        .await
        .unwrap();
    assert!(claim(store, E + 10_000, 10).await.is_empty());
    let failed = store
        .list_emails(&t, Some("failed"), true, &page(10))
        .await
        .unwrap();
    assert_eq!(failed.data.len(), 1);
    assert_eq!(
        (
            failed.data[0].attempts,
            failed.data[0].last_error.as_deref()
        ),
        (2, Some("550 no such user"))
    );

    // A receipt is queued bare and kept as composed when it is sent.
    let l = link(&t, "Receipted", "outbox-receipted");
    let s = session_of(&l, at(E + 200), 600);
    let p = payment_of(&s, None, at(E + 200));
    let receipt = Email::receipt_of(&p, "buyer@example.com", EmailStatus::Pending, at(E + 200));
    assert!(!receipt.is_composed());
    store
        .queue_emails(&t, std::slice::from_ref(&receipt), &[])
        .await
        .unwrap();
    let due = claim(store, E + 201, 10).await;
    assert_eq!(due, vec![receipt.clone()]);
    let mut written = receipt.clone();
    written.subject = "Your receipt R-000001".into();
    written.text_body = "Thank you".into();
    store
        .finish_email(&receipt.id, None, None, Some(&written))
        .await
        .unwrap();
    let sent = store
        .list_emails(&t, Some("sent"), true, &page(10))
        .await
        .unwrap();
    assert_eq!(sent.data.len(), 2);
    assert!(sent.data[0].is_composed());
    assert_eq!(
        (sent.data[0].id.clone(), sent.data[0].subject.as_str()),
        (receipt.id.clone(), "Your receipt R-000001")
    );

    events(store, &t, &live, &other, &sent_event(store, &t).await).await;
}

async fn sent_event(store: &dyn Store, t: &Tenant) -> Event {
    let only = EventFilter {
        kind: Some("payment_link.sent".into()),
        ..EventFilter::default()
    };
    let mut l = store.list_events(t, &only, &page(10)).await.unwrap();
    assert_eq!(l.data.len(), 1);
    l.data.remove(0)
}

/// Events by id and in pages, filtered by type and time, per tenant and mode.
async fn events(store: &dyn Store, t: &Tenant, live: &Tenant, other: &Tenant, sent: &Event) {
    let l = link(t, "Evented", "outbox-evented");
    let a = Event::new(EventType::PaymentLinkUpdated, &l, false, at(E + 5));
    let b = Event::new(EventType::PaymentLinkUpdated, &l, false, at(E + 6));
    store
        .queue_emails(t, &[], &[a.clone(), b.clone()])
        .await
        .unwrap();
    let ll = link(live, "Evented live", "outbox-evented-live");
    let in_live = Event::new(EventType::PaymentLinkUpdated, &ll, true, at(E + 7));
    store
        .queue_emails(live, &[], std::slice::from_ref(&in_live))
        .await
        .unwrap();

    assert_eq!(store.get_event(t, &a.id).await.unwrap(), a);
    assert_eq!(store.get_event(live, &in_live.id).await.unwrap(), in_live);
    for stranger in [live, other] {
        assert!(matches!(
            store.get_event(stranger, &a.id).await,
            Err(StoreError::NotFound)
        ));
    }
    let ids = |l: Listed<Event>| l.data.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let list = |f: EventFilter, p: Page| async move { store.list_events(t, &f, &p).await };
    // `a` and `b` are the latest two of the tenant's events (the batch's order inside).
    let first = list(EventFilter::default(), page(2)).await.unwrap();
    assert!(first.has_more);
    assert_eq!(
        ids(first).into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([a.id.clone(), b.id.clone()])
    );
    let updated = EventFilter {
        kind: Some("payment_link.updated".into()),
        ..EventFilter::default()
    };
    let both_ids = ids(list(updated.clone(), page(10)).await.unwrap());
    assert_eq!(both_ids.len(), 2);
    let (newer, older) = (&both_ids[0], &both_ids[1]);
    let after = Page {
        limit: 10,
        starting_after: Some(newer.to_string()),
        ending_before: None,
    };
    assert_eq!(
        ids(list(updated.clone(), after.clone()).await.unwrap()),
        vec![older.clone()]
    );
    let before = Page {
        limit: 10,
        starting_after: None,
        ending_before: Some(older.to_string()),
    };
    assert_eq!(
        ids(list(updated.clone(), before).await.unwrap()),
        vec![newer.clone()]
    );
    let since = EventFilter {
        created: Created {
            gte: Some(at(E + 6)),
            lte: None,
        },
        ..updated.clone()
    };
    assert_eq!(
        ids(list(since, page(10)).await.unwrap()),
        vec![b.id.clone()]
    );
    let until = EventFilter {
        created: Created {
            gte: Some(at(E)),
            lte: Some(at(E + 5)),
        },
        kind: None,
    };
    assert_eq!(
        ids(list(until, page(10)).await.unwrap()),
        vec![a.id.clone(), sent.id.clone()]
    );
    assert_eq!(
        ids(store
            .list_events(live, &EventFilter::default(), &page(10))
            .await
            .unwrap()),
        vec![in_live.id.clone()]
    );
    for stranger in [live, other] {
        assert!(matches!(
            store.list_events(stranger, &updated, &after).await,
            Err(StoreError::InvalidCursor)
        ));
    }
}
