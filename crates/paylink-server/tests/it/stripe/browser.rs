//! A customer pays through Stripe's Payment Element (localstripe's stand-in for it) on the
//! hosted pages, in Chromium, with 3-D Secure; and the database as a dump would show it.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::json;

use super::{stripe_app, PK};
use crate::browser::{browser, click, fill, text, wait_text};
use crate::helpers::TestApp;
use crate::look::{axe_source, look};
use paylink_store_sql::testing::Backend;

/// Everything the database holds, as text (see [`crate::hygiene::dump`]).
pub async fn database_dump(app: &TestApp) -> String {
    let bytes = crate::hygiene::dump_url(&app.db_url, app.backend).await;
    String::from_utf8_lossy(&bytes).into_owned()
}

async fn pays_through_the_payment_element(backend: Backend) {
    let (app, peer) = stripe_app(backend).await;
    let axe = axe_source();
    app.patch(
        "/v1/settings",
        json!({"business_name": "Acme Pottery", "brand_color": "#0b6e4f"}),
    )
    .await
    .ok(200);
    let link = app.custom_link("Stoneware mug", 3200).await;
    let url = format!("{}/l/{}", app.base, link["slug"].as_str().unwrap());
    for (width, device) in [(1280, "desktop"), (390, "phone")] {
        let Some(b) = browser(width).await else {
            return;
        };
        let c = &b.client;
        c.goto(&url).await.unwrap();
        // No card fields of ours: the card is typed into Stripe's form on the next page.
        assert!(c.find(Locator::Css("#card_number")).await.is_err());
        fill(c, "#email", "mugs@example.com").await;
        wait_text(c, "#pay", "Continue to payment").await;
        click(c, "#pay").await;
        // Stripe's Payment Element, mounted by Stripe.js from its own origin.
        c.wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("#ls-card-number"))
            .await
            .unwrap();
        let csp = app
            .client
            .get(c.current_url().await.unwrap().as_str())
            .send()
            .await
            .unwrap()
            .headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        let origin = peer.base.clone();
        assert!(
            csp.contains(&format!("script-src 'self' {origin}")),
            "{csp}"
        );
        assert!(
            csp.contains(&format!("connect-src 'self' {origin}")),
            "{csp}"
        );
        let source = c.source().await.unwrap();
        assert!(source.contains(PK) && !source.contains(super::SK));
        look(c, axe.as_deref(), "stripe-payment-element", device).await;
        fill(c, "#ls-card-number", "4000002500003155").await;
        fill(c, "#ls-card-expiry", "12/34").await;
        fill(c, "#ls-card-cvc", "123").await;
        click(c, "#pay").await;
        // 3-D Secure, run by Stripe.js.
        c.wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("#localstripe-3ds-complete"))
            .await
            .unwrap();
        look(c, None, "stripe-three-d-secure", device).await;
        click(c, "#localstripe-3ds-complete").await;
        wait_text(c, "#status", "Paid").await;
        assert_eq!(text(c, "#receipt-title").await, "Stoneware mug");
        assert!(text(c, "#paid-with").await.contains("4"), "card shown");
        look(c, axe.as_deref(), "stripe-receipt", device).await;
    }
    let paid = app.get("/v1/payments?status=succeeded").await;
    let data = paid.ok(200)["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "one payment per customer");
    assert!(data
        .iter()
        .all(|p| p["processor"] == "stripe" && p["amount"] == 3200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_pays_through_stripes_payment_element_sqlite() {
    pays_through_the_payment_element(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_pays_through_stripes_payment_element_postgres() {
    pays_through_the_payment_element(Backend::Postgres).await;
}
