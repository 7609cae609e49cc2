//! "Undo" of a cancellation at period end (`PATCH /v1/subscriptions/{id}`).

use paylink_domain::access::Role;

use crate::dashboard::Desk;
use crate::dashboard_forms::api_get;
use crate::helpers::TestApp;
use crate::subscriptions::{monthly, only_subscription, subscribe};

/// "Cancel at period end" taken back before the period ends: the subscription goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_takes_the_cancellation_back() {
    let app = TestApp::spawn(paylink_store_sql::testing::Backend::Sqlite).await;
    let slug = monthly(&app, 2000, 0).await;
    subscribe(&app, &slug, "4242424242424242").await;
    let id = only_subscription(&app).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let desk = Desk::signed_in(&app, Role::Owner, "owner@acme.example").await;
    let r = desk
        .post(
            &format!("/dashboard/subscriptions/{id}/period_end"),
            &[],
            true,
        )
        .await;
    assert_eq!(r.status, 303);
    let r = desk
        .post(&format!("/dashboard/subscriptions/{id}/undo"), &[], true)
        .await;
    assert_eq!(r.status, 303, "{}", r.page);
    let s = api_get(&app, &format!("/v1/subscriptions/{id}")).await;
    assert_eq!(
        (s["status"].as_str(), s["cancel_at_period_end"].as_bool()),
        (Some("active"), Some(false))
    );
    assert!(!s["next_charge_at"].is_null());
}
