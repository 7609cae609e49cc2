//! The dashboard's reports: the funnel of a window (views a day, checkouts started and
//! payments from their rows) and what needs attention, a merchant's and mode's alone.

use paylink_domain::time::Timestamp;

use super::fixtures::*;
use super::{link, merchant};
use crate::*;

const DAY: i64 = 86_400;

pub async fn funnel_and_attention(store: &dyn Store) {
    let m = merchant("Reporter");
    store.create_merchant(&m, &[]).await.unwrap();
    let t = Tenant::of_merchant(&m, false);
    let live = Tenant::of_merchant(&m, true);
    let now = Timestamp::now();
    let later = |days: i64| Timestamp::from_unix(now.unix() + days * DAY);

    let mut soon = link(&t, "Soon", "report-soon");
    soon.expires_at = Some(later(2));
    let mut gone = link(&t, "Gone", "report-gone");
    gone.expires_at = Some(later(3));
    let mut far = link(&t, "Far", "report-far");
    far.expires_at = Some(later(30));
    let mut nearly = link(&t, "Nearly", "report-nearly");
    nearly.payments_limit = Some(5);
    let mut plenty = link(&t, "Plenty", "report-plenty");
    plenty.payments_limit = Some(10);
    let mut elsewhere = link(&live, "Live", "report-live");
    elsewhere.expires_at = Some(later(1));
    for (tenant, l) in [
        (&t, &soon),
        (&t, &gone),
        (&t, &far),
        (&t, &nearly),
        (&t, &plenty),
        (&live, &elsewhere),
    ] {
        store
            .insert_payment_link(tenant, l, &[], None)
            .await
            .unwrap();
    }
    // Four of five uses paid, one of ten; and a checkout left open on `soon`.
    for l in [&nearly, &nearly, &nearly, &nearly, &plenty] {
        let s = open(store, &t, l, now, 3600).await.unwrap();
        pay(store, &t, l, &s, now).await;
    }
    open(store, &t, &soon, now, 3600).await.unwrap();
    store
        .add_views(&[
            (soon.id.clone(), 7),
            (nearly.id.clone(), 3),
            (elsewhere.id.clone(), 4),
        ])
        .await
        .unwrap();

    let since = Timestamp::from_unix(now.unix() - DAY);
    let funnel = |tenant: Tenant| async move {
        store
            .payments_report(&tenant, since, None, 5)
            .await
            .unwrap()
            .funnel
            .unwrap()
    };
    assert_eq!(
        funnel(t.clone()).await,
        Funnel {
            views: 10,
            checkouts_started: 6,
            payments: 5
        }
    );
    assert_eq!(
        funnel(live.clone()).await,
        Funnel {
            views: 4,
            checkouts_started: 0,
            payments: 0
        }
    );
    // A window that starts tomorrow has nothing in it.
    let empty = store
        .payments_report(&t, later(1), None, 5)
        .await
        .unwrap()
        .funnel;
    assert_eq!(empty, Some(Funnel::default()));

    let a = store.attention(&t, now, later(7), 5, 5).await.unwrap();
    let ids = |l: &[LinkUses]| {
        l.iter()
            .map(|u| u.payment_link_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&a.expiring), vec![soon.id.clone(), gone.id.clone()]);
    assert_eq!(ids(&a.selling_out), vec![nearly.id.clone()]);
    assert_eq!(
        (
            a.selling_out[0].payments_limit,
            a.selling_out[0].payments_count
        ),
        (Some(5), 4)
    );
    // Each payment queued its receipt, held for want of SMTP.
    assert_eq!((a.endpoints.len(), a.held_emails), (0, 5));
    let a = store.attention(&live, now, later(7), 5, 5).await.unwrap();
    assert_eq!(ids(&a.expiring), vec![elsewhere.id.clone()]);
    assert!(a.selling_out.is_empty() && a.held_emails == 0);
    // Another merchant sees none of it; a deleted link needs nothing.
    let other = Tenant::of_merchant(&merchant("Nobody"), false);
    assert_eq!(
        store.attention(&other, now, later(7), 5, 5).await.unwrap(),
        Attention::default()
    );
    store
        .delete_payment_link(&t, &gone.id, now, &[])
        .await
        .unwrap();
    let a = store.attention(&t, now, later(7), 5, 5).await.unwrap();
    assert_eq!(ids(&a.expiring), vec![soon.id.clone()]);
}
