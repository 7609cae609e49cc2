//! Webhook endpoints and deliveries: endpoints kept per tenant, every event queued for each
//! enabled endpoint that takes its type, deliveries claimed by one worker at a time,
//! retried, given up, disabling their endpoint; secrets rotated; events redelivered.

use std::collections::BTreeSet;

use paylink_domain::event::{Event, EventType};
use paylink_domain::id::*;
use paylink_domain::webhook::{EndpointStatus, WebhookEndpoint};

use super::fixtures::*;
use super::{link, merchant, page};
use crate::*;

/// This part's epoch (see `fixtures`).
const E: i64 = 400_000_000;

fn endpoint(t: &Tenant, url: &str, events: &[&str], status: EndpointStatus) -> WebhookEndpoint {
    WebhookEndpoint {
        id: WebhookEndpointId::generate(),
        url: url.into(),
        enabled_events: events.iter().map(|e| e.to_string()).collect(),
        description: Some(format!("hears {}", events.join(" "))),
        status,
        livemode: t.livemode(),
        created_at: at(E),
        updated_at: at(E),
    }
}

fn attempt(job: &DeliveryJob, when: i64, code: Option<u16>) -> DeliveryAttempt {
    DeliveryAttempt {
        event_id: job.event_id.clone(),
        attempted_at: at(when),
        status_code: code,
        latency_ms: 12,
        error: code.is_none().then(|| "connection refused".to_owned()),
    }
}

/// Claims what is due at `now` (locks of 60 s).
async fn claim(store: &dyn Store, now: i64) -> Vec<DeliveryJob> {
    store.claim_deliveries(at(now), 10, 60).await.unwrap()
}

/// The one job of `event` to `endpoint` among `jobs`.
fn job<'a>(
    jobs: &'a [DeliveryJob],
    event: &EventId,
    endpoint: &WebhookEndpoint,
) -> &'a DeliveryJob {
    let mut found = jobs
        .iter()
        .filter(|j| j.event_id == event.as_str() && j.endpoint_id == endpoint.id.as_str());
    let j = found
        .next()
        .expect("a delivery of the event to the endpoint");
    assert!(found.next().is_none(), "two deliveries of one event");
    j
}

