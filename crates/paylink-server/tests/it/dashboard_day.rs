//! A merchant's whole day in the dashboard, in Chromium, on both backends: sign in, make a
//! product and a link to it (the preview following what is typed), a customer pays it in a
//! second browser (a phone), the payment, the link's numbers and the home page's chart
//! change, part of it is refunded, a teammate invited as `viewer` sees the payment but no
//! refund, and the day ends with signing out. Screenshots `dashboard-day-*`, axe on each.

use std::time::Duration;

use fantoccini::{Client, Locator};

use paylink_domain::access::Role;

use crate::accounts::{member, PW};
use crate::both;
use crate::browser::{browser, click, fill, pay_with, text, value, wait_text};
use crate::helpers::TestApp;
use crate::look::{axe_source, look};

both!(a_merchant_s_day_in_the_dashboard);

/// Waits until the browser is at `path` (after a form's `303`).
async fn arrive(c: &Client, path: &str) {
    for _ in 0..200 {
        if c.current_url().await.unwrap().path() == path {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "expected to arrive at {path}, at {}",
        c.current_url().await.unwrap()
    );
}

/// Waits until the browser is at a page under `prefix` other than `not` (a new object's).
async fn arrive_under(c: &Client, prefix: &str, not: &str) -> url::Url {
    for _ in 0..200 {
        let at = c.current_url().await.unwrap();
        if at.path().starts_with(prefix) && at.path() != not {
            return at;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "expected a page under {prefix}, at {}",
        c.current_url().await.unwrap()
    );
}

async fn sign_in(c: &Client, base: &str, email: &str, password: &str) {
    sign_in_at(c, base, "/dashboard", email, password).await;
}

/// Opens `path` signed out, signs in on the page it leads to, and waits to be back at it.
pub(crate) async fn sign_in_at(c: &Client, base: &str, path: &str, email: &str, password: &str) {
    c.goto(&format!("{base}{path}")).await.unwrap();
    arrive(c, "/login").await;
    fill(c, "#email", email).await;
    fill(c, "#password", password).await;
    click(c, "#submit").await;
    arrive(c, path).await;
}

async fn absent(c: &Client, css: &str) -> bool {
    c.find(Locator::Css(css)).await.is_err()
}

async fn a_merchant_s_day_in_the_dashboard(app: TestApp) {
    let axe = axe_source();
    let axe = axe.as_deref();
    member(&app, None, Role::Owner, "owner@acme.example").await;
    let Some(desk) = browser(1280).await else {
        return;
    };
    let c = &desk.client;
    let base = app.base.clone();

    // Morning: sign in, and the home page has nothing yet.
    sign_in(c, &base, "owner@acme.example", PW).await;
    assert!(text(c, "#no-takings").await.contains("No payments"));

    // A product with stock, then a link that sells it; the preview follows the typing.
    c.goto(&format!("{base}/dashboard/products/new"))
        .await
        .unwrap();
    fill(c, "#name", "Ceramic mug").await;
    fill(c, "#price", "18.00").await;
    fill(c, "#stock", "10").await;
    look(c, axe, "dashboard-day-product-new", "desktop").await;
    click(c, "#save").await;
    arrive_under(c, "/dashboard/products/prod_", "").await;
    assert_eq!(value(c, "#stock").await, "10");
    click(c, "#sell").await;
    arrive(c, "/dashboard/links/new").await;
    fill(c, "#title", "Mugs for the office").await;
    wait_text(c, "#lp-title", "Mugs for the office").await;
    assert!(text(c, "#lp-price").await.contains("Ceramic mug"));
    // Fields of other types are hidden while a products link is chosen.
    assert!(!c
        .find(Locator::Css("#presets"))
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap());
    look(c, axe, "dashboard-day-link-new", "desktop").await;
    click(c, "#create").await;
    let link_page = arrive_under(c, "/dashboard/links/", "/dashboard/links/new").await;
    let url = value(c, "#url").await;
    assert_eq!(text(c, "#payments-count").await, "0");

    // A customer opens the link on a phone (another browser) and pays.
    let Some(phone) = browser(390).await else {
        return;
    };
    let p = &phone.client;
    p.goto(&url).await.unwrap();
    assert_eq!(text(p, "h1").await, "Mugs for the office");
    fill(p, "#email", "customer@example.com").await;
    pay_with(p, "4242 4242 4242 4242").await;
    assert_eq!(text(p, "#receipt-total").await, "$18.00");
    look(p, axe, "dashboard-day-customer-receipt", "phone").await;

    // The merchant sees it: the link's numbers, the home page's chart, the payment.
    c.goto(link_page.as_str()).await.unwrap();
    assert_eq!(text(c, "#payments-count").await, "1");
    assert_eq!(text(c, "#collected").await, "$18.00");
    assert_eq!(text(c, "#views").await, "1");
    look(c, axe, "dashboard-day-link-paid", "desktop").await;
    c.goto(&format!("{base}/dashboard")).await.unwrap();
    assert!(absent(c, "#no-takings").await);
    let chart = text(c, "#takings-USD").await;
    assert!(chart.contains("$18.00"), "{chart}");
    assert!(text(c, "#payments").await.contains("customer@example.com"));
    look(c, axe, "dashboard-day-home", "desktop").await;
    click(c, "#payments a").await;
    let payment_page = arrive_under(c, "/dashboard/payments/", "").await;

    // Part of it goes back.
    fill(c, "#refund-amount", "5.00").await;
    click(c, "#do-refund").await;
    // The page asks first (the refund cannot be undone).
    c.accept_alert().await.unwrap();
    wait_text(c, "#refunded", "$5.00").await;
    assert_eq!(value(c, "#refund-amount").await, "13.00");
    look(c, axe, "dashboard-day-refunded", "desktop").await;

    // A teammate joins as a viewer: sees the payment, may not refund.
    c.goto(&format!("{base}/dashboard/team")).await.unwrap();
    fill(c, "#invite-email", "viewer@acme.example").await;
    click(c, "#invite").await;
    arrive(c, "/dashboard/team").await;
    assert!(text(c, "#invitations")
        .await
        .contains("viewer@acme.example"));
    let token = crate::team::mailed_token_at(
        &base,
        &app.key,
        &app.master_key,
        "invitation",
        "viewer@acme.example",
    )
    .await;
    p.goto(&format!("{base}/invite/{token}")).await.unwrap();
    fill(p, "#name", "Vi Ewer").await;
    fill(p, "#password", "a long viewer password").await;
    click(p, "#submit").await;
    arrive(p, "/login").await;
    sign_in(p, &base, "viewer@acme.example", "a long viewer password").await;
    p.goto(payment_page.as_str()).await.unwrap();
    assert_eq!(text(p, "#refunded").await, "$5.00");
    assert!(
        absent(p, "#refund-form").await,
        "a viewer is offered no refund"
    );
    assert!(text(p, "#who").await.contains("viewer"));
    look(p, axe, "dashboard-day-viewer-payment", "phone").await;
    // Nor can the viewer's browser send one (the page never offered the form; the
    // dashboard refuses it too).
    p.execute(
        "const f = document.createElement('form');
         f.method = 'post';
         f.action = location.pathname + '/refund';
         for (const [k, v] of [['amount', '1.00'],
                               ['csrf', document.querySelector('form.mode input[name=csrf]').value]]) {
           const i = document.createElement('input');
           i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
         }
         document.body.appendChild(f);
         f.submit();",
        vec![],
    )
    .await
    .unwrap();
    let why = text(p, "#error").await;
    assert!(why.contains("viewer"), "{why}");
    assert_eq!(text(p, "#refunded").await, "$5.00");
    c.goto(payment_page.as_str()).await.unwrap();
    assert_eq!(text(c, "#refunded").await, "$5.00");

    // Evening: sign out, and the dashboard asks to sign in again.
    click(c, "#sign-out").await;
    arrive(c, "/login").await;
    c.goto(&format!("{base}/dashboard/payments")).await.unwrap();
    arrive(c, "/login").await;
}

/// The catalog and link forms at desktop and phone width, with axe: a new product, a
/// product's page, tax rates, the new link form in each of its types, the edit form, and a
/// link's page with its send form (`dashboard-form-*` screenshots).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forms_pass_axe_at_both_widths() {
    let app = crate::browser::app().await;
    let axe = axe_source();
    let axe = axe.as_deref();
    member(&app, None, Role::Owner, "owner@acme.example").await;
    let product = app
        .create(
            "/v1/products",
            serde_json::json!({"name": "Ceramic mug", "unit_amount": 1800, "inventory": {"available": 12},
                               "image_url": "https://img.example/mug.png", "description": "Glazed by hand."}),
        )
        .await;
    app.create(
        "/v1/tax_rates",
        serde_json::json!({"display_name": "VAT", "percentage": "20", "inclusive": true}),
    )
    .await;
    let customer = app
        .create(
            "/v1/customers",
            serde_json::json!({"email": "ana@example.com", "name": "Ana Lima"}),
        )
        .await;
    let order = app
        .create(
            "/v1/orders",
            serde_json::json!({"customer_id": customer["id"], "line_items": [
                {"product_id": product["id"], "quantity": 2},
                {"name": "Gift wrap", "unit_amount": 250}]}),
        )
        .await;
    let (cid, oid) = (
        customer["id"].as_str().unwrap().to_owned(),
        order["id"].as_str().unwrap().to_owned(),
    );
    let link = app.custom_link("Gift card", 5000).await;
    let (pid, lid) = (
        product["id"].as_str().unwrap().to_owned(),
        link["id"].as_str().unwrap().to_owned(),
    );
    for (width, device) in [(1280, "desktop"), (390, "phone")] {
        let Some(b) = browser(width).await else {
            return;
        };
        let c = &b.client;
        let base = app.base.clone();
        sign_in(c, &base, "owner@acme.example", PW).await;
        for (path, name) in [
            ("/dashboard/products".to_owned(), "dashboard-form-products"),
            (
                "/dashboard/products/new".to_owned(),
                "dashboard-form-product-new",
            ),
            (
                format!("/dashboard/products/{pid}"),
                "dashboard-form-product",
            ),
            (
                "/dashboard/tax-rates".to_owned(),
                "dashboard-form-tax-rates",
            ),
            (
                format!("/dashboard/links/{lid}/edit"),
                "dashboard-form-link-edit",
            ),
            (format!("/dashboard/links/{lid}"), "dashboard-form-link"),
            (
                "/dashboard/customers/new".to_owned(),
                "dashboard-form-customer-new",
            ),
            (
                format!("/dashboard/customers/{cid}"),
                "dashboard-form-customer",
            ),
            (
                "/dashboard/orders/new".to_owned(),
                "dashboard-form-order-new",
            ),
            (format!("/dashboard/orders/{oid}"), "dashboard-form-order"),
        ] {
            c.goto(&format!("{base}{path}")).await.unwrap();
            look(c, axe, name, device).await;
        }
        c.goto(&format!("{base}/dashboard/links/new"))
            .await
            .unwrap();
        fill(c, "#title", "Roof fund").await;
        for kind in [
            "custom",
            "products",
            "storefront",
            "donation",
            "subscription",
            "order",
        ] {
            click(c, &format!("#type-{kind}")).await;
            if kind == "donation" {
                fill(c, "#presets", "5, 10, 25").await;
                wait_text(c, "#lp-price", "$5.00 · $10.00 · $25.00 or another amount").await;
            }
            if kind == "subscription" {
                fill(c, "#amount", "19").await;
                fill(c, "#trial_days", "14").await;
                wait_text(c, "#lp-price", "14 days free, then $19.00 every month").await;
            }
            look(c, axe, &format!("dashboard-form-link-new-{kind}"), device).await;
        }
        // A refusal keeps what was typed and marks the field.
        click(c, "#type-donation").await;
        fill(c, "#presets", "5, lots").await;
        click(c, "#create").await;
        let why = text(c, "#error").await;
        assert!(why.contains("each preset"), "{why}");
        assert_eq!(value(c, "#presets").await, "5, lots");
        look(c, axe, "dashboard-form-link-new-error", device).await;
    }
}
