//! The subscriptions list and a subscription's page in Chromium at 1280 and 390 px, through
//! axe-core, with a screenshot each: a trial, then "Cancel now" asking first, and the test
//! clock running the trial into a paid period.

use fantoccini::Locator;

use paylink_domain::access::Role;
use paylink_domain::time::Timestamp;

use crate::accounts::{member, PW};
use crate::helpers::TestApp;
use crate::subscriptions::{monthly, only_subscription, subscribe};

/// Asserts the page is no wider than the window (a table's own scroll box aside).
async fn fits(c: &fantoccini::Client, name: &str) {
    let out = c
        .execute(
            "const w = document.documentElement.clientWidth;
             const wide = [...document.querySelectorAll('body *')]
               .filter(e => e.getBoundingClientRect().right > w + 1 && !(e.parentElement && e.parentElement.closest('.scroll')))
               .map(e => e.tagName + '#' + e.id + '.' + e.className);
             return [document.documentElement.scrollWidth, w, wide.slice(0, 8).join(' | ')];",
            vec![],
        )
        .await
        .unwrap();
    let (scroll, width) = (out[0].as_i64().unwrap(), out[1].as_i64().unwrap());
    assert!(scroll <= width, "{name}: {scroll} > {width}: {}", out[2]);
}

async fn scroll_to(c: &fantoccini::Client, id: &str) {
    c.execute(
        "document.getElementById(arguments[0]).scrollIntoView();",
        vec![serde_json::json!(id)],
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_pages_pass_axe_at_both_widths() {
    use crate::browser::{browser, click, text, wait_text};
    use crate::look::{axe_source, look};
    let app = TestApp::spawn(paylink_store_sql::testing::Backend::Sqlite).await;
    let axe = axe_source();
    member(&app, None, Role::Owner, "owner@acme.example").await;
    let slug = monthly(&app, 1500, 14).await;
    subscribe(&app, &slug, "4242424242424242").await;
    let sub = only_subscription(&app).await;
    let id = sub["id"].as_str().unwrap().to_owned();
    let trial_end = Timestamp::parse(sub["trial_end"].as_str().unwrap()).unwrap();
    for n in 0..3 {
        let other = monthly(&app, 900 + n * 100, 0).await;
        subscribe(&app, &other, "4242424242424242").await;
    }
    for (width, device) in [(1280, "desktop"), (390, "phone")] {
        let Some(b) = browser(width).await else {
            return;
        };
        let c = &b.client;
        let axe = axe.as_deref();
        crate::dashboard_day::sign_in_at(
            c,
            &app.base,
            "/dashboard/subscriptions",
            "owner@acme.example",
            PW,
        )
        .await;
        look(c, axe, "dashboard-subscriptions", device).await;
        fits(c, "subscriptions").await;
        c.goto(&format!("{}/dashboard/subscriptions/{id}", app.base))
            .await
            .unwrap();
        look(c, axe, "dashboard-subscription", device).await;
        fits(c, "subscription").await;
        c.goto(&format!("{}/dashboard/settings", app.base))
            .await
            .unwrap();
        scroll_to(c, "subscriptions-heading").await;
        look(c, axe, "dashboard-settings-subscriptions", device).await;
        c.goto(&format!("{}/dashboard/subscriptions/{id}", app.base))
            .await
            .unwrap();
        if device == "desktop" {
            // "Cancel now" asks first; dismissed, nothing happens.
            click(c, "#cancel-now").await;
            c.dismiss_alert().await.unwrap();
            assert!(c.find(Locator::Css("#cancel-now")).await.is_ok());
            // The test clock: a day after the trial, the first period is paid.
            let to: String = trial_end
                .plus_seconds(86_400)
                .to_rfc3339()
                .chars()
                .take(16)
                .collect();
            c.execute(
                "document.getElementById('clock-to').value = arguments[0];",
                vec![serde_json::json!(to)],
            )
            .await
            .unwrap();
            click(c, "#advance").await;
            wait_text(c, "#status", "active").await;
            look(c, axe, "dashboard-subscription-renewed", device).await;
            scroll_to(c, "its-payments").await;
            look(c, None, "dashboard-subscription-payments", device).await;
            // The renewal's own page names the subscription.
            click(c, "#payments a").await;
            text(c, "#subscription").await;
            assert!(text(c, "#subscription").await.ends_with("(renewal)"));
            look(c, axe, "dashboard-subscription-payment", device).await;
            c.back().await.unwrap();
            text(c, "#cancel-at-period-end").await;
            // Set to end at the period's end.
            click(c, "#cancel-at-period-end").await;
            text(c, "#undo").await;
            assert!(text(c, "#ending").await.contains("Set to cancel"));
            look(c, axe, "dashboard-subscription-ending", device).await;
        }
    }
}