pub async fn endpoints_and_deliveries(store: &dyn Store) {
    let m = merchant("Hooks");
    store.create_merchant(&m, &[]).await.unwrap();
    let (t, live) = (
        Tenant::of_merchant(&m, false),
        Tenant::of_merchant(&m, true),
    );
    let other = super::tenant(store, "Hooks-other").await;

    let all = endpoint(
        &t,
        "https://hooks.example/all",
        &["*"],
        EndpointStatus::Enabled,
    );
    let paid = endpoint(
        &t,
        "https://hooks.example/paid",
        &["payment.succeeded", "payment.failed"],
        EndpointStatus::Enabled,
    );
    // `_` of an event type is no wildcard: this one hears no `payment_link.created`.
    let odd = endpoint(
        &t,
        "https://hooks.example/odd",
        &["payment-link.created"],
        EndpointStatus::Enabled,
    );
    let off = endpoint(
        &t,
        "https://hooks.example/off",
        &["*"],
        EndpointStatus::Disabled,
    );
    let in_live = endpoint(
        &live,
        "https://hooks.example/live",
        &["*"],
        EndpointStatus::Enabled,
    );
    for (e, secret) in [
        (&all, "whsec_all"),
        (&paid, "whsec_paid"),
        (&odd, "whsec_odd"),
        (&off, "whsec_off"),
    ] {
        store.insert_webhook_endpoint(&t, e, secret).await.unwrap();
    }
    store
        .insert_webhook_endpoint(&live, &in_live, "whsec_live")
        .await
        .unwrap();
    assert!(matches!(
        store.insert_webhook_endpoint(&t, &all, "whsec_again").await,
        Err(StoreError::Conflict(Conflict::DuplicateObject))
    ));
    endpoint_reads(store, &t, &other, &live, [&all, &paid, &odd, &off]).await;

    // Events written with changes, in both modes.
    let l = link(&t, "Hooked", "hooks-link");
    let created = Event::new(EventType::PaymentLinkCreated, &l, false, at(E));
    store
        .insert_payment_link(&t, &l, std::slice::from_ref(&created), None)
        .await
        .unwrap();
    let succeeded = Event::new(EventType::PaymentSucceeded, &l, false, at(E));
    store
        .queue_emails(&t, &[], std::slice::from_ref(&succeeded))
        .await
        .unwrap();
    let ll = link(&live, "Hooked live", "hooks-live-link");
    let live_created = Event::new(EventType::PaymentLinkCreated, &ll, true, at(E));
    store
        .insert_payment_link(&live, &ll, std::slice::from_ref(&live_created), None)
        .await
        .unwrap();

    // Nothing is due before its time. Two workers claiming at once never share a job.
    assert!(claim(store, E - 1).await.is_empty());
    let (x, y) = both(claim(store, E + 5), claim(store, E + 5)).await;
    let ids = |jobs: &[DeliveryJob]| {
        jobs.iter()
            .map(|j| j.delivery_id.clone())
            .collect::<BTreeSet<_>>()
    };
    assert!(ids(&x).is_disjoint(&ids(&y)), "{x:?} and {y:?}");
    let jobs: Vec<DeliveryJob> = x.into_iter().chain(y).collect();
    assert_eq!(jobs.len(), 4, "{jobs:?}");
    let a = job(&jobs, &created.id, &all).clone();
    let b = job(&jobs, &succeeded.id, &all).clone();
    let c = job(&jobs, &succeeded.id, &paid).clone();
    let d = job(&jobs, &live_created.id, &in_live).clone();
    assert_eq!(a.tenant, t);
    assert_eq!(d.tenant, live);
    assert_eq!(
        serde_json::from_str::<Event>(&a.body).unwrap(),
        created.clone()
    );
    assert_eq!(
        (
            a.url.as_str(),
            a.secrets.clone(),
            a.attempts,
            a.failing_since
        ),
        (
            "https://hooks.example/all",
            vec!["whsec_all".to_owned()],
            0,
            None
        )
    );
    // Claimed: nobody else takes them while the claim lasts.
    assert!(claim(store, E + 6).await.is_empty());

    // Delivered; failed and retried later; failed by a connection error; failed for so
    // long that the endpoint is disabled.
    let finish = |j: &DeliveryJob, when: i64, code: Option<u16>, next: DeliveryNext, off: bool| {
        let (j, a) = (j.clone(), attempt(j, when, code));
        async move { store.finish_delivery(&j, &a, next, off).await.unwrap() }
    };
    finish(&a, E + 7, Some(200), DeliveryNext::Succeeded, false).await;
    finish(
        &b,
        E + 8,
        Some(500),
        DeliveryNext::RetryAt(at(E + 100)),
        false,
    )
    .await;
    finish(&c, E + 9, None, DeliveryNext::RetryAt(at(E + 50)), false).await;
    finish(
        &d,
        E + 10,
        Some(410),
        DeliveryNext::RetryAt(at(E + 500)),
        true,
    )
    .await;
    assert_eq!(
        store
            .get_webhook_endpoint(&live, &in_live.id)
            .await
            .unwrap()
            .status,
        EndpointStatus::Disabled
    );
    let disabled = EventFilter {
        kind: Some("webhook_endpoint.disabled".into()),
        ..EventFilter::default()
    };
    let ev = store
        .list_events(&live, &disabled, &page(10))
        .await
        .unwrap();
    assert_eq!(ev.data.len(), 1);
    assert_eq!(ev.data[0].data.object["id"], in_live.id.as_str());
    assert!(store
        .list_events(&t, &disabled, &page(10))
        .await
        .unwrap()
        .data
        .is_empty());

    // Each retry when it is due, with its attempts so far and its endpoint's failing clock.
    let again = claim(store, E + 60).await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0].delivery_id, c.delivery_id);
    assert_eq!(
        (again[0].attempts, again[0].failing_since),
        (1, Some(at(E + 9)))
    );
    finish(&again[0], E + 61, Some(500), DeliveryNext::Failed, false).await;
    // A rotated secret: the old one still signs until the overlap ends.
    assert!(matches!(
        store
            .rotate_webhook_secret(&other, &all.id, "whsec_theirs", at(E + 150))
            .await,
        Err(StoreError::NotFound)
    ));
    store
        .rotate_webhook_secret(&t, &all.id, "whsec_new", at(E + 150))
        .await
        .unwrap();
    let again = claim(store, E + 100).await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0].delivery_id, b.delivery_id);
    assert_eq!(
        (
            again[0].attempts,
            again[0].failing_since,
            again[0].secrets.clone()
        ),
        (
            1,
            Some(at(E + 8)),
            vec!["whsec_new".to_owned(), "whsec_all".to_owned()]
        )
    );
    finish(
        &again[0],
        E + 101,
        Some(503),
        DeliveryNext::RetryAt(at(E + 200)),
        false,
    )
    .await;
    let again = claim(store, E + 200).await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(
        (again[0].attempts, again[0].secrets.clone()),
        (2, vec!["whsec_new".to_owned()])
    );
    finish(
        &again[0],
        E + 201,
        Some(204),
        DeliveryNext::Succeeded,
        false,
    )
    .await;
    // Delivered, given up, stopped with their endpoint: nothing more to do.
    assert!(claim(store, E + 600).await.is_empty());

    // Attempts per endpoint, newest first, for the endpoint's tenant only.
    let tried = store
        .list_delivery_attempts(&t, &all.id, &page(10))
        .await
        .unwrap();
    assert!(!tried.has_more);
    let when = |l: &Listed<DeliveryAttempt>| {
        l.data
            .iter()
            .map(|a| (a.attempted_at.unix() - E, a.status_code))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        when(&tried),
        vec![
            (201, Some(204)),
            (101, Some(503)),
            (8, Some(500)),
            (7, Some(200))
        ]
    );
    assert_eq!(tried.data[3], attempt(&a, E + 7, Some(200)));
    let two = store
        .list_delivery_attempts(&t, &all.id, &page(2))
        .await
        .unwrap();
    assert!(two.has_more && two.data.len() == 2);
    let failed = store
        .list_delivery_attempts(&t, &paid.id, &page(10))
        .await
        .unwrap();
    assert_eq!(when(&failed), vec![(61, Some(500)), (9, None)]);
    assert_eq!(failed.data[1].error.as_deref(), Some("connection refused"));
    for stranger in [&other, &live] {
        assert!(matches!(
            store
                .list_delivery_attempts(stranger, &all.id, &page(10))
                .await,
            Err(StoreError::NotFound)
        ));
    }

    redeliveries(store, &t, &other, &all, &paid, &succeeded).await;
    deletion(store, &t, &other, &all, &created).await;
}

async fn endpoint_reads(
    store: &dyn Store,
    t: &Tenant,
    other: &Tenant,
    live: &Tenant,
    [all, paid, odd, off]: [&WebhookEndpoint; 4],
) {
    assert_eq!(store.get_webhook_endpoint(t, &all.id).await.unwrap(), *all);
    assert_eq!(store.get_webhook_endpoint(t, &off.id).await.unwrap(), *off);
    for stranger in [other, live] {
        assert!(matches!(
            store.get_webhook_endpoint(stranger, &all.id).await,
            Err(StoreError::NotFound)
        ));
    }
    let ids = |l: Listed<WebhookEndpoint>| l.data.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let first = store.list_webhook_endpoints(t, &page(3)).await.unwrap();
    assert!(first.has_more);
    assert_eq!(
        ids(first),
        vec![off.id.clone(), odd.id.clone(), paid.id.clone()]
    );
    let after = Page {
        limit: 3,
        starting_after: Some(paid.id.to_string()),
        ending_before: None,
    };
    let rest = store.list_webhook_endpoints(t, &after).await.unwrap();
    assert!(!rest.has_more);
    assert_eq!(ids(rest), vec![all.id.clone()]);
    let before = Page {
        limit: 10,
        starting_after: None,
        ending_before: Some(odd.id.to_string()),
    };
    assert_eq!(
        ids(store.list_webhook_endpoints(t, &before).await.unwrap()),
        vec![off.id.clone()]
    );
    assert!(matches!(
        store.list_webhook_endpoints(other, &after).await,
        Err(StoreError::InvalidCursor)
    ));
    assert_eq!(
        store
            .list_webhook_endpoints(live, &page(10))
            .await
            .unwrap()
            .data
            .len(),
        1
    );
    // Updates write what they are given, for the endpoint's tenant only.
    let mut changed = odd.clone();
    changed.url = "https://hooks.example/odd-2".into();
    changed.description = None;
    changed.updated_at = at(E + 1);
    assert!(matches!(
        store.update_webhook_endpoint(other, &changed).await,
        Err(StoreError::NotFound)
    ));
    store.update_webhook_endpoint(t, &changed).await.unwrap();
    assert_eq!(
        store.get_webhook_endpoint(t, &odd.id).await.unwrap(),
        changed
    );
}

/// Redelivery queues the event again for the endpoints that take it now.
async fn redeliveries(
    store: &dyn Store,
    t: &Tenant,
    other: &Tenant,
    all: &WebhookEndpoint,
    paid: &WebhookEndpoint,
    succeeded: &Event,
) {
    for (tenant, id) in [(other, succeeded.id.clone()), (t, EventId::generate())] {
        assert!(matches!(
            store.redeliver_event(tenant, &id, at(E + 300)).await,
            Err(StoreError::NotFound)
        ));
    }
    assert_eq!(
        store
            .redeliver_event(t, &succeeded.id, at(E + 300))
            .await
            .unwrap(),
        2
    );
    let jobs = claim(store, E + 300).await;
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    let to_all = job(&jobs, &succeeded.id, all);
    let to_paid = job(&jobs, &succeeded.id, paid);
    // Fresh deliveries: no attempts yet; `all` last succeeded, `paid` has been failing.
    assert_eq!((to_all.attempts, to_all.failing_since), (0, None));
    assert_eq!(to_paid.failing_since, Some(at(E + 9)));
    for j in [to_all, to_paid] {
        let a = attempt(j, E + 301, Some(200));
        store
            .finish_delivery(j, &a, DeliveryNext::Succeeded, false)
            .await
            .unwrap();
    }
    // A disabled endpoint takes none; an endpoint written enabled has its failing clock
    // cleared.
    let mut paused = paid.clone();
    paused.status = EndpointStatus::Disabled;
    store.update_webhook_endpoint(t, &paused).await.unwrap();
    assert_eq!(
        store
            .redeliver_event(t, &succeeded.id, at(E + 310))
            .await
            .unwrap(),
        1
    );
    let jobs = claim(store, E + 310).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let a = attempt(&jobs[0], E + 311, Some(500));
    store
        .finish_delivery(&jobs[0], &a, DeliveryNext::Failed, false)
        .await
        .unwrap();
    let mut resumed = paid.clone();
    resumed.status = EndpointStatus::Enabled;
    store.update_webhook_endpoint(t, &resumed).await.unwrap();
    // `all` failed that one: written again (enabled), its clock starts afresh.
    let mut enabled_all = all.clone();
    enabled_all.description = Some("still hears everything".into());
    store
        .update_webhook_endpoint(t, &enabled_all)
        .await
        .unwrap();
    assert_eq!(
        store
            .redeliver_event(t, &succeeded.id, at(E + 320))
            .await
            .unwrap(),
        2
    );
    let jobs = claim(store, E + 320).await;
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    for j in &jobs {
        assert_eq!(j.failing_since, None, "{j:?}");
        let a = attempt(j, E + 321, Some(200));
        store
            .finish_delivery(j, &a, DeliveryNext::Succeeded, false)
            .await
            .unwrap();
    }
}

/// Deleting an endpoint takes its deliveries and attempts with it.
async fn deletion(
    store: &dyn Store,
    t: &Tenant,
    other: &Tenant,
    all: &WebhookEndpoint,
    created: &Event,
) {
    assert!(matches!(
        store.delete_webhook_endpoint(other, &all.id).await,
        Err(StoreError::NotFound)
    ));
    // A delivery still pending when it goes.
    assert_eq!(
        store
            .redeliver_event(t, &created.id, at(E + 400))
            .await
            .unwrap(),
        1
    );
    store.delete_webhook_endpoint(t, &all.id).await.unwrap();
    assert!(matches!(
        store.get_webhook_endpoint(t, &all.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.list_delivery_attempts(t, &all.id, &page(10)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_webhook_endpoint(t, &all.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(claim(store, E + 400).await.is_empty());
    assert_eq!(
        store
            .list_webhook_endpoints(t, &page(10))
            .await
            .unwrap()
            .data
            .len(),
        3
    );
}
